// The config announcement (issue 21, item 4; docs/wire-format-auth.md §9): the
// version-2 frame byte by byte, its acceptance rules, the pure comparison and
// the alarm it makes, fed crafted buffers (no sockets). The version-1
// heartbeat frame must not change, and an announcement is never a heartbeat.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import {
  ANNOUNCE_MIN_LEN,
  type ConfigEntry,
  compareConfig,
  configTable,
  createHeartbeatCodec,
  describeDiff,
  encodeAnnouncement,
  encodeFrame,
  type HeartbeatCodec,
  KeyRing,
  MAX_ANNOUNCE_LEN,
  parseAnnouncement,
  parseFrame,
  restDigest,
  valueDigest,
} from '../../src/heartbeat/index.js';
import { PEER_CONFIG_STALE_MS, PeerConfigWatch } from '../../src/receiver/peer-config.js';
import { ANNOUNCE_EVERY_MS, announceDelay } from '../../src/sender/core.js';

const K1 = Buffer.alloc(32, 0x11);
const K2 = Buffer.alloc(48, 0x22);
const PEER = ['198.18.0.12'];
const PEER_IP = PEER[0]!;
const ring = (...keys: [number, Buffer][]) =>
  new KeyRing(
    '/test/authkey',
    keys.map(([id, key]) => ({ id, key })),
  );

interface Cfg {
  NODES: readonly [string, string];
  PORT: number;
  HEARTBEAT_INT: number;
  DEADTIME: number;
  resources: { name: string; args: string[] }[];
}
const BASE: Cfg = {
  NODES: ['lb1', 'lb2'],
  PORT: 4711,
  HEARTBEAT_INT: 200,
  DEADTIME: 1000,
  resources: [
    { name: 'ipaddr', args: ['192.168.42.20/24', 'eth0'] },
    { name: 'service', args: ['httpd'] },
  ],
};
const cfg = (over: Partial<Cfg> = {}) => configTable({ ...BASE, ...over });

/** The peer's sender (node 2, lb2) and our receiver (node 1, lb1), each with its own config table. */
function pair(peerTable: ConfigEntry[], ourTable: ConfigEntry[] = cfg(), generation = 100) {
  const sender = createHeartbeatCodec({
    auth: { keys: ring([1, K1]), localNode: 2, peerNode: 1, mode: 'enforce' },
    generation,
    configTable: peerTable,
  });
  const receiver = createHeartbeatCodec({
    auth: { keys: ring([1, K1]), localNode: 1, peerNode: 2, mode: 'enforce' },
    configTable: ourTable,
  });
  return { sender, receiver };
}

function judge(c: HeartbeatCodec, msg: Buffer, from = PEER_IP): string {
  const r = c.acceptAnnouncement(msg, from, PEER);
  if (r === null) return 'not-an-announcement';
  if (!r.ok) return r.reason;
  return describeDiff(r.diff, 'lb2', 'lb1') ?? 'same';
}

test('announcement: byte layout as documented, MAC over every byte before it, keyed digests', () => {
  const table = cfg();
  const b = encodeAnnouncement({ keyId: 7, node: 2, generation: 0x01020304, counter: 0x0102030405060708n }, table, K1);
  assert.equal(b.toString('latin1', 0, 3), 'PHA');
  assert.equal(b[3], 2, 'version 2');
  assert.equal(b[4], 7, 'key id');
  assert.equal(b[5], 2, 'node');
  assert.deepEqual([...b.subarray(6, 10)], [1, 2, 3, 4], 'generation u32 big-endian');
  assert.deepEqual([...b.subarray(10, 18)], [1, 2, 3, 4, 5, 6, 7, 8], 'counter u64 big-endian');
  assert.equal(b[18], 6, 'six entries by name');
  assert.equal(b.readUInt16BE(19), 0, 'nothing folded into the rest');
  assert.deepEqual(b.subarray(21, 25), restDigest(K1, []));
  let at = 25;
  for (const e of table) {
    assert.equal(b[at], e.name.length);
    assert.equal(b.toString('latin1', at + 1, at + 1 + e.name.length), e.name);
    const digest = crypto.createHmac('sha256', K1).update(`pha config value\0${e.name}\0${e.value}`).digest();
    assert.deepEqual(b.subarray(at + 1 + e.name.length, at + 5 + e.name.length), digest.subarray(0, 4));
    at += 5 + e.name.length;
  }
  assert.equal(b.length, at + 32);
  const mac = crypto.createHmac('sha256', K1).update(b.subarray(0, at)).digest();
  assert.deepEqual(b.subarray(at), mac);
  // The example config of docs/wire-format-auth.md: 138 bytes.
  assert.equal(b.length, 138);
  assert.equal(ANNOUNCE_MIN_LEN, 57);
  // No value on the wire: the address is not there in any form we chose.
  assert.ok(!b.includes(Buffer.from('192.168.42.20')) && !b.includes(Buffer.from('httpd')));
  assert.notDeepEqual(valueDigest(K1, table[4]!), valueDigest(K2, table[4]!), 'digests depend on the key');
  const p = parseAnnouncement(b)!;
  assert.equal(p.keyId, 7);
  assert.equal(p.counter, 0x0102030405060708n);
  assert.deepEqual(
    p.entries.map((e) => e.name),
    table.map((e) => e.name),
  );
});

