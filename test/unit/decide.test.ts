// The decision rules, row by row (docs/decision-rules.md, docs/fixes.md).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressBound } from '../../src/config/timing.js';
import {
  type Decision,
  decide,
  initialMemory,
  type Memory,
  type Observation,
  type Timing,
} from '../../src/supervise/decide.js';

const T: Timing = {
  heartbeatInt: 200,
  deadtime: 1000,
  superviseInt: 2000,
  gwFails: 1,
  resRestarts: 2,
  progressBoundMs: progressBound(2, 30_000, 2, 1000),
  failHolddownMs: 300_000,
  offPauseMs: 30_000,
};
const NOW = 1_000_000;

function obs(p: Partial<Observation> & { up?: boolean[] } = {}): Observation {
  const up = p.up ?? [false, false];
  return {
    now: NOW,
    rank: 1,
    resources: up.map((u, i) => ({ name: `r${i}`, up: u })),
    gwConfigured: true,
    gwFailStreak: 0,
    routeOk: true,
    peer: null,
    peerSince: NOW - 5000,
    receiverFresh: true,
    senderAlive: true,
    startedAt: NOW - 60_000, // long running unless a row says otherwise
    stalledAt: null,
    offRequest: null,
    pauseUntil: 0,
    failedUntil: 0,
    ...p,
  };
}
const mem = (p: Partial<Memory> = {}): Memory => ({ ...initialMemory(), ...p });
const HOLDING = mem({ holding: true, lastSettledPeer: 'OFFLINE' });

interface Row {
  name: string;
  o: Observation;
  m?: Memory;
  op: Decision['op'];
  names?: string[];
  check?: (d: Decision) => void;
}

