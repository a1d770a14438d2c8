// Every interval the daemons derive from the config, worked out once. The
// daemons, their cores, the CLI and the simulator all read these numbers from
// timingOf(); none of them clamps a DEADTIME of its own. docs/daemons.md has a
// line per interval (why it is what it is).

/** How often each daemon stamps its liveness key (SENDER_AT, RECEIVER_AT, SUPERVISE_AT) while a reader needs it. */
export const STAMP_MS = 2000;
/**
 * The stamp's period while the daemons that judge this one's liveness hear it
 * on the bus (then they never look at the stamp): the file is not rewritten
 * every 2 s for nobody, and the other daemons are not woken by it.
 */
export const STAMP_RESTING_MS = 10_000;

/** The stamp period: resting while the bus carries our liveness to its readers. */
export function stampPeriod(resting: boolean, busy = STAMP_MS): number {
  return resting ? Math.max(STAMP_RESTING_MS, busy) : busy;
}

/**
 * The shortest DEADTIME measured safe: 10 minutes of full CPU load and memory
 * pressure on a 2-core VM (`npm run bench -- --soak 10`) without a spurious
 * failover. Shorter ones were outlasted by a daemon's stall there (a loop
 * delay of 323 ms at 50/200 even at NICE=-10): the config check warns below
 * it (docs/config.md, Profiles). A faster heartbeat within the same DEADTIME
 * costs CPU, not safety: only DEADTIME is compared.
 */
export const SAFE_FLOOR = {
  DEADTIME: 1000,
  why: 'on a fully loaded 2-core host under memory pressure a daemon stalled for 323 ms (NICE=-10) to 363 ms, longer than such a DEADTIME: the peer took over for nothing',
} as const;

/**
 * The keys a Timing is derived from, in Config's units (a Config has them
 * all; the simulator passes a profile). Spelled out here, not picked from
 * Config: the config module reads SAFE_FLOOR from this one.
 */
export type TimingInput = Readonly<
  Record<
    | 'HEARTBEAT_INT'
    | 'DEADTIME'
    | 'SUPERVISE_INT'
    | 'CHECK_TIMEOUT'
    | 'RES_TIMEOUT'
    | 'RES_RESTARTS'
    | 'GW_FAILS'
    | 'FAIL_HOLDDOWN'
    | 'OFF_PAUSE',
    number
  >
> & { resources: { readonly length: number } };

export interface Timing {
  heartbeatInt: number;
  deadtime: number;
  superviseInt: number;
  gwFails: number;
  resRestarts: number;
  /** One resource script call (start, stop, garp). */
  resTimeoutMs: number;
  /** Rule 7: how long a peer may say PROGRESS before it counts as silent. */
  progressBoundMs: number;
  /** Rule 8: a FAILED node starts nothing this long. */
  failHolddownMs: number;
  /** Rule 10: the heartbeat pause after `off`. */
  offPauseMs: number;
  /** How often a daemon re-publishes its state on the local bus (its liveness there). */
  busIntervalMs: number;
  /** A bus state older than this is not believed: three missed publishes and a margin. */
  busFreshMs: number;
  /** The watchdogs' pid poll (the lifelines report a death at once; this is the safety net). */
  watchdogPollMs: number;
  /** Supervise's ticker: notices its own stall and stamps liveness. */
  superviseTickerMs: number;
  /** Supervise stamps SUPERVISE_AT at least this often. */
  superviseStampMs: number;
  /** Supervise silent on the bus and in the file this long (with no bus) is not alive. */
  superviseStaleMs: number;
  /** Supervise gone this long: the sender stops the resources itself (fences). */
  superviseLostMs: number;
  /** How long a clean stop waits for a start or stop script that is running. */
  settleMs: number;
  /** One resource probe (split brain): its own wait for answers (1 s in res/ipaddr) and the script's start, at least. */
  probeTimeoutMs: number;
}

/** A probe waits a second for answers by contract (docs/resource-scripts.md): its timeout leaves room for that. */
export const PROBE_MIN_TIMEOUT_MS = 3000;

export function busIntervalOf(deadtime: number): number {
  return Math.max(20, Math.min(1000, Math.floor(deadtime / 2)));
}

/**
 * A tick (the receiver's, supervise's) rides on a wake its daemon has anyway (a
 * heartbeat, a gateway ping) at or after it is due; its own timer is only the
 * fallback, half an interval later. So ticks are 1 to 1.5 intervals apart: a
 * bus repeat stays well inside the 3 intervals a reader trusts, a stall of
 * DEADTIME is still seen.
 */
export function tickFallbackMs(interval: number): number {
  return Math.floor(interval / 2);
}

export function busFreshOf(deadtime: number): number {
  return 3 * busIntervalOf(deadtime) + 100;
}

/** Heard again on the bus after this long silent: news to listeners (fixed, whatever DEADTIME). */
export const BUS_HEARD_AGAIN_MS = busFreshOf(1000);

export function progressBound(
  resourceCount: number,
  resTimeoutMs: number,
  resRestarts: number,
  deadtime: number,
): number {
  return Math.max(1, resourceCount) * resTimeoutMs * (resRestarts + 1) + deadtime;
}

export function timingOf(c: TimingInput): Timing {
  const d = c.DEADTIME;
  const resTimeoutMs = c.RES_TIMEOUT * 1000;
  const watchdogPollMs = Math.max(50, Math.min(500, Math.floor(d / 2)));
  return {
    heartbeatInt: c.HEARTBEAT_INT,
    deadtime: d,
    superviseInt: c.SUPERVISE_INT,
    gwFails: c.GW_FAILS,
    resRestarts: c.RES_RESTARTS,
    resTimeoutMs,
    progressBoundMs: progressBound(c.resources.length, resTimeoutMs, c.RES_RESTARTS, d),
    failHolddownMs: c.FAIL_HOLDDOWN * 1000,
    offPauseMs: c.OFF_PAUSE * 1000,
    busIntervalMs: busIntervalOf(d),
    busFreshMs: busFreshOf(d),
    watchdogPollMs,
    superviseTickerMs: Math.min(500, Math.floor(d / 2)),
    superviseStampMs: Math.min(STAMP_MS, c.SUPERVISE_INT),
    superviseStaleMs: 3 * c.SUPERVISE_INT + d,
    superviseLostMs: Math.max(5000, 2 * c.SUPERVISE_INT + c.CHECK_TIMEOUT + d),
    settleMs: Math.min(3000, resTimeoutMs),
    probeTimeoutMs: Math.max(PROBE_MIN_TIMEOUT_MS, c.CHECK_TIMEOUT),
  };
}
