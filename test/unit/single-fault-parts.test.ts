// The parts the single-fault behaviour is built from, each on its own: the
// status store's last good state, the background writer, the gateway monitor,
// the log destination that never throws, the alarm list. Real files (and
// /dev/full for a disk that is full), no mocks of fs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StatusStore } from '../../src/status-store/index.js';
import { StatusWriter } from '../../src/status-store/writer.js';
import { GatewayMonitor } from '../../src/supervise/gateway.js';
import { SafeFileDestination } from '../../src/daemon/logger.js';
import { Alarms } from '../../src/daemon/alarms.js';

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
    assert.deepEqual([...new Set(damaged.map((d) => d.split(' (')[0]))], ['status file corrupt', 'status file missing'], `every damage is reported: ${damaged}`);
    assert.ok(damaged.some((d) => /Unterminated|Unexpected end/.test(d)), 'the truncated file too');
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
    await new Promise((r) => setTimeout(r, 150));
    assert.ok(errors.length >= 1 && errors[0], 'the failure is reported');
    assert.deepEqual(w.over({ STATUS: 'OFFLINE' }), { STATUS: 'ONLINE', RES_a: 'UP', RECEIVER_IN: 'OFFLINE' }, 'our unwritten keys lie over the file');
    w.write({ RES_a: undefined });
    assert.equal('RES_a' in w.over({ RES_a: 'UP' }), false, 'an unwritten delete hides the key');
    // The disk comes back: everything queued lands, nothing lost.
    fs.rmSync(path.join(dir, 'var'));
    fs.mkdirSync(path.join(dir, 'var'));
    await new Promise((r) => setTimeout(r, 200));
    await w.flush();
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { RECEIVER_IN: 'OFFLINE', STATUS: 'ONLINE' });
    assert.equal(errors.at(-1), null, 'recovery is reported');
    w.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('gateway: one lost ping is no loss; GW_FAILS in a row is; an answer ends it; late answers do not undo a newer failure', () => {
  let t = 0;
  const changes: number[] = [];
  const m = new GatewayMonitor('198.18.0.1', { ping: async () => ({ ok: true }) }, () => t, (s) => changes.push(s.failStreak));
  const verdicts = (oks: boolean[], from = 1) => oks.forEach((ok, i) => m.result(from + i, ok, ok ? null : 'timeout'));
  verdicts([true, false, true, false, false, true]);
  assert.equal(m.state().failStreak, 0);
  verdicts([false, false, false, false, false, false], 7);
  assert.equal(m.state().failStreak, 6, 'six in a row');
  m.result(5, true, null); // an old ping's late answer
  assert.equal(m.state().failStreak, 6, 'a late answer to an older ping does not clear a newer loss');
  m.result(13, true, null);
  assert.equal(m.state().failStreak, 0);
  assert.ok(changes.includes(6) && changes.at(-1) === 0);
});

test('gateway: 10 % random loss over 20 000 pings never makes 6 in a row (seeded)', () => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let max = 0;
  const m = new GatewayMonitor('198.18.0.1', { ping: async () => ({ ok: true }) }, () => 0, (s) => (max = Math.max(max, s.failStreak)));
  for (let i = 1; i <= 20_000; i++) m.result(i, rnd() >= 0.1, 'timeout');
  assert.ok(max < 6, `longest run of lost pings: ${max}`);
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
