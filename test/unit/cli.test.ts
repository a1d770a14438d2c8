// pha-cli: the original's command words and abbreviations, completion, and the
// commands run for real in a temporary install (no daemons running).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CommandResult, canonical, isKnown, runCommand } from '../../src/cli/commands.js';
import type { Ctx } from '../../src/cli/control.js';
import { decodeLenient, hasNonPrintable, LenientUtf8Lines, printable } from '../../src/cli/printable.js';
import { completer, tokenize } from '../../src/cli/shell.js';
import { renderWatch, type WatchData } from '../../src/cli/watch.js';
import { type Config, loadConfig, statusFile } from '../../src/config/index.js';
import { StatusStore } from '../../src/status-store/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CLI = path.join(ROOT, 'bin', 'pha-cli.js');

test('canonical: the original abbreviations', () => {
  const c = (s: string) => canonical(tokenize(s));
  for (const w of ['dis', 'disable', 'off', 'offline', 'DISABLE', 'Off']) assert.deepEqual(c(w), ['off'], w);
  for (const w of ['ena', 'enable', 'on', 'online', 'ON']) assert.deepEqual(c(w), ['on'], w);
  for (const w of ['h', '?', 'help']) assert.deepEqual(c(w), ['help'], w);
  assert.deepEqual(c('show conf'), ['conf']);
  assert.deepEqual(c('conf'), ['conf']);
  for (const w of ['q', 'exit', 'quit']) assert.deepEqual(c(w), ['quit'], w);
  assert.deepEqual(c('status'), ['stat']);
  assert.deepEqual(c('stat --json'), ['stat', '--json']);
  assert.deepEqual(c('off --force'), ['off', '--force']);
  assert.deepEqual(c('res start test'), ['res', 'start', 'test']);
  assert.deepEqual(canonical([]), []);
});

test('isKnown: commands of the original are known, other words are not', () => {
  for (const w of [
    'help',
    'h',
    '?',
    'start',
    'stop',
    'dis',
    'off',
    'ena',
    'on',
    'stat',
    'status',
    'res',
    'conf',
    'show conf',
    'quit',
    'q',
    'exit',
    'se_sta',
    'se_sto',
    're_sta',
    're_sto',
    'su_sta',
    'su_sto',
  ]) {
    assert.equal(isKnown(tokenize(w)), true, w);
  }
  for (const w of ['foo', 'show', 'show config', 'restart', 'stats', 'quitt', 'x', 'r', 's', 'se_start', '']) {
    assert.equal(isKnown(tokenize(w)), false, JSON.stringify(w));
  }
});

test('tokenize splits on any whitespace', () => {
  assert.deepEqual(tokenize('  res   start\ttest  '), ['res', 'start', 'test']);
  assert.deepEqual(tokenize(''), []);
  assert.deepEqual(tokenize('   '), []);
});

test('completer: commands, res actions, resource names, options', () => {
  const none = completer([]);
  assert.deepEqual(none('re'), [['res', 're_sta', 're_sto'], 're']);
  assert.deepEqual(none('res st'), [['start', 'stop'], 'st']);
  assert.deepEqual(none('res '), [['list', 'start', 'stop'], '']);
  assert.deepEqual(none('su'), [['su_sta', 'su_sto'], 'su']);
  assert.deepEqual(none('zz'), [[], 'zz']);
  const two = completer(['test', 'tomcat']);
  assert.deepEqual(two('res start t'), [['test', 'tomcat'], 't']);
  assert.deepEqual(two('res stop to'), [['tomcat'], 'to']);
  assert.deepEqual(two('res list t'), [[], 't']);
  assert.deepEqual(two('show c'), [['conf'], 'c']);
  assert.deepEqual(two('stat --'), [['--json'], '--']);
  assert.deepEqual(two('off --f'), [['--force'], '--f']);
});

// ---- commands run for real in a temporary install ----

let DIR: string;
let CFG: string;
let HELD: string;
let config: Config;

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

before(async () => {
  DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-cli-'));
  fs.mkdirSync(path.join(DIR, 'etc'));
  CFG = path.join(DIR, 'etc', 'config');
  HELD = path.join(DIR, 'held');
  const port = await freeUdpPort();
  fs.writeFileSync(
    CFG,
    [
      `INSTALLDIR=${DIR}`,
      'NODES=127.0.0.1 127.0.0.2',
      'NODENAME=127.0.0.1',
      `PORT=${port}`,
      'HEARTBEAT_INT=50',
      'DEADTIME=200',
      'GW=',
      `RES_test=${HELD}`,
      '',
    ].join('\n'),
  );
  config = await loadConfig(CFG, { env: {} });
});
after(() => fs.rmSync(DIR, { recursive: true, force: true }));