test('same config: taken, no difference; every difference is named by key, never by value', () => {
  assert.equal(judge(pair(cfg()).receiver, pair(cfg()).sender.announcement()!), 'same');
  const deadtime = pair(cfg({ DEADTIME: 1500 }));
  assert.equal(
    judge(deadtime.receiver, deadtime.sender.announcement()!),
    'lb2 runs a different config: DEADTIME differs',
  );
  const two = pair(
    cfg({ DEADTIME: 1500, resources: [{ name: 'ipaddr', args: ['192.168.42.21/24', 'eth0'] }, BASE.resources[1]!] }),
  );
  assert.equal(
    judge(two.receiver, two.sender.announcement()!),
    'lb2 runs a different config: DEADTIME, RES_ipaddr differ',
  );
  // argument order and splitting count: ("a b") is not ("a", "b")
  const split = pair(cfg({ resources: [{ name: 'ipaddr', args: ['eth0', '192.168.42.20/24'] }, BASE.resources[1]!] }));
  assert.match(judge(split.receiver, split.sender.announcement()!), /RES_ipaddr differs/);
  const only = pair(cfg({ resources: [BASE.resources[0]!, { name: 'web', args: [] }] }));
  assert.equal(
    judge(only.receiver, only.sender.announcement()!),
    'lb2 runs a different config: RES_web only on lb2; RES_service only on lb1',
  );
  const nodes = pair(cfg({ NODES: ['lb1', 'lb3'], PORT: 4712, HEARTBEAT_INT: 100 }));
  assert.equal(
    judge(nodes.receiver, nodes.sender.announcement()!),
    'lb2 runs a different config: NODES, PORT, HEARTBEAT_INT differ',
  );
});

test('the version-1 heartbeat frame is unchanged; an announcement is never a heartbeat, a heartbeat never an announcement', () => {
  const { sender, receiver } = pair(cfg());
  const a = sender.announcement()!;
  // What a receiver of the previous release does with it (accept() is that code, unchanged): not-a-heartbeat.
  assert.deepEqual(receiver.accept(a, PEER_IP, PEER), { ok: false, reason: 'not-a-heartbeat' });
  assert.equal(parseFrame(a), null);
  const f = sender.encode('ONLINE');
  assert.equal(f.length, 57);
  assert.equal(f[3], 1, 'heartbeats stay version 1');
  assert.equal(judge(receiver, f), 'not-an-announcement');
  assert.equal(judge(receiver, Buffer.from('ONLINE')), 'not-an-announcement');
  assert.equal(receiver.accept(f, PEER_IP, PEER).ok, true);
  // Without a key nothing is announced and nothing is judged as an announcement.
  const plain = createHeartbeatCodec({ configTable: cfg() });
  assert.equal(plain.announcement(), null);
  assert.equal(plain.acceptAnnouncement(a, PEER_IP, PEER), null);
  assert.deepEqual(plain.accept(a, PEER_IP, PEER), { ok: false, reason: 'not-a-heartbeat' });
});

