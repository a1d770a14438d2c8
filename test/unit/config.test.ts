// Config: the original's sample loads unchanged; every bad value is reported
// with file, line and what is expected; several problems are reported at once.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  buildConfig,
  type Config,
  KEYS,
  type LoadOptions,
  loadConfig,
  parseConfigText,
  RESERVED_RESOURCE_NAMES,
} from '../../src/config/index.js';
import { SAFE_FLOOR } from '../../src/config/timing.js';
import { ConfigError, exitCodeOf, PhaError } from '../../src/errors.js';

// dist/test/unit/config.test.js → package root
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SAMPLE = path.join(ROOT, 'etc', 'config');
const CLI = path.join(ROOT, 'bin', 'pha-cli.js');

const HOSTS: Record<string, string[]> = { lb1: ['198.18.0.11'], lb2: ['198.18.0.12'], lb3: ['198.18.0.13'] };
const lookup = async (n: string): Promise<string[]> => HOSTS[n] ?? [];
const OPTS: LoadOptions = { hostname: 'lb1', lookup, env: {} };

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pha-config-'));
}

const FILE = '/srv/pha-test/etc/config';

/** A minimal valid config; `extra` lines follow it (line numbers: base has 4 lines). */
function text(...extra: string[]): string {
  return `${['INSTALLDIR=/srv/pha-test', 'NODES=lb1 lb2', 'PORT=4711', 'GW=192.168.42.1', ...extra].join('\n')}\n`;
}

async function build(src: string, opts: LoadOptions = OPTS): Promise<Config> {
  return buildConfig(parseConfigText(src, FILE), opts);
}

