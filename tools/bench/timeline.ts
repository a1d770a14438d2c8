/**
 * Effective VIP holders over time.
 *
 * The observers (watchVip, sampleHolders) report raw interface state: a node
 * that is dead, frozen or cut off keeps its address. The bench adds exclusion
 * windows (from the fault times): inside its window a node is no holder,
 * whatever its interfaces say. All times are performance.now() values.
 */
import type { HolderChange, NodeName, VipEvent } from '../lab/index.js';

export const NODES: readonly NodeName[] = ['lb1', 'lb2'];

export interface Window {
  from: number;
  /** Infinity: until the end of the trial. */
  to: number;
}

export interface Segment {
  from: number;
  to: number;
  holders: NodeName[];
}

function same(a: readonly NodeName[], b: readonly NodeName[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export class Timeline {
  private readonly excluded: Record<NodeName, Window[]> = { lb1: [], lb2: [] };

  /**
   * changes: the raw holder sets (first entry = state when observation began);
   * events: the raw add/del events (for flap counting).
   */
  constructor(
    readonly changes: readonly HolderChange[],
    readonly events: readonly VipEvent[] = [],
  ) {}

  exclude(node: NodeName, from: number, to = Infinity): this {
    this.excluded[node].push({ from, to });
    return this;
  }

  isExcluded(node: NodeName, t: number): boolean {
    return this.excluded[node].some((w) => w.from <= t && t < w.to);
  }

  rawAt(t: number): NodeName[] {
    let cur: NodeName[] = [];
    for (const c of this.changes) {
      if (c.t <= t) cur = c.holders;
      else break;
    }
    return [...cur];
  }

  effectiveAt(t: number): NodeName[] {
    return this.rawAt(t).filter((n) => !this.isExcluded(n, t));
  }

  /** Piecewise-constant effective holder sets on [from, to), adjacent equal sets merged. */
  segments(from: number, to: number): Segment[] {
    if (!(to > from)) return [];
    const cuts = new Set<number>([from]);
    for (const c of this.changes) if (c.t > from && c.t < to) cuts.add(c.t);
    for (const n of NODES) {
      for (const w of this.excluded[n]) {
        if (w.from > from && w.from < to) cuts.add(w.from);
        if (w.to > from && w.to < to) cuts.add(w.to);
      }
    }
    const sorted = [...cuts].sort((a, b) => a - b);
    const out: Segment[] = [];
    sorted.forEach((t, i) => {
      const end = i + 1 < sorted.length ? sorted[i + 1]! : to;
      const holders = this.effectiveAt(t);
      const last = out[out.length - 1];
      if (last && same(last.holders, holders)) last.to = end;
      else out.push({ from: t, to: end, holders });
    });
    return out;
  }

  /** First time in [from, to) at which `node` (or, without node, anybody) effectively holds; null if never. */
  firstHold(from: number, to: number, node?: NodeName): number | null {
    for (const s of this.segments(from, to)) {
      if (node ? s.holders.includes(node) : s.holders.length > 0) return s.from;
    }
    return null;
  }

  /** First time in [from, to) with exactly one effective holder; null if never. */
  firstSingle(from: number, to: number): { t: number; holder: NodeName } | null {
    for (const s of this.segments(from, to)) if (s.holders.length === 1) return { t: s.from, holder: s.holders[0]! };
    return null;
  }

  /** Total time in [from, to) with no effective holder. */
  gapMs(from: number, to: number): number {
    return this.segments(from, to)
      .filter((s) => s.holders.length === 0)
      .reduce((a, s) => a + (s.to - s.from), 0);
  }

  /** Total time in [from, to) with two effective holders. */
  overlapMs(from: number, to: number): number {
    return this.segments(from, to)
      .filter((s) => s.holders.length >= 2)
      .reduce((a, s) => a + (s.to - s.from), 0);
  }

  /** Number of changes of the effective holder set inside (from, to). */
  transitions(from: number, to: number): number {
    return Math.max(0, this.segments(from, to).length - 1);
  }

  /** Changes of the effective holder set inside (from, to) that are not a pure addition/removal caused by an exclusion boundary. */
  holderChanges(from: number, to: number): Segment[] {
    return this.segments(from, to).slice(1);
  }

  /**
   * Flaps after the survivor took over at `from`: raw VIP adds on the other
   * node, and raw VIP deletes on the survivor, inside [from, to).
   */
  flaps(survivor: NodeName, from: number, to: number): number {
    return this.events.filter(
      (e) =>
        e.t >= from &&
        e.t < to &&
        ((e.node !== survivor && e.kind === 'add') || (e.node === survivor && e.kind === 'del')),
    ).length;
  }

  /** First raw event of `kind` on `node` at or after `from`. */
  firstEvent(node: NodeName, kind: 'add' | 'del', from: number): VipEvent | null {
    return this.events.find((e) => e.node === node && e.kind === kind && e.t >= from) ?? null;
  }

  /** Effective holders at the end of [.., to). */
  finalHolders(to: number): NodeName[] {
    return this.effectiveAt(to - 1e-6);
  }
}
