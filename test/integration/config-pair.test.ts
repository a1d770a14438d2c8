// A real loopback pair with a heartbeat key whose configs differ (issue 21,
// item 4): each node hears the other's config announcement, and both show the
// alarm naming the keys that differ (status file, `pha-cli stat`), while
// nothing moves. With the same config: no alarm. The RES_test of
// pair-helpers takes each node's own file as its argument (a difference by
// design), so these pairs use a resource script of their own whose argument
// is the same on both nodes.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { generationFile } from '../../src/heartbeat/generation.js';
import { configTable, encodeAnnouncement, generateKey, writeKeyFile } from '../../src/heartbeat/index.js';
import {
  cli,
  holds,
  killNode,
  makePair,
  type Pair,
  type PairNode,
  sleep,
  waitFor,
  watchHolders,
} from './pair-helpers.js';

function statusOf(n: PairNode): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(path.join(n.dir, 'var', 'status.dat'), 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** res/flag in the node's own INSTALLDIR: holds `<dir>/held`, whatever its argument. */
const FLAG = `#!/bin/sh
held="$(dirname "$0")/../held"
case "$1" in
start) touch "$held" ;;
stop) rm -f "$held" ;;
check) [ -f "$held" ] ;;
*) exit 2 ;;
esac
`;

/** A keyed pair; `configure(node, lines)` edits each node's config lines before the start. */
async function withPair(
  configure: (n: 1 | 2, lines: string[]) => string[],
  fn: (p: Pair, key: Buffer) => Promise<void>,
) {
  const p = makePair({ AUTHKEY: 'etc/authkey' });
  const key = generateKey();
  try {
    for (const [i, n] of [p.a, p.b].entries()) {
      writeKeyFile(path.join(n.dir, 'etc', 'authkey'), [{ id: 3, key }]);
      fs.mkdirSync(path.join(n.dir, 'res'), { mode: 0o755 });
      fs.writeFileSync(path.join(n.dir, 'res', 'flag'), FLAG, { mode: 0o755 });
      const lines = fs
        .readFileSync(n.config, 'utf8')
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('RES_test='));
      fs.writeFileSync(n.config, `${configure((i + 1) as 1 | 2, [...lines, 'RES_flag=vip']).join('\n')}\n`);
    }
    await fn(p, key);
  } finally {
    await p.cleanup();
  }
}

async function startPair(p: Pair) {
  assert.equal((await cli(p.a, ['start'])).code, 0);
  assert.ok(await waitFor(() => holds(p.a), 5000), 'a holds');
  assert.equal((await cli(p.b, ['start'])).code, 0);
  assert.ok(await waitFor(() => statusOf(p.b).RECEIVER_IN === 'ONLINE', 5000), 'b hears a');
}

test('configs differ (DEADTIME, a resource argument): both nodes alarm naming the keys; nothing moves', async () => {
  await withPair(
    (n, lines) => (n === 2 ? [...lines.filter((l) => l !== 'RES_flag=vip'), 'DEADTIME=1200', 'RES_flag=vip2'] : lines),
    async (p) => {
      await startPair(p);
      const since = statusOf(p.b).RECEIVER_IN_SINCE;
      // The first announcements go out a second apart, then every 5 s; a stamp within 2 s of a change
      // (it rests at 10 s otherwise): up to about 7 s, and a loaded machine adds to it.
      const alarmed = (n: PairNode) =>
        statusOf(n).RECEIVER_PEER_CONFIG === 'differs' &&
        String(statusOf(n).RECEIVER_ALARM ?? '').includes('runs a different config: DEADTIME, RES_flag differ');
      const during = watchHolders(p, 15_000, 20);
      assert.ok(await waitFor(() => alarmed(p.a) && alarmed(p.b), 15_000), 'both nodes alarm');
      assert.match(
        String(statusOf(p.a).RECEIVER_ALARM),
        /^127\.0\.0\.2 runs a different config: DEADTIME, RES_flag differ/,
      );
      assert.match(
        String(statusOf(p.b).RECEIVER_ALARM),
        /^127\.0\.0\.1 runs a different config: DEADTIME, RES_flag differ/,
      );
      const stat = await cli(p.b, ['stat']);
      assert.match(stat.stdout, /127\.0\.0\.1 runs a different config: DEADTIME, RES_flag differ/, stat.stdout);
      const json = JSON.parse((await cli(p.a, ['stat', '--json'])).stdout) as { alarms: string[] };
      assert.ok(
        json.alarms.some((a) => a.startsWith('127.0.0.2 runs a different config')),
        JSON.stringify(json.alarms),
      );
      // Never a failover: the holder stays, the peer's word is untouched, the announcements are no drops.
      const w = await during;
      assert.equal(w.changes, 0, 'no holder change');
      assert.equal(w.bothSamples, 0);
      assert.ok(holds(p.a) && !holds(p.b));
      const sb = statusOf(p.b);
      assert.equal(sb.RECEIVER_IN, 'ONLINE');
      assert.equal(sb.RECEIVER_IN_SINCE, since, "the peer's word did not change");
      for (const n of [p.a, p.b]) assert.equal(statusOf(n).RECEIVER_DROPPED, 0, `${n.name}: nothing dropped`);
    },
  );
});

