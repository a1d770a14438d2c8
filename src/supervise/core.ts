// Supervise's logic, sans-I/O: when to check, decide, act and write. Events in
// (a timer, the status changed, check results, a ping's answer, the result of a
// start/stop, what the shell sees when asked), effects out (run the checks,
// ping the gateway, start/stop resources, write keys, publish on the bus, arm
// a timer, log). The rules themselves are decide() (pure); this class keeps
// the round going and turns decide()'s answer into effects. The shell
// (shell.ts) carries them out; the simulator (tools/sim) drives this class.
import type { Config } from '../config/index.js';
import { STAMP_MS, type Timing, type TimingInput, timingOf } from '../config/timing.js';
import type { Clock, CommonEffect, OpResult } from '../daemon/effects.js';
import type { Word } from '../heartbeat/word.js';
import type { Status } from '../status-store/index.js';
import { DECIDE_KEYS, onSuperviseBus } from '../status-store/keys.js';
import { type Decision, initialMemory, type Memory, type Observation, decide as realDecide } from './decide.js';

export type SuperviseConfig = TimingInput &
  Pick<Config, 'GW' | 'GW_INT'> & {
    local: { id: 1 | 2 };
    peer: { name: string };
    resources: readonly { name: string; script: string }[];
  };

/** A daemon's liveness as the shell sees it. */
export interface Liveness {
  pid: boolean | undefined; // the watchdog's last pid check (false: gone)
  onBus: boolean; // heard on the bus lately
  everOnBus: boolean; // heard on the bus at some time
  everSeen?: boolean; // the watchdog has seen its process run (undefined: no watchdog)
}

/** What the shell sees when the core asks ('look'). */
export interface SuperviseSight {
  own: Status; // the file with our own not-yet-written keys over it
  view: Status; // `own` with the other daemons' fresh bus states over it
  damaged: string | null; // the file read back corrupt, truncated or missing
  sender: Liveness;
  receiver: Liveness;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  timedOut?: boolean;
  output?: string;
  error?: string;
}

/** A decision that changed something (or its reason), as data: the port logs it. */
export interface DecisionRecord {
  op: Decision['op'];
  names: readonly string[];
  reason: string;
  peer: string;
  peerWord: Word | null;
  gwFailStreak: number;
}

export type SuperviseEvent =
  | ({ kind: 'timer'; timer: string } & Clock)
  | ({ kind: 'changed'; view: Status } & Clock) // the file or the bus changed; the shell's view of it
  | ({ kind: 'seen'; sight: SuperviseSight } & Clock) // answer to 'look' (at once)
  | ({ kind: 'checked'; results: readonly CheckResult[]; routeOk: boolean } & Clock)
  | ({ kind: 'pinged'; seq: number; ok: boolean; error: string | null } & Clock)
  | ({ kind: 'done'; results: readonly OpResult[] } & Clock); // answer to 'run' / 'garp'

export type SuperviseEffect =
  | CommonEffect
  | { kind: 'look' } // answer at once with 'seen'
  | { kind: 'check'; timeoutMs: number; route: boolean } // every resource's check, and the default route when `route`
  | { kind: 'ping'; seq: number } // one echo to GW; answer with 'pinged'
  | { kind: 'run'; op: 'start' | 'stop'; names: string[] } // start in config order / stop all in reverse; answer with 'done'
  | { kind: 'garp' } // the ipaddr resources' garp action; answer with 'done'
  | { kind: 'write'; patch: Partial<Status> } // the shell adds SUPERVISE_ALARM
  | { kind: 'publish'; keys: Partial<Status> }
  | ({ kind: 'decision' } & DecisionRecord);

// A predecessor stamped later than this is a crash just now (a watchdog or
// systemd restart), not a power loss before a boot.
const INHERIT_MS = 30_000;
// How long a start-up may take for all three daemons to run.
const JOIN_MS = 5000;

