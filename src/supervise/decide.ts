// The decision rules of supervise as one pure function: what one round (or one
// change of the peer's word) saw, plus what the rules remember → what to do.
// No I/O and no clock: `now` comes in with the observation. Rule numbers refer
// to docs/decision-rules.md; "fix N" to docs/fixes.md.
import type { Timing as DerivedTiming } from '../config/timing.js';
import type { Word } from '../heartbeat/word.js';

/** The intervals the rules use (timingOf() in config/timing.ts works them out). */
export type Timing = Pick<
  DerivedTiming,
  | 'heartbeatInt'
  | 'deadtime'
  | 'superviseInt'
  | 'gwFails'
  | 'resRestarts'
  | 'progressBoundMs'
  | 'failHolddownMs'
  | 'offPauseMs'
>;

export interface Observation {
  now: number;
  rank: 1 | 2; // position in NODES
  resources: readonly { name: string; up: boolean }[]; // config order
  gwConfigured: boolean;
  gwFailStreak: number; // failed pings in a row
  routeOk: boolean; // a default route exists
  peer: Word | null; // RECEIVER_IN
  peerSince: number; // since when RECEIVER_IN has its value
  receiverFresh: boolean; // receiver alive and RECEIVER_IN known (rules 9, 11)
  senderAlive: boolean; // our heartbeat goes out (rule 9)
  startedAt: number; // max(supervise start, receiver bound) (rule 3)
  stalledAt: number | null; // own loop ran late by > DEADTIME (rule 2)
  offRequest: { force: boolean } | null; // operator ran "off"
  pauseUntil: number; // heartbeat paused by "off" until (0: not paused)
  failedUntil: number; // FAILED hold-down until (0: not failed)
}

export interface Memory {
  holding: boolean; // we took the resources and have not released them
  lastSettledPeer: Word | null | undefined; // the peer's last word other than PROGRESS
  restarts: number; // local restarts in this failure episode (fix 6)
  allUpSince: number | null;
  gwBadSince: number | null;
  garpPending: boolean; // both ONLINE and we kept: re-announce once the peer yielded
  heardSinceSilence: boolean; // the peer has been heard since it was last silent
  silentAfter?: Word | null; // while the peer is silent: its last settled word before the silence
  // The resources may be up even when a check says DOWN (hung): a supervise
  // restarted after a crash whose predecessor said ONLINE or PROGRESS, or a
  // stop that failed (hung to RES_TIMEOUT). Counts only for yielding to an
  // ONLINE peer, never for a local restart.
  mayStillHold?: boolean;
  // Our heartbeat was muted (gateway lost) for a DEADTIME while we held: the
  // peer counts us silent and takes over. Until we can hear it again, a
  // failed resource is not restarted here (we could not see its takeover).
  mutedOut?: boolean;
}

export const initialMemory = (): Memory => ({
  holding: false,
  lastSettledPeer: undefined,
  restarts: 0,
  allUpSince: null,
  gwBadSince: null,
  garpPending: false,
  heardSinceSilence: false,
});

export type OpKind = 'none' | 'start' | 'stop' | 'restart';

export interface Decision {
  op: OpKind;
  names: string[]; // resources the op acts on (start/restart: config order; stop: all)
  word: Word; // STATUS to publish when the op is none (the loop recomputes after an op)
  mute: boolean; // own gateway failing: send no heartbeat
  garp: boolean; // re-send gratuitous ARP (we kept after both ONLINE)
  consumeOff: boolean; // the off request is handled (done or refused)
  pauseUntil: number | null; // set the heartbeat pause (off)
  failedUntil: number | null; // enter FAILED (rule 8)
  alarm: string | null;
  reason: string;
  wakeAt: number | null; // decide again at this time at the latest
  memory: Memory;
}

/** Rule 7's bound: Σ start timeouts × (restarts + 1) + DEADTIME. */

export function decide(o: Observation, t: Timing, prev: Memory): Decision {
  const d = decideRules(o, t, prev);
  // Rule 3: during the startup grace a node that found resources UP does not
  // say ONLINE yet: it does not know whether the peer holds them, and a peer
  // that heard it ONLINE would yield by rank while this node yields by rule 3
  // (both at once: issue 10). PROGRESS makes the peer wait for the grace.
  const graceEnd = o.startedAt + t.deadtime;
  if (d.op === 'none' && d.word === 'ONLINE' && o.now < graceEnd)
    return { ...d, word: 'PROGRESS', wakeAt: Math.min(d.wakeAt ?? graceEnd, graceEnd) };
  return d;
}

