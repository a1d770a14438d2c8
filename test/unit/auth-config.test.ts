// AUTHKEY / AUTH_MODE and the permission checks of what pha trusts: every
// refusal names the file and line (or the path) and the fix; a loaded key
// never shows in JSON, util.inspect, `conf` or `stat`.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import util from 'node:util';
import { buildConfig, type Config, type LoadOptions, loadConfig, parseConfigText } from '../../src/config/index.js';
import { ConfigError, exitCodeOf } from '../../src/errors.js';
import { StatusStore } from '../../src/status-store/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CLI = path.join(ROOT, 'bin', 'pha-cli.js');
const lookup = async (n: string): Promise<string[]> => ({ lb1: ['198.18.0.11'], lb2: ['198.18.0.12'] })[n] ?? [];
const OPTS: LoadOptions = { hostname: 'lb1', lookup, env: {} };
const HEX1 = 'a1'.repeat(32);
const HEX2 = 'b2'.repeat(64);
const isRoot = process.geteuid?.() === 0;

interface Inst {
  dir: string;
  etc: string;
  config: string;
  key: string;
}

function inst(): Inst {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-auth-'));
  fs.mkdirSync(path.join(dir, 'etc'), { mode: 0o755 });
  return {
    dir,
    etc: path.join(dir, 'etc'),
    config: path.join(dir, 'etc', 'config'),
    key: path.join(dir, 'etc', 'authkey'),
  };
}

function writeKey(file: string, text: string, mode = 0o600) {
  fs.writeFileSync(file, text);
  fs.chmodSync(file, mode);
}

/** Config text: line 1 INSTALLDIR, 2 NODES, then `extra` from line 3. */
function cfg(i: Inst, ...extra: string[]): string {
  return `${[`INSTALLDIR=${i.dir}`, 'NODES=lb1 lb2', ...extra].join('\n')}\n`;
}

async function build(i: Inst, src: string): Promise<Config> {
  return buildConfig(parseConfigText(src, i.config), OPTS);
}

async function refused(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    assert.equal(exitCodeOf(e), 2);
    return e;
  }
  assert.fail('expected a ConfigError, the config was accepted');
}

function has(e: ConfigError, file: string, line: number, re: RegExp) {
  const p = e.problems.find((x) => x.file === file && x.line === line && re.test(x.message));
  assert.ok(p, `no problem ${file}:${line} matching ${re}; got ${JSON.stringify(e.problems)}`);
  assert.ok(e.message.includes(line > 0 ? `${file}:${line}: ` : `${file}: `), e.message);
  assert.ok(!e.message.includes(HEX1.slice(0, 16)) && !e.message.includes(HEX2.slice(0, 16)), 'an error quotes a key');
}

async function withInst(fn: (i: Inst) => Promise<void>) {
  const i = inst();
  try {
    await fn(i);
  } finally {
    fs.rmSync(i.dir, { recursive: true, force: true });
  }
}

test('AUTHKEY with one key: enforce by default, key ids known, plain config has no auth', async () => {
  await withInst(async (i) => {
    const plain = await build(i, cfg(i));
    assert.equal(plain.auth, null);
    assert.equal(plain.AUTHKEY, '');
    assert.equal(plain.AUTH_MODE, '');
    writeKey(i.key, `# comment\n\n7 ${HEX1}\n`);
    const c = await build(i, cfg(i, `AUTHKEY=${i.key}`));
    assert.equal(c.auth?.mode, 'enforce');
    assert.equal(c.AUTH_MODE, 'enforce');
    assert.deepEqual(c.auth?.keys.ids, [7]);
    assert.equal(c.auth?.keys.signingId, 7);
    assert.deepEqual(c.auth?.keys.signingKey, Buffer.from(HEX1, 'hex'));
    assert.equal(c.AUTHKEY, i.key);
  });
});

test('AUTHKEY with two keys, relative to INSTALLDIR, AUTH_MODE=permissive', async () => {
  await withInst(async (i) => {
    writeKey(i.key, `2 ${HEX2}\n1 ${HEX1.toUpperCase()}\n`);
    const c = await build(i, cfg(i, 'AUTHKEY=etc/authkey', 'AUTH_MODE=permissive'));
    assert.equal(c.auth?.file, i.key);
    assert.equal(c.auth?.mode, 'permissive');
    assert.deepEqual(c.auth?.keys.ids, [2, 1]);
    assert.deepEqual(c.auth?.keys.key(1), Buffer.from(HEX1, 'hex'));
    assert.equal(c.auth?.keys.key(3), undefined);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.auth) && Object.isFrozen(c.auth!.keys));
  });
});

