// Why this process woke, by cause (each timer by name, bus messages in and
// out, pid checks, status-file reads, writes and watch events, heartbeats,
// scripts, gateway pings): what a daemon costs at rest, told to a query
// (`npm run bench` asks each daemon). A plain counter per cause: no clock.
const woken: Record<string, number> = {};

/** Count one wake-up (or `n` units of work) for `cause`. */
export function woke(cause: string, n = 1): void {
  woken[cause] = (woken[cause] ?? 0) + n;
}

/** The counts so far, each as `wake.<cause>`. */
export function wakeCounts(): Record<string, number> {
  return Object.fromEntries(Object.entries(woken).map(([k, v]) => [`wake.${k}`, v]));
}
