// A port that fails reaches the core the same way in the daemons' shells as in
// the simulator: through runCore's reply, as the core's own event. Each
// failure here is driven through the real shell (real store, real timers, a
// resource runner whose calls reject) and the core's next step is asserted.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { buildConfig, type Config, parseConfigText, type ResourceDef } from '../../src/config/index.js';
import { Alarms } from '../../src/daemon/alarms.js';
import { type CommonPorts, type CoreBinding, runCore } from '../../src/daemon/effects.js';
import { ResourceRunner, type RunResult } from '../../src/resources/index.js';
import { startSender } from '../../src/sender/shell.js';
import { type Status, StatusStore } from '../../src/status-store/index.js';
import { startSupervise } from '../../src/supervise/shell.js';
import { expectWithin } from '../helpers/wait.js';

/** A resource runner whose chosen calls reject (a spawn that blew up, a broken fs), counted. */
class FailingRunner extends ResourceRunner {
  calls: string[] = [];
  constructor(private readonly failing: Set<string>) {
    super({ timeoutMs: 1000 });
  }
  private injected(what: string): Promise<RunResult[]> {
    this.calls.push(what);
    return this.failing.has(what) ? Promise.reject(new Error(`${what}: EMFILE (injected)`)) : Promise.resolve([]);
  }
  override checkAll(list: readonly ResourceDef[]): Promise<RunResult[]> {
    this.calls.push('check');
    if (this.failing.has('check')) return Promise.reject(new Error('check: EMFILE (injected)'));
    return Promise.resolve(
      list.map((r) => ({
        name: r.name,
        action: 'check' as const,
        ok: false,
        code: 1,
        signal: null,
        timedOut: false,
        durationMs: 1,
        output: '',
      })),
    );
  }
  override startInOrder(): Promise<RunResult[]> {
    return this.injected('start');
  }
  override stopInReverse(): Promise<RunResult[]> {
    return this.injected('stop');
  }
}

async function setup(extra = ''): Promise<{ config: Config; store: StatusStore; logs: string[]; log: pino.Logger }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-ports-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'etc', 'config');
  const text = `INSTALLDIR=${dir}\nNODES=127.0.0.1 127.0.0.2\nNODENAME=127.0.0.1\nPORT=47999\nHEARTBEAT_INT=50\nDEADTIME=200\nSUPERVISE_INT=300\nRES_TIMEOUT=1\nRES_RESTARTS=0\nRES_test=${dir}/held\n${extra}`;
  const config = await buildConfig(parseConfigText(text, file), { env: {} });
  const store = new StatusStore({ file: path.join(dir, 'var', 'status.dat'), onProblem: () => {} });
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => void logs.push(JSON.parse(l).msg) });
  return { config, store, logs, log };
}

