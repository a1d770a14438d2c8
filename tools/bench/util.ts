/** Small helpers of the bench: sleeping, waiting for a condition, printing. */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `pred` every `everyMs` until it is true (→ true) or `timeoutMs` passed (→ false). */
export async function waitFor(pred: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 5): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    if (await pred()) return true;
    if (performance.now() > end) return false;
    await sleep(everyMs);
  }
}

/** ms with one decimal, or "—". */
export function fmtMs(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

export function say(line = ''): void {
  process.stdout.write(line + '\n');
}

export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