export type DecideFn = (o: Observation, t: Timing, m: Memory) => Decision;

/** The keys whose change makes supervise decide at once, as one string to compare. */
export function triggerKey(s: Status): string {
  return DECIDE_KEYS.map((k) => s[k]).join('|');
}

type Phase =
  | { kind: 'idle' }
  | { kind: 'checking' }
  | { kind: 'acting'; d: Decision; offReq: number | null }
  | { kind: 'garp'; d: Decision };

export interface SuperviseOptions {
  /** The GW is configured but cannot be pinged (no ICMP socket): the check fails, loudly. */
  gwUnavailable?: boolean;
  /** The rules; a test may break one on purpose to show that the simulation notices. */
  decide?: DecideFn;
}

export class SuperviseCore {
  private readonly timing: Timing;
  private readonly decideFn: DecideFn;
  private readonly gwOn: boolean; // pinging at all
  private startedAt = 0; // wall
  private memory: Memory = initialMemory();
  private readonly up = new Map<string, boolean>();
  private gwFailStreak = 0;
  private gwSeq = 0;
  private gwAnswered = 0;
  private routeOk = true;
  private stalledAt: number | null = null; // wall (decide() compares it with its now)
  private lastReason = '';
  private lastTrigger = '';
  private lastResKey = ''; // RES_ keys as last seen in the view
  private busy = false;
  private again = false;
  private pendingChecks = false;
  private checksNext = false;
  private checkedOnce = false;
  private stopped = false;
  private roundBegun: number | null = null; // mono: the round whose pass is running
  private phase: Phase = { kind: 'idle' };
  private lastWriteAt = -Infinity; // mono
  private lastStampTry = -Infinity; // mono
  private tickerDue = 0; // mono
  // What we last decided, told to the sender over the bus at once.
  private published: Partial<Status> = {};

  constructor(
    private readonly c: SuperviseConfig,
    opts: SuperviseOptions = {},
  ) {
    this.timing = timingOf(c);
    this.decideFn = opts.decide ?? realDecide;
    for (const r of c.resources) this.up.set(r.name, false);
    this.gwOn = c.GW !== '' && !opts.gwUnavailable;
    if (c.GW && opts.gwUnavailable) this.gwFailStreak = this.timing.gwFails;
  }

  /** What supervise remembers between decisions (for tests and the simulator's trace). */
  get state(): { memory: Memory; stalledAt: number | null; gwFailStreak: number; busy: boolean } {
    return { memory: this.memory, stalledAt: this.stalledAt, gwFailStreak: this.gwFailStreak, busy: this.busy };
  }

  /**
   * First write: no STATUS yet (the shell waits for it to land, then calls run()).
   * `prior`: the status as this supervise found it. A predecessor that died
   * (no clean stop) moments ago while it said ONLINE or PROGRESS may have left
   * the resources up: a check that hangs must not hide them from the rules.
   */
  start(clock: Clock, prior: Status = {}): SuperviseEffect[] {
    this.startedAt = clock.wall;
    const out: SuperviseEffect[] = [];
    const at = prior.SUPERVISE_AT;
    if (
      prior.SUPERVISE === 1 &&
      (prior.STATUS === 'ONLINE' || prior.STATUS === 'PROGRESS') &&
      typeof at === 'number' &&
      Math.abs(clock.wall - at) < INHERIT_MS
    ) {
      this.memory = { ...this.memory, mayStillHold: true };
      out.push({
        kind: 'log',
        level: 'warn',
        fields: { status: prior.STATUS },
        msg: `the supervise before this one died while it said ${prior.STATUS}: the resources may be up, yielding them to an ONLINE peer even while a check says DOWN`,
      });
    }
    this.write({ SUPERVISE: 1, SUPERVISE_AT: clock.wall, STATUS: null }, clock, out);
    return out;
  }

