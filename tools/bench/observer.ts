/**
 * One VIP observer per trial: `ip monitor address` events (default) or an
 * `ip -batch` sampler every 5 ms. Both give the raw holder sets over time;
 * add/del events are derived from the set changes so both feed a Timeline
 * the same way.
 */
import { type HolderChange, type Lab, type NodeName, sampleHolders, type VipEvent, watchVip } from '../lab/index.js';
import { NODES, Timeline } from './timeline.js';

export const SAMPLE_INTERVAL_MS = 5;

export interface Observer {
  readonly kind: 'monitor' | 'sample';
  /** Raw holder sets; the first entry is the state when observation began. */
  readonly changes: readonly HolderChange[];
  /** Raw holders now. */
  holders(): NodeName[];
  /** Raw holders now, without the nodes the lab has made dead, frozen or link-down. */
  effective(): NodeName[];
  /** Add/del events derived from the changes. */
  events(): VipEvent[];
  timeline(): Timeline;
  stop(): Promise<void>;
}

export function eventsFrom(changes: readonly HolderChange[]): VipEvent[] {
  const out: VipEvent[] = [];
  let prev: NodeName[] = [];
  changes.forEach((c, i) => {
    if (i > 0) {
      for (const n of NODES) {
        const was = prev.includes(n),
          is = c.holders.includes(n);
        if (was !== is) out.push({ node: n, kind: is ? 'add' : 'del', t: c.t, wall: 0, line: '' });
      }
    }
    prev = c.holders;
  });
  return out;
}

export async function observe(lab: Lab, kind: 'monitor' | 'sample'): Promise<Observer> {
  const src = kind === 'monitor' ? await watchVip(lab) : await sampleHolders(lab, SAMPLE_INTERVAL_MS);
  const effective = (): NodeName[] =>
    src.holders().filter((n) => {
      const s = lab.faultState(n);
      return !s.dead && !s.frozen && !s.linkDown;
    });
  return {
    kind,
    changes: src.changes,
    holders: () => src.holders(),
    effective,
    events: () => eventsFrom(src.changes),
    timeline: () => new Timeline(src.changes, eventsFrom(src.changes)),
    stop: () => src.stop(),
  };
}