const rows: Row[] = [
  // The original's table, as kept.
  {
    name: 'peer silent, resources down → start those not UP',
    o: obs({ up: [true, false] }),
    op: 'start',
    names: ['r1'],
  },
  {
    name: 'peer silent, all UP → nothing, ONLINE',
    o: obs({ up: [true, true] }),
    op: 'none',
    check: (d) => assert.equal(d.word, 'ONLINE'),
  },
  { name: 'peer ONLINE, local UP → stop local', o: obs({ peer: 'ONLINE', up: [true, false] }), op: 'stop' },
  {
    name: 'peer ONLINE, local DOWN → Standby',
    o: obs({ peer: 'ONLINE' }),
    op: 'none',
    check: (d) => assert.equal(d.word, 'OFFLINE'),
  },
  {
    name: 'peer PROGRESS → wait',
    o: obs({ peer: 'PROGRESS', peerSince: NOW - 100 }),
    op: 'none',
    check: (d) => assert.ok(d.wakeAt! > NOW),
  },
  // Fix 1 / rule 5: both ONLINE after a partition heals.
  {
    name: 'both ONLINE, rank 1 keeps and re-announces later',
    o: obs({ peer: 'ONLINE', up: [true, true] }),
    m: HOLDING,
    op: 'none',
    check: (d) => assert.equal(d.memory.garpPending, true),
  },
  { name: 'both ONLINE, rank 2 yields', o: obs({ rank: 2, peer: 'ONLINE', up: [true, true] }), m: HOLDING, op: 'stop' },
  {
    name: 'kept after both ONLINE: peer OFFLINE → gratuitous ARP once',
    o: obs({ peer: 'OFFLINE', up: [true, true] }),
    m: mem({ holding: true, garpPending: true, lastSettledPeer: 'ONLINE' }),
    op: 'none',
    check: (d) => {
      assert.equal(d.garp, true);
      assert.equal(d.memory.garpPending, false);
    },
  },
  {
    name: 'peer back after silence saying OFFLINE: no re-announce (it never held the resources)',
    o: obs({ peer: 'OFFLINE', up: [true, true] }),
    m: mem({ holding: true, lastSettledPeer: null }),
    op: 'none',
    check: (d) => assert.equal(d.garp, false),
  },
  {
    name: 'peer back after silence saying PROGRESS (yielding after a partition): re-announce once it settles',
    o: obs({ peer: 'PROGRESS', up: [true, true] }),
    m: mem({ holding: true, lastSettledPeer: null }),
    op: 'none',
    check: (d) => {
      assert.equal(d.memory.garpPending, true);
      assert.equal(decide(obs({ peer: 'OFFLINE', up: [true, true] }), T, d.memory).garp, true);
    },
  },
  // Fix 2 / rule 6: both OFFLINE.
  {
    name: 'both OFFLINE, rank 1 waits 2 heartbeats',
    o: obs({ peer: 'OFFLINE', peerSince: NOW - 100 }),
    op: 'none',
    check: (d) => assert.equal(d.wakeAt, NOW - 100 + 400),
  },
  {
    name: 'both OFFLINE, rank 1 starts after 2 heartbeats',
    o: obs({ peer: 'OFFLINE', peerSince: NOW - 400 }),
    op: 'start',
    names: ['r0', 'r1'],
  },
  {
    name: 'both OFFLINE, rank 2 does not start after 2 heartbeats',
    o: obs({ rank: 2, peer: 'OFFLINE', peerSince: NOW - 400 }),
    op: 'none',
  },
  {
    name: 'both OFFLINE, rank 2 starts after 3 rounds with no PROGRESS',
    o: obs({ rank: 2, peer: 'OFFLINE', peerSince: NOW - 6000 }),
    op: 'start',
  },
  // Fix 3 / rule 1: gateway.
  {
    name: 'own gateway failing: heartbeat muted, holder keeps while the peer is OFFLINE',
    o: obs({ gwFailStreak: 1, peer: 'OFFLINE', up: [true, true] }),
    m: HOLDING,
    op: 'none',
    check: (d) => assert.equal(d.mute, true),
  },
  {
    name: 'own gateway failing, peer ONLINE → yield',
    o: obs({ gwFailStreak: 1, peer: 'ONLINE', up: [true, true] }),
    m: HOLDING,
    op: 'stop',
    check: (d) => assert.equal(d.mute, true),
  },
  {
    name: 'own gateway failing, peer silent → never start (likely isolated); a Standby keeps sending',
    o: obs({ gwFailStreak: 1, rank: 2 }),
    op: 'none',
    check: (d) => {
      assert.equal(d.mute, false);
      assert.match(d.alarm!, /gateway/);
    },
  },
  {
    name: 'no default route counts as gateway failure',
    o: obs({ routeOk: false, up: [true, true] }),
    m: HOLDING,
    op: 'none',
    check: (d) => assert.equal(d.mute, true),
  },
  {
    name: 'both lost the gateway: the holder keeps',
    o: obs({ gwFailStreak: 4, up: [true, true] }),
    m: HOLDING,
    op: 'none',
  },
  {
    name: 'typo GW: rank 1, nobody holds, 3 rounds failing → starts anyway with an alarm',
    o: obs({ gwFailStreak: 9 }),
    m: mem({ gwBadSince: NOW - 6000, lastSettledPeer: null }),
    op: 'start',
    check: (d) => assert.match(d.alarm!, /GW/),
  },
  {
    name: 'typo GW: rank 2 never starts',
    o: obs({ rank: 2, gwFailStreak: 9 }),
    m: mem({ gwBadSince: NOW - 60000, lastSettledPeer: null }),
    op: 'none',
  },
  {
    name: 'typo GW exception not when the peer was ONLINE before it went silent',
    o: obs({ gwFailStreak: 9 }),
    m: mem({ gwBadSince: NOW - 6000, lastSettledPeer: 'ONLINE' }),
    op: 'none',
  },
  {
    name: 'no GW configured: gateway never counts',
    o: obs({ gwConfigured: false, gwFailStreak: 5, routeOk: false }),
    op: 'start',
  },
  // Fix 4 / rule 7: peer stuck in PROGRESS.
  {
    name: 'peer PROGRESS beyond the bound → treated as silent',
    o: obs({ peer: 'PROGRESS', peerSince: NOW - T.progressBoundMs - 1 }),
    op: 'start',
  },
  // Fix 5 / rule 4, 10: release and off.
  {
    name: 'peer released (ONLINE → OFFLINE) → take over at once',
    o: obs({ rank: 2, peer: 'OFFLINE', peerSince: NOW - 1 }),
    m: mem({ lastSettledPeer: 'ONLINE' }),
    op: 'start',
  },
  {
    name: 'off on the Active node: stop all, pause heartbeat',
    o: obs({ peer: 'OFFLINE', up: [true, true], offRequest: { force: false } }),
    m: HOLDING,
    op: 'stop',
    check: (d) => {
      assert.equal(d.pauseUntil, NOW + 30_000);
      assert.equal(d.consumeOff, true);
      assert.equal(d.memory.holding, false);
    },
  },
  {
    name: 'off refused with no peer heartbeat',
    o: obs({ up: [true, true], offRequest: { force: false } }),
    m: HOLDING,
    op: 'none',
    check: (d) => {
      assert.match(d.reason, /refused/);
      assert.equal(d.consumeOff, true);
    },
  },
  {
    name: 'off --force with no peer heartbeat releases',
    o: obs({ up: [true, true], offRequest: { force: true } }),
    m: HOLDING,
    op: 'stop',
  },
  {
    name: 'off on a Standby: nothing to hand over',
    o: obs({ peer: 'ONLINE', offRequest: { force: false } }),
    op: 'none',
    check: (d) => assert.match(d.reason, /not Active/),
  },
  {
    name: 'during the off pause: no takeover on OFFLINE',
    o: obs({ peer: 'OFFLINE', peerSince: NOW - 60_000, pauseUntil: NOW + 10_000 }),
    m: mem({ lastSettledPeer: 'ONLINE' }),
    op: 'none',
  },
  { name: 'during the off pause: takeover if the peer goes silent', o: obs({ pauseUntil: NOW + 10_000 }), op: 'start' },
  // Fix 6 / rule 8: resource failure on the active node.
  {
    name: 'resource DOWN on the holder → restart locally',
    o: obs({ peer: 'OFFLINE', up: [true, false] }),
    m: HOLDING,
    op: 'restart',
    names: ['r1'],
    check: (d) => assert.equal(d.memory.restarts, 1),
  },
  {
    name: 'restarts used up → release and FAILED',
    o: obs({ peer: 'OFFLINE', up: [true, false] }),
    m: mem({ holding: true, restarts: 2 }),
    op: 'stop',
    check: (d) => {
      assert.equal(d.failedUntil, NOW + 300_000);
      assert.match(d.alarm!, /FAILED/);
    },
  },
  {
    name: 'FAILED: starts nothing although the peer is silent',
    o: obs({ failedUntil: NOW + 1000 }),
    op: 'none',
    check: (d) => assert.equal(d.wakeAt, NOW + 1000),
  },
  {
    name: 'FAILED: releases to an ONLINE peer',
    o: obs({ failedUntil: NOW + 1000, peer: 'ONLINE', up: [true, false] }),
    op: 'stop',
  },
  {
    name: 'FAILED: stops again what a failed stop left up, the peer silent (seed 2217229)',
    o: obs({ failedUntil: NOW + 1000, up: [true, false] }),
    op: 'stop',
  },
  {
    name: 'FAILED: stops again after a failed stop even while a check says DOWN',
    o: obs({ failedUntil: NOW + 1000, peer: 'OFFLINE', up: [false, false] }),
    m: mem({ mayStillHold: true }),
    op: 'stop',
  },
  {
    name: 'FAILED: keeps a whole set that is up (nothing failing), the peer silent',
    o: obs({ failedUntil: NOW + 1000, up: [true, true] }),
    op: 'none',
  },
  // Fix 11 / rule 3: joining.
  {
    name: 'startup: peer silent within one DEADTIME → wait',
    o: obs({ startedAt: NOW - 500 }),
    op: 'none',
    check: (d) => assert.equal(d.wakeAt, NOW + 500),
  },
  { name: 'startup: peer silent after one DEADTIME → start', o: obs({ startedAt: NOW - 1001 }), op: 'start' },
  {
    name: 'startup: hears ONLINE → stops own UP resources, whatever the rank',
    o: obs({ startedAt: NOW - 500, peer: 'ONLINE', up: [true, true] }),
    op: 'stop',
  },
  {
    name: 'startup: hears ONLINE one round after the DEADTIME → still yields (rank 1)',
    o: obs({ startedAt: NOW - 2500, peer: 'ONLINE', up: [true, true] }),
    op: 'stop',
  },
  {
    name: 'joining a pair whose peer is ONLINE → Standby',
    o: obs({ startedAt: NOW - 100, peer: 'ONLINE' }),
    op: 'none',
  },
  // Rule 2: own stall.
  {
    name: 'own stall: peer ONLINE → yield whatever the rank',
    o: obs({ stalledAt: NOW - 10, peer: 'ONLINE', up: [true, true] }),
    m: HOLDING,
    op: 'stop',
  },
  {
    name: 'own stall: peer silent → no decision on old news, PROGRESS',
    o: obs({ stalledAt: NOW - 10, up: [true, false] }),
    m: HOLDING,
    op: 'none',
    check: (d) => assert.equal(d.word, 'PROGRESS'),
  },
  // Rule 9: liveness of the receiver.
  {
    name: 'receiver stale: start nothing new',
    o: obs({ receiverFresh: false }),
    op: 'none',
    check: (d) => assert.match(d.alarm!, /receiver/),
  },
  {
    name: 'receiver stale: keep what is held',
    o: obs({ receiverFresh: false, up: [true, true] }),
    m: HOLDING,
    op: 'none',
  },
  // Rule 9: liveness of our sender.
  {
    name: 'sender dead on the Active, peer ONLINE (it took over) → yield, rank 1 too',
    o: obs({ senderAlive: false, peer: 'ONLINE', up: [true, true] }),
    m: HOLDING,
    op: 'stop',
    check: (d) => assert.match(d.alarm!, /sender/),
  },
  {
    name: 'sender dead on the Active, peer OFFLINE → keep, alarm',
    o: obs({ senderAlive: false, peer: 'OFFLINE', up: [true, true] }),
    m: HOLDING,
    op: 'none',
    check: (d) => assert.match(d.alarm!, /sender/),
  },
  {
    name: 'sender dead on the Standby, peer silent → start nothing (the peer cannot hear us either)',
    o: obs({ senderAlive: false }),
    op: 'none',
    check: (d) => assert.match(d.alarm!, /sender/),
  },
  // Rule 12: the heartbeat path cut, the LAN not (the probes see the other holder).
  {
    name: 'rule 12: second in NODES, peer silent, another host has answered for what we hold for a DEADTIME: release',
    o: obs({
      rank: 2,
      splitYield: true,
      up: [true, true],
      split: { since: NOW - 1000, text: 'r0 answered by 02:00:00:00:00:01' },
      otherAnswers: { at: NOW - 10, text: 'r0 answered by 02:00:00:00:00:01' },
    }),
    m: HOLDING,
    op: 'stop',
    check: (d) => {
      assert.match(
        d.reason,
        /another host answers \(r0 answered by 02:00:00:00:00:01\) for 1000 ms: the first in NODES keeps/,
      );
      assert.match(d.alarm ?? '', /heartbeat path cut/);
      assert.equal(d.memory.cutYield, true, 'it remembers it yielded');
    },
  },
  {
    name: 'rule 12: … answered for less than a DEADTIME (a peer yielding, its gateway lost): keep for now',
    o: obs({ rank: 2, splitYield: true, up: [true, true], split: { since: NOW - 300, text: 'r0 answered by x' } }),
    m: HOLDING,
    op: 'none',
  },
  {
    name: 'rule 12: the first in NODES keeps, whoever else answers',
    o: obs({ rank: 1, splitYield: true, up: [true, true], split: { since: NOW - 5000, text: 'r0 answered by x' } }),
    m: HOLDING,
    op: 'none',
  },
  {
    name: 'rule 12: second in NODES, released to it, peer still silent, another host still answers: take nothing back',
    o: obs({ rank: 2, splitYield: true, otherAnswers: { at: NOW - 100, text: 'r0 answered by x' } }),
    m: mem({ cutYield: true, lastSettledPeer: 'ONLINE' }),
    op: 'none',
    check: (d) => assert.match(d.reason, /another host answers \(r0 answered by x\): not taking over/),
  },
  {
    name: 'rule 12: the first decision on a silence is never held back (a muted peer still answers): take over',
    o: obs({
      rank: 2,
      splitYield: true,
      peerSince: NOW - 1000,
      otherAnswers: { at: NOW - 10, text: 'r0 answered by x' },
    }),
    op: 'start',
  },
  {
    name: 'rule 12: released to it, and nobody answers any more (two probes): take over',
    o: obs({ rank: 2, splitYield: true, otherAnswers: null }),
    m: mem({ cutYield: true }),
    op: 'start',
  },
  {
    name: 'rule 12: the peer heard again: what we yielded is forgotten',
    o: obs({ rank: 2, peer: 'OFFLINE', peerSince: NOW - 100 }),
    m: mem({ cutYield: true }),
    op: 'none',
    check: (d) => assert.equal(d.memory.cutYield, false),
  },
  {
    name: 'rule 12: a peer never heard since we started (an address left up by an earlier run): keep',
    o: obs({ rank: 2, splitYield: true, up: [true, true], split: { since: NOW - 5000, text: 'r0 answered by x' } }),
    m: mem({ holding: true }),
    op: 'none',
  },
  {
    name: 'rule 12 off (SPLIT_YIELD=0, the default): a second holder is only seen, the second in NODES keeps',
    o: obs({ rank: 2, up: [true, true], split: { since: NOW - 5000, text: 'r0 answered by x' } }),
    m: HOLDING,
    op: 'none',
  },
  {
    name: 'rule 12: the first in NODES takes over a silent peer even while it answers (the other yields)',
    o: obs({ rank: 1, otherAnswers: { at: NOW - 100, text: 'r0 answered by x' } }),
    op: 'start',
  },
];

