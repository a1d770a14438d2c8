// The notify hooks: which transitions are told (transitions.ts), the queue's
// order and bound (hook-queue.ts), and the Notifier running real scripts —
// in order, one at a time, a hanging one killed at NOTIFY_TIMEOUT, a failing
// one an alarm, PHA_SEQ kept across restarts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ResourceRunner } from '../../src/resources/index.js';
import { History } from '../../src/supervise/history.js';
import { HookQueue } from '../../src/supervise/hook-queue.js';
import { Notifier } from '../../src/supervise/notifier.js';
import { type Transition, Transitions } from '../../src/supervise/transitions.js';
import { expectWithin } from '../helpers/wait.js';

const tr = (now: string, old: string, reason = 'r'): Transition => ({ event: 'state', now, old, reason, wall: 0 });

describe('transitions', () => {
  it('the first state after a start is told as <state> UNKNOWN startup; PROGRESS is no state', () => {
    const t = new Transitions();
    assert.equal(t.stateIs('PROGRESS', false, 'x', 1), undefined);
    assert.deepEqual(t.stateIs('OFFLINE', false, 'x', 1), {
      event: 'state',
      now: 'Standby',
      old: 'UNKNOWN',
      reason: 'startup',
      wall: 1,
    });
    assert.equal(t.stateIs('OFFLINE', false, 'x', 2), undefined, 'no change, nothing told');
    assert.equal(t.stateIs('ONLINE', false, 'peer released', 3)?.now, 'Active');
    assert.deepEqual(t.stateIs('OFFLINE', true, 'restarts used up', 4), {
      event: 'state',
      now: 'FAILED',
      old: 'Active',
      reason: 'restarts used up',
      wall: 4,
    });
    assert.equal(t.stateIs('OFFLINE', false, 'hold-down over', 5)?.old, 'FAILED');
  });
  it('gateway lost and back; the peer only once it was known', () => {
    const t = new Transitions();
    assert.equal(t.gatewayIs(false, 'ok', 1), undefined);
    assert.equal(t.gatewayIs(true, '6 pings', 2)?.now, 'GATEWAY_LOST');
    assert.equal(t.gatewayIs(false, 'answers', 3)?.old, 'GATEWAY_LOST');
    assert.equal(t.peerIs(true, 'heard', 1), undefined, 'where we begin is not a transition');
    assert.deepEqual(t.peerIs(false, 'silent', 2), {
      event: 'peer',
      now: 'PEER_LOST',
      old: 'PEER_OK',
      reason: 'silent',
      wall: 2,
    });
  });
});

describe('hook queue', () => {
  it('one call at a time, in order; past the bound the oldest are merged into the next, counted', () => {
    const q = new HookQueue(3);
    for (let i = 1; i <= 5; i++) q.push(i, tr(`S${i}`, `S${i - 1}`));
    const first = q.take();
    assert.equal(first?.seq, 3);
    assert.equal(first?.missed, 2, 'the calls of #1 and #2 are told as missed by #3');
    assert.equal(q.take(), undefined, 'one at a time');
    q.done();
    assert.deepEqual([q.take()?.seq], [4]);
    q.done();
    assert.equal(q.take()?.seq, 5);
    q.done();
    assert.equal(q.idle, true);
    assert.equal(q.mergedTotal, 2);
  });
});

describe('notifier (real scripts)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-notify-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'calls');
  const script = (name: string, body: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return { name, script: p };
  };
  const record = script('record', `echo "$PHA_SEQ $1 $2 [$3] $PHA_NODE $PHA_EVENT $PHA_RESOURCES" >> ${out}`);
  const slow = script('slow', 'case "$1" in Active) sleep 30;; esac; exit 0');
  const failing = script('failing', 'echo boom >&2; exit 3');
  const lines = () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim().split('\n') : []);
  const log = { info: () => {}, warn: () => {}, error: () => {} };
  /** A supervise's notifier and history (a new pair: a restart). */
  const make = (hooks: { name: string; script: string }[], alarms: (string | null)[], timeoutMs = 300) => {
    const history = new History(dir, log);
    const n = new Notifier({
      hooks,
      timeoutMs,
      runner: new ResourceRunner({ timeoutMs }),
      node: 'lb1',
      peer: 'lb2',
      resources: () => 'vip=UP',
      log,
      alarm: (t) => alarms.push(t),
      mono: () => performance.now(),
      called: (seq, h) => history.hooksDone(seq, h),
    });
    return { n, history, push: (t: Transition) => n.push(history.add(t).seq, t) };
  };

  it('calls each hook in order, one transition at a time, a hang killed at the timeout, a failure an alarm; PHA_SEQ survives a restart', async () => {
    const alarms: (string | null)[] = [];
    const { n, push } = make([slow, record, failing], alarms);
    push(tr('Standby', 'UNKNOWN', 'startup'));
    push(tr('Active', 'Standby', 'peer released'));
    push(tr('Standby', 'Active', 'off'));
    await expectWithin('three calls recorded', () => lines().length === 3, 5000);
    assert.deepEqual(lines(), [
      '1 Standby UNKNOWN [startup] lb1 state vip=UP',
      '2 Active Standby [peer released] lb1 state vip=UP',
      '3 Standby Active [off] lb1 state vip=UP',
    ]);
    assert.ok(await n.flush(2000));
    assert.equal(n.stats.calls, 9);
    assert.equal(n.stats.timedOut, 1, 'the slow hook on Active was killed at NOTIFY_TIMEOUT');
    assert.equal(n.stats.failed, 4, 'the timed-out call and the three calls of the failing hook');
    assert.match(String(alarms.at(-1)), /notify hook failing failed \(exit 3\) for transition #3 Standby/);
    // A new supervise (a restart) goes on counting.
    const again = make([record], []);
    again.push(tr('Active', 'UNKNOWN', 'startup'));
    assert.deepEqual(
      again.history.list().map((e) => `${e.seq} ${e.now}`),
      ['1 Standby', '2 Active', '3 Standby', '4 Active'],
      'the history survived the restart too',
    );
    await expectWithin('the fourth call', () => lines().length === 4, 3000);
    assert.equal(lines()[3]!.split(' ')[0], '4');
  });
});