  /** Start the gateway cadence, the ticker, the bus publisher and the first round. */
  run(clock: Clock): SuperviseEffect[] {
    const out: SuperviseEffect[] = [];
    if (this.gwOn) this.ping(clock, out);
    this.tickerDue = clock.mono + this.timing.superviseTickerMs;
    out.push({ kind: 'arm', timer: 'ticker', at: this.tickerDue });
    out.push({ kind: 'arm', timer: 'publish', at: clock.mono + this.timing.busIntervalMs });
    this.round(clock, out);
    return out;
  }

  stop(): SuperviseEffect[] {
    this.stopped = true;
    return [
      ...['ticker', 'publish', 'round', 'wake', 'gw'].map((timer): SuperviseEffect => ({ kind: 'cancel', timer })),
      { kind: 'write', patch: { SUPERVISE: 0, STATUS: null, SUPERVISE_AT: undefined, SENDER_MUTE: undefined } },
    ];
  }

  handle(e: SuperviseEvent): SuperviseEffect[] {
    const out: SuperviseEffect[] = [];
    if (this.stopped) return out;
    // After a freeze, queued events (the bus, the file, results) may run
    // before the ticker: notice the stall first, so nothing is decided on old news.
    if (
      !(e.kind === 'timer' && e.timer === 'ticker') &&
      this.tickerDue > 0 &&
      e.mono - this.tickerDue > this.c.DEADTIME
    )
      this.onStall(e.mono - this.tickerDue, e, out);
    switch (e.kind) {
      case 'timer':
        this.onTimer(e.timer, e, out);
        break;
      case 'changed':
        if (this.resChangedByOthers(e.view)) this.cycle(true, e, out);
        else if (triggerKey(e.view) !== this.lastTrigger) this.cycle(false, e, out);
        break;
      case 'pinged':
        this.onPing(e.seq, e.ok, e.error, e, out);
        break;
      case 'checked':
        if (this.phase.kind !== 'checking') break;
        this.onChecked(e.results, e.routeOk, out);
        this.phase = { kind: 'idle' };
        out.push({ kind: 'look' });
        break;
      case 'seen':
        this.decideAndAct(e.sight, e, out);
        break;
      case 'done':
        if (this.phase.kind === 'acting') this.onActed(this.phase.d, this.phase.offReq, e.results, e, out);
        else if (this.phase.kind === 'garp') this.afterAct(this.phase.d, e, out);
        break;
    }
    return out;
  }

  private onTimer(timer: string, clock: Clock, out: SuperviseEffect[]): void {
    switch (timer) {
      case 'round':
        this.round(clock, out);
        break;
      case 'wake':
        this.cycle(false, clock, out);
        break;
      case 'gw':
        this.ping(clock, out);
        break;
      case 'publish':
        out.push({ kind: 'publish', keys: this.published });
        out.push({ kind: 'arm', timer: 'publish', at: clock.mono + this.timing.busIntervalMs });
        break;
      case 'ticker': {
        // The ticker detects our own stall and stamps liveness; DEADTIME/2 resolution is enough.
        const late = Math.max(0, clock.mono - this.tickerDue);
        this.tickerDue = clock.mono + this.timing.superviseTickerMs;
        out.push({ kind: 'arm', timer: 'ticker', at: this.tickerDue });
        if (late > this.c.DEADTIME) this.onStall(late, clock, out);
        if (
          clock.mono - this.lastWriteAt >= this.timing.superviseStampMs &&
          clock.mono - this.lastStampTry >= this.timing.superviseStampMs
        ) {
          this.lastStampTry = clock.mono;
          this.write({ SUPERVISE_AT: clock.wall, SUPERVISE: 1 }, clock, out);
        }
        break;
      }
    }
  }