for (const r of rows) {
  test(r.name, () => {
    const d = decide(r.o, T, r.m ?? mem());
    assert.equal(d.op, r.op, `op (reason: ${d.reason})`);
    if (r.names) assert.deepEqual(d.names, r.names);
    assert.ok(d.reason.length > 0, 'every decision says why');
    r.check?.(d);
  });
}

test('GW_FAILS: a loss needs that many failed pings in a row', () => {
  const t3 = { ...T, gwFails: 3 };
  assert.equal(decide(obs({ gwFailStreak: 2, up: [true, true] }), t3, HOLDING).mute, false);
  assert.equal(decide(obs({ gwFailStreak: 3, up: [true, true] }), t3, HOLDING).mute, true);
});

test('muted for a DEADTIME, then deaf: a failed resource is not restarted until the peer is heard again (seed 687565)', () => {
  // Active, receiver dead; the gateway is lost long enough for the peer to count us silent.
  let m = HOLDING;
  const step = (p: Partial<Observation> & { up?: boolean[] }) => {
    const d = decide(obs({ receiverFresh: false, up: [true, true], ...p }), T, m);
    m = d.memory;
    return d;
  };
  step({ now: NOW, gwFailStreak: 1 });
  assert.equal(
    step({ now: NOW + 500, gwFailStreak: 1 }).memory.mutedOut ?? false,
    false,
    'half a DEADTIME: the peer still hears our last word',
  );
  assert.equal(
    step({ now: NOW + 1000, gwFailStreak: 1 }).memory.mutedOut,
    true,
    'a DEADTIME muted: the peer takes over',
  );
  // A resource fails while muted, then the gateway is back; still deaf.
  const back = step({ now: NOW + 5000, up: [false, true] });
  assert.equal(back.op, 'none', `not restarted while deaf (${back.reason})`);
  assert.match(back.reason, /peer has taken over/);
  assert.equal(back.mute, false, 'the heartbeat goes out again (OFFLINE: we hold nothing whole)');
  // The receiver is back but has not heard the peer yet: still no restart.
  const fresh = step({ now: NOW + 8000, startedAt: NOW + 7900, receiverFresh: true, up: [false, true] });
  assert.equal(fresh.op, 'none', `not before the peer is heard (${fresh.reason})`);
  // The peer is heard ONLINE: it took over, we stop what is left.
  const heard = step({
    now: NOW + 8100,
    startedAt: NOW + 7900,
    receiverFresh: true,
    peer: 'ONLINE',
    peerSince: NOW + 8050,
    up: [false, true],
  });
  assert.equal(heard.op, 'stop', heard.reason);
  assert.equal(heard.memory.mutedOut, false);
  // Had the peer stayed silent for the whole grace (it is dead too), the restart goes ahead.
  m = { ...HOLDING, mutedOut: true };
  const silent = step({ now: NOW + 9000, startedAt: NOW + 7900, receiverFresh: true, up: [false, true] });
  assert.equal(silent.op, 'restart', silent.reason);
});

