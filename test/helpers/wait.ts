// Waiting in a test: like waitFor, but a condition that never holds fails the test, saying what it waited for.
import assert from 'node:assert/strict';
import { waitFor } from '../../src/wait.js';

export { sleep, waitFor } from '../../src/wait.js';

/** Wait until `pred` holds; the ms it took. Fails with `what` after `timeoutMs`. */
export async function expectWithin(
  what: string | (() => string),
  pred: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 20,
): Promise<number> {
  const t0 = performance.now();
  // waitFor gives false (not undefined) for a yes/no probe that never held.
  const v: boolean | undefined = await waitFor(pred, timeoutMs, everyMs);
  if (v === undefined || v === false)
    assert.fail(`timed out after ${timeoutMs} ms waiting for: ${typeof what === 'string' ? what : what()}`);
  return Math.round(performance.now() - t0);
}
