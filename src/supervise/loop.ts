// supervise's shell: real events in (timers, the file watch, the local bus,
// the checks' and scripts' results, the gateway's answers), the core's effects
// carried out (core.ts has the logic; decide.ts the rules).
import path from 'node:path';
import type { Config, ResourceDef } from '../config/index.js';
import { monotonic, overlay, type Alarms, type LocalBus, type Logger, type Watchdog } from '../daemon/index.js';
import { carryCommon, ShellTimers, type Clock } from '../daemon/effects.js';
import { timingOf } from '../config/timing.js';
import { StatusWriter } from '../status-store/writer.js';
import { errorMessage } from '../errors.js';
import { ResourceRunner, type RunResult } from '../resources/index.js';
import { watchStatus, type Status, type StatusStore } from '../status-store/index.js';
import { createPinger, hasDefaultRoute, type Pinger } from './checks.js';
import { SuperviseCore, type Liveness, type SuperviseEffect, type SuperviseEvent, type SuperviseSight } from './core.js';

export interface SuperviseDeps {
  config: Config;
  log: Logger;
  store: StatusStore;
  now?: () => number; // wall clock (status values, logs)
  mono?: () => number; // monotonic clock (timers, ages)
  pinger?: Pinger | null; // null: no gateway check
  runner?: ResourceRunner;
  bus?: LocalBus;
  alarms?: Alarms;
  watchdog?: Watchdog;
}

