// The watchdog (daemon/watchdog.ts) on real processes and real pid files: who
// restarts a dead daemon, and that one whose first watcher was replaced after
// the death is not left dead for good (seed 503878 of the simulation). The
// clock is injected so that the back-off is passed without waiting; check() is
// called by hand where the daemon's timer would call it.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DaemonName } from '../../src/daemon/bus.js';
import { Lifelines } from '../../src/daemon/lifeline.js';
import { restartBackoffMs, restarts } from '../../src/daemon/restart-policy.js';
import { BACKUP_AFTER_MS, WATCHDOG_RESTING_MS, Watchdog, type WatchdogEvent } from '../../src/daemon/watchdog.js';

interface Rig {
  runDir: string;
  config: string;
  children: ChildProcess[];
  /** Start a stand-in for daemon `d` (its name and --config as the real one's) and write its pid file. */
  run(d: DaemonName): Promise<number>;
  kill(pid: number): Promise<void>;
}

async function withRig(fn: (r: Rig) => Promise<void>): Promise<void> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-watchdog-'));
  const runDir = path.join(base, 'run');
  const bin = path.join(base, 'bin');
  fs.mkdirSync(runDir);
  fs.mkdirSync(bin);
  const config = path.join(base, 'config');
  fs.writeFileSync(config, '');
  const children: ChildProcess[] = [];
  const rig: Rig = {
    runDir,
    config,
    children,
    async run(d) {
      const script = path.join(bin, `pha-${d}.js`);
      fs.writeFileSync(script, 'setInterval(() => {}, 1e6);\n');
      const c = spawn(process.execPath, [script, '--config', config], { stdio: 'ignore' });
      children.push(c);
      await new Promise((res) => c.once('spawn', res));
      fs.writeFileSync(path.join(runDir, d), `${c.pid}\n`);
      return c.pid!;
    },
    async kill(pid) {
      const c = children.find((x) => x.pid === pid)!;
      const gone = new Promise((res) => c.once('exit', res));
      c.kill('SIGKILL');
      await gone;
    },
  };
  try {
    await fn(rig);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    fs.rmSync(base, { recursive: true, force: true });
  }
}

/** A sender's watchdog whose restarts of `failing` daemons fail (a broken install, a port in use). */
function sendersWatchdog(r: Rig, clock: { t: number }, failing: Set<DaemonName>) {
  const spawned: DaemonName[] = [];
  const events: WatchdogEvent[] = [];
  const wd = new Watchdog({
    self: 'sender',
    runDir: r.runDir,
    configFile: r.config,
    now: () => clock.t,
    onEvent: (e) => events.push(e),
    spawn: async (d) => {
      spawned.push(d);
      if (failing.has(d)) return { error: 'exited at start (code 1)' };
      return { pid: await r.run(d) };
    },
  });
  // restart() is async: let its spawn finish before the next look.
  const check = async () => {
    wd.check();
    await sleep(200);
  };
  return { wd, spawned, events, check };
}

test('watchdog: the second watcher leaves a dead daemon to the first while the first is the instance that saw it die, for BACKUP_AFTER_MS', async () => {
  await withRig(async (r) => {
    const clock = { t: 0 };
    await r.run('supervise');
    const receiver = await r.run('receiver');
    const { spawned, events, check } = sendersWatchdog(r, clock, new Set());
    await check();
    await r.kill(receiver);
    for (const t of [100, 700, 6000]) {
      clock.t = t;
      await check();
    }
    assert.deepEqual(spawned, [], 'supervise (the first watcher) restarts the receiver, not the sender');
    assert.ok(
      events.some((e) => e.kind === 'died' && e.daemon === 'receiver' && !e.restarter),
      'the death is reported, not acted on',
    );
    // Still dead after BACKUP_AFTER_MS (the first watcher did not do it, whatever the reason): the backup steps in.
    clock.t = 100 + BACKUP_AFTER_MS;
    await check();
    assert.deepEqual(spawned, ['receiver'], 'the backup restarts a daemon that stayed dead');
  });
});

test('watchdog: a receiver dead while supervise died and came back is restarted by the sender (the new supervise never saw it run)', async () => {
  await withRig(async (r) => {
    const clock = { t: 0 };
    const supervise = await r.run('supervise');
    const receiver = await r.run('receiver');
    const failing = new Set<DaemonName>(['receiver']);
    const { spawned, check } = sendersWatchdog(r, clock, failing);
    await check();
    await r.kill(receiver);
    clock.t = 100;
    await check(); // supervise's job
    await r.kill(supervise);
    clock.t = 200;
    await check(); // supervise dead: the sender restarts it, and tries the receiver (its restart fails)
    assert.deepEqual(spawned.sort(), ['receiver', 'supervise']);
    failing.clear();
    clock.t = 300;
    await check();
    assert.deepEqual(spawned.length, 2, 'the back-off after a failed restart is kept');
    clock.t = 1000;
    await check();
    assert.deepEqual(
      spawned.filter((d) => d === 'receiver').length,
      2,
      'after the back-off the sender restarts the receiver: its first watcher is a newer supervise that never saw it run',
    );
    const pid = Number(fs.readFileSync(path.join(r.runDir, 'receiver'), 'utf8'));
    assert.ok(pid > 0 && pid !== receiver && fs.existsSync(`/proc/${pid}`), 'a new receiver runs');
  });
});

