// The daemons' sans-I/O cores, events in and effects out: no sockets, no
// files, no clock (each event brings its monotonic and wall time).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReceiverCore, type ReceiverEffect } from '../../src/receiver/core.js';
import { SenderCore, type SenderEffect, type SenderSight } from '../../src/sender/core.js';
import type { Status } from '../../src/status-store/index.js';
import { SuperviseCore, type SuperviseEffect, type SuperviseSight } from '../../src/supervise/core.js';
import { DEFAULT_TIMING } from '../helpers/timing.js';

const WALL = 1_800_000_000_000;
const at = (mono: number) => ({ mono, wall: WALL + mono + 5_000_000 }); // the two clocks differ on purpose
const timing = DEFAULT_TIMING;
const sends = (fx: SenderEffect[]) => fx.filter((e) => e.kind === 'send').map((e) => (e as { word: string }).word);
const writes = <T extends { kind: string }>(fx: T[]) =>
  fx.filter((e) => e.kind === 'write').map((e) => (e as unknown as { patch: Status }).patch);

describe('sender core', () => {
  const cfg = { ...timing, peer: { name: 'lb2' }, resources: [{ name: 'vip' }] };
  const sight = (view: Status, alive = true): SenderSight => ({
    view,
    supervisePid: alive,
    superviseOnBus: alive,
    superviseEverOnBus: true,
  });

  it('says PROGRESS after its start until supervise has decided, then STATUS', () => {
    const c = new SenderCore(cfg);
    const fx = c.start(at(1000), sight({ STATUS: 'ONLINE', DECIDED_AT: WALL }));
    assert.deepEqual(sends(fx), ['PROGRESS']);
    assert.ok(fx.some((e) => e.kind === 'arm' && e.timer === 'tick' && e.at === 1200));
    assert.ok(fx.some((e) => e.kind === 'publish' && e.keys.SENDER_STARTED_AT === at(1000).wall));
    const decided = c.handle({
      kind: 'changed',
      reason: 'bus',
      sight: sight({ STATUS: 'ONLINE', DECIDED_AT: at(1100).wall }),
      ...at(1100),
    });
    assert.deepEqual(sends(decided), ['ONLINE']);
    const tick = c.handle({
      kind: 'timer',
      timer: 'tick',
      sight: sight({ STATUS: 'ONLINE', DECIDED_AT: at(1100).wall }),
      ...at(1200),
    });
    assert.deepEqual(sends(tick), ['ONLINE']);
  });

  it('after a freeze, a queued bus message that comes before the tick does not send the old word (seed 44)', () => {
    const c = new SenderCore(cfg);
    c.start(at(0), sight({}));
    c.handle({
      kind: 'changed',
      reason: 'bus',
      sight: sight({ STATUS: 'ONLINE', DECIDED_AT: at(10).wall }),
      ...at(10),
    });
    // Frozen from 10 to 3000: the first event after is an old bus message saying ONLINE.
    const fx = c.handle({
      kind: 'changed',
      reason: 'bus',
      sight: sight({ STATUS: 'ONLINE', DECIDED_AT: at(10).wall }),
      ...at(3000),
    });
    assert.deepEqual(sends(fx), ['PROGRESS']);
    // It tells supervise (as after a restart), so supervise decides again.
    assert.ok(fx.some((e) => e.kind === 'publish' && e.keys.SENDER_STARTED_AT === at(3000).wall));
    const after = c.handle({
      kind: 'changed',
      reason: 'bus',
      sight: sight({ STATUS: 'OFFLINE', DECIDED_AT: at(3001).wall }),
      ...at(3001),
    });
    assert.deepEqual(sends(after), ['OFFLINE']);
  });

  it('does not fence while a new supervise is being started (seed 205945)', () => {
    const c = new SenderCore(cfg);
    c.start(at(0), sight({ STATUS: 'ONLINE', DECIDED_AT: at(0).wall, RES_vip: 'UP' }));
    const gone = {
      ...sight({ STATUS: 'ONLINE', DECIDED_AT: at(0).wall, RES_vip: 'UP' }, false),
      superviseStarting: true,
    };
    for (let t = 200; t <= 9000; t += 200) {
      const fx = c.handle({ kind: 'timer', timer: 'tick', sight: gone, ...at(t) });
      assert.ok(!fx.some((e) => e.kind === 'fence'), `fenced at ${t} while supervise was starting`);
    }
    // Starting over and still not heard: now it fences.
    const fx = c.handle({ kind: 'timer', timer: 'tick', sight: { ...gone, superviseStarting: false }, ...at(9200) });
    assert.ok(fx.some((e) => e.kind === 'fence'));
  });

  it("a Standby whose supervise is gone fences only when the file says a resource is UP (the operator's res start: seed 783972)", () => {
    const fences = (view: Status) => {
      const c = new SenderCore(cfg);
      c.start(at(0), sight({ STATUS: 'OFFLINE', DECIDED_AT: at(0).wall, RES_vip: 'DOWN' }));
      c.handle({
        kind: 'changed',
        reason: 'bus',
        sight: sight({ STATUS: 'OFFLINE', DECIDED_AT: at(10).wall, RES_vip: 'DOWN' }),
        ...at(10),
      });
      for (let t = 200; t <= 12_000; t += 200)
        if (
          c
            .handle({ kind: 'timer', timer: 'tick', sight: sight(view, false), ...at(t) })
            .some((e) => e.kind === 'fence')
        )
          return true;
      return false;
    };
    assert.equal(
      fences({ STATUS: 'OFFLINE', DECIDED_AT: at(10).wall, RES_vip: 'DOWN' }),
      false,
      'a Standby holding nothing: nothing to stop',
    );
    assert.equal(
      fences({ STATUS: 'OFFLINE', DECIDED_AT: at(10).wall, RES_vip: 'UP' }),
      true,
      'started by hand, never seen by supervise: stopped and released',
    );
  });

  it('stops the resources itself when supervise stays gone, then releases (OFFLINE)', () => {
    const c = new SenderCore(cfg);
    c.start(at(0), sight({ STATUS: 'ONLINE', DECIDED_AT: at(0).wall, RES_vip: 'UP' }));
    let fence = false;
    for (let t = 200; t <= 9000 && !fence; t += 200) {
      const fx = c.handle({
        kind: 'timer',
        timer: 'tick',
        sight: sight({ STATUS: 'ONLINE', DECIDED_AT: at(0).wall, RES_vip: 'UP' }, false),
        ...at(t),
      });
      if (t < 2000) assert.deepEqual(sends(fx), ['PROGRESS']);
      fence = fx.some((e) => e.kind === 'fence');
    }
    assert.ok(fence);
    const done = c.handle({ kind: 'fenced', results: [{ name: 'vip', ok: true }], ...at(9100) });
    assert.deepEqual(writes(done)[0], {
      STATUS: 'OFFLINE',
      REASON: 'supervise gone: resources stopped by the sender',
      RES_vip: 'DOWN',
    });
    const tick = c.handle({
      kind: 'timer',
      timer: 'tick',
      sight: sight({ STATUS: 'ONLINE', RES_vip: 'DOWN' }, false),
      ...at(9200),
    });
    assert.deepEqual(sends(tick), ['OFFLINE']);
  });

  it('a fence whose stop fails (hung to RES_TIMEOUT) releases nothing: PROGRESS, an alarm, and a retry a SUPERVISE_INT later (seed 2019893)', () => {
    const c = new SenderCore(cfg);
    const held = { STATUS: 'ONLINE' as const, DECIDED_AT: at(0).wall, RES_vip: 'UP' as const };
    c.start(at(0), sight(held));
    let t = 200;
    for (; t <= 9000; t += 200)
      if (
        c.handle({ kind: 'timer', timer: 'tick', sight: sight(held, false), ...at(t) }).some((e) => e.kind === 'fence')
      )
        break;
    assert.ok(t <= 9000, 'fenced');
    // The stop hangs for 2 s (the ticks go on meanwhile), then it is killed: failed.
    for (let u = t + 200; u < t + 2000; u += 200)
      assert.deepEqual(sends(c.handle({ kind: 'timer', timer: 'tick', sight: sight(held, false), ...at(u) })), [
        'PROGRESS',
      ]);
    const failed = c.handle({ kind: 'fenced', results: [{ name: 'vip', ok: false }], ...at(t + 2000) });
    assert.equal(writes(failed)[0]!.STATUS, undefined, 'no OFFLINE written while vip is still up');
    assert.equal(writes(failed)[0]!.RES_vip, 'UP');
    const alarm = failed.find((e) => e.kind === 'alarm' && e.id === 'fence') as { text: string } | undefined;
    assert.match(String(alarm?.text), /could not stop vip/);
    // The alarm lands with the REASON it explains, in the same write (not at the next stamp).
    const write = failed.find((e) => e.kind === 'write');
    assert.equal(write?.kind === 'write' && write.alarmsKey, 'SENDER_ALARM');
    assert.ok(failed.indexOf(alarm as never) < failed.indexOf(write as never), 'the alarm is set before the write');
    assert.ok(failed.some((e) => e.kind === 'log' && e.level === 'error' && /vip failed/.test(e.msg)));
    // Not released: the peer keeps waiting; no new fence before SUPERVISE_INT.
    const soon = c.handle({ kind: 'timer', timer: 'tick', sight: sight(held, false), ...at(t + 2000) });
    assert.deepEqual(sends(soon), ['PROGRESS']);
    assert.ok(!soon.some((e) => e.kind === 'fence'));
    for (let u = t + 2200; u < t + 4000; u += 200) {
      const fx = c.handle({ kind: 'timer', timer: 'tick', sight: sight(held, false), ...at(u) });
      assert.ok(!fx.some((e) => e.kind === 'fence'), `no new fence at ${u - t - 2000} ms`);
      assert.deepEqual(sends(fx), ['PROGRESS']);
    }
    const retry = c.handle({ kind: 'timer', timer: 'tick', sight: sight(held, false), ...at(t + 4000) });
    assert.ok(
      retry.some((e) => e.kind === 'fence'),
      'tries again',
    );
    assert.ok(!retry.some((e) => e.kind === 'alarm'), 'the retry keeps the alarm that says the stop failed');
    assert.deepEqual(sends(retry), ['PROGRESS']);
    const ok = c.handle({ kind: 'fenced', results: [{ name: 'vip', ok: true }], ...at(t + 4100) });
    assert.equal(writes(ok)[0]!.STATUS, 'OFFLINE');
    assert.deepEqual(
      sends(
        c.handle({ kind: 'timer', timer: 'tick', sight: sight({ ...held, RES_vip: 'DOWN' }, false), ...at(t + 4200) }),
      ),
      ['OFFLINE'],
    );
  });

  it('sends the final word twice when the off pause begins, then nothing', () => {
    const c = new SenderCore(cfg);
    const v = { STATUS: 'ONLINE' as const, DECIDED_AT: at(0).wall };
    c.start(at(0), sight(v));
    c.handle({ kind: 'timer', timer: 'tick', sight: sight(v), ...at(200) });
    const paused = {
      STATUS: 'OFFLINE' as const,
      DECIDED_AT: at(300).wall,
      SENDER_RUN: 0 as const,
      SENDER_PAUSE_UNTIL: at(30_000).wall,
    };
    assert.deepEqual(sends(c.handle({ kind: 'changed', reason: 'bus', sight: sight(paused), ...at(300) })), [
      'OFFLINE',
      'OFFLINE',
    ]);
    assert.deepEqual(sends(c.handle({ kind: 'timer', timer: 'tick', sight: sight(paused), ...at(400) })), []);
  });
});

