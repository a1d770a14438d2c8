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

/** What the witness (rule 13) says now, as the rules read it (witness.ts keeps it). */
export interface WitnessView {
  held: boolean; // we hold the lock, and our lease is surely alive
  other: string | null; // the key names another node, as etcd last answered
  reach: boolean; // etcd answered our last request
  error: string | null; // why not
}

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
  /** Another host answers for a resource this node holds (its probes, split.ts), since when and who. */
  split?: { since: number; text: string } | null;
  /** The last probe that found another host answering for a resource (ours or not); null: the last found none. */
  otherAnswers?: { at: number; text: string } | null;
  /** SPLIT_YIELD: rule 12 acts (else a second holder is only seen). */
  splitYield?: boolean;
  /** The witness (rule 13) as this node sees it; null or absent: no WITNESS configured. */
  witness?: WitnessView | null;
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
  // Rule 12: we released to the first in NODES answering for the resources
  // while its heartbeat was silent; we take nothing back while it answers.
  cutYield?: boolean;
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
  /** Rule 13: a start waits for the witness lock (ask for it). */
  wantLock?: boolean;
}

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

/** What one decision works with: the observation, what it implies, and the answers it can give. */
interface Ctx {
  o: Observation;
  t: Timing;
  prev: Memory;
  m: Memory; // the memory the decision leaves (the answers below update it)
  names: string[];
  down: string[];
  allUp: boolean;
  anyUp: boolean;
  // Stopping on a peer ONLINE: also when we held them and a check now says
  // DOWN (a hung check counts as DOWN; the resource may well be up).
  mayHold: boolean;
  gwBad: boolean;
  inStartup: boolean; // rule 3: the peer is not silent yet
  peer: Word | null; // the peer's word, PROGRESS beyond rule 7's bound counted as silent
  peerNote: string;
  release: boolean; // rule 4: ONLINE → OFFLINE
  silentBefore: Word | null | undefined; // what the peer said before it went silent
  paused: boolean; // our heartbeat is paused by "off"
  base: Decision;
}

function decideRules(o: Observation, t: Timing, prev: Memory): Decision {
  const c = look(o, t, prev);
  const d =
    offRule(c) ??
    witnessLost(c) ??
    gatewayRule(c) ??
    stallRule(c) ??
    senderRule(c) ??
    joiningRule(c) ??
    failedRule(c) ??
    receiverRule(c) ??
    (c.m.holding && !c.allUp && c.peer !== 'ONLINE' && c.names.length > 0 ? localFailure(c) : undefined) ??
    byPeerWord(c);
  return witnessGate(c, d);
}