/** Builds `src`, expects a ConfigError, returns it. */
async function problems(src: string, opts: LoadOptions = OPTS): Promise<ConfigError> {
  try {
    await build(src, opts);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ConfigError, the config was accepted');
}

/** The error has a problem on `line` matching `re`, and its message shows file:line: … */
function hasProblem(err: ConfigError, line: number, re: RegExp): void {
  const p = err.problems.find((x) => x.line === line && re.test(x.message));
  assert.ok(p, `no problem on line ${line} matching ${re}; got ${JSON.stringify(err.problems)}`);
  assert.equal(p.file, FILE);
  assert.ok(
    err.message.includes(`${FILE}:${line}: ${p.message}`),
    `message lacks "${FILE}:${line}: …": ${err.message}`,
  );
  assert.equal(exitCodeOf(err), 2);
  assert.equal(err.code, 'PHA_ERR_CONFIG');
}

test('the original sample etc/config parses with no errors and no warnings', () => {
  const parsed = parseConfigText(fs.readFileSync(SAMPLE, 'utf8'), SAMPLE);
  assert.deepEqual(parsed.errors, []);
  assert.deepEqual(parsed.warnings, []);
  assert.equal(parsed.values.get('NODES')?.value, 'lb1 lb2');
  assert.equal(parsed.values.get('NODES')?.line, 14);
  // the commented-out #RES_test is not a resource
  assert.deepEqual(
    parsed.resources.map((r) => r.name),
    ['service', 'ipaddr'],
  );
});

test('the sample builds: lb1 is node 1, lb2 the peer, original values, resources in file order, defaults', async () => {
  const c = await buildConfig(parseConfigText(fs.readFileSync(SAMPLE, 'utf8'), SAMPLE), {
    hostname: 'lb1',
    lookup: async (n) => (({ lb1: ['198.18.0.11'], lb2: ['198.18.0.12'] }) as Record<string, string[]>)[n] ?? [],
    env: {},
  });
  assert.equal(c.file, SAMPLE);
  assert.deepEqual(c.local, { name: 'lb1', id: 1, addrs: ['198.18.0.11'] });
  assert.deepEqual(c.peer, { name: 'lb2', id: 2, addrs: ['198.18.0.12'] });
  assert.deepEqual([...c.NODES], ['lb1', 'lb2']);
  assert.equal(c.PORT, 4711);
  assert.equal(c.SUPERVISE_INT, 2000);
  assert.equal(c.PINGTIMEOUT, 2.1);
  assert.equal(c.DEBUG, 0);
  assert.equal(c.DAEMON, true);
  assert.equal(c.GW, '192.168.42.1');
  assert.equal(c.INSTALLDIR, '/opt/pha');
  assert.equal(c.LOGPATH, '/opt/pha/var/log');
  assert.deepEqual(
    c.resources.map((r) => ({ name: r.name, args: [...r.args] })),
    [
      { name: 'service', args: ['httpd'] },
      { name: 'ipaddr', args: ['192.168.42.20/24', 'eth0'] },
    ],
  );
  // /opt/pha/res does not hold them here: the package's res/ does.
  for (const r of c.resources) {
    if (!fs.existsSync(path.join('/opt/pha/res', r.name))) assert.equal(r.script, path.join(ROOT, 'res', r.name));
  }
  assert.equal(c.HEARTBEAT_INT, 200);
  assert.equal(c.DEADTIME, 1000);
  assert.equal(c.RES_TIMEOUT, 30);
  assert.deepEqual(c.warnings, []);
  assert.ok(Object.isFrozen(c));
});

test('the second node of NODES sees lb1 as its peer', async () => {
  const c = await build(text(), { ...OPTS, hostname: 'lb2' });
  assert.equal(c.local.name, 'lb2');
  assert.equal(c.local.id, 2);
  assert.equal(c.peer.name, 'lb1');
  assert.equal(c.peer.id, 1);
  // a FQDN host name matches its short name
  const f = await build(text(), { ...OPTS, hostname: 'lb2.example.org' });
  assert.equal(f.local.name, 'lb2');
});

test('a malformed line is an error naming file, line and KEY=VALUE', async () => {
  const e = await problems(text('this is not a key value line'));
  hasProblem(e, 5, /malformed line .*expected KEY=VALUE/);
  const e2 = await problems(text('=value'));
  hasProblem(e2, 5, /expected KEY=VALUE/);
});

test('NODES must name exactly two nodes', async () => {
  const one = await problems('INSTALLDIR=/srv/pha-test\nNODES=lb1\n');
  hasProblem(one, 2, /NODES must name exactly two nodes \(got 1: lb1\)/);
  const three = await problems('INSTALLDIR=/srv/pha-test\n\nNODES=lb1 lb2 lb3\n');
  hasProblem(three, 3, /NODES must name exactly two nodes \(got 3: lb1 lb2 lb3\)/);
  const none = await problems('INSTALLDIR=/srv/pha-test\n');
  assert.ok(
    none.problems.some((p) => /NODES must name exactly two nodes \(got 0\)/.test(p.message)),
    none.message,
  );
  const same = await problems('INSTALLDIR=/srv/pha-test\nNODES=lb1 lb1\n');
  hasProblem(same, 2, /same node twice/);
});

test('a host that is not in NODES is an error that says to set NODENAME', async () => {
  const e = await problems(text(), { ...OPTS, hostname: 'lb3' });
  hasProblem(e, 2, /this host \(lb3\) is not one of NODES \(lb1 lb2\).*NODENAME/);
});

test('NODENAME picks the node; one not in NODES is an error', async () => {
  const c = await build(text('NODENAME=lb2'), { ...OPTS, hostname: 'elsewhere' });
  assert.equal(c.local.name, 'lb2');
  assert.equal(c.NODENAME, 'lb2');
  const e = await problems(text('NODENAME=lbx'), { ...OPTS, hostname: 'lb1' });
  hasProblem(e, 2, /NODENAME=lbx is not one of NODES \(lb1 lb2\)/);
  // NODENAME from the environment (when passed) wins over the file
  const envc = await build(text('NODENAME=lb1'), { ...OPTS, env: { NODENAME: 'lb2' } });
  assert.equal(envc.local.name, 'lb2');
  const enve = await problems(text(), { ...OPTS, env: { NODENAME: 'nope' } });
  hasProblem(enve, 2, /NODENAME=nope is not one of NODES/);
});

test('a node name that does not resolve is an error naming it', async () => {
  const e = await problems('INSTALLDIR=/srv/pha-test\nNODES=lb1 ghost\n');
  hasProblem(e, 2, /node name "ghost" does not resolve to an address/);
  const thrown = await problems('INSTALLDIR=/srv/pha-test\nNODES=lb1 lb2\n', {
    ...OPTS,
    lookup: async (n) => {
      if (n === 'lb2') throw new Error('getaddrinfo ENOTFOUND lb2');
      return ['198.18.0.11'];
    },
  });
  hasProblem(thrown, 2, /node name "lb2" does not resolve.*ENOTFOUND/);
});

test('IPv4 literals in NODES resolve to themselves with the system lookup', async () => {
  const c = await build('INSTALLDIR=/srv/pha-test\nNODES=127.0.0.1 127.0.0.2\nNODENAME=127.0.0.1\n', { env: {} });
  assert.deepEqual(c.local.addrs, ['127.0.0.1']);
  assert.deepEqual(c.peer.addrs, ['127.0.0.2']);
});

test('numbers out of range or not numbers name the key, the value and the range', async () => {
  hasProblem(
    await problems(text().replace('PORT=4711', 'PORT=99999')),
    3,
    /PORT=99999: expected a whole number in 1\.\.65535/,
  );
  hasProblem(
    await problems(text().replace('PORT=4711', 'PORT=abc')),
    3,
    /PORT=abc: expected a whole number in 1\.\.65535/,
  );
  hasProblem(await problems(text().replace('PORT=4711', 'PORT=0')), 3, /PORT=0: expected/);
  hasProblem(await problems(text().replace('PORT=4711', 'PORT=47.5')), 3, /PORT=47\.5: expected a whole number/);
  hasProblem(
    await problems(text('SUPERVISE_INT=-5')),
    5,
    /SUPERVISE_INT=-5: expected a whole number in 100\.\.600000 ms/,
  );
  hasProblem(await problems(text('PINGTIMEOUT=fast')), 5, /PINGTIMEOUT=fast: expected a number in/);
  hasProblem(await problems(text('DAEMON=yes')), 5, /DAEMON=yes: expected 0 or 1/);
  hasProblem(await problems(text('NICE=-30')), 5, /NICE=-30: expected a whole number in -20\.\.19/);
});

test('DEADTIME smaller than twice HEARTBEAT_INT is an error', async () => {
  hasProblem(
    await problems(text('HEARTBEAT_INT=200', 'DEADTIME=300')),
    6,
    /DEADTIME=300 must be at least twice HEARTBEAT_INT=200/,
  );
  // DEADTIME left at its default 1000: the line of HEARTBEAT_INT is named
  hasProblem(await problems(text('HEARTBEAT_INT=600')), 5, /DEADTIME=1000 must be at least twice HEARTBEAT_INT=600/);
  // exactly twice is fine
  const c = await build(text('HEARTBEAT_INT=50', 'DEADTIME=100'));
  assert.equal(c.DEADTIME, 100);
});

test('a DEADTIME shorter than the one measured safe loads, with a warning naming its line and the floor', async () => {
  const dt = SAFE_FLOOR.DEADTIME;
  const c = await build(text('HEARTBEAT_INT=50', `DEADTIME=${dt / 5}`));
  assert.equal(c.DEADTIME, dt / 5);
  assert.equal(c.warnings.length, 1);
  assert.match(
    c.warnings[0]!,
    new RegExp(`^${FILE}:6: warning: DEADTIME=${dt / 5} \\(ms\\) is shorter than the shortest measured safe, ${dt}`),
  );
  assert.deepEqual((await build(text(`DEADTIME=${dt}`))).warnings, [], 'at the floor: no warning');
  assert.deepEqual(
    (await build(text('HEARTBEAT_INT=50', `DEADTIME=${dt}`))).warnings,
    [],
    'a faster heartbeat within the same DEADTIME: no warning',
  );
});

test('RES_x with no script is an error naming where it looked', async () => {
  const e = await problems(text('RES_nosuchscript=a b'));
  hasProblem(e, 5, /RES_nosuchscript: no script "nosuchscript" in \/srv\/pha-test\/res or /);
});

test('RES_x whose script is not executable is an error (chmod +x)', async () => {
  const dir = tmpDir();
  try {
    fs.mkdirSync(path.join(dir, 'res'));
    fs.writeFileSync(path.join(dir, 'res', 'x'), '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    fs.chmodSync(path.join(dir, 'res', 'x'), 0o644);
    const src = `INSTALLDIR=${dir}\nNODES=lb1 lb2\nRES_x=arg\n`;
    const e = await problems(src);
    hasProblem(
      e,
      3,
      new RegExp(
        `RES_x: script ${path.join(dir, 'res', 'x').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not executable \\(chmod \\+x\\)`,
      ),
    );
    // the same script made executable is taken from INSTALLDIR/res
    fs.chmodSync(path.join(dir, 'res', 'x'), 0o755);
    const c = await build(src);
    assert.equal(c.resources[0]!.script, path.join(dir, 'res', 'x'));
    assert.deepEqual([...c.resources[0]!.args], ['arg']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('GW must be an IPv4 or IPv6 address (empty = no gateway check)', async () => {
  hasProblem(
    await problems(text().replace('GW=192.168.42.1', 'GW=gateway')),
    4,
    /GW=gateway: expected an IPv4 or IPv6 address/,
  );
  hasProblem(
    await problems(text().replace('GW=192.168.42.1', 'GW=192.168.42.300')),
    4,
    /GW=192\.168\.42\.300: expected an IPv4 or IPv6 address/,
  );
  const c = await build(text().replace('GW=192.168.42.1', 'GW='));
  assert.equal(c.GW, '');
});

test('an unknown key is a warning, not an error', async () => {
  const c = await build(text('FROBNICATE=1'));
  assert.equal(c.warnings.length, 1);
  assert.match(c.warnings[0]!, new RegExp(`^${FILE}:5: warning: unknown key FROBNICATE`));
  assert.equal((c as unknown as Record<string, unknown>).FROBNICATE, undefined);
});

test('quotes are stripped; comments and blank lines are ignored but counted', async () => {
  const src = [
    '# a comment',
    '',
    '   # an indented comment',
    'INSTALLDIR="/srv/pha-test"',
    "NODES='lb1 lb2'",
    '',
    'GW="192.168.42.1"',
    'PORT = "4712"',
    'RES_test="/tmp/a file"',
    'SUPERVISE_INT=oops',
  ].join('\n');
  const e = await problems(src);
  hasProblem(e, 10, /SUPERVISE_INT=oops/);
  assert.equal(e.problems.length, 1, e.message);
  const c = await build(src.replace('SUPERVISE_INT=oops', ''));
  assert.equal(c.INSTALLDIR, '/srv/pha-test');
  assert.deepEqual([...c.NODES], ['lb1', 'lb2']);
  assert.equal(c.GW, '192.168.42.1');
  assert.equal(c.PORT, 4712);
  assert.deepEqual([...c.resources[0]!.args], ['/tmp/a', 'file']);
  assert.deepEqual(c.warnings, []);
});

test('a key given twice is a warning and the later line wins', async () => {
  const c = await build(text('PORT=4800'));
  assert.equal(c.PORT, 4800);
  assert.equal(c.warnings.length, 1);
  assert.match(c.warnings[0]!, /:5: warning: PORT given again; it replaces line 3/);
  const r = await build(text('RES_test=/tmp/a', 'RES_test=/tmp/b'));
  assert.deepEqual(
    r.resources.map((x) => [...x.args]),
    [['/tmp/b']],
  );
  assert.match(r.warnings.join('\n'), /:6: warning: RES_test given again; it replaces line 5/);
});

test('all problems are reported at once', async () => {
  const src = [
    'INSTALLDIR=/srv/pha-test',
    'NODES=lb1',
    'PORT=abc',
    'junk line',
    'GW=nope',
    'SUPERVISE_INT=-5',
    'RES_nosuchscript=1',
  ].join('\n');
  const e = await problems(src);
  hasProblem(e, 2, /NODES must name exactly two/);
  hasProblem(e, 3, /PORT=abc/);
  hasProblem(e, 4, /malformed line/);
  hasProblem(e, 5, /GW=nope/);
  hasProblem(e, 6, /SUPERVISE_INT=-5/);
  hasProblem(e, 7, /RES_nosuchscript/);
  assert.equal(e.problems.length, 6, e.message);
  assert.equal(e.message.split('\n').length, 6);
});

test('loadConfig reads a file; a missing file is a ConfigError with a clear message', async () => {
  const dir = tmpDir();
  try {
    const f = path.join(dir, 'config');
    fs.writeFileSync(f, text());
    const c = await loadConfig(f, OPTS);
    assert.equal(c.file, f);
    assert.equal(c.local.name, 'lb1');

    const missing = path.join(dir, 'nope', 'config');
    await assert.rejects(loadConfig(missing, OPTS), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.problems.length, 1);
      assert.match(e.message, new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: config file not found`));
      assert.match(e.message, /--config/);
      return true;
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("INSTALLDIR defaults to the directory above the config file's etc/", async () => {
  const c = await buildConfig(parseConfigText('NODES=lb1 lb2\n', '/srv/other/etc/config'), OPTS);
  assert.equal(c.INSTALLDIR, '/srv/other');
  assert.equal(c.LOGPATH, '/srv/other/var/log');
});

test('pha-cli with a bad config exits 2 and prints file:line, no stack trace', () => {
  const dir = tmpDir();
  try {
    const f = path.join(dir, 'config');
    fs.writeFileSync(f, `INSTALLDIR=${dir}\nNODES=127.0.0.1 127.0.0.2\nNODENAME=127.0.0.1\nPORT=99999\n`);
    const env = { ...process.env };
    delete env.NODENAME;
    delete env.PHA_CONFIG;
    const r = spawnSync(process.execPath, [CLI, '--config', f, 'stat'], { encoding: 'utf8', env, timeout: 15000 });
    assert.equal(r.status, 2, `exit ${r.status}; stderr: ${r.stderr}`);
    assert.ok(r.stderr.includes(`${f}:4: PORT=99999: expected a whole number in 1..65535`), r.stderr);
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'stack trace printed');
    assert.doesNotMatch(r.stderr, /ConfigError|PhaError/);
    assert.equal(r.stdout, '');
    // nothing was started: no status file, no pid files
    assert.equal(fs.existsSync(path.join(dir, 'var', 'status.dat')), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// Every key of the README's configuration table, set once from a config file
// to a value that is not its default, and read back typed (issue 7 item 7).
const EVERY_KEY: Record<
  string,
  { line: string; expect: (c: Config, dir: string) => unknown; want: (dir: string) => unknown }
> = {
  DEBUG: { line: 'DEBUG=2', expect: (c) => c.DEBUG, want: () => 2 },
  INSTALLDIR: { line: 'INSTALLDIR=<dir>', expect: (c) => c.INSTALLDIR, want: (d) => d },
  LOGPATH: { line: 'LOGPATH=<dir>/logs/pha', expect: (c) => c.LOGPATH, want: (d) => `${d}/logs/pha` },
  DAEMON: { line: 'DAEMON=0', expect: (c) => c.DAEMON, want: () => false },
  NICE: { line: 'NICE=-10', expect: (c) => c.NICE, want: () => -10 },
  PINGTIMEOUT: { line: 'PINGTIMEOUT=0.7', expect: (c) => c.PINGTIMEOUT, want: () => 0.7 },
  PORT: { line: 'PORT=4812', expect: (c) => c.PORT, want: () => 4812 },
  SUPERVISE_INT: { line: 'SUPERVISE_INT=1500', expect: (c) => c.SUPERVISE_INT, want: () => 1500 },
  NODES: { line: 'NODES=lb2 lb1', expect: (c) => [...c.NODES], want: () => ['lb2', 'lb1'] },
  GW: { line: 'GW=198.18.0.1', expect: (c) => c.GW, want: () => '198.18.0.1' },
  NODENAME: {
    line: 'NODENAME=lb2',
    expect: (c) => [c.NODENAME, c.local.name, c.local.id],
    want: () => ['lb2', 'lb2', 1],
  },
  HEARTBEAT_INT: { line: 'HEARTBEAT_INT=100', expect: (c) => c.HEARTBEAT_INT, want: () => 100 },
  DEADTIME: { line: 'DEADTIME=1200', expect: (c) => c.DEADTIME, want: () => 1200 },
  RES_TIMEOUT: { line: 'RES_TIMEOUT=12.5', expect: (c) => c.RES_TIMEOUT, want: () => 12.5 },
  RES_RESTARTS: { line: 'RES_RESTARTS=5', expect: (c) => c.RES_RESTARTS, want: () => 5 },
  GW_FAILS: { line: 'GW_FAILS=3', expect: (c) => c.GW_FAILS, want: () => 3 },
  GW_INT: { line: 'GW_INT=100', expect: (c) => c.GW_INT, want: () => 100 },
  CHECK_TIMEOUT: { line: 'CHECK_TIMEOUT=1500', expect: (c) => c.CHECK_TIMEOUT, want: () => 1500 },
  AUTHKEY: { line: 'AUTHKEY=<dir>/etc/authkey', expect: (c) => c.AUTHKEY, want: (d) => `${d}/etc/authkey` },
  AUTH_MODE: { line: 'AUTH_MODE=permissive', expect: (c) => c.AUTH_MODE, want: () => 'permissive' },
  FAIL_HOLDDOWN: { line: 'FAIL_HOLDDOWN=60', expect: (c) => c.FAIL_HOLDDOWN, want: () => 60 },
  OFF_PAUSE: { line: 'OFF_PAUSE=10', expect: (c) => c.OFF_PAUSE, want: () => 10 },
  BIND: { line: 'BIND=0.0.0.0', expect: (c) => c.BIND, want: () => '0.0.0.0' },
  NOTIFY: { line: 'NOTIFY=test', expect: (c) => [...c.NOTIFY], want: () => ['test'] },
  NOTIFY_TIMEOUT: { line: 'NOTIFY_TIMEOUT=2.5', expect: (c) => c.NOTIFY_TIMEOUT, want: () => 2.5 },
  SPLIT_YIELD: { line: 'SPLIT_YIELD=1', expect: (c) => c.SPLIT_YIELD, want: () => true },
  METRICS: {
    line: 'METRICS=[::1]:9464',
    expect: (c) => [c.METRICS, c.metrics?.host, c.metrics?.port],
    want: () => ['[::1]:9464', '::1', 9464],
  },
  HB_PATHS: {
    line: 'HB_PATHS=lb1:198.18.0.11,198.18.1.11 lb2:198.18.0.12,198.18.1.12',
    // NODENAME=lb2 in this file: lb2's view.
    expect: (c) => [c.paths.map((p) => `${p.local}>${p.peer}`), c.peer.addrs.includes('198.18.1.11')],
    want: () => [['198.18.0.12>198.18.0.11', '198.18.1.12>198.18.1.11'], true],
  },
  WITNESS: {
    line: 'WITNESS=etcds://198.18.2.1:2379,[2001:db8::2]:2379,etcd.example:2379',
    expect: (c) => [c.WITNESS, c.witness?.tls, c.witness?.hosts],
    want: () => [
      'etcds://198.18.2.1:2379,[2001:db8::2]:2379,etcd.example:2379',
      true,
      ['https://198.18.2.1:2379', 'https://[2001:db8::2]:2379', 'https://etcd.example:2379'],
    ],
  },
  WITNESS_PREFIX: { line: 'WITNESS_PREFIX=/lab/pair1', expect: (c) => c.witness?.prefix, want: () => '/lab/pair1/' },
  WITNESS_TTL: { line: 'WITNESS_TTL=5', expect: (c) => c.witness?.ttl, want: () => 5 },
  WITNESS_CA: { line: 'WITNESS_CA=<dir>/etc/authkey', expect: (c) => c.witness?.ca, want: (d) => `${d}/etc/authkey` },
  WITNESS_CERT: {
    line: 'WITNESS_CERT=<dir>/etc/authkey',
    expect: (c) => c.witness?.cert,
    want: (d) => `${d}/etc/authkey`,
  },
  WITNESS_KEY: {
    line: 'WITNESS_KEY=<dir>/etc/authkey',
    expect: (c) => c.witness?.key,
    want: (d) => `${d}/etc/authkey`,
  },
  WITNESS_USER: { line: 'WITNESS_USER=pha', expect: (c) => c.witness?.user, want: () => 'pha' },
  WITNESS_PASSWORD_FILE: {
    line: 'WITNESS_PASSWORD_FILE=<dir>/etc/authkey',
    expect: (c) => c.witness?.passwordFile,
    want: (d) => `${d}/etc/authkey`,
  },
  PEER_ADDR: {
    line: 'PEER_ADDR=198.18.0.21 198.18.0.22',
    expect: (c) => [...c.PEER_ADDR],
    want: () => ['198.18.0.21', '198.18.0.22'],
  },
  'RES_<name>': {
    line: 'RES_test=<dir>/held',
    expect: (c) => c.resources.map((r) => [r.name, [...r.args]]),
    want: (d) => [['test', [`${d}/held`]]],
  },
};

test('every key of the README table is settable from a config file and read back (RES_TIMEOUT, RES_RESTARTS included)', async () => {
  // The README's table and the KEYS table name the same keys, and this test sets each of them.
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration')).split(/\n## /)[0]!;
  const documented = [...section.matchAll(/^\| `([A-Z_<>a-z]+)` \|/gm)].map((m) => m[1]!);
  const known = [...Object.keys(KEYS), 'RES_<name>'];
  assert.deepEqual([...new Set(documented)].sort(), [...known].sort(), 'README configuration table vs KEYS');
  assert.deepEqual(Object.keys(EVERY_KEY).sort(), [...known].sort(), 'this test sets every key');
  const dir = tmpDir();
  try {
    const f = path.join(dir, 'etc', 'config');
    fs.mkdirSync(path.dirname(f));
    fs.writeFileSync(path.join(dir, 'etc', 'authkey'), `1 ${'ab'.repeat(32)}\n`, { mode: 0o600 });
    const src = `${Object.values(EVERY_KEY)
      .map((k) => k.line.replaceAll('<dir>', dir))
      .join('\n')}\n`;
    fs.writeFileSync(f, src);
    const c = await loadConfig(f, { hostname: 'elsewhere', lookup, env: {} });
    assert.deepEqual(c.warnings, []);
    for (const [k, spec] of Object.entries(EVERY_KEY)) {
      const want = spec.want(dir);
      assert.deepEqual(spec.expect(c, dir), want, k);
      if (k in KEYS)
        assert.notEqual(String(want), KEYS[k]!.default, `${k}: the test value must differ from the default`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('RES_TIMEOUT and RES_RESTARTS are settings: never resources, and a bad value says the names are reserved', async () => {
  assert.deepEqual([...RESERVED_RESOURCE_NAMES].sort(), ['RESTARTS', 'TIMEOUT']);
  const parsed = parseConfigText(text('RES_TIMEOUT=5', 'RES_RESTARTS=0'), FILE);
  assert.deepEqual(parsed.resources, []);
  assert.equal(parsed.values.get('RES_TIMEOUT')?.value, '5');
  const c = await build(text('RES_TIMEOUT=5', 'RES_RESTARTS=0'));
  assert.equal(c.RES_TIMEOUT, 5);
  assert.equal(c.RES_RESTARTS, 0);
  assert.deepEqual(c.resources, []);
  // Someone who meant a script called TIMEOUT is told why it cannot be one.
  const e = await problems(text('RES_TIMEOUT=192.168.1.5 eth0'));
  hasProblem(
    e,
    5,
    /RES_TIMEOUT=192\.168\.1\.5 eth0: expected a number in 0\.1\.\.3600 s \(RES_TIMEOUT is a setting, not a resource: no resource may be called TIMEOUT or RESTARTS/,
  );
  hasProblem(
    await problems(text('RES_RESTARTS=nginx')),
    5,
    /RES_RESTARTS=nginx: expected a whole number .*no resource may be called TIMEOUT or RESTARTS/,
  );
});

test('the error catalogue: every code has its exit code in one place', () => {
  assert.equal(exitCodeOf(new ConfigError([{ file: 'f', line: 3, message: 'm' }])), 2);
  assert.equal(exitCodeOf(new PhaError('PHA_ERR_USAGE', 'bad option')), 2);
  assert.equal(exitCodeOf(new PhaError('PHA_ERR_ALREADY_RUNNING', 42)), 3);
  assert.equal(exitCodeOf(new PhaError('PHA_ERR_STATUS_WRITE', '/x/status.dat', 'EROFS')), 1);
  assert.equal(exitCodeOf(new Error('plain')), 1);
  assert.equal(
    new PhaError('PHA_ERR_ICMP', 'EPERM').message,
    'cannot open an ICMP socket for the gateway check (needs root or CAP_NET_RAW): EPERM',
  );
  assert.equal(new PhaError('PHA_ERR_USAGE', 'bad option').code, 'PHA_ERR_USAGE');
});

test('NOTIFY: hooks found like resource scripts, in order; missing, not executable or writable by others is an error on its line', async () => {
  const e = await problems(text('NOTIFY=nosuchhook'));
  hasProblem(e, 5, /NOTIFY: no script "nosuchhook" in \/srv\/pha-test\/res or /);
  const dir = tmpDir();
  try {
    fs.mkdirSync(path.join(dir, 'res'));
    const hook = path.join(dir, 'res', 'tell');
    fs.writeFileSync(hook, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    fs.chmodSync(hook, 0o644);
    const src = `INSTALLDIR=${dir}\nNODES=lb1 lb2\nNOTIFY=tell test\nNOTIFY_TIMEOUT=2.5\n`;
    hasProblem(await problems(src), 3, /NOTIFY: hook .*\/res\/tell is not executable \(chmod \+x\)/);
    fs.chmodSync(hook, 0o757);
    hasProblem(await problems(src), 3, /NOTIFY: hook .*world-writable/);
    fs.chmodSync(hook, 0o755);
    const c = await build(src);
    assert.deepEqual(
      c.notify.map((h) => h.name),
      ['tell', 'test'],
    );
    assert.equal(c.notify[0]!.script, hook);
    assert.equal(c.NOTIFY_TIMEOUT, 2.5);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('WITNESS: etcd:// or etcds:// host:port list; a URL that does not parse, or a setting without it, names the line', async () => {
  const c = await build(text('WITNESS=etcd://198.18.2.1:2379'));
  assert.deepEqual(c.witness?.hosts, ['http://198.18.2.1:2379']);
  assert.equal(c.witness?.ttl, 2);
  assert.equal(c.witness?.prefix, `/pha/${c.NODES.join(',')}/`);
  assert.equal((await build(text(''))).witness, null);
  for (const v of [
    'http://198.18.2.1:2379',
    'etcd://198.18.2.1',
    'etcd://[2001:db8::zz]:2379',
    'etcd://a:70000',
    'etcd://',
  ]) {
    const e = await problems(text(`WITNESS=${v}`));
    hasProblem(e, 5, /WITNESS=.*expected etcd:\/\/<host>:<port>/);
  }
  hasProblem(await problems(text('WITNESS_TTL=2')), 5, /WITNESS_TTL is set but WITNESS is not/);
  hasProblem(
    await problems(text('WITNESS=etcd://h:1\nWITNESS_CA=/etc/hostname')),
    6,
    /WITNESS_CA needs WITNESS=etcds:\/\//,
  );
  hasProblem(
    await problems(text('WITNESS=etcds://h:1\nWITNESS_CA=/nonexistent/ca.pem')),
    6,
    /cannot read \/nonexistent\/ca\.pem: ENOENT/,
  );
  hasProblem(
    await problems(text('WITNESS=etcd://h:1\nWITNESS_USER=pha')),
    6,
    /WITNESS_USER and WITNESS_PASSWORD_FILE go together/,
  );
});

test('METRICS: <address>:<port> (IPv4 or [IPv6]); anything else is an error naming the line', async () => {
  for (const [v, host, port] of [
    ['127.0.0.1:9464', '127.0.0.1', 9464],
    ['0.0.0.0:1', '0.0.0.0', 1],
    ['[::]:65535', '::', 65535],
  ] as const) {
    const c = await build(text(`METRICS=${v}`));
    assert.deepEqual([c.metrics?.host, c.metrics?.port, c.metrics?.line], [host, port, 5], v);
  }
  assert.equal((await build(text())).metrics, null, 'off by default');
  for (const v of [
    'localhost:9464',
    '127.0.0.1',
    '127.0.0.1:0',
    '127.0.0.1:70000',
    '[::1:9464',
    '::1:9464',
    '300.1.1.1:80',
  ]) {
    const e = await problems(text(`METRICS=${v}`));
    hasProblem(e, 5, /METRICS=.*: expected <address>:<port>, e\.g\. 127\.0\.0\.1:9464/);
  }
});

test('HB_PATHS: path i joins the i-th address of each node; without it one path, the names; bad values name the line', async () => {
  const one = await build(text());
  assert.deepEqual(one.paths, [{ local: '198.18.0.11', peer: '198.18.0.12' }]);
  const two = await build(text('HB_PATHS=lb2:198.18.0.12,198.18.1.12 lb1:198.18.0.11,198.18.1.11'), {
    ...OPTS,
    hostname: 'lb2',
  });
  assert.deepEqual(two.paths, [
    { local: '198.18.0.12', peer: '198.18.0.11' },
    { local: '198.18.1.12', peer: '198.18.1.11' },
  ]);
  assert.deepEqual([...two.peer.addrs].sort(), ['198.18.0.11', '198.18.1.11']);
  const cases: [string, RegExp][] = [
    ['HB_PATHS=lb1:198.18.0.11,198.18.1.11 lb2:198.18.0.12', /lb1 has 2 path address\(es\), lb2 1/],
    ['HB_PATHS=lb1:198.18.0.11 lb3:198.18.0.13', /"lb3" is not one of NODES/],
    ['HB_PATHS=lb1:198.18.0.11 lb2:lb2-hb', /"lb2-hb" is not an IP address/],
    ['HB_PATHS=lb1:198.18.0.11,198.18.0.11 lb2:198.18.0.12,198.18.1.12', /lb1 names an address twice/],
    ['HB_PATHS=lb1:198.18.0.11 lb1:198.18.1.11', /lb1 is named twice/],
    ['HB_PATHS=lb1:198.18.0.11', /names one node only/],
    ['HB_PATHS=lb1 lb2', /"lb1" is not <node>:<addr>/],
    ['HB_PATHS=lb1:198.18.0.11 lb2:198.18.0.11', /198.18.0.11 is named for both nodes/],
    [
      `HB_PATHS=lb1:${Array.from({ length: 9 }, (_, i) => `198.18.${i}.11`).join(',')} lb2:${Array.from({ length: 9 }, (_, i) => `198.18.${i}.12`).join(',')}`,
      /9 paths; at most 8/,
    ],
  ];
  for (const [line, re] of cases) hasProblem(await problems(text(line)), 5, re);
});

test('HB_PATHS: an address that is not on this host stops the start with file:line', async () => {
  const { pathAddressesOurs } = await import('../../src/cli/control.js');
  const c = await build(text('HB_PATHS=lb1:198.18.0.11,198.18.1.11 lb2:198.18.0.12,198.18.1.12'));
  const ours = (set: string[]) => async (a: string) => set.includes(a);
  await pathAddressesOurs(c, ours(['198.18.0.11', '198.18.1.11']));
  await assert.rejects(
    pathAddressesOurs(c, ours(['198.18.0.11'])),
    (e: unknown) =>
      e instanceof ConfigError &&
      /config:5: HB_PATHS: 198.18.1.11 is not an address of this host \(lb1\)/.test(e.message),
  );
  // The real bind test: loopback addresses bind (all of 127/8), a documentation address does not.
  const lo = await build(text('HB_PATHS=lb1:127.0.0.1,127.0.1.1 lb2:127.0.0.2,127.0.1.2'));
  await pathAddressesOurs(lo);
  await assert.rejects(pathAddressesOurs(c), /198\.18\.0\.11, 198\.18\.1\.11 are not an address of this host/);
  // Without HB_PATHS the node's name is the path: nothing to check here.
  const plain = await build(text());
  await pathAddressesOurs(plain, ours([]));
});

test('IPv6: NODES, GW, BIND, PEER_ADDR and HB_PATHS take IPv6 literals (canonical form); a link-local one needs its interface', async () => {
  const v6 = await build(
    [
      'INSTALLDIR=/srv/pha-test',
      'NODES=2001:db8::11 2001:DB8::12',
      'NODENAME=2001:db8::11',
      'GW=fe80::1%eth0',
      'PEER_ADDR=2001:db8:0:0::99',
      'HB_PATHS=[2001:db8::11]:2001:db8::11,198.18.1.11 [2001:DB8::12]:2001:db8::12,198.18.1.12',
      '',
    ].join('\n'),
    { ...OPTS, lookup: async (n) => [n.toLowerCase()] },
  );
  assert.deepEqual(v6.local.addrs, ['2001:db8::11']);
  assert.equal(v6.GW, 'fe80::1%eth0');
  assert.deepEqual(v6.PEER_ADDR, ['2001:db8::99']);
  assert.deepEqual(v6.paths, [
    { local: '2001:db8::11', peer: '2001:db8::12' },
    { local: '198.18.1.11', peer: '198.18.1.12' },
  ]);
  hasProblem(await problems(text('GW=fe80::1')), 5, /GW: fe80::1 is link-local: it needs its interface/);
  hasProblem(await problems(text('BIND=2001:db8::1::2')), 5, /BIND=2001:db8::1::2: expected an IPv4 or IPv6 address/);
  hasProblem(
    await problems(text('HB_PATHS=lb1:198.18.0.11,2001:db8::11 lb2:198.18.0.12,198.18.1.12')),
    5,
    /path 2 joins 2001:db8::11 and 198.18.1.12: both ends of a path are IPv4, or both IPv6/,
  );
});

test("the default route of the gateway family: /proc/net/ipv6_route, the kernel's unreachable entry is none", async () => {
  const { hasDefaultRoute } = await import('../../src/supervise/checks.js');
  const dir = tmpDir();
  try {
    const f = path.join(dir, 'ipv6_route');
    const unreachable = `${'0'.repeat(32)} 00 ${'0'.repeat(32)} 00 ${'0'.repeat(32)} ffffffff 00000001 00000000 00200200 lo`;
    const viaGw = `${'0'.repeat(32)} 00 ${'0'.repeat(32)} 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0`;
    fs.writeFileSync(f, `${unreachable}\n`);
    assert.equal(hasDefaultRoute(f, 6), false);
    fs.writeFileSync(f, `${unreachable}\n${viaGw}\n`);
    assert.equal(hasDefaultRoute(f, 6), true);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('res/ipaddr arguments: <ip/prefix> <dev> (IPv4 or IPv6), checked at load with the line, also under another name (a link)', async () => {
  const dir = tmpDir();
  try {
    fs.mkdirSync(path.join(dir, 'res'));
    fs.symlinkSync(path.join(ROOT, 'res', 'ipaddr'), path.join(dir, 'res', 'vip6'));
    const base = (...extra: string[]) =>
      `${[`INSTALLDIR=${dir}`, 'NODES=lb1 lb2', 'PORT=4711', 'GW=192.168.42.1', ...extra].join('\n')}\n`;
    const ok = await build(base('RES_ipaddr=198.18.0.100/24 eth0', 'RES_vip6=2001:db8::100/64 eth0'));
    assert.deepEqual(
      ok.resources.map((r) => r.name),
      ['ipaddr', 'vip6'],
    );
    const cases: [string, RegExp][] = [
      ['RES_vip6=2001:db8::100 eth0', /"2001:db8::100" is not an address with its prefix length/],
      ['RES_ipaddr=198.18.0.100/33 eth0', /the prefix \/33 is too long for 198\.18\.0\.100/],
      ['RES_ipaddr=198.18.0.100/24', /expected <ip\/prefix> <dev>/],
      ['RES_vip6=fe80::1%eth0/64 eth0', /is not an address with its prefix length/],
      ['RES_ipaddr=vip/24 eth0', /"vip\/24" is not an address/],
    ];
    for (const [line, re] of cases) hasProblem(await problems(base(line)), 5, re);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