function decideRules(o: Observation, t: Timing, prev: Memory): Decision {
  const m: Memory = { ...prev };
  const names = o.resources.map((r) => r.name);
  const down = o.resources.filter((r) => !r.up).map((r) => r.name);
  const allUp = down.length === 0;
  const anyUp = down.length < names.length;
  // Stopping on a peer ONLINE: also when we held them and a check now says
  // DOWN (a hung check counts as DOWN; the resource may well be up).
  const mayHold = anyUp || ((prev.holding || !!prev.mayStillHold) && names.length > 0);
  const gwBad = o.gwConfigured && (o.gwFailStreak >= t.gwFails || !o.routeOk);
  const inStartup = o.now < o.startedAt + t.deadtime; // rule 3: the peer is not silent yet

  // Memory bookkeeping first.
  m.gwBadSince = gwBad ? (prev.gwBadSince ?? o.now) : null;
  // Cleared once the peer is heard, or has been silent for a whole grace.
  if (o.receiverFresh && (o.peer !== null || !inStartup)) m.mutedOut = false;
  else if (gwBad && (anyUp || prev.holding) && o.now - m.gwBadSince! >= t.deadtime) m.mutedOut = true;
  if (allUp) {
    m.holding = true;
    m.mayStillHold = false;
    m.allUpSince = prev.allUpSince ?? o.now;
    // Healthy for 10 rounds: a later failure is a new episode.
    if (o.now - m.allUpSince >= 10 * t.superviseInt) m.restarts = 0;
  } else {
    m.allUpSince = null;
  }
  let peer = o.peer;
  let peerNote = '';
  if (peer === 'PROGRESS' && o.now - o.peerSince > t.progressBoundMs) {
    peer = null; // rule 7: stuck in PROGRESS counts as silent
    peerNote = ` (peer stuck in PROGRESS for ${o.now - o.peerSince} ms, treated as silent)`;
  }
  const release = peer === 'OFFLINE' && prev.lastSettledPeer === 'ONLINE';
  // What the peer said before it went silent, remembered for the whole silence
  // (not only for the first decision after it).
  const silentBefore =
    peer === null ? (prev.lastSettledPeer === null ? prev.silentAfter : prev.lastSettledPeer) : undefined;
  m.silentAfter = peer === null ? silentBefore : undefined;
  // The peer is heard again after silence (a partition healed): while we hold,
  // re-announce once it has settled — but only when its first word back says it
  // may have held (ONLINE, or PROGRESS: it is stopping or starting). A peer that
  // comes back OFFLINE never held the address: no re-announce.
  if (
    allUp &&
    prev.lastSettledPeer === null &&
    !prev.heardSinceSilence &&
    (o.peer === 'ONLINE' || o.peer === 'PROGRESS')
  )
    m.garpPending = true;
  m.heardSinceSilence = o.peer !== null;
  if (peer !== 'PROGRESS') m.lastSettledPeer = peer;

  const d: Decision = {
    op: 'none',
    names: [],
    word: allUp && names.length > 0 ? 'ONLINE' : 'OFFLINE',
    // Only the node that holds goes quiet ("I am cut off, take over"); a Standby
    // keeps telling the peer it is there, it just takes nothing over.
    mute: gwBad && (anyUp || m.holding),
    garp: false,
    consumeOff: false,
    pauseUntil: null,
    failedUntil: null,
    alarm: null,
    reason: '',
    wakeAt: null,
    memory: m,
  };
  const stopAll = (reason: string): Decision => {
    m.holding = false;
    m.mayStillHold = false;
    m.garpPending = false;
    return { ...d, op: 'stop', names, reason };
  };
  const start = (which: string[], reason: string): Decision => {
    m.holding = true;
    return { ...d, op: 'start', names: which, reason };
  };
  const none = (reason: string, extra: Partial<Decision> = {}): Decision => ({ ...d, reason, ...extra });
  // Fix 6: a resource failed on the node that holds them.
  const localFailure = (): Decision => {
    // Muted for a DEADTIME and not heard the peer since: it has taken over,
    // and a restart here would make two holders we could not see.
    if (m.mutedOut) {
      return none(
        'our heartbeat was muted for a DEADTIME and the peer has not been heard since: the peer has taken over, not restarting here',
        {
          wakeAt: inStartup ? o.startedAt + t.deadtime : null,
          alarm: o.receiverFresh ? null : "receiver not running: the peer's word is unknown",
        },
      );
    }
    if (m.restarts < t.resRestarts) {
      m.restarts++;
      return {
        ...d,
        op: 'restart',
        names: down,
        reason: `resource ${down.join(', ')} DOWN on the active node: restarting locally (${m.restarts}/${t.resRestarts})`,
      };
    }
    m.restarts = 0;
    const r = stopAll(
      `resource ${down.join(', ')} still failing after ${t.resRestarts} restarts: releasing to the peer, FAILED for ${Math.round(t.failHolddownMs / 1000)} s`,
    );
    return { ...r, failedUntil: o.now + t.failHolddownMs, alarm: `FAILED: ${down.join(', ')} would not stay up` };
  };

  // Operator's "off" (rule 10): hand over cleanly (fix 5).
  if (o.offRequest) {
    d.consumeOff = true;
    if (!m.holding && !anyUp) return none('off: this node is not Active, nothing to hand over');
    if (peer === null && !o.offRequest.force)
      return none('off refused: no heartbeat from the peer, nobody would take over (use off --force)');
    const r = stopAll(
      `off: releasing the resources to the peer and pausing the heartbeat for ${Math.round(t.offPauseMs / 1000)} s`,
    );
    return { ...r, pauseUntil: o.now + t.offPauseMs, word: 'OFFLINE' };
  }

  // Rule 1: own gateway failing. Heartbeat stays muted; rank does not apply.
  if (gwBad) {
    // Yield on ONLINE, not PROGRESS: holding until the peer is up makes no gap.
    if (peer === 'ONLINE' && mayHold) {
      return stopAll('own gateway check failing and the peer is ONLINE: yielding');
    }
    // Muted and deaf (receiver not running): the peer takes over as it hears
    // nothing from us, and we could not hear it: restarting here makes two holders.
    if (m.holding && !allUp && peer !== 'ONLINE' && !o.receiverFresh)
      return none(
        "own gateway failing and the peer's word unknown (receiver not running): not restarting, the peer takes over",
        { alarm: 'own gateway check failing; receiver not running' },
      );
    if (m.holding && !allUp && peer !== 'ONLINE') return localFailure();
    const typoAfter = (m.gwBadSince ?? o.now) + 3 * t.superviseInt;
    if (!anyUp && peer === null && o.rank === 1 && !inStartup && silentBefore !== 'ONLINE') {
      if (o.now >= typoAfter) {
        return {
          ...start(
            down,
            'own gateway check failing for 3 rounds but no node holds the resources: first in NODES starts anyway (check GW)',
          ),
          alarm: 'gateway check failing: started anyway because no node held the resources (is GW right?)',
        };
      }
      return none('own gateway check failing: heartbeat stopped, not taking over', {
        wakeAt: typoAfter,
        alarm: 'own gateway check failing',
      });
    }
    return none(
      allUp
        ? 'own gateway check failing: heartbeat stopped, keeping the resources until the peer takes over'
        : 'own gateway check failing: heartbeat stopped, not taking over',
      { alarm: 'own gateway check failing' },
    );
  }

  // Rule 2: we were frozen; the peer may have taken over meanwhile.
  if (o.stalledAt !== null && o.now < o.stalledAt + t.deadtime) {
    if (peer === 'ONLINE' && mayHold)
      return stopAll('own stall: the peer is ONLINE (it took over): yielding, whatever the rank');
    return none('own stall: waiting for fresh news from the peer', {
      word: 'PROGRESS',
      wakeAt: o.stalledAt + t.deadtime,
    });
  }

  // Rule 9 (after the stall: a frozen node's view of its own daemons is old news too):
  // our sender is dead, so the peer hears nothing from us and may have
  // taken over: yield to it whatever the rank, and start nothing new.
  if (!o.senderAlive) {
    const alarm = 'sender not running: our heartbeat is not going out';
    if (peer === 'ONLINE' && mayHold)
      return {
        ...stopAll('own heartbeat not going out (sender dead) and the peer is ONLINE: yielding, whatever the rank'),
        alarm,
      };
    if (m.holding && !allUp && peer !== 'ONLINE') return { ...localFailure(), alarm };
    return none(
      allUp
        ? 'sender not running: keeping the resources, starting nothing new'
        : 'sender not running: starting nothing new',
      { alarm },
    );
  }

  // Rule 3: joining. Whatever the rank, a node that hears ONLINE while starting up
  // yields — when the peer was ONLINE already as we joined (its ONLINE is the
  // first word we heard, within the grace). A peer that went ONLINE later took
  // over while we were up: then both hold and rule 5 (rank) decides, the same
  // rule on both nodes; two rules at once made both yield (issue 10).
  if (
    o.now < o.startedAt + t.deadtime + t.superviseInt &&
    peer === 'ONLINE' &&
    mayHold &&
    o.peerSince <= o.startedAt + t.deadtime
  ) {
    return stopAll('startup: the peer is ONLINE: stopping local resources (whatever the rank)');
  }

  // Rule 8: FAILED hold-down.
  if (o.failedUntil > o.now) {
    if (peer === 'ONLINE' && mayHold) return stopAll('FAILED and the peer is ONLINE: stopping local resources');
    // Its release stands: what a failed stop left up (short of the whole set,
    // which serves nobody) is stopped again, whoever the peer.
    if (!allUp && (anyUp || !!prev.mayStillHold))
      return stopAll('FAILED and resources are still up after a failed stop: stopping them again');
    return none(`FAILED: starting nothing until ${new Date(o.failedUntil).toISOString()} or "res start" / "on"`, {
      wakeAt: o.failedUntil,
      alarm: 'FAILED',
    });
  }

  // Rule 9: the receiver is not alive, so the peer's word is unknown.
  if (!o.receiverFresh) {
    if (m.holding && !allUp) return localFailure();
    return none('receiver not running: peer word unknown, starting nothing new', {
      alarm: "receiver not running: the peer's word is unknown",
    });
  }

  if (m.holding && !allUp && peer !== 'ONLINE' && names.length > 0) return localFailure();

  const paused = o.pauseUntil > o.now;
  switch (peer) {
    case 'ONLINE':
      if (allUp && names.length > 0) {
        // Rule 5 (fix 1): both ONLINE — the first in NODES keeps. Not while our
        // heartbeat is paused (off): the peer cannot hear us and keeps too.
        if (paused)
          return stopAll(
            'both ONLINE while our heartbeat is paused (off): the peer cannot hear us: yielding, whatever the rank',
          );
        if (o.rank === 1) {
          m.garpPending = true;
          return none('both ONLINE: first in NODES keeps the resources');
        }
        return stopAll('both ONLINE: the first in NODES keeps: yielding');
      }
      if (anyUp) return stopAll('peer ONLINE: stopping local resources');
      // We held them and a check now says DOWN (it hung, or the resource
      // vanished): the peer has them, so make sure ours are stopped.
      if (mayHold) return stopAll('peer ONLINE and we held the resources (checks say DOWN): stopping them to be sure');
      return none('Standby: peer ONLINE');
    case 'PROGRESS':
      if (allUp) return none('Active: peer in PROGRESS');
      return none('peer in PROGRESS: waiting', { wakeAt: o.peerSince + t.progressBoundMs + 1 });
    case 'OFFLINE': {
      if (allUp) {
        const garp = m.garpPending;
        m.garpPending = false;
        return none(
          garp
            ? 'the peer is Standby after it may have held the address: re-announcing (gratuitous ARP)'
            : 'Active: peer Standby',
          { garp },
        );
      }
      if (paused) return none('off pause: taking over only if the peer goes silent', { wakeAt: o.pauseUntil });
      // Rule 4 (fix 5): the peer released — take over at once.
      if (release) return start(down, 'peer released the resources (ONLINE -> OFFLINE): taking over at once');
      // Rule 3 again: not while the peer may not have heard us yet (our sender
      // just started): it would count us silent and take over too (issue 10).
      if (inStartup)
        return none('startup: both OFFLINE, waiting until the peer has heard us', { wakeAt: o.startedAt + t.deadtime });
      // Rule 6 (fix 2): both OFFLINE — the first in NODES goes first.
      const wait = o.rank === 1 ? 2 * t.heartbeatInt : 3 * t.superviseInt;
      if (o.now - o.peerSince >= wait) {
        return start(
          down,
          `both OFFLINE for ${o.now - o.peerSince} ms: ${o.rank === 1 ? 'first in NODES takes over' : 'the first in NODES did not take over: taking over'}`,
        );
      }
      return none(
        `both OFFLINE: ${o.rank === 1 ? 'first in NODES, taking over shortly' : 'waiting for the first in NODES'}`,
        { wakeAt: o.peerSince + wait },
      );
    }
    case null:
      // Resources found UP at start: not ONLINE yet, the peer may hold them (PROGRESS makes it wait).
      if (inStartup)
        return none(`startup: giving the peer one DEADTIME to be heard${peerNote}`, {
          wakeAt: o.startedAt + t.deadtime,
        });
      if (allUp) return none(`Active: no heartbeat from the peer${peerNote}`);
      return start(down, `no heartbeat from the peer: taking over${peerNote}`);
  }
}