test('replays: the announcement counter is its own; reordering with heartbeats never drops a heartbeat', () => {
  const { sender, receiver } = pair(cfg());
  const sent: Buffer[] = [];
  for (let i = 0; i < 4; i++) sent.push(sender.encode('ONLINE'), sender.announcement()!);
  // delivered in reverse: the newest heartbeat and the newest announcement first
  const outcomes = sent.reverse().map((m) => {
    const a = receiver.acceptAnnouncement(m, PEER_IP, PEER);
    if (a) return a.ok ? 'announcement' : `announcement ${a.reason}`;
    const r = receiver.accept(m, PEER_IP, PEER);
    return r.ok ? 'heartbeat' : `heartbeat ${r.reason}`;
  });
  assert.deepEqual(outcomes, [
    'announcement',
    'heartbeat',
    'announcement replay',
    'heartbeat replay',
    'announcement replay',
    'heartbeat replay',
    'announcement replay',
    'heartbeat replay',
  ]);
  // Each announcement overtakes the heartbeat sent just before it: with one shared
  // sequence every heartbeat would be a replay; with its own counter all are taken.
  const p = pair(cfg());
  for (let i = 0; i < 5; i++) {
    const hb = p.sender.encode('ONLINE');
    assert.equal(judge(p.receiver, p.sender.announcement()!), 'same');
    assert.equal(p.receiver.accept(hb, PEER_IP, PEER).ok, true, `heartbeat ${i} after its announcement`);
  }
  const last = p.sender.announcement()!;
  assert.equal(judge(p.receiver, last), 'same');
  // The same bytes again are the same announcement by another heartbeat path (HB_PATHS): the same verdict, no drop.
  assert.equal(judge(p.receiver, last), 'same', 'the same announcement by another path');
  assert.equal(p.receiver.drops.replay, 0);
  const older = p.sender.announcement()!;
  assert.equal(judge(p.receiver, p.sender.announcement()!), 'same');
  assert.equal(judge(p.receiver, older), 'replay', 'an older announcement');
  // The peer restarted (a new generation): its old announcements are old news, also once
  // only the heartbeat has told us of the new generation.
  const restarted = pair(cfg(), cfg(), 101).sender;
  assert.equal(p.receiver.accept(restarted.encode('ONLINE'), PEER_IP, PEER).ok, true);
  assert.equal(judge(p.receiver, last), 'old-generation');
  assert.equal(judge(p.receiver, restarted.announcement()!), 'same');
  assert.equal(p.receiver.drops.replay, 1);
  assert.equal(p.receiver.drops['old-generation'], 1);
});

test('a tampered byte anywhere is never taken, with the reason of the field it hit', () => {
  const { sender } = pair(cfg());
  const good = sender.announcement()!;
  for (let i = 0; i < good.length; i++) {
    for (const flip of [0x01, 0x80, 0xff]) {
      const bad = Buffer.from(good);
      bad[i]! ^= flip;
      const why = judge(pair(cfg()).receiver, bad);
      let expected: string[];
      if (i < 3)
        expected = ['not-an-announcement']; // magic: goes on to the heartbeat rules
      else if (i === 3)
        expected = ['not-an-announcement']; // version: v1 or something else
      else if (i === 4) expected = ['unknown-key'];
      else if (i === 18 || (i >= 25 && i < good.length - 32))
        expected = ['not-a-heartbeat', 'bad-mac']; // count, name lengths, names: shape, else the MAC
      else expected = ['bad-mac']; // node, generation, counter, rest, digests, MAC
      assert.ok(expected.includes(why), `byte ${i} ^ 0x${flip.toString(16)}: ${why}, expected ${expected}`);
    }
  }
  assert.equal(judge(pair(cfg()).receiver, good), 'same', 'the untampered one is still good');
});

test('truncated, oversized, stranger, unknown key, wrong node', () => {
  const { sender, receiver } = pair(cfg());
  const good = sender.announcement()!;
  for (let len = 4; len < good.length; len++)
    assert.equal(judge(receiver, good.subarray(0, len)), 'not-a-heartbeat', `truncated to ${len}`);
  assert.equal(judge(receiver, Buffer.concat([good, Buffer.from([0])])), 'not-a-heartbeat');
  assert.equal(judge(receiver, Buffer.concat([good, Buffer.alloc(65000)])), 'not-a-heartbeat', '64 KiB');
  assert.equal(judge(receiver, good, '198.18.0.66'), 'not-from-peer');
  const stranger = createHeartbeatCodec({
    auth: { keys: ring([9, K2]), localNode: 2, peerNode: 1, mode: 'enforce' },
    generation: 1,
    configTable: cfg(),
  });
  assert.equal(judge(receiver, stranger.announcement()!), 'unknown-key');
  const sameIdOtherKey = createHeartbeatCodec({
    auth: { keys: ring([1, K2]), localNode: 2, peerNode: 1, mode: 'enforce' },
    generation: 1,
    configTable: cfg(),
  });
  assert.equal(judge(receiver, sameIdOtherKey.announcement()!), 'bad-mac');
  const own = createHeartbeatCodec({
    auth: { keys: ring([1, K1]), localNode: 1, peerNode: 2, mode: 'enforce' },
    generation: 1,
    configTable: cfg(),
  });
  assert.equal(judge(receiver, own.announcement()!), 'wrong-node', 'our own, reflected');
  assert.equal(judge(receiver, good), 'same', 'none of that used up the counter');
  // A key holder's frame with a name that could inject into a log line is refused by shape.
  const evil = encodeAnnouncement({ keyId: 1, node: 2, generation: 500, counter: 1n }, cfg(), K1);
  evil.write('N\nDES', 26, 'latin1');
  assert.equal(judge(receiver, evil), 'not-a-heartbeat');
});

