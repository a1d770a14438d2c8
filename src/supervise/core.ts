// Supervise's logic, sans-I/O: when to check, decide, act and write. Events in
// (a timer, the status changed, check results, a ping's answer, the result of a
// start/stop, what the shell sees when asked), effects out (run the checks,
// ping the gateway, start/stop resources, write keys, publish on the bus, arm
// a timer, log). The rules themselves are decide() (pure); this class keeps
// the passes going and turns decide()'s answer into effects. The shell
// (shell.ts) carries them out; the simulator (tools/sim) drives this class.
//
// A pass is one serialized trip: the checks (when due), a look at the status,
// a decision, and the action it asks for. Its phase is the state: what the
// pass waits for, and what it must do once more when it ends.

import { stampPeriod, type Timing, timingOf } from '../config/timing.js';
import { Cadence } from '../daemon/cadence.js';
import type { Clock, OpResult } from '../daemon/effects.js';
import type { Status } from '../status-store/index.js';
import { DECIDE_KEYS, onSuperviseBus } from '../status-store/keys.js';
import { Acting, changes } from './act.js';
import { type Decision, initialMemory, type Memory, type Observation, decide as realDecide } from './decide.js';
import type { SuperviseConfig, SuperviseEffect, SuperviseEvent, SuperviseSight, SuperviseTimer } from './events.js';
import { GatewayWatch } from './gateway.js';
import { Held } from './held.js';
import { diedHolding, OwnDaemons, observe, YIELD_ANYWAY } from './liveness.js';
import { SplitWatch } from './split.js';
import { StallWatch } from './stall.js';
import { Teller } from './teller.js';
import { WitnessWatch } from './witness.js';

export type * from './events.js';

export type DecideFn = (o: Observation, t: Timing, m: Memory) => Decision;

/** The keys whose change makes supervise decide at once, as one string to compare. */
export function triggerKey(s: Status): string {
  return DECIDE_KEYS.map((k) => s[k]).join('|');
}

/** What a running pass must do once more when it ends. */
interface Pass {
  again: boolean; // a trigger came in: decide once more
  checksAgain: boolean; // … with the checks first
  roundBegun: number | null; // mono: the round that began it (the next round counts from there)
}

type Phase =
  | { kind: 'idle' }
  | ({ kind: 'checking' } & Pass) // the checks are out
  | ({ kind: 'looking' } & Pass) // asked the shell what it sees
  | ({ kind: 'acting'; d: Decision; offReq: number | null } & Pass) // a start or stop runs
  | ({ kind: 'announcing'; d: Decision } & Pass) // gratuitous ARP runs
  | { kind: 'stopped' };

/** The running pass's bookkeeping (a fresh one when none runs). */
function passOf(p: Phase): Pass {
  return 'again' in p
    ? { again: p.again, checksAgain: p.checksAgain, roundBegun: p.roundBegun }
    : { again: false, checksAgain: false, roundBegun: null };
}

export interface SuperviseOptions {
  /** The GW is configured but cannot be pinged (no ICMP socket): the check fails, loudly. */
  gwUnavailable?: boolean;
  /** The rules; a test may break one on purpose to show that the simulation notices. */
  decide?: DecideFn;
}

export class SuperviseCore {
  private readonly timing: Timing;
  private readonly busRepeat: Cadence;
  private readonly decideFn: DecideFn;
  private readonly gwOn: boolean; // pinging at all
  private readonly gateway: GatewayWatch;
  private readonly held: Held;
  private readonly daemons: OwnDaemons;
  private readonly acting: Acting;
  private readonly stall: StallWatch;
  private readonly split: SplitWatch;
  private readonly witness: WitnessWatch | null; // rule 13; null: no WITNESS
  private phase: Phase = { kind: 'idle' };
  private memory: Memory = initialMemory();
  private lastTrigger = '';
  private lastWriteAt = -Infinity; // mono
  private failedUntil = 0; // wall: FAILED until then (rule 8), as the last decision saw it
  private readonly teller: Teller;
  // What we last decided, told to the sender over the bus at once.
  private published: Partial<Status> = {};

