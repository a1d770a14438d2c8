// The notify hooks on a real loopback pair: each node tells its start-up
// state, then its transitions in order, with PHA_SEQ growing; `off` is told
// on both nodes after the scripts (the releasing node after its stops, the
// taking one after its starts); `stop` lets the queue finish.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cli, holds, makePair, type PairNode, sleep, waitFor } from './pair-helpers.js';

const HOOK = `#!/bin/sh
# A notify hook for the test: one line per call, and the resource as it was when called.
held=no; [ -e "$(dirname "$0")/../held" ] && held=yes
echo "$PHA_SEQ $1 $2 held=$held [$3]" >> "$(dirname "$0")/../notify.log"
`;

function installHook(n: PairNode): void {
  fs.mkdirSync(path.join(n.dir, 'res'), { recursive: true });
  fs.writeFileSync(path.join(n.dir, 'res', 'record'), HOOK, { mode: 0o755 });
  fs.chmodSync(path.join(n.dir, 'res', 'record'), 0o755);
}
const calls = (n: PairNode): string[] => {
  const f = path.join(n.dir, 'notify.log');
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim().split('\n') : [];
};
/** The calls' `<new> <old>` in order, and their PHA_SEQ. */
const told = (n: PairNode) => calls(n).map((l) => l.split(' ').slice(1, 3).join(' '));
const seqs = (n: PairNode) => calls(n).map((l) => Number(l.split(' ')[0]));

test('notify hooks: start-up state, then every transition in order, after the scripts, on both nodes', async () => {
  const p = makePair({ NOTIFY: 'record', NOTIFY_TIMEOUT: '5' });
  try {
    installHook(p.a);
    installHook(p.b);
    assert.equal((await cli(p.a, ['start'])).code, 0);
    // Alone, it starts Standby (nothing held), then takes over after the start-up grace.
    assert.ok(await waitFor(() => told(p.a).includes('Active Standby'), 6000), `a: ${calls(p.a).join(' | ')}`);
    assert.match(calls(p.a)[0]!, /^1 Standby UNKNOWN held=no \[startup\]$/);
    assert.match(
      calls(p.a)[1]!,
      /^2 Active Standby held=yes \[no heartbeat from the peer: taking over\]$/,
      'Active is told after the start script',
    );
    assert.equal((await cli(p.b, ['start'])).code, 0);
    assert.ok(await waitFor(() => told(p.b).includes('Standby UNKNOWN'), 6000), `b: ${calls(p.b).join(' | ')}`);
    assert.ok(await waitFor(() => told(p.a).includes('PEER_OK PEER_LOST'), 4000), `a: ${calls(p.a).join(' | ')}`);
    await sleep(500);
    const off = await cli(p.a, ['off']);
    assert.equal(off.code, 0, off.stdout + off.stderr);
    assert.ok(await waitFor(() => told(p.b).includes('Active Standby'), 4000), `b: ${calls(p.b).join(' | ')}`);
    assert.ok(await waitFor(() => told(p.a).includes('Standby Active'), 4000), `a: ${calls(p.a).join(' | ')}`);
    assert.ok(holds(p.b) && !holds(p.a));
    const aOff = calls(p.a).find((l) => / Standby Active /.test(l))!;
    assert.match(aOff, /held=no \[off: releasing/, 'Standby after off is told after the stops');
    assert.match(calls(p.b).find((l) => / Active Standby /.test(l))!, /held=yes \[peer released/);
    // In order: PHA_SEQ grows by one per call on each node.
    for (const n of [p.a, p.b]) {
      const s = seqs(n);
      assert.deepEqual(
        s,
        s.map((_, i) => i + 1),
        `${n.name}: ${calls(n).join(' | ')}`,
      );
    }
    assert.equal((await cli(p.a, ['stop'])).code, 0);
    assert.equal((await cli(p.b, ['stop'])).code, 0);
    // PHA_SEQ survives the restart: the next start-up call goes on counting.
    const before = seqs(p.b).length;
    assert.equal((await cli(p.b, ['start'])).code, 0);
    assert.ok(await waitFor(() => seqs(p.b).length > before, 6000), `b: ${calls(p.b).join(' | ')}`);
    assert.equal(seqs(p.b)[before], before + 1);
    assert.match(calls(p.b)[before]!, / UNKNOWN .*\[startup\]$/);
  } finally {
    await p.cleanup();
  }
});