export async function startSupervise(deps: SuperviseDeps) {
  const { config, log, store, bus, alarms, watchdog } = deps;
  const timing = timingOf(config);
  const fresh = timing.busFreshMs;
  const now = deps.now ?? Date.now;
  const mono = deps.mono ?? monotonic;
  const clock = (): Clock => ({ mono: mono(), wall: now() });
  const runner =
    deps.runner ??
    new ResourceRunner({
      timeoutMs: timing.resTimeoutMs,
      onResult: (r) => logResult(log, r),
    });
  let pinger: Pinger | null = null;
  if (deps.pinger !== undefined) pinger = deps.pinger;
  else if (config.GW) {
    try {
      pinger = createPinger(config.PINGTIMEOUT * 1000);
    } catch (e) {
      log.error({ gw: config.GW }, errorMessage(e));
    }
  }
  const core = new SuperviseCore(config, { gwUnavailable: !!config.GW && !pinger });
  let stopped = false;

  const writer = new StatusWriter(store, (err) => {
    alarms?.set('store', err);
    if (err) log.error({ err }, 'status file not writable: deciding and acting all the same, state kept in memory');
    else log.info('status file writable again');
  });

  const liveness = (d: 'sender' | 'receiver'): Liveness => ({
    pid: watchdog?.isAlive(d),
    onBus: bus?.fresh(d, fresh) !== undefined,
    everOnBus: bus?.everHeard(d) ?? false,
    everSeen: watchdog?.everSeen(d),
  });
  /** The others' live state: the bus where it is fresh, else the file (with our own pending writes). */
  const view = (file: Status): Status => {
    const s = writer.over(file);
    return bus ? overlay(s, bus, fresh, 'supervise') : s;
  };
  const look = (): SuperviseSight => {
    const file = store.read();
    const own = writer.over(file);
    return { own, view: bus ? overlay(own, bus, fresh, 'supervise') : own, damaged: store.damaged, sender: liveness('sender'), receiver: liveness('receiver') };
  };
  const byName = (names: string[]): ResourceDef[] => config.resources.filter((r) => names.includes(r.name));

  const carry = (effects: SuperviseEffect[]): void => {
    for (const e of effects) {
      switch (e.kind) {
        case 'look':
          feed({ kind: 'seen', sight: look(), ...clock() });
          break;
        case 'check':
          // Each check has its own timeout: a hung one counts as DOWN and holds the round up no longer.
          void runner
            .checkAll(config.resources, e.timeoutMs)
            .catch((err) => config.resources.map((r) => ({ name: r.name, ok: false, error: errorMessage(err) })))
            .then((results) => feed({ kind: 'checked', results: results.map((r) => ({ name: r.name, ok: r.ok, timedOut: 'timedOut' in r ? r.timedOut : false, output: 'output' in r ? r.output : undefined, error: r.error })), routeOk: e.route ? hasDefaultRoute() : true, ...clock() }));
          break;
        case 'ping': {
          const p = pinger;
          if (!p) break;
          void p
            .ping(config.GW)
            .catch((err: Error) => ({ ok: false, error: err.message }))
            .then((r) => feed({ kind: 'pinged', seq: e.seq, ok: r.ok, error: r.ok ? null : (r.error ?? 'no answer'), ...clock() }));
          break;
        }
        case 'run': {
          const op = e.op === 'stop' ? runner.stopInReverse(config.resources) : runner.startInOrder(byName(e.names));
          void op
            .catch((err) => {
              log.error({ err: errorMessage(err) }, `${e.op} failed`);
              return (e.op === 'stop' ? config.resources : byName(e.names)).map((r) => ({ name: r.name, ok: false }));
            })
            .then((results) => feed({ kind: 'done', results: results.map((r) => ({ name: r.name, ok: r.ok })), ...clock() }));
          break;
        }
        case 'garp':
          void (async () => {
            for (const r of config.resources) {
              if (path.basename(r.script) === 'ipaddr') await runner.run(r, 'garp').catch(() => undefined);
            }
          })().then(() => feed({ kind: 'done', results: [], ...clock() }));
          break;
        case 'write':
          writer.write({ ...e.patch, SUPERVISE_ALARM: alarms?.list().join('; ') || undefined });
          break;
        case 'publish':
          bus?.publish({ keys: e.keys, alarms: alarms?.list() ?? [] });
          break;
        default:
          carryCommon(e, { timers, log, alarms });
      }
    }
  };
  function feed(ev: SuperviseEvent): void {
    if (stopped) return;
    try {
      carry(core.handle(ev));
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'supervise step failed');
    }
  }
  const timers = new ShellTimers(mono, (timer) => feed({ kind: 'timer', timer, ...clock() }));

  // The peer's new word (and a restarted sender or receiver) comes over the bus first.
  const onChange = () => feed({ kind: 'changed', view: view(store.read()), ...clock() });
  const watcher = watchStatus(store.file, onChange);
  bus?.onHeardFrom('receiver', onChange);
  bus?.onHeardFrom('sender', onChange);

  carry(core.start(clock(), store.read()));
  await writer.flush(2000);
  log.info({ resources: config.resources.map((r) => `${r.name} ${r.args.join(' ')}`), gw: config.GW || null, rank: config.local.id, timing }, 'supervise running');
  carry(core.run(clock()));

  return {
    async stop() {
      const last = core.stop();
      stopped = true;
      timers.stop();
      watcher.close();
      pinger?.close();
      // A start or stop that runs finishes first (bounded), so that what we
      // leave behind is what the status says, and no script outlives us.
      await runner.settle(timing.settleMs);
      for (const e of last) if (e.kind === 'write') writer.write(e.patch);
      await writer.flush(2000);
      writer.close();
    },
  };
}

function logResult(log: Logger, r: RunResult): void {
  if (r.action === 'check' && r.ok) return; // the round's UP checks are the quiet case
  const fields = { resource: r.name, action: r.action, ok: r.ok, code: r.code, ms: r.durationMs, output: r.output || undefined, error: r.error };
  if (r.ok) log.info(fields, `res ${r.name} ${r.action}: ok`);
  else if (r.action === 'check') log.debug(fields, `res ${r.name} check: DOWN`);
  else log.warn(fields, `res ${r.name} ${r.action} failed${r.error ? ': ' + r.error : ` (exit ${r.code})`}`);
}
