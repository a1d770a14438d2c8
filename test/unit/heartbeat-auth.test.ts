// The authenticated heartbeat frame and the receiver's acceptance rules, fed
// crafted buffers (the codec has no sockets): each test is one row of
// docs/wire-format-auth.md.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import {
  type AuthMode,
  createHeartbeatCodec,
  DROP_REASONS,
  DropLogLimiter,
  dropStatusKey,
  dropStatusPatch,
  encodeFrame,
  encodeHeartbeat,
  FRAME_MAX_LEN,
  FRAME_MIN_LEN,
  type HeartbeatCodec,
  KeyRing,
  type PeerState,
  parseFrame,
} from '../../src/heartbeat/index.js';
import type { Word } from '../../src/heartbeat/word.js';

const K1 = Buffer.alloc(32, 0x11);
const K2 = Buffer.alloc(48, 0x22);
const K9 = Buffer.alloc(32, 0x99);
const PEER = ['198.18.0.12'];
const PEER_IP = PEER[0]!;
const STRANGER = '198.18.0.66';

const ring = (...keys: [number, Buffer][]) =>
  new KeyRing(
    '/test/authkey',
    keys.map(([id, key]) => ({ id, key })),
  );

/** The peer's sender (node 2) and our receiver (node 1) with the same keys. */
function pair(
  opts: {
    senderKeys?: KeyRing;
    receiverKeys?: KeyRing;
    generation?: number;
    mode?: AuthMode;
    peerState?: PeerState | null;
    onPeerState?: (s: PeerState, durable: boolean) => void;
  } = {},
) {
  const sender = createHeartbeatCodec({
    auth: { keys: opts.senderKeys ?? ring([1, K1]), localNode: 2, peerNode: 1, mode: 'enforce' },
    generation: opts.generation ?? 100,
  });
  const receiver = createHeartbeatCodec({
    auth: { keys: opts.receiverKeys ?? ring([1, K1]), localNode: 1, peerNode: 2, mode: opts.mode ?? 'enforce' },
    peerState: opts.peerState ?? null,
    onPeerState: opts.onPeerState,
  });
  return { sender, receiver };
}

function reason(c: HeartbeatCodec, msg: Buffer, from = PEER_IP): string {
  const r = c.accept(msg, from, PEER);
  return r.ok ? `ok:${r.word}` : r.reason;
}

test('frame: round trip of every word, byte layout as documented', () => {
  for (const word of ['ONLINE', 'OFFLINE', 'PROGRESS'] as Word[]) {
    const b = encodeFrame({ keyId: 7, node: 2, generation: 0x01020304, sequence: 0x0102030405060708n, word }, K1);
    assert.equal(b.length, 19 + word.length + 32);
    assert.equal(b.toString('latin1', 0, 3), 'PHA');
    assert.equal(b[3], 1, 'version');
    assert.equal(b[4], 7, 'key id');
    assert.equal(b[5], 2, 'node');
    assert.deepEqual([...b.subarray(6, 10)], [1, 2, 3, 4], 'generation u32 big-endian');
    assert.deepEqual([...b.subarray(10, 18)], [1, 2, 3, 4, 5, 6, 7, 8], 'sequence u64 big-endian');
    assert.equal(b[18], word.length);
    assert.equal(b.toString('latin1', 19, 19 + word.length), word);
    const mac = crypto
      .createHmac('sha256', K1)
      .update(b.subarray(0, 19 + word.length))
      .digest();
    assert.deepEqual(b.subarray(19 + word.length), mac, 'HMAC-SHA256 over all preceding bytes');
    const f = parseFrame(b)!;
    assert.equal(f.word, word);
    assert.equal(f.keyId, 7);
    assert.equal(f.node, 2);
    assert.equal(f.generation, 0x01020304);
    assert.equal(f.sequence, 0x0102030405060708n);
  }
  assert.equal(FRAME_MIN_LEN, 57);
  assert.equal(FRAME_MAX_LEN, 59);
});

