// What a daemon tells of itself for supervise's /metrics, over the local bus
// beside its state: its counters (heartbeats sent, heartbeats taken), how late
// its own timers fired (the event loop's lag, measured on timers it arms
// anyway: no extra wake-up), its resident memory, its status-file writes.
// A few numbers per bus message; nothing here polls.

import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

/** The lag is the worst lateness within this window (so a scrape every 15 s sees a stall of the last 15-30 s). */
const LAG_WINDOW_MS = 15_000;
/** Resident memory is read at most this often (a read of /proc/self/statm). */
const RSS_EVERY_MS = 5_000;

export type VitalsSnapshot = Record<string, number>;

/**
 * Set in a daemon's environment (the bench's soak does), it measures its event
 * loop's delay (perf_hooks.monitorEventLoopDelay, 10 ms resolution) and its GC
 * pauses. Off by default: the histogram's own timer would wake an idle daemon
 * 100 times a second.
 */
export const LOOP_DELAY_ENV = 'PHA_LOOP_DELAY';

/** The loop-delay histogram and the longest GC pause, when LOOP_DELAY_ENV is set. */
function loopProbe(): (() => Record<string, number>) | null {
  if (!process.env[LOOP_DELAY_ENV]) return null;
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  let gcMax = 0;
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) gcMax = Math.max(gcMax, e.duration);
  }).observe({ entryTypes: ['gc'] });
  return () => ({
    loopDelayP99Ms: h.percentile(99) / 1e6,
    loopDelayMaxMs: h.max / 1e6,
    gcMaxMs: gcMax,
  });
}

export class Vitals {
  private readonly counts: Record<string, number> = {};
  private lag = [0, 0]; // worst lateness: this window, the one before
  private windowAt = 0;
  private rss = 0;
  private rssAt = -Infinity;
  private readonly providers: (() => Record<string, number>)[] = [];

  private readonly loop = loopProbe();

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
    if (this.loop) extra.push(this.loop());
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
