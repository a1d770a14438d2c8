// A real two-node pair on this machine (loopback addresses, two install dirs).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  CLI,
  cli,
  daemonPids,
  holds,
  killNode,
  makePair,
  type Pair,
  ROOT,
  sleep,
  waitFor,
  watchHolders,
} from './pair-helpers.js';

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
    assert.ok(await waitFor(() => holds(p.a), 5000), 'first node holds the resource');
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

test('NICE: every thread of the three daemons runs at the configured priority', async () => {
  await withPair(
    async (p) => {
      assert.equal((await cli(p.a, ['start'])).code, 0);
      assert.ok(await waitFor(() => holds(p.a), 5000));
      const pids = daemonPids(p.a);
      assert.equal(pids.length, 3);
      for (const pid of pids)
        for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
          const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
          // field 19 (nice): the 17th after the ") " that ends the command name
          assert.equal(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16], '-5', `pid ${pid} thread ${tid}`);
        }
    },
    { NICE: '-5' },
  );
});

test('both started at once: exactly one Active, the first in NODES, and no flapping', async () => {
  await withPair(async (p) => {
    const [ra, rb] = await Promise.all([cli(p.a, ['start']), cli(p.b, ['start'])]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    assert.ok(await waitFor(() => holds(p.a) || holds(p.b), 5000));
    const w = await watchHolders(p, 5000);
    assert.equal(w.bothSamples, 0, 'never two holders');
    assert.equal(w.changes, 0, 'no transition after the first takeover');
    assert.equal(w.last, 'a', 'the first in NODES holds');
  });
});

test('killing the Active node (daemons SIGKILLed, resources gone) moves the resources to the other', async () => {
  await withPair(async (p) => {
    await cli(p.a, ['start']);
    assert.ok(await waitFor(() => holds(p.a), 5000));
    await cli(p.b, ['start']);
    await sleep(1500);
    assert.ok(!holds(p.b));
    await killNode(p.a);
    fs.rmSync(p.a.held);
    assert.ok(await waitFor(() => holds(p.b), 5000), 'the survivor took over');
    // The takeover's timeline: the silence as the receiver measured it, the decision, the start, the total.
    const told = async () => JSON.parse((await cli(p.b, ['history', '1', '--json'])).stdout)[0];
    assert.ok(await waitFor(async () => (await told())?.now === 'Active', 3000), 'the history has the takeover');
    const e = await told();
    const t = e.timeline;
    assert.equal(e.old, 'Standby');
    assert.equal(t.cause, 'silent', JSON.stringify(e));
    assert.ok(
      t.detectMs >= 1000 && t.detectMs < 1600,
      `silent after DEADTIME (1000 ms) and a timer's lateness: ${t.detectMs}`,
    );
    assert.deepEqual(
      t.scripts.map((s: { name: string; op: string; code: number }) => [s.name, s.op, s.code]),
      [['test', 'start', 0]],
    );
    const sum = t.detectMs + t.decideMs + t.scripts[0].ms;
    assert.ok(
      t.totalMs >= sum && t.totalMs < sum + 500,
      `total ${t.totalMs} ms: the phases (${sum} ms) and little else`,
    );
    assert.ok(Math.abs(e.at - (t.beganAt + t.totalMs)) < 100, 'the total ends when the state was told');
    const sb = (await cli(p.b, ['stat'])).stdout;
    assert.match(
      sb,
      /last transition: \d\d:\d\d:\d\d Standby -> Active \(no heartbeat from the peer\): silent after \d+ ms, decided \+\d+ ms, test start \d+ ms, total \d+ ms/,
    );
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
    assert.ok(await waitFor(() => holds(p.a), 5000));
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
    assert.ok(
      await waitFor(
        () => JSON.parse(fs.readFileSync(`${p.b.dir}/var/status.dat`, 'utf8')).RECEIVER_IN === 'OFFLINE',
        3000,
      ),
    );
    assert.ok(holds(p.b) && !holds(p.a));
  });
});

test('off without a peer heartbeat is refused unless forced', async () => {
  await withPair(async (p) => {
    await cli(p.a, ['start']);
    assert.ok(await waitFor(() => holds(p.a), 5000));
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
    assert.ok(await waitFor(() => holds(p.a), 5000));
    await cli(p.b, ['start']);
    await sleep(1500);
    const r = await cli(p.a, [], 'stop\nres stop\nstat\nq\n');
    assert.match(r.stdout, /WARNING: resources still UP on this node: test/);
    assert.match(r.stdout, /\[127\.0\.0\.1:NOTRUNNING\] > /);
    assert.ok(!holds(p.a));
    assert.ok(await waitFor(() => holds(p.b), 4000), 'the peer took over');
  });
});

test('a resource removed on the Active node is restored locally, not handed over', async () => {
  await withPair(async (p) => {
    await cli(p.a, ['start']);
    assert.ok(await waitFor(() => holds(p.a), 5000));
    await cli(p.b, ['start']);
    await sleep(1500);
    fs.rmSync(p.a.held);
    assert.ok(await waitFor(() => holds(p.a), 3000), 'restored on the same node');
    assert.ok(!holds(p.b));
  });
});

function initScript(p: Pair, cliPath: string, config = p.a.config) {
  return (action: string) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      const env: NodeJS.ProcessEnv = { ...process.env, PHA_CLI: cliPath, PHA_CONFIG: config, INSTALLDIR: p.a.dir };
      delete env.NODENAME;
      execFile(path.join(ROOT, 'etc', 'pha.init'), [action], { env, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      );
    });
}

