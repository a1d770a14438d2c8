// What the daemons' sans-I/O cores share: the clock an event carries, the
// effects every core may ask for (timers, log lines, alarms), the ports those
// effects are carried out on, and runCore(): the one loop that feeds a core
// its events and hands its effects to the ports. The daemons' shells supply
// real ports, the simulator (tools/sim) virtual ones; both run the same
// dispatch, so a port that fails reaches the core the same way in both.
//
// A core never reads a clock: each event brings `mono` (monotonic ms, for
// every age and deadline inside the process) and `wall` (epoch ms, only for
// values that go into status.dat, the logs, or are compared with what another
// process wrote there).

import { errorMessage } from '../errors.js';
import type { Status } from '../status-store/index.js';
import { woke } from '../wakeups.js';

export interface Clock {
  mono: number;
  wall: number;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The key under which a daemon's alarms ride on its status-file stamp. */
export type AlarmsKey = 'SENDER_ALARM' | 'RECEIVER_ALARM' | 'SUPERVISE_ALARM';

export type CommonEffect<T extends string = string> =
  // Keys into the status file, in the background; with `alarmsKey` the daemon's alarm list goes under it.
  | { kind: 'write'; patch: Partial<Status>; alarmsKey?: AlarmsKey }
  | { kind: 'publish'; keys: Partial<Status> } // this daemon's state, to the node's other daemons (the local bus)
  | { kind: 'arm'; timer: T; at: number } // fire `timer` at monotonic time `at` (re-arming replaces)
  | { kind: 'cancel'; timer: T }
  | { kind: 'log'; level: LogLevel; msg: string; fields?: Record<string, unknown> }
  | { kind: 'alarm'; id: string; text: string | null };

/** What every core's effects need, whoever supplies it (a daemon's shell or the simulator). */
export interface CommonPorts {
  clock(): Clock;
  /** Call `fire` at monotonic time `at`; re-arming a timer replaces it. */
  arm(timer: string, at: number, fire: () => void): void;
  cancel(timer: string): void;
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  alarm(id: string, text: string | null): void;
  /** This daemon's alarms now (they go with its status-file stamp). */
  alarmList(): readonly string[];
  /** Keys into the status file, in the background (retried while it cannot be written). */
  write(patch: Partial<Status>): void;
  publish(keys: Partial<Status>): void;
}

/** What a start or stop did to one resource. */
/** One resource's start or stop: how it went, and (from a real or simulated script) its exit code and duration. */
export type OpResult = { name: string; ok: boolean; code?: number | null; ms?: number };

/** An asynchronous port's one answer. */
export interface Reply<T> {
  ok(value: T): void;
  fail(err: unknown): void;
}

export interface Core<Ev, Eff> {
  handle(ev: Ev): Eff[];
}

export interface CoreRunner<Ev, Eff> {
  /** An event from the world: the core handles it, its effects are carried out. */
  feed(ev: Ev): void;
  /** Effects the core returned outside handle() (its start, its run). */
  carry(effects: readonly Eff[]): void;
  /** A port's answer, turned into the core's event; a failure becomes `onFail`'s event, logged. */
  reply<T>(what: string, onOk: (value: T, clock: Clock) => Ev, onFail: (err: unknown, clock: Clock) => Ev): Reply<T>;
  /** Nothing more reaches the core (late answers and timers are dropped). */
  stop(): void;
  readonly stopped: boolean;
}

/** The names of a core's timers (what its 'arm' effects name). */
export type TimerOf<Eff> = Extract<Eff, { kind: 'arm' }> extends { timer: infer T } ? T : never;

/** How one daemon's own effects map onto its ports; `run` feeds answers back. */
export interface CoreBinding<Ev, Eff extends { kind: string }, P extends CommonPorts> {
  name: string;
  timerEvent(timer: TimerOf<Eff>, clock: Clock, ports: P): Ev;
  carry(e: Exclude<Eff, CommonEffect>, ports: P, run: CoreRunner<Ev, Eff>): void;
}

export function runCore<Ev, Eff extends { kind: string }, P extends CommonPorts>(
  core: Core<Ev, Eff>,
  binding: CoreBinding<Ev, Eff, P>,
  ports: P,
): CoreRunner<Ev, Eff> {
  let stopped = false;
  const runner: CoreRunner<Ev, Eff> = {
    get stopped() {
      return stopped;
    },
    feed(ev) {
      if (stopped) return;
      let effects: Eff[];
      try {
        effects = core.handle(ev);
      } catch (err) {
        ports.log('error', `${binding.name} step failed`, { err: errorMessage(err) });
        return;
      }
      runner.carry(effects);
    },
    carry(effects) {
      for (const e of effects) {
        if (stopped) return;
        try {
          if (!carryCommon(e, ports, runner, binding)) binding.carry(e as Exclude<Eff, CommonEffect>, ports, runner);
        } catch (err) {
          ports.log('error', `${binding.name}: ${e.kind} failed`, { err: errorMessage(err) });
        }
      }
    },
    reply(what, onOk, onFail) {
      let answered = false;
      const answer = (ev: (c: Clock) => Ev) => {
        if (answered) return;
        answered = true;
        runner.feed(ev(ports.clock()));
      };
      return {
        ok: (v) => answer((c) => onOk(v, c)),
        fail: (err) => {
          if (!answered && !stopped) ports.log('error', `${binding.name}: ${what} failed`, { err: errorMessage(err) });
          answer((c) => onFail(err, c));
        },
      };
    },
    stop() {
      stopped = true;
    },
  };
  return runner;
}

function carryCommon<Ev, Eff extends { kind: string }, P extends CommonPorts>(
  e: { kind: string },
  ports: P,
  run: CoreRunner<Ev, Eff>,
  b: CoreBinding<Ev, Eff, P>,
): boolean {
  const c = e as CommonEffect;
  switch (c.kind) {
    case 'arm':
      // A timer fires under the name the core armed it with.
      ports.arm(c.timer, c.at, () => run.feed(b.timerEvent(c.timer as TimerOf<Eff>, ports.clock(), ports)));
      return true;
    case 'cancel':
      ports.cancel(c.timer);
      return true;
    case 'log':
      ports.log(c.level, c.msg, c.fields);
      return true;
    case 'alarm':
      ports.alarm(c.id, c.text);
      return true;
    case 'write':
      ports.write(withAlarms(c.patch, c.alarmsKey, ports));
      return true;
    case 'publish':
      ports.publish(c.keys);
      return true;
    default:
      return false;
  }
}

/** A patch with the daemon's alarm list under `key` (none: the key is removed). */
export function withAlarms<P extends object>(
  patch: P,
  key: string | undefined,
  ports: Pick<CommonPorts, 'alarmList'>,
): P {
  return key ? { ...patch, [key]: ports.alarmList().join('; ') || undefined } : patch;
}

/** Real timers for a shell: one per name, armed at a monotonic time. */
export class ShellTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;
  /** `late`: told how late each timer fired (the event loop's lag, for the metrics). */
  constructor(
    private readonly mono: () => number,
    private readonly late?: (ms: number) => void,
  ) {}

