// What supervise tells beyond the status file, for its shell: each
// transition numbered and kept (history.ts), counted (metrics.ts, when
// METRICS is set: prom-client is loaded only then) and queued for the notify
// hooks (notifier.ts); the checks' and pings' times for the metrics. One port
// for the core's `notify` effect: the order of a transition's telling is here.
import type { Config } from '../config/index.js';
import { varDir } from '../config/index.js';
import type { Alarms, LocalBus, Logger } from '../daemon/index.js';
import type { Vitals } from '../daemon/vitals.js';
import { ResourceRunner } from '../resources/index.js';
import type { ScriptRecords } from '../resources/orphans.js';
import type { Status } from '../status-store/index.js';
import { packageVersion } from '../version.js';
import { History } from './history.js';
import type { Metrics } from './metrics.js';
import { Notifier } from './notifier.js';
import type { Transition } from './transitions.js';

/** A daemon not heard for this long is dead: its last vitals are no longer shown. */
const VITALS_MAX_AGE_MS = 60_000;

export interface TellingDeps {
  config: Config;
  log: Logger;
  alarms?: Alarms;
  bus?: LocalBus;
  vitals?: Vitals;
  mono: () => number;
  records?: ScriptRecords; // the hooks' calls are recorded too: an orphaned hook has no timeout any more
  /** The node's live status (the file, our pending writes, the bus over it). */
  view: () => Status;
}

export interface Telling {
  tell(t: Transition): void;
  checked(results: readonly { name: string; ms?: number }[]): void;
  pinged(ok: boolean, rttMs: number): void;
  /** The hooks' queue told to the end (up to NOTIFY_TIMEOUT, then killed), /metrics closed. */
  stop(): Promise<void>;
}

export async function startTelling(d: TellingDeps): Promise<Telling> {
  const { config, log, alarms } = d;
  const history = new History(varDir(config), log);
  const served = config.metrics ? await startMetrics(d) : null;
  const metrics = served?.metrics;
  const hookRunner = new ResourceRunner({ timeoutMs: config.NOTIFY_TIMEOUT * 1000, records: d.records });
  const notifier = new Notifier({
    hooks: config.notify,
    timeoutMs: config.NOTIFY_TIMEOUT * 1000,
    runner: hookRunner,
    node: config.local.name,
    peer: config.peer.name,
    resources: () => {
      const s = d.view();
      return config.resources.map((r) => `${r.name}=${s[`RES_${r.name}`] ?? 'DOWN'}`).join(' ');
    },
    log,
    alarm: (text) => alarms?.set('notify', text),
    mono: d.mono,
    called: (seq, hooks) => {
      const e = history.hooksDone(seq, hooks);
      if (e) metrics?.hooksDone(e);
    },
    outcome: (hook, outcome) => metrics?.hookCall(hook, outcome),
  });
  return {
    tell(t) {
      const e = history.add(t);
      metrics?.transition(e);
      notifier.push(e.seq, t);
    },
    checked: (results) => metrics?.checked(results),
    pinged: (ok, rttMs) => metrics?.pinged(ok, rttMs),
    async stop() {
      await served?.close();
      if (!(await notifier.flush(config.NOTIFY_TIMEOUT * 1000)))
        log.warn({ waiting: notifier.stats }, 'notify hooks still running at the stop: killed');
      await hookRunner.settle(0);
    },
  };
}

/** METRICS: prom-client loaded now (only then), /metrics served; a bind that fails later is an alarm. */
async function startMetrics(d: TellingDeps): Promise<{ metrics: Omit<Metrics, 'close'>; close(): Promise<void> }> {
  const { config, bus, alarms, vitals } = d;
  const { buildRegistry, serveMetrics } = await import('./metrics.js');
  const heard = (name: 'sender' | 'receiver') => bus?.fresh(name, VITALS_MAX_AGE_MS)?.state;
  const { registry, metrics } = await buildRegistry({
    node: config.local.name,
    peer: config.peer.name,
    version: packageVersion(),
    resources: config.resources.map((r) => r.name),
    paths: config.paths.length,
    gw: config.GW,
    status: d.view,
    vitals: (name) => (name === 'supervise' ? vitals?.snapshot() : heard(name)?.stats),
    alarms: () =>
      (alarms?.list().length ?? 0) + (heard('sender')?.alarms.length ?? 0) + (heard('receiver')?.alarms.length ?? 0),
  });
  const m = config.metrics!;
  const server = serveMetrics(registry, m.host, m.port, (text) => alarms?.set('metrics', text));
  return { metrics, close: server.close };
}
