// pha-cli watch in a real terminal (tmux, 80 columns, its own server socket):
// the screen turns from Standby to Active during a host death of the peer,
// with the takeover's timeline; q leaves the terminal as it was (the
// alternate screen left, the tty back in canonical mode with echo); inside
// the interactive shell it runs the same and gives the prompt back. And
// pha-cli log: the three daemons' logs merged in time order, pretty.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { expectWithin, sleep } from '../helpers/wait.js';
import { CLI, cli, holds, killNode, makePair, type Pair } from './pair-helpers.js';

const SOCKET = `pha-test-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const screen = (target: string, escapes = false) =>
  tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', target);
/** The foreground colours (SGR 30-37) a captured screen uses. */
const colours = (s: string) =>
  s
    .split('\u001b[')
    .slice(1)
    .flatMap((x) => /^([0-9;]*)m/.exec(x)?.[1]?.split(';') ?? [])
    .filter((c) => /^3[0-7]$/.test(c));
after(() => {
  try {
    tmux('kill-server');
  } catch {
    /* none left */
  }
});

/** Two heartbeat paths on loopback (the second over 127.0.1.x), as HB_PATHS names them. */
const TWO_PATHS = { HB_PATHS: '127.0.0.1:127.0.0.1,127.0.1.1 127.0.0.2:127.0.0.2,127.0.1.2' };

async function startedPair(extra: Record<string, string> = {}): Promise<Pair> {
  const p = makePair(extra);
  assert.equal((await cli(p.a, ['start'])).code, 0);
  await expectWithin('a holds', () => holds(p.a), 6000);
  assert.equal((await cli(p.b, ['start'])).code, 0);
  return p;
}

test('watch: Standby turns Active on the screen during a failover, each heartbeat path shown; q leaves the terminal as it was', async () => {
  const p = await startedPair(TWO_PATHS);
  const stty = path.join(p.base, 'stty-after');
  try {
    tmux(
      'new-session',
      '-d',
      '-s',
      'w',
      '-x',
      '80',
      '-y',
      '30',
      `node ${CLI} --config ${p.b.config} watch; echo "exit=$?" > ${stty}; stty -a >> ${stty}; sleep 30`,
    );
    await expectWithin(
      () => `b's screen says Standby:\n${screen('w')}`,
      () => /this node {2}127\.0\.0\.2: Standby, daemons 3\/3/.test(screen('w')),
      8000,
    );
    const before = screen('w');
    assert.match(before, /peer {7}127\.0\.0\.1: ONLINE for [\d.]+ s, last heartbeat [\d.]+ s ago/);
    assert.match(before, /^paths {6}1 127\.0\.0\.1 → 127\.0\.0\.2: heard [\d.]+ s ago, \d+ datagrams$/m);
    assert.match(before, /^ {11}2 127\.0\.1\.1 → 127\.0\.1\.2: heard [\d.]+ s ago, \d+ datagrams$/m);
    for (const l of before.split('\n')) assert.ok(l.length <= 80, `over 80 columns: ${l}`);
    assert.ok(colours(screen('w', true)).includes('36'), 'Standby in colour on a terminal');
    await killNode(p.a);
    fs.rmSync(p.a.held);
    await expectWithin(
      () => `b's screen says Active with the takeover:\n${screen('w')}`,
      () => {
        const s = screen('w');
        return (
          /127\.0\.0\.2: Active/.test(s) && /Standby -> Active \(no heartbeat from the peer\): silent after/.test(s)
        );
      },
      8000,
    );
    assert.match(screen('w'), /peer {7}127\.0\.0\.1: no heartbeat for/);
    tmux('send-keys', '-t', 'w', 'q');
    await expectWithin(
      'watch ended',
      () => fs.existsSync(stty) && fs.readFileSync(stty, 'utf8').includes('speed'),
      5000,
    );
    const after = fs.readFileSync(stty, 'utf8');
    assert.match(after, /^exit=0$/m);
    assert.match(after, /(^|\s)icanon(\s|$)/m, 'the tty is back in canonical mode');
    assert.match(after, /(^|\s)echo(\s|$)/m, 'with echo');
    assert.doesNotMatch(screen('w'), /pha watch:/, 'the alternate screen was left: the frame is gone');
  } finally {
    await p.cleanup();
  }
});

