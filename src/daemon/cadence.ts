// A periodic duty carried by a timer the daemon arms anyway (its tick), so
// that the duty costs no wake-up of its own: due every `everyMs`, looked at
// on each tick; `slackMs` (half a tick) keeps it from slipping a whole tick.

export class Cadence {
  private next = -Infinity;

  constructor(
    private readonly everyMs: number,
    private readonly slackMs: number,
  ) {}

  /** Is the duty due at `mono`? If so it counts as done now. */
  due(mono: number): boolean {
    if (mono + this.slackMs < this.next) return false;
    this.next = mono + this.everyMs;
    return true;
  }

  /** Done now outside the tick (a change said at once): the next is a full period away. */
  done(mono: number): void {
    this.next = mono + this.everyMs;
  }
}