test('rotation: an announcement signed with the second key of the ring is compared under that key', () => {
  const sender = createHeartbeatCodec({
    auth: { keys: ring([2, K2], [1, K1]), localNode: 2, peerNode: 1, mode: 'enforce' },
    generation: 1,
    configTable: cfg({ DEADTIME: 900 }),
  });
  const receiver = createHeartbeatCodec({
    auth: { keys: ring([1, K1], [2, K2]), localNode: 1, peerNode: 2, mode: 'enforce' },
    configTable: cfg(),
  });
  assert.equal(judge(receiver, sender.announcement()!), 'lb2 runs a different config: DEADTIME differs');
});

test('many resources: the datagram stays within 508 bytes, the rest is one digest and still compared', () => {
  const many = Array.from({ length: 200 }, (_, i) => ({
    name: `vip${i}`,
    args: [`10.0.${i >> 8}.${i & 255}/24`, 'eth0'],
  }));
  const table = cfg({ resources: many });
  const { sender, receiver } = pair(table, table);
  const a = sender.announcement()!;
  assert.ok(a.length <= MAX_ANNOUNCE_LEN, `${a.length} bytes`);
  const p = parseAnnouncement(a)!;
  assert.ok(p.entries.length > 20 && p.restCount > 100, `${p.entries.length} named, ${p.restCount} in the rest`);
  assert.equal(p.entries.length + p.restCount, table.length);
  assert.equal(judge(receiver, a), 'same');
  // one of the named ones differs: named; one of the rest differs: said, not named
  const named = many.map((r, i) => (i === 3 ? { ...r, args: ['10.9.9.9/24', 'eth0'] } : r));
  assert.equal(
    judge(
      pair(cfg({ resources: named }), table).receiver,
      pair(cfg({ resources: named }), table).sender.announcement()!,
    ),
    'lb2 runs a different config: RES_vip3 differs',
  );
  const hidden = many.map((r, i) => (i === 150 ? { ...r, args: ['10.9.9.9/24', 'eth0'] } : r));
  const h = pair(cfg({ resources: hidden }), table);
  assert.match(judge(h.receiver, h.sender.announcement()!), /^lb2 runs a different config: some of the \d+ keys/);
  // a resource only we have, beyond what the peer could name, also shows as a difference in the rest
  const more = pair(table, cfg({ resources: [...many, { name: 'extra', args: [] }] }));
  assert.match(judge(more.receiver, more.sender.announcement()!), /some of the \d+ keys/);
  // A name too long to send goes into the rest
  const longName = cfg({ resources: [{ name: `r${'x'.repeat(80)}`, args: [] }] });
  const l = pair(longName, longName);
  assert.equal(parseAnnouncement(l.sender.announcement()!)!.restCount, 1);
  assert.equal(judge(l.receiver, l.sender.announcement()!), 'same');
});

test('compareConfig: pure; keys only one side has; the rest digest is order-free', () => {
  const ours = cfg();
  const theirs = [...cfg()].reverse();
  const a = parseAnnouncement(encodeAnnouncement({ keyId: 1, node: 2, generation: 1, counter: 1n }, theirs, K1))!;
  assert.deepEqual(compareConfig(ours, a, K1), {
    differ: [],
    onlyPeer: [],
    onlyHere: [],
    restDiffers: false,
    restCount: 0,
  });
  assert.deepEqual(restDigest(K1, ours), restDigest(K1, theirs));
  const fewer = parseAnnouncement(
    encodeAnnouncement({ keyId: 1, node: 2, generation: 1, counter: 1n }, ours.slice(0, 4), K1),
  )!;
  assert.deepEqual(compareConfig(ours, fewer, K1).onlyHere, ['RES_ipaddr', 'RES_service']);
});