/** What the observation implies, and the memory bookkeeping that comes first. */
function look(o: Observation, t: Timing, prev: Memory): Ctx {
  const m: Memory = { ...prev };
  const names = o.resources.map((r) => r.name);
  const down = o.resources.filter((r) => !r.up).map((r) => r.name);
  const allUp = down.length === 0;
  const anyUp = down.length < names.length;
  const gwBad = o.gwConfigured && (o.gwFailStreak >= t.gwFails || !o.routeOk);
  const inStartup = o.now < o.startedAt + t.deadtime;

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
  if (o.peer !== null) m.cutYield = false;
  if (peer !== 'PROGRESS') m.lastSettledPeer = peer;

  const base: Decision = {
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
  return {
    o,
    t,
    prev,
    m,
    names,
    down,
    allUp,
    anyUp,
    mayHold: anyUp || ((prev.holding || !!prev.mayStillHold) && names.length > 0),
    gwBad,
    inStartup,
    peer,
    peerNote,
    release: peer === 'OFFLINE' && prev.lastSettledPeer === 'ONLINE',
    silentBefore,
    paused: o.pauseUntil > o.now,
    base,
  };
}

// ---- the answers ----------------------------------------------------------

function stopAll(c: Ctx, reason: string, extra: Partial<Decision> = {}): Decision {
  c.m.holding = false;
  c.m.mayStillHold = false;
  c.m.garpPending = false;
  return { ...c.base, op: 'stop', names: c.names, reason, ...extra };
}

function start(c: Ctx, which: string[], reason: string): Decision {
  c.m.holding = true;
  return { ...c.base, op: 'start', names: which, reason };
}

function none(c: Ctx, reason: string, extra: Partial<Decision> = {}): Decision {
  return { ...c.base, reason, ...extra };
}

/** Fix 6: a resource failed on the node that holds them. */
function localFailure(c: Ctx): Decision {
  const { o, t, m, down } = c;
  // Muted for a DEADTIME and not heard the peer since: it has taken over,
  // and a restart here would make two holders we could not see.
  if (m.mutedOut) {
    return none(
      c,
      'our heartbeat was muted for a DEADTIME and the peer has not been heard since: the peer has taken over, not restarting here',
      {
        wakeAt: c.inStartup ? o.startedAt + t.deadtime : null,
        alarm: o.receiverFresh ? null : "receiver not running: the peer's word is unknown",
      },
    );
  }
  if (m.restarts < t.resRestarts) {
    m.restarts++;
    return {
      ...c.base,
      op: 'restart',
      names: down,
      reason: `resource ${down.join(', ')} DOWN on the active node: restarting locally (${m.restarts}/${t.resRestarts})`,
    };
  }
  m.restarts = 0;
  const r = stopAll(
    c,
    `resource ${down.join(', ')} still failing after ${t.resRestarts} restarts: releasing to the peer, FAILED for ${Math.round(t.failHolddownMs / 1000)} s`,
  );
  return { ...r, failedUntil: o.now + t.failHolddownMs, alarm: `FAILED: ${down.join(', ')} would not stay up` };
}

// ---- the rules, in their order of precedence (docs/decision-rules.md) -----

/** Rule 10: the operator's "off" — hand over cleanly (fix 5). */
function offRule(c: Ctx): Decision | undefined {
  const { o, t } = c;
  if (!o.offRequest) return undefined;
  c.base.consumeOff = true;
  if (!c.m.holding && !c.anyUp) return none(c, 'off: this node is not Active, nothing to hand over');
  if (c.peer === null && !o.offRequest.force)
    return none(c, 'off refused: no heartbeat from the peer, nobody would take over (use off --force)');
  const r = stopAll(
    c,
    `off: releasing the resources to the peer and pausing the heartbeat for ${Math.round(t.offPauseMs / 1000)} s`,
  );
  return { ...r, pauseUntil: o.now + t.offPauseMs, word: 'OFFLINE' };
}

/** Rule 1: own gateway failing. The heartbeat stays muted; rank does not apply. */
function gatewayRule(c: Ctx): Decision | undefined {
  const { o, t, m, peer } = c;
  if (!c.gwBad) return undefined;
  // Yield on ONLINE, not PROGRESS: holding until the peer is up makes no gap.
  if (peer === 'ONLINE' && c.mayHold) return stopAll(c, 'own gateway check failing and the peer is ONLINE: yielding');
  // Muted and deaf (receiver not running): the peer takes over as it hears
  // nothing from us, and we could not hear it: restarting here makes two holders.
  if (m.holding && !c.allUp && peer !== 'ONLINE' && !o.receiverFresh)
    return none(
      c,
      "own gateway failing and the peer's word unknown (receiver not running): not restarting, the peer takes over",
      { alarm: 'own gateway check failing; receiver not running' },
    );
  if (m.holding && !c.allUp && peer !== 'ONLINE') return localFailure(c);
  const typoAfter = (m.gwBadSince ?? o.now) + 3 * t.superviseInt;
  if (!c.anyUp && peer === null && o.rank === 1 && !c.inStartup && c.silentBefore !== 'ONLINE') {
    if (o.now >= typoAfter) {
      return {
        ...start(
          c,
          c.down,
          'own gateway check failing for 3 rounds but no node holds the resources: first in NODES starts anyway (check GW)',
        ),
        alarm: 'gateway check failing: started anyway because no node held the resources (is GW right?)',
      };
    }
    return none(c, 'own gateway check failing: heartbeat stopped, not taking over', {
      wakeAt: typoAfter,
      alarm: 'own gateway check failing',
    });
  }
  return none(
    c,
    c.allUp
      ? 'own gateway check failing: heartbeat stopped, keeping the resources until the peer takes over'
      : 'own gateway check failing: heartbeat stopped, not taking over',
    { alarm: 'own gateway check failing' },
  );
}

/** Rule 2: we were frozen; the peer may have taken over meanwhile. */
function stallRule(c: Ctx): Decision | undefined {
  const { o, t } = c;
  if (o.stalledAt === null || o.now >= o.stalledAt + t.deadtime) return undefined;
  if (c.peer === 'ONLINE' && c.mayHold)
    return stopAll(c, 'own stall: the peer is ONLINE (it took over): yielding, whatever the rank');
  return none(c, 'own stall: waiting for fresh news from the peer', {
    word: 'PROGRESS',
    wakeAt: o.stalledAt + t.deadtime,
  });
}

/**
 * Rule 9 (after the stall: a frozen node's view of its own daemons is old news
 * too): our sender is dead, so the peer hears nothing from us and may have
 * taken over: yield to it whatever the rank, and start nothing new.
 */
function senderRule(c: Ctx): Decision | undefined {
  if (c.o.senderAlive) return undefined;
  const alarm = 'sender not running: our heartbeat is not going out';
  if (c.peer === 'ONLINE' && c.mayHold)
    return {
      ...stopAll(c, 'own heartbeat not going out (sender dead) and the peer is ONLINE: yielding, whatever the rank'),
      alarm,
    };
  if (c.m.holding && !c.allUp && c.peer !== 'ONLINE') return { ...localFailure(c), alarm };
  return none(
    c,
    c.allUp
      ? 'sender not running: keeping the resources, starting nothing new'
      : 'sender not running: starting nothing new',
    { alarm },
  );
}

/**
 * Rule 3: joining. Whatever the rank, a node that hears ONLINE while starting
 * up yields — when the peer was ONLINE already as we joined (its ONLINE is the
 * first word we heard, within the grace). A peer that went ONLINE later took
 * over while we were up: then both hold and rule 5 (rank) decides, the same
 * rule on both nodes; two rules at once made both yield (issue 10).
 */
function joiningRule(c: Ctx): Decision | undefined {
  const { o, t } = c;
  const graceEnd = o.startedAt + t.deadtime;
  if (o.now < graceEnd + t.superviseInt && c.peer === 'ONLINE' && c.mayHold && o.peerSince <= graceEnd)
    return stopAll(c, 'startup: the peer is ONLINE: stopping local resources (whatever the rank)');
  return undefined;
}

/** Rule 8: FAILED hold-down. */
function failedRule(c: Ctx): Decision | undefined {
  const { o } = c;
  if (o.failedUntil <= o.now) return undefined;
  if (c.peer === 'ONLINE' && c.mayHold) return stopAll(c, 'FAILED and the peer is ONLINE: stopping local resources');
  // Its release stands: what a failed stop left up (short of the whole set,
  // which serves nobody) is stopped again, whoever the peer.
  if (!c.allUp && (c.anyUp || !!c.prev.mayStillHold))
    return stopAll(c, 'FAILED and resources are still up after a failed stop: stopping them again');
  return none(c, `FAILED: starting nothing until ${new Date(o.failedUntil).toISOString()} or "res start" / "on"`, {
    wakeAt: o.failedUntil,
    alarm: 'FAILED',
  });
}

/** Rule 9: the receiver is not alive, so the peer's word is unknown. */
function receiverRule(c: Ctx): Decision | undefined {
  if (c.o.receiverFresh) return undefined;
  if (c.m.holding && !c.allUp) return localFailure(c);
  return none(c, 'receiver not running: peer word unknown, starting nothing new', {
    alarm: "receiver not running: the peer's word is unknown",
  });
}

function byPeerWord(c: Ctx): Decision {
  switch (c.peer) {
    case 'ONLINE':
      return peerOnline(c);
    case 'PROGRESS':
      return peerProgress(c);
    case 'OFFLINE':
      return peerOffline(c);
    case null:
      return peerSilent(c);
  }
}

function peerOnline(c: Ctx): Decision {
  if (c.allUp && c.names.length > 0 && c.o.witness) {
    // Rule 13 (f): with a witness a peer ONLINE beside us took the lock once
    // our lease had run out (we may not hear it say so): the lock decides, not
    // the rank. Neither holds it (the witness unreachable): both yield.
    if (c.o.witness.held) {
      c.m.garpPending = true;
      return none(c, 'both ONLINE: the witness lock is ours: keeping the resources, whatever the rank');
    }
    return stopAll(c, 'both ONLINE and the witness lock is not ours: yielding, whatever the rank');
  }
  if (c.allUp && c.names.length > 0) {
    // Rule 5 (fix 1): both ONLINE — the first in NODES keeps. Not while our
    // heartbeat is paused (off): the peer cannot hear us and keeps too.
    if (c.paused)
      return stopAll(
        c,
        'both ONLINE while our heartbeat is paused (off): the peer cannot hear us: yielding, whatever the rank',
      );
    if (c.o.rank === 1) {
      c.m.garpPending = true;
      return none(c, 'both ONLINE: first in NODES keeps the resources');
    }
    return stopAll(c, 'both ONLINE: the first in NODES keeps: yielding');
  }
  if (c.anyUp) return stopAll(c, 'peer ONLINE: stopping local resources');
  // We held them and a check now says DOWN (it hung, or the resource
  // vanished): the peer has them, so make sure ours are stopped.
  if (c.mayHold) return stopAll(c, 'peer ONLINE and we held the resources (checks say DOWN): stopping them to be sure');
  return none(c, 'Standby: peer ONLINE');
}

function peerProgress(c: Ctx): Decision {
  if (c.allUp) return none(c, 'Active: peer in PROGRESS');
  return none(c, 'peer in PROGRESS: waiting', { wakeAt: c.o.peerSince + c.t.progressBoundMs + 1 });
}

function peerOffline(c: Ctx): Decision {
  const { o, t } = c;
  if (c.allUp) {
    const garp = c.m.garpPending;
    c.m.garpPending = false;
    return none(
      c,
      garp
        ? 'the peer is Standby after it may have held the address: re-announcing (gratuitous ARP)'
        : 'Active: peer Standby',
      { garp },
    );
  }
  if (c.paused) return none(c, 'off pause: taking over only if the peer goes silent', { wakeAt: o.pauseUntil });
  // Rule 4 (fix 5): the peer released — take over at once.
  if (c.release) return start(c, c.down, 'peer released the resources (ONLINE -> OFFLINE): taking over at once');
  // Rule 3 again: not while the peer may not have heard us yet (our sender
  // just started): it would count us silent and take over too (issue 10).
  if (c.inStartup)
    return none(c, 'startup: both OFFLINE, waiting until the peer has heard us', { wakeAt: o.startedAt + t.deadtime });
  // Rule 6 (fix 2): both OFFLINE — the first in NODES goes first.
  const wait = o.rank === 1 ? 2 * t.heartbeatInt : 3 * t.superviseInt;
  if (o.now - o.peerSince >= wait) {
    return start(
      c,
      c.down,
      `both OFFLINE for ${o.now - o.peerSince} ms: ${o.rank === 1 ? 'first in NODES takes over' : 'the first in NODES did not take over: taking over'}`,
    );
  }
  return none(
    c,
    `both OFFLINE: ${o.rank === 1 ? 'first in NODES, taking over shortly' : 'waiting for the first in NODES'}`,
    { wakeAt: o.peerSince + wait },
  );
}

/**
 * Rule 12 (SPLIT_YIELD=1): the peer is silent, but another host answers for the resources
 * (the probes): the heartbeat path is cut and the LAN is not. The first in
 * NODES keeps; the second releases what it holds once the other has answered
 * for a DEADTIME (a peer that yields, its gateway lost, is gone by then), and
 * then takes nothing back while another host answers. Its first decision on a
 * silence is never held back: a dead host answers no probe, a muted one
 * (its gateway lost) still does until it hears us take over. Not for a peer
 * never heard since we started.
 */
function heartbeatCut(c: Ctx): Decision | undefined {
  const { o, t } = c;
  if (o.rank !== 2 || !o.splitYield) return undefined;
  // Only a peer heard before this silence ran pha: one never heard may answer
  // for an address an earlier run left up, and yields it by its own rules.
  if (c.silentBefore === undefined) return undefined;
  const alarm = 'heartbeat path cut? the peer is silent but answers on the LAN: the first in NODES keeps';
  if (c.anyUp && o.split && o.now - o.split.since >= t.deadtime) {
    c.m.cutYield = true;
    return stopAll(
      c,
      `no heartbeat from the peer, but another host answers (${o.split.text}) for ${o.now - o.split.since} ms: the first in NODES keeps: releasing`,
      { alarm },
    );
  }
  if (!c.allUp && c.prev.cutYield && o.otherAnswers)
    return none(c, `no heartbeat from the peer, but another host answers (${o.otherAnswers.text}): not taking over`, {
      alarm,
    });
  return undefined;
}

function peerSilent(c: Ctx): Decision {
  // Resources found UP at start: not ONLINE yet, the peer may hold them (PROGRESS makes it wait).
  if (c.inStartup)
    return none(c, `startup: giving the peer one DEADTIME to be heard${c.peerNote}`, {
      wakeAt: c.o.startedAt + c.t.deadtime,
    });
  const cut = heartbeatCut(c);
  if (cut) return cut;
  if (c.allUp) return none(c, `Active: no heartbeat from the peer${c.peerNote}`);
  return start(c, c.down, `no heartbeat from the peer: taking over${c.peerNote}`);
}

// ---- rule 13: the witness ----------------------------------------------------

/**
 * Rule 13 (b): we may hold, the witness lock is not ours (lost, never had, or
 * etcd unreachable) and we do not hear the peer (silent, or our receiver is
 * not running): it may be alive behind a cut and
 * take the lock once our lease has run out. Release before that moment (the
 * witness watch counts our lease lost a quarter TTL early). While the peer is
 * heard, the heartbeat rules stand: two nodes that hear each other do not need
 * a tie-break, and a holder keeps (rule 13 (c)).
 */
function witnessLost(c: Ctx): Decision | undefined {
  const w = c.o.witness;
  // Not hearing it: silent, or our receiver is not running (its word is old news).
  const deaf = !c.o.receiverFresh;
  if (!w || w.held || (c.peer !== null && !deaf) || c.inStartup || !c.mayHold) return undefined;
  const peer = deaf ? "the peer's word is unknown (receiver not running)" : 'the peer is silent';
  const why = !w.reach
    ? `the witness is unreachable (${w.error}) and ${peer}`
    : w.other !== null
      ? `the witness gives the lock to ${w.other} and ${peer}`
      : `the witness lock is lost and ${peer}`;
  return {
    ...stopAll(c, `${why}: releasing the resources before the peer can take the lock`),
    alarm: `witness lock lost while the peer is not heard: released the resources${w.reach ? '' : ' (witness unreachable)'}`,
  };
}

/**
 * Rule 13 (a, c, e): with a witness, a node starts resources it does not hold
 * only once it holds the lock; until then it asks for it and waits. A local
 * restart of what it holds needs the lock too unless the peer is heard. The
 * holder keeps what it holds while the peer is heard, lock or not.
 */
function witnessGate(c: Ctx, d: Decision): Decision {
  const w = c.o.witness;
  if (!w) return d;
  const taking = d.op === 'start' || (d.op === 'restart' && c.peer === null);
  if (w.held) return taking ? { ...d, wantLock: true, reason: `${d.reason} (the witness lock is ours)` } : d;
  if (taking) {
    c.m.holding = c.prev.holding;
    // A release (rule 4) stays one until we can take it: the next decision,
    // with the lock, must not read it as "both OFFLINE" and wait its turn.
    if (c.release) c.m.lastSettledPeer = c.prev.lastSettledPeer;
    const why = !w.reach
      ? `the witness is unreachable (${w.error}): starting nothing new`
      : w.other !== null
        ? `the witness gives the lock to ${w.other}: waiting`
        : 'waiting for the witness lock';
    return {
      ...c.base,
      memory: c.m,
      wantLock: true,
      reason: `${d.reason.replace(/: (taking over|restarting locally).*$/, '')}: ${why}`,
      wakeAt: d.wakeAt,
    };
  }
  // Unreachable while the peer is heard: keep; the witness watch raises the alarm (one, with the cause).
  if (!w.reach && c.anyUp && d.op === 'none')
    return { ...d, reason: `${d.reason}; the witness is unreachable: keeping while the peer is heard` };
  return d;
}