  arm(timer: string, at: number, fire: () => void): void {
    if (this.stopped) return;
    this.cancel(timer);
    this.timers.set(
      timer,
      setTimeout(
        () => {
          this.timers.delete(timer);
          woke(`timer.${timer}`);
          this.late?.(Math.max(0, this.mono() - at));
          fire();
        },
        Math.max(0, Math.ceil(at - this.mono())),
      ),
    );
  }

  cancel(timer: string): void {
    const t = this.timers.get(timer);
    if (t) clearTimeout(t);
    this.timers.delete(timer);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}

/** The common ports of a daemon's shell: real timers, its pino logger, its alarms. */
export function shellPorts(o: {
  mono: () => number;
  now: () => number;
  log: { [L in LogLevel]: (fields: object, msg: string) => void };
  alarms?: { set(id: string, text: string | null): unknown; list(): string[] };
  late?: (ms: number) => void;
}): Omit<CommonPorts, 'write' | 'publish'> & { timers: ShellTimers } {
  const timers = new ShellTimers(o.mono, o.late);
  return {
    timers,
    clock: () => ({ mono: o.mono(), wall: o.now() }),
    arm: (timer, at, fire) => timers.arm(timer, at, fire),
    cancel: (timer) => timers.cancel(timer),
    log: (level, msg, fields) => o.log[level](fields ?? {}, msg),
    alarm: (id, text) => o.alarms?.set(id, text),
    alarmList: () => o.alarms?.list() ?? [],
  };
}
