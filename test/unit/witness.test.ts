// Rule 13, the witness: the decision rows (decide.ts) and the watch that
// turns etcd's answers into what the rules read (witness.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressBound } from '../../src/config/timing.js';
import type { WitnessView } from '../../src/supervise/decide.js';
import { decide, initialMemory, type Memory, type Observation, type Timing } from '../../src/supervise/decide.js';
import { WitnessWatch } from '../../src/supervise/witness.js';

const T: Timing = {
  heartbeatInt: 200,
  deadtime: 1000,
  superviseInt: 2000,
  gwFails: 6,
  resRestarts: 2,
  progressBoundMs: progressBound(1, 30_000, 2, 1000),
  failHolddownMs: 300_000,
  offPauseMs: 30_000,
};
const NOW = 1_000_000;
const HELD: WitnessView = { held: true, other: null, reach: true, error: null };
const FREE: WitnessView = { held: false, other: null, reach: true, error: null };
const OTHER: WitnessView = { held: false, other: 'lb1', reach: true, error: null };
const DOWN: WitnessView = { held: false, other: null, reach: false, error: 'no answer within 500 ms' };

function obs(p: Partial<Observation> & { up?: boolean } = {}): Observation {
  return {
    now: NOW,
    rank: 2,
    resources: [{ name: 'vip', up: p.up ?? false }],
    gwConfigured: false,
    gwFailStreak: 0,
    routeOk: true,
    peer: null,
    peerSince: NOW - 5000,
    receiverFresh: true,
    senderAlive: true,
    startedAt: NOW - 60_000,
    stalledAt: null,
    offRequest: null,
    pauseUntil: 0,
    failedUntil: 0,
    ...p,
  };
}
const HOLDING: Memory = { ...initialMemory(), holding: true, lastSettledPeer: 'OFFLINE' };
const STANDBY: Memory = { ...initialMemory(), lastSettledPeer: 'ONLINE' };

test('rule 13 (a): a silent peer is taken over only with the lock; without it, ask and wait', () => {
  const held = decide(obs({ witness: HELD }), T, STANDBY);
  assert.equal(held.op, 'start');
  assert.match(held.reason, /the witness lock is ours/);
  const free = decide(obs({ witness: FREE }), T, STANDBY);
  assert.equal(free.op, 'none');
  assert.equal(free.wantLock, true);
  assert.equal(free.memory.holding, false);
  assert.match(free.reason, /waiting for the witness lock/);
  const other = decide(obs({ witness: OTHER }), T, STANDBY);
  assert.equal(other.op, 'none');
  assert.match(other.reason, /the witness gives the lock to lb1: waiting/);
});

test('rule 13 (a): a release (rule 4) and both OFFLINE (rule 6) wait for the lock too', () => {
  const release = decide(obs({ peer: 'OFFLINE', peerSince: NOW - 10, witness: OTHER }), T, STANDBY);
  assert.equal(release.op, 'none');
  assert.equal(release.wantLock, true);
  // Still a release at the next decision, once the lock is ours.
  const then = decide(obs({ peer: 'OFFLINE', peerSince: NOW - 10, witness: HELD }), T, release.memory);
  assert.equal(then.op, 'start');
  assert.match(then.reason, /peer released the resources/);
  const both = decide(obs({ peer: 'OFFLINE', rank: 1, witness: FREE }), T, {
    ...initialMemory(),
    lastSettledPeer: 'OFFLINE',
  });
  assert.equal(both.op, 'none');
  assert.equal(decide(obs({ peer: 'OFFLINE', rank: 1, witness: HELD }), T, initialMemory()).op, 'start');
});

test('rule 13 (b): a holder whose lock is lost while the peer is silent releases; while the peer is heard it keeps', () => {
  for (const w of [FREE, OTHER, DOWN]) {
    const d = decide(obs({ up: true, witness: w }), T, HOLDING);
    assert.equal(d.op, 'stop', JSON.stringify(w));
    assert.match(d.alarm ?? '', /witness lock lost while the peer is not heard/);
    assert.match(d.reason, /before the peer can take the lock/);
  }
  const heard = decide(obs({ up: true, peer: 'OFFLINE', witness: FREE }), T, HOLDING);
  assert.equal(heard.op, 'none');
  assert.equal(heard.word, 'ONLINE');
  // Our receiver dead: the peer's word is old news, as good as silence.
  const deaf = decide(obs({ up: true, peer: 'OFFLINE', receiverFresh: false, witness: DOWN }), T, HOLDING);
  assert.equal(deaf.op, 'stop');
  assert.match(deaf.reason, /receiver not running/);
  // Not in the startup grace: the peer may just not be heard yet.
  assert.equal(decide(obs({ up: true, startedAt: NOW - 500, witness: FREE }), T, HOLDING).op, 'none');
});

