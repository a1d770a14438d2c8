// The named invariants, checked after every step of the simulation. Bounds
// come from the profile and the schedule's own latencies; a fault that makes
// the nodes unable to hear each other excuses two holders while it lasts and
// for a documented time after it (see docs/simulation.md).
import type { Word } from '../../src/heartbeat/word.js';
import type { Fault, Schedule } from './schedule.js';
import type { Hang, SimNode, World } from './world.js';

export const INVARIANTS = {
  'two-holders':
    'never two holders while the nodes can hear each other (beyond the excuse a fault earns, and the few ms a healed partition needs)',
  'startup-two-holders': 'both nodes started together: never two holders',
  'startup-one-takeover': 'both nodes started together: at most one takeover (issue 10)',
  'heal-one-holder':
    'after a partition heals: exactly one holder within DEADTIME + SUPERVISE_INT + script time, the first in NODES when both held',
  'off-overlap': '"off" never makes two holders',
  'off-handover': 'after "off" released, the peer holds within the script time (no both-OFFLINE wait)',
  'holder-within-bound':
    'a healthy pair has a holder within DEADTIME + 4 × SUPERVISE_INT + CHECK_TIMEOUT + script time',
  'no-flapping': 'no more than 3 takeovers in a minute without a fault or an operator command',
  'online-means-up':
    'the sender never says ONLINE while a resource of its node is down (unless it just failed by itself)',
  'stop-has-cause': 'a held resource is never stopped without a cause in the log',
} as const;

export type InvariantName = keyof typeof INVARIANTS;

export interface Violation {
  name: InvariantName;
  at: number;
  detail: string;
}

export class Monitor {
  violation: Violation | null = null;
  private lastT = 0;
  private overlap = 0; // ms of counted two holders in the current episode
  private excusedUntil = 0;
  private readonly base: number;
  private readonly healBound: number;
  private readonly holdBound: number;
  private readonly handoverBound: number;
  private readonly resExcuse: number;
  private noHolderSince: number | null = null;
  private readonly takeovers: { at: number; node: number; restart?: boolean }[] = [];
  private readonly faultMarks: { t: number; link: boolean }[] = []; // starts and ends of faults and commands
  private activeFaults = 0;
  private firstFaultAt: number;
  private readonly held: [boolean, boolean] = [false, false];
  private readonly resExcusedUntil: [number, number] = [0, 0];
  private readonly operatorStartAt: [number, number] = [-Infinity, -Infinity];
  private readonly hangUntil: [number, number] = [-Infinity, -Infinity];
  private readonly heals: { at: number; bothHeld: boolean }[] = [];
  private offs: { at: number; node: number; released: number | null; until: number }[] = [];
  private startupTakeovers = 0;
  private readonly startupResolve: number;

  constructor(
    private readonly w: World,
    private readonly s: Schedule,
  ) {
    const p = w.p;
    const l = w.lat;
    const nres = s.resources.length;
    const script = nres * Math.max(l.startMs[1], l.stopMs[1]);
    const hangs = s.faults.some((f) => f.kind === 'checkHang');
    const jitter = Math.max(0, ...s.faults.filter((f) => f.kind === 'jitter').map((f) => f.p ?? 0));
    // Two holders that can hear each other resolve in: a heartbeat to hear the
    // other's ONLINE, a pass in progress (a start, a check), the stop.
    this.base =
      2 * p.HEARTBEAT_INT + l.netMs[1] + jitter + 2 * script + l.checkMs[1] + (hangs ? p.CHECK_TIMEOUT : 0) + 100;
    this.healBound = p.DEADTIME + p.SUPERVISE_INT + this.base;
    this.holdBound = p.DEADTIME + 4 * p.SUPERVISE_INT + p.CHECK_TIMEOUT + 3 * script * (p.RES_RESTARTS + 1) + 1000;
    // From the release (the last resource stopped) to the peer's first resource up.
    this.handoverBound = l.startMs[1] + l.netMs[1] + jitter + l.checkMs[1] + (hangs ? p.CHECK_TIMEOUT : 0) + 100;
    this.resExcuse = p.SUPERVISE_INT + p.CHECK_TIMEOUT + 2 * script + l.checkMs[1] + 200;
    this.firstFaultAt = s.faults.length ? s.faults[0]!.at : Infinity;
    // Both left holding: the start-up resolves it (1.5 s of daemon starts, then the rules).
    this.startupResolve = 1500 + p.DEADTIME + p.SUPERVISE_INT + this.base;
  }

