// supervise's shell: real events in (timers, the file watch, the local bus,
// the checks' and scripts' results, the gateway's answers), the core's effects
// carried out (core.ts has the logic; decide.ts the rules).
import { type Config, type ResourceDef, runDir } from '../config/index.js';
import { timingOf } from '../config/timing.js';
import { StampRest } from '../daemon/bus.js';
import { runCore, shellPorts } from '../daemon/effects.js';
import { type Alarms, type LocalBus, type Logger, monotonic, overlay, type Watchdog } from '../daemon/index.js';
import type { Vitals } from '../daemon/vitals.js';
import { errorMessage } from '../errors.js';
import { familyOf } from '../ip.js';
import { ResourceRunner, type RunResult } from '../resources/index.js';
import { daemonRecords, type ScriptRecords } from '../resources/orphans.js';
import { addressResources, advertiserOf } from '../resources/vip.js';
import { type Status, type StatusStore, watchStatus } from '../status-store/index.js';
import { StatusWriter } from '../status-store/writer.js';
import { woke } from '../wakeups.js';
import { createPinger, hasDefaultRoute, type Pinger, Prober } from './checks.js';
import { type Liveness, SuperviseCore, type SuperviseSight } from './core.js';
import { type SupervisePorts, superviseBinding } from './ports.js';
import { startTelling } from './telling.js';
import { witnessTimeoutMs } from './witness.js';
import { connectWitness, type WitnessClient } from './witness-etcd.js';

export interface SuperviseDeps {
  config: Config;
  log: Logger;
  store: StatusStore;
  now?: () => number; // wall clock (status values, logs)
  mono?: () => number; // monotonic clock (timers, ages)
  pinger?: Pinger | null; // null: no gateway check
  runner?: ResourceRunner;
  records?: ScriptRecords; // var/run/scripts: its own scripts, and the orphans it kills at its start
  bus?: LocalBus;
  alarms?: Alarms;
  watchdog?: Watchdog;
  vitals?: Vitals; // its own lag, memory and writes (the metrics)
}

