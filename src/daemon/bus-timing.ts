// The local bus's timing, pure (the cores use it and must not import I/O).
/** How often a daemon re-publishes its state (its liveness on the bus). */
export function busIntervalMs(deadtime: number): number {
  return Math.max(20, Math.min(1000, Math.floor(deadtime / 2)));
}
/** A bus state older than this is not believed (its daemon is dead or hung). */
export function busFreshMs(deadtime: number): number {
  return 3 * busIntervalMs(deadtime) + 100;
}