test('the init script returns LSB codes from pha-cli one-shot commands: start, status, restart, try-restart, stop', async () => {
  await withPair(async (p) => {
    const init = initScript(p, CLI);
    assert.equal((await init('status')).code, 3, 'not running → 3');
    assert.equal((await init('try-restart')).code, 0, 'try-restart of a stopped service: 0, and it stays stopped');
    assert.equal((await init('status')).code, 3);
    const s = await init('start');
    assert.equal(s.code, 0, s.out);
    const st = await init('status');
    assert.equal(st.code, 0, 'running → 0');
    assert.match(st.out, /^sender:\s+[1-9]\d*$/m, 'status shows the pids');
    assert.ok(await waitFor(() => holds(p.a), 5000));
    const again = await init('start');
    assert.equal(again.code, 0, 'start when running → 0');
    assert.match(again.out, /sender: already running \(pid \d+\)/);
    const before = daemonPids(p.a);
    const r = await init('restart');
    assert.equal(r.code, 0, r.out);
    assert.equal((await init('status')).code, 0);
    const after = daemonPids(p.a);
    assert.equal(after.length, 3);
    assert.ok(
      after.every((pid) => !before.includes(pid)),
      'restart runs new daemons',
    );
    // only some daemons running → 1; try-restart restarts them all
    assert.equal((await cli(p.a, ['se_sto'])).code, 0);
    assert.equal((await init('status')).code, 1, 'partly running → 1');
    assert.equal((await init('try-restart')).code, 0);
    assert.equal((await init('status')).code, 0);
    const stop = await init('stop');
    assert.equal(stop.code, 0, stop.out);
    assert.match(stop.out, /WARNING: resources still UP/, "pha-cli's warning reaches the operator");
    assert.equal((await init('status')).code, 3);
    assert.equal((await init('stop')).code, 0, 'stop when stopped → 0');
    assert.equal((await init('bogus')).code, 2, 'bad usage → 2');
    assert.equal((await init('reload')).code, 3, 'reload: not implemented → 3');
  });
});

test('the init script: restart fails (and starts nothing) when stop failed; a failed start is 1; a missing config is 6 (status 4)', async () => {
  await withPair(async (p) => {
    // A pha-cli whose stop and start fail (exit 1), recording what it was asked.
    const calls = path.join(p.base, 'calls');
    const fake = path.join(p.base, 'fake-pha-cli');
    fs.writeFileSync(
      fake,
      `#!/bin/sh\necho "$*" >> '${calls}'\ncase $1 in stop|start) echo "pha-cli $1 failed" >&2; exit 1 ;; esac\nexec '${process.execPath}' '${CLI}' "$@"\n`,
      { mode: 0o755 },
    );
    const init = initScript(p, fake);
    const r = await init('restart');
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /stop failed \(exit 1\): not starting again/);
    assert.deepEqual(
      fs.readFileSync(calls, 'utf8').trim().split('\n'),
      ['stop'],
      'start was not run after a failed stop',
    );
    assert.equal((await init('start')).code, 1, 'a failed start → 1');
    assert.equal((await init('force-reload')).code, 1, 'force-reload is restart');
    // pha-cli exits 2 on a missing or bad config: LSB 6 "not configured", status 4 "unknown"
    const missing = initScript(p, CLI, path.join(p.base, 'no-such-config'));
    const m = await missing('start');
    assert.equal(m.code, 6, m.out);
    assert.match(m.out, /no-such-config/, 'pha-cli says which file it looked for');
    assert.equal((await missing('status')).code, 4);
    assert.equal((await initScript(p, path.join(p.base, 'no-such-cli'))('start')).code, 5, 'pha-cli not installed → 5');
  });
});

