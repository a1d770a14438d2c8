// A second holder, seen while it lasts. supervise probes each resource whose
// script knows `probe` (res/ipaddr: an ARP probe from 0.0.0.0, RFC 5227) once
// a round, on a cadence of its own beside the passes, so a probe never delays
// a decision. An answer from another host for a resource this node holds is
// a split brain: an alarm, a log line naming who answered, SPLIT_BRAIN in the
// status (stat, the metric) and a transition for the hooks; it is over when
// the probes find this node alone again (or it no longer holds). Seeing is
// all this does: the rules do not read it (yet). Pure.
import type { Clock } from '../daemon/effects.js';
import type { Status } from '../status-store/index.js';
import type { ProbeResult, SuperviseEffect } from './events.js';
import type { Held } from './held.js';
import type { Teller } from './teller.js';

export class SplitWatch {
  /** Resource → who else answers for it, while this node holds it. */
  private now = new Map<string, string>();

  constructor(private readonly everyMs: number) {}

  /** The probe timer: probe now, and again a round later. */
  tick(clock: Clock): SuperviseEffect[] {
    return [{ kind: 'probe' }, { kind: 'arm', timer: 'probe', at: clock.mono + this.everyMs }];
  }

  /** The probes' answers; a patch of the status when what is split changed, else null. */
  probed(
    results: readonly ProbeResult[],
    held: Held,
    teller: Teller,
    clock: Clock,
    out: SuperviseEffect[],
  ): Partial<Status> | null {
    const up = new Set(
      held
        .list()
        .filter((r) => r.up)
        .map((r) => r.name),
    );
    const next = new Map<string, string>();
    for (const r of results) {
      out.push({ kind: 'alarm', id: `probe:${r.name}`, text: r.error ? `probe of ${r.name}: ${r.error}` : null });
      if (r.answered === true && up.has(r.name)) next.set(r.name, r.by || 'another host');
      // Cannot tell this time: what was seen stands until a probe says otherwise.
      else if (r.answered === null && up.has(r.name) && this.now.has(r.name)) next.set(r.name, this.now.get(r.name)!);
    }
    const text = [...next].map(([name, by]) => `${name} answered by ${by}`).join('; ');
    const before = [...this.now].map(([name, by]) => `${name} answered by ${by}`).join('; ');
    this.now = next;
    if (text === before) return null;
    if (text) {
      out.push({
        kind: 'log',
        level: 'error',
        fields: { split: Object.fromEntries(next) },
        msg: `split brain: this node holds ${[...next.keys()].join(', ')} and another host answers for it too (${text})`,
      });
      out.push({ kind: 'alarm', id: 'split', text: `split brain: ${text} while this node holds it` });
    } else {
      out.push({
        kind: 'log',
        level: 'warn',
        fields: {},
        msg: 'split brain over: no other host answers for what this node holds',
      });
      out.push({ kind: 'alarm', id: 'split', text: null });
    }
    teller.split(text !== '', text ? `split brain: ${text}` : 'no other host answers any more', clock, out);
    return { SPLIT_BRAIN: text || undefined };
  }
}
