// The named invariants, checked after every step of the simulation. Bounds
// come from the profile and the schedule's own latencies; two holders are
// excused by a break in what the nodes can hear of each other (hearing.ts)
// or in what a node can know of itself (excuses.ts), see docs/simulation.md.
import type { Word } from '../../src/heartbeat/word.js';
import type { HookCall } from '../../src/supervise/hook-queue.js';
import type { Transition } from '../../src/supervise/transitions.js';
import { Excuses } from './excuses.js';
import { Hearing, type Takeover } from './hearing.js';
import type { Fault, Schedule } from './schedule.js';
import type { Hang, SimNode, SimScript, World } from './world.js';

export const INVARIANTS = {
  'two-holders':
    'never two holders while the nodes can hear each other (beyond the excuse a fault earns, and the few ms a healed partition needs)',
  'startup-two-holders': 'both nodes started together: never two holders',
  'startup-one-takeover': 'both nodes started together: at most one takeover (issue 10)',
  'heal-one-holder':
    'after a partition heals: exactly one holder within DEADTIME + SUPERVISE_INT + script time, the first in NODES when both held',
  'off-overlap': '"off" never makes two holders',
  'split-resolved':
    'the heartbeat path cut, the LAN intact: two holders for at most a probe (1 s), two DEADTIMEs and the base bound, then one for the rest of the cut',
  'off-handover': 'after "off" released, the peer holds within the script time (no both-OFFLINE wait)',
  'holder-within-bound':
    'a healthy pair has a holder within DEADTIME + 4 × SUPERVISE_INT + CHECK_TIMEOUT + script time',
  'no-flapping': 'no more than 3 takeovers in a minute without a fault or an operator command',
  'online-means-up':
    'the sender never says ONLINE while a resource of its node is down (unless it just failed by itself)',
  'stop-has-cause': 'a held resource is never stopped without a cause in the log',
  'orphan-killed':
    "no script of a dead daemon does its work (brings a resource up or down) after its node's sender fenced or a new supervise started there: both kill it first (var/run/scripts)",
  'witness-two-holders':
    'with a witness reachable from either node: never two holders, whatever the heartbeat hears (beyond a lease TTL and the stop, and what a node cannot know of itself)',
  'split-told':
    "a split brain is told only when both nodes held the address at one moment between the probe's question and its answer (never for the old holder's answer from before its release)",
  'notify-order':
    "a node's notify hooks are called one at a time, in the order of its transitions: PHA_SEQ grows, and each state call starts from the state the last one ended in (or UNKNOWN after a start)",
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
  private readonly base: number;
  private readonly healBound: number;
  private readonly holdBound: number;
  private readonly handoverBound: number;
  private readonly resExcuse: number;
  private readonly ex: Excuses;
  private readonly hearing: Hearing;
  private noHolderSince: number | null = null;
  private readonly takeovers: Takeover[] = [];
  private readonly faultMarks: { t: number; link: boolean }[] = []; // starts and ends of faults and commands
  private activeFaults = 0;
  private firstFaultAt: number;
  private readonly held: [boolean, boolean] = [false, false];
  private readonly heals: { at: number; bothHeld: boolean }[] = [];
  private offs: { at: number; node: number; released: number | null; until: number }[] = [];
  private startupTakeovers = 0;
  private readonly startupResolve: number;
  private splitOverlap = 0; // ms of two holders in the current heartbeat cut
  private readonly splitBound: number;
  private witnessOverlap = 0; // ms of two holders while the witness is reachable from a node
  private readonly witnessBound: number;
  private witnessExcuse = 0; // a holder without its supervise: excused until then

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
    this.ex = new Excuses(w, this.base, this.resExcuse);
    this.hearing = new Hearing(w, this.base);
    this.firstFaultAt = s.faults.length ? s.faults[0]!.at : Infinity;
    // Both left holding: the start-up resolves it (1.5 s of daemon starts, then the rules).
    this.startupResolve = 1500 + p.DEADTIME + p.SUPERVISE_INT + this.base;
    // A probe that found nobody (it waits 1 s) just before the other took over,
    // the next one a DEADTIME later, the second look a DEADTIME after that, then the stop.
    this.splitBound = 1000 + 2 * p.DEADTIME + this.base;
    // With a witness two holders last at most: a lease TTL (the node that lost
    // its lock stops at its last keepalive + ¾ TTL; its peer may hold a moment
    // before), the stop, and the base bound (the heartbeat resolves the rest).
    this.witnessBound = (s.witness?.ttlS ?? 0) * 1000 + script + this.base;
  }

  private fail(name: InvariantName, detail: string): void {
    if (this.violation) return;
    this.violation = { name, at: this.w.t, detail };
    this.w.log(null, 'INVARIANT', `${name} violated: ${detail}`);
  }

  /** Two holders at `t` are excused by a break in hearing or in what a node knows of itself. */
  private excused(t: number): boolean {
    return t < this.ex.until || this.hearing.excused(t);
  }

  /** A fault or command begins (end: when it is over). */
  faultStarted(f: Fault, end: number): void {
    this.faultMarks.push({ t: this.w.t, link: isLink(f) });
    if (!isLink(f)) this.otherActive++;
    this.firstFaultAt = Math.min(this.firstFaultAt, this.w.t);
    if (f.kind === 'jitter' && f.at === 0) this.firstFaultAt = Infinity; // the start family's network, not a fault
    this.ex.faultStarted(f, end);
    this.activeFaults++;
  }
  faultEnded(f: Fault): void {
    this.ex.faultEnded(f);
    this.faultMarks.push({ t: this.w.t, link: isLink(f) });
    if (!isLink(f)) this.otherActive--;
    this.activeFaults--;
    if (f.kind === 'partition' || f.kind === 'oneway' || f.kind === 'hbCut')
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
    const vip = node.res.get('vip') === true;
    if (this.vipAt[i]!.at(-1)?.up !== vip) this.vipAt[i]!.push({ t: this.w.t, up: vip });
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
        restart: this.w.t < this.ex.res[i] || this.w.t - this.ex.operatorStartAt[i] < 1000,
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
    if (this.w.t < this.ex.res[node.id - 1]) return;
    this.fail(
      'online-means-up',
      `n${node.id} sent ONLINE with ${[...node.res]
        .filter(([, v]) => !v)
        .map(([k]) => k)
        .join(', ')} down`,
    );
  }

  /** A heartbeat lost on a lossy link (see Hearing.lost). */
  lost(): void {
    this.hearing.lost(this.held[0] && this.held[1]);
  }

  hung(node: SimNode, op: 'start' | 'stop', phase: 'begun' | 'killed', h: Hang): void {
    this.ex.hung(node, op, phase, h);
  }

  /** Each node's address (vip) over time: when it went up or down. */
  private readonly vipAt: [{ t: number; up: boolean }[], { t: number; up: boolean }[]] = [[], []];

  /** Was the vip up on node i at some moment in [from, to]? As intervals: both nodes' overlap is checked by told(). */
  private vipUp(i: number): { from: number; to: number }[] {
    const out: { from: number; to: number }[] = [];
    let since: number | null = null;
    for (const e of this.vipAt[i]!) {
      if (e.up && since === null) since = e.t;
      else if (!e.up && since !== null) {
        out.push({ from: since, to: e.t });
        since = null;
      }
    }
    if (since !== null) out.push({ from: since, to: Infinity });
    return out;
  }

  /** When the probe whose answers supervise is handling now was asked, per node. */
  private readonly probeAskedAt: [number, number] = [-Infinity, -Infinity];
  probeAnswered(node: SimNode, askedAt: number): void {
    this.probeAskedAt[node.id - 1] = askedAt;
  }

  told(node: SimNode, t: Transition): void {
    if (t.event !== 'split' || t.now !== 'SPLIT_BRAIN') return;
    const now = this.w.t;
    const from = this.probeAskedAt[node.id - 1]!;
    const mine = this.vipUp(node.id - 1);
    const theirs = this.vipUp(2 - node.id);
    const both = mine.some((a) => theirs.some((b) => Math.max(a.from, b.from, from) <= Math.min(a.to, b.to, now)));
    // A fault took this node's address down behind its supervise's back (not checked yet): it still
    // believes it holds it, and the other answering is then all a probe can tell.
    const unaware =
      now < this.ex.res[node.id - 1]! && theirs.some((b) => Math.max(b.from, from) <= Math.min(b.to, now));
    if (!both && !unaware)
      this.fail(
        'split-told',
        `n${node.id} told a split brain (${t.reason}) though the two nodes did not both hold the address at any moment since ${(from / 1000).toFixed(3)} s`,
      );
  }

  private readonly lastCall: [{ seq: number; state: string } | null, { seq: number; state: string } | null] = [
    null,
    null,
  ];
  notified(node: SimNode, call: HookCall): void {
    const i = node.id - 1;
    const last = this.lastCall[i];
    const t = call.transition;
    if (last && call.seq <= last.seq)
      this.fail('notify-order', `n${node.id}: hook call #${call.seq} after #${last.seq}`);
    const from = last?.state ?? 'UNKNOWN';
    if (t.event === 'state' && call.missed === 0 && t.old !== 'UNKNOWN' && t.old !== from)
      this.fail(
        'notify-order',
        `n${node.id}: hook call #${call.seq} ${t.now} ${t.old}, but the last state told was ${from}`,
      );
    this.lastCall[i] = { seq: call.seq, state: t.event === 'state' ? t.now : from };
  }

  scriptWork(node: SimNode, s: SimScript): void {
    const o = s.owner;
    if (!o || o.alive) return;
    const died = node.hist[o.name].find((h) => h.pid === o.pid)?.end ?? -Infinity;
    const next = node.hist.supervise.find((h) => h.start >= died);
    const after =
      node.fencedAt >= died
        ? `its sender fenced at ${(node.fencedAt / 1000).toFixed(3)} s`
        : next
          ? `supervise ${next.pid} started at ${(next.start / 1000).toFixed(3)} s`
          : null;
    if (after)
      this.fail(
        'orphan-killed',
        `n${node.id}: res ${s.name} ${s.op} of ${o.name} ${o.pid} (dead at ${(died / 1000).toFixed(3)} s) did its work after ${after}`,
      );
  }

  stopping(node: SimNode, by: string, cause: string | null): void {
    if (!this.w.holds(node)) return;
    if (!cause) this.fail('stop-has-cause', `n${node.id} ${by} stops held resources with no decision logged`);
  }

  /** After every step. */
  step(): void {
    const w = this.w;
    const t = w.t;
    this.ex.step();
    this.hearing.step();
    const dt = t - this.lastT;
    const from = this.lastT;
    const both = this.held[0] && this.held[1];
    const conn = this.hearing.connected();
    // The state held during (lastT, t]: count the overlap.
    // Resources left up by an earlier run, daemons not all up yet: a holder whose
    // sender is not running is invisible; the start-up resolves it.
    const leftBoth = (this.s.leftover[0] || this.s.leftover[1]) && t < this.startupResolve;
    if (
      both &&
      conn &&
      !this.excused(this.lastT) &&
      !leftBoth &&
      !this.ex.unseenStart() &&
      !this.hearing.deafHolder(this.takeovers, this.s.resources.length)
    )
      this.overlap += dt;
    if (!both) this.overlap = 0;
    this.lastT = t;
    if (both && conn && this.overlap > this.base)
      this.fail(
        'two-holders',
        `both nodes hold for ${Math.round(this.overlap)} ms while they can hear each other (bound ${Math.round(this.base)} ms)`,
      );
    // The heartbeat cut alone, the LAN intact: the probes must resolve two holders.
    const cutAlone = w.hbBlocked && this.otherActive === 0 && !w.blocked[0][1] && !w.blocked[1][0] && healthy(w, true);
    if (both && cutAlone) this.splitOverlap += dt;
    if (!both || !w.hbBlocked) this.splitOverlap = 0;
    if (this.splitOverlap > this.splitBound)
      this.fail(
        'split-resolved',
        `both nodes hold for ${Math.round(this.splitOverlap)} ms while only the heartbeat is cut (bound ${Math.round(this.splitBound)} ms)`,
      );
    // The witness: reachable from either node, it is the tie-break the heartbeat cannot be.
    const wt = w.witness;
    // A holder whose supervise is gone keeps no lease alive and stops only by its
    // sender's fence (rule 9), counted again from each restart of that sender: the
    // documented exception, up to a startup grace and a round after it is back.
    for (const n of w.nodes)
      if (w.holds(n) && (!n.procs.supervise || n.procs.supervise.frozen))
        this.witnessExcuse = Math.max(this.witnessExcuse, t + w.p.DEADTIME + w.p.SUPERVISE_INT + this.base);
    if (
      both &&
      wt &&
      (wt.reachable(0) || wt.reachable(1)) &&
      !(from < this.ex.until) &&
      !(from < this.witnessExcuse) &&
      !leftBoth &&
      !this.ex.unseenStart()
    )
      this.witnessOverlap += dt;
    if (!both) this.witnessOverlap = 0;
    if (this.witnessOverlap > this.witnessBound)
      this.fail(
        'witness-two-holders',
        `both nodes hold for ${Math.round(this.witnessOverlap)} ms with the witness reachable from ${[0, 1]
          .filter((i) => wt!.reachable(i))
          .map((i) => `n${i + 1}`)
          .join(' and ')} (bound ${Math.round(this.witnessBound)} ms)`,
      );
    if (both && conn && t < this.firstFaultAt && !leftBoth)
      this.fail('startup-two-holders', 'both nodes hold the resources during the start-up');
    // off: no overlap while it hands over; the peer takes over at once.
    for (const o of this.offs) {
      if (t > o.until) continue;
      // (the off itself is a mark at o.at: the windows leave it out)
      const quietAround = this.quiet(o.at - this.healBound, o.at - 1e-6) && this.quiet(o.at, t);
      if (both && conn && !this.excused(t) && quietAround)
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
/** Every daemon runs and is not frozen, the nodes hear each other (`cut`: but for a cut heartbeat), both gateways answer, nobody is FAILED. */
export function healthy(w: World, cut = false): boolean {
  return (
    w.nodes.every((n) => w.running(n) && n.gwUp && !n.checkHangs && !n.startFails && !n.scriptsHang && !failed(w, n)) &&
    !w.blocked[0][1] &&
    !w.blocked[1][0] &&
    (cut || !w.hbBlocked)
  );
}

function isLink(f: Fault): boolean {
  return f.kind === 'partition' || f.kind === 'oneway' || f.kind === 'hbCut';
}