test('deaf without a mute (receiver dead, gateway fine): a failed resource is restarted locally, as before', () => {
  const d = decide(obs({ receiverFresh: false, up: [false, true] }), T, HOLDING);
  assert.equal(d.op, 'restart', d.reason);
});

test('fix 8: start names in config order, stop acts on all', () => {
  const d = decide(obs({ up: [false, true, false] }), T, mem());
  assert.deepEqual(d.names, ['r0', 'r2']);
  const s = decide(obs({ peer: 'ONLINE', up: [true, true, false] }), T, mem());
  assert.deepEqual(s.names, ['r0', 'r1', 'r2']);
});

test('release detection survives a missed PROGRESS and needs ONLINE before', () => {
  let m = mem();
  m = decide(obs({ rank: 2, peer: 'ONLINE' }), T, m).memory;
  m = decide(obs({ rank: 2, peer: 'PROGRESS', peerSince: NOW }), T, m).memory;
  assert.equal(decide(obs({ rank: 2, peer: 'OFFLINE', peerSince: NOW }), T, m).op, 'start');
  // OFFLINE from the start is not a release: rank 2 waits
  assert.equal(decide(obs({ rank: 2, peer: 'OFFLINE', peerSince: NOW }), T, mem()).op, 'none');
});

test('restart counter resets after 10 healthy rounds', () => {
  let m = mem({ holding: true, restarts: 2 });
  m = decide(obs({ up: [true, true], now: NOW }), T, m).memory;
  assert.equal(m.restarts, 2);
  m = decide(obs({ up: [true, true], now: NOW + 10 * T.superviseInt }), T, m).memory;
  assert.equal(m.restarts, 0);
});