describe('receiver core', () => {
  const cfg = { HEARTBEAT_INT: 200, DEADTIME: 1000, peer: { name: 'lb2' } };
  const rx = (c: ReceiverCore, fx: ReceiverEffect[], mono: number): ReceiverEffect[] =>
    fx.some((e) => e.kind === 'drain') ? [...fx, ...c.handle({ kind: 'drained', ...at(mono) })] : fx;

  it('takes the peer word (newest of a burst) and declares the peer silent DEADTIME after its last word', () => {
    const c = new ReceiverCore(cfg);
    const start = c.start(at(0));
    assert.deepEqual(writes(start)[0], {
      RECEIVER_STARTED_AT: at(0).wall,
      RECEIVER_AT: at(0).wall,
      RECEIVER_IN: null,
      RECEIVER_IN_SINCE: at(0).wall,
    });
    const a = c.handle({ kind: 'word', word: 'PROGRESS', ...at(100) });
    assert.ok(a.some((e) => e.kind === 'arm' && e.timer === 'dead' && e.at === 1101));
    const b = c.handle({ kind: 'word', word: 'ONLINE', ...at(100) });
    assert.ok(!b.some((e) => e.kind === 'drain'), 'one drain per burst');
    const d = c.handle({ kind: 'drained', ...at(100) });
    assert.equal(writes(d)[0]!.RECEIVER_IN, 'ONLINE');
    assert.ok(d.some((e) => e.kind === 'publish' && e.keys.RECEIVER_IN === 'ONLINE'));
    // The dead timer may fire early: it re-arms for the rest.
    const early = c.handle({ kind: 'timer', timer: 'dead', ...at(900) });
    assert.ok(early.some((e) => e.kind === 'arm' && e.timer === 'dead' && e.at === 1101));
    // Keep the tick going so that the silence is the peer's, not ours.
    for (let t = 250; t <= 1000; t += 250) c.handle({ kind: 'timer', timer: 'tick', ...at(t) });
    const dead = c.handle({ kind: 'timer', timer: 'dead', ...at(1101) });
    assert.equal(writes(dead)[0]!.RECEIVER_IN, null);
  });

  it('throws away what queued up during its own stall (fix 13)', () => {
    const c = new ReceiverCore(cfg);
    c.start(at(0));
    rx(c, c.handle({ kind: 'word', word: 'OFFLINE', ...at(100) }), 100);
    const stale = c.handle({ kind: 'word', word: 'ONLINE', ...at(5000) });
    assert.ok(writes(stale).some((p) => p.RECEIVER_STALL_AT === at(5000).wall));
    assert.ok(!stale.some((e) => e.kind === 'drain'));
  });

  it('with several paths: one silent path is an alarm, never a silence; it clears when the path speaks again', () => {
    const paths = [
      { local: '198.18.0.11', peer: '198.18.0.12' },
      { local: '198.18.1.11', peer: '198.18.1.12' },
    ];
    const c = new ReceiverCore({ ...cfg, paths });
    c.start(at(0));
    const alarms = (fx: ReceiverEffect[]) =>
      fx.flatMap((e) => (e.kind === 'alarm' && e.id.startsWith('path') ? [`${e.id}:${e.text ? 'up' : 'clear'}`] : []));
    const seen: string[] = [];
    // Path 1 carries every heartbeat, path 2 nothing after 400 ms.
    for (let t = 100; t <= 3000; t += 100) {
      seen.push(...alarms(rx(c, c.handle({ kind: 'word', word: 'ONLINE', path: 0, ...at(t) }), t)));
      if (t <= 400) seen.push(...alarms(c.handle({ kind: 'copy', path: 1, ...at(t) })));
      if (t % 250 === 0) {
        const tick = c.handle({ kind: 'timer', timer: 'tick', ...at(t) });
        assert.ok(!writes(tick).some((p) => p.RECEIVER_IN === null), 'never silent while path 1 speaks');
        seen.push(...alarms(tick));
      }
    }
    assert.deepEqual(seen, ['path2:up'], 'raised once, DEADTIME after its last copy');
    assert.equal(c.paths.snapshot().path2Heard, 4);
    assert.deepEqual(alarms(c.handle({ kind: 'copy', path: 1, lost: 25, ...at(3050) })), ['path2:clear']);
    assert.equal(c.paths.snapshot().path2Lost, 25);
    // All paths silent is the peer's silence: the path alarms clear, the word goes null.
    c.handle({ kind: 'copy', path: 1, ...at(3100) });
    let last: ReceiverEffect[] = [];
    for (let t = 3250; t <= 6000; t += 250) last.push(...c.handle({ kind: 'timer', timer: 'tick', ...at(t) }));
    assert.ok(writes(last).some((p) => p.RECEIVER_IN === null));
    assert.deepEqual(alarms(last), [], 'no path alarm for a peer that is silent on all paths');
    last = [];
  });

  it("writes the peer's word again when the file lost it", () => {
    const c = new ReceiverCore(cfg);
    c.start(at(0));
    rx(c, c.handle({ kind: 'word', word: 'ONLINE', ...at(100) }), 100);
    const tick = c.handle({ kind: 'timer', timer: 'tick', ...at(250) });
    assert.ok(tick.some((e) => e.kind === 'read'));
    const fx = c.handle({ kind: 'file', status: {}, damaged: 'status file corrupt', ...at(250) });
    assert.equal(writes(fx)[0]!.RECEIVER_IN, 'ONLINE');
    assert.ok(fx.some((e) => e.kind === 'alarm' && e.id === 'file' && e.text !== null));
  });
});