test('rule 13 (c): witness unreachable: the holder keeps while it hears the peer; a Standby takes nothing', () => {
  const keep = decide(obs({ up: true, peer: 'OFFLINE', witness: DOWN }), T, HOLDING);
  assert.equal(keep.op, 'none');
  assert.match(keep.reason, /the witness is unreachable: keeping while the peer is heard/);
  const standby = decide(obs({ peer: 'ONLINE', witness: DOWN }), T, STANDBY);
  assert.equal(standby.op, 'none');
  const silent = decide(obs({ witness: DOWN }), T, STANDBY);
  assert.equal(silent.op, 'none');
  assert.match(silent.reason, /the witness is unreachable .*: starting nothing new/);
});

test('rule 13: a local restart needs the lock only while the peer is silent', () => {
  const heard = decide(obs({ peer: 'OFFLINE', witness: DOWN }), T, HOLDING);
  assert.equal(heard.op, 'restart');
  const lockHeld = decide(obs({ witness: HELD }), T, HOLDING);
  assert.equal(lockHeld.op, 'restart');
});

test('without a witness nothing changes', () => {
  const d = decide(obs(), T, STANDBY);
  assert.equal(d.op, 'start');
  assert.equal(d.wantLock, undefined);
});

const clock = (mono: number) => ({ mono, wall: mono });

test('the watch: the lock is surely ours until the last keepalive sent + ¾ TTL', () => {
  const w = new WitnessWatch('lb1', 2000, 200);
  assert.equal(w.state(clock(0)), null);
  const ask = w.wants(true, false, clock(0));
  assert.deepEqual(ask, [{ kind: 'witness', op: 'acquire', sentAt: 0 }]);
  assert.deepEqual(w.wants(true, false, clock(1)), [], 'one request at a time');
  assert.equal(w.answer('acquire', 0, { holder: 'lb1', ours: true }, clock(30)), true);
  assert.equal(w.view(clock(30)).held, true);
  assert.equal(w.state(clock(30)), 'held');
  // etcd gone: the keepalives fail; the lock lasts to 0 + 1500 ms.
  const t = w.tick(clock(200));
  assert.deepEqual(t.out[1], { kind: 'witness', op: 'acquire', sentAt: 200 });
  w.answer('acquire', 200, { holder: null, ours: false, error: 'no answer' }, clock(700));
  assert.equal(w.view(clock(1499)).held, true);
  assert.equal(w.alarm()?.startsWith('witness unreachable (no answer)'), true);
  assert.equal(w.tick(clock(1500)).lapsed, true);
  assert.equal(w.view(clock(1500)).held, false);
  assert.equal(w.state(clock(1500)), 'unreachable');
});

test('the watch: another holder, then giving the lock back once nothing is held', () => {
  const w = new WitnessWatch('lb2', 2000, 200);
  w.wants(true, false, clock(0));
  w.answer('acquire', 0, { holder: 'lb1', ours: false }, clock(10));
  assert.equal(w.state(clock(10)), 'other:lb1');
  assert.deepEqual(w.view(clock(10)).other, 'lb1');
  w.tick(clock(200));
  w.answer('acquire', 200, { holder: 'lb2', ours: true }, clock(210));
  assert.equal(w.state(clock(210)), 'held');
  // Released: nothing held any more.
  assert.deepEqual(w.wants(false, true, clock(300)), [{ kind: 'witness', op: 'release', sentAt: 300 }]);
  w.answer('release', 300, { holder: null, ours: false }, clock(310));
  assert.equal(w.state(clock(310)), 'free');
  assert.deepEqual(w.tick(clock(400)).out[1], { kind: 'witness', op: 'look', sentAt: 400 });
});

test('rule 13 (f): both ONLINE with a witness: the lock decides, not the rank', () => {
  const keep = decide(obs({ up: true, peer: 'ONLINE', witness: HELD }), T, HOLDING);
  assert.equal(keep.op, 'none');
  assert.match(keep.reason, /the witness lock is ours/);
  const yieldRank1 = decide(obs({ up: true, rank: 1, peer: 'ONLINE', witness: OTHER }), T, HOLDING);
  assert.equal(yieldRank1.op, 'stop');
  assert.equal(decide(obs({ up: true, rank: 1, peer: 'ONLINE', witness: DOWN }), T, HOLDING).op, 'stop');
});