  constructor(
    private readonly c: SuperviseConfig,
    opts: SuperviseOptions = {},
  ) {
    this.timing = timingOf(c);
    this.busRepeat = new Cadence(this.timing.busIntervalMs);
    this.decideFn = opts.decide ?? realDecide;
    this.gwOn = c.GW !== '' && !opts.gwUnavailable;
    this.gateway = new GatewayWatch(c.GW, this.timing.gwFails, !!opts.gwUnavailable);
    this.held = new Held(c);
    this.daemons = new OwnDaemons(this.timing);
    this.acting = new Acting(c, this.held);
    this.teller = new Teller(c, this.timing);
    this.split = new SplitWatch(c.SUPERVISE_INT, c.DEADTIME);
    this.witness = c.witness
      ? new WitnessWatch(c.local.name ?? `node${c.local.id}`, c.witness.ttl * 1000, c.HEARTBEAT_INT)
      : null;
    this.stall = new StallWatch(this.timing.superviseTickerMs, c.DEADTIME, this.timing.superviseStampMs);
  }

  private get busy(): boolean {
    return this.phase.kind !== 'idle' && this.phase.kind !== 'stopped';
  }

  /** What supervise remembers between decisions (for tests and the simulator's trace). */
  get state(): { memory: Memory; stalledAt: number | null; gwFailStreak: number; busy: boolean } {
    const stalledAt = this.stall.stalledAt;
    return { memory: this.memory, stalledAt, gwFailStreak: this.gateway.failStreak, busy: this.busy };
  }

  /**
   * First write: no STATUS yet (the shell waits for it to land, then calls run()).
   * `prior`: the status as this supervise found it. A predecessor that died
   * (no clean stop) moments ago while it said ONLINE or PROGRESS may have left
   * the resources up: a check that hangs must not hide them from the rules.
   */
  start(clock: Clock, prior: Status = {}): SuperviseEffect[] {
    this.daemons.startedAt = clock.wall;
    const out: SuperviseEffect[] = [];
    const said = diedHolding(prior, clock.wall);
    if (said) {
      this.memory = { ...this.memory, mayStillHold: true };
      const msg = `the supervise before this one died while it said ${said}: the resources may be up, `;
      out.push({ kind: 'log', level: 'warn', fields: { status: said }, msg: `${msg}${YIELD_ANYWAY}` });
    }
    this.write({ SUPERVISE: 1, SUPERVISE_AT: clock.wall, STATUS: null }, clock, out);
    return out;
  }

  /** The sender hears us on the bus (or no longer does): SUPERVISE_AT may rest (must not). */
  restStamps(resting: boolean): void {
    this.stall.stampMs = stampPeriod(resting, this.timing.superviseStampMs);
  }

  /** Start the gateway cadence, the stall tick, the bus publisher and the first round. */
  run(clock: Clock): SuperviseEffect[] {
    const out: SuperviseEffect[] = [];
    if (this.gwOn) out.push(...this.gateway.ping(clock, this.c.GW_INT));
    out.push({ kind: 'arm', timer: 'tick', at: this.stall.start(clock.mono) });
    this.busRepeat.done(clock.mono);
    out.push(...this.split.tick(clock));
    if (this.witness) out.push(...this.witness.tick(clock).out);
    this.round(clock, out);
    return out;
  }

  stop(): SuperviseEffect[] {
    this.phase = { kind: 'stopped' };
    const timers: SuperviseTimer[] = ['tick', 'round', 'wake', 'gw', 'probe', 'witness'];
    return [
      ...timers.map((timer): SuperviseEffect => ({ kind: 'cancel', timer })),
      { kind: 'write', patch: { SUPERVISE: 0, STATUS: null, SUPERVISE_AT: undefined, SENDER_MUTE: undefined } },
    ];
  }

