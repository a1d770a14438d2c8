// The etcd witness as supervise's core sees it (WITNESS; rule 13). One lock
// per pair: the key <prefix>holder, whose value is the node's name, bound to
// that node's lease. The shell (witness-etcd.ts) or the simulator does the
// talking; this watch only says what to ask next and what the answers mean.
// Pure: the clock comes in with each call.
//
// Our own lease is surely alive until the moment our last successful
// keepalive (or grant) was *sent* plus the TTL: etcd counts its TTL from when
// it got the request, later. We count the lock lost a quarter TTL before
// that, so a holder that cannot reach etcd stops before the peer can have it.
import type { Clock } from '../daemon/effects.js';
import type { Decision, WitnessView } from './decide.js';
import type { SuperviseEffect, WitnessOp, WitnessResult } from './events.js';

/** What the rules read (Observation.witness). */

/**
 * How long one request to the witness may take: a quarter TTL, between 100 ms
 * and 1 s. A slower answer is an unreachable witness, not a held decision.
 */
export function witnessTimeoutMs(ttlS: number): number {
  return Math.max(100, Math.min((ttlS * 1000) / 4, 1000));
}

/** The status key WITNESS: held, free, other:<node>, unreachable. */
export type WitnessState = string;

export class WitnessWatch {
  private validUntil = -Infinity; // mono: our lock is surely ours until then
  private holder: string | null = null;
  private reach = true; // until told otherwise: an unreachable witness shows at its first answer
  private error: string | null = null;
  private asked = false; // a request is out (one at a time)
  private answered = false; // etcd (or its absence) has answered once
  private want = false; // the rules want the lock (we hold, or would take over)
  private release = false; // nothing is held: give the lock back
  private lastState: WitnessState | null = null; // the WITNESS status key as last told

  constructor(
    private readonly me: string,
    private readonly ttlMs: number,
    private readonly everyMs: number, // HEARTBEAT_INT
  ) {}

  /** Counted lost this long before the lease can run out in etcd. */
  get marginMs(): number {
    return this.ttlMs / 4;
  }

  view(clock: Clock): WitnessView {
    const other = this.holder !== null && this.holder !== this.me ? this.holder : null;
    return { held: clock.mono < this.validUntil, other, reach: this.reach, error: this.error };
  }

  state(clock: Clock): WitnessState | null {
    if (!this.answered) return null;
    if (this.view(clock).held) return 'held';
    if (!this.reach) return 'unreachable';
    const { other } = this.view(clock);
    return other === null ? 'free' : `other:${other}`;
  }

  /** What the last decision wants: the lock (holding, or taking over), or to give it back (nothing held). */
  wants(want: boolean, release: boolean, clock: Clock): SuperviseEffect[] {
    const more = want && !this.want;
    this.want = want;
    this.release = !want && release;
    // Wanting it now: ask at once, not at the next tick (a takeover waits for it).
    return more || (this.release && this.mayHold) ? this.ask(clock) : [];
  }

  /** Ours, or may be: the key named us at the last answer. */
  private get mayHold(): boolean {
    return this.holder === this.me || this.validUntil > -Infinity;
  }

  /** The cadence: every HEARTBEAT_INT; true when the lock just ran out (decide again). */
  tick(clock: Clock): { out: SuperviseEffect[]; lapsed: boolean } {
    const out: SuperviseEffect[] = [{ kind: 'arm', timer: 'witness', at: clock.mono + this.everyMs }];
    const lapsed = this.validUntil > -Infinity && clock.mono >= this.validUntil;
    if (lapsed) this.validUntil = -Infinity;
    out.push(...this.ask(clock));
    return { out, lapsed };
  }

  private ask(clock: Clock): SuperviseEffect[] {
    if (this.asked) return [];
    const op: WitnessOp = this.want ? 'acquire' : this.release && this.mayHold ? 'release' : 'look';
    this.asked = true;
    return [{ kind: 'witness', op, sentAt: clock.mono }];
  }

  /**
   * Wanted and not ours: ask again this soon, not a whole HEARTBEAT_INT later
   * (a release crosses our acquire within milliseconds; a dead holder's lease
   * runs out at any moment). A release that had to wait for the request
   * before it goes at once.
   */
  get retryMs(): number | null {
    // A release that waited for the request before it: at once.
    if (this.release && this.mayHold && this.reach) return 0;
    return this.want && this.reach && this.answered && this.validUntil === -Infinity
      ? Math.max(20, this.everyMs / 4)
      : null;
  }

  /** An answer; true when what the rules read changed. */
  answer(op: WitnessOp, sentAt: number, r: WitnessResult, clock: Clock): boolean {
    const before = JSON.stringify([this.view(clock), this.answered]);
    this.asked = false;
    this.answered = true;
    this.reach = r.error === undefined;
    this.error = r.error ?? null;
    if (this.reach) {
      this.holder = r.holder;
      if (op === 'acquire' && r.ours) this.validUntil = Math.max(this.validUntil, sentAt + this.ttlMs - this.marginMs);
      else if (!r.ours) this.validUntil = -Infinity;
    }
    if (op === 'release' && this.reach) this.validUntil = -Infinity;
    return JSON.stringify([this.view(clock), this.answered]) !== before;
  }

  /**
   * What a decision means for the lock (rule 13 d): wanted while we hold or
   * would take over; given back once nothing is up (after the stop, never before it).
   */
  decided(d: Pick<Decision, 'op' | 'wantLock' | 'memory'>, anyUp: boolean, clock: Clock): SuperviseEffect[] {
    const want = !!d.wantLock || d.op === 'start' || d.op === 'restart' || d.memory.holding || anyUp;
    const free = d.op === 'none' && !anyUp && !d.memory.holding && !d.memory.mayStillHold;
    return this.wants(want, free, clock);
  }

  /** What changed, told: the alarm, a log line and the WITNESS status key when the state changed (null: the same). */
  told(clock: Clock, out: SuperviseEffect[]): { WITNESS: WitnessState } | null {
    out.push({ kind: 'alarm', id: 'witness', text: this.alarm() });
    const state = this.state(clock);
    if (state === this.lastState) return null;
    this.lastState = state;
    out.push({ kind: 'log', level: 'info', fields: { witness: state }, msg: `witness: ${state}` });
    return state === null ? null : { WITNESS: state };
  }

  /** The alarm an operator sees on this node, or null. */
  alarm(): string | null {
    if (this.answered && !this.reach) return `witness unreachable (${this.error}): taking nothing new over`;
    return null;
  }
}