describe('port failures through the real shells', () => {
  it('supervise: a start that rejects is a failed start (FAILED, OFFLINE), and the rounds go on', async () => {
    const { config, store, logs, log } = await setup();
    const runner = new FailingRunner(new Set(['start']));
    // Our sender and receiver as their stamps show them (no bus here); the peer silent:
    // after the start-up grace this node takes over.
    const peerSilent = () => store.update({ RECEIVER_IN: null, RECEIVER_AT: Date.now(), SENDER_AT: Date.now() });
    await peerSilent();
    const stamps = setInterval(() => void peerSilent(), 500);
    after(() => clearInterval(stamps));
    const sup = await startSupervise({ config, log, store, runner, pinger: null });
    try {
      await expectWithin('a start', () => runner.calls.includes('start'), 9000);
      // The failed start says OFFLINE at once; its restarts used up (RES_RESTARTS=0), the node goes FAILED after the stop.
      const failed = () => {
        const s: Status = store.read();
        return s.STATUS === 'OFFLINE' && typeof s.FAILED_UNTIL === 'number' && s.FAILED_UNTIL > Date.now();
      };
      await expectWithin(
        () => `OFFLINE and FAILED after the failed start: ${JSON.stringify(store.read())}`,
        failed,
        3000,
      );
      assert.equal(store.read().RES_test, 'DOWN');
      assert.ok(
        logs.some((m) => m.startsWith('supervise: start of test failed')),
        logs.join('\n'),
      );
      // Not stuck in the acting phase: the next rounds check again.
      const checks = runner.calls.filter((c) => c === 'check').length;
      await expectWithin('another round', () => runner.calls.filter((c) => c === 'check').length > checks, 2000);
    } finally {
      await sup.stop();
    }
  });

  it('supervise: checks that reject count as DOWN, and the next round checks again', async () => {
    const { config, store, logs, log } = await setup();
    const runner = new FailingRunner(new Set(['check']));
    const sup = await startSupervise({ config, log, store, runner, pinger: null });
    try {
      await expectWithin('three rounds of checks', () => runner.calls.filter((c) => c === 'check').length >= 3, 5000);
      assert.equal(store.read().RES_test, 'DOWN');
      assert.ok(
        logs.some((m) => m === 'supervise: the checks failed'),
        logs.join('\n'),
      );
    } finally {
      await sup.stop();
    }
  });

  it('sender: a fence whose stop rejects releases nothing: PROGRESS, an alarm, and a retry', async () => {
    const { config, store, logs, log } = await setup();
    const runner = new FailingRunner(new Set(['stop']));
    // Supervise said ONLINE and is gone (no pid, no bus, its stamp old): the sender fences after 5 s.
    await store.update({
      STATUS: 'ONLINE',
      SUPERVISE: 1,
      SUPERVISE_AT: Date.now() - 60_000,
      DECIDED_AT: Date.now() - 60_000,
      RES_test: 'UP',
    });
    const sender = await startSender({ config, log, store, runner, alarms: new Alarms() });
    try {
      await expectWithin('the fence', () => runner.calls.includes('stop'), 8000);
      await expectWithin('the alarm', () => /could not stop test/.test(String(store.read().SENDER_ALARM ?? '')), 3000);
      const s = store.read();
      assert.notEqual(s.STATUS, 'OFFLINE', 'nothing released');
      assert.match(String(s.REASON), /could not stop test; trying again/);
      assert.ok(
        logs.some((m) => m === 'sender: stopping the resources failed'),
        logs.join('\n'),
      );
      await expectWithin('a retry', () => runner.calls.filter((c) => c === 'stop').length >= 2, 3000);
    } finally {
      await sender.stop();
    }
  });
});

describe('runCore', () => {
  type Ev = { kind: 'tick' } | { kind: 'answer'; ok: boolean };
  type Eff = { kind: 'ask' } | { kind: 'boom' } | { kind: 'log'; level: 'info'; msg: string };
  const mkPorts = (logs: string[]): CommonPorts => ({
    clock: () => ({ mono: 0, wall: 0 }),
    arm: () => {},
    cancel: () => {},
    log: (_l, msg) => void logs.push(msg),
    alarm: () => {},
    alarmList: () => [],
    write: () => {},
    publish: () => {},
  });

  it('a port that throws is logged and the next effects still run; a reply answers once, never after stop', () => {
    const logs: string[] = [];
    const seen: Ev[] = [];
    let pending: { ok(v: boolean): void; fail(e: unknown): void } | undefined;
    const core = {
      handle: (ev: Ev): Eff[] => {
        seen.push(ev);
        return ev.kind === 'tick'
          ? [{ kind: 'boom' }, { kind: 'ask' }, { kind: 'log', level: 'info', msg: 'after' }]
          : [];
      },
    };
    const binding: CoreBinding<Ev, Eff, CommonPorts> = {
      name: 'test',
      timerEvent: () => ({ kind: 'tick' }),
      carry(e, _p, run) {
        if (e.kind === 'boom') throw new Error('port blew up');
        if (e.kind === 'ask')
          pending = run.reply<boolean>(
            'the ask',
            (v) => ({ kind: 'answer', ok: v }),
            () => ({ kind: 'answer', ok: false }),
          );
      },
    };
    const run = runCore(core, binding, mkPorts(logs));
    run.feed({ kind: 'tick' });
    assert.deepEqual(logs, ['test: boom failed', 'after']);
    pending!.fail(new Error('x'));
    pending!.ok(true);
    assert.deepEqual(seen.slice(1), [{ kind: 'answer', ok: false }]);
    assert.equal(logs[2], 'test: the ask failed');
    run.feed({ kind: 'tick' });
    run.stop();
    pending!.ok(true);
    assert.equal(seen.length, 3, 'nothing reaches a stopped core');
  });
});