test('encodeFrame refuses fields that do not fit the wire', () => {
  const ok = { keyId: 1, node: 1 as const, generation: 1, sequence: 1n, word: 'ONLINE' as Word };
  assert.throws(() => encodeFrame({ ...ok, keyId: 0 }, K1), RangeError);
  assert.throws(() => encodeFrame({ ...ok, keyId: 256 }, K1), RangeError);
  assert.throws(() => encodeFrame({ ...ok, node: 3 as 1 }, K1), RangeError);
  assert.throws(() => encodeFrame({ ...ok, generation: 2 ** 32 }, K1), RangeError);
  assert.throws(() => encodeFrame({ ...ok, sequence: 2n ** 64n }, K1), RangeError);
  assert.throws(() => encodeFrame({ ...ok, word: 'online' as Word }, K1), RangeError);
});

test('a valid frame from the peer is accepted with its generation and sequence; sequences grow from 1', () => {
  const { sender, receiver } = pair({ generation: 42 });
  for (let i = 1; i <= 5; i++) {
    const r = receiver.accept(sender.encode('ONLINE'), PEER_IP, PEER);
    assert.deepEqual(r, {
      ok: true,
      word: 'ONLINE',
      authenticated: true,
      fresh: true,
      lost: 0,
      generation: 42,
      sequence: BigInt(i),
    });
  }
  assert.deepEqual(receiver.peerState, { generation: 42, sequence: 5n });
  assert.equal(reason(receiver, sender.encode('OFFLINE'), `::ffff:${PEER_IP}`), 'ok:OFFLINE', 'IPv4-mapped source');
});

test('a tampered byte anywhere in the frame is never accepted, with the reason of the field it hit', () => {
  const { sender } = pair();
  for (const word of ['ONLINE', 'PROGRESS'] as Word[]) {
    const good = sender.encode(word);
    const n = word.length;
    for (let i = 0; i < good.length; i++) {
      for (const flip of [0x01, 0x80, 0xff]) {
        const { receiver } = pair();
        const bad = Buffer.from(good);
        bad[i]! ^= flip;
        const why = reason(receiver, bad);
        let expected: string[];
        if (i < 4 || i === 18 || (i >= 19 && i < 19 + n))
          expected = ['not-a-heartbeat']; // magic, version, length, word
        else if (i === 4)
          expected = ['unknown-key']; // key id: no such key
        else expected = ['bad-mac']; // node, generation, sequence, MAC
        assert.ok(
          expected.includes(why),
          `byte ${i} ^ 0x${flip.toString(16)} of ${word}: ${why}, expected ${expected}`,
        );
      }
    }
    // and the untampered frame is still good
    assert.equal(reason(pair().receiver, good), `ok:${word}`);
  }
});

test('truncated and oversized frames are not heartbeats', () => {
  const { sender, receiver } = pair();
  const good = sender.encode('OFFLINE');
  for (let len = 0; len < good.length; len++)
    assert.equal(reason(receiver, good.subarray(0, len)), 'not-a-heartbeat', `truncated to ${len}`);
  assert.equal(reason(receiver, Buffer.concat([good, Buffer.from([0])])), 'not-a-heartbeat', 'one byte more');
  assert.equal(reason(receiver, Buffer.concat([good, good])), 'not-a-heartbeat', 'two frames in one datagram');
  assert.equal(reason(receiver, Buffer.concat([good, Buffer.alloc(65000)])), 'not-a-heartbeat', '64 KiB');
  assert.equal(reason(receiver, good), 'ok:OFFLINE', 'the whole frame after all that');
});

test('wrong key id: a frame signed with a key we do not have is dropped as unknown-key', () => {
  const { sender, receiver } = pair({ senderKeys: ring([9, K9]) });
  assert.equal(reason(receiver, sender.encode('ONLINE')), 'unknown-key');
  // same id, different key: bad-mac
  const other = pair({ senderKeys: ring([1, K9]) });
  assert.equal(reason(other.receiver, other.sender.encode('ONLINE')), 'bad-mac');
});