  private onStall(late: number, clock: Clock, out: SuperviseEffect[]): void {
    this.stalledAt = clock.wall;
    if (this.tickerDue < clock.mono) this.tickerDue = clock.mono; // noticed once, whichever event comes first
    out.push({
      kind: 'log',
      level: 'warn',
      fields: { lateMs: Math.round(late) },
      msg: 'own stall detected: yielding to an ONLINE peer, no decision on old news',
    });
    // What we told the bus before the freeze is old news: the sender must not
    // send it again (a queued publish would). PROGRESS until we have decided.
    this.published = { ...this.published, STATUS: 'PROGRESS' };
    out.push({ kind: 'publish', keys: this.published });
    this.cycle(false, clock, out);
  }

  /** The gateway on its own cadence: a hung resource check never delays it. Pings overlap. */
  private ping(clock: Clock, out: SuperviseEffect[]): void {
    out.push({ kind: 'ping', seq: ++this.gwSeq });
    out.push({ kind: 'arm', timer: 'gw', at: clock.mono + this.c.GW_INT });
  }

  /** A verdict for ping number `seq` (answers may come back out of order). */
  private onPing(seq: number, ok: boolean, error: string | null, clock: Clock, out: SuperviseEffect[]): void {
    const prev = this.gwFailStreak;
    if (ok) {
      // An answer clears the streak, unless a newer ping already failed.
      if (seq > this.gwAnswered || this.gwFailStreak === 0) this.gwFailStreak = 0;
    } else if (seq > this.gwAnswered) {
      this.gwFailStreak++;
    }
    this.gwAnswered = Math.max(this.gwAnswered, seq);
    const g = this.gwFailStreak;
    if (g === prev) return;
    const gw = this.c.GW;
    if (g > 0 && prev === 0)
      out.push({ kind: 'log', level: 'debug', fields: { gw, error }, msg: `gateway ${gw}: no answer` });
    if (g === this.timing.gwFails)
      out.push({
        kind: 'log',
        level: 'warn',
        fields: { gw, failed: g, error },
        msg: `gateway ${gw} lost: ${g} pings in a row without an answer`,
      });
    if (g === 0 && prev >= this.timing.gwFails)
      out.push({ kind: 'log', level: 'info', fields: { gw, failed: prev }, msg: `gateway ${gw} answers again` });
    if (g === this.timing.gwFails || (g === 0 && prev >= this.timing.gwFails)) this.cycle(false, clock, out);
  }

  private round(clock: Clock, out: SuperviseEffect[]): void {
    if (this.stopped) return;
    if (this.busy) {
      // A pass is running: it checks once more, and the next round counts from now.
      this.cycle(true, clock, out);
      out.push({ kind: 'arm', timer: 'round', at: clock.mono + this.c.SUPERVISE_INT });
      return;
    }
    this.roundBegun = clock.mono;
    this.cycle(true, clock, out);
  }

  /** One serialized pass: optional checks, then decide and act. Runs again while triggers came in. */
  private cycle(withChecks: boolean, clock: Clock, out: SuperviseEffect[]): void {
    if (this.stopped) return;
    if (this.busy) {
      this.pendingChecks ||= withChecks;
      this.again = true;
      return;
    }
    this.busy = true;
    // No decision on resource states we have not checked yet (a restarted
    // supervise would otherwise see its held resources as DOWN).
    this.checksNext = withChecks || !this.checkedOnce;
    this.pass(clock, out);
  }

  private pass(_clock: Clock, out: SuperviseEffect[]): void {
    this.again = false;
    const checks = this.checksNext || this.pendingChecks;
    this.checksNext = false;
    this.pendingChecks = false;
    if (checks) {
      this.phase = { kind: 'checking' };
      out.push({ kind: 'check', timeoutMs: this.c.CHECK_TIMEOUT, route: this.c.GW !== '' });
      return;
    }
    out.push({ kind: 'look' });
  }

