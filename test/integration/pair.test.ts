// A real two-node pair on this machine (loopback addresses, two install dirs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { cli, daemonPids, holds, makePair, sleep, waitUntil, watchHolders, type Pair } from './pair-helpers.js';

async function withPair(fn: (p: Pair) => Promise<void>, extra?: Record<string, string>) {
  const p = makePair(extra);
  try {
    await fn(p);
  } finally {
    await p.cleanup();
  }
}

test('cold start: the first node becomes Active, the second joins as Standby', async () => {
  await withPair(async (p) => {
    const r = await cli(p.a, [], 'start\nq\n');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await waitUntil(() => holds(p.a), 5000), 'first node holds the resource');
    const s = await cli(p.a, ['stat', '--json']);
    assert.equal(s.code, 0);
    assert.equal(JSON.parse(s.stdout).state, 'Active');
    assert.equal((await cli(p.b, ['start'])).code, 0);
    const w = await watchHolders(p, 4000);
    assert.equal(w.changes, 0, 'the joining node does not take the resources');
    assert.equal(w.last, 'a');
    const sb = JSON.parse((await cli(p.b, ['stat', '--json'])).stdout);
    assert.equal(sb.state, 'Standby');
    assert.equal(sb.status.RECEIVER_IN, 'ONLINE');
    assert.ok(sb.pids.sender > 0 && sb.pids.receiver > 0 && sb.pids.supervise > 0);
  });
});

test('both started at once: exactly one Active, the first in NODES, and no flapping', async () => {
  await withPair(async (p) => {
    const [ra, rb] = await Promise.all([cli(p.a, ['start']), cli(p.b, ['start'])]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    assert.ok(await waitUntil(() => holds(p.a) || holds(p.b), 5000));
    const w = await watchHolders(p, 5000);
    assert.equal(w.bothSamples, 0, 'never two holders');
    assert.equal(w.changes, 0, 'no transition after the first takeover');
    assert.equal(w.last, 'a', 'the first in NODES holds');
  });
});

test('killing the Active node (daemons SIGKILLed, resources gone) moves the resources to the other', async () => {
  await withPair(async (p) => {
    await cli(p.a, ['start']);
    assert.ok(await waitUntil(() => holds(p.a), 5000));
    await cli(p.b, ['start']);
    await sleep(1500);
    assert.ok(!holds(p.b));
    for (const pid of daemonPids(p.a)) process.kill(pid, 'SIGKILL');
    fs.rmSync(p.a.held);
    assert.ok(await waitUntil(() => holds(p.b), 5000), 'the survivor took over');
    const sa = await cli(p.a, ['stat']);
    assert.match(sa.stdout, /stale pid file/, 'stat says the pid files are stale');
    // a restart over stale pid files works (fix 12) and the node joins as Standby
    assert.equal((await cli(p.a, ['start'])).code, 0);
    const w = await watchHolders(p, 3000);
    assert.equal(w.last, 'b');
    assert.equal(w.changes, 0);
  });
});

test('off hands over with no moment of two holders', async () => {
  await withPair(async (p) => {
    await cli(p.a, ['start']);
    assert.ok(await waitUntil(() => holds(p.a), 5000));
    await cli(p.b, ['start']);
    await sleep(1500);
    const watch = watchHolders(p, 4000, 1);
    await sleep(200);
    const r = await cli(p.a, ['off']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const w = await watch;
    assert.equal(w.bothSamples, 0, 'never two holders');
    assert.equal(w.last, 'b', 'the peer holds');
    assert.equal(w.changes, 2, 'a → none → b (the gap) and nothing after');
    const sa = JSON.parse((await cli(p.a, ['stat', '--json'])).stdout);
    assert.equal(sa.state, 'Standby');
    assert.equal(sa.status.SENDER_RUN, 0, 'heartbeat paused');
    // off on the Standby is refused; on resumes the heartbeat
    const again = await cli(p.a, ['off']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /Active node only/);
    assert.equal((await cli(p.a, ['on'])).code, 0);
    assert.ok(await waitUntil(() => JSON.parse(fs.readFileSync(`${p.b.dir}/var/status.dat`, 'utf8')).RECEIVER_IN === 'OFFLINE', 3000));
    assert.ok(holds(p.b) && !holds(p.a));
  });
});

test('off without a peer heartbeat is refused unless forced', async () => {
  await withPair(async (p) => {
    await cli(p.a, ['start']);
    assert.ok(await waitUntil(() => holds(p.a), 5000));
    await sleep(600);
    const r = await cli(p.a, ['off']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refused/);
    assert.ok(holds(p.a));
  });
});

test('stop warns that resources are still UP; the documented safe shutdown hands over', async () => {
  await withPair(async (p) => {
    await cli(p.a, ['start']);
    assert.ok(await waitUntil(() => holds(p.a), 5000));
    await cli(p.b, ['start']);
    await sleep(1500);
    const r = await cli(p.a, [], 'stop\nres stop\nstat\nq\n');
    assert.match(r.stdout, /WARNING: resources still UP on this node: test/);
    assert.match(r.stdout, /\[127\.0\.0\.1:NOTRUNNING\] > /);
    assert.ok(!holds(p.a));
    assert.ok(await waitUntil(() => holds(p.b), 4000), 'the peer took over');
  });
});

test('a resource removed on the Active node is restored locally, not handed over', async () => {
  await withPair(async (p) => {
    await cli(p.a, ['start']);
    assert.ok(await waitUntil(() => holds(p.a), 5000));
    await cli(p.b, ['start']);
    await sleep(1500);
    fs.rmSync(p.a.held);
    assert.ok(await waitUntil(() => holds(p.a), 3000), 'restored on the same node');
    assert.ok(!holds(p.b));
  });
});

test('the init script drives pha-cli: start, status (LSB codes), stop', async () => {
  await withPair(async (p) => {
    const { execFile } = await import('node:child_process');
    const path = await import('node:path');
    const { ROOT, CLI } = await import('./pair-helpers.js');
    const init = (action: string) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        execFile(path.join(ROOT, 'etc', 'pha.init'), [action], { env: { ...process.env, PHA_CLI: CLI, PHA_CONFIG: p.a.config, INSTALLDIR: p.a.dir } }, (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
        );
      });
    assert.equal((await init('status')).code, 3, 'not running → 3');
    const s = await init('start');
    assert.equal(s.code, 0, s.out);
    assert.equal((await init('status')).code, 0, 'running → 0');
    assert.ok(await waitUntil(() => holds(p.a), 5000));
    assert.equal((await init('stop')).code, 0);
    assert.equal((await init('status')).code, 3);
    assert.equal((await init('bogus')).code, 2, 'bad usage → 2');
  });
});