test("wrong node: our own frame reflected back with the peer's source address is dropped", () => {
  const us = createHeartbeatCodec({
    auth: { keys: ring([1, K1]), localNode: 1, peerNode: 2, mode: 'enforce' },
    generation: 5,
  });
  const own = us.encode('ONLINE');
  assert.equal(reason(us, own), 'wrong-node');
  const forged = encodeFrame({ keyId: 1, node: 1, generation: 999, sequence: 1n, word: 'ONLINE' }, K1);
  assert.equal(reason(pair().receiver, forged), 'wrong-node');
});

test('replay: the last frame again, and any earlier frame of the generation, are dropped', () => {
  const { sender, receiver } = pair();
  const f1 = sender.encode('ONLINE');
  const f2 = sender.encode('OFFLINE');
  assert.equal(reason(receiver, f1), 'ok:ONLINE');
  assert.equal(reason(receiver, f2), 'ok:OFFLINE');
  assert.equal(reason(receiver, f2), 'replay', 'the last frame again');
  assert.equal(reason(receiver, f1), 'replay', 'an older frame (reordered or replayed)');
  assert.equal(reason(receiver, sender.encode('ONLINE')), 'ok:ONLINE', 'the next real frame');
  assert.equal(receiver.drops.replay, 2);
});

test('generations: an older one is dropped, a newer one is accepted even with a lower sequence', () => {
  const old = pair({ generation: 10 });
  const oldFrames = [old.sender.encode('ONLINE'), old.sender.encode('ONLINE'), old.sender.encode('ONLINE')];
  const { receiver } = old;
  for (const f of oldFrames) assert.equal(reason(receiver, f), 'ok:ONLINE');
  // the peer restarts: generation 11, sequence from 1 again
  const restarted = createHeartbeatCodec({
    auth: { keys: ring([1, K1]), localNode: 2, peerNode: 1, mode: 'enforce' },
    generation: 11,
  });
  assert.equal(reason(receiver, restarted.encode('PROGRESS')), 'ok:PROGRESS', 'newer generation, sequence 1 < 3');
  assert.deepEqual(receiver.peerState, { generation: 11, sequence: 1n });
  for (const f of oldFrames) assert.equal(reason(receiver, f), 'old-generation');
  assert.equal(reason(receiver, restarted.encode('ONLINE')), 'ok:ONLINE');
});

test('the persisted peer state closes the window after a receiver restart; the callback says when to write', () => {
  const writes: [PeerState, boolean][] = [];
  const a = pair({ generation: 20, onPeerState: (s, d) => writes.push([s, d]) });
  const frames = Array.from({ length: 40 }, () => a.sender.encode('ONLINE'));
  for (const f of frames.slice(0, 33)) assert.equal(reason(a.receiver, f), 'ok:ONLINE');
  // a new generation at once (durable), then a checkpoint every 16 accepted frames
  assert.deepEqual(writes, [
    [{ generation: 20, sequence: 1n }, true],
    [{ generation: 20, sequence: 17n }, false],
    [{ generation: 20, sequence: 33n }, false],
  ]);
  // the receiver restarts with what was persisted last
  const restarted = pair({ peerState: writes.at(-1)![0] }).receiver;
  for (const f of frames.slice(0, 33))
    assert.equal(reason(restarted, f), 'replay', 'everything up to the checkpoint is refused');
  assert.equal(reason(restarted, frames[33]!), 'ok:ONLINE');
  // an older generation than the stored one: dropped
  const older = createHeartbeatCodec({
    auth: { keys: ring([1, K1]), localNode: 2, peerNode: 1, mode: 'enforce' },
    generation: 19,
  });
  assert.equal(
    reason(pair({ peerState: { generation: 20, sequence: 1n } }).receiver, older.encode('ONLINE')),
    'old-generation',
  );
  // a throwing callback does not break accepting
  const c = pair({
    onPeerState: () => {
      throw new Error('disk full');
    },
  });
  assert.equal(reason(c.receiver, c.sender.encode('ONLINE')), 'ok:ONLINE');
});

