// What the daemons' sans-I/O cores share: the clock an event carries, the
// effects every core may ask for (timers, log lines, alarms), and the shells'
// helper that turns timer effects into real timers. A core never reads a
// clock: each event brings `mono` (monotonic ms, for every age and deadline
// inside the process) and `wall` (epoch ms, only for values that go into
// status.dat, the logs, or are compared with what another process wrote there).
export interface Clock {
  mono: number;
  wall: number;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type CommonEffect =
  | { kind: 'arm'; timer: string; at: number } // fire `timer` at monotonic time `at` (re-arming replaces)
  | { kind: 'cancel'; timer: string }
  | { kind: 'log'; level: LogLevel; msg: string; fields?: Record<string, unknown> }
  | { kind: 'alarm'; id: string; text: string | null };

/** Real timers for a shell: one per name, armed at a monotonic time. */
export class ShellTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;
  constructor(
    private readonly mono: () => number,
    private readonly fire: (timer: string) => void,
  ) {}

  arm(timer: string, at: number): void {
    if (this.stopped) return;
    this.cancel(timer);
    this.timers.set(
      timer,
      setTimeout(() => {
        this.timers.delete(timer);
        this.fire(timer);
      }, Math.max(0, Math.ceil(at - this.mono()))),
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

/** Carry out an effect every core may ask for; false when `e` is one of the daemon's own. */
export function carryCommon(
  e: { kind: string },
  to: { timers: ShellTimers; log: { [L in LogLevel]: (fields: object, msg: string) => void }; alarms?: { set(id: string, text: string | null): unknown } },
): boolean {
  const c = e as CommonEffect;
  switch (c.kind) {
    case 'arm':
      to.timers.arm(c.timer, c.at);
      return true;
    case 'cancel':
      to.timers.cancel(c.timer);
      return true;
    case 'log':
      to.log[c.level](c.fields ?? {}, c.msg);
      return true;
    case 'alarm':
      to.alarms?.set(c.id, c.text);
      return true;
    default:
      return false;
  }
}
