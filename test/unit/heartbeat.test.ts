// The heartbeat wire format (the original's bare ASCII word) and the receiver
// on a real loopback socket: only the peer's exact words count.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { buildConfig, parseConfigText } from '../../src/config/index.js';
import { decodeHeartbeat, encodeHeartbeat, isFromPeer } from '../../src/heartbeat/index.js';
import { startReceiver } from '../../src/receiver/shell.js';
import { type Status, StatusStore } from '../../src/status-store/index.js';
import { expectWithin, sleep } from '../helpers/wait.js';

test('encode gives exactly the ASCII bytes of the word, no newline', () => {
  assert.deepEqual(encodeHeartbeat('ONLINE'), Buffer.from([0x4f, 0x4e, 0x4c, 0x49, 0x4e, 0x45]));
  assert.deepEqual(encodeHeartbeat('OFFLINE'), Buffer.from([0x4f, 0x46, 0x46, 0x4c, 0x49, 0x4e, 0x45]));
  assert.deepEqual(encodeHeartbeat('PROGRESS'), Buffer.from([0x50, 0x52, 0x4f, 0x47, 0x52, 0x45, 0x53, 0x53]));
  for (const w of ['ONLINE', 'OFFLINE', 'PROGRESS'] as const) {
    const b = encodeHeartbeat(w);
    assert.equal(b.length, w.length);
    assert.ok(!b.includes(0x0a) && !b.includes(0x0d) && !b.includes(0x00));
  }
});

test('decode accepts exactly ONLINE, OFFLINE and PROGRESS', () => {
  assert.equal(decodeHeartbeat(Buffer.from('ONLINE', 'ascii')), 'ONLINE');
  assert.equal(decodeHeartbeat(Buffer.from('OFFLINE', 'ascii')), 'OFFLINE');
  assert.equal(decodeHeartbeat(Buffer.from('PROGRESS', 'ascii')), 'PROGRESS');
  for (const w of ['ONLINE', 'OFFLINE', 'PROGRESS'] as const) assert.equal(decodeHeartbeat(encodeHeartbeat(w)), w);
});

test('decode rejects anything that is not exactly a word', () => {
  const bad: [string, Buffer][] = [
    ['ONLINE\\n', Buffer.from('ONLINE\n')],
    ['ONLINE\\r\\n', Buffer.from('ONLINE\r\n')],
    ['ONLINE\\0', Buffer.from('ONLINE\0')],
    [' ONLINE', Buffer.from(' ONLINE')],
    ['online', Buffer.from('online')],
    ['Online', Buffer.from('Online')],
    ['empty', Buffer.alloc(0)],
    ['ONLINEX', Buffer.from('ONLINEX')],
    ['PROGRES', Buffer.from('PROGRES')],
    ['PROGRESSS', Buffer.from('PROGRESSS')],
    ['OFFLIN', Buffer.from('OFFLIN')],
    ['ONLIN', Buffer.from('ONLIN')],
    ['UTF-16 ONLINE', Buffer.from('ONLINE', 'utf16le')],
    ['64 KiB', Buffer.alloc(64 * 1024, 0x41)],
    ['64 KiB starting with ONLINE', Buffer.concat([Buffer.from('ONLINE'), Buffer.alloc(64 * 1024 - 6)])],
    ['high bytes', Buffer.from([0xcf, 0x4e, 0x4c, 0x49, 0x4e, 0x45])],
  ];
  for (const [name, b] of bad) assert.equal(decodeHeartbeat(b), null, name);
  for (let i = 0; i < 2000; i++) {
    const b = crypto.randomBytes(i % 20);
    const s = b.toString('latin1');
    if (s === 'ONLINE' || s === 'OFFLINE' || s === 'PROGRESS') continue;
    assert.equal(decodeHeartbeat(b), null, b.toString('hex'));
  }
});

test('isFromPeer: plain and IPv4-mapped IPv6 addresses, exact matches only', () => {
  const peer = ['127.0.0.2', '10.0.0.7'];
  assert.equal(isFromPeer('127.0.0.2', peer), true);
  assert.equal(isFromPeer('10.0.0.7', peer), true);
  assert.equal(isFromPeer('::ffff:127.0.0.2', peer), true);
  assert.equal(isFromPeer('::ffff:10.0.0.7', peer), true);
  assert.equal(isFromPeer('127.0.0.3', peer), false);
  assert.equal(isFromPeer('::ffff:127.0.0.3', peer), false);
  assert.equal(isFromPeer('127.0.0.20', peer), false);
  assert.equal(isFromPeer('27.0.0.2', peer), false);
  assert.equal(isFromPeer('::1', peer), false);
  assert.equal(isFromPeer('', peer), false);
  assert.equal(isFromPeer('127.0.0.2', []), false);
});

// ---- the receiver on real sockets ----

async function freeUdpPort(addr: string): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.bind(0, addr, () => res());
  });
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function boundSocket(addr: string): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.bind(0, addr, () => res());
  });
  return s;
}

function send(s: dgram.Socket, msg: Buffer | string, port: number): Promise<void> {
  return new Promise((res, rej) =>
    s.send(typeof msg === 'string' ? Buffer.from(msg, 'ascii') : msg, port, '127.0.0.1', (e) => (e ? rej(e) : res())),
  );
}

