/** Small helpers of the bench: sleeping, waiting for a condition, printing. */
export { sleep, waitFor } from '../../src/wait.js';

/** ms with one decimal, or "—". */
export function fmtMs(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

export function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