test('same config: both nodes say same, no alarm', async () => {
  await withPair(
    (_n, lines) => lines,
    async (p) => {
      await startPair(p);
      assert.ok(
        await waitFor(
          () => statusOf(p.a).RECEIVER_PEER_CONFIG === 'same' && statusOf(p.b).RECEIVER_PEER_CONFIG === 'same',
          10_000,
        ),
        'both say same',
      );
      await sleep(2500); // a stamp or two more
      for (const n of [p.a, p.b]) {
        assert.doesNotMatch(String(statusOf(n).RECEIVER_ALARM ?? ''), /different config/);
        assert.equal(statusOf(n).RECEIVER_DROPPED, 0);
      }
      const json = JSON.parse((await cli(p.b, ['stat', '--json'])).stdout) as { alarms: string[] };
      assert.ok(!json.alarms.some((a) => /different config/.test(a)), JSON.stringify(json.alarms));
    },
  );
});

test('two heartbeat paths with a key: every frame and announcement arrives twice, nothing is a drop; stat shows both paths', async () => {
  const paths = 'HB_PATHS=127.0.0.1:127.0.0.1,127.0.1.1 127.0.0.2:127.0.0.2,127.0.1.2';
  await withPair(
    (_n, lines) => [...lines, paths],
    async (p) => {
      await startPair(p);
      assert.ok(
        await waitFor(
          () => statusOf(p.a).RECEIVER_PEER_CONFIG === 'same' && statusOf(p.b).RECEIVER_PEER_CONFIG === 'same',
          10_000,
        ),
        'both say same',
      );
      await sleep(2500); // a stamp or two more
      for (const n of [p.a, p.b]) {
        assert.equal(statusOf(n).RECEIVER_DROPPED, 0, `${n.name}: no copy by the second path is a drop`);
        const stat = (await cli(n, ['stat'])).stdout;
        for (const k of [1, 2])
          assert.match(
            stat,
            new RegExp(`heartbeat path ${k} \\S+ → \\S+: heard \\d+\\.\\d s ago, \\d+ datagrams, 0 lost`),
          );
        assert.doesNotMatch(stat, /ALARM: heartbeat path/);
      }
    },
  );
});

test('announcements never keep a dead peer alive: genuine ones in its name every 100 ms, the survivor takes over', async () => {
  await withPair(
    (_n, lines) => lines,
    async (p, key) => {
      await startPair(p);
      assert.ok(await waitFor(() => statusOf(p.b).RECEIVER_PEER_CONFIG === 'same', 10_000));
      const generation = Number(fs.readFileSync(generationFile(path.join(p.a.dir, 'var')), 'utf8'));
      const table = configTable(await loadConfig(p.a.config));
      const port = Number(/^PORT=(\d+)$/m.exec(fs.readFileSync(p.a.config, 'utf8'))![1]);
      // What a's sender would send next (a key holder's frames, from a's address): they verify and are taken.
      const forger = dgram.createSocket('udp4');
      await new Promise<void>((res) => forger.bind(0, p.a.name, () => res()));
      let sending = true;
      const loop = (async () => {
        for (let counter = 1000n; sending; counter++) {
          const d = encodeAnnouncement({ keyId: 3, node: 1, generation, counter }, table, key);
          await new Promise<void>((res) => forger.send(d, port, p.b.name, () => res()));
          await sleep(100);
        }
      })();
      try {
        await killNode(p.a);
        fs.rmSync(p.a.held);
        assert.ok(await waitFor(() => holds(p.b), 6000), 'the survivor took over despite the announcements');
        const s = statusOf(p.b);
        assert.equal(s.RECEIVER_IN, null, 'an announcement is no heartbeat');
        assert.equal(s.RECEIVER_PEER_CONFIG, 'same', 'and the announcements were taken all along');
        assert.equal(s.RECEIVER_DROPPED, 0);
      } finally {
        sending = false;
        await loop;
        forger.close();
      }
    },
  );
});
