// The one way to wait for something: poll until it holds, or give up.
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/**
 * Poll `probe` every `everyMs` until it gives a value (anything but undefined
 * or false): that value. After `timeoutMs`: false for a yes/no probe, else undefined.
 */
export async function waitFor(
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs?: number,
): Promise<boolean>;
export async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  everyMs?: number,
): Promise<T | undefined>;
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  everyMs = 20,
): Promise<T | undefined | false> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (performance.now() >= end) return v;
    await sleep(everyMs);
  }
}
