// Who can hear whom, since when: the one model by which the invariants excuse
// two holders for what the network and the daemons that carry the heartbeat
// do (docs/simulation.md, "Invariants"). Node `to` hears node `from` while the
// link from → to is open, from's sender runs and is not muted (its gateway
// answers), and to's receiver runs. Each way hearing can break has one rule
// (BREAKS): whether two holders are excused while it lasts, and for how long
// once it began and once it ended. Faults are not named here: a partition, a
// crash, a freeze or a lost gateway all come down to these few breaks.
import type { World } from './world.js';

export interface Takeover {
  at: number;
  node: number;
  restart?: boolean; // a local restart, or the operator's res start: not a takeover from the peer
}

/** Why a part of the path from one node's sender to the other's receiver is broken. */
export type Break = 'blocked' | 'voiceDead' | 'voiceFrozen' | 'muted' | 'earsDead' | 'earsFrozen';

interface Rule {
  /** Excused while it lasts: neither node can tell this silence from the peer's death. */
  lasts: boolean;
  /** Excused for this long after it began (the node that knows acts by the rules within it). */
  begun: (h: Hearing, node: number) => number;
  /** Excused for this long after it ended (the nodes hear each other again, then resolve). */
  ended: (h: Hearing, node: number) => number;
}

const none = () => 0;
export const BREAKS: Record<Break, Rule> = {
  // A partition, one-way loss or the heartbeat alone cut: both sides may hold
  // (without the probes, by design); a heal resolves within the base bound.
  // With the LAN intact the probes bound it (invariant split-resolved).
  blocked: { lasts: true, begun: none, ended: none },
  // A dead sender: its node knows at the next pid poll and yields (rule 9); a
  // sender back starts over (silent for a DEADTIME, then a round to decide),
  // and one whose supervise is gone counts that absence first before it fences.
  voiceDead: {
    lasts: false,
    begun: (h) => h.wd + h.voiceBack,
    ended: (h, node) => h.voiceBack + (h.w.nodes[node]!.procs.supervise ? 0 : h.w.timing.superviseLostMs),
  },
  // A frozen sender: nobody knows it is silent until it speaks again.
  voiceFrozen: { lasts: true, begun: none, ended: (h) => h.voiceBack },
  // A lost gateway mutes its node, which releases by its own rule; with both
  // muted neither hears the other, and the first answer after the loss unmutes.
  muted: {
    lasts: false,
    begun: none,
    ended: (h, node) => (h.w.nodes[1 - node]!.gwUp ? 0 : h.w.p.GW_INT + h.base),
  },
  // A dead receiver: its node starts nothing while deaf; once back, its start-up
  // grace (PROGRESS for a DEADTIME) begins again, and a peer that yields only to
  // ONLINE (its gateway failing) holds until then.
  earsDead: {
    lasts: false,
    begun: (h) => h.wd + h.w.p.DEADTIME + h.base,
    ended: (h) => h.wd + h.w.p.DEADTIME + h.base,
  },
  // A frozen receiver: its node hears nothing and does not know it.
  earsFrozen: { lasts: true, begun: none, ended: (h) => h.voiceBack },
};

export class Hearing {
  /** Two holders are excused until then (a break began or ended). */
  until = 0;
  /** Per node and per link (from → to): the break now and since when. */
  private readonly now = new Map<string, { why: Break; since: number }>();

  constructor(
    readonly w: World,
    readonly base: number,
  ) {}

  get wd(): number {
    return this.w.wdInt;
  }
  /** A voice back (sender restarted or thawed) is heard and acted on within this. */
  get voiceBack(): number {
    const p = this.w.p;
    return p.DEADTIME + this.w.timing.busFreshMs + this.base + p.SUPERVISE_INT;
  }

  /** `to` hears `from` now. */
  hears(from: number, to: number): boolean {
    return (
      !this.now.has(`link${from}${to}`) &&
      !this.isBroken(`voice${from}`, 'voiceDead', 'muted') &&
      !this.isBroken(`ears${to}`, 'earsDead')
    );
  }

  /** The nodes can hear each other: no link blocked, and at least one way heard. */
  connected(): boolean {
    return !this.now.has('link01') && !this.now.has('link10') && (this.hears(0, 1) || this.hears(1, 0));
  }

  /** Two holders at `t` are excused by a break. */
  excused(t: number): boolean {
    if (t < this.until) return true;
    for (const b of this.now.values()) if (BREAKS[b.why].lasts) return true;
    return false;
  }

  /** A heartbeat lost on a lossy link: the word it carried arrives one HEARTBEAT_INT later. No finite
   * bound holds under random loss; each loss while both hold pauses the count instead. */
  lost(bothHeld: boolean): void {
    if (bothHeld) this.until = Math.max(this.until, this.w.t + this.w.p.HEARTBEAT_INT);
  }

  /** After every step: what is broken now, and the excuse of what began or ended. */
  step(): void {
    const w = this.w;
    for (const i of [0, 1]) {
      const n = w.nodes[i]!;
      const s = n.procs.sender;
      this.set(`voice${i}`, i, !s ? 'voiceDead' : s.frozen ? 'voiceFrozen' : !n.gwUp ? 'muted' : null);
      const r = n.procs.receiver;
      this.set(`ears${i}`, i, !r ? 'earsDead' : r.frozen ? 'earsFrozen' : null);
      this.set(`link${i}${1 - i}`, i, w.blocked[i]![1 - i] || w.hbBlocked ? 'blocked' : null);
    }
  }

  private isBroken(key: string, ...whys: Break[]): boolean {
    const b = this.now.get(key);
    return !!b && whys.includes(b.why);
  }

  private set(key: string, node: number, why: Break | null): void {
    const t = this.w.t;
    const was = this.now.get(key);
    if (was?.why === why) return;
    if (was) this.until = Math.max(this.until, t + BREAKS[was.why].ended(this, node));
    if (why) {
      this.now.set(key, { why, since: t });
      this.until = Math.max(this.until, t + BREAKS[why].begun(this, node));
    } else this.now.delete(key);
  }

  /**
   * A node whose receiver is dead cannot hear the peer: two holders it did not
   * make (it held before its receiver died; the peer took over since) cannot
   * be resolved until the receiver is back. One it made — a takeover while
   * deaf — is a bug, never excused.
   */
  deafHolder(takeovers: readonly Takeover[], nres: number): boolean {
    return [0, 1].some((i) => {
      const b = this.now.get(`ears${i}`);
      if (b?.why !== 'earsDead') return false;
      // A local restart of what it held (after a resource failed or was stopped by hand) is not a takeover from the peer.
      const mine = takeovers.filter((x) => x.node === i + 1 && !x.restart).at(-1)?.at ?? -Infinity;
      // A takeover decided just before the receiver died completes after it (the start scripts run).
      return mine < b.since + nres * this.w.lat.startMs[1] + 50;
    });
  }
}
