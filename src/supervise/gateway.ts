// The gateway check on a cadence of its own (GW_INT), independent of the
// supervise round and of the resource checks (a hung check never delays it).
// Gateway loss = GW_FAILS pings in a row without an answer: one lost ping is
// not a loss (10 % random loss gives 6 in a row about once in a million).
import type { Pinger } from './checks.js';

export interface GatewayState {
  failStreak: number; // pings in a row without an answer (0: answering)
  lastOkAt: number | null; // monotonic ms of the last answer
  error: string | null; // the last failure's text
}

export class GatewayMonitor {
  private streak = 0;
  private lastOkAt: number | null = null;
  private error: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private answered = 0; // highest seq that got an answer or a verdict

  constructor(
    private readonly gw: string,
    private readonly pinger: Pick<Pinger, 'ping'>,
    private readonly now: () => number,
    private readonly onChange: (s: GatewayState, prevStreak: number) => void,
  ) {}

  /** Ping every `intervalMs`; each ping has its own timeout (the pinger's), so pings overlap. */
  start(intervalMs: number): void {
    const tick = () => void this.pingOnce();
    tick();
    this.timer = setInterval(tick, intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  state(): GatewayState {
    return { failStreak: this.streak, lastOkAt: this.lastOkAt, error: this.error };
  }

  async pingOnce(): Promise<void> {
    const my = ++this.seq;
    const r = await this.pinger.ping(this.gw).catch((e: Error) => ({ ok: false, error: e.message }));
    this.result(my, r.ok, r.ok ? null : (r.error ?? 'no answer'));
  }

  /** A verdict for ping number `seq` (answers may come back out of order). */
  result(seq: number, ok: boolean, error: string | null): void {
    const prev = this.streak;
    if (ok) {
      // An answer clears the streak, unless a newer ping already failed.
      if (seq > this.answered || this.streak === 0) {
        this.streak = 0;
        this.error = null;
      }
      this.lastOkAt = this.now();
    } else if (seq > this.answered) {
      this.streak++;
      this.error = error;
    }
    this.answered = Math.max(this.answered, seq);
    if (this.streak !== prev) this.onChange(this.state(), prev);
  }
}