test('rotation with two keys: frames signed by either verify; the first key signs', () => {
  const both = ring([2, K2], [1, K1]);
  assert.equal(both.signingId, 2);
  const oldSender = pair({ senderKeys: ring([1, K1]), receiverKeys: both, generation: 1 });
  assert.equal(reason(oldSender.receiver, oldSender.sender.encode('ONLINE')), 'ok:ONLINE', 'old key verifies');
  const newSender = createHeartbeatCodec({
    auth: { keys: both, localNode: 2, peerNode: 1, mode: 'enforce' },
    generation: 2,
  });
  const f = newSender.encode('ONLINE');
  assert.equal(f[4], 2, 'signed with the first key');
  assert.equal(reason(oldSender.receiver, f), 'ok:ONLINE', 'new key verifies');
  // a receiver that has only the old key does not know id 2
  assert.equal(reason(pair({ receiverKeys: ring([1, K1]) }).receiver, newSender.encode('ONLINE')), 'unknown-key');
  // a receiver that has both verifies a frame of the new key from a sender that has only the new key
  assert.equal(
    reason(
      pair({ receiverKeys: both }).receiver,
      encodeFrame({ keyId: 2, node: 2, generation: 3, sequence: 1n, word: 'OFFLINE' }, K2),
    ),
    'ok:OFFLINE',
  );
});

test('plain words: accepted and counted in permissive, refused in enforce; permissive sends frame and word', () => {
  const enforce = pair({ mode: 'enforce' }).receiver;
  const permissive = pair({ mode: 'permissive' }).receiver;
  for (const w of ['ONLINE', 'OFFLINE', 'PROGRESS'] as Word[]) {
    assert.equal(reason(enforce, encodeHeartbeat(w)), 'plain-refused');
    assert.deepEqual(permissive.accept(encodeHeartbeat(w), PEER_IP, PEER), {
      ok: true,
      word: w,
      authenticated: false,
      fresh: true,
      lost: 0,
    });
  }
  assert.equal(enforce.drops['plain-refused'], 3);
  assert.equal(permissive.plainAccepted, 3);
  assert.equal(
    reason(permissive, encodeHeartbeat('ONLINE'), STRANGER),
    'not-from-peer',
    "permissive still wants the peer's address",
  );
  assert.equal(reason(permissive, Buffer.from('ONLINE\n')), 'not-a-heartbeat');
  const p = createHeartbeatCodec({
    auth: { keys: ring([1, K1]), localNode: 2, peerNode: 1, mode: 'permissive' },
    generation: 1,
  });
  const dg = p.datagrams('ONLINE');
  assert.equal(dg.length, 2);
  assert.equal(parseFrame(dg[0]!)?.word, 'ONLINE');
  assert.deepEqual(dg[1], Buffer.from('ONLINE'));
  const e = createHeartbeatCodec({
    auth: { keys: ring([1, K1]), localNode: 2, peerNode: 1, mode: 'enforce' },
    generation: 1,
  });
  assert.equal(e.datagrams('ONLINE').length, 1);
  assert.equal(parseFrame(e.datagrams('ONLINE')[0]!)?.sequence, 2n, 'each datagram takes the next sequence');
});

test('without a key: the original plain words byte for byte; frames are not heartbeats', () => {
  const plain = createHeartbeatCodec();
  assert.equal(plain.mode, 'plain');
  for (const w of ['ONLINE', 'OFFLINE', 'PROGRESS'] as Word[]) {
    assert.deepEqual(plain.encode(w), Buffer.from(w, 'ascii'));
    assert.deepEqual(plain.datagrams(w), [Buffer.from(w, 'ascii')]);
    assert.deepEqual(plain.accept(Buffer.from(w), PEER_IP, PEER), {
      ok: true,
      word: w,
      authenticated: false,
      fresh: true,
      lost: 0,
    });
  }
  assert.equal(reason(plain, Buffer.from('ONLINE'), STRANGER), 'not-from-peer');
  assert.equal(reason(plain, pair().sender.encode('ONLINE')), 'not-a-heartbeat');
  assert.deepEqual(plain.drops, {
    ...Object.fromEntries(DROP_REASONS.map((r) => [r, 0])),
    'not-from-peer': 1,
    'not-a-heartbeat': 1,
  });
});

