// The systemd units (etc/pha-*.service, etc/pha.target) and pha-cli driving
// them: every unit passes `systemd-analyze verify`; with the units managing a
// node, pha-cli start/stop/se_sta/se_sto go through systemctl.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { configOfEnvironment, managingUnit } from '../../src/daemon/systemd.js';
import { cli, holds, makePair, type Pair, type PairNode, ROOT, waitFor } from './pair-helpers.js';

const ETC = path.join(ROOT, 'etc');
const DAEMONS = ['sender', 'receiver', 'supervise'] as const;
const UNITS = [...DAEMONS.map((d) => `pha-${d}.service`), 'pha.target'];

function hasSystemdAnalyze(): boolean {
  return spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;
}

test('every unit in etc/ passes systemd-analyze verify (no warnings)', (t) => {
  if (!hasSystemdAnalyze()) {
    // In CI the tool must be there (.ci/run installs the Debian package systemd).
    if (process.env.CI === 'true') assert.fail('systemd-analyze is missing (Debian package: systemd)');
    t.skip('systemd-analyze not installed (Debian package: systemd): units not verified');
    return;
  }
  const shipped = fs
    .readdirSync(ETC)
    .filter((f) => /\.(service|target)$/.test(f))
    .sort();
  assert.deepEqual(shipped, [...UNITS].sort(), 'the units shipped in etc/');
  // verify needs ExecStart's program to exist: the same units, pointed at this checkout.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-units-'));
  try {
    for (const f of shipped)
      fs.writeFileSync(
        path.join(dir, f),
        fs.readFileSync(path.join(ETC, f), 'utf8').replaceAll('/opt/pha/bin/', `${ROOT}/bin/`),
      );
    for (const f of shipped) {
      const r = spawnSync('systemd-analyze', ['verify', path.join(dir, f)], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, `${f}: ${r.stdout}${r.stderr}`);
      // verify exits 0 on unknown keys and bad values: its warnings count as failures here
      assert.equal((r.stdout + r.stderr).trim(), '', `${f}: ${r.stdout}${r.stderr}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the units: foreground daemons from /opt/pha/bin, Restart=on-failure, PHA_CONFIG, started and stopped together by pha.target', () => {
  for (const d of DAEMONS) {
    const u = fs.readFileSync(path.join(ETC, `pha-${d}.service`), 'utf8');
    const has = (line: string) => assert.ok(u.split('\n').includes(line), `pha-${d}.service lacks "${line}"`);
    has(`ExecStart=/opt/pha/bin/pha-${d}.js --foreground --config \${PHA_CONFIG}`);
    has('Environment=PHA_CONFIG=/opt/pha/etc/config');
    has('Restart=on-failure');
    has('RestartPreventExitStatus=2 3');
    has('PartOf=pha.target');
    has('WantedBy=pha.target');
    assert.match(u, /^RestartSec=\d+ms$/m);
  }
  assert.match(
    fs.readFileSync(path.join(ETC, 'pha-supervise.service'), 'utf8'),
    /^KillMode=process$/m,
    'stopping supervise leaves the resources',
  );
  const target = fs.readFileSync(path.join(ETC, 'pha.target'), 'utf8');
  assert.match(target, /^Wants=pha-receiver\.service pha-sender\.service pha-supervise\.service$/m);
  assert.match(target, /^WantedBy=multi-user\.target$/m);
});

test("configOfEnvironment reads PHA_CONFIG out of a unit's Environment property", () => {
  assert.equal(configOfEnvironment('PHA_CONFIG=/opt/pha/etc/config'), '/opt/pha/etc/config');
  assert.equal(configOfEnvironment('LANG=C PHA_CONFIG=/etc/pha/config X=1'), '/etc/pha/config');
  assert.equal(configOfEnvironment('"PHA_CONFIG=/srv/my pha/config" X=1'), '/srv/my pha/config');
  assert.equal(configOfEnvironment('NOT_PHA_CONFIG=/x'), undefined);
  assert.equal(configOfEnvironment(''), undefined);
});

// ---- pha-cli with systemd managing the daemons ----

interface FakeSystemd {
  env: NodeJS.ProcessEnv;
  dir: string;
  calls(): string[];
  mainPid(d: string): number;
}

/** A systemctl stand-in on PATH (systemd is not PID 1 here): see test/fixtures/fake-systemctl. */
function fakeSystemd(p: Pair, n: PairNode, units = 'sender receiver supervise'): FakeSystemd {
  const dir = path.join(p.base, 'systemd');
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'test', 'fixtures', 'fake-systemctl'), path.join(dir, 'bin', 'systemctl'));
  const env = {
    PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`,
    FAKE_SYSTEMD_DIR: dir,
    FAKE_SYSTEMD_ROOT: ROOT,
    FAKE_SYSTEMD_NODE: process.execPath,
    FAKE_SYSTEMD_UNITS: units,
    FAKE_SYSTEMD_CONFIG: n.config,
  };
  return {
    env,
    dir,
    calls: () =>
      fs.existsSync(path.join(dir, 'calls')) ? fs.readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n') : [],
    mainPid: (d) => {
      try {
        return Number(fs.readFileSync(path.join(dir, `main.${d}`), 'utf8'));
      } catch {
        return 0;
      }
    },
  };
}

async function withPair(fn: (p: Pair) => Promise<void>) {
  const p = makePair();
  try {
    await fn(p);
  } finally {
    await p.cleanup();
  }
}

test('PHA_SYSTEMD=1: pha-cli start/stop/se_sto/se_sta drive systemctl; the daemons run in the foreground, log to the journal, write pid files', async () => {
  await withPair(async (p) => {
    const sd = fakeSystemd(p, p.a);
    const env = { ...sd.env, PHA_SYSTEMD: '1' };
    const r = await cli(p.a, ['start'], undefined, env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const starts = sd.calls().filter((c) => c.startsWith('start '));
    assert.deepEqual(starts.slice(0, 1), ['start pha-receiver.service'], 'the receiver first');
    assert.deepEqual([...starts].sort(), [
      'start pha-receiver.service',
      'start pha-sender.service',
      'start pha-supervise.service',
    ]);
    const stat = JSON.parse((await cli(p.a, ['stat', '--json'], undefined, env)).stdout);
    for (const d of DAEMONS)
      assert.equal(stat.pids[d], sd.mainPid(d), `${d}: the pid file names the unit's main process`);
    assert.ok(await waitFor(() => holds(p.a), 5000), 'supervise started the resource');
    // DAEMON=0 semantics: logs on stderr (the journal), no LOGPATH file
    assert.ok(
      await waitFor(
        () => fs.readFileSync(path.join(sd.dir, 'journal.supervise'), 'utf8').includes('supervise started'),
        5000,
      ),
    );
    assert.equal(fs.existsSync(path.join(p.a.dir, 'var', 'log.supervise')), false);

    const sto = await cli(p.a, ['se_sto'], undefined, env);
    assert.equal(sto.code, 0, sto.stderr);
    assert.ok(sd.calls().includes('stop pha-sender.service'));
    assert.equal(JSON.parse((await cli(p.a, ['stat', '--json'], undefined, env)).stdout).pids.sender, 0);
    const again = await cli(p.a, ['start'], undefined, env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /receiver: already running \(pid \d+\)/);
    assert.equal(
      JSON.parse((await cli(p.a, ['stat', '--json'], undefined, env)).stdout).pids.sender,
      sd.mainPid('sender'),
    );

    const stop = await cli(p.a, ['stop'], undefined, env);
    assert.equal(stop.code, 0, stop.stderr);
    for (const d of DAEMONS) assert.ok(sd.calls().includes(`stop pha-${d}.service`), d);
    assert.equal((await cli(p.a, ['stat'], undefined, env)).code, 3, 'nothing runs');
  });
});

test('with systemd managing, a daemon started outside it is still stopped by pha-cli stop; PHA_SYSTEMD=0 never calls systemctl', async () => {
  await withPair(async (p) => {
    const sd = fakeSystemd(p, p.a);
    const r = await cli(p.a, ['start'], undefined, { ...sd.env, PHA_SYSTEMD: '0' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(sd.calls(), [], 'PHA_SYSTEMD=0: no systemctl');
    const stop = await cli(p.a, ['stop'], undefined, { ...sd.env, PHA_SYSTEMD: '1' });
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(
      (await cli(p.a, ['stat'], undefined, sd.env)).code,
      3,
      'stopped by pid although systemd did not run them',
    );
  });
});

test('auto: the units are used only with systemd booted, the unit loaded and its PHA_CONFIG this config', async () => {
  const p = makePair();
  const saved = { ...process.env };
  try {
    const sd = fakeSystemd(p, p.a, 'sender receiver');
    Object.assign(process.env, sd.env); // systemctl runs with this process's environment
    const env = { ...sd.env };
    const booted = () => true;
    assert.equal(await managingUnit(p.a.config, 'sender', env, () => false), undefined, 'systemd not booted');
    assert.equal(await managingUnit(p.a.config, 'sender', env, booted), 'pha-sender.service');
    assert.equal(await managingUnit(p.a.config, 'supervise', env, booted), undefined, 'unit not loaded');
    assert.equal(await managingUnit(p.b.config, 'receiver', env, booted), undefined, 'the unit serves another config');
    assert.equal(
      await managingUnit(p.b.config, 'receiver', { ...env, PHA_SYSTEMD: '1' }, booted),
      'pha-receiver.service',
      'forced',
    );
    assert.equal(
      await managingUnit(p.a.config, 'receiver', { ...env, PHA_SYSTEMD: '0' }, booted),
      undefined,
      'forbidden',
    );
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    await p.cleanup();
  }
});