describe('supervise core', () => {
  const cfg = {
    ...timing,
    GW: '',
    GW_INT: 250,
    local: { id: 2 as const },
    peer: { name: 'lb1' },
    resources: [{ name: 'vip', script: '/x/res/ipaddr' }],
  };
  const live = { pid: true, onBus: true, everOnBus: true };
  const sight = (view: Status): SuperviseSight => ({ own: view, view, damaged: null, sender: live, receiver: live });
  const kinds = (fx: SuperviseEffect[]) => fx.map((e) => e.kind);

  /** Feed effects back like a shell: 'look' is answered at once with `view`. */
  function settle(c: SuperviseCore, fx: SuperviseEffect[], view: Status, mono: number): SuperviseEffect[] {
    const all = [...fx];
    while (all.length && all[all.length - 1]!.kind === 'look') {
      all.pop();
      all.push(...c.handle({ kind: 'seen', sight: sight(view), ...at(mono) }));
    }
    return all;
  }

  it('checks before its first decision, then decides; a stop is PROGRESS, then the result', () => {
    const c = new SuperviseCore(cfg);
    assert.deepEqual(writes(c.start(at(0)))[0], { SUPERVISE: 1, SUPERVISE_AT: at(0).wall, STATUS: null });
    const run = c.run(at(10));
    assert.ok(kinds(run).includes('check'));
    const peerOnline: Status = {
      RECEIVER_IN: 'ONLINE',
      RECEIVER_IN_SINCE: at(0).wall - 60_000,
      RECEIVER_STARTED_AT: at(0).wall - 60_000,
    };
    // vip is UP here, the peer (first in NODES) is ONLINE: both ONLINE, the second yields.
    const fx = settle(
      c,
      c.handle({ kind: 'checked', results: [{ name: 'vip', ok: true }], routeOk: true, ...at(20) }),
      peerOnline,
      20,
    );
    const stop = fx.find((e) => e.kind === 'run');
    assert.deepEqual(stop, { kind: 'run', op: 'stop', names: ['vip'] });
    assert.equal(writes(fx).at(-1)!.STATUS, 'PROGRESS');
    const done = settle(
      c,
      c.handle({ kind: 'done', results: [{ name: 'vip', ok: true }], ...at(200) }),
      peerOnline,
      200,
    );
    assert.equal(writes(done)[0]!.STATUS, 'OFFLINE');
    assert.ok(done.some((e) => e.kind === 'arm' && e.timer === 'round' && e.at === 2010));
  });

  it('decides at once when the peer word changes, not at the next round', () => {
    const c = new SuperviseCore(cfg);
    c.start(at(0));
    const quiet: Status = {
      RECEIVER_IN: 'ONLINE',
      RECEIVER_IN_SINCE: at(0).wall - 60_000,
      RECEIVER_STARTED_AT: at(0).wall - 60_000,
    };
    settle(c, c.run(at(10)), quiet, 10);
    settle(
      c,
      c.handle({ kind: 'checked', results: [{ name: 'vip', ok: false }], routeOk: true, ...at(20) }),
      quiet,
      20,
    );
    const released: Status = { ...quiet, RECEIVER_IN: 'OFFLINE', RECEIVER_IN_SINCE: at(500).wall };
    const fx = settle(c, c.handle({ kind: 'changed', view: released, ...at(500) }), released, 500);
    assert.deepEqual(
      fx.find((e) => e.kind === 'run'),
      { kind: 'run', op: 'start', names: ['vip'] },
    );
  });

  it('notices its own stall on a queued event before deciding on it', () => {
    const c = new SuperviseCore(cfg);
    c.start(at(0));
    const v: Status = {
      RECEIVER_IN: 'OFFLINE',
      RECEIVER_IN_SINCE: at(0).wall - 60_000,
      RECEIVER_STARTED_AT: at(0).wall - 60_000,
    };
    settle(c, c.run(at(10)), v, 10);
    settle(c, c.handle({ kind: 'checked', results: [{ name: 'vip', ok: true }], routeOk: true, ...at(20) }), v, 20);
    const fx = c.handle({
      kind: 'changed',
      view: { ...v, RECEIVER_IN: null, RECEIVER_IN_SINCE: at(10).wall },
      ...at(9000),
    });
    assert.ok(fx.some((e) => e.kind === 'log' && e.msg.startsWith('own stall')));
    assert.equal(c.state.stalledAt, at(9000).wall);
  });

  it('tells the sender of the off pause on the bus, and of its end', () => {
    const c = new SuperviseCore({ ...cfg, local: { id: 1 } });
    c.start(at(0));
    const v: Status = {
      RECEIVER_IN: 'OFFLINE',
      RECEIVER_IN_SINCE: at(0).wall - 60_000,
      RECEIVER_STARTED_AT: at(0).wall - 60_000,
      SENDER_RUN: 0,
      SENDER_PAUSE_UNTIL: at(20_000).wall,
    };
    const fx = settle(c, c.run(at(10)), v, 10);
    const more = settle(
      c,
      c.handle({ kind: 'checked', results: [{ name: 'vip', ok: false }], routeOk: true, ...at(20) }),
      v,
      20,
    );
    const pub = [...fx, ...more].filter((e) => e.kind === 'publish').at(-1) as { keys: Status };
    assert.equal(pub.keys.SENDER_RUN, 0);
    const on: Status = { ...v, SENDER_RUN: 1, SENDER_PAUSE_UNTIL: undefined };
    const after = settle(c, c.handle({ kind: 'changed', view: on, ...at(100) }), on, 100);
    const pub2 = after.filter((e) => e.kind === 'publish').at(-1) as { keys: Status } | undefined;
    assert.equal(pub2?.keys.SENDER_RUN, 1);
  });
  it('ends its own off pause once it holds the resources (started by hand during the pause): a silent holder is one the peer cannot see (seed 689658)', () => {
    const c = new SuperviseCore({ ...cfg, local: { id: 1 } });
    c.start(at(0));
    const silent: Status = {
      RECEIVER_IN: null,
      RECEIVER_IN_SINCE: at(0).wall - 60_000,
      RECEIVER_STARTED_AT: at(0).wall - 60_000,
      SENDER_RUN: 0,
      SENDER_PAUSE_UNTIL: at(20_000).wall,
    };
    settle(c, c.run(at(10)), silent, 10);
    // Released (vip DOWN) and paused: the pause stays.
    const down = settle(
      c,
      c.handle({ kind: 'checked', results: [{ name: 'vip', ok: false }], routeOk: true, ...at(20) }),
      { ...silent, RECEIVER_IN: 'ONLINE' },
      20,
    );
    assert.ok(!writes(down).some((p) => p.SENDER_RUN === 1), 'a released node stays paused');
    // The operator's res start: vip UP, the peer silent (muted by its gateway): Active, and heard.
    for (let t = 510; t < 2010; t += 500) settle(c, c.handle({ kind: 'timer', timer: 'tick', ...at(t) }), silent, t);
    settle(c, c.handle({ kind: 'timer', timer: 'round', ...at(2010) }), silent, 2010);
    const fx = settle(
      c,
      c.handle({ kind: 'checked', results: [{ name: 'vip', ok: true }], routeOk: true, ...at(2020) }),
      silent,
      2020,
    );
    const w = writes(fx).find((p) => p.STATUS === 'ONLINE');
    assert.ok(w, 'ONLINE');
    assert.equal(w!.SENDER_RUN, 1, 'the heartbeat resumes with the ONLINE');
    assert.ok(fx.some((e) => e.kind === 'log' && /off pause: the heartbeat resumes/.test(e.msg)));
  });
  it("checks at once when somebody else writes resource states that disagree with its own (the operator's res start: seed 865421)", () => {
    const c = new SuperviseCore(cfg);
    c.start(at(0));
    const v: Status = {
      RECEIVER_IN: 'ONLINE',
      RECEIVER_IN_SINCE: at(0).wall - 60_000,
      RECEIVER_STARTED_AT: at(0).wall - 60_000,
      RES_vip: 'DOWN',
    };
    settle(c, c.run(at(10)), v, 10);
    settle(c, c.handle({ kind: 'checked', results: [{ name: 'vip', ok: false }], routeOk: true, ...at(20) }), v, 20);
    // Our own state again (or an unrelated key): no checks.
    assert.ok(!kinds(c.handle({ kind: 'changed', view: { ...v, SENDER_AT: 1 }, ...at(100) })).includes('check'));
    // pha-cli res start wrote RES_vip=UP: check now, do not decide on (and write) our old DOWN.
    const fx = c.handle({ kind: 'changed', view: { ...v, RES_vip: 'UP' }, ...at(200) });
    assert.ok(kinds(fx).includes('check'), `effects: ${kinds(fx)}`);
    assert.ok(!writes(fx).some((p) => p.RES_vip === 'DOWN'));
  });
  it('a supervise restarted after a crash yields what its predecessor may have held, even while a check says DOWN (seed 218732)', () => {
    const peerOnline: Status = {
      RECEIVER_IN: 'ONLINE',
      RECEIVER_IN_SINCE: at(0).wall - 60_000,
      RECEIVER_STARTED_AT: at(0).wall - 60_000,
    };
    const firstOp = (prior: Status) => {
      const c = new SuperviseCore(cfg);
      c.start(at(0), prior);
      settle(c, c.run(at(10)), peerOnline, 10);
      // The check hung and timed out: DOWN, though the address may well be up.
      const fx = settle(
        c,
        c.handle({ kind: 'checked', results: [{ name: 'vip', ok: false }], routeOk: true, ...at(2020) }),
        peerOnline,
        2020,
      );
      return fx.find((e) => e.kind === 'run');
    };
    // Killed a moment ago while it said ONLINE: stop to be sure.
    assert.deepEqual(firstOp({ SUPERVISE: 1, STATUS: 'ONLINE', SUPERVISE_AT: at(0).wall - 400 }), {
      kind: 'run',
      op: 'stop',
      names: ['vip'],
    });
    assert.deepEqual(firstOp({ SUPERVISE: 1, STATUS: 'PROGRESS', SUPERVISE_AT: at(0).wall - 400 }), {
      kind: 'run',
      op: 'stop',
      names: ['vip'],
    });
    // A clean stop before, a predecessor that was a Standby, or a stamp from before a reboot: nothing to yield.
    assert.equal(firstOp({ SUPERVISE: 0, STATUS: null, SUPERVISE_AT: at(0).wall - 400 }), undefined);
    assert.equal(firstOp({ SUPERVISE: 1, STATUS: 'OFFLINE', SUPERVISE_AT: at(0).wall - 400 }), undefined);
    assert.equal(firstOp({ SUPERVISE: 1, STATUS: 'ONLINE', SUPERVISE_AT: at(0).wall - 600_000 }), undefined);
  });
  it('off whose stops all fail does not pause the heartbeat: still Active (a silent holder is taken over from)', () => {
    const offDone = (ok: boolean) => {
      const c = new SuperviseCore({ ...cfg, local: { id: 1 } });
      c.start(at(0));
      const standby: Status = {
        RECEIVER_IN: 'OFFLINE',
        RECEIVER_IN_SINCE: at(0).wall - 60_000,
        RECEIVER_STARTED_AT: at(0).wall - 60_000,
      };
      settle(c, c.run(at(10)), standby, 10);
      settle(
        c,
        c.handle({ kind: 'checked', results: [{ name: 'vip', ok: true }], routeOk: true, ...at(20) }),
        standby,
        20,
      );
      const off: Status = { ...standby, OFF_REQUEST: at(100).wall, OFF_FORCE: 0 };
      const fx = settle(c, c.handle({ kind: 'changed', view: off, ...at(100) }), off, 100);
      assert.deepEqual(
        fx.find((e) => e.kind === 'run'),
        { kind: 'run', op: 'stop', names: ['vip'] },
      );
      return writes(c.handle({ kind: 'done', results: [{ name: 'vip', ok }], ...at(300) }))[0]!;
    };
    const released = offDone(true);
    assert.equal(released.OFF_RESULT, 'released');
    assert.equal(released.SENDER_RUN, 0, 'a release pauses the heartbeat');
    const failed = offDone(false);
    assert.equal(failed.OFF_RESULT, 'failed');
    assert.equal(failed.STATUS, 'ONLINE');
    assert.equal(failed.SENDER_RUN, undefined, 'not paused');
    assert.match(String(failed.OFF_ANSWER), /stopping vip failed: still Active, the heartbeat goes on/);
  });
  it('a stop that failed (hung to RES_TIMEOUT) is tried again on a peer ONLINE, even when the next check hangs and says DOWN (seed 2019379)', () => {
    const c = new SuperviseCore(cfg);
    c.start(at(0));
    const peerOnline: Status = {
      RECEIVER_IN: 'ONLINE',
      RECEIVER_IN_SINCE: at(0).wall - 60_000,
      RECEIVER_STARTED_AT: at(0).wall - 60_000,
    };
    settle(c, c.run(at(10)), peerOnline, 10);
    // Both ONLINE: the second in NODES yields; its stop script hangs and is killed.
    const fx = settle(
      c,
      c.handle({ kind: 'checked', results: [{ name: 'vip', ok: true }], routeOk: true, ...at(20) }),
      peerOnline,
      20,
    );
    assert.deepEqual(
      fx.find((e) => e.kind === 'run'),
      { kind: 'run', op: 'stop', names: ['vip'] },
    );
    for (let t = 510; t < 30_020; t += 500)
      settle(c, c.handle({ kind: 'timer', timer: 'tick', ...at(t) }), peerOnline, t);
    const failed = settle(
      c,
      c.handle({ kind: 'done', results: [{ name: 'vip', ok: false }], ...at(30_020) }),
      peerOnline,
      30_020,
    );
    assert.ok(failed.some((e) => e.kind === 'log' && /stop failed for vip/.test(e.msg)));
    assert.equal(writes(failed).at(-1)!.RES_vip, 'UP', 'not stopped: UP as far as it knows');
    // Not again at once (a stop script that fails fast would spin): at the next round, after a check.
    assert.ok(!failed.some((e) => e.kind === 'run'), 'no stop in a tight loop');
    const arm = failed.find((e) => e.kind === 'arm' && e.timer === 'round') as { at: number } | undefined;
    assert.ok(arm && arm.at <= 30_020 + cfg.SUPERVISE_INT, 'the next round is armed');
    // The check hangs too and counts as DOWN: vip may still be up, so it stops again.
    for (let t = 30_510; t < 32_020; t += 500)
      settle(c, c.handle({ kind: 'timer', timer: 'tick', ...at(t) }), peerOnline, t);
    const round = c.handle({ kind: 'timer', timer: 'round', ...at(32_020) });
    assert.ok(kinds(round).includes('check'));
    const hung = settle(
      c,
      c.handle({
        kind: 'checked',
        results: [{ name: 'vip', ok: false, timedOut: true }],
        routeOk: true,
        ...at(34_020),
      }),
      peerOnline,
      34_020,
    );
    assert.deepEqual(
      hung.find((e) => e.kind === 'run'),
      { kind: 'run', op: 'stop', names: ['vip'] },
    );
  });
});