test('a killed daemon is restarted by the node itself (each of the three on the Active): nothing moves, stat says so', async () => {
  await withPair(async (p) => {
    await cli(p.a, ['start']);
    assert.ok(await waitFor(() => holds(p.a), 5000));
    await cli(p.b, ['start']);
    await sleep(1500);
    for (const d of ['sender', 'receiver', 'supervise']) {
      const pidFile = path.join(p.a.dir, 'var', 'run', d);
      const old = Number(fs.readFileSync(pidFile, 'utf8'));
      const watch = watchHolders(p, 3000);
      process.kill(old, 'SIGKILL');
      const back = await waitFor(() => {
        try {
          const now = Number(fs.readFileSync(pidFile, 'utf8'));
          return now !== old && fs.existsSync(`/proc/${now}`);
        } catch {
          return false;
        }
      }, 5000);
      assert.ok(back, `${d} restarted without an operator`);
      const w = await watch;
      assert.equal(w.bothSamples, 0, `${d}: never two holders`);
      assert.equal(w.last, 'a', `${d}: the Active keeps`);
      assert.equal(w.changes, 0, `${d}: nothing moved`);
      const st = JSON.parse((await cli(p.a, ['stat', '--json'])).stdout);
      assert.ok(
        st.alarms.some((a: string) => new RegExp(`${d} died and was restarted`).test(a)),
        `${d}: alarm in stat: ${st.alarms}`,
      );
      assert.equal(st.pids[d] > 0, true);
    }
    // Stopped on purpose is not restarted.
    assert.equal((await cli(p.a, ['se_sto'])).code, 0);
    await sleep(1500);
    const st = JSON.parse((await cli(p.a, ['stat', '--json'])).stdout);
    assert.equal(st.pids.sender, 0, 'a sender stopped by se_sto stays stopped');
  });
});

test('the status file unwritable on the Active: heartbeats and decisions go on over the local bus; stat shows the alarm', async () => {
  await withPair(async (p) => {
    await cli(p.a, ['start']);
    assert.ok(await waitFor(() => holds(p.a), 5000));
    await cli(p.b, ['start']);
    await sleep(1500);
    // status.dat replaced by a directory: every write (temp + rename) fails, reads keep the last good state.
    const file = path.join(p.a.dir, 'var', 'status.dat');
    const watch = watchHolders(p, 4000);
    fs.rmSync(file);
    fs.mkdirSync(file);
    const st = await (async () => {
      for (let i = 0; i < 30; i++) {
        await sleep(100);
        const s = JSON.parse((await cli(p.a, ['stat', '--json'])).stdout);
        if (s.alarms.some((a: string) => /not writable/.test(a))) return s;
      }
      return JSON.parse((await cli(p.a, ['stat', '--json'])).stdout);
    })();
    assert.ok(
      st.alarms.some((a: string) => /not writable/.test(a)),
      `alarm: ${st.alarms}`,
    );
    assert.equal(st.status.STATUS, 'ONLINE', 'the live state (from the daemons) says Active');
    const w = await watch;
    assert.equal(w.bothSamples, 0, 'never two holders');
    assert.equal(w.last, 'a');
    assert.equal(
      JSON.parse(fs.readFileSync(path.join(p.b.dir, 'var', 'status.dat'), 'utf8')).RECEIVER_IN,
      'ONLINE',
      'the peer still hears ONLINE',
    );
    // Writable again: the file comes back with the state, the alarm goes.
    fs.rmdirSync(file);
    assert.ok(
      await waitFor(() => fs.existsSync(file) && JSON.parse(fs.readFileSync(file, 'utf8')).STATUS === 'ONLINE', 5000),
      'the file is written again',
    );
  });
});