  private onChecked(results: readonly CheckResult[], routeOk: boolean, out: SuperviseEffect[]): void {
    // Each check has its own timeout (CHECK_TIMEOUT): a hung one counts as DOWN.
    for (const r of results) {
      const was = this.up.get(r.name);
      this.up.set(r.name, r.ok);
      if (was !== r.ok)
        out.push({
          kind: 'log',
          level: 'info',
          fields: { resource: r.name, state: r.ok ? 'UP' : 'DOWN', output: r.output || undefined, error: r.error },
          msg: `resource ${r.name} is ${r.ok ? 'UP' : 'DOWN'}${r.timedOut ? ' (check timed out)' : ''}`,
        });
      out.push({
        kind: 'alarm',
        id: `check:${r.name}`,
        text: r.timedOut ? `check of ${r.name} timed out after ${this.c.CHECK_TIMEOUT} ms (counted as DOWN)` : null,
      });
    }
    if (this.c.GW) {
      if (routeOk !== this.routeOk)
        out.push({
          kind: 'log',
          level: 'warn',
          fields: { routeOk },
          msg: routeOk ? 'default route is back' : 'no default route',
        });
      this.routeOk = routeOk;
    }
    this.checkedOnce = true;
  }

  // When we first saw each daemon's current start announced (monotonic): the
  // watchdog's pid check may be older than a restart the bus already told us of.
  private readonly startSeen = new Map<'sender' | 'receiver', { value: number | undefined; mono: number }>();
  private announcedRecently(d: 'sender' | 'receiver', value: number | undefined, mono: number): boolean {
    const seen = this.startSeen.get(d);
    if (!seen || seen.value !== value) {
      this.startSeen.set(d, { value, mono });
      return value !== undefined && seen !== undefined;
    }
    return value !== undefined && mono - seen.mono <= this.timing.pidVerdictAgeMs;
  }

  private alive(l: Liveness, stamp: number | undefined, stampMs: number, wall: number, restartedNow = false): boolean {
    // Started together by pha-cli: one not seen yet is starting, not dead.
    if (l.everSeen === false && wall - this.startedAt < 2 * this.c.DEADTIME) return true;
    // Dead by its pid at the watchdog's last check, unless it spoke on the bus
    // since then to announce its restart (the check may be a poll or two old).
    if (l.pid === false && !(l.onBus && restartedNow)) return false;
    if (l.onBus) return true;
    // Right after our own stall the bus is silent because we were: not a death.
    if (this.stalledAt !== null && wall - this.stalledAt < this.timing.busFreshMs) return true;
    // Heard on the bus before and silent now: hung or dead (its file stamp may be seconds old).
    if (l.everOnBus) return false;
    return stamp !== undefined && wall - stamp < Math.max(3 * stampMs, 3 * this.c.DEADTIME);
  }

  private readonly seenRunning = { sender: false, receiver: false };
  private joining(sight: SuperviseSight, wall: number): boolean {
    for (const d of ['sender', 'receiver'] as const)
      if (sight[d].onBus || sight[d].pid === true) this.seenRunning[d] = true;
    // Bounded: a daemon that never comes up is rule 9's business, not a start-up.
    return (
      (!this.seenRunning.sender || !this.seenRunning.receiver) &&
      wall - this.startedAt < Math.max(JOIN_MS, 3 * this.c.DEADTIME)
    );
  }

