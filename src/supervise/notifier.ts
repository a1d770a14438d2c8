// Runs the notify hooks (NOTIFY) for supervise: each transition queued in
// order (hook-queue.ts), one call at a time, every hook of a call in the
// configured order, each awaited with NOTIFY_TIMEOUT (the whole process group
// killed on expiry). It runs beside the decisions: a slow or hanging hook
// delays no decision, no resource action and no heartbeat. PHA_SEQ comes with
// each transition (history.ts numbers them, across restarts).
import type { NotifyHook } from '../config/index.js';
import type { ResourceRunner, RunResult } from '../resources/index.js';
import { type HookCall, HookQueue, hookInvocation } from './hook-queue.js';
import type { Transition } from './transitions.js';

export interface NotifierOptions {
  hooks: readonly NotifyHook[];
  timeoutMs: number;
  runner: ResourceRunner;
  node: string;
  peer: string;
  /** The resources and their state now, for PHA_RESOURCES ("ipaddr=UP svc=DOWN"). */
  resources: () => string;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };
  /** A hook that failed (null: the last call went well). */
  alarm: (text: string | null) => void;
  /** The monotonic clock the transitions' `mono` is on. */
  mono: () => number;
  /** Every hook of a transition's call is done: when the first and the last finished, after the transition. */
  called?: (seq: number, hooks: { firstMs: number; doneMs: number; failed: number }) => void;
  /** Each hook run's outcome (the metrics). */
  outcome?: (hook: string, outcome: 'ok' | 'failed' | 'timeout') => void;
}

export interface NotifyStats {
  calls: number;
  failed: number;
  timedOut: number;
  merged: number;
}

export class Notifier {
  private readonly queue = new HookQueue(100);
  private running: Promise<void> | null = null;
  readonly stats: NotifyStats = { calls: 0, failed: 0, timedOut: 0, merged: 0 };

  constructor(private readonly o: NotifierOptions) {}

  /** Transition number `seq` (PHA_SEQ) happened: queued for the hooks. */
  push(seq: number, t: Transition): void {
    if (this.o.hooks.length === 0) return;
    const before = this.queue.mergedTotal;
    this.queue.push(seq, t);
    if (this.queue.mergedTotal > before) {
      this.stats.merged++;
      this.o.log.warn(
        { waiting: this.queue.length },
        'notify hooks too slow: the oldest waiting transition is merged into the next call',
      );
    }
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
  }

  /** Wait for the queue (a stop): at most `timeoutMs`, then the running hook is killed with the runner's settle. */
  async flush(timeoutMs: number): Promise<boolean> {
    if (!this.running) return true;
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      this.running.then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return done;
  }

  private async drain(): Promise<void> {
    for (let call = this.queue.take(); call; call = this.queue.take()) {
      try {
        await this.call(call);
      } finally {
        this.queue.done();
      }
    }
  }

  private async call(call: HookCall): Promise<void> {
    const { args, env } = hookInvocation(call, { node: this.o.node, peer: this.o.peer, resources: this.o.resources() });
    const from = call.transition.mono ?? this.o.mono();
    let firstMs: number | undefined;
    let failed = 0;
    for (const hook of this.o.hooks) {
      const r = await this.o.runner.notify(hook, args, env, this.o.timeoutMs);
      this.stats.calls++;
      firstMs ??= this.o.mono() - from;
      if (!this.report(hook.name, call, args, r)) failed++;
    }
    const doneMs = Math.round(this.o.mono() - from);
    this.o.called?.(call.seq, { firstMs: Math.round(firstMs ?? doneMs), doneMs, failed });
  }

  /** Logs how a hook went; false: it failed (an alarm). */
  private report(name: string, call: HookCall, args: string[], r: RunResult): boolean {
    const fields = { hook: name, seq: call.seq, args, ms: r.durationMs, code: r.code, output: r.output || undefined };
    this.o.outcome?.(name, r.ok ? 'ok' : r.timedOut ? 'timeout' : 'failed');
    if (r.ok) {
      this.o.log.info(fields, `notify ${name} ${args.slice(0, 2).join(' ')}: ok`);
      this.o.alarm(null);
      return true;
    }
    this.stats.failed++;
    if (r.timedOut) this.stats.timedOut++;
    const why = r.error ?? `exit ${r.code}`;
    this.o.log.error({ ...fields, err: why }, `notify ${name} ${args.slice(0, 2).join(' ')} failed: ${why}`);
    this.o.alarm(`notify hook ${name} failed (${why}) for transition #${call.seq} ${args[0]}`);
    return false;
  }
}
