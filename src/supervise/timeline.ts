// A transition's timeline: what led to it and how long each step took, from
// the moment its cause began (the peer last heard, its release heard, the
// operator's `off`) to the state told, then the hooks. Durations inside
// supervise (the decision, the scripts, the hooks) come from its monotonic
// clock; the silence is the receiver's own monotonic measure; the two are
// joined by wall time, once (the receiver's verdict to supervise's decision).
// Pure: the core builds it, the shell keeps it (history.ts), pha-cli shows it.
import type { Clock, OpResult } from '../daemon/effects.js';
import type { Status } from '../status-store/index.js';
import type { Decision } from './decide.js';

/** What began the transition. */
export type Cause = 'silent' | 'released' | 'off' | 'local';

export interface ScriptTime {
  name: string;
  op: 'start' | 'stop';
  atMs: number; // from the decision
  ms: number;
  code: number | null;
  ok: boolean;
}

export interface Timeline {
  cause: Cause;
  label: string; // the transition's reason in a few words: "no heartbeat from the peer", "off", "startup"
  beganAt: number; // wall: the peer last heard, its release heard, off asked, or the decision
  detectMs: number | null; // silent: how long the receiver heard nothing before it said so
  decideMs: number; // from the verdict (or the request) to the decision
  scripts: ScriptTime[];
  totalMs: number; // from beganAt to the state told
  hooks?: { doneMs: number; firstMs: number; failed: number }; // after the state told (the shell adds it)
}

/** The decision a transition follows, and the scripts it ran. */
interface Basis {
  cause: Cause;
  beganAt: number;
  detectMs: number | null;
  decideMs: number;
  decidedMono: number;
  scripts: ScriptTime[];
}

/** Builds each state transition's timeline from the decision before it (one pass decides, then acts). */
export class TimelineClock {
  private basis: Basis | null = null;

  /**
   * A decision was made on `view`. A verdict older than `recentMs` did not
   * cause it (the peer silent for minutes, a gateway back now): the
   * transition then counts from the decision.
   */
  decided(d: Decision, view: Status, offRequest: number | null, clock: Clock, recentMs: number): void {
    const since = view.RECEIVER_IN_SINCE;
    const silentMs = view.RECEIVER_SILENT_MS;
    const recent = typeof since === 'number' && clock.wall - since <= recentMs;
    let b: Omit<Basis, 'decidedMono' | 'scripts'> = {
      cause: 'local',
      beganAt: clock.wall,
      detectMs: null,
      decideMs: 0,
    };
    if (d.consumeOff && typeof offRequest === 'number' && offRequest > 0)
      b = { cause: 'off', beganAt: offRequest, detectMs: null, decideMs: Math.max(0, clock.wall - offRequest) };
    else if (recent && view.RECEIVER_IN === null && typeof silentMs === 'number')
      b = { cause: 'silent', beganAt: since - silentMs, detectMs: silentMs, decideMs: Math.max(0, clock.wall - since) };
    else if (recent && view.RECEIVER_IN === 'OFFLINE' && d.op === 'start')
      b = { cause: 'released', beganAt: since, detectMs: null, decideMs: Math.max(0, clock.wall - since) };
    this.basis = { ...b, decidedMono: clock.mono, scripts: [] };
  }

  /** The scripts of the decision's start or stop ended (run one after another, in this order). */
  acted(op: 'start' | 'stop', results: readonly OpResult[], clock: Clock): void {
    const b = this.basis;
    if (!b) return;
    const total = results.reduce((s, r) => s + (r.ms ?? 0), 0);
    let at = Math.max(0, clock.mono - b.decidedMono - total);
    for (const r of results) {
      const ms = r.ms ?? 0;
      b.scripts.push({ name: r.name, op, atMs: Math.round(at), ms: Math.round(ms), code: r.code ?? null, ok: r.ok });
      at += ms;
    }
  }

  /** The state is told now, for `reason`: the timeline of the decision before it. */
  told(reason: string, clock: Clock): Timeline | undefined {
    const b = this.basis;
    if (!b) return undefined;
    const since = clock.mono - b.decidedMono;
    const { decidedMono: _, ...rest } = b;
    const lead = b.cause === 'silent' ? (b.detectMs ?? 0) + b.decideMs : b.decideMs;
    return { ...rest, label: shortReason(reason), decideMs: Math.round(b.decideMs), totalMs: Math.round(lead + since) };
  }
}

/** "peer released the resources (ONLINE -> OFFLINE): taking over at once" → "peer released the resources". */
function shortReason(reason: string): string {
  return (
    reason
      .split(':')[0]!
      .replace(/\s*\(.*\)$/, '')
      .trim() || reason
  );
}

/** Local wall time: "12:03:41", or with `long` "2026-12-06 12:03:41.123". */
function localTime(wall: number, long: boolean): string {
  const d = new Date(wall);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const hms = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return long ? `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${hms}.${p(d.getMilliseconds(), 3)}` : hms;
}

/**
 * One transition as one line: "12:03:41 Standby -> Active (peer silent):
 * silent after 1002 ms, decided +4 ms, ipaddr start 38 ms, total 1044 ms";
 * `long` (the history): the date, milliseconds and the transition's number.
 */
export function timelineLine(
  e: { seq?: number; at: number; now: string; old: string; reason: string; timeline?: Timeline },
  long = false,
): string {
  const t = e.timeline;
  const head = `${localTime(e.at, long)}${long && e.seq !== undefined ? ` #${e.seq}` : ''} ${e.old} -> ${e.now}`;
  if (!t) return `${head} (${e.reason})`;
  const parts: string[] = [];
  if (t.cause === 'silent') parts.push(`silent after ${t.detectMs} ms`);
  if (t.cause === 'released') parts.push('release heard');
  if (t.cause === 'off') parts.push('off asked');
  parts.push(`decided +${t.decideMs} ms`);
  for (const s of t.scripts)
    parts.push(`${s.name} ${s.op} ${s.ms} ms${s.ok ? '' : ` (failed, exit ${s.code ?? '-'})`}`);
  parts.push(`total ${t.totalMs} ms`);
  if (t.hooks) parts.push(`hooks done +${t.hooks.doneMs} ms${t.hooks.failed ? ` (${t.hooks.failed} failed)` : ''}`);
  return `${head} (${t.label}): ${parts.join(', ')}`;
}