  private observe(sight: SuperviseSight, clock: Clock): Observation {
    const s = sight.view;
    const t = clock.wall;
    return {
      now: t,
      rank: this.c.local.id,
      resources: this.c.resources.map((r) => ({ name: r.name, up: this.up.get(r.name) ?? false })),
      gwConfigured: this.c.GW !== '',
      gwFailStreak: this.gwFailStreak,
      routeOk: this.routeOk,
      peer: s.RECEIVER_IN ?? null,
      peerSince: s.RECEIVER_IN_SINCE ?? t,
      // A missing RECEIVER_IN (a damaged file) is unknown, never "silent".
      receiverFresh:
        s.RECEIVER_IN !== undefined &&
        this.alive(
          sight.receiver,
          s.RECEIVER_AT,
          STAMP_MS,
          t,
          this.announcedRecently('receiver', s.RECEIVER_STARTED_AT, clock.mono),
        ),
      senderAlive: this.alive(
        sight.sender,
        s.SENDER_AT,
        STAMP_MS,
        t,
        this.announcedRecently('sender', s.SENDER_STARTED_AT, clock.mono),
      ),
      // Rule 3's grace counts from the latest of our three starts: until our
      // sender runs the peer cannot hear us, and a peer whose sender starts
      // about when ours does is silent until then too (issue 10).
      // Until our sender and receiver have both been seen running since we
      // started, we are still joining (the grace has not begun): a node that
      // found resources UP would otherwise say ONLINE before it could hear
      // the peer, or take over before the peer could hear it.
      startedAt: this.joining(sight, t)
        ? t
        : Math.max(this.startedAt, s.RECEIVER_STARTED_AT ?? 0, s.SENDER_STARTED_AT ?? 0),
      stalledAt: this.stalledAt,
      offRequest: s.OFF_REQUEST ? { force: s.OFF_FORCE === 1 } : null,
      pauseUntil: s.SENDER_RUN === 0 ? (s.SENDER_PAUSE_UNTIL ?? 0) : 0,
      failedUntil: s.FAILED_UNTIL ?? 0,
    };
  }

  private resPatch(): Partial<Status> {
    const p: Record<string, 'UP' | 'DOWN'> = {};
    for (const r of this.c.resources) p[`RES_${r.name}`] = this.up.get(r.name) ? 'UP' : 'DOWN';
    return p as Partial<Status>;
  }

  private allUp(): boolean {
    return this.c.resources.length > 0 && this.c.resources.every((r) => this.up.get(r.name));
  }

  /** Publish on the bus at once (the sender sends our newest word), write the file in the background. */
  private write(patch: Partial<Status>, clock: Clock, out: SuperviseEffect[]): void {
    const p = patch as Record<string, unknown>;
    const next: Record<string, unknown> = { ...this.published };
    for (const k of Object.keys(p)) if (onSuperviseBus(k)) next[k] = p[k];
    this.published = next as Partial<Status>;
    out.push({ kind: 'publish', keys: this.published });
    out.push({ kind: 'write', patch });
    this.lastWriteAt = clock.mono;
  }

  /**
   * Somebody else wrote RES_ keys that disagree with what we know (the
   * operator's res start/stop): check now, never write our old states over
   * theirs (the sender's fence reads them).
   */
  private resChangedByOthers(view: Status): boolean {
    const key = this.c.resources.map((r) => view[`RES_${r.name}`] ?? '').join('|');
    if (key === this.lastResKey) return false;
    this.lastResKey = key;
    return (
      this.checkedOnce &&
      this.c.resources.some(
        (r) =>
          view[`RES_${r.name}`] !== undefined && (view[`RES_${r.name}`] === 'UP') !== (this.up.get(r.name) ?? false),
      )
    );
  }

  private decideAndAct(sight: SuperviseSight, clock: Clock, out: SuperviseEffect[]): void {
    out.push({
      kind: 'alarm',
      id: 'file',
      text: sight.damaged ? `${sight.damaged}: supervise writes its keys again` : null,
    });
    const s = sight.view;
    this.lastTrigger = triggerKey(s);
    // The pause as the file (and our own pending writes) has it now: pha-cli's
    // "on" is written to the file, and what we tell the sender must follow it.
    this.published = {
      ...this.published,
      SENDER_RUN: sight.own.SENDER_RUN,
      SENDER_PAUSE_UNTIL: sight.own.SENDER_PAUSE_UNTIL,
    };
    const obs = this.observe(sight, clock);
    const d = this.decideFn(obs, this.timing, this.memory);
    this.memory = d.memory;
    if (d.op !== 'none' || d.reason !== this.lastReason) {
      out.push({
        kind: 'decision',
        op: d.op,
        names: d.names,
        reason: d.reason,
        peer: this.c.peer.name,
        peerWord: obs.peer,
        gwFailStreak: this.gwFailStreak,
      });
      this.lastReason = d.reason;
    }
    this.act(d, sight.own, s.SENDER_STARTED_AT ?? 0, clock, out);
  }

