// When two holders are excused: each fault earns the pair a documented time
// to resolve after it (docs/simulation.md, "Invariants"); the Monitor counts
// two holders only outside these excuses.
import type { Fault, Schedule } from './schedule.js';
import type { Hang, SimNode, World } from './world.js';

export interface Takeover {
  at: number;
  node: number;
  restart?: boolean; // a local restart, or the operator's res start: not a takeover from the peer
}

export class Excuses {
  /** Two holders do not count before this time. */
  until = 0;
  /** Per node: a resource's state may be stale until then (it failed, was stopped by hand, a check hung). */
  readonly res: [number, number] = [0, 0];
  readonly operatorStartAt: [number, number] = [-Infinity, -Infinity];
  private readonly hangUntil: [number, number] = [-Infinity, -Infinity];

  constructor(
    private readonly w: World,
    private readonly s: Schedule,
    private readonly base: number,
    private readonly resExcuse: number,
  ) {}

  faultStarted(f: Fault, end: number): void {
    const p = this.w.p;
    const l = this.w.lat;
    const fresh = this.w.timing.busFreshMs;
    const wd = this.w.wdInt;
    let excuse = 0; // how long after its end a fault may leave two holders
    switch (f.kind) {
      case 'crash':
        // A killed sender: the peer hears nothing until the sender is back (watchdog + start-up).
        if (f.daemon === 'sender') excuse = wd + l.spawnMs[1] + p.DEADTIME + fresh + this.base + p.SUPERVISE_INT;
        // With supervise gone too, the new sender counts supervise's absence
        // from its own start before it fences (seed 1577).
        if (f.daemon === 'sender' && !this.w.nodes[f.node]!.procs.supervise) excuse += this.w.timing.superviseLostMs;
        // A killed supervise whose start (a takeover) completes orphaned: the
        // resources are up but not announced until the new supervise's startup
        // grace ends (watchdog + start-up + DEADTIME); a peer that yields only
        // to ONLINE (its gateway failing) holds until then (seed 201375).
        if (f.daemon === 'supervise')
          excuse = wd + l.spawnMs[1] + l.writeMs[1] + p.DEADTIME + this.base + p.SUPERVISE_INT;
        // A killed receiver: once back, its node's startup grace begins again
        // (PROGRESS for a DEADTIME), and a peer that yields only to ONLINE
        // (its gateway lost) holds until then (seed 2039488: a heal just then).
        if (f.daemon === 'receiver') excuse = this.crashExcuse('receiver', true);
        break;
      case 'crashStuck':
        this.stuck.push({ node: f.node, d: f.daemon!, at: this.w.t, back: false });
        if (f.daemon === 'supervise') {
          // A sender frozen at this moment starts counting at its thaw.
          const thaw = Math.max(this.w.t, this.w.nodes[f.node]!.procs.sender?.frozenUntil ?? 0);
          this.stuckSupUntil[f.node] = thaw + (thaw > this.w.t ? this.fresh : 0) + this.crashExcuse('supervise', false);
        }
        // Down for `dur`: what the node must do at once is rule 9's (a dead
        // sender yields to the peer that took over; a dead supervise's sender
        // fences; a dead receiver starts nothing): excused from its start, not
        // its end. Its restart at the end is excused in faultEnded.
        this.until = Math.max(
          this.until,
          this.w.t + this.crashExcuse(f.daemon!, false),
          f.daemon === 'supervise' ? this.stuckSupUntil[f.node] : 0,
        );
        break;
      case 'freeze':
      case 'freezeNode':
        excuse = p.DEADTIME + fresh + this.base + p.SUPERVISE_INT;
        // A sender frozen while its supervise is stuck dead counts supervise's
        // absence again from its thaw (its own stall makes what it knew old news).
        if (this.w.t < this.stuckSupUntil[f.node] && (f.kind === 'freezeNode' || f.daemon === 'sender')) {
          this.stuckSupUntil[f.node] = Math.max(
            this.stuckSupUntil[f.node],
            end + this.fresh + this.crashExcuse('supervise', false),
          );
          this.until = Math.max(this.until, this.stuckSupUntil[f.node]);
        }
        break;
      case 'resStart':
        // Started by hand while supervise is dead: nobody on that node can see them until it is back.
        if (!this.w.nodes[f.node]!.procs.supervise) this.resStartNoSup[f.node] = true;
        // Started by hand: seen at the next check; while its checks hang, at the first check after the hang.
        excuse = Math.max(0, this.hangUntil[f.node] - end) + p.SUPERVISE_INT + p.CHECK_TIMEOUT + this.base;
        this.operatorStartAt[f.node] = this.w.t;
        break;
      case 'restartNode':
        // pha-cli stop leaves the resources up until the operator's res stop.
        excuse = p.DEADTIME + this.base;
        break;
      case 'checkHang':
        this.hangUntil[f.node] = Math.max(this.hangUntil[f.node], end);
        // The operator started resources on this node and its checks hang before it
        // could see them UP: it cannot know it holds them until the checks answer.
        if (this.w.t - this.operatorStartAt[f.node] < p.SUPERVISE_INT + p.CHECK_TIMEOUT + this.base)
          excuse = p.SUPERVISE_INT + p.CHECK_TIMEOUT + this.base;
        this.res[f.node] = Math.max(this.res[f.node], end + this.resExcuse);
        break;
      case 'scriptHang':
        // What a hung script leaves is told by the next check (end is after the last kill).
        this.res[f.node] = Math.max(this.res[f.node], end + this.resExcuse);
        break;
      case 'resFail':
      case 'resStop':
        this.res[f.node] = Math.max(this.res[f.node], end + this.resExcuse);
        break;
    }
    if (excuse > 0) this.until = Math.max(this.until, end + excuse);
  }

