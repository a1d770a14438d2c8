// The package an operator gets: `npm pack` ships only pha (daemons, CLI, res/,
// etc/, docs/), the tarball unpacks into an empty directory, installs with
// `npm install -g --prefix`, and the installed pha-cli runs a node from there.
// Offline: the dependencies come from the npm cache `npm ci` filled, pinned by
// the npm-shrinkwrap.json that prepack puts into the tarball.

import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT, waitFor } from './pair-helpers.js';

const NOT_COPIED = new Set(['node_modules', 'dist', 'var', '.git']);

/** npm's own variables from an outer `npm test` must not steer the inner npm (prefix, lifecycle). */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.toLowerCase().startsWith('npm_') || /^npm_config_(cache|userconfig|registry)$/i.test(k)) env[k] = v;
  }
  return env;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = npmEnv()): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return r;
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what}: exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

test('npm pack: only pha in the tarball; installed with npm install -g --prefix it runs a node', {
  timeout: 300_000,
}, async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-pack-'));
  const node = path.join(base, 'node');
  const cfg = path.join(node, 'etc', 'config');
  const prefix = path.join(base, 'prefix');
  const cliEnv = (): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, PHA_CONFIG: cfg };
    delete env.NODENAME;
    return env;
  };
  const pidFiles = () => ['sender', 'receiver', 'supervise'].map((d) => path.join(node, 'var', 'run', d));
  try {
    // Pack a copy of the source tree, so prepack's build from scratch is what
    // is tested, and the working tree's dist/ is not rebuilt under running tests.
    const tree = path.join(base, 'tree');
    fs.cpSync(ROOT, tree, {
      recursive: true,
      filter: (src) => {
        const rel = path.relative(ROOT, src);
        return !NOT_COPIED.has(rel.split(path.sep)[0]!) && !rel.endsWith('.tgz') && rel !== 'npm-shrinkwrap.json';
      },
    });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(tree, 'node_modules'));
    // A tool's build left in dist/src by an older checkout must not be shipped.
    fs.mkdirSync(path.join(tree, 'dist', 'src', 'lab'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'dist', 'src', 'lab', 'stale.js'), '');

    const packOut = ok(run('npm', ['pack', '--pack-destination', base], tree), 'npm pack');
    const tarball = path.join(base, packOut.trim().split('\n').pop()!.trim());
    assert.ok(fs.existsSync(tarball), `no tarball: ${packOut}`);
    assert.equal(fs.existsSync(path.join(tree, 'npm-shrinkwrap.json')), false, 'postpack removes the shrinkwrap copy');

    const entries = ok(run('tar', ['tzf', tarball], base), 'tar tzf')
      .trim()
      .split('\n')
      .map((e) => e.replace(/^package\//, ''));
    for (const want of [
      'package.json',
      'README.md',
      'npm-shrinkwrap.json',
      'bin/pha-cli.js',
      'bin/pha-sender.js',
      'bin/pha-receiver.js',
      'bin/pha-supervise.js',
      'dist/src/cli/main.js',
      'dist/src/supervise/main.js',
      'res/test',
      'res/ipaddr',
      'etc/config',
    ]) {
      assert.ok(entries.includes(want), `${want} missing from the tarball: ${entries.join(' ')}`);
    }
    const tools = entries.filter(
      (e) =>
        /(^|\/)(tools|test|lab|bench|demo|sim)\//.test(e) ||
        e.endsWith('.ts') ||
        e.endsWith('.map') ||
        e.startsWith('src/'),
    );
    assert.deepEqual(tools, [], 'tools, tests, sources or maps in the tarball');

    // Unpack into an empty directory; its dependencies from the shipped
    // shrinkwrap (raw-socket's build is allowed by the package's allowScripts).
    const unpacked = path.join(base, 'unpacked');
    fs.mkdirSync(unpacked);
    ok(run('tar', ['xzf', tarball, '-C', unpacked], base), 'tar xzf');
    const pkg = path.join(unpacked, 'package');
    ok(
      run('npm', ['ci', '--omit=dev', '--offline', '--no-audit', '--no-fund'], pkg),
      'npm ci --omit=dev in the unpacked package',
    );
    ok(
      run('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', pkg], base),
      'npm install -g --prefix',
    );
    const installed = path.join(prefix, 'lib', 'node_modules', 'pha');
    ok(run(process.execPath, ['-e', "require('raw-socket')"], installed), 'the ICMP addon loads in the installed copy');

    const phaCli = path.join(prefix, 'bin', 'pha-cli');
    const help = run(phaCli, ['--help'], base, cliEnv());
    assert.match(ok(help, 'pha-cli --help'), /^usage: pha-cli/);
    const version = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')).version as string;
    assert.equal(ok(run(phaCli, ['--version'], base, cliEnv()), 'pha-cli --version'), `pha-cli (pha) ${version}\n`);

    // A loopback node from the installed copy: its res/test, its daemons.
    fs.mkdirSync(path.dirname(cfg), { recursive: true });
    const held = path.join(node, 'held');
    const port = await freeUdpPort();
    fs.writeFileSync(
      cfg,
      [
        `INSTALLDIR=${node}`,
        'NODES=127.0.0.1 127.0.0.2',
        'NODENAME=127.0.0.1',
        'GW=',
        `PORT=${port}`,
        'SUPERVISE_INT=500',
        `RES_test=${held}`,
        '',
      ].join('\n'),
    );
    ok(run(phaCli, ['start'], base, cliEnv()), 'pha-cli start');
    assert.ok(
      await waitFor(() => fs.existsSync(held), 30_000),
      'the lone node took its resource (the installed res/test ran)',
    );
    const stat = run(phaCli, ['stat', '--json'], base, cliEnv());
    const s = JSON.parse(ok(stat, 'pha-cli stat --json')) as { state: string; pids: Record<string, number> };
    assert.equal(s.state, 'Active');
    for (const d of ['sender', 'receiver', 'supervise']) {
      const cmd = fs.readFileSync(`/proc/${s.pids[d]}/cmdline`, 'utf8');
      assert.ok(
        cmd.includes(fs.realpathSync(installed)) || cmd.includes(installed),
        `${d} runs from the installed copy: ${cmd}`,
      );
    }
    ok(run(phaCli, ['stop'], base, cliEnv()), 'pha-cli stop');
    assert.equal(run(phaCli, ['stat'], base, cliEnv()).status, 3, 'stat: not running after stop');
  } finally {
    // Whatever of ours still runs (by the pid files of this test's install dir).
    for (const f of pidFiles()) {
      try {
        const pid = Number(fs.readFileSync(f, 'utf8'));
        if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(cfg)) process.kill(pid, 'SIGKILL');
      } catch {
        /* not running */
      }
    }
    fs.rmSync(base, { recursive: true, force: true });
  }
});
