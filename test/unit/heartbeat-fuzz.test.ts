// Fuzz of the receiver's acceptance: random and mutated datagrams, from the
// peer's address and others. Nothing throws, nothing is accepted but the
// genuinely new frames of the peer, and the acceptor keeps no per-datagram
// state (heap flat). A behaviour check, not a timing one.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { type AuthMode, createHeartbeatCodec, KeyRing } from '../../src/heartbeat/index.js';
import type { Word } from '../../src/heartbeat/word.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const PEER = ['198.18.0.12'];
const OTHERS = ['198.18.0.11', '198.18.0.66', '::ffff:198.18.0.13', '0.0.0.0'];
const WORDS: Word[] = ['ONLINE', 'OFFLINE', 'PROGRESS'];

/** A seeded PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  return { next, int, bytes, pick: <T>(xs: readonly T[]) => xs[int(xs.length)]! };
}

function fuzz(mode: AuthMode, n: number, seed: number) {
  const r = prng(seed);
  const keys = new KeyRing('/fuzz/authkey', [
    { id: 1, key: crypto.randomBytes(32) },
    { id: 2, key: crypto.randomBytes(64) },
  ]);
  const stolen = new KeyRing('/fuzz/other', [{ id: 1, key: crypto.randomBytes(32) }]);
  let generation = 1000;
  let sender = createHeartbeatCodec({ auth: { keys, localNode: 2, peerNode: 1, mode: 'enforce' }, generation });
  const forger = createHeartbeatCodec({
    auth: { keys: stolen, localNode: 2, peerNode: 1, mode: 'enforce' },
    generation: 5000,
  });
  const self = createHeartbeatCodec({ auth: { keys, localNode: 1, peerNode: 2, mode: 'enforce' }, generation: 5000 });
  const receiver = createHeartbeatCodec({ auth: { keys, localNode: 1, peerNode: 2, mode }, peerState: null });
  const delivered: Buffer[] = []; // frames the receiver has seen (replays and mutations start from these)
  let expectedAccepted = 0;
  let accepted = 0;
  let heapAtWarm = 0;

  for (let i = 0; i < n; i++) {
    if (i === 10_000) {
      gc();
      heapAtWarm = process.memoryUsage().heapUsed;
    }
    const fromPeer = r.next() < 0.8;
    const from = fromPeer ? r.pick(PEER) : r.pick(OTHERS);
    let msg: Buffer;
    let genuine = false;
    const kind = r.int(100);
    if (kind < 10) {
      // a genuinely new frame of the peer (now and then after a restart of its sender)
      if (r.next() < 0.01)
        sender = createHeartbeatCodec({
          auth: { keys, localNode: 2, peerNode: 1, mode: 'enforce' },
          generation: ++generation,
        });
      msg = sender.encode(r.pick(WORDS));
      genuine = fromPeer;
      if (fromPeer) {
        delivered.push(msg);
        if (delivered.length > 64) delivered.shift();
      }
    } else if (kind < 30) {
      msg = r.bytes(r.int(120));
      if (r.next() < 0.5) Buffer.from('PHA\x01', 'latin1').copy(msg); // reach the frame parser
    } else if (kind < 40) {
      msg = r.bytes(57 + r.int(3));
      Buffer.from('PHA\x01', 'latin1').copy(msg);
      msg[4] = r.pick([1, 2, 3]);
      msg[18] = msg.length - 51;
      msg.write(r.pick(WORDS), 19, 'latin1'); // shape right, MAC random
    } else if (kind < 70 && delivered.length) {
      // a captured frame: replayed as is, or mutated
      msg = Buffer.from(r.pick(delivered));
      const how = r.int(4);
      if (how === 0) {
        /* replay */
      } else if (how === 1) {
        for (let k = 1 + r.int(3); k > 0; k--) msg[r.int(msg.length)]! ^= 1 + r.int(255);
      } else if (how === 2) {
        msg = msg.subarray(0, r.int(msg.length));
      } else {
        msg = Buffer.concat([msg, r.bytes(1 + r.int(20))]);
      }
    } else if (kind < 80) {
      msg = r.next() < 0.5 ? forger.encode(r.pick(WORDS)) : self.encode(r.pick(WORDS)); // wrong key, own node
    } else {
      // plain words, exact or mangled
      msg = Buffer.from(r.pick(WORDS), 'ascii');
      if (r.next() < 0.5) msg[r.int(msg.length)]! ^= 1 + r.int(255);
      else genuine = fromPeer && mode === 'permissive';
    }
    if (genuine) expectedAccepted++;
    let res: ReturnType<typeof receiver.accept>;
    try {
      res = receiver.accept(msg, from, PEER);
    } catch (e) {
      assert.fail(`datagram ${i} (${msg.toString('hex')} from ${from}) threw: ${(e as Error).message}`);
    }
    if (res.ok) {
      accepted++;
      assert.ok(genuine, `datagram ${i} accepted but not genuine: ${msg.toString('hex')} from ${from}`);
    } else {
      assert.ok(!genuine, `datagram ${i} genuine but dropped as ${res.reason}`);
    }
  }
  gc();
  const heapGrowth = process.memoryUsage().heapUsed - heapAtWarm;
  const dropped = Object.values(receiver.drops).reduce((a, b) => a + b, 0);
  return {
    accepted,
    expectedAccepted,
    dropped,
    heapGrowth,
    drops: receiver.drops,
    plainAccepted: receiver.plainAccepted,
  };
}

for (const [mode, n, seed] of [
  ['enforce', 100_000, 9],
  ['permissive', 20_000, 10],
] as const) {
  test(`fuzz (${mode}): ${n} random and mutated datagrams: no throw, only genuine frames accepted, heap flat`, () => {
    const res = fuzz(mode, n, seed);
    assert.equal(res.accepted, res.expectedAccepted);
    assert.ok(res.accepted > n / 20, `too few genuine frames to mean anything: ${res.accepted}`);
    assert.equal(res.accepted + res.dropped, n, 'every datagram is accepted or counted by one reason');
    for (const reason of [
      'not-from-peer',
      'not-a-heartbeat',
      'bad-mac',
      'unknown-key',
      'wrong-node',
      'replay',
      'old-generation',
    ] as const) {
      assert.ok(
        res.drops[reason] > 0,
        `no ${reason} drop seen: the fuzz does not reach that rule (${JSON.stringify(res.drops)})`,
      );
    }
    if (mode === 'enforce') assert.ok(res.drops['plain-refused'] > 0);
    else assert.ok(res.plainAccepted > 0);
    // Generous slack: the acceptor keeps a fixed amount of state, so growth is GC noise.
    assert.ok(res.heapGrowth < 16 * 1024 * 1024, `heap grew by ${(res.heapGrowth / 1048576).toFixed(1)} MiB`);
  });
}
