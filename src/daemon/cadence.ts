// A periodic duty carried by a timer the daemon arms anyway (its tick), so
// that the duty costs no wake-up of its own: done at the first tick at or
// after it is due. Ticks are at most 1.5 duty periods apart (the bus
// interval is DEADTIME/2; the heartbeat is shorter; the receiver's and
// supervise's ticks ride on other wakes with a fallback half an interval
// late: tickFallbackMs), so the bus repeat stays well inside the 3 intervals
// a reader trusts.

export class Cadence {
  private next = -Infinity;

  constructor(private readonly everyMs: number) {}

  /** Is the duty due at `mono`? If so it counts as done now. */
  due(mono: number): boolean {
    if (mono < this.next) return false;
    this.next = mono + this.everyMs;
    return true;
  }

  /** Done now outside the tick (a change said at once): the next is a full period away. */
  done(mono: number): void {
    this.next = mono + this.everyMs;
  }
}
