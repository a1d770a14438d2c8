// The resource runner with real child processes: exit codes, output, scripts
// that cannot run, timeouts that kill the whole process group, order, no shell.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ResourceDef } from '../../src/config/index.js';
import { ResourceRunner, type RunResult } from '../../src/resources/index.js';
import { sleep } from '../helpers/wait.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SHIPPED_TEST = path.join(ROOT, 'res', 'test');

const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-res-'));
after(() => fs.rmSync(DIR, { recursive: true, force: true }));

let seq = 0;
/** A bash script in DIR; returns its path. */
function script(body: string, mode = 0o755): string {
  const p = path.join(DIR, `s${seq++}`);
  fs.writeFileSync(p, `#!/usr/bin/env bash\n${body}\n`, { mode });
  fs.chmodSync(p, mode);
  return p;
}
function res(name: string, scriptPath: string, args: string[] = []): ResourceDef {
  return { name, script: scriptPath, args };
}
const runner = (timeoutMs = 5000) => new ResourceRunner({ timeoutMs });

/** Gone, or a zombie nobody reaped (dead all the same): not running any more. */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
async function waitGone(pid: number, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (running(pid)) {
    if (Date.now() - t0 > ms) return false;
    await sleep(10);
  }
  return true;
}

test('exit 0 is success; the script gets action and args', async () => {
  const r = await runner().run(res('a', script('echo "action=$1 arg=$2"; exit 0'), ['x']), 'check');
  assert.equal(r.ok, true);
  assert.equal(r.code, 0);
  assert.equal(r.timedOut, false);
  assert.equal(r.name, 'a');
  assert.equal(r.action, 'check');
  assert.equal(r.output, 'action=check arg=x');
});

test('exit 3 is a failure with code 3', async () => {
  const r = await runner().run(res('a', script('exit 3')), 'start');
  assert.equal(r.ok, false);
  assert.equal(r.code, 3);
  assert.equal(r.timedOut, false);
});

test('stdout and stderr are captured', async () => {
  const r = await runner().run(res('a', script('echo to-stdout; echo to-stderr >&2; exit 1')), 'stop');
  assert.equal(r.ok, false);
  assert.equal(r.code, 1);
  assert.match(r.output, /to-stdout/);
  assert.match(r.output, /to-stderr/);
});

test('a script that is not executable fails with 126', async () => {
  const r = await runner().run(res('a', script('exit 0', 0o644)), 'check');
  assert.equal(r.ok, false);
  assert.equal(r.code, 126);
  assert.ok(r.error && r.error.length > 0, 'no error text');
});

test('a missing script fails with 127', async () => {
  const r = await runner().run(res('a', path.join(DIR, 'does-not-exist')), 'check');
  assert.equal(r.ok, false);
  assert.equal(r.code, 127);
  assert.match(r.error ?? '', /does-not-exist/);
});

test('a script with a missing interpreter fails (127)', async () => {
  const p = path.join(DIR, 'badinterp');
  fs.writeFileSync(p, '#!/no/such/interpreter\nexit 0\n', { mode: 0o755 });
  const r = await runner().run(res('a', p), 'check');
  assert.equal(r.ok, false);
  assert.equal(r.code, 127);
});

test('a hanging script times out, fails within ~1 s, and its grandchild is killed too', async () => {
  const pidFile = path.join(DIR, 'grandchild.pid');
  const s = script(`sleep 30 &\necho $! > ${pidFile}\nsleep 30`);
  const t0 = Date.now();
  const r = await runner(300).run(res('hang', s), 'start');
  const took = Date.now() - t0;
  assert.equal(r.timedOut, true);
  assert.equal(r.ok, false);
  assert.ok(took >= 280 && took < 1000, `returned after ${took} ms`);
  assert.match(r.error ?? '', /timed out/);
  const gc = Number(fs.readFileSync(pidFile, 'utf8').trim());
  assert.ok(gc > 1);
  assert.ok(await waitGone(gc, 1000), `grandchild ${gc} still running after the timeout`);
});

