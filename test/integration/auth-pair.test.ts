// A real loopback pair with a heartbeat key (issue 9). Forgery from the
// peer's own address: a plain ONLINE, and a replay of the peer's captured
// frames (an HMAC is deterministic: a frame re-made from the key file with
// the peer's generation and an old sequence is byte for byte the frame it
// sent then). Neither may change RECEIVER_IN or block the failover.
// Enable after the sender and receiver use createHeartbeatCodec (issue 9, part G).

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { generationFile } from '../../src/heartbeat/generation.js';
import { encodeFrame, encodeHeartbeat, generateKey, writeKeyFile } from '../../src/heartbeat/index.js';
import type { Word } from '../../src/heartbeat/word.js';
import { cli, holds, killNode, makePair, type Pair, type PairNode, sleep, waitFor } from './pair-helpers.js';

const SKIP = {}; // enabled: the daemons use the codec on this branch
const KEY_ID = 5;

function statusOf(n: PairNode): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(path.join(n.dir, 'var', 'status.dat'), 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function port(n: PairNode): number {
  return Number(/^PORT=(\d+)$/m.exec(fs.readFileSync(n.config, 'utf8'))![1]);
}

/** A pair whose nodes share one key file (etc/authkey, 0600). */
async function withKeyedPair(fn: (p: Pair, key: Buffer) => Promise<void>) {
  const p = makePair({ AUTHKEY: 'etc/authkey' });
  const key = generateKey();
  try {
    for (const n of [p.a, p.b]) writeKeyFile(path.join(n.dir, 'etc', 'authkey'), [{ id: KEY_ID, key }]);
    await fn(p, key);
  } catch (e) {
    // What the survivor saw and decided: the failure's evidence.
    for (const d of ['receiver', 'supervise']) {
      try {
        const lines = fs
          .readFileSync(path.join(p.b.dir, 'var', `log.${d}`), 'utf8')
          .trim()
          .split('\n')
          .slice(-12);
        process.stderr.write(`--- ${p.b.name} log.${d} (last lines)\n${lines.join('\n')}\n`);
      } catch {
        /* no log */
      }
    }
    throw e;
  } finally {
    await p.cleanup();
  }
}

/** A socket bound to a node's address: what a forger with a raw socket can do on a LAN. */
async function spoofFrom(addr: string): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.bind(0, addr, () => res());
  });
  return s;
}

function send(s: dgram.Socket, msg: Buffer, toPort: number, to: string): Promise<void> {
  return new Promise((res, rej) => s.send(msg, toPort, to, (e) => (e ? rej(e) : res())));
}

test('keyed pair: a normal cold start, the Standby hears the Active through authenticated frames', SKIP, async () => {
  await withKeyedPair(async (p) => {
    assert.equal((await cli(p.a, ['start'])).code, 0);
    assert.ok(await waitFor(() => holds(p.a), 5000));
    assert.equal((await cli(p.b, ['start'])).code, 0);
    assert.ok(await waitFor(() => statusOf(p.b).RECEIVER_IN === 'ONLINE', 5000));
    assert.ok(!holds(p.b));
    const s = statusOf(p.b);
    for (const k of ['RECEIVER_DROP_BAD_MAC', 'RECEIVER_DROP_REPLAY', 'RECEIVER_DROP_PLAIN_REFUSED'])
      assert.equal(s[k] ?? 0, 0, k);
    assert.ok(fs.existsSync(generationFile(path.join(p.a.dir, 'var'))), 'the sender wrote its boot generation');
    assert.ok(
      fs.existsSync(path.join(p.b.dir, 'var', 'auth', 'auth-peer-generation')),
      "the receiver stored the peer's generation",
    );
  });
});

test(
  "keyed pair: a forged plain ONLINE from the dead peer's address changes nothing; the survivor takes over",
  SKIP,
  async () => {
    await withKeyedPair(async (p) => {
      await cli(p.a, ['start']);
      assert.ok(await waitFor(() => holds(p.a), 5000));
      await cli(p.b, ['start']);
      assert.ok(await waitFor(() => statusOf(p.b).RECEIVER_IN === 'ONLINE', 5000));
      const forger = await spoofFrom(p.a.name);
      const toPort = port(p.b);
      let forging = true;
      const loop = (async () => {
        while (forging) {
          await send(forger, encodeHeartbeat('ONLINE'), toPort, p.b.name).catch(() => {});
          await sleep(50);
        }
      })();
      try {
        // the holder dies while the forger keeps saying ONLINE in its name
        await killNode(p.a);
        fs.rmSync(p.a.held);
        assert.ok(await waitFor(() => holds(p.b), 6000), 'the survivor took over despite the forged ONLINE');
        assert.equal(statusOf(p.b).RECEIVER_IN, null, 'a forged plain word never becomes RECEIVER_IN');
        assert.ok(
          await waitFor(() => Number(statusOf(p.b).RECEIVER_DROP_PLAIN_REFUSED ?? 0) > 0, 5000),
          'counted as plain-refused',
        );
      } finally {
        forging = false;
        await loop;
        forger.close();
      }
    });
  },
);