interface Run extends CommandResult {
  out: string;
  err: string;
}

async function run(line: string): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: Ctx = {
    config,
    store: new StatusStore({ file: statusFile(config) }),
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  };
  const r = await runCommand(ctx, tokenize(line), { mode: 'shell' });
  return { ...r, out: out.join('\n'), err: err.join('\n') };
}

test('an unknown command says so and returns 2', async () => {
  const r = await run('foo');
  assert.equal(r.code, 2);
  assert.ok(r.err.includes("unknown command 'foo' – try 'help'"), r.err);
  assert.equal(r.quit, undefined);
  const r2 = await run('foo bar');
  assert.ok(r2.err.includes("unknown command 'foo bar'"), r2.err);
});

test('help, conf, show conf, res usage, quit', async () => {
  const h = await run('?');
  assert.equal(h.code, 0);
  assert.match(h.out, /res start \[name\]/);
  assert.match(h.out, /quit\|exit\|q/);
  const c = await run('show conf');
  assert.equal(c.code, 0);
  assert.match(c.out, /^NODES=127\.0\.0\.1 127\.0\.0\.2$/m);
  assert.match(c.out, new RegExp(`^RES_test=${HELD.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
  const u = await run('res');
  assert.equal(u.code, 0);
  assert.match(u.out, /usage: res list \| res start \[name\] \| res stop \[name\].*resources: test/);
  const q = await run('q');
  assert.equal(q.code, 0);
  assert.equal(q.quit, true);
});

test('res with a bad action or an unknown resource returns 2 and names the resources', async () => {
  const b = await run('res bogus');
  assert.equal(b.code, 2);
  assert.match(b.err, /res: unknown action 'bogus'/);
  const n = await run('res start nosuch');
  assert.equal(n.code, 2);
  assert.match(n.err, /no resource 'nosuch'.*configured: test/);
  assert.equal(fs.existsSync(HELD), false, 'something was started');
});

test('res start / res list / res stop run the real script and record RES_test', async () => {
  const store = new StatusStore({ file: statusFile(config) });
  const s = await run('res start');
  assert.equal(s.code, 0, s.err);
  assert.equal(fs.existsSync(HELD), true);
  assert.match(s.out, /test start: ok/);
  assert.equal(store.read().RES_test, 'UP');

  const l = await run('res list');
  assert.equal(l.code, 0);
  assert.match(l.out, /^\s+test\s+UP\s/m);

  const one = await run('res stop test');
  assert.equal(one.code, 0, one.err);
  assert.equal(fs.existsSync(HELD), false);
  assert.equal(store.read().RES_test, 'DOWN');

  assert.equal((await run('res start test')).code, 0);
  assert.equal(fs.existsSync(HELD), true);
  const st = await run('res stop');
  assert.equal(st.code, 0, st.err);
  assert.equal(fs.existsSync(HELD), false);
  const l2 = await run('res list');
  assert.match(l2.out, /^\s+test\s+DOWN\s/m);
  assert.equal(store.read().RES_test, 'DOWN');
});

test('stat --json is JSON with all pids 0 and code 3 (not running)', async () => {
  const r = await run('stat --json');
  assert.equal(r.code, 3);
  const j = JSON.parse(r.out);
  assert.deepEqual(j.pids, { sender: 0, receiver: 0, supervise: 0 });
  assert.equal(j.node, '127.0.0.1');
  assert.equal(j.peer, '127.0.0.2');
  assert.equal(j.state, 'NOTRUNNING');
  assert.equal(typeof j.status, 'object');
  const t = await run('status');
  assert.equal(t.code, 3);
  assert.match(t.out, /^sender:\s+0$/m);
  assert.match(t.out, /^receiver:\s+0$/m);
  assert.match(t.out, /^supervise:\s+0$/m);
  assert.match(t.out, /^\$VAR1 = \{/m);
});

test('stat --extra is a usage error (2) and does not exit the process', async () => {
  const realExit = process.exit;
  let exitCalled: unknown;
  process.exit = ((c?: number) => {
    exitCalled = c ?? 0;
    throw new Error(`process.exit(${c}) called`);
  }) as typeof process.exit;
  let r: Run;
  try {
    r = await run('stat --extra');
  } finally {
    process.exit = realExit;
  }
  assert.equal(exitCalled, undefined, 'process.exit was called');
  assert.equal(r.code, 2);
  assert.match(r.err, /--extra/);
  assert.equal(r.quit, undefined);
  // and the next command still works
  assert.equal((await run('stat --json')).code, 3);
});

test('off with no daemons running is refused with a message (1)', async () => {
  const r = await run('off');
  assert.equal(r.code, 1);
  assert.match(r.err, /supervise is not running/);
  const f = await run('disable --force');
  assert.equal(f.code, 1);
  assert.match(f.err, /supervise is not running/);
});

test('on clears the pause and the hold-down', async () => {
  const store = new StatusStore({ file: statusFile(config) });
  await store.update({ SENDER_RUN: 0, SENDER_PAUSE_UNTIL: Date.now() + 30000, FAILED_UNTIL: Date.now() + 30000 });
  const r = await run('enable');
  assert.equal(r.code, 0);
  const s = store.read();
  assert.equal(s.SENDER_RUN, 1);
  assert.equal(s.SENDER_PAUSE_UNTIL, undefined);
  assert.equal(s.FAILED_UNTIL, undefined);
});

// ---- the shell with piped stdin, as the init script uses it ----

function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODENAME;
  delete env.PHA_CONFIG;
  return env;
}

function shell(input: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CLI, '--config', CFG], { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (b) => (out += b));
    c.stderr.on('data', (b) => (err += b));
    const timer = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`pha-cli did not exit; out: ${out}; err: ${err}`));
    }, 15000);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
    c.stdin.end(input);
  });
}

test('piped shell: prompt, commands, errors, pids; CLI key and var/run/cli cleaned up', async () => {
  const r = await shell('stat\nfoo\nres list\nq\n');
  assert.equal(r.code, 0, `exit ${r.code}; err: ${r.err}`);
  assert.ok(r.out.includes('[127.0.0.1:NOTRUNNING] > '), r.out);
  assert.ok((r.out + r.err).includes("unknown command 'foo'"), r.out + r.err);
  assert.match(r.out, /^sender:\s+0$/m);
  assert.match(r.out, /^\s+test\s+DOWN\s/m);
  assert.doesNotMatch(r.err, /^\s+at /m);
  assert.equal(fs.existsSync(path.join(DIR, 'var', 'run', 'cli')), false, 'var/run/cli left behind');
  const s = new StatusStore({ file: statusFile(config) }).read();
  assert.equal(s.CLI, 0);
});

test('piped shell: end of input without q also leaves cleanly', async () => {
  const r = await shell('stat\n');
  assert.equal(r.code, 3, `exit ${r.code}; err: ${r.err}`); // the last command's code
  assert.equal(fs.existsSync(path.join(DIR, 'var', 'run', 'cli')), false);
});

test('a stale var/run/cli does not block the shell', async () => {
  fs.mkdirSync(path.join(DIR, 'var', 'run'), { recursive: true });
  fs.writeFileSync(path.join(DIR, 'var', 'run', 'cli'), '999999\n');
  const r = await shell('res list\nq\n');
  assert.equal(r.code, 0, `exit ${r.code}; err: ${r.err}`);
  assert.ok(r.out.includes('[127.0.0.1:NOTRUNNING] > '), r.out);
  assert.match(r.out, /^\s+test\s+DOWN\s/m);
  assert.equal(fs.existsSync(path.join(DIR, 'var', 'run', 'cli')), false, 'var/run/cli left behind');
});

// ---- binary input is never echoed raw (issue 7 item 9) ----

test('printable: control characters, DEL, C1, bidi overrides are escaped; text is kept', () => {
  assert.equal(printable('res list'), 'res list');
  assert.equal(printable('café ünïcödé 名前'), 'café ünïcödé 名前');
  assert.equal(printable('\u001b[2J\u0007x\u0000\t\r'), '\\e[2J\\x07x\\x00\\t\\r');
  assert.equal(printable('a\u007fb\u009bc'), 'a\\x7fb\\x9bc');
  assert.equal(printable('evil\u202egnp.exe'), 'evil\\u202egnp.exe');
  assert.equal(printable('\ufffd'), '\\ufffd');
  assert.equal(hasNonPrintable('plain text'), false);
  assert.equal(hasNonPrintable('x\u0001'), true);
  assert.equal(hasNonPrintable('x\u0001'), true, 'the same answer twice (no regex state)');
});

test('decodeLenient: valid UTF-8 unchanged; invalid bytes become \\xNN', () => {
  assert.equal(decodeLenient(Buffer.from('héllo')), 'héllo');
  assert.equal(decodeLenient(Buffer.from([0x66, 0xff, 0xfe, 0x6f])), 'f\\xff\\xfeo');
  // a truncated sequence, an overlong encoding and a lone continuation byte
  assert.equal(decodeLenient(Buffer.from([0xe2, 0x82])), '\\xe2\\x82');
  assert.equal(decodeLenient(Buffer.from([0xc0, 0xaf])), '\\xc0\\xaf');
  assert.equal(decodeLenient(Buffer.from([0x80, 0x41])), '\\x80A');
  // a valid character after an invalid byte survives
  assert.equal(decodeLenient(Buffer.concat([Buffer.from([0xff]), Buffer.from('€')])), '\\xff€');
});

test('LenientUtf8Lines: a character split across chunks is decoded once whole', async () => {
  const t = new LenientUtf8Lines();
  const euro = Buffer.from('€\n');
  let out = '';
  t.on('data', (d) => (out += d));
  t.write(euro.subarray(0, 1));
  t.write(Buffer.concat([euro.subarray(1), Buffer.from([0xff, 0x0a, 0x41])]));
  t.end();
  await new Promise((r) => t.on('end', r));
  assert.equal(out, '€\n\\xff\nA');
});

test('piped shell: binary input is echoed escaped, and the unknown command says so', async () => {
  const bin = Buffer.concat([
    Buffer.from('\u001b[2J\u001b]0;owned\u0007'),
    Buffer.from([0xff, 0xfe, 0x01]),
    Buffer.from('\nq\n'),
  ]);
  const r = await new Promise<{ code: number | null; out: Buffer; err: string }>((resolve, reject) => {
    const c = spawn(process.execPath, [CLI, '--config', CFG], { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    c.stdout.on('data', (b: Buffer) => out.push(b));
    c.stderr.on('data', (b) => (err += b));
    const timer = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`pha-cli did not exit; err: ${err}`));
    }, 15000);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out: Buffer.concat(out), err });
    });
    c.stdin.end(bin);
  });
  assert.equal(r.code, 2, r.err); // the unknown command's code (q keeps the last code)
  const all = Buffer.concat([r.out, Buffer.from(r.err)]);
  for (const b of all)
    assert.ok(
      b === 0x0a || (b >= 0x20 && b !== 0x7f),
      `a raw control byte 0x${b.toString(16)} reached the terminal: ${JSON.stringify(all.toString())}`,
    );
  assert.ok(!all.includes(Buffer.from([0xff])), 'a raw invalid byte reached the terminal');
  const escaped = '\\e[2J\\e]0;owned\\x07\\xff\\xfe\\x01';
  assert.ok(r.out.toString().includes(`[127.0.0.1:NOTRUNNING] > ${escaped}\n`), r.out.toString());
  assert.ok(
    r.err.includes(
      `unknown command '${escaped}' (not text: control characters or bytes that are not UTF-8, shown escaped) – try 'help'`,
    ),
    r.err,
  );
});

test('watch frame: each heartbeat path (wrapped to 80 columns) and the witness; neither without them', () => {
  const base: WatchData = {
    now: Date.parse('2026-12-07T10:00:00Z'),
    node: 'lb2',
    peer: 'lb1',
    state: 'Standby',
    daemons: 3,
    said: 'OFFLINE',
    peerWord: 'ONLINE',
    peerSince: Date.parse('2026-12-07T09:59:00Z'),
    heardAt: Date.parse('2026-12-07T09:59:59.9Z'),
    paths: [],
    resources: [{ name: 'ipaddr', state: 'DOWN' }],
    gw: '198.18.0.1',
    gwOk: 1,
    witness: null,
    alarms: [],
    transitions: [],
  };
  const plain = renderWatch(base, { width: 80, color: false });
  assert.ok(!plain.some((l) => /^paths|^witness/.test(l)), plain.join('\n'));
  const lines = renderWatch(
    {
      ...base,
      paths: [
        '198.18.0.11 → 198.18.0.12: heard 0.1 s ago, 20 datagrams, 0 lost (0.0 % recently)',
        '198.18.1.11 → 198.18.1.12: heard 3.2 s ago, 12 datagrams, 4 lost (25.0 % recently)',
      ],
      witness: 'other:lb1',
    },
    { width: 80, color: false },
  );
  for (const l of lines) assert.ok(l.length <= 80, `over 80 columns: ${l}`);
  const text = lines.join('\n');
  assert.match(text, /^paths {6}1 198\.18\.0\.11 → 198\.18\.0\.12: heard 0\.1 s ago, 20 datagrams, 0 lost$/m);
  assert.match(text, /^ {13}\(0\.0 % recently\)$/m);
  assert.match(text, /^ {11}2 198\.18\.1\.11 → 198\.18\.1\.12: heard 3\.2 s ago, 12 datagrams, 4 lost$/m);
  assert.match(text, /^witness {4}other:lb1$/m);
  assert.ok(text.indexOf('peer ') < text.indexOf('paths') && text.indexOf('paths') < text.indexOf('resources'));
});