describe('at rest: fewer wake-ups, the same knowledge', () => {
  it('the sender publishes on its heartbeat tick (no timer of its own), every bus interval', () => {
    const c = new SenderCore({ ...timing, peer: { name: 'lb2' }, resources: [{ name: 'vip' }] });
    const view = { STATUS: 'ONLINE' as const, DECIDED_AT: at(0).wall };
    const s = { view, supervisePid: true, superviseOnBus: true, superviseEverOnBus: true };
    const fx = c.start(at(0), s);
    assert.ok(!fx.some((e) => e.kind === 'arm' && (e.timer as string) !== 'tick'), 'only the tick is armed');
    const published: number[] = [];
    for (let t = 200; t <= 3000; t += 200)
      if (c.handle({ kind: 'timer', timer: 'tick', sight: s, ...at(t) }).some((e) => e.kind === 'publish'))
        published.push(t);
    // bus interval 500 ms on 200 ms ticks: every third tick (600 ms), well inside the 1600 ms a reader trusts.
    assert.deepEqual(published, [600, 1200, 1800, 2400, 3000]);
  });

  it('the sender stamps SENDER_AT every 2 s, every 10 s while its reader hears it on the bus, and every 2 s again when not', () => {
    const c = new SenderCore({ ...timing, peer: { name: 'lb2' }, resources: [{ name: 'vip' }] });
    const view = { STATUS: 'ONLINE' as const, DECIDED_AT: at(0).wall };
    const s = { view, supervisePid: true, superviseOnBus: true, superviseEverOnBus: true };
    c.start(at(0), s);
    const stamps = (from: number, to: number) => {
      const out: number[] = [];
      for (let t = from; t <= to; t += 200)
        if (writes(c.handle({ kind: 'timer', timer: 'tick', sight: s, ...at(t) })).some((p) => p.SENDER_AT))
          out.push(t);
      return out;
    };
    assert.deepEqual(stamps(200, 4000), [2000, 4000]);
    c.restStamps(true);
    assert.deepEqual(stamps(4200, 25_000), [14_000, 24_000]);
    c.restStamps(false);
    assert.deepEqual(stamps(25_200, 28_000), [26_000, 28_000]);
  });

  it("the receiver's tick rides on the peer's heartbeat once due: its own timer fires only when no heartbeat came", () => {
    const c = new ReceiverCore({ HEARTBEAT_INT: 200, DEADTIME: 1000, peer: { name: 'lb2' } });
    const tickArms = (fx: ReceiverEffect[]) =>
      fx.filter((e) => e.kind === 'arm' && e.timer === 'tick').map((e) => (e as { at: number }).at);
    // The tick is due every 500 ms (DEADTIME/2); its timer is armed half an interval later.
    assert.deepEqual(tickArms(c.start(at(0))), [750]);
    const ticked: number[] = [];
    for (let t = 200; t <= 3000; t += 200) {
      const fx = [...c.handle({ kind: 'word', word: 'ONLINE', ...at(t) }), ...c.handle({ kind: 'drained', ...at(t) })];
      const arms = tickArms(fx);
      if (arms.length) {
        assert.deepEqual(arms, [t + 750], 'the next fallback');
        assert.ok(
          fx.some((e) => e.kind === 'publish'),
          'the bus repeat rides along',
        );
        ticked.push(t);
      }
    }
    // On the first heartbeat at or after the tick is due: 600 ms apart, inside the 1600 ms a reader trusts.
    assert.deepEqual(ticked, [600, 1200, 1800, 2400, 3000]);
    // The peer falls silent: the tick's own timer carries it (and the silence is seen).
    const fallback = c.handle({ kind: 'timer', timer: 'tick', ...at(3750) });
    assert.deepEqual(tickArms(fallback), [3750 + 750]);
    assert.ok(fallback.some((e) => e.kind === 'publish'));
    assert.ok(!fallback.some((e) => e.kind === 'log' && e.level === 'warn'), 'a fallback tick is no stall of ours');
  });

  it("supervise's tick rides on its gateway ping once due: its own timer fires only without pings", () => {
    const c = new SuperviseCore({
      ...timing,
      GW: '198.18.0.1',
      GW_INT: 250,
      local: { id: 1 as const },
      peer: { name: 'lb2' },
      resources: [],
    });
    const tickArms = (fx: SuperviseEffect[]) =>
      fx.filter((e) => e.kind === 'arm' && e.timer === 'tick').map((e) => (e as { at: number }).at);
    c.start(at(0));
    assert.deepEqual(tickArms(c.run(at(0))), [750], 'due at 500 (DEADTIME/2), its timer 250 later');
    const ticked: number[] = [];
    for (let t = 250; t <= 3000; t += 250) {
      const fx = c.handle({ kind: 'timer', timer: 'gw', ...at(t) });
      assert.ok(fx.some((e) => e.kind === 'ping'));
      if (tickArms(fx).length) {
        assert.deepEqual(tickArms(fx), [t + 750]);
        ticked.push(t);
      }
    }
    assert.deepEqual(ticked, [500, 1000, 1500, 2000, 2500, 3000], 'every second ping carries the tick');
    const fallback = c.handle({ kind: 'timer', timer: 'tick', ...at(3750) });
    assert.deepEqual(tickArms(fallback), [4500], 'no ping: the tick still comes, half an interval late');
  });

  it('the receiver reads the file when the directory watch says it changed, else only every 5 s', () => {
    const c = new ReceiverCore({ HEARTBEAT_INT: 200, DEADTIME: 1000, peer: { name: 'lb2' } });
    c.start(at(0));
    const reads: number[] = [];
    for (let t = 500; t <= 12_000; t += 500)
      if (c.handle({ kind: 'timer', timer: 'tick', ...at(t) }).some((e) => e.kind === 'read')) reads.push(t);
    assert.deepEqual(reads, [500, 5500, 10_500], 'the safety read');
    const changed = c.handle({ kind: 'changed', ...at(12_100) });
    assert.deepEqual(changed, [{ kind: 'read' }], 'a change: read at once');
    const lost = c.handle({ kind: 'file', status: {}, damaged: 'status file missing', ...at(12_100) });
    assert.equal(writes(lost)[0]!.RECEIVER_IN, null, "the peer's word written again at once");
  });
});
