// A transition's timeline (timeline.ts: what began it, each phase, the total)
// and the history that keeps the last 50 (history.ts: atomic, across restarts,
// a damaged file set aside, not lost), and pha-cli history's reading of it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { showHistory } from '../../src/cli/history.js';
import type { Decision } from '../../src/supervise/decide.js';
import { History, readHistory } from '../../src/supervise/history.js';
import { TimelineClock, timelineLine } from '../../src/supervise/timeline.js';
import type { Transition } from '../../src/supervise/transitions.js';

const decision = (op: Decision['op'], reason: string, consumeOff = false) => ({ op, reason, consumeOff }) as Decision;
const RECENT = 5000;

describe('timeline', () => {
  it('a takeover after a silence: detection (the receiver), decision, each script, total', () => {
    const tl = new TimelineClock();
    // The receiver said silent at wall 100_000 after 1002 ms of nothing; supervise decides 4 ms later.
    const view = { RECEIVER_IN: null, RECEIVER_IN_SINCE: 100_000, RECEIVER_SILENT_MS: 1002 };
    tl.decided(
      decision('start', 'no heartbeat from the peer: taking over'),
      view,
      null,
      { wall: 100_004, mono: 500 },
      RECENT,
    );
    tl.acted(
      'start',
      [
        { name: 'ipaddr', ok: true, code: 0, ms: 38 },
        { name: 'web', ok: true, code: 0, ms: 20 },
      ],
      { wall: 100_064, mono: 560 },
    );
    const t = tl.told('no heartbeat from the peer: taking over', { wall: 100_065, mono: 561 })!;
    assert.equal(t.cause, 'silent');
    assert.equal(t.label, 'no heartbeat from the peer');
    assert.equal(t.beganAt, 98_998, 'the peer was last heard when the silence began');
    assert.equal(t.detectMs, 1002);
    assert.equal(t.decideMs, 4);
    assert.deepEqual(
      t.scripts.map((s) => [s.name, s.atMs, s.ms]),
      [
        ['ipaddr', 2, 38],
        ['web', 40, 20],
      ],
      'scripts one after another, from the decision',
    );
    assert.equal(t.totalMs, 1002 + 4 + 61, "detection + decision + supervise's own monotonic time to the state told");
    const line = timelineLine({ at: 100_065, now: 'Active', old: 'Standby', reason: 'x', timeline: t });
    assert.match(
      line,
      /^\d\d:\d\d:\d\d Standby -> Active \(no heartbeat from the peer\): silent after 1002 ms, decided \+4 ms, ipaddr start 38 ms, web start 20 ms, total 1067 ms$/,
    );
  });

  it('a release heard, an off asked, an old verdict: each counts from what began it', () => {
    const tl = new TimelineClock();
    const released = { RECEIVER_IN: 'OFFLINE' as const, RECEIVER_IN_SINCE: 50_000 };
    tl.decided(decision('start', 'peer released the resources'), released, null, { wall: 50_003, mono: 10 }, RECENT);
    const rel = tl.told('peer released the resources (ONLINE -> OFFLINE): taking over at once', {
      wall: 50_050,
      mono: 57,
    })!;
    assert.deepEqual([rel.cause, rel.totalMs, rel.label], ['released', 50, 'peer released the resources']);
    tl.decided(
      decision('stop', 'off: releasing', true),
      { RECEIVER_IN: 'ONLINE' },
      70_000,
      { wall: 70_020, mono: 90 },
      RECENT,
    );
    const off = tl.told('off: releasing the resources', { wall: 70_100, mono: 170 })!;
    assert.deepEqual([off.cause, off.decideMs, off.totalMs, off.label], ['off', 20, 100, 'off']);
    // Silent for a minute already: the gateway came back, that began this takeover.
    const old = { RECEIVER_IN: null, RECEIVER_IN_SINCE: 10_000, RECEIVER_SILENT_MS: 1000 };
    tl.decided(
      decision('start', 'no heartbeat from the peer: taking over'),
      old,
      null,
      { wall: 70_000, mono: 200 },
      RECENT,
    );
    const local = tl.told('r: x', { wall: 70_030, mono: 230 })!;
    assert.deepEqual([local.cause, local.detectMs, local.totalMs], ['local', null, 30]);
  });

  it('a failed script shows its exit code, the hooks their time', () => {
    const tl = new TimelineClock();
    tl.decided(decision('start', 'startup: taking over'), {}, null, { wall: 1000, mono: 0 }, RECENT);
    tl.acted('start', [{ name: 'web', ok: false, code: 3, ms: 5 }], { wall: 1005, mono: 5 });
    const t = { ...tl.told('r: x', { wall: 1006, mono: 6 })!, hooks: { firstMs: 3, doneMs: 9, failed: 1 } };
    assert.match(
      timelineLine({ at: 1006, now: 'FAILED', old: 'Standby', reason: 'x', timeline: t }),
      /web start 5 ms \(failed, exit 3\), total 6 ms, hooks done \+9 ms \(1 failed\)$/,
    );
  });
});

describe('history', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-history-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const warnings: string[] = [];
  const log = { info: () => {}, warn: (_o: object, m: string) => warnings.push(m) };
  const tr = (now: string, old: string, wall: number): Transition => ({ event: 'state', now, old, reason: 'r', wall });

  it('keeps the last 50, numbered across restarts, in a file replaced atomically', () => {
    const h = new History(dir, log);
    for (let i = 0; i < 60; i++) h.add(tr(i % 2 ? 'Active' : 'Standby', i % 2 ? 'Standby' : 'Active', 1000 + i));
    const again = new History(dir, log);
    assert.equal(again.list().length, 50);
    assert.equal(again.list()[0]!.seq, 11);
    assert.equal(again.add(tr('Active', 'Standby', 2000)).seq, 61, 'a restart goes on counting');
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes('.tmp')),
      [],
      'no temporary file left',
    );
    again.hooksDone(61, { firstMs: 1, doneMs: 2, failed: 0 });
    assert.equal(readHistory(dir).entries.at(-1)!.timeline, undefined, 'no timeline: nothing to add the hooks to');
  });

  it('pha-cli history: the last N lines, --json, a clear error for a bad N', () => {
    const r = showHistory(dir, '3', false);
    assert.equal(r.code, 0);
    assert.equal(r.out!.split('\n').length, 3);
    assert.match(r.out!.split('\n')[2]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} #61 Standby -> Active \(r\)$/);
    assert.equal(JSON.parse(showHistory(dir, '2', true).out!).length, 2);
    assert.deepEqual(showHistory(dir, 'x', false), {
      code: 2,
      err: "history: N must be a whole number of transitions, 1 or more (got 'x')",
    });
  });

  it('a damaged history is set aside with a warning, not lost, and a new one begins', () => {
    fs.writeFileSync(path.join(dir, 'history.json'), '{"not": "a list"');
    assert.match(showHistory(dir, undefined, false).err!, /history\.json: not a history/);
    const h = new History(dir, log);
    assert.equal(h.list().length, 0);
    assert.match(warnings.at(-1)!, /not a history .*starting a new history \(the old file is .*history\.json\.bad\)/);
    assert.equal(fs.readFileSync(path.join(dir, 'history.json.bad'), 'utf8'), '{"not": "a list"');
    assert.equal(h.add(tr('Standby', 'UNKNOWN', 1)).seq, 62, 'the number still grows (var/notify.seq)');
  });
});