export async function startSupervise(deps: SuperviseDeps) {
  const { config, log, store, bus, alarms, watchdog, vitals } = deps;
  const timing = timingOf(config);
  const fresh = timing.busFreshMs;
  const now = deps.now ?? Date.now;
  const mono = deps.mono ?? monotonic;
  const records = deps.records ?? daemonRecords(runDir(config), 'supervise', log, alarms);
  // Before anything is checked or decided: a script of a killed predecessor
  // (or of a killed sender) must not finish after this supervise has looked.
  records.sweep({ foreign: false });
  const runner =
    deps.runner ??
    new ResourceRunner({
      timeoutMs: timing.resTimeoutMs,
      onResult: (r) => logResult(log, r),
      records,
    });
  let pinger: Pinger | null = null;
  if (deps.pinger !== undefined) pinger = deps.pinger;
  else if (config.GW) {
    try {
      pinger = createPinger(config.PINGTIMEOUT * 1000, familyOf(config.GW));
    } catch (e) {
      log.error({ gw: config.GW }, errorMessage(e));
    }
  }
  // Rule 13: the etcd client is loaded only with WITNESS.
  let witness: WitnessClient | null = null;
  if (config.witness) {
    const w = config.witness;
    witness = await connectWitness(w, config.local.name, witnessTimeoutMs(w.ttl));
    log.info({ witness: w.hosts, prefix: w.prefix, ttl: w.ttl }, 'witness configured: taking over needs its lock');
  }
  const addresses = addressResources(config.resources);
  const advertise6 = advertiserOf(addresses, (name, err) =>
    log.warn({ resource: name, err }, 'cannot advertise the IPv6 address at once'),
  );
  const core = new SuperviseCore(config, { gwUnavailable: !!config.GW && !pinger });
  // Not CHECK_TIMEOUT: with SUPERVISE_INT=1000 that would kill every probe that waits its second for answers.
  const prober = new Prober(runner, config.resources, timing.probeTimeoutMs, (m) => log.info(m));

  const writer = new StatusWriter(store, (err) => {
    alarms?.set('store', err);
    if (err) log.error({ err }, 'status file not writable: deciding and acting all the same, state kept in memory');
    else log.info('status file writable again');
  });
  writer.onWritten = (ms) => vitals?.wrote(ms);

  const liveness = (d: 'sender' | 'receiver'): Liveness => ({
    pid: watchdog?.isAlive(d),
    onBus: bus?.fresh(d, fresh) !== undefined,
    everOnBus: bus?.everHeard(d) ?? false,
    everSeen: watchdog?.everSeen(d),
    deadPid: watchdog?.deadPid(d),
    busPid: bus?.fresh(d, fresh)?.pid,
  });
  /** The others' live state: the bus where it is fresh, else the file (with our own pending writes). */
  const view = (file: Status): Status => {
    const s = writer.over(file);
    return bus ? overlay(s, bus, fresh, 'supervise') : s;
  };
  const look = (): SuperviseSight => {
    const file = store.read();
    const own = writer.over(file);
    return {
      own,
      view: bus ? overlay(own, bus, fresh, 'supervise') : own,
      damaged: store.damaged,
      sender: liveness('sender'),
      receiver: liveness('receiver'),
    };
  };
  const byName = (names: readonly string[]): ResourceDef[] => config.resources.filter((r) => names.includes(r.name));

  const stamps = new StampRest(
    'supervise',
    bus,
    (d) => watchdog?.pidOf(d),
    () => alarms?.list(),
    (resting) => core.restStamps(resting),
  );
  const common = shellPorts({ mono, now, log, alarms, late: (ms) => vitals?.late(ms) });
  const ports: SupervisePorts = {
    ...common,
    sight: look,
    check: (timeoutMs, route, reply) =>
      void runner
        .checkAll(config.resources, timeoutMs)
        .then((results) => {
          telling.checked(results.map((r) => ({ name: r.name, ms: r.durationMs })));
          return {
            results: results.map((r) => ({
              name: r.name,
              ok: r.ok,
              timedOut: 'timedOut' in r ? r.timedOut : false,
              output: 'output' in r ? r.output : undefined,
              error: r.error,
            })),
            routeOk: route ? hasDefaultRoute(undefined, config.GW ? familyOf(config.GW) : 4) : true,
          };
        })
        .then(reply.ok, reply.fail),
    ping: (reply) => {
      if (!pinger) return reply.fail(new Error('no ICMP socket'));
      const began = performance.now();
      woke('gw.ping');
      void pinger
        .ping(config.GW)
        .then((r) => {
          telling.pinged(r.ok, performance.now() - began);
          return r;
        })
        .then(reply.ok, reply.fail);
    },
    run: (op, names, reply) =>
      void (op === 'stop' ? runner.stopInReverse(byName(names)) : runner.startInOrder(byName(names)))
        .then((rs) => {
          if (op === 'start') for (const r of rs) if (r.ok) advertise6(r.name);
          return rs.map((r) => ({ name: r.name, ok: r.ok, code: r.code, ms: r.durationMs }));
        })
        .then(reply.ok, reply.fail),
    probe: (reply) => void prober.probe().then(reply.ok, reply.fail),
    garp: (reply) =>
      void (async () => {
        for (const a of addresses) await runner.run(byName([a.name])[0]!, 'garp').catch(() => undefined);
      })().then(reply.ok, reply.fail),
    write: (patch) => {
      writer.write(patch);
      stamps.wrote(); // every write of ours carries the alarms
    },
    publish: (keys) => {
      bus?.publish({ keys, alarms: alarms?.list() ?? [] });
      stamps.check(); // a new alarm: the next stamp writes it within the stamp period
    },
    ...(witness ? { witness: (op, reply) => void witness.ask(op).then(reply.ok, reply.fail) } : {}),
    decided: () => {},
    notify: (t) => telling.tell(t),
  };
  const telling = await startTelling({
    config,
    log,
    alarms,
    bus,
    vitals,
    mono,
    records,
    view: () => view(store.read()),
  });
  const run = runCore(core, superviseBinding(config.resources), ports);

  // The peer's new word (and a restarted sender or receiver) comes over the bus first.
  const onChange = () => run.feed({ kind: 'changed', view: view(store.read()), ...ports.clock() });
  const watcher = watchStatus(store.file, onChange);
  bus?.onHeardFrom('receiver', onChange);
  bus?.onHeardFrom('sender', onChange);

  run.carry(core.start(ports.clock(), store.read()));
  await writer.flush(2000);
  log.info(
    {
      resources: config.resources.map((r) => `${r.name} ${r.args.join(' ')}`),
      gw: config.GW || null,
      rank: config.local.id,
      timing,
    },
    'supervise running',
  );
  run.carry(core.run(ports.clock()));

  return {
    async stop() {
      const last = core.stop();
      run.stop();
      common.timers.stop();
      watcher.close();
      pinger?.close();
      witness?.close();
      // A start or stop that runs finishes first (bounded), so that what we
      // leave behind is what the status says, and no script outlives us.
      await runner.settle(timing.settleMs);
      // The hooks' queue is told to the end, up to NOTIFY_TIMEOUT; then what still runs is killed.
      await telling.stop();
      for (const e of last) if (e.kind === 'write') writer.write(e.patch);
      await writer.flush(2000);
      writer.close();
    },
  };
}

function logResult(log: Logger, r: RunResult): void {
  if (r.action === 'check' && r.ok) return; // the round's UP checks are the quiet case
  if (r.action === 'probe') return; // the prober and the split watch say what a probe means
  const fields = {
    resource: r.name,
    action: r.action,
    ok: r.ok,
    code: r.code,
    ms: r.durationMs,
    output: r.output || undefined,
    error: r.error,
  };
  if (r.ok) log.info(fields, `res ${r.name} ${r.action}: ok`);
  else if (r.action === 'check') log.debug(fields, `res ${r.name} check: DOWN`);
  else log.warn(fields, `res ${r.name} ${r.action} failed${r.error ? `: ${r.error}` : ` (exit ${r.code})`}`);
}