test('a loaded key is not in JSON.stringify(config), util.inspect(config) or String()', async () => {
  await withInst(async (i) => {
    writeKey(i.key, `2 ${HEX2}\n1 ${HEX1}\n`);
    const c = await build(i, cfg(i, `AUTHKEY=${i.key}`));
    const shown = [
      JSON.stringify(c),
      util.inspect(c, { depth: Infinity, showHidden: true }),
      util.inspect(c.auth?.keys, { showHidden: true }),
      String(c.auth?.keys),
      util.format('%o', c),
    ];
    for (const s of shown) {
      for (const hex of [HEX1, HEX2]) {
        assert.ok(!s.toLowerCase().includes(hex.slice(0, 16)), `a key is shown: ${s.slice(0, 300)}`);
        assert.ok(!s.includes(Buffer.from(hex, 'hex').toString('base64').slice(0, 12)), 'a key is shown in base64');
      }
    }
    assert.match(JSON.stringify(c), /"ids":\[2,1\]/);
    assert.match(util.inspect(c, { depth: Infinity }), /key ids 2, 1 \(2 signs\)/);
    const bytes = [...Buffer.from(HEX1, 'hex').subarray(0, 6)].join(', ');
    assert.ok(
      !util.inspect(c, { depth: Infinity, showHidden: true, maxArrayLength: Infinity }).includes(bytes),
      'key bytes shown',
    );
  });
});

