// Pid files are created exclusively: of many concurrent starts of one daemon
// exactly one runs, and the others say who runs (issue 6 item 5, issue 7
// item 9). Real daemon processes, real pid files.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { claimPid, EXIT_ALREADY_RUNNING, readPid, removeStalePid } from '../../src/daemon/pidfile.js';
import { sleep } from '../helpers/wait.js';
import { cli, makePair, type Pair, type PairNode, ROOT } from './pair-helpers.js';

const SENDER = path.join(ROOT, 'bin', 'pha-sender.js');
const N = 8;

/** Live pha-sender processes of this node's config (whatever the pid files say). */
function sendersOf(n: PairNode): number[] {
  const found: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && argv.some((a) => a.endsWith('pha-sender.js')) && argv.includes(n.config))
        found.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return found;
}

/** A pid that no process has now (a child that has exited). */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(String(r.stdout).trim());
}

async function withPair(fn: (p: Pair) => Promise<void>) {
  const p = makePair();
  try {
    await fn(p);
  } finally {
    await p.cleanup();
  }
}

interface Exit {
  code: number | null;
  stderr: string;
}

/** Starts pha-sender the way pha-cli's spawn does (detached run, no further detaching). */
function launchSender(n: PairNode): Promise<Exit> & { pid: number } {
  const env: NodeJS.ProcessEnv = { ...process.env, PHA_DETACHED: '1' };
  delete env.NODENAME;
  const c = spawn(process.execPath, [SENDER, '--config', n.config], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  c.stderr!.on('data', (d) => (stderr += d));
  // The winner runs on: it is "done" once it owns the pid file.
  const done = new Promise<Exit>((resolve) => {
    c.on('exit', (code) => resolve({ code, stderr }));
    const t = setInterval(() => {
      if (readPid(path.join(n.dir, 'var', 'run'), 'sender', n.config).pid === c.pid) {
        clearInterval(t);
        c.stderr!.destroy();
        c.unref();
        resolve({ code: null, stderr });
      }
    }, 20);
    c.on('exit', () => clearInterval(t));
  });
  return Object.assign(done, { pid: c.pid! });
}

for (const stale of [false, true]) {
  test(`${N} concurrent pha-sender launches${stale ? ' over a stale pid file' : ''}: exactly one runs, the others exit "already running (pid N)"`, async () => {
    await withPair(async (p) => {
      const rdir = path.join(p.a.dir, 'var', 'run');
      for (let round = 0; round < 3; round++) {
        if (stale) {
          fs.mkdirSync(rdir, { recursive: true });
          fs.writeFileSync(path.join(rdir, 'sender'), `${deadPid()}\n`);
        }
        const runs = Array.from({ length: N }, () => launchSender(p.a));
        const exits = await Promise.all(runs);
        const running = sendersOf(p.a);
        assert.equal(
          running.length,
          1,
          `round ${round}: live senders ${running.join(' ')}; exits ${JSON.stringify(exits)}`,
        );
        const winner = running[0]!;
        assert.equal(readPid(rdir, 'sender', p.a.config).pid, winner, 'the pid file names the one that runs');
        for (const [i, e] of exits.entries()) {
          if (runs[i]!.pid === winner) {
            assert.equal(e.code, null, 'the winner runs');
            continue;
          }
          assert.equal(e.code, EXIT_ALREADY_RUNNING, `a loser exits ${EXIT_ALREADY_RUNNING}: ${e.stderr}`);
          assert.equal(e.stderr.trim(), `pha-sender: already running (pid ${winner})`);
        }
        // the winner stops cleanly and removes its own pid file
        process.kill(winner, 'SIGTERM');
        for (let i = 0; i < 500 && sendersOf(p.a).length; i++) await sleep(10);
        assert.deepEqual(sendersOf(p.a), []);
        assert.equal(fs.existsSync(path.join(rdir, 'sender')), false, 'the pid file is removed on stop');
      }
    });
  });
}

test(`${N} concurrent "pha-cli se_sta": one sender runs; the others print "sender: already running (pid N)" and exit 0`, async () => {
  await withPair(async (p) => {
    fs.mkdirSync(path.join(p.a.dir, 'var', 'run'), { recursive: true });
    fs.writeFileSync(path.join(p.a.dir, 'var', 'run', 'sender'), `${deadPid()}\n`);
    const results = await Promise.all(Array.from({ length: N }, () => cli(p.a, ['se_sta'])));
    const running = sendersOf(p.a);
    assert.equal(running.length, 1, `live senders: ${running.join(' ')}; ${JSON.stringify(results)}`);
    const winner = running[0]!;
    for (const r of results) {
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.doesNotMatch(r.stdout + r.stderr, /exited at start/);
      const lines = (r.stdout + r.stderr).split('\n').filter((l) => l && !/stale pid file/.test(l));
      // the winner's start prints nothing more; every loser names the winner
      assert.ok(
        lines.length === 0 || (lines.length === 1 && lines[0] === `sender: already running (pid ${winner})`),
        JSON.stringify(r),
      );
    }
    assert.ok(
      results.filter((r) => r.stdout.includes(`sender: already running (pid ${winner})`)).length >= N - 1,
      'all but one name the winner',
    );
    assert.equal((await cli(p.a, ['stop'])).code, 0);
    assert.deepEqual(sendersOf(p.a), []);
  });
});

test('pha-sender started by hand (DAEMON=1) detaches; a second one says "already running" and exits 3', async () => {
  await withPair(async (p) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODENAME;
    delete env.PHA_DETACHED;
    const first = spawnSync(process.execPath, [SENDER, '--config', p.a.config], {
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(first.status, 0, first.stderr);
    const pid = readPid(path.join(p.a.dir, 'var', 'run'), 'sender', p.a.config).pid;
    assert.ok(pid > 0);
    assert.equal(first.stdout, `pha-sender: started (pid ${pid})\n`);
    const second = spawnSync(process.execPath, [SENDER, '--config', p.a.config], {
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(second.status, EXIT_ALREADY_RUNNING);
    assert.equal(second.stderr, `pha-sender: already running (pid ${pid})\n`);
    assert.deepEqual(sendersOf(p.a), [pid]);
  });
});

test('claimPid / removeStalePid: a live holder wins, a stale or garbage file is replaced, never a live one', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-pid-'));
  try {
    // This test process is no pha-sender: as a holder it counts as stale.
    fs.writeFileSync(path.join(dir, 'sender'), 'garbage\n');
    assert.equal(await removeStalePid(dir, 'sender'), -1);
    assert.equal(fs.existsSync(path.join(dir, 'sender')), false);
    assert.equal(await removeStalePid(dir, 'sender'), undefined, 'nothing to remove');
    // claim for a pid that is a live "pha-cli" (by its argv): it holds; a second claim loses to it
    const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'pha-cli'], { stdio: 'ignore' });
    try {
      assert.deepEqual(await claimPid(dir, 'cli', undefined, c.pid!), { ok: true });
      assert.equal(fs.readFileSync(path.join(dir, 'cli'), 'utf8'), `${c.pid}\n`);
      assert.deepEqual(await claimPid(dir, 'cli', undefined, process.pid), { ok: false, holder: c.pid });
      assert.equal(await removeStalePid(dir, 'cli'), undefined, 'a live holder is never removed');
    } finally {
      c.kill('SIGKILL');
      await new Promise((r) => c.on('exit', r));
    }
    // once it is dead the file is stale: the next claim replaces it
    assert.deepEqual(await claimPid(dir, 'cli', undefined, process.pid), { ok: true });
    assert.equal(fs.readFileSync(path.join(dir, 'cli'), 'utf8'), `${process.pid}\n`);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['cli'], 'no temp files left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