  private act(d: Decision, s: Status, senderStartedAt: number, clock: Clock, out: SuperviseEffect[]): void {
    const common: Partial<Status> = {
      SUPERVISE: 1,
      SUPERVISE_AT: clock.wall,
      DECIDED_AT: clock.wall,
      SENDER_MUTE: d.mute ? 1 : 0,
      GW_OK: this.c.GW ? (this.gwFailStreak < this.timing.gwFails ? 1 : 0) : null,
      ROUTE_OK: this.routeOk ? 1 : 0,
      REASON: d.reason,
      ALARM: d.alarm,
    };
    const offReq = d.consumeOff ? (s.OFF_REQUEST ?? 0) : null;
    if (offReq !== null) {
      // Consumed now; answered now only when nothing is done (refused or not
      // Active). A release is answered after the stop, with its outcome.
      Object.assign(common, { OFF_REQUEST: null, OFF_FORCE: undefined });
      if (d.op === 'none') Object.assign(common, { OFF_ANSWER: d.reason, OFF_RESULT: 'refused', OFF_ANSWERED: offReq });
    }
    if (d.failedUntil !== null) common.FAILED_UNTIL = d.failedUntil;
    if (d.op === 'none') {
      const patch: Partial<Status> = { ...common, ...this.resPatch(), STATUS: d.word };
      // Holding during our own "off" pause (the operator's res start, or
      // resources found up at start): a muted peer would keep too.
      if (d.word === 'ONLINE')
        this.endPause(s, patch, clock, out, 'holding the resources during the off pause: the heartbeat resumes');
      // An unchanged decision is not written again (each write wakes the other
      // daemons); the liveness stamp still goes out every stamp interval.
      if (
        changes(patch, s) ||
        (s.DECIDED_AT ?? 0) < Math.max(senderStartedAt, s.SENDER_STARTED_AT ?? 0, this.stalledAt ?? 0) ||
        clock.mono - this.lastWriteAt >= this.timing.superviseStampMs
      ) {
        this.write(patch, clock, out);
      }
      if (d.garp && this.c.resources.some((r) => baseName(r.script) === 'ipaddr')) {
        this.phase = { kind: 'garp', d };
        out.push({ kind: 'garp' });
        return;
      }
      this.afterAct(d, clock, out);
      return;
    }
    // PROGRESS while we start or stop, so the peer waits (and the sender sends it at once).
    const patch: Partial<Status> = { ...common, ...this.resPatch(), STATUS: 'PROGRESS' };
    // Taking over during our own "off" pause (the peer went silent).
    if (d.op !== 'stop') this.endPause(s, patch, clock, out, 'taking over during the off pause: the heartbeat resumes');
    this.write(patch, clock, out);
    this.phase = { kind: 'acting', d, offReq };
    out.push({
      kind: 'run',
      op: d.op === 'stop' ? 'stop' : 'start',
      names: d.op === 'stop' ? this.c.resources.map((r) => r.name) : d.names,
    });
  }

  /** A holder that stays silent is one the peer cannot see: our own "off" pause ends when we hold. */
  private endPause(s: Status, patch: Partial<Status>, clock: Clock, out: SuperviseEffect[], msg: string): void {
    if (s.SENDER_RUN !== 0 || (s.SENDER_PAUSE_UNTIL ?? 0) <= clock.wall) return;
    Object.assign(patch, { SENDER_RUN: 1, SENDER_PAUSE_UNTIL: undefined });
    out.push({ kind: 'log', level: 'warn', fields: { peer: this.c.peer.name }, msg });
  }