  /** How long after a killed daemon (noticed by a poll; restarted after a start-up when `restart`) two holders may last. */
  private get fresh(): number {
    return this.w.timing.busFreshMs;
  }
  private crashExcuse(d: string, restart: boolean): number {
    const p = this.w.p;
    const l = this.w.lat;
    const wd = this.w.wdInt;
    const spawn = restart ? l.spawnMs[1] : 0;
    if (d === 'sender') return wd + spawn + p.DEADTIME + this.fresh + this.base + p.SUPERVISE_INT;
    if (d === 'supervise') {
      // Restarted: its grace, then it decides. Stuck: nobody decides on this
      // node until the sender fences (stops the resources itself).
      return restart
        ? wd + spawn + l.writeMs[1] + p.DEADTIME + this.base + p.SUPERVISE_INT
        : this.w.timing.superviseLostMs + this.fresh + this.base;
    }
    // A dead receiver: once back, it hears the peer within a DEADTIME (the rules then resolve).
    return wd + spawn + p.DEADTIME + this.base;
  }

  faultEnded(f: Fault): void {
    if (f.kind === 'crashStuck') {
      // Called once it is back (run.ts waits out the back-off and the start-up).
      this.until = Math.max(this.until, this.w.t + this.crashExcuse(f.daemon!, true));
    }
    if (f.kind === 'gwDown' && !this.w.nodes[1 - f.node]!.gwUp) {
      // Both gateways were lost: both may hold, muted (neither could hear the
      // other); the first answer after the loss unmutes this node.
      this.until = Math.max(this.until, this.w.t + this.w.p.GW_INT + this.base);
    }
  }

  /**
   * A heartbeat lost on a lossy link: the word it carried arrives one
   * HEARTBEAT_INT later, so two holders resolve that much later. No finite
   * bound holds under random loss; each loss pauses the count instead
   * (seed 613894: 4 ONLINEs in a row lost at 20 % right after a heal).
   */
  lost(bothHeld: boolean): void {
    if (bothHeld) this.until = Math.max(this.until, this.w.t + this.w.p.HEARTBEAT_INT);
  }

  /**
   * Scripts that hang until RES_TIMEOUT (scriptHang). A node whose script
   * hangs acts on what it hears only after the kill: while it holds anything
   * (a stop that hangs; a start that did its work before it hung, say a
   * takeover begun in a partition that heals meanwhile) it holds beside the
   * peer, and nobody can help that. A start killed after it did its work
   * leaves a holder its node believes down until the next check (which a
   * restart of it may come before). Any other two holders while scripts hang —
   * a peer that takes over from a node whose start hangs in PROGRESS — count.
   */
  private readonly hanging: [number, number] = [0, 0];
  hung(node: SimNode, op: 'start' | 'stop', phase: 'begun' | 'killed', h: Hang): void {
    this.hanging[node.id - 1] += phase === 'begun' ? 1 : -1;
    // After the kill: a failed stop is tried again at the next round, after a
    // check (supervise), or a SUPERVISE_INT later (a fencing sender).
    if (phase === 'killed')
      this.until = Math.max(
        this.until,
        this.w.t +
          this.base +
          (op === 'start' && h === 'after' ? this.resExcuse + this.w.p.DEADTIME : op === 'stop' ? this.resExcuse : 0),
      );
  }

  /** After every step: a stuck daemon that is back earns its crash excuse; a node with a hung script holding is excused. */
  step(): void {
    const w = this.w;
    for (const x of this.stuck) {
      const proc = x.back ? undefined : w.nodes[x.node]!.procs[x.d as 'sender' | 'receiver' | 'supervise'];
      if (proc && proc.startedAt > x.at) {
        x.back = true;
        this.until = Math.max(this.until, proc.startedAt + this.crashExcuse(x.d, false));
      }
    }
    if (w.nodes.some((n, i) => this.hanging[i]! > 0 && w.holds(n))) this.until = Math.max(this.until, w.t);
  }

  /**
   * A node whose receiver is dead cannot hear the peer: two holders it did not
   * make (it held before its receiver died; the peer took over since) cannot
   * be resolved until the receiver is back. One it made — a takeover while
   * deaf — is a bug, never excused.
   */
  private readonly stuckSupUntil: [number, number] = [0, 0];
  /** Daemons down for seconds: once one is back (whenever the back-off let it), its restart earns the crash excuse from then. */
  private readonly stuck: { node: number; d: string; at: number; back: boolean }[] = [];
  private readonly resStartNoSup: [boolean, boolean] = [false, false];
  deafHolder(takeovers: readonly Takeover[]): boolean {
    for (const n of this.w.nodes) {
      if (n.procs.supervise) this.resStartNoSup[n.id - 1] = false;
      else if (this.resStartNoSup[n.id - 1]) return true;
    }
    return this.w.nodes.some((n) => {
      if (n.procs.receiver) return false;
      const h = n.hist.receiver;
      const diedAt = h.length ? h[h.length - 1]!.end : -Infinity;
      // A local restart of what it held (after a resource failed or was stopped by hand) is not a takeover from the peer.
      const mine = takeovers.filter((x) => x.node === n.id && !x.restart).at(-1)?.at ?? -Infinity;
      // A takeover decided just before the receiver died completes after it (the start scripts run).
      return mine < diedAt + this.s.resources.length * this.w.lat.startMs[1] + 50;
    });
  }
}
