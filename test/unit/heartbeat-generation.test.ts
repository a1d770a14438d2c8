// The generation files on a real file system: the sender's boot generation
// grows at every start (and survives a lost file via the clock floor), the
// peer's newest state round-trips, corrupt files are reported, not fatal.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { writeFileDurable } from '../../src/heartbeat/durable-file.js';
import {
  generationFile,
  nextBootGeneration,
  peerGenerationFile,
  readPeerState,
  writePeerState,
} from '../../src/heartbeat/index.js';

function withDir(fn: (dir: string) => void) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-gen-'));
  try {
    fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('boot generation: +1 at every start, written 0600 in a var/ made 0700, no temp files left', () => {
  withDir((dir) => {
    const v = path.join(dir, 'var');
    const f = generationFile(v);
    const g1 = nextBootGeneration(f, 0);
    assert.deepEqual(g1, { generation: 1, persisted: true, problem: undefined });
    assert.equal(nextBootGeneration(f, 0).generation, 2);
    assert.equal(nextBootGeneration(f, 0).generation, 3);
    assert.equal(fs.readFileSync(f, 'utf8'), '3\n');
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(f)).mode & 0o777, 0o700);
    assert.deepEqual(fs.readdirSync(path.dirname(f)), ['auth-generation']);
  });
});

test('boot generation: the clock is a floor (a lost file still moves forward), the file wins when ahead', () => {
  withDir((dir) => {
    const f = generationFile(dir);
    const now = 1_764_000_000_000;
    assert.equal(nextBootGeneration(f, now).generation, 1_764_000_000);
    assert.equal(nextBootGeneration(f, now).generation, 1_764_000_001, 'two starts in one second still grow');
    assert.equal(
      nextBootGeneration(f, now - 3_600_000).generation,
      1_764_000_002,
      'a clock set back does not move it back',
    );
    fs.rmSync(f);
    assert.equal(
      nextBootGeneration(f, now + 60_000).generation,
      1_764_000_060,
      'file lost (reinstall): the clock keeps it above the last',
    );
  });
});

test('boot generation: a corrupt file is reported and replaced; an unwritable one is reported, not thrown', () => {
  withDir((dir) => {
    const f = generationFile(dir);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, 'garbage\n');
    const g = nextBootGeneration(f, 5000);
    assert.equal(g.generation, 5);
    assert.equal(g.persisted, true);
    assert.match(g.problem!, /corrupt/);
    assert.equal(fs.readFileSync(f, 'utf8'), '5\n');
    const inFile = path.join(dir, 'afile');
    fs.writeFileSync(inFile, '');
    const u = nextBootGeneration(path.join(inFile, 'auth-generation'), 7000);
    assert.equal(u.generation, 7);
    assert.equal(u.persisted, false);
    assert.match(u.problem!, /cannot write/);
    fs.writeFileSync(f, '4294967295\n');
    assert.match(nextBootGeneration(f, 0).problem!, /exhausted/);
  });
});

test('peer state: absent is null, round trip with a u64 sequence, corrupt is reported and ignored', () => {
  withDir((dir) => {
    const f = peerGenerationFile(path.join(dir, 'var'));
    assert.deepEqual(readPeerState(f), { state: null });
    writePeerState(f, { generation: 77, sequence: 18_446_744_073_709_551_615n });
    assert.deepEqual(readPeerState(f), { state: { generation: 77, sequence: 18_446_744_073_709_551_615n } });
    assert.equal(fs.readFileSync(f, 'utf8'), '77 18446744073709551615\n');
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    writePeerState(f, { generation: 78, sequence: 1n }, false);
    assert.deepEqual(readPeerState(f).state, { generation: 78, sequence: 1n });
    for (const bad of ['', '78', '78 x', '-1 2', '4294967296 1', '1 18446744073709551616']) {
      fs.writeFileSync(f, `${bad}\n`);
      const r = readPeerState(f);
      assert.equal(r.state, null, bad);
      assert.match(r.problem!, /corrupt/, bad);
    }
  });
});

test('writeFileDurable: the mode is exact whatever the umask; a failed write leaves the old file', () => {
  withDir((dir) => {
    const f = path.join(dir, 'x');
    const old = process.umask(0o077);
    try {
      writeFileDurable(f, 'a\n', 0o644);
    } finally {
      process.umask(old);
    }
    assert.equal(fs.statSync(f).mode & 0o777, 0o644);
    writeFileDurable(f, 'b\n', 0o600);
    assert.equal(fs.readFileSync(f, 'utf8'), 'b\n');
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    assert.throws(() => writeFileDurable(path.join(dir, 'nodir', 'y'), 'c', 0o600));
    assert.deepEqual(fs.readdirSync(dir), ['x']);
  });
});
