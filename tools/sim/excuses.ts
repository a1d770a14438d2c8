// When two holders are excused for what a node can know of itself: its
// supervise (the one who decides) dead or frozen, its resources failed,
// stopped or started by hand, its scripts or checks hanging, the operator's
// restart (docs/simulation.md, "Invariants"). What the nodes can hear of each
// other is hearing.ts's model; the Monitor counts two holders outside both.
import type { Fault } from './schedule.js';
import type { Hang, SimNode, World } from './world.js';

export class Excuses {
  /** Two holders do not count before this time. */
  until = 0;
  /** Per node: a resource's state may be stale until then (it failed, was stopped by hand, a check hung). */
  readonly res: [number, number] = [0, 0];
  readonly operatorStartAt: [number, number] = [-Infinity, -Infinity];
  private readonly hangUntil: [number, number] = [-Infinity, -Infinity];

  constructor(
    private readonly w: World,
    private readonly base: number,
    private readonly resExcuse: number,
  ) {}

  faultStarted(f: Fault, end: number): void {
    const p = this.w.p;
    const fresh = this.w.timing.busFreshMs;
    let excuse = 0; // how long after its end a fault may leave two holders
    switch (f.kind) {
      case 'crash':
        // A killed supervise whose start (a takeover) completes orphaned before
        // the new supervise starts (which kills it if it still runs): the
        // resources are up but not announced until the new supervise's startup
        // grace ends (watchdog + start-up + DEADTIME); a peer that yields only
        // to ONLINE (its gateway failing) holds until then (seed 201375).
        if (f.daemon === 'supervise') excuse = this.superviseBack();
        break;
      case 'crashStuck':
        if (f.daemon !== 'supervise') break;
        this.stuck.push({ node: f.node, at: this.w.t, back: false });
        this.stuckDeadUntil[f.node] = Math.max(this.stuckDeadUntil[f.node], end); // back only after the watchdog's next try
        {
          // A sender frozen at this moment starts counting at its thaw.
          const thaw = Math.max(this.w.t, this.w.nodes[f.node]!.procs.sender?.frozenUntil ?? 0);
          this.stuckSupUntil[f.node] = thaw + (thaw > this.w.t ? this.fresh : 0) + this.superviseGone();
        }
        // Down for `dur`: what the node must do at once is rule 9's (a dead
        // supervise's sender fences): excused from its start, not its end. Its
        // restart at the end is excused in faultEnded.
        this.until = Math.max(this.until, this.w.t + this.superviseGone(), this.stuckSupUntil[f.node]);
        break;
      case 'freeze':
      case 'freezeNode': {
        // A frozen sender or receiver is a break in hearing (hearing.ts); a frozen supervise decides nothing until it thaws.
        if (f.kind === 'freezeNode' || f.daemon === 'supervise')
          excuse = p.DEADTIME + fresh + this.base + p.SUPERVISE_INT;
        // A sender frozen while its supervise is stuck dead counts supervise's
        // absence again from its thaw (its own stall makes what it knew old news).
        // (Its fence may have failed and wait for a retry: the whole time supervise is stuck, not only until that fence.)
        const stuck = Math.max(this.stuckSupUntil[f.node], this.stuckDeadUntil[f.node]);
        if (this.w.t < stuck && (f.kind === 'freezeNode' || f.daemon === 'sender')) {
          this.stuckSupUntil[f.node] = Math.max(this.stuckSupUntil[f.node], end + this.fresh + this.superviseGone());
          this.until = Math.max(this.until, this.stuckSupUntil[f.node]);
        }
        break;
      }
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

  private get fresh(): number {
    return this.w.timing.busFreshMs;
  }
  /** A killed supervise restarted (noticed by a poll, a start-up): its grace, then it decides. */
  private superviseBack(): number {
    const p = this.w.p;
    const l = this.w.lat;
    return this.w.wdInt + l.spawnMs[1] + l.writeMs[1] + p.DEADTIME + this.base + p.SUPERVISE_INT;
  }
  /** A supervise that stays dead: nobody decides on its node until the sender fences (stops the resources itself). */
  private superviseGone(): number {
    return this.w.timing.superviseLostMs + this.fresh + this.base;
  }

  faultEnded(f: Fault): void {
    // Called once it is back (run.ts waits out the back-off and the start-up).
    if (f.kind === 'crashStuck' && f.daemon === 'supervise')
      this.until = Math.max(this.until, this.w.t + this.superviseBack());
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
          (op === 'start' && h !== 'before' ? this.resExcuse + this.w.p.DEADTIME : op === 'stop' ? this.resExcuse : 0),
      );
  }

  /** After every step: a stuck supervise that is back earns its excuse; a node with a hung script holding is excused. */
  step(): void {
    const w = this.w;
    for (const x of this.stuck) {
      const proc = x.back ? undefined : w.nodes[x.node]!.procs.supervise;
      if (proc && proc.startedAt > x.at) {
        x.back = true;
        this.until = Math.max(this.until, proc.startedAt + this.superviseGone());
      }
    }
    if (w.nodes.some((n, i) => this.hanging[i]! > 0 && w.holds(n))) this.until = Math.max(this.until, w.t);
  }

  private readonly stuckSupUntil: [number, number] = [0, 0];
  /** Until when a stuck supervise may still be dead: the fault's end plus the watchdog's back-off and start-up. */
  private readonly stuckDeadUntil: [number, number] = [0, 0];
  /** A supervise down for seconds: once it is back (whenever the back-off let it), its restart is excused from then. */
  private readonly stuck: { node: number; at: number; back: boolean }[] = [];
  private readonly resStartNoSup: [boolean, boolean] = [false, false];
  /** Resources started by hand while supervise is dead: nobody on that node can see them until it is back. */
  unseenStart(): boolean {
    for (const n of this.w.nodes) {
      if (n.procs.supervise) this.resStartNoSup[n.id - 1] = false;
      else if (this.resStartNoSup[n.id - 1]) return true;
    }
    return false;
  }
}