test('simulated pair: both start at once → exactly one holder, no later transition', () => {
  // Two nodes exchanging words every heartbeat; fake clock in 50 ms steps.
  type N = {
    rank: 1 | 2;
    up: boolean;
    m: Memory;
    word: 'ONLINE' | 'OFFLINE';
    since: number;
    heard: 'ONLINE' | 'OFFLINE' | null;
  };
  const nodes: N[] = [1, 2].map((rank) => ({
    rank: rank as 1 | 2,
    up: false,
    m: mem(),
    word: 'OFFLINE',
    since: 0,
    heard: null,
  }));
  let transitions = 0;
  for (let now = 0; now <= 60_000; now += 50) {
    for (const [i, n] of nodes.entries()) {
      const peer = nodes[1 - i]!;
      const heard = now >= 100 ? peer.word : null; // first heartbeats after 100 ms
      if (heard !== n.heard) {
        n.heard = heard;
        n.since = now;
      }
      const d = decide(obs({ now, rank: n.rank, up: [n.up], peer: heard, peerSince: n.since, startedAt: 0 }), T, n.m);
      n.m = d.memory;
      if (d.op === 'start' || d.op === 'restart') {
        n.up = true;
        transitions++;
      }
      if (d.op === 'stop') {
        n.up = false;
        transitions++;
      }
      n.word = n.up ? 'ONLINE' : 'OFFLINE';
    }
  }
  assert.equal(nodes.filter((n) => n.up).length, 1);
  assert.equal(nodes[0]!.up, true, 'the first in NODES holds');
  assert.equal(transitions, 1);
});
