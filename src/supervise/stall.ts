// Supervise's own stall: its tick notices when the loop ran late by more than
// DEADTIME (a freeze, a swap storm), and so may any event that runs before
// the tick; then nothing is decided on old news. The tick also says when the
// liveness stamp is due. Pure: time comes in.
import { tickFallbackMs } from '../config/timing.js';
import type { Clock } from '../daemon/effects.js';

export class StallWatch {
  /** Wall: when a stall was last noticed (decide() compares it with its now). */
  stalledAt: number | null = null;
  private due = 0; // mono: the tick's time
  private lastStampTry = -Infinity; // mono

  constructor(
    private readonly tickerMs: number,
    private readonly deadtime: number,
    /** Supervise stamps SUPERVISE_AT at least this often (it rests while the sender hears us on the bus). */
    public stampMs: number,
  ) {}

  /** The first tick's timer (the fallback: a gateway ping carries a tick once it is due). */
  start(mono: number): number {
    this.due = mono + this.tickerMs;
    return this.due + tickFallbackMs(this.tickerMs);
  }

  /** Is the tick due (a wake we have anyway may carry it)? */
  isDue(mono: number): boolean {
    return mono >= this.due;
  }

  /** An event other than the tick: how late the loop is when that is a stall (noticed once), else null. */
  event(clock: Clock): number | null {
    const late = clock.mono - this.due;
    return this.due > 0 && late > this.deadtime ? this.noticed(late, clock) : null;
  }

  /** The tick: the next one's time, a stall's lateness (or null), and whether the liveness stamp is due. */
  tick(clock: Clock, lastWriteAt: number): { at: number; stall: number | null; stamp: boolean } {
    const late = Math.max(0, clock.mono - this.due);
    this.due = clock.mono + this.tickerMs;
    const stall = late > this.deadtime ? this.noticed(late, clock) : null;
    const stamp = clock.mono - lastWriteAt >= this.stampMs && clock.mono - this.lastStampTry >= this.stampMs;
    if (stamp) this.lastStampTry = clock.mono;
    return { at: this.due + tickFallbackMs(this.tickerMs), stall, stamp };
  }

  private noticed(late: number, clock: Clock): number {
    this.stalledAt = clock.wall;
    if (this.due < clock.mono) this.due = clock.mono; // noticed once, whichever event comes first
    return late;
  }
}