test('refused: the key file is missing or unreadable (config file:line of AUTHKEY)', async () => {
  await withInst(async (i) => {
    has(
      await refused(build(i, cfg(i, `AUTHKEY=${i.key}`))),
      i.config,
      3,
      /key file .*authkey not found \(create it with 'pha-cli keygen/,
    );
    const notDir = path.join(i.etc, 'plainfile');
    fs.writeFileSync(notDir, '');
    has(await refused(build(i, cfg(i, 'PORT=4711', `AUTHKEY=${notDir}/key`))), i.config, 4, /not readable: ENOTDIR/);
    fs.mkdirSync(path.join(i.etc, 'keydir'), { mode: 0o700 });
    has(await refused(build(i, cfg(i, `AUTHKEY=${path.join(i.etc, 'keydir')}`))), i.config, 3, /not a regular file/);
    writeKey(path.join(i.etc, 'real'), `1 ${HEX1}\n`);
    fs.symlinkSync(path.join(i.etc, 'real'), i.key);
    has(await refused(build(i, cfg(i, `AUTHKEY=${i.key}`))), i.config, 3, /is a symlink/);
  });
});

test('refused: a group- or world-readable (or -writable) key file, with the chmod that fixes it', async () => {
  await withInst(async (i) => {
    for (const mode of [0o640, 0o604, 0o620, 0o602, 0o644, 0o660, 0o610]) {
      writeKey(i.key, `1 ${HEX1}\n`, mode);
      const e = await refused(build(i, cfg(i, `AUTHKEY=${i.key}`)));
      has(
        e,
        i.config,
        3,
        new RegExp(`mode 0${mode.toString(8)}.*chmod 600 ${i.key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
      );
    }
    writeKey(i.key, `1 ${HEX1}\n`, 0o400);
    assert.deepEqual((await build(i, cfg(i, `AUTHKEY=${i.key}`))).auth?.keys.ids, [1], '0400 is fine');
    fs.chmodSync(i.etc, 0o777);
    has(
      await refused(build(i, cfg(i, `AUTHKEY=${i.key}`))),
      i.config,
      3,
      /key file directory .* is world-writable .*chmod go-w/,
    );
    fs.chmodSync(i.etc, 0o755);
  });
});

test('refused: malformed key lines, named by key file and line', async () => {
  await withInst(async (i) => {
    const cases: [string, number, RegExp][] = [
      [`1\n`, 1, /malformed key line: expected "<id> <hex key>"/],
      [`# c\n1 ${HEX1} extra\n`, 2, /malformed key line/],
      [`0 ${HEX1}\n`, 1, /key id "0" is not a whole number in 1\.\.255/],
      [`256 ${HEX1}\n`, 1, /key id "256"/],
      [`abc ${HEX1}\n`, 1, /key id "abc"/],
      [`-1 ${HEX1}\n`, 1, /key id "-1"/],
      [
        `1 ${'ab'.repeat(31)}\n`,
        1,
        /key 1 is too short: 31 bytes, at least 32 \(64 hex digits\); make one with 'pha-cli keygen'/,
      ],
      [`1 ${'ab'.repeat(65)}\n`, 1, /key 1 is too long: 65 bytes, at most 64/],
      [`1 ${HEX1}a\n`, 1, /not an even number of hex digits/],
      [`1 ${HEX1.slice(0, -1)}g\n`, 1, /not an even number of hex digits/],
      [`1 ${HEX1}\n1 ${HEX2}\n`, 2, /key id 1 is given twice \(also line 1\)/],
      [`1 ${HEX1}\n2 ${HEX1}\n3 ${HEX2}\n`, 3, /more than 2 keys/],
      [`# only a comment\n`, 0, /no key in the file/],
      [``, 0, /no key in the file/],
    ];
    for (const [text, line, re] of cases) {
      writeKey(i.key, text);
      has(await refused(build(i, cfg(i, `AUTHKEY=${i.key}`))), i.key, line, re);
    }
  });
});

test('refused: AUTH_MODE without AUTHKEY, and an unknown AUTH_MODE', async () => {
  await withInst(async (i) => {
    has(
      await refused(build(i, cfg(i, 'AUTH_MODE=enforce'))),
      i.config,
      3,
      /AUTH_MODE=enforce needs AUTHKEY=<key file>/,
    );
    has(await refused(build(i, cfg(i, 'AUTH_MODE=permissive'))), i.config, 3, /needs AUTHKEY/);
    writeKey(i.key, `1 ${HEX1}\n`);
    has(
      await refused(build(i, cfg(i, `AUTHKEY=${i.key}`, 'AUTH_MODE=strict'))),
      i.config,
      4,
      /AUTH_MODE=strict: expected enforce or permissive/,
    );
  });
});

test('refused (root only): a key file owned by another user', {
  skip: isRoot ? false : 'needs root to chown',
}, async () => {
  await withInst(async (i) => {
    writeKey(i.key, `1 ${HEX1}\n`);
    fs.chownSync(i.key, 4321, 4321);
    has(
      await refused(build(i, cfg(i, `AUTHKEY=${i.key}`))),
      i.config,
      3,
      /owned by uid 4321, neither root nor the user pha runs as/,
    );
  });
});

test('hardening: a group/world-writable config file or config directory is refused with the fix', async () => {
  await withInst(async (i) => {
    fs.writeFileSync(i.config, cfg(i));
    fs.chmodSync(i.config, 0o644);
    assert.equal((await loadConfig(i.config, OPTS)).local.name, 'lb1');
    fs.chmodSync(i.config, 0o664);
    has(
      await refused(loadConfig(i.config, OPTS)),
      i.config,
      0,
      /config file .* is group-writable \(mode 0664\).*fix: chmod go-w /,
    );
    fs.chmodSync(i.config, 0o646);
    has(await refused(loadConfig(i.config, OPTS)), i.config, 0, /world-writable/);
    fs.chmodSync(i.config, 0o644);
    fs.chmodSync(i.etc, 0o775);
    has(await refused(loadConfig(i.config, OPTS)), i.config, 0, /config directory .*etc is group-writable/);
    fs.chmodSync(i.etc, 0o1777); // sticky like /tmp: others cannot replace our file
    assert.equal((await loadConfig(i.config, OPTS)).local.name, 'lb1');
    fs.chmodSync(i.etc, 0o755);
  });
});

test('hardening: a writable resource script or script directory is refused at its RES_ line', async () => {
  await withInst(async (i) => {
    const res = path.join(i.dir, 'res');
    fs.mkdirSync(res, { mode: 0o755 });
    const script = path.join(res, 'x');
    fs.writeFileSync(script, '#!/bin/sh\nexit 0\n');
    fs.chmodSync(script, 0o755);
    assert.equal((await build(i, cfg(i, 'RES_x=a'))).resources[0]?.script, script);
    fs.chmodSync(script, 0o775);
    has(
      await refused(build(i, cfg(i, 'RES_x=a'))),
      i.config,
      3,
      /RES_x: script .*res\/x is group-writable \(mode 0775\).*chmod go-w/,
    );
    fs.chmodSync(script, 0o757);
    has(await refused(build(i, cfg(i, 'RES_x=a'))), i.config, 3, /world-writable/);
    fs.chmodSync(script, 0o755);
    fs.chmodSync(res, 0o777);
    has(await refused(build(i, cfg(i, 'RES_x=a'))), i.config, 3, /RES_x: script: directory .*res is world-writable/);
    fs.chmodSync(res, 0o755);
    // a symlink to a script in a writable place is judged by where it leads
    const open = path.join(i.dir, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    fs.writeFileSync(path.join(open, 'y'), '#!/bin/sh\nexit 0\n');
    fs.chmodSync(path.join(open, 'y'), 0o755);
    fs.symlinkSync(path.join(open, 'y'), path.join(res, 'y'));
    has(await refused(build(i, cfg(i, 'RES_y=a'))), i.config, 3, /open is world-writable/);
    if (isRoot) {
      fs.chownSync(script, 4321, 4321);
      has(await refused(build(i, cfg(i, 'RES_x=a'))), i.config, 3, /owned by uid 4321/);
    }
  });
});

test("hardening: the package's own res/ scripts (as git checks them out) pass the check", async () => {
  await withInst(async (i) => {
    const c = await build(i, cfg(i, 'RES_test=/tmp/x', 'RES_ipaddr=198.18.0.100/24 eth0', 'RES_service=foo'));
    assert.deepEqual(
      c.resources.map((r) => path.relative(ROOT, r.script)),
      ['res/test', 'res/ipaddr', 'res/service'],
    );
  });
});

test('hardening: var/ is made 0700 and status.dat written 0600', async () => {
  await withInst(async (i) => {
    const store = new StatusStore({ file: path.join(i.dir, 'var', 'status.dat') });
    await store.update({ STATUS: 'ONLINE' });
    assert.equal(fs.statSync(path.join(i.dir, 'var')).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(i.dir, 'var', 'status.dat')).mode & 0o777, 0o600);
  });
});

test('pha-cli: a bad key file exits 2 with file:line and no stack; conf shows the key file and ids, never a key', async () => {
  await withInst(async (i) => {
    writeKey(i.key, `3 ${HEX1}\n4 ${HEX2}\n`, 0o644);
    fs.writeFileSync(i.config, cfg(i, 'NODES=127.0.0.1 127.0.0.2', 'NODENAME=127.0.0.1', `AUTHKEY=${i.key}`));
    const env = { ...process.env };
    delete env.NODENAME;
    delete env.PHA_CONFIG;
    const bad = spawnSync(process.execPath, [CLI, '--config', i.config, 'conf'], {
      encoding: 'utf8',
      env,
      timeout: 15000,
    });
    assert.equal(bad.status, 2, bad.stderr);
    assert.ok(
      bad.stderr.includes(
        `${i.config}:5: AUTHKEY=${i.key}: key file ${i.key} is group/world-readable (mode 0644): fix: chmod 600 ${i.key}`,
      ),
      bad.stderr,
    );
    assert.doesNotMatch(bad.stderr, /^\s+at /m);
    fs.chmodSync(i.key, 0o600);
    for (const cmd of [['conf'], ['stat'], ['stat', '--json']]) {
      const r = spawnSync(process.execPath, [CLI, '--config', i.config, ...cmd], {
        encoding: 'utf8',
        env,
        timeout: 15000,
      });
      assert.ok(r.status === 0 || (cmd[0] === 'stat' && r.status === 3), `${cmd}: exit ${r.status} ${r.stderr}`);
      const all = r.stdout + r.stderr;
      for (const hex of [HEX1, HEX2]) assert.ok(!all.toLowerCase().includes(hex.slice(0, 16)), `${cmd} printed a key`);
      if (cmd[0] === 'conf') {
        assert.match(r.stdout, new RegExp(`^AUTHKEY=${i.key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
        assert.match(r.stdout, /^AUTH_MODE=enforce$/m);
        assert.match(r.stdout, /key ids 3, 4 \(3 signs\)/);
      }
    }
  });
});
