// Status-file writes off the hot path: patches are merged and written in the
// background, one at a time. A failed write keeps its patch and is tried
// again (nothing is lost), and the failure is an alarm, never a crash.
import { errorMessage } from '../errors.js';
import type { Patch, StatusStore } from './index.js';

export class StatusWriter {
  private pending: Record<string, unknown> | null = null;
  private inflight: Record<string, unknown> | null = null;
  private running: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Current failure text (null while writes succeed). */
  error: string | null = null;
  /** Told how long each successful write took (ms; for the metrics). */
  onWritten: ((ms: number) => void) | undefined;

  constructor(
    private readonly store: StatusStore,
    private readonly onError: (msg: string | null) => void = () => {},
    private readonly retryMs = 500,
  ) {}

  /** Queue keys to write (undefined deletes a key); later patches win per key. */
  write(patch: Patch): void {
    this.pending = { ...(this.pending ?? {}), ...patch };
    this.kick();
  }

  private kick(): void {
    if (this.running || this.closed || !this.pending) return;
    const patch = this.pending;
    this.pending = null;
    this.inflight = patch;
    const began = performance.now();
    this.running = this.store
      .update(patch)
      .then(
        () => {
          this.onWritten?.(performance.now() - began);
          if (this.error !== null) {
            this.error = null;
            this.onError(null);
          }
        },
        (e) => {
          // Keep the patch under anything newer and try again.
          this.pending = { ...patch, ...(this.pending ?? {}) };
          const msg = errorMessage(e);
          if (this.error !== msg) this.onError(msg);
          this.error = msg;
          clearTimeout(this.retryTimer);
          this.retryTimer = setTimeout(() => this.kick(), this.retryMs);
          this.retryTimer.unref();
        },
      )
      .finally(() => {
        this.running = null;
        this.inflight = null;
        if (this.error === null) this.kick();
      });
  }

  /**
   * `file` with what we wrote but is not in the file yet laid over it: our
   * own next decision must not act on the file's older values.
   */
  over<T extends object>(file: T): T {
    if (!this.inflight && !this.pending) return file;
    const out = { ...file } as Record<string, unknown>;
    for (const [k, v] of Object.entries({ ...(this.inflight ?? {}), ...(this.pending ?? {}) })) {
      if (v === undefined) delete out[k];
      else out[k] = v;
    }
    return out as T;
  }

  /** Wait for what is queued (best effort; used on a clean stop). */
  async flush(timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.running || this.pending) && Date.now() < deadline) {
      if (!this.running) this.kick();
      await (this.running ?? new Promise((r) => setTimeout(r, 20)));
      if (this.error) break;
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
  }
}