  private onActed(
    d: Decision,
    offReq: number | null,
    results: readonly OpResult[],
    clock: Clock,
    out: SuperviseEffect[],
  ): void {
    for (const r of results) this.up.set(r.name, d.op === 'stop' ? !r.ok : r.ok);
    const failed = results.filter((r) => !r.ok);
    // A stop that failed left them up, as far as we know: a check that hangs
    // next must not hide them from the rules.
    if (d.op === 'stop' && failed.length) this.memory = { ...this.memory, mayStillHold: true };
    const word: Word = this.allUp() ? 'ONLINE' : 'OFFLINE';
    out.push({
      kind: 'log',
      level: failed.length ? 'warn' : 'info',
      fields: { op: d.op, resources: d.names, failed: failed.map((r) => r.name), status: word, peer: this.c.peer.name },
      msg: `${d.op} ${failed.length ? `failed for ${failed.map((r) => r.name).join(', ')}` : 'done'}: STATUS ${word}`,
    });
    const final: Partial<Status> = {
      ...this.resPatch(),
      STATUS: word,
      SUPERVISE_AT: clock.wall,
      DECIDED_AT: clock.wall,
    };
    // The release is the final word the sender sends before the pause (fix 5).
    // Not when every stop failed: still ONLINE, a silent holder is one the
    // peer takes over from. When some stopped, OFFLINE is a release all the
    // same: the pause keeps rule 6 from taking them back here, and what
    // failed is stopped again once the peer is ONLINE.
    if (d.pauseUntil !== null && word === 'OFFLINE') {
      final.SENDER_RUN = 0;
      final.SENDER_PAUSE_UNTIL = d.pauseUntil;
    }
    if (offReq !== null) {
      const ok = failed.length === 0;
      const held = failed.map((r) => r.name).join(', ');
      Object.assign(final, {
        OFF_ANSWER: ok
          ? d.reason
          : word === 'ONLINE'
            ? `off: stopping ${held} failed: still Active, the heartbeat goes on (not paused); see the supervise log and 'res list', then 'off' again`
            : `off: stopping ${held} failed: ${held} still held here; the rest is released to ${this.c.peer.name} (heartbeat paused), and this node stops ${held} again once ${this.c.peer.name} is ONLINE; see 'res list'`,
        OFF_RESULT: ok ? 'released' : 'failed',
        OFF_ANSWERED: offReq,
      });
    }
    this.write(final, clock, out);
    // A failed stop is tried again at the next round, after a check: at once,
    // a stop script that fails fast would be run in a tight loop.
    this.afterAct(d, clock, out, !(d.op === 'stop' && failed.length > 0));
  }

  /** After acting: settle (decide again on an op's results) unless told not to, arm the wake-up, end the pass. */
  private afterAct(d: Decision, clock: Clock, out: SuperviseEffect[], settle = true): void {
    this.phase = { kind: 'idle' };
    if (d.op !== 'none' && settle) this.again = true;
    out.push({ kind: 'cancel', timer: 'wake' });
    const wakeAt = d.wakeAt;
    if (wakeAt !== null && !this.stopped)
      out.push({ kind: 'arm', timer: 'wake', at: clock.mono + Math.max(1, wakeAt - clock.wall + 1) });
    if (this.again && !this.stopped) {
      this.pass(clock, out);
      return;
    }
    this.busy = false;
    if (this.roundBegun !== null) {
      out.push({ kind: 'arm', timer: 'round', at: Math.max(clock.mono, this.roundBegun + this.c.SUPERVISE_INT) });
      this.roundBegun = null;
    }
  }
}

function baseName(p: string): string {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

/** Does applying `patch` change anything but the time stamps? */
function changes(patch: Partial<Status>, cur: Status): boolean {
  const c = cur as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'SUPERVISE_AT' || k === 'DECIDED_AT') continue;
    if (v === undefined ? k in c : c[k] !== v) return true;
  }
  return false;
}
