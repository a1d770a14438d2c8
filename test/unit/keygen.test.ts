// pha-cli keygen on real files through the real CLI: 0600 whatever the umask,
// no overwrite without --force, --rotate keeps the old key second, never
// prints a key, works before the config is valid (the key it names is missing).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadKeyFile } from '../../src/heartbeat/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CLI = path.join(ROOT, 'bin', 'pha-cli.js');

function env() {
  const e = { ...process.env };
  delete e.NODENAME;
  delete e.PHA_CONFIG;
  return e;
}

function run(config: string, args: string[], opts: { umask?: string; stdin?: string } = {}) {
  const cmd = [process.execPath, CLI, '--config', config, ...args]
    .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
    .join(' ');
  const r = spawnSync('/bin/sh', ['-c', `umask ${opts.umask ?? '022'}; exec ${cmd}`], {
    encoding: 'utf8',
    env: env(),
    timeout: 20000,
    input: opts.stdin,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function keysOf(file: string) {
  const k = loadKeyFile(file);
  assert.ok(k.ring, `${file}: ${k.fileProblem ?? JSON.stringify(k.problems)}`);
  return k.ring.ids.map((id) => ({ id, hex: k.ring!.key(id)!.toString('hex') }));
}

function noKeyPrinted(r: { out: string; err: string }, file: string) {
  for (const { hex } of keysOf(file)) assert.ok(!(r.out + r.err).includes(hex.slice(0, 12)), 'keygen printed a key');
}

function withInst(fn: (dir: string, config: string) => void) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-keygen-'));
  fs.mkdirSync(path.join(dir, 'etc'), { mode: 0o755 });
  try {
    fn(dir, path.join(dir, 'etc', 'config'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('keygen writes the AUTHKEY of a config that cannot load yet; mode 0600 even with umask 000; the config then loads', () => {
  withInst((dir, config) => {
    fs.writeFileSync(config, `INSTALLDIR=${dir}\nNODES=127.0.0.1 127.0.0.2\nNODENAME=127.0.0.1\nAUTHKEY=etc/pha.key\n`);
    const key = path.join(dir, 'etc', 'pha.key');
    assert.equal(run(config, ['conf']).code, 2, 'the config does not load without its key file');
    const r = run(config, ['keygen'], { umask: '000' });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`wrote ${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(mode 0600\\): key id 1`));
    assert.equal(fs.statSync(key).mode & 0o777, 0o600);
    const [k] = keysOf(key);
    assert.equal(k!.hex.length, 64, '32 random bytes');
    noKeyPrinted(r, key);
    const conf = run(config, ['conf']);
    assert.equal(conf.code, 0, conf.err);
    assert.match(conf.out, /key id 1 \(1 signs\)/);
    noKeyPrinted(conf, key);
  });
});

test('keygen: default INSTALLDIR/etc/authkey, or the FILE given; refuses to overwrite without --force', () => {
  withInst((dir, config) => {
    fs.writeFileSync(config, `INSTALLDIR=${dir}\nNODES=127.0.0.1 127.0.0.2\nNODENAME=127.0.0.1\n`);
    const def = path.join(dir, 'etc', 'authkey');
    assert.equal(run(config, ['keygen']).code, 0);
    const before = fs.readFileSync(def, 'utf8');
    const again = run(config, ['keygen']);
    assert.equal(again.code, 1);
    assert.match(again.err, /exists; nothing written .*--rotate.*--force/);
    assert.equal(fs.readFileSync(def, 'utf8'), before, 'the file is unchanged');
    const forced = run(config, ['keygen', '--force']);
    assert.equal(forced.code, 0, forced.err);
    const ks = keysOf(def);
    assert.equal(ks.length, 1);
    assert.equal(ks[0]!.id, 2, 'a replaced key gets another id (the peer says "unknown key id", not "bad MAC")');
    assert.notEqual(fs.readFileSync(def, 'utf8'), before);
    const other = path.join(dir, 'elsewhere', 'k');
    assert.equal(run(config, ['keygen', other]).code, 0);
    assert.equal(fs.statSync(other).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(other)).mode & 0o777, 0o755);
  });
});

test('keygen --rotate: the new key signs (first line), the old one stays second; a second rotation drops the oldest', () => {
  withInst((dir, config) => {
    fs.writeFileSync(config, `INSTALLDIR=${dir}\nNODES=127.0.0.1 127.0.0.2\nNODENAME=127.0.0.1\n`);
    const f = path.join(dir, 'etc', 'authkey');
    assert.equal(run(config, ['keygen']).code, 0);
    const [k1] = keysOf(f);
    const r = run(config, ['keygen', '--rotate']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /new key id 2 signs; key id 1 kept to verify/);
    assert.match(r.out, /restart the receiver.*\n.*then the sender/);
    const after1 = keysOf(f);
    assert.deepEqual(
      after1.map((k) => k.id),
      [2, 1],
    );
    assert.equal(after1[1]!.hex, k1!.hex, 'the old key is kept byte for byte');
    noKeyPrinted(r, f);
    const r2 = run(config, ['keygen', '--rotate']);
    assert.match(r2.out, /new key id 3 signs; key id 2 kept to verify \(key id 1 dropped\)/);
    const after2 = keysOf(f);
    assert.deepEqual(
      after2.map((k) => k.id),
      [3, 2],
    );
    assert.equal(after2[1]!.hex, after1[0]!.hex);
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    // a broken current file is not rotated
    fs.writeFileSync(f, 'junk\n');
    fs.chmodSync(f, 0o600);
    const r3 = run(config, ['keygen', '--rotate']);
    assert.equal(r3.code, 1);
    assert.match(r3.err, /cannot read the current keys, nothing written:\n.*authkey:1: malformed key line/);
  });
});

test('keygen: usage errors exit 2; the shell knows keygen too', () => {
  withInst((dir, config) => {
    fs.writeFileSync(config, `INSTALLDIR=${dir}\nNODES=127.0.0.1 127.0.0.2\nNODENAME=127.0.0.1\n`);
    assert.equal(run(config, ['keygen', '--force', '--rotate']).code, 2);
    assert.equal(run(config, ['keygen', '--bogus']).code, 2);
    assert.equal(run(config, ['keygen', 'a', 'b']).code, 2);
    const k = path.join(dir, 'etc', 'shellkey');
    const sh = run(config, [], { stdin: `keygen ${k}\nq\n` });
    assert.equal(sh.code, 0, sh.err);
    assert.match(sh.out, /wrote .*shellkey \(mode 0600\): key id 1/);
    assert.equal(fs.statSync(k).mode & 0o777, 0o600);
    assert.match(run(config, ['help']).out, /keygen \[FILE\]/);
  });
});
