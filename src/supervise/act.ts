// What supervise writes when it acts on a decision: the keys every decision
// sets, the off/on handshake with pha-cli (OFF_REQUEST consumed, OFF_ANSWER
// after the stop), the heartbeat pause. Pure: keys in, keys out.
import type { OpResult } from '../daemon/effects.js';
import type { Word } from '../heartbeat/word.js';
import type { Status } from '../status-store/index.js';
import type { Decision } from './decide.js';
import type { SuperviseConfig, SuperviseEffect } from './events.js';
import type { Held } from './held.js';

/** The keys every decision writes (and, with the off request, consumes or answers it). */
export function decisionPatch(
  d: Decision,
  wall: number,
  gwOk: 0 | 1 | null,
  routeOk: boolean,
  offReq: number | null,
): Partial<Status> {
  const common: Partial<Status> = {
    SUPERVISE: 1,
    SUPERVISE_AT: wall,
    DECIDED_AT: wall,
    SENDER_MUTE: d.mute ? 1 : 0,
    GW_OK: gwOk,
    ROUTE_OK: routeOk ? 1 : 0,
    REASON: d.reason,
    ALARM: d.alarm,
  };
  if (offReq !== null) {
    // Consumed now; answered now only when nothing is done (refused or not
    // Active). A release is answered after the stop, with its outcome.
    Object.assign(common, { OFF_REQUEST: null, OFF_FORCE: undefined });
    if (d.op === 'none') Object.assign(common, { OFF_ANSWER: d.reason, OFF_RESULT: 'refused', OFF_ANSWERED: offReq });
  }
  if (d.failedUntil !== null) common.FAILED_UNTIL = d.failedUntil;
  return common;
}

/** The answer to `off` once its stops are done. */
export function offAnswer(
  d: Decision,
  failed: readonly OpResult[],
  word: Word,
  peer: string,
  offReq: number,
): Partial<Status> {
  const ok = failed.length === 0;
  const held = failed.map((r) => r.name).join(', ');
  return {
    OFF_ANSWER: ok
      ? d.reason
      : word === 'ONLINE'
        ? `off: stopping ${held} failed: still Active, the heartbeat goes on (not paused); see the supervise log and 'res list', then 'off' again`
        : `off: stopping ${held} failed: ${held} still held here; the rest is released to ${peer} (heartbeat paused), ` +
          `and this node stops ${held} again once ${peer} is ONLINE; see 'res list'`,
    OFF_RESULT: ok ? 'released' : 'failed',
    OFF_ANSWERED: offReq,
  };
}

/** Our own "off" pause runs now (a holder that stays silent is one the peer cannot see). */
export function pausedNow(s: Status, wall: number): boolean {
  return s.SENDER_RUN === 0 && (s.SENDER_PAUSE_UNTIL ?? 0) > wall;
}

/** Does applying `patch` change anything but the time stamps? */
export function changes(patch: Partial<Status>, cur: Status): boolean {
  const c = cur as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'SUPERVISE_AT' || k === 'DECIDED_AT') continue;
    if (v === undefined ? k in c : c[k] !== v) return true;
  }
  return false;
}

export function baseName(p: string): string {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

/** The keys supervise writes around a start or stop (or a decision to do nothing). */
export class Acting {
  /** Some resource is an address: a kept VIP is re-announced (gratuitous ARP). */
  readonly announces: boolean;

  constructor(
    private readonly c: Pick<SuperviseConfig, 'peer' | 'resources'>,
    private readonly held: Held,
  ) {
    this.announces = c.resources.some((r) => baseName(r.script) === 'ipaddr');
  }

  /** Before: the decision's keys, STATUS (PROGRESS while a start or stop runs, so the peer waits). */
  before(
    d: Decision,
    s: Status,
    wall: number,
    gwOk: 0 | 1 | null,
    offReq: number | null,
    out: SuperviseEffect[],
  ): Partial<Status> {
    const common = decisionPatch(d, wall, gwOk, this.held.routeOk, offReq);
    const patch: Partial<Status> = { ...common, ...this.held.patch(), STATUS: d.op === 'none' ? d.word : 'PROGRESS' };
    // Holding during our own "off" pause (the operator's res start, or
    // resources found up at start; a muted peer would keep too), or taking
    // over during it (the peer went silent): the heartbeat resumes.
    if (d.op === 'none' && d.word === 'ONLINE')
      this.endPause(s, patch, wall, out, 'holding the resources during the off pause: the heartbeat resumes');
    else if (d.op === 'start' || d.op === 'restart')
      this.endPause(s, patch, wall, out, 'taking over during the off pause: the heartbeat resumes');
    return patch;
  }

  /** After the start or stop: what it did, the final STATUS, the release and the answer to `off`. */
  after(
    d: Decision,
    offReq: number | null,
    results: readonly OpResult[],
    wall: number,
    out: SuperviseEffect[],
  ): { final: Partial<Status>; failed: boolean } {
    this.held.acted(d.op, results);
    const failed = results.filter((r) => !r.ok);
    const failedNames = failed.map((r) => r.name);
    const word: Word = this.held.allUp() ? 'ONLINE' : 'OFFLINE';
    out.push({
      kind: 'log',
      level: failed.length ? 'warn' : 'info',
      fields: { op: d.op, resources: d.names, failed: failedNames, status: word, peer: this.c.peer.name },
      msg: `${d.op} ${failed.length ? `failed for ${failedNames.join(', ')}` : 'done'}: STATUS ${word}`,
    });
    const final: Partial<Status> = { ...this.held.patch(), STATUS: word, SUPERVISE_AT: wall, DECIDED_AT: wall };
    // The release is the final word the sender sends before the pause (fix 5).
    // Not when every stop failed: still ONLINE, a silent holder is one the
    // peer takes over from. When some stopped, OFFLINE is a release all the
    // same: the pause keeps rule 6 from taking them back here, and what
    // failed is stopped again once the peer is ONLINE.
    if (d.pauseUntil !== null && word === 'OFFLINE') {
      final.SENDER_RUN = 0;
      final.SENDER_PAUSE_UNTIL = d.pauseUntil;
    }
    if (offReq !== null) Object.assign(final, offAnswer(d, failed, word, this.c.peer.name, offReq));
    return { final, failed: failed.length > 0 };
  }

  /** A holder that stays silent is one the peer cannot see: our own "off" pause ends when we hold. */
  private endPause(s: Status, patch: Partial<Status>, wall: number, out: SuperviseEffect[], msg: string): void {
    if (!pausedNow(s, wall)) return;
    Object.assign(patch, { SENDER_RUN: 1, SENDER_PAUSE_UNTIL: undefined });
    out.push({ kind: 'log', level: 'warn', fields: { peer: this.c.peer.name }, msg });
  }
}
