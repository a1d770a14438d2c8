// What a daemon tells of itself for supervise's /metrics, over the local bus
// beside its state: its counters (heartbeats sent, heartbeats taken), how late
// its own timers fired (the event loop's lag, measured on timers it arms
// anyway: no extra wake-up), its resident memory, its status-file writes.
// A few numbers per bus message; nothing here polls.

/** The lag is the worst lateness within this window (so a scrape every 15 s sees a stall of the last 15-30 s). */
const LAG_WINDOW_MS = 15_000;
/** Resident memory is read at most this often (a read of /proc/self/statm). */
const RSS_EVERY_MS = 5_000;

export type VitalsSnapshot = Record<string, number>;

export class Vitals {
  private readonly counts: Record<string, number> = {};
  private lag = [0, 0]; // worst lateness: this window, the one before
  private windowAt = 0;
  private rss = 0;
  private rssAt = -Infinity;
  private readonly providers: (() => Record<string, number>)[] = [];

  constructor(private readonly mono: () => number) {}

  /** Numbers another part keeps (the receiver's paths), read at each snapshot. */
  provide(fn: () => Record<string, number>): void {
    this.providers.push(fn);
  }

  count(name: string, n = 1): void {
    this.counts[name] = (this.counts[name] ?? 0) + n;
  }

  /** A value that is not a count (a time, say). */
  set(name: string, value: number): void {
    this.counts[name] = value;
  }

  /** A timer fired `ms` after it was due. */
  late(ms: number): void {
    this.roll();
    if (ms > this.lag[0]!) this.lag[0] = ms;
  }

  /** A status-file write took `ms`. */
  wrote(ms: number): void {
    this.count('writes');
    this.count('writeMs', ms);
  }

  snapshot(): VitalsSnapshot {
    this.roll();
    const t = this.mono();
    if (t - this.rssAt >= RSS_EVERY_MS) {
      this.rssAt = t;
      this.rss = process.memoryUsage.rss();
    }
    const extra = this.providers.map((f) => f());
    return {
      ...this.counts,
      ...Object.assign({}, ...extra),
      lagMs: Math.max(this.lag[0]!, this.lag[1]!),
      rssBytes: this.rss,
    };
  }

  private roll(): void {
    const t = this.mono();
    if (t - this.windowAt < LAG_WINDOW_MS) return;
    this.lag = t - this.windowAt < 2 * LAG_WINDOW_MS ? [0, this.lag[0]!] : [0, 0];
    this.windowAt = t;
  }
}