  handle(e: SuperviseEvent): SuperviseEffect[] {
    const out: SuperviseEffect[] = [];
    if (this.phase.kind === 'stopped') return out;
    // After a freeze, queued events (the bus, the file, results) may run
    // before the tick: notice the stall first, so nothing is decided on old news.
    const late = e.kind === 'timer' && e.timer === 'tick' ? null : this.stall.event(e);
    if (late !== null) this.onStall(late, e, out);
    switch (e.kind) {
      case 'timer':
        this.onTimer(e.timer, e, out);
        break;
      case 'changed':
        if (this.held.changedByOthers(e.view)) this.cycle(true, e, out);
        else if (triggerKey(e.view) !== this.lastTrigger) this.cycle(false, e, out);
        break;
      case 'pinged':
        if (this.gateway.pinged(e.seq, e.ok, e.error, this.teller, e, out)) this.cycle(false, e, out);
        break;
      case 'checked':
        if (this.phase.kind !== 'checking') break;
        this.held.checked(e.results, e.routeOk, out);
        this.phase = { ...passOf(this.phase), kind: 'looking' };
        out.push({ kind: 'look' });
        break;
      case 'seen':
        this.decideAndAct(e.sight, e, out);
        break;
      case 'probed': {
        // While our stop runs, the peer answering is the takeover we asked for, not a second holder.
        const stopping = this.phase.kind === 'acting' && this.phase.d.op === 'stop';
        const r = this.split.probed(e.results, e.sentAt, stopping, this.held, this.teller, e, out);
        if (r.patch) this.write(r.patch, e, out);
        if (r.changed) this.cycle(false, e, out); // rule 12 reads what the probes saw
        break;
      }
      case 'witnessed': {
        const w = this.witness;
        if (!w) break;
        if (w.answer(e.op, e.sentAt, e.result, e)) this.witnessChanged(e, out);
        const retry = w.retryMs;
        if (retry !== null) out.push({ kind: 'arm', timer: 'witness', at: e.mono + retry });
        break;
      }
      case 'done':
        if (this.phase.kind === 'acting') this.onActed(this.phase, e.results, e, out);
        else if (this.phase.kind === 'announcing') this.afterAct(this.phase.d, e, out);
        break;
    }
    return out;
  }

  private onTimer(timer: SuperviseTimer, clock: Clock, out: SuperviseEffect[]): void {
    switch (timer) {
      case 'round':
        this.round(clock, out);
        break;
      case 'wake':
        this.cycle(false, clock, out);
        break;
      case 'gw':
        out.push(...this.gateway.ping(clock, this.c.GW_INT));
        // The tick rides on the ping's wake once it is due: its own timer is the fallback.
        if (this.stall.isDue(clock.mono)) this.onTimer('tick', clock, out);
        break;
      case 'probe':
        out.push(...this.split.tick(clock));
        break;
      case 'witness': {
        const w = this.witness?.tick(clock);
        if (w) out.push(...w.out);
        if (w?.lapsed) this.witnessChanged(clock, out);
        break;
      }
      case 'tick': {
        // The tick detects our own stall and stamps liveness; DEADTIME/2 resolution is enough.
        const t = this.stall.tick(clock, this.lastWriteAt);
        out.push({ kind: 'arm', timer: 'tick', at: t.at });
        if (t.stall !== null) this.onStall(t.stall, clock, out);
        if (t.stamp) this.write({ SUPERVISE_AT: clock.wall, SUPERVISE: 1 }, clock, out);
        // The bus repeat (our liveness for the sender) rides on the tick: no timer of its own.
        if (this.busRepeat.due(clock.mono)) out.push({ kind: 'publish', keys: this.published });
        break;
      }
    }
  }

