// The parts the single-fault behaviour is built from, each on its own: the
// status store's last good state, the background writer, the gateway monitor,
// the log destination that never throws, the alarm list. Real files (and
// /dev/full for a disk that is full), no mocks of fs.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Alarms } from '../../src/daemon/alarms.js';
import { SafeFileDestination } from '../../src/daemon/logger.js';
import { StatusStore } from '../../src/status-store/index.js';
import { StatusWriter } from '../../src/status-store/writer.js';
import { SuperviseCore } from '../../src/supervise/core.js';
import { sleep } from '../helpers/wait.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pha-parts-'));

test('store: a corrupt, truncated or deleted file reads as the last good state, and an update keeps the keys others own', async () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'status.dat');
    const damaged: string[] = [];
    const store = new StatusStore({ file, onDamaged: (w) => damaged.push(w) });
    await store.update({ STATUS: 'ONLINE', RECEIVER_IN: 'OFFLINE', RES_ip: 'UP' });
    for (const [how, breakIt] of [
      ['corrupt', () => fs.writeFileSync(file, 'garbage{{{')],
      ['truncated', () => fs.writeFileSync(file, fs.readFileSync(file, 'utf8').slice(0, 10))],
      ['deleted', () => fs.rmSync(file)],
    ] as const) {
      breakIt();
      const s = store.read();
      assert.equal(s.RECEIVER_IN, 'OFFLINE', `${how}: the peer's word is kept, never wiped`);
      assert.equal(s.STATUS, 'ONLINE', how);
      assert.ok(store.damaged, `${how}: damaged is set`);
      // Another daemon's update on the broken file starts from the last good state.
      await store.update({ SENDER_AT: 1 });
      const back = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.equal(back.RECEIVER_IN, 'OFFLINE', `${how}: the rewritten file still has the peer's word`);
      assert.equal(back.RES_ip, 'UP', how);
      assert.equal(store.read().SENDER_AT, 1);
      assert.equal(store.damaged, null, `${how}: a good read clears damaged`);
    }
    assert.deepEqual(
      [...new Set(damaged.map((d) => d.split(' (')[0]))],
      ['status file corrupt', 'status file missing'],
      `every damage is reported: ${damaged}`,
    );
    assert.ok(
      damaged.some((d) => /Unterminated|Unexpected end/.test(d)),
      'the truncated file too',
    );
    // A process that never saw the file: missing is simply empty.
    fs.rmSync(file);
    assert.deepEqual(new StatusStore({ file }).read(), {});
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('store: a write that cannot happen fails at once (no seconds of lock retries) and says why', async () => {
  const dir = tmp();
  try {
    // A status "file" whose directory is a file: every write fails with ENOTDIR.
    fs.writeFileSync(path.join(dir, 'notadir'), '');
    const store = new StatusStore({ file: path.join(dir, 'notadir', 'status.dat') });
    const t0 = Date.now();
    await assert.rejects(store.update({ STATUS: 'ONLINE' }), /cannot lock|not writable/);
    assert.ok(Date.now() - t0 < 1500, 'not the 2 s+ lock budget');
    assert.match(store.writeError ?? '', /not writable/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('writer: patches merge, a failed write keeps its patch and is retried, over() shows what is not written yet', async () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'var', 'status.dat');
    const store = new StatusStore({ file });
    const errors: (string | null)[] = [];
    const w = new StatusWriter(store, (e) => errors.push(e), 30);
    // var/ is a file for a while: writes fail.
    fs.rmSync(path.join(dir, 'var'), { recursive: true, force: true });
    fs.writeFileSync(path.join(dir, 'var'), 'in the way');
    w.write({ STATUS: 'ONLINE', RES_a: 'UP' });
    w.write({ RECEIVER_IN: 'OFFLINE' });
    await sleep(150);
    assert.ok(errors.length >= 1 && errors[0], 'the failure is reported');
    assert.deepEqual(
      w.over({ STATUS: 'OFFLINE' }),
      { STATUS: 'ONLINE', RES_a: 'UP', RECEIVER_IN: 'OFFLINE' },
      'our unwritten keys lie over the file',
    );
    w.write({ RES_a: undefined });
    assert.equal('RES_a' in w.over({ RES_a: 'UP' }), false, 'an unwritten delete hides the key');
    // The disk comes back: everything queued lands, nothing lost.
    fs.rmSync(path.join(dir, 'var'));
    fs.mkdirSync(path.join(dir, 'var'));
    await sleep(200);
    await w.flush();
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { RECEIVER_IN: 'OFFLINE', STATUS: 'ONLINE' });
    assert.equal(errors.at(-1), null, 'recovery is reported');
    w.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// The gateway verdicts as the supervise core counts them (pings overlap, answers come in any order).
function gatewayCore() {
  const cfg = {
    HEARTBEAT_INT: 200,
    DEADTIME: 1000,
    SUPERVISE_INT: 2000,
    CHECK_TIMEOUT: 2000,
    GW: '198.18.0.1',
    GW_FAILS: 6,
    GW_INT: 250,
    RES_RESTARTS: 2,
    RES_TIMEOUT: 30,
    FAIL_HOLDDOWN: 300,
    OFF_PAUSE: 30,
    local: { id: 1 as const },
    peer: { name: 'lb2' },
    resources: [{ name: 'vip', script: '/x/res/ipaddr' }],
  };
  const c = new SuperviseCore(cfg as unknown as ConstructorParameters<typeof SuperviseCore>[0]);
  let mono = 0;
  const verdict = (seq: number, ok: boolean) =>
    c.handle({ kind: 'pinged', seq, ok, error: ok ? null : 'timeout', mono: ++mono, wall: 1_800_000_000_000 + mono });
  return { c, verdict };
}

test('gateway: one lost ping is no loss; GW_FAILS in a row is; an answer ends it; late answers do not undo a newer failure', () => {
  const { c, verdict } = gatewayCore();
  for (const [i, ok] of [true, false, true, false, false, true].entries()) verdict(i + 1, ok);
  assert.equal(c.state.gwFailStreak, 0);
  for (let i = 7; i <= 12; i++) verdict(i, false);
  assert.equal(c.state.gwFailStreak, 6, 'six in a row');
  verdict(5, true); // an old ping's late answer
  assert.equal(c.state.gwFailStreak, 6, 'a late answer to an older ping does not clear a newer loss');
  verdict(13, true);
  assert.equal(c.state.gwFailStreak, 0);
});

test('gateway: 10 % random loss over 20 000 pings never makes 6 in a row (seeded)', () => {
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const { c, verdict } = gatewayCore();
  let max = 0;
  for (let i = 1; i <= 20_000; i++) {
    verdict(i, rnd() >= 0.1);
    max = Math.max(max, c.state.gwFailStreak);
  }
  assert.ok(max > 0 && max < 6, `longest run of lost pings: ${max}`);
});

test('log: a full disk never throws out of a log write; the problem is reported once and the recovery too', () => {
  const problems: (string | null)[] = [];
  const d = new SafeFileDestination('/dev/full');
  d.onProblem = (m) => problems.push(m);
  for (let i = 0; i < 5; i++) assert.equal(d.write('{"msg":"x"}\n'), true);
  assert.equal(problems.length, 1, 'reported once, not per line');
  assert.match(problems[0]!, /not writable/);
  assert.equal(d.failed, 5);
});

test('alarms: problems until cleared, events for a while, the same event once', () => {
  let now = 1_000_000;
  const a = new Alarms(() => now, 60_000);
  a.set('store', 'status file not writable');
  a.event('sender died and was restarted by supervise (new pid 7)');
  a.event('sender died and was restarted by supervise (new pid 7)');
  assert.equal(a.list().length, 2);
  a.set('store', null);
  assert.equal(a.list().length, 1);
  now += 61_000;
  assert.deepEqual(a.list(), [], 'events expire');
});