test('watch inside the interactive shell (NO_COLOR): the frame, then q gives the prompt back', async () => {
  const p = await startedPair();
  try {
    tmux('new-session', '-d', '-s', 's', '-x', '80', '-y', '30', `NO_COLOR=1 node ${CLI} --config ${p.b.config}`);
    await expectWithin(
      () => `the prompt:\n${screen('s')}`,
      () => /\[127\.0\.0\.2:\w+\] >\s*$/m.test(screen('s')),
      8000,
    );
    tmux('send-keys', '-t', 's', 'watch', 'Enter');
    await expectWithin(
      () => `the frame:\n${screen('s')}`,
      () => /pha watch: 127\.0\.0\.2/.test(screen('s')),
      8000,
    );
    await sleep(500);
    assert.deepEqual(colours(screen('s', true)), [], 'NO_COLOR: no colour');
    tmux('send-keys', '-t', 's', 'q');
    await expectWithin(
      () => `the prompt again:\n${screen('s')}`,
      () => !/pha watch:/.test(screen('s')) && /\[127\.0\.0\.2:\w+\] >\s*$/m.test(screen('s')),
      5000,
    );
    // The shell's line editing works again: a command runs.
    tmux('send-keys', '-t', 's', 'history 1', 'Enter');
    await expectWithin(
      () => `history ran:\n${screen('s')}`,
      () => /#\d+ \w+ -> \w+/.test(screen('s')),
      5000,
    );
  } finally {
    await p.cleanup();
  }
});

test('log: the three logs merged in time order, pretty; one daemon; -n; a bad argument', async () => {
  const p = await startedPair();
  try {
    await expectWithin(
      'b decided',
      () => /Standby/.test(fs.readFileSync(`${p.b.dir}/var/log.supervise`, 'utf8')),
      5000,
    );
    const r = await cli(p.b, ['log', '-n', '300'], undefined, { NO_COLOR: '1' });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter((l) => /^\[\d{4}-/.test(l));
    assert.ok(lines.length >= 5 && lines.length <= 300, r.stdout);
    const few = await cli(p.b, ['log', '-n', '3'], undefined, { NO_COLOR: '1' });
    assert.equal(few.stdout.split('\n').filter((l) => /^\[\d{4}-/.test(l)).length, 3, '-n 3: the last three');
    const times = lines.map((l) => l.slice(1, 24));
    assert.deepEqual(times, [...times].sort(), 'in time order');
    for (const d of ['sender', 'receiver', 'supervise'])
      assert.ok(
        lines.some((l) => l.includes(`(${d})`)),
        `${d}'s lines are there`,
      );
    const one = await cli(p.b, ['log', 'receiver'], undefined, { NO_COLOR: '1' });
    const own = one.stdout.split('\n').filter((l) => /^\[\d{4}-/.test(l));
    assert.ok(own.length > 0 && own.every((l) => l.includes('(receiver)')), one.stdout);
    const bad = await cli(p.b, ['log', 'nonsense']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /log: unknown argument 'nonsense' \(expected sender, receiver, supervise, -f or -n N\)/);
  } finally {
    await p.cleanup();
  }
});

test('log -f follows the logs, across a rotation (the file moved away, the daemon reopens on SIGHUP)', async () => {
  const p = await startedPair();
  const out = path.join(p.base, 'follow.out');
  try {
    tmux(
      'new-session',
      '-d',
      '-s',
      'f',
      '-x',
      '200',
      '-y',
      '50',
      `NO_COLOR=1 node ${CLI} --config ${p.b.config} log -f -n 0 supervise > ${out}`,
    );
    await sleep(1000);
    // logrotate's way: move the file, tell the daemon.
    const log = `${p.b.dir}/var/log.supervise`;
    fs.renameSync(log, `${log}.1`);
    const pid = Number(fs.readFileSync(`${p.b.dir}/var/run/supervise`, 'utf8'));
    process.kill(pid, 'SIGHUP');
    await expectWithin('the daemon reopened its log', () => fs.existsSync(log), 5000);
    // Something to log: the peer stops, b takes over.
    await killNode(p.a);
    fs.rmSync(p.a.held);
    await expectWithin(
      () => `the takeover followed into the new file:\n${fs.readFileSync(out, 'utf8')}`,
      () => /\(supervise\) transition #\d+: .*Standby -> Active/.test(fs.readFileSync(out, 'utf8')),
      8000,
    );
    tmux('send-keys', '-t', 'f', 'q');
  } finally {
    await p.cleanup();
  }
});