test("receiver: stores the peer's word, drops everything else, nulls on silence, survives junk", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-hb-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const port = await freeUdpPort('127.0.0.1');
  const file = path.join(dir, 'etc', 'config');
  const cfgText = `INSTALLDIR=${dir}\nNODES=127.0.0.1 127.0.0.2\nNODENAME=127.0.0.1\nPORT=${port}\nHEARTBEAT_INT=50\nDEADTIME=200\n`;
  const config = await buildConfig(parseConfigText(cfgText, file), { env: {} });
  assert.deepEqual(config.peer.addrs, ['127.0.0.2']);
  const problems: string[] = [];
  const store = new StatusStore({ file: path.join(dir, 'var', 'status.dat'), onProblem: (m) => problems.push(m) });
  // an old word left in the file is not believed after a restart
  await store.update({ RECEIVER_IN: 'ONLINE' });
  const log = pino({ level: 'silent' });
  const peer = await boundSocket('127.0.0.2');
  const stranger = await boundSocket('127.0.0.3');
  let keepalive: NodeJS.Timeout | undefined;
  const receiver = await startReceiver({ config, log, store });
  try {
    const read = (): Status => store.read();
    assert.equal(read().RECEIVER_IN, null, 'a word from an earlier run must not survive the start');
    assert.equal(typeof read().RECEIVER_STARTED_AT, 'number');

    // The peer speaks: RECEIVER_IN becomes its word.
    keepalive = setInterval(() => void send(peer, 'ONLINE', port).catch(() => {}), 50);
    await expectWithin('RECEIVER_IN = ONLINE', () => read().RECEIVER_IN === 'ONLINE', 2000);
    const since = read().RECEIVER_IN_SINCE;
    assert.equal(typeof since, 'number');
    // Let the dropped-counter stamp settle at 0 before the junk arrives.
    await expectWithin('RECEIVER_DROPPED stamped', () => read().RECEIVER_DROPPED === 0, 3000);

    // Garbage from the peer and a valid word from a stranger: all dropped. Had
    // any counted, RECEIVER_IN would have changed (OFFLINE/PROGRESS, then back to
    // ONLINE) and RECEIVER_IN_SINCE with it.
    const junk: (Buffer | string)[] = [
      'OFFLINE\n',
      'offline',
      'PROGRES',
      'OFFLINEX',
      ' OFFLINE',
      Buffer.alloc(0),
      Buffer.from('PROGRESS', 'utf16le'),
      crypto.randomBytes(300),
    ];
    for (const j of junk) await send(peer, j, port);
    for (const w of ['OFFLINE', 'PROGRESS', 'ONLINE']) await send(stranger, w, port);
    const nDropped = junk.length + 3;
    await expectWithin(`RECEIVER_DROPPED = ${nDropped}`, () => read().RECEIVER_DROPPED === nDropped, 3000);
    const s = read();
    assert.equal(s.RECEIVER_IN, 'ONLINE');
    assert.equal(
      s.RECEIVER_IN_SINCE,
      since,
      'RECEIVER_IN changed in between: a dropped datagram was taken as a heartbeat',
    );

    // A real change of the peer's word is taken.
    clearInterval(keepalive);
    let lastSent = 0;
    keepalive = setInterval(() => {
      lastSent = Date.now();
      void send(peer, 'OFFLINE', port).catch(() => {});
    }, 50);
    await expectWithin('RECEIVER_IN = OFFLINE', () => read().RECEIVER_IN === 'OFFLINE', 1000);

    // The peer goes silent: null after about DEADTIME (200 ms) from its last word.
    clearInterval(keepalive);
    keepalive = undefined;
    await expectWithin('RECEIVER_IN = null after silence', () => read().RECEIVER_IN === null, 1500);
    const took = Date.now() - lastSent;
    assert.ok(took >= 195, `nulled ${took} ms after the last heartbeat, before DEADTIME (200)`);
    assert.ok(took < 1000, `nulled ${took} ms after the last heartbeat, DEADTIME is 200`);

    // Silence is not a dropped datagram; junk alone does not revive the peer.
    const before = read().RECEIVER_DROPPED!;
    for (let i = 0; i < 1000; i++) {
      let b = crypto.randomBytes(Math.floor(Math.random() * 1400));
      if (b.length >= 6 && b.length <= 8) b = Buffer.concat([Buffer.from([0]), b]); // never a word by chance
      await send(i % 4 === 3 ? stranger : peer, i % 4 === 3 ? 'ONLINE' : b, port);
      if (i % 50 === 49) await sleep(5); // stay under the socket's receive buffer: count them all
    }
    await expectWithin('1000 more dropped', () => read().RECEIVER_DROPPED === before + 1000, 3500).catch((e) => {
      throw new Error(`${e.message} (dropped went ${before} -> ${read().RECEIVER_DROPPED})`);
    });
    assert.equal(read().RECEIVER_IN, null);

    // ...and the receiver still works.
    keepalive = setInterval(() => void send(peer, 'PROGRESS', port).catch(() => {}), 50);
    await expectWithin('RECEIVER_IN = PROGRESS after the junk', () => read().RECEIVER_IN === 'PROGRESS', 1000);
    clearInterval(keepalive);
    keepalive = undefined;
    assert.deepEqual(problems, []);
  } finally {
    if (keepalive) clearInterval(keepalive);
    await receiver.stop();
    peer.close();
    stranger.close();
  }
  // stop() resets the keys it owns (the peer's word is unknown now, not "silent") and frees the port
  const final = store.read();
  assert.equal('RECEIVER_IN' in final, false);
  assert.equal(final.RECEIVER_AT, undefined);
  const again = dgram.createSocket('udp4');
  await new Promise<void>((res, rej) => {
    again.once('error', rej);
    again.bind(port, '127.0.0.1', () => res());
  });
  again.close();
});