test('fuzz: random and mutated announcements never throw and are never taken unless genuine', () => {
  let seed = 21;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const int = (n: number) => Math.floor(rnd() * n);
  const { sender, receiver } = pair(cfg());
  const genuine = sender.announcement()!;
  let taken = 0;
  for (let i = 0; i < 20_000; i++) {
    let msg: Buffer;
    const kind = int(4);
    if (kind === 0) msg = Buffer.from(Array.from({ length: int(600) }, () => int(256)));
    else msg = Buffer.from(genuine);
    if (kind <= 1) Buffer.from('PHA\x02', 'latin1').copy(msg); // reach the parser
    if (kind === 2) for (let k = 1 + int(3); k > 0; k--) msg[int(msg.length)]! ^= 1 + int(255);
    if (kind === 3) msg = msg.subarray(0, int(msg.length));
    let r: ReturnType<HeartbeatCodec['acceptAnnouncement']>;
    try {
      r = receiver.acceptAnnouncement(msg, rnd() < 0.8 ? PEER_IP : '198.18.0.66', PEER);
    } catch (e) {
      assert.fail(`datagram ${i} (${msg.toString('hex')}) threw: ${(e as Error).message}`);
    }
    if (r?.ok) {
      taken++;
      assert.deepEqual(msg, genuine, `datagram ${i} taken but not genuine`);
    }
  }
  // Only the genuine bytes are ever taken (again as copies by another path: the same announcement).
  assert.ok(taken >= 1, 'the genuine one is taken');
});

test('PeerConfigWatch: differs → alarm; same → cleared; no announcement for 30 s → unknown, alarm cleared', () => {
  const w = new PeerConfigWatch('lb2', 'lb1');
  assert.equal(w.state, 'unknown');
  assert.equal(w.tick(1e9), null, 'unknown stays unknown, nothing said');
  const d = { differ: ['DEADTIME'], onlyPeer: [], onlyHere: [], restDiffers: false, restCount: 0 };
  const same = { differ: [], onlyPeer: [], onlyHere: [], restDiffers: false, restCount: 0 };
  assert.deepEqual(w.heard(d, 0), {
    state: 'differs',
    alarm: 'lb2 runs a different config: DEADTIME differs',
    level: 'warn',
    msg: 'lb2 runs a different config: DEADTIME differs',
  });
  assert.equal(w.heard(d, 5000), null, 'the same difference again: nothing new');
  assert.equal(w.tick(5000 + PEER_CONFIG_STALE_MS - 1), null);
  assert.equal(
    w.heard({ ...d, differ: ['DEADTIME', 'PORT'] }, 6000)?.alarm,
    'lb2 runs a different config: DEADTIME, PORT differ',
  );
  const back = w.heard(same, 7000)!;
  assert.equal(back.alarm, null);
  assert.equal(back.state, 'same');
  assert.match(back.msg, /same config again/);
  assert.equal(w.heard(d, 8000)?.state, 'differs');
  const stale = w.tick(8000 + PEER_CONFIG_STALE_MS)!;
  assert.equal(stale.state, 'unknown');
  assert.equal(stale.alarm, null);
  assert.equal(w.alarm, null);
});

test('cadence: the first three announcements a second apart, then every 5 s', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(announceDelay), [1000, 1000, 5000, 5000, 5000]);
  assert.equal(ANNOUNCE_EVERY_MS, 5000);
});

test('encodeAnnouncement refuses fields that do not fit the wire', () => {
  const ok = { keyId: 1, node: 1 as const, generation: 1, counter: 1n };
  assert.throws(() => encodeAnnouncement({ ...ok, keyId: 0 }, [], K1), RangeError);
  assert.throws(() => encodeAnnouncement({ ...ok, node: 3 as 1 }, [], K1), RangeError);
  assert.throws(() => encodeAnnouncement({ ...ok, generation: 2 ** 32 }, [], K1), RangeError);
  assert.throws(() => encodeAnnouncement({ ...ok, counter: 2n ** 64n }, [], K1), RangeError);
  // v1 frames are made as before
  assert.equal(encodeFrame({ ...ok, sequence: 1n, word: 'ONLINE' }, K1).length, 57);
});