test('a stranger is dropped before any HMAC, even with a valid frame', () => {
  const { sender, receiver } = pair();
  const f = sender.encode('ONLINE');
  assert.equal(reason(receiver, f, STRANGER), 'not-from-peer');
  assert.equal(reason(receiver, f), 'ok:ONLINE', 'and it does not use up the sequence');
});

test('a frame without a generation cannot be made; the codec never shows a key', () => {
  const c = createHeartbeatCodec({ auth: { keys: ring([1, K1]), localNode: 1, peerNode: 2, mode: 'enforce' } });
  assert.throws(() => c.encode('ONLINE'), /generation/);
  const r = ring([3, K1], [4, K2]);
  assert.deepEqual(JSON.parse(JSON.stringify({ r })), { r: { file: '/test/authkey', ids: [3, 4], signingId: 3 } });
});

test('drop counters as status keys, and a log limiter of one line per reason per minute', () => {
  assert.equal(dropStatusKey('bad-mac'), 'RECEIVER_DROP_BAD_MAC');
  assert.equal(dropStatusKey('not-from-peer'), 'RECEIVER_DROP_NOT_FROM_PEER');
  const { receiver } = pair();
  receiver.accept(Buffer.from('x'), PEER_IP, PEER);
  receiver.accept(Buffer.from('ONLINE'), PEER_IP, PEER);
  const patch = dropStatusPatch(receiver.drops);
  assert.equal(patch.RECEIVER_DROPPED, 2);
  assert.equal(patch.RECEIVER_DROP_PLAIN_REFUSED, 1);
  assert.equal(patch.RECEIVER_DROP_NOT_A_HEARTBEAT, 1);
  assert.equal(Object.keys(patch).length, DROP_REASONS.length + 1);

  const lim = new DropLogLimiter(60_000);
  assert.equal(lim.note('bad-mac', 0, 1)?.since, 1, 'the first drop logs at once');
  assert.equal(lim.note('bad-mac', 1000, 2), null);
  assert.equal(lim.note('replay', 1000, 1)?.since, 1, 'each reason has its own minute');
  assert.equal(lim.note('bad-mac', 59_999, 50), null);
  const l = lim.note('bad-mac', 60_000, 51)!;
  assert.equal(l.since, 50, 'the next line carries the count since the last');
  assert.equal(l.total, 51);
  const counters = { ...receiver.drops, 'bad-mac': 70, replay: 1 };
  assert.deepEqual(lim.due(100_000, counters), [], 'within the minute: nothing due');
  assert.deepEqual(
    lim.due(120_000, counters).map((x) => [x.reason, x.since]),
    [['bad-mac', 19]],
    'a tick flushes what is pending',
  );
});

test('several paths: each frame counts once for the word, each copy for its own path; replays and gaps per path', () => {
  const { sender, receiver } = pair();
  const take = (msg: Buffer, path: number) => {
    const r = receiver.accept(msg, PEER_IP, PEER, path);
    return r.ok ? `${r.fresh ? 'fresh' : 'copy'}:${r.word}:lost${r.lost}` : r.reason;
  };
  const f1 = sender.encode('ONLINE');
  const f2 = sender.encode('ONLINE');
  const f3 = sender.encode('OFFLINE');
  assert.equal(take(f1, 0), 'fresh:ONLINE:lost0');
  assert.equal(take(f1, 1), 'copy:ONLINE:lost0', 'the same frame on path 2: that path is alive, the word is not new');
  assert.equal(take(f1, 1), 'replay', 'the same frame again on the same path');
  assert.equal(take(f3, 1), 'fresh:OFFLINE:lost1', 'path 2 first this time, and it missed f2');
  assert.equal(take(f2, 0), 'copy:ONLINE:lost0', 'f2 late on path 1: never the word (ordered), but path 1 lives');
  assert.equal(take(f3, 0), 'copy:OFFLINE:lost0');
  assert.equal(receiver.drops.replay, 1);
  // A receiver restarted with the peer's state: no path may carry a frame that old.
  const again = pair({ peerState: receiver.peerState });
  assert.equal(again.receiver.accept(f3, PEER_IP, PEER, 1).ok, false);
  assert.equal(again.receiver.drops.replay, 1);
});
