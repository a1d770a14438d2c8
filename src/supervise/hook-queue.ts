// The notify hooks' queue: one call at a time, in the order of the
// transitions, bounded. Pure, so the shell (which runs the hooks) and the
// simulator (which models them in virtual time) share its rules: nothing is
// lost while a hook is slow; past `max` waiting, the oldest are merged into
// one call that says how many transitions it stands for.
import type { Timeline } from './timeline.js';
import type { Transition } from './transitions.js';

export interface HookCall {
  seq: number; // PHA_SEQ: grows by one per transition of this node, across restarts
  transition: Transition;
  missed: number; // transitions merged into this call (not told one by one)
}

export class HookQueue {
  private readonly waiting: HookCall[] = [];
  private running: HookCall | null = null;
  /** Transitions merged away since the start (each also counted in a call's `missed`). */
  mergedTotal = 0;

  constructor(private readonly max = 100) {}

  push(seq: number, transition: Transition): void {
    this.waiting.push({ seq, transition, missed: 0 });
    if (this.waiting.length > this.max) {
      // The oldest waiting call is folded into the next one: it is told as missed.
      const [a, b] = this.waiting.splice(0, 2) as [HookCall, HookCall];
      this.waiting.unshift({ ...b, missed: a.missed + 1 + b.missed });
      this.mergedTotal++;
    }
  }

  /** The next call to run, when none runs. */
  take(): HookCall | undefined {
    if (this.running) return undefined;
    this.running = this.waiting.shift() ?? null;
    return this.running ?? undefined;
  }

  /** The running call is over (however it ended). */
  done(): void {
    this.running = null;
  }

  get idle(): boolean {
    return !this.running && this.waiting.length === 0;
  }

  get length(): number {
    return this.waiting.length + (this.running ? 1 : 0);
  }
}

/** The hooks' arguments and environment for one call. */
export function hookInvocation(
  call: HookCall,
  o: { node: string; peer: string; resources: string },
): { args: string[]; env: Record<string, string> } {
  const t = call.transition;
  const reason = call.missed > 0 ? `${t.reason} (missed ${call.missed} transitions before this one)` : t.reason;
  return {
    args: [t.now, t.old, reason],
    env: {
      PHA_NODE: o.node,
      PHA_PEER: o.peer,
      PHA_EVENT: t.event,
      PHA_STATE: t.now,
      PHA_OLD_STATE: t.old,
      PHA_REASON: reason,
      PHA_SEQ: String(call.seq),
      PHA_TIME: new Date(t.wall).toISOString(),
      PHA_MISSED: String(call.missed),
      PHA_RESOURCES: o.resources,
      ...timelineEnv(t.timeline),
    },
  };
}

/** The timeline as the hooks get it (a state change; the hooks' own times are not known yet). */
function timelineEnv(t: Timeline | undefined): Record<string, string> {
  if (!t) return {};
  const scripts = t.scripts.reduce((s, x) => s + x.ms, 0);
  return {
    PHA_CAUSE: t.cause,
    PHA_BEGAN: new Date(t.beganAt).toISOString(),
    ...(t.detectMs !== null ? { PHA_DETECT_MS: String(t.detectMs) } : {}),
    PHA_DECIDE_MS: String(t.decideMs),
    PHA_SCRIPTS_MS: String(scripts),
    PHA_TOTAL_MS: String(t.totalMs),
  };
}
