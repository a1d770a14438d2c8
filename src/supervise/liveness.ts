// Supervise's judgement of its own node's sender and receiver (rule 9), and
// of its own start-up (rule 3): alive by pid and bus, or by the file stamp
// where the bus is missing; a start announced on the bus counts over an older
// pid verdict; joining until both have been seen running.
import { STAMP_MS, type Timing } from '../config/timing.js';
import type { Clock } from '../daemon/effects.js';
import type { Status } from '../status-store/index.js';
import type { Observation } from './decide.js';
import type { Liveness, SuperviseConfig, SuperviseSight } from './events.js';
import type { Held } from './held.js';

// How long a start-up may take for all three daemons to run.
const JOIN_MS = 5000;

export class OwnDaemons {
  startedAt = 0; // wall: supervise's own start
  private readonly seenRunning = { sender: false, receiver: false };

  constructor(private readonly t: Timing) {}

  alive(l: Liveness, stamp: number | undefined, stampMs: number, wall: number, stalledAt: number | null): boolean {
    // Started together by pha-cli: one not seen yet is starting, not dead.
    if (l.everSeen === false && wall - this.startedAt < 2 * this.t.deadtime) return true;
    // Dead by its pid at the watchdog's last check, unless a new process of
    // it speaks on the bus (restarted since the check): what the dead pid
    // said before it died counts for nothing.
    const newProcess = l.onBus && l.busPid !== undefined && l.busPid !== l.deadPid;
    if (l.pid === false && !newProcess) return false;
    if (l.onBus) return true;
    // Right after our own stall the bus is silent because we were: not a death.
    if (stalledAt !== null && wall - stalledAt < this.t.busFreshMs) return true;
    // Heard on the bus before and silent now: hung or dead (its file stamp may be seconds old).
    if (l.everOnBus) return false;
    return stamp !== undefined && wall - stamp < Math.max(3 * stampMs, 3 * this.t.deadtime);
  }

  /** Still joining: our sender or receiver not yet seen running since we started (bounded). */
  joining(sight: SuperviseSight, wall: number): boolean {
    for (const d of ['sender', 'receiver'] as const)
      if (sight[d].onBus || sight[d].pid === true) this.seenRunning[d] = true;
    // Bounded: a daemon that never comes up is rule 9's business, not a start-up.
    return (
      (!this.seenRunning.sender || !this.seenRunning.receiver) &&
      wall - this.startedAt < Math.max(JOIN_MS, 3 * this.t.deadtime)
    );
  }
}

/** What the rules are told: the view, what the checks found, our own daemons' liveness, the gateway. */
export function observe(
  c: Pick<SuperviseConfig, 'local' | 'GW' | 'SPLIT_YIELD'>,
  sight: SuperviseSight,
  clock: Clock,
  held: Held,
  gwFailStreak: number,
  own: OwnDaemons,
  stalledAt: number | null,
): Observation {
  const s = sight.view;
  const t = clock.wall;
  return {
    now: t,
    rank: c.local.id,
    resources: held.list(),
    gwConfigured: c.GW !== '',
    gwFailStreak: gwFailStreak,
    routeOk: held.routeOk,
    peer: s.RECEIVER_IN ?? null,
    peerSince: s.RECEIVER_IN_SINCE ?? t,
    // A missing RECEIVER_IN (a damaged file) is unknown, never "silent".
    receiverFresh: s.RECEIVER_IN !== undefined && own.alive(sight.receiver, s.RECEIVER_AT, STAMP_MS, t, stalledAt),
    senderAlive: own.alive(sight.sender, s.SENDER_AT, STAMP_MS, t, stalledAt),
    // Rule 3's grace counts from the latest of our three starts: until our
    // sender runs the peer cannot hear us, and a peer whose sender starts
    // about when ours does is silent until then too (issue 10).
    // Until our sender and receiver have both been seen running since we
    // started, we are still joining (the grace has not begun): a node that
    // found resources UP would otherwise say ONLINE before it could hear
    // the peer, or take over before the peer could hear it.
    startedAt: own.joining(sight, t)
      ? t
      : Math.max(own.startedAt, s.RECEIVER_STARTED_AT ?? 0, s.SENDER_STARTED_AT ?? 0),
    stalledAt: stalledAt,
    offRequest: s.OFF_REQUEST ? { force: s.OFF_FORCE === 1 } : null,
    pauseUntil: s.SENDER_RUN === 0 ? (s.SENDER_PAUSE_UNTIL ?? 0) : 0,
    failedUntil: s.FAILED_UNTIL ?? 0,
    splitYield: !!c.SPLIT_YIELD,
  };
}

// A predecessor stamped later than this is a crash just now (a watchdog or
// systemd restart), not a power loss before a boot.
const INHERIT_MS = 30_000;
export const YIELD_ANYWAY = 'yielding them to an ONLINE peer even while a check says DOWN';

/** The word a supervise that died just now (no clean stop) said while it may have held the resources; null: none. */
export function diedHolding(prior: Status, wall: number): 'ONLINE' | 'PROGRESS' | null {
  const said = prior.STATUS;
  const at = prior.SUPERVISE_AT;
  if (prior.SUPERVISE !== 1 || (said !== 'ONLINE' && said !== 'PROGRESS') || typeof at !== 'number') return null;
  return Math.abs(wall - at) < INHERIT_MS ? said : null;
}