test('restart policy: the first watcher restarts; the second only when the first cannot know of the death, or after BACKUP_AFTER_MS', () => {
  const knows = () => true;
  const never = () => false;
  assert.equal(restarts({ self: 'supervise', dead: 'sender', deadFor: 0, firstWatcherKnows: knows }), true);
  assert.equal(restarts({ self: 'receiver', dead: 'sender', deadFor: 0, firstWatcherKnows: knows }), false);
  assert.equal(
    restarts({ self: 'receiver', dead: 'sender', deadFor: BACKUP_AFTER_MS - 1, firstWatcherKnows: knows }),
    false,
  );
  assert.equal(
    restarts({ self: 'receiver', dead: 'sender', deadFor: BACKUP_AFTER_MS, firstWatcherKnows: knows }),
    true,
  );
  assert.equal(restarts({ self: 'receiver', dead: 'sender', deadFor: 0, firstWatcherKnows: never }), true);
  assert.equal(restarts({ self: 'sender', dead: 'supervise', deadFor: 0, firstWatcherKnows: never }), true);
  assert.equal(
    restarts({ self: 'sender', dead: 'sender', deadFor: 0, firstWatcherKnows: never }),
    false,
    'nobody restarts itself',
  );
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(restartBackoffMs), [500, 1000, 2000, 4000, 5000, 5000]);
});

interface Poll {
  ms: number;
  fn: () => void;
  stopped: boolean;
}

/** An injected repeating timer that records each poll instead of running it (the test fires them). */
function recordingEvery(polls: Poll[]) {
  return (ms: number, fn: () => void) => {
    const p = { ms, fn, stopped: false };
    polls.push(p);
    return {
      stop: () => {
        p.stopped = true;
      },
    };
  };
}

test('watchdog: the poll runs on the injected timer, at the interval it was given, and stops with it', async () => {
  await withRig(async (r) => {
    const polls: Poll[] = [];
    const spawned: DaemonName[] = [];
    const wd = new Watchdog({
      self: 'sender',
      runDir: r.runDir,
      configFile: r.config,
      now: () => 0,
      onEvent: () => {},
      spawn: async (d) => {
        spawned.push(d);
        return { pid: await r.run(d) };
      },
      every: recordingEvery(polls),
    });
    const supervise = await r.run('supervise');
    wd.start(500);
    assert.equal(polls.length, 1);
    assert.equal(polls[0]!.ms, 500);
    polls[0]!.fn(); // the timer fires: supervise is seen alive
    assert.equal(wd.isAlive('supervise'), true);
    await r.kill(supervise);
    polls[0]!.fn(); // the next poll: dead, and the sender is its first watcher
    await sleep(200);
    assert.deepEqual(spawned, ['supervise']);
    wd.stop();
    assert.equal(polls[0]!.stopped, true);
  });
});

test('watchdog: the poll rests while every watched daemon runs with its lifeline up, and runs fast again at a death', async () => {
  await withRig(async (r) => {
    const polls: Poll[] = [];
    const wd = new Watchdog({
      self: 'sender',
      runDir: r.runDir,
      configFile: r.config,
      now: () => performance.now(),
      onEvent: () => {},
      spawn: async () => ({ error: 'not in this test' }),
      every: recordingEvery(polls),
    });
    // The stand-ins' lifelines, offered here as the real daemons offer theirs.
    const offered = [new Lifelines(r.runDir), new Lifelines(r.runDir)];
    offered[0]!.listen('supervise');
    offered[1]!.listen('receiver');
    try {
      const supervise = await r.run('supervise');
      await r.run('receiver');
      wd.start(500);
      polls.at(-1)!.fn(); // both alive: the lines are being connected
      assert.equal(polls.at(-1)!.ms, 500, 'not resting before the lines are up');
      await sleep(200);
      polls.at(-1)!.fn();
      assert.equal(polls.at(-1)!.ms, WATCHDOG_RESTING_MS, 'every line up: the poll rests');
      assert.equal(polls.at(-2)!.stopped, true, 'one timer at a time');
      await r.kill(supervise);
      polls.at(-1)!.fn(); // the resting poll (or the line's close) finds the death
      assert.equal(wd.isAlive('supervise'), false);
      assert.equal(polls.at(-1)!.ms, 500, 'a daemon dead: the poll is fast again');
      wd.stop();
    } finally {
      for (const l of offered) l.close();
    }
  });
});