  private onStall(late: number, clock: Clock, out: SuperviseEffect[]): void {
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

  /** What the witness says changed (rule 13): the alarm, the status key, a decision at once. */
  private witnessChanged(clock: Clock, out: SuperviseEffect[]): void {
    const patch = this.witness!.told(clock, out);
    if (patch) this.write(patch, clock, out);
    this.cycle(false, clock, out);
  }

  // ---- passes -------------------------------------------------------------

  private round(clock: Clock, out: SuperviseEffect[]): void {
    if (this.busy) {
      // A pass is running: it checks once more, and the next round counts from now.
      this.cycle(true, clock, out);
      out.push({ kind: 'arm', timer: 'round', at: clock.mono + this.c.SUPERVISE_INT });
      return;
    }
    this.begin({ again: false, checksAgain: false, roundBegun: clock.mono }, true, out);
  }

  /** Decide (after the checks when `withChecks`) now, or once more when the running pass ends. */
  private cycle(withChecks: boolean, _clock: Clock, out: SuperviseEffect[]): void {
    const p = this.phase;
    if ('again' in p) {
      p.checksAgain ||= withChecks;
      p.again = true;
      return;
    }
    if (p.kind === 'stopped') return;
    this.begin({ again: false, checksAgain: false, roundBegun: null }, withChecks, out);
  }

  /** A new pass. No decision on resource states we have not checked yet (a restarted supervise would see its held resources as DOWN). */
  private begin(p: Pass, withChecks: boolean, out: SuperviseEffect[]): void {
    this.next(p, withChecks || !this.held.checkedOnce, out);
  }

  private next(p: Pass, checks: boolean, out: SuperviseEffect[]): void {
    const pass: Pass = { ...p, again: false, checksAgain: false };
    if (checks) {
      this.phase = { ...pass, kind: 'checking' };
      out.push({ kind: 'check', timeoutMs: this.c.CHECK_TIMEOUT, route: this.c.GW !== '' });
      return;
    }
    this.phase = { ...pass, kind: 'looking' };
    out.push({ kind: 'look' });
  }

  /** After acting: settle (decide again on an op's results) unless told not to, arm the wake-up, end the pass. */
  private afterAct(d: Decision, clock: Clock, out: SuperviseEffect[], settle = true): void {
    const p = passOf(this.phase);
    if (d.op !== 'none' && settle) p.again = true;
    out.push({ kind: 'cancel', timer: 'wake' });
    if (d.wakeAt !== null)
      out.push({ kind: 'arm', timer: 'wake', at: clock.mono + Math.max(1, d.wakeAt - clock.wall + 1) });
    if (p.again) {
      this.next(p, p.checksAgain, out);
      return;
    }
    this.phase = { kind: 'idle' };
    if (p.roundBegun !== null)
      out.push({ kind: 'arm', timer: 'round', at: Math.max(clock.mono, p.roundBegun + this.c.SUPERVISE_INT) });
  }

  // ---- the decision -------------------------------------------------------

  private decideAndAct(sight: SuperviseSight, clock: Clock, out: SuperviseEffect[]): void {
    const text = sight.damaged ? `${sight.damaged}: supervise writes its keys again` : null;
    out.push({ kind: 'alarm', id: 'file', text });
    const s = sight.view;
    this.lastTrigger = triggerKey(s);
    // The pause as the file (and our own pending writes) has it now: pha-cli's
    // "on" is written to the file, and what we tell the sender must follow it.
    const { SENDER_RUN, SENDER_PAUSE_UNTIL } = sight.own;
    this.published = { ...this.published, SENDER_RUN, SENDER_PAUSE_UNTIL };
    const obs = {
      ...observe(this.c, sight, clock, this.held, this.gateway.failStreak, this.daemons, this.stall.stalledAt),
      ...this.split.seen(),
      ...(this.witness ? { witness: this.witness.view(clock) } : {}),
    };
    out.push(...this.split.peer(obs.receiverFresh && obs.peer === null, clock));
    const d = this.decideFn(obs, this.timing, this.memory);
    this.memory = d.memory;
    this.teller.decision(d, obs, sight, this.gateway.failStreak, clock, out);
    this.failedUntil = d.failedUntil ?? obs.failedUntil;
    if (this.witness)
      out.push(
        ...this.witness.decided(
          d,
          obs.resources.some((r) => r.up),
          clock,
        ),
      );
    this.act(d, sight.own, s.SENDER_STARTED_AT ?? 0, clock, out);
  }

  // ---- acting on it -------------------------------------------------------

  private act(d: Decision, s: Status, senderStartedAt: number, clock: Clock, out: SuperviseEffect[]): void {
    const gwOk = this.c.GW ? (this.gateway.ok ? 1 : 0) : null;
    const offReq = d.consumeOff ? (s.OFF_REQUEST ?? 0) : null;
    const patch = this.acting.before(d, s, clock.wall, gwOk, offReq, out);
    const pass = passOf(this.phase);
    if (d.op === 'none') {
      // An unchanged decision is not written again (each write wakes the other
      // daemons); the liveness stamp still goes out every stamp interval.
      const newer = Math.max(senderStartedAt, s.SENDER_STARTED_AT ?? 0, this.stall.stalledAt ?? 0);
      const stampDue = clock.mono - this.lastWriteAt >= this.stall.stampMs;
      if (changes(patch, s) || (s.DECIDED_AT ?? 0) < newer || stampDue) this.write(patch, clock, out);
      this.teller.state(d.word, this.failedUntil > clock.wall, d.reason, clock, out);
      if (d.garp && this.acting.announces) {
        this.phase = { ...pass, kind: 'announcing', d };
        out.push({ kind: 'garp' });
        return;
      }
      this.afterAct(d, clock, out);
      return;
    }
    this.write(patch, clock, out);
    this.phase = { ...pass, kind: 'acting', d, offReq };
    const stop = d.op === 'stop';
    out.push({ kind: 'run', op: stop ? 'stop' : 'start', names: stop ? this.c.resources.map((r) => r.name) : d.names });
  }

  private onActed(
    a: { d: Decision; offReq: number | null },
    results: readonly OpResult[],
    clock: Clock,
    out: SuperviseEffect[],
  ): void {
    const { final, failed } = this.acting.after(a.d, a.offReq, results, clock.wall, out);
    // Rule 13 (d): stopped cleanly: give the lock back before the peer hears
    // our OFFLINE, so its takeover finds the lock free.
    if (this.witness && a.d.op === 'stop' && !failed) out.push(...this.witness.wants(false, true, clock));
    this.teller.acted(a.d.op === 'stop' ? 'stop' : 'start', results, clock);
    if (a.d.op !== 'stop') out.push(...this.split.started(a.d.names, clock));
    // A stop that failed left them up, as far as we know: a check that hangs
    // next must not hide them from the rules.
    if (a.d.op === 'stop' && failed) this.memory = { ...this.memory, mayStillHold: true };
    this.write(final, clock, out);
    // After the scripts: Active once the starts succeeded, Standby (or FAILED) once the stops are done.
    const failedNow = (a.d.failedUntil ?? this.failedUntil) > clock.wall;
    this.teller.state(final.STATUS, failedNow, a.d.reason, clock, out);
    // A failed stop is tried again at the next round, after a check: at once,
    // a stop script that fails fast would be run in a tight loop.
    this.afterAct(a.d, clock, out, !(a.d.op === 'stop' && failed));
  }

  /** Publish on the bus at once (the sender sends our newest word), write the file in the background. */
  private write(patch: Partial<Status>, clock: Clock, out: SuperviseEffect[]): void {
    const p = patch as Record<string, unknown>;
    const next: Record<string, unknown> = { ...this.published };
    for (const k of Object.keys(p)) if (onSuperviseBus(k)) next[k] = p[k];
    this.published = next as Partial<Status>;
    out.push({ kind: 'publish', keys: this.published });
    out.push({ kind: 'write', patch, alarmsKey: 'SUPERVISE_ALARM' });
    this.lastWriteAt = clock.mono;
  }
}