  private fail(name: InvariantName, detail: string): void {
    if (this.violation) return;
    this.violation = { name, at: this.w.t, detail };
    this.w.log(null, 'INVARIANT', `${name} violated: ${detail}`);
  }

  /** The nodes can hear each other: no link blocked, and not both muted by a lost gateway. */
  private connected(): boolean {
    return !this.w.blocked[0][1] && !this.w.blocked[1][0] && (this.hears(0, 1) || this.hears(1, 0));
  }
  /** `to` can hear `from`: from's sender runs and is not muted (a lost gateway), to's receiver runs. */
  private hears(from: 0 | 1, to: 0 | 1): boolean {
    const a = this.w.nodes[from]!;
    const b = this.w.nodes[to]!;
    return !this.w.blocked[from][to] && a.gwUp && !!a.procs.sender && !!b.procs.receiver;
  }

  /** A fault or command begins (end: when it is over). */
  faultStarted(f: Fault, end: number): void {
    const p = this.w.p;
    const l = this.w.lat;
    this.faultMarks.push({ t: this.w.t, link: isLink(f) });
    if (!isLink(f)) this.otherActive++;
    this.firstFaultAt = Math.min(this.firstFaultAt, this.w.t);
    if (f.kind === 'jitter' && f.at === 0) this.firstFaultAt = Infinity; // the start family's network, not a fault
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
        this.excusedUntil = Math.max(
          this.excusedUntil,
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
          this.excusedUntil = Math.max(this.excusedUntil, this.stuckSupUntil[f.node]);
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
        this.resExcusedUntil[f.node] = Math.max(this.resExcusedUntil[f.node], end + this.resExcuse);
        break;
      case 'scriptHang':
        // What a hung script leaves is told by the next check (end is after the last kill).
        this.resExcusedUntil[f.node] = Math.max(this.resExcusedUntil[f.node], end + this.resExcuse);
        break;
      case 'resFail':
      case 'resStop':
        this.resExcusedUntil[f.node] = Math.max(this.resExcusedUntil[f.node], end + this.resExcuse);
        break;
    }
    if (excuse > 0) this.excusedUntil = Math.max(this.excusedUntil, end + excuse);
    this.activeFaults++;
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
      this.excusedUntil = Math.max(this.excusedUntil, this.w.t + this.crashExcuse(f.daemon!, true));
    }
    this.faultMarks.push({ t: this.w.t, link: isLink(f) });
    if (!isLink(f)) this.otherActive--;
    if (f.kind === 'gwDown' && !this.w.nodes[1 - f.node]!.gwUp) {
      // Both gateways were lost: both may hold, muted (neither could hear the
      // other); the first answer after the loss unmutes this node.
      this.excusedUntil = Math.max(this.excusedUntil, this.w.t + this.w.p.GW_INT + this.base);
    }
    this.activeFaults--;
    if (f.kind === 'partition' || f.kind === 'oneway')
      this.heals.push({ at: this.w.t, bothHeld: this.held[0] && this.held[1] });
  }
  offAccepted(node: number): void {
    if (this.held[1 - node]) return; // both held already (an earlier fault): not this off's doing
    this.offs.push({ at: this.w.t, node, released: null, until: this.w.t + this.w.p.OFF_PAUSE * 1000 });
  }

  private otherActive = 0; // active faults other than partitions and one-way loss
  /** No fault active, and none began or ended in (from, to]; `links`: partitions and one-way loss do not count. */
  private quiet(from: number, to: number, links = true): boolean {
    if (links ? this.activeFaults > 0 : this.otherActive > 0) return false;
    return !this.faultMarks.some((m) => m.t > from && m.t <= to && (links || !m.link));
  }

  held0(node: SimNode): void {
    const i = node.id - 1;
    const now = this.w.holds(node);
    if (now && !this.held[i] && this.w.t === 0) {
      this.held[i] = true; // left up by an earlier run: not a takeover
      return;
    }
    if (now && !this.held[i]) {
      // restart: not a takeover from the peer — a local restart of what it held, or the operator's res start.
      this.takeovers.push({
        at: this.w.t,
        node: node.id,
        restart: this.w.t < this.resExcusedUntil[i] || this.w.t - this.operatorStartAt[i] < 1000,
      });
      if (this.w.t < this.firstFaultAt) {
        this.startupTakeovers++;
        if (this.startupTakeovers > 1)
          this.fail('startup-one-takeover', `takeover #${this.startupTakeovers} (n${node.id}) before any fault`);
      }
      const from = this.w.t - 60_000;
      const recent = this.takeovers.filter((x) => x.at >= from);
      if (recent.length > 3 && this.quiet(from, this.w.t))
        this.fail(
          'no-flapping',
          `${recent.length} takeovers in the last minute without a fault: ${recent.map((x) => `n${x.node}@${(x.at / 1000).toFixed(2)}`).join(' ')}`,
        );
    }
    if (!now && this.held[i]) {
      for (const o of this.offs)
        if (o.node === i && o.released === null && this.w.t - o.at < 60_000) o.released = this.w.t;
    }
    this.held[i] = now;
  }

  sent(node: SimNode, word: Word): void {
    if (word !== 'ONLINE' || this.w.allUp(node)) return;
    if (this.w.t < this.resExcusedUntil[node.id - 1]) return;
    this.fail(
      'online-means-up',
      `n${node.id} sent ONLINE with ${[...node.res]
        .filter(([, v]) => !v)
        .map(([k]) => k)
        .join(', ')} down`,
    );
  }

  /**
   * A heartbeat lost on a lossy link: the word it carried arrives one
   * HEARTBEAT_INT later, so two holders resolve that much later. No finite
   * bound holds under random loss; each loss pauses the count instead
   * (seed 613894: 4 ONLINEs in a row lost at 20 % right after a heal).
   */
  lost(): void {
    if (this.held[0] && this.held[1])
      this.excusedUntil = Math.max(this.excusedUntil, this.w.t + this.w.p.HEARTBEAT_INT);
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
      this.excusedUntil = Math.max(
        this.excusedUntil,
        this.w.t +
          this.base +
          (op === 'start' && h === 'after' ? this.resExcuse + this.w.p.DEADTIME : op === 'stop' ? this.resExcuse : 0),
      );
  }

  stopping(node: SimNode, by: string, cause: string | null): void {
    if (!this.w.holds(node)) return;
    if (!cause) this.fail('stop-has-cause', `n${node.id} ${by} stops held resources with no decision logged`);
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
  private deafHolder(): boolean {
    for (const n of this.w.nodes) {
      if (n.procs.supervise) this.resStartNoSup[n.id - 1] = false;
      else if (this.resStartNoSup[n.id - 1]) return true;
    }
    return this.w.nodes.some((n) => {
      if (n.procs.receiver) return false;
      const h = n.hist.receiver;
      const diedAt = h.length ? h[h.length - 1]!.end : -Infinity;
      // A local restart of what it held (after a resource failed or was stopped by hand) is not a takeover from the peer.
      const mine = this.takeovers.filter((x) => x.node === n.id && !x.restart).at(-1)?.at ?? -Infinity;
      // A takeover decided just before the receiver died completes after it (the start scripts run).
      return mine < diedAt + this.s.resources.length * this.w.lat.startMs[1] + 50;
    });
  }

  /** After every step. */
  step(): void {
    const w = this.w;
    const t = w.t;
    for (const x of this.stuck) {
      const proc = x.back ? undefined : w.nodes[x.node]!.procs[x.d as 'sender' | 'receiver' | 'supervise'];
      if (proc && proc.startedAt > x.at) {
        x.back = true;
        this.excusedUntil = Math.max(this.excusedUntil, proc.startedAt + this.crashExcuse(x.d, false));
      }
    }
    if (w.nodes.some((n, i) => this.hanging[i]! > 0 && w.holds(n))) this.excusedUntil = Math.max(this.excusedUntil, t);
    const dt = t - this.lastT;
    const both = this.held[0] && this.held[1];
    const conn = this.connected();
    // The state held during (lastT, t]: count the overlap.
    // Resources left up by an earlier run, daemons not all up yet: a holder whose
    // sender is not running is invisible; the start-up resolves it.
    const leftBoth = (this.s.leftover[0] || this.s.leftover[1]) && t < this.startupResolve;
    if (both && conn && this.lastT >= this.excusedUntil && !leftBoth && !this.deafHolder()) this.overlap += dt;
    if (!both) this.overlap = 0;
    this.lastT = t;
    if (both && conn && this.overlap > this.base)
      this.fail(
        'two-holders',
        `both nodes hold for ${Math.round(this.overlap)} ms while they can hear each other (bound ${Math.round(this.base)} ms)`,
      );
    if (both && conn && t < this.firstFaultAt && !leftBoth)
      this.fail('startup-two-holders', 'both nodes hold the resources during the start-up');
    // off: no overlap while it hands over; the peer takes over at once.
    for (const o of this.offs) {
      if (t > o.until) continue;
      // (the off itself is a mark at o.at: the windows leave it out)
      const quietAround = this.quiet(o.at - this.healBound, o.at - 1e-6) && this.quiet(o.at, t);
      if (both && conn && t >= this.excusedUntil && quietAround)
        this.fail('off-overlap', `two holders ${Math.round(t - o.at)} ms after "off" on n${o.node + 1}`);
      if (
        o.released !== null &&
        !this.held[1 - o.node] &&
        t - o.released > this.handoverBound &&
        quietAround &&
        w.running(w.nodes[1 - o.node]!) &&
        conn
      ) {
        const peer = w.nodes[1 - o.node]!;
        if (!failed(w, peer))
          this.fail(
            'off-handover',
            `n${o.node + 1} released at ${(o.released / 1000).toFixed(3)} s; n${2 - o.node} holds nothing ${Math.round(t - o.released)} ms later (bound ${Math.round(this.handoverBound)} ms)`,
          );
        o.released = null;
      }
    }
    // After a heal: one holder, the first in NODES if both held.
    while (this.heals.length && t >= this.heals[0]!.at + this.healBound) {
      const h = this.heals.shift()!;
      // Quiet since well before the heal too: a node that just got its gateway or checks back may still act on them.
      if (!this.quiet(h.at - this.healBound, h.at - 1e-6, false) || !this.quiet(h.at, t) || !healthy(w)) continue;
      const holders = w.nodes.filter((n) => w.holds(n));
      if (holders.length !== 1)
        this.fail(
          'heal-one-holder',
          `${holders.length} holders ${Math.round(t - h.at)} ms after the heal at ${(h.at / 1000).toFixed(3)} s`,
        );
      else if (h.bothHeld && holders[0]!.id !== 1)
        this.fail('heal-one-holder', `both held at the heal, and n${holders[0]!.id} kept (the first in NODES must)`);
    }
    // A healthy pair has a holder.
    if (!this.held[0] && !this.held[1] && healthy(w) && this.activeFaults === 0 && !paused(w)) {
      this.noHolderSince ??= t;
      if (t - this.noHolderSince > this.holdBound)
        this.fail(
          'holder-within-bound',
          `no holder for ${Math.round(t - this.noHolderSince)} ms in a healthy pair (bound ${Math.round(this.holdBound)} ms)`,
        );
    } else this.noHolderSince = null;
  }
}

function failed(w: World, n: SimNode): boolean {
  return (n.file.FAILED_UNTIL ?? 0) > w.wall;
}
function paused(w: World): boolean {
  return w.nodes.some((n) => n.file.SENDER_RUN === 0 && (n.file.SENDER_PAUSE_UNTIL ?? 0) > w.wall);
}
/** Every daemon runs and is not frozen, the nodes hear each other, both gateways answer, nobody is FAILED. */
export function healthy(w: World): boolean {
  return (
    w.nodes.every((n) => w.running(n) && n.gwUp && !n.checkHangs && !n.startFails && !n.scriptsHang && !failed(w, n)) &&
    !w.blocked[0][1] &&
    !w.blocked[1][0]
  );
}

function isLink(f: Fault): boolean {
  return f.kind === 'partition' || f.kind === 'oneway';
}