test('a script that exits but leaves a daemon holding stdout returns at once with its exit code (the daemon lives on)', async () => {
  const pidFile = path.join(DIR, 'holder.pid');
  // exits at once, but `sleep` (the "service" it started) keeps the output pipe open
  const s = script(`sleep 30 &\necho $! > ${pidFile}\necho started\nexit 0`);
  const t0 = Date.now();
  const r = await runner(5000).run(res('holder', s), 'start');
  const took = Date.now() - t0;
  const gc = Number(fs.readFileSync(pidFile, 'utf8').trim());
  try {
    assert.ok(took < 1000, `returned after ${took} ms`);
    assert.equal(r.ok, true);
    assert.equal(r.code, 0);
    assert.equal(r.timedOut, false);
    assert.match(r.output, /started/);
    assert.ok(fs.existsSync(`/proc/${gc}`), 'the started daemon is not killed');
  } finally {
    try {
      process.kill(gc, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

test('startInOrder runs in config order and stops at the first failure', async () => {
  const log = path.join(DIR, 'start.log');
  const mk = (name: string, code: number) => res(name, script(`echo "$1 ${name}" >> ${log}; exit ${code}`));
  const list = [mk('a', 0), mk('b', 0), mk('c', 4), mk('d', 0)];
  const results = await runner().startInOrder(list);
  assert.deepEqual(fs.readFileSync(log, 'utf8').trim().split('\n'), ['start a', 'start b', 'start c']);
  assert.deepEqual(
    results.map((r) => [r.name, r.action, r.ok, r.code]),
    [
      ['a', 'start', true, 0],
      ['b', 'start', true, 0],
      ['c', 'start', false, 4],
    ],
  );
});

test('stopInReverse runs in reverse order and goes on after a failure', async () => {
  const log = path.join(DIR, 'stop.log');
  const mk = (name: string, code: number) => res(name, script(`echo "$1 ${name}" >> ${log}; exit ${code}`));
  const list = [mk('a', 0), mk('b', 5), mk('c', 0)];
  const results = await runner().stopInReverse(list);
  assert.deepEqual(fs.readFileSync(log, 'utf8').trim().split('\n'), ['stop c', 'stop b', 'stop a']);
  assert.deepEqual(
    results.map((r) => [r.name, r.ok]),
    [
      ['c', true],
      ['b', false],
      ['a', true],
    ],
  );
  assert.equal(results[1]!.code, 5);
});

test('checkAll runs the checks at once', async () => {
  const list = ['x', 'y', 'z'].map((n) => res(n, script('sleep 0.5; exit 0')));
  const t0 = Date.now();
  const results = await runner().checkAll(list);
  const took = Date.now() - t0;
  assert.ok(took < 1200, `3 checks of 0.5 s took ${took} ms: not concurrent`);
  assert.deepEqual(
    results.map((r) => [r.name, r.action, r.ok]),
    [
      ['x', 'check', true],
      ['y', 'check', true],
      ['z', 'check', true],
    ],
  );
});

test('arguments reach the script verbatim, one argv entry each, never through a shell', async () => {
  const out = path.join(DIR, 'argv.out');
  const pwned = path.join(DIR, 'pwned');
  const s = script(`printf '%s\\0' "$@" > ${out}`);
  const args = [
    'a b',
    `$(touch ${pwned})`,
    `\`touch ${pwned}\``,
    `;rm -rf ${DIR}`,
    '*',
    '"quoted"',
    "it's",
    '&&',
    '|',
    '>x',
    '',
    'tab\there',
  ];
  const r = await runner().run(res('argv', s, args), 'start');
  assert.equal(r.ok, true, r.output);
  const got = fs.readFileSync(out, 'utf8').split('\0');
  got.pop(); // after the last NUL
  assert.deepEqual(got, ['start', ...args]);
  assert.equal(fs.existsSync(pwned), false, 'an argument was run by a shell');
  assert.equal(fs.existsSync(path.join(DIR, 'x')), false);
});

test('onResult sees every result', async () => {
  const seen: RunResult[] = [];
  const r = new ResourceRunner({ timeoutMs: 5000, onResult: (x) => seen.push(x) });
  await r.checkAll([res('p', script('exit 0')), res('q', script('exit 1'))]);
  assert.deepEqual(seen.map((x) => [x.name, x.ok]).sort(), [
    ['p', true],
    ['q', false],
  ]);
});

test('the shipped res/test: start, check, stop, check', async () => {
  const f = path.join(DIR, 'held');
  const r = res('test', SHIPPED_TEST, [f]);
  const run = runner();
  assert.equal((await run.run(r, 'check')).code, 1, 'check before start');
  const start = await run.run(r, 'start');
  assert.equal(start.ok, true, start.output);
  assert.equal(fs.existsSync(f), true);
  assert.equal((await run.run(r, 'start')).ok, true, 'start when UP succeeds');
  assert.equal((await run.run(r, 'check')).ok, true);
  assert.equal((await run.run(r, 'stop')).ok, true);
  assert.equal(fs.existsSync(f), false);
  assert.equal((await run.run(r, 'stop')).ok, true, 'stop when DOWN succeeds');
  const check = await run.run(r, 'check');
  assert.equal(check.ok, false);
  assert.equal(check.code, 1);
  // a file name with a space and a leading dash is one argument
  const odd = path.join(DIR, '-odd name');
  assert.equal((await run.run(res('test', SHIPPED_TEST, [odd]), 'start')).ok, true);
  assert.equal(fs.existsSync(odd), true);
});

test('the shipped res/test: usage errors exit 2', () => {
  const cases: string[][] = [[], ['start'], ['bogus', '/tmp/x'], ['start', ''], ['start', '/tmp/a', '/tmp/b']];
  for (const args of cases) {
    const r = spawnSync(SHIPPED_TEST, args, { encoding: 'utf8' });
    assert.equal(r.status, 2, `res/test ${JSON.stringify(args)} exited ${r.status}`);
    assert.match(r.stderr, /usage: test start\|stop\|check <file>/);
  }
});

test('settle (a daemon stops): a start that runs finishes first; one that takes too long is killed, group and all', async () => {
  const done = path.join(DIR, 'settled');
  const r = runner(30_000);
  const slow = r.run(res('slow', script(`sleep 0.3; touch ${done}`)), 'start');
  await r.settle(3000);
  assert.ok(fs.existsSync(done), 'the start finished before settle returned');
  assert.equal((await slow).ok, true);
  const pidFile = path.join(DIR, 'hung.pid');
  const hung = r.run(res('hung', script(`sleep 60 & echo $! > ${pidFile}; wait`)), 'start');
  await new Promise((ok) => setTimeout(ok, 200));
  const t0 = Date.now();
  await r.settle(300);
  assert.ok(Date.now() - t0 < 2000, 'settle is bounded');
  assert.equal((await hung).ok, false, 'a killed start is a failure');
  const grandchild = Number(fs.readFileSync(pidFile, 'utf8'));
  await new Promise((ok) => setTimeout(ok, 100));
  assert.equal(running(grandchild), false, 'the whole process group is gone');
});