test(
  'keyed pair: replayed captured frames of the peer are dropped as replay; the survivor takes over',
  SKIP,
  async () => {
    await withKeyedPair(async (p, key) => {
      await cli(p.a, ['start']);
      assert.ok(await waitFor(() => holds(p.a), 5000));
      await cli(p.b, ['start']);
      assert.ok(await waitFor(() => statusOf(p.b).RECEIVER_IN === 'ONLINE', 5000));
      await sleep(1000); // the peer has sent a few frames of its generation
      const generation = Number(fs.readFileSync(generationFile(path.join(p.a.dir, 'var')), 'utf8'));
      // a's first frames (node 1) as they were on the wire
      const captured = Array.from({ length: 3 }, (_, i) =>
        encodeFrame({ keyId: KEY_ID, node: 1, generation, sequence: BigInt(i + 1), word: 'ONLINE' as Word }, key),
      );
      const forger = await spoofFrom(p.a.name);
      const toPort = port(p.b);
      const since = statusOf(p.b).RECEIVER_IN_SINCE;
      for (const f of captured) await send(forger, f, toPort, p.b.name);
      assert.ok(
        await waitFor(() => Number(statusOf(p.b).RECEIVER_DROP_REPLAY ?? 0) >= captured.length, 5000),
        'each replayed frame counted as replay',
      );
      assert.equal(statusOf(p.b).RECEIVER_IN_SINCE, since, 'RECEIVER_IN untouched');
      let forging = true;
      const loop = (async () => {
        for (let i = 0; forging; i++) {
          await send(forger, captured[i % captured.length]!, toPort, p.b.name).catch(() => {});
          await sleep(50);
        }
      })();
      try {
        await killNode(p.a);
        fs.rmSync(p.a.held);
        assert.ok(await waitFor(() => holds(p.b), 6000), 'the survivor took over despite the replayed frames');
        assert.equal(statusOf(p.b).RECEIVER_IN, null);
      } finally {
        forging = false;
        await loop;
        forger.close();
      }
      // A receiver restart does not reopen the window: the receiver stores the
      // peer's newest (generation, sequence) when it stops, and loads it at start.
      assert.equal((await cli(p.b, ['re_sto'])).code, 0);
      assert.equal((await cli(p.b, ['re_sta'])).code, 0);
      assert.ok(await waitFor(() => statusOf(p.b).RECEIVER_DROP_REPLAY === 0, 5000), 'the new receiver counts from 0');
      const again = await spoofFrom(p.a.name);
      try {
        for (const f of captured) await send(again, f, toPort, p.b.name);
      } finally {
        again.close();
      }
      assert.ok(
        await waitFor(() => Number(statusOf(p.b).RECEIVER_DROP_REPLAY ?? 0) >= captured.length, 5000),
        'still replays after the receiver restart',
      );
      assert.equal(statusOf(p.b).RECEIVER_IN, null);
    });
  },
);

test(
  "keyed pair: 5000 forged, mutated and replayed datagrams from the peer's address and others never change RECEIVER_IN",
  SKIP,
  async () => {
    await withKeyedPair(async (p, key) => {
      await cli(p.a, ['start']);
      assert.ok(await waitFor(() => holds(p.a), 5000));
      await cli(p.b, ['start']);
      assert.ok(await waitFor(() => statusOf(p.b).RECEIVER_IN === 'ONLINE', 5000));
      await sleep(500);
      const since = statusOf(p.b).RECEIVER_IN_SINCE;
      const generation = Number(fs.readFileSync(generationFile(path.join(p.a.dir, 'var')), 'utf8'));
      const fromPeer = await spoofFrom(p.a.name);
      const stranger = await spoofFrom('127.0.0.3');
      const toPort = port(p.b);
      const wrongKey = generateKey();
      const dropsBefore = Number(statusOf(p.b).RECEIVER_DROPPED ?? 0);
      const N = 5000;
      try {
        for (let i = 0; i < N; i++) {
          // every datagram would say OFFLINE or PROGRESS: had one counted, RECEIVER_IN would change
          const word: Word = i % 2 ? 'OFFLINE' : 'PROGRESS';
          let msg: Buffer;
          switch (i % 5) {
            case 0:
              msg = encodeFrame({ keyId: KEY_ID, node: 1, generation, sequence: BigInt(1 + (i % 3)), word }, key);
              break; // replay-shaped
            case 1:
              msg = encodeFrame(
                { keyId: KEY_ID, node: 1, generation: generation + 1, sequence: BigInt(i), word },
                wrongKey,
              );
              break; // bad MAC
            case 2: {
              msg = encodeFrame({ keyId: KEY_ID, node: 1, generation: generation + 1, sequence: BigInt(i), word }, key);
              msg[6 + (i % 50)]! ^= 1 + (i % 255); // a valid frame, one byte tampered
              break;
            }
            case 3:
              msg = encodeHeartbeat(word);
              break; // plain-refused
            default:
              msg = Buffer.from(Array.from({ length: i % 120 }, (_, k) => (i * 31 + k * 7) & 0xff));
          }
          await send(i % 7 === 6 ? stranger : fromPeer, msg, toPort, p.b.name).catch(() => {});
          if (i % 100 === 99) await sleep(5); // stay under the socket's receive buffer
        }
        assert.ok(
          await waitFor(() => Number(statusOf(p.b).RECEIVER_DROPPED ?? 0) - dropsBefore >= N * 0.9, 10_000),
          'the drops are counted',
        );
        const s = statusOf(p.b);
        assert.equal(s.RECEIVER_IN, 'ONLINE');
        assert.equal(s.RECEIVER_IN_SINCE, since, 'RECEIVER_IN changed: a forged datagram was taken');
        assert.ok(holds(p.a) && !holds(p.b), 'the resources did not move');
      } finally {
        fromPeer.close();
        stranger.close();
      }
    });
  },
);
