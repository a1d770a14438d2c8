// Supervise's Prometheus endpoint (METRICS=<addr:port>, prom-client): this
// node's state, the peer's word, the heartbeats both ways (the sender's and
// the receiver's counters reach supervise over the local bus), transitions,
// the failover's duration by phase, resources, gateway, hooks, and each
// daemon's lag, memory and status-file writes. Loaded only when METRICS is
// set (prom-client costs memory). Gauges are read at the scrape; counters and
// histograms are fed by the events supervise sees.
import http from 'node:http';
import type { Counter, Registry } from 'prom-client';
import type { DaemonName } from '../daemon/pidfile.js';
import type { VitalsSnapshot } from '../daemon/vitals.js';
import { DROP_REASONS, dropStatusKey } from '../heartbeat/drops.js';
import type { Status } from '../status-store/index.js';
import type { HistoryEntry } from './history.js';

export interface MetricsSource {
  node: string;
  peer: string;
  version: string;
  resources: readonly string[];
  paths: number; // heartbeat paths (HB_PATHS; 1 without)
  gw: string;
  /** The node's live status (the file with the bus over it). */
  status(): Status;
  /** Each daemon's newest vitals (undefined: not heard). */
  vitals(d: DaemonName): VitalsSnapshot | undefined;
  /** The alarms of the node's daemons now. */
  alarms(): number;
}

/** Failover phases, as the timeline has them (the histogram's `phase` label). */
export const PHASES = ['detect', 'decide', 'resources', 'total', 'hooks'] as const;
const STATES = ['Active', 'Standby', 'FAILED', 'PROGRESS', 'UNKNOWN'] as const;
const WORDS = ['ONLINE', 'OFFLINE', 'PROGRESS', 'SILENT'] as const;
const DAEMON_LIST: readonly DaemonName[] = ['sender', 'receiver', 'supervise'];

export interface Metrics {
  transition(e: HistoryEntry): void;
  hooksDone(e: HistoryEntry): void;
  hookCall(hook: string, outcome: 'ok' | 'failed' | 'timeout'): void;
  checked(results: readonly { name: string; ms?: number }[]): void;
  pinged(ok: boolean, rttMs: number): void;
  close(): Promise<void>;
}

/** What this node says it is, from its status. */
export function nodeStateOf(s: Status, now: number): (typeof STATES)[number] {
  if (s.STATUS === 'ONLINE') return 'Active';
  if (s.STATUS === 'PROGRESS') return 'PROGRESS';
  if (s.STATUS === 'OFFLINE') return (s.FAILED_UNTIL ?? 0) > now ? 'FAILED' : 'Standby';
  return 'UNKNOWN';
}

/**
 * A counter kept by another process (it restarts from 0): supervise's
 * counter grows by each increase it sees, and by the whole value after a reset.
 */
class Mirror {
  private readonly last = new Map<string, number>();
  constructor(private readonly c: Counter<string>) {}
  sync(labels: Record<string, string>, value: number | undefined): void {
    if (value === undefined) return;
    const k = JSON.stringify(labels);
    const before = this.last.get(k) ?? 0;
    this.last.set(k, value);
    // inc(0) too: the series shows (as 0) before the first count.
    this.c.inc(labels, value >= before ? value - before : value);
  }
}

type Put = (labels: Record<string, string>, value: number | undefined) => void;

/** A metric read at the scrape: its name, meaning, labels, and how to read it from the node. */
interface ReadRow {
  name: string;
  help: string;
  labels?: string[];
  read: (src: MetricsSource, put: Put) => void;
}

/** 1 for the current value of `label`, 0 for the others. */
const oneOf = (put: Put, label: string, all: readonly string[], now: string) => {
  for (const x of all) put({ [label]: x }, x === now ? 1 : 0);
};
/** A number of the receiver's per path (`path<n><key>` in its vitals), labelled path="<n>". */
const perPath =
  (key: string, f: (v: number) => number | undefined = (v) => v) =>
  (src: MetricsSource, put: Put) => {
    const v = src.vitals('receiver');
    for (let n = 1; n <= src.paths; n++) {
      const x = v?.[`path${n}${key}`];
      put({ path: String(n) }, x === undefined ? undefined : f(x));
    }
  };
const perDaemon = (key: string, scale: number) => (src: MetricsSource, put: Put) => {
  for (const d of DAEMON_LIST) {
    const v = src.vitals(d)?.[key];
    put({ daemon: d }, v === undefined ? undefined : v * scale);
  }
};

/** Gauges: what the node is now. */
const GAUGES: readonly ReadRow[] = [
  {
    name: 'pha_build_info',
    help: 'pha version and this node (always 1)',
    labels: ['version', 'node', 'peer'],
    read: (s, put) => put({ version: s.version, node: s.node, peer: s.peer }, 1),
  },
  {
    name: 'pha_node_state',
    help: "this node's state (1 for the current one): Active holds the resources",
    labels: ['state'],
    read: (s, put) => oneOf(put, 'state', STATES, nodeStateOf(s.status(), Date.now())),
  },
  {
    name: 'pha_peer_word',
    help: "the peer's newest heartbeat word (1 for the current one); SILENT: none for DEADTIME",
    labels: ['word'],
    read: (s, put) => oneOf(put, 'word', WORDS, s.status().RECEIVER_IN ?? 'SILENT'),
  },
  {
    name: 'pha_peer_word_age_seconds',
    help: "how long the peer's word (or its silence) has been what it is",
    read: (s, put) => {
      const since = s.status().RECEIVER_IN_SINCE;
      if (typeof since === 'number') put({}, Math.max(0, Date.now() - since) / 1000);
    },
  },
  {
    name: 'pha_resource_up',
    help: 'a resource of this node is up (its last check, start or stop)',
    labels: ['resource'],
    read: (s, put) => {
      const st = s.status() as Record<string, unknown>;
      for (const name of s.resources) put({ resource: name }, st[`RES_${name}`] === 'UP' ? 1 : 0);
    },
  },
  {
    name: 'pha_gateway_ok',
    help: 'the gateway answers (0: GW_FAILS pings in a row went unanswered); no series without GW',
    // Labelled by the address: a label-less gauge would show 0 on a node without GW (and alert).
    labels: ['gw'],
    read: (s, put) => {
      const ok = s.status().GW_OK;
      if (s.gw && (ok === 0 || ok === 1)) put({ gw: s.gw }, ok);
    },
  },
  {
    name: 'pha_split_brain',
    help: 'another host answers for a resource this node holds (its probe: a second holder), 0 when not',
    read: (s, put) => put({}, s.status().SPLIT_BRAIN ? 1 : 0),
  },
  {
    name: 'pha_witness_state',
    help: 'with WITNESS: 1 for the state of the etcd lock as this node sees it (held, free, other, unreachable); none without a witness',
    labels: ['state'],
    read: (s, put) => {
      const w = s.status().WITNESS;
      if (typeof w === 'string') put({ state: w.startsWith('other:') ? 'other' : w }, 1);
    },
  },
  {
    name: 'pha_heartbeat_path_age_seconds',
    help: "time since the peer's last valid datagram on each heartbeat path (HB_PATHS order)",
    labels: ['path'],
    read: perPath('HeardAt', (at) => (at > 0 ? Math.max(0, Date.now() - at) / 1000 : undefined)),
  },
  {
    name: 'pha_heartbeat_path_loss_ratio',
    help: 'recent share of the peer frames lost on each heartbeat path (about the last 50; needs AUTHKEY: frames are numbered)',
    labels: ['path'],
    read: perPath('LossPct', (pct) => pct / 100),
  },
  {
    name: 'pha_peer_config_mismatch',
    help: "1: the peer's config announcement differs from this node's config (RECEIVER_PEER_CONFIG); 0: same or unknown",
    // Always set: a label-less gauge keeps its last value, and a stopped receiver must not leave a 1 behind.
    read: (s, put) => put({}, s.status().RECEIVER_PEER_CONFIG === 'differs' ? 1 : 0),
  },
  {
    name: 'pha_alarms',
    help: "alarms of this node's daemons now (pha-cli stat shows them)",
    read: (s, put) => put({}, s.alarms()),
  },
  {
    name: 'pha_event_loop_lag_seconds',
    help: "the worst lateness of the daemon's timers in the last 15-30 s",
    labels: ['daemon'],
    read: perDaemon('lagMs', 1e-3),
  },
  {
    name: 'pha_resident_memory_bytes',
    help: "the daemon's resident memory",
    labels: ['daemon'],
    read: perDaemon('rssBytes', 1),
  },
];

/** Counters kept by the sender and the receiver (their vitals), mirrored here at each scrape. */
const MIRRORED: readonly ReadRow[] = [
  {
    name: 'pha_heartbeats_sent_total',
    help: 'heartbeats the sender sent to the peer',
    read: (s, put) => put({}, s.vitals('sender')?.sent),
  },
  {
    name: 'pha_heartbeat_send_errors_total',
    help: 'heartbeats the sender could not send',
    read: (s, put) => put({}, s.vitals('sender') && (s.vitals('sender')!.sendErrors ?? 0)),
  },
  {
    name: 'pha_heartbeats_received_total',
    help: 'valid heartbeats the receiver took from the peer',
    read: (s, put) => put({}, s.vitals('receiver')?.heard),
  },
  {
    name: 'pha_heartbeats_dropped_total',
    help: 'datagrams the receiver did not take, by reason',
    labels: ['reason'],
    read: (s, put) => {
      // The receiver's own counters, on its status stamp (RECEIVER_DROP_*, every ~2 s).
      const st = s.status() as Record<string, unknown>;
      for (const reason of DROP_REASONS) {
        const n = st[dropStatusKey(reason)];
        put({ reason }, typeof n === 'number' ? n : undefined);
      }
    },
  },
  {
    name: 'pha_heartbeat_path_received_total',
    help: 'valid datagrams from the peer on each heartbeat path (copies of one heartbeat on several paths each count)',
    labels: ['path'],
    read: perPath('Heard'),
  },
  {
    name: 'pha_heartbeat_path_lost_total',
    help: 'peer frames missing on each heartbeat path (gaps in the sequence; needs AUTHKEY)',
    labels: ['path'],
    read: perPath('Lost'),
  },
  {
    name: 'pha_status_writes_total',
    help: 'status-file writes, by daemon',
    labels: ['daemon'],
    read: perDaemon('writes', 1),
  },
  {
    name: 'pha_status_write_seconds_total',
    help: 'time spent in status-file writes (lock, write, rename)',
    labels: ['daemon'],
    read: perDaemon('writeMs', 1e-3),
  },
];

type Client = typeof import('prom-client');

export async function buildRegistry(
  src: MetricsSource,
): Promise<{ registry: Registry; metrics: Omit<Metrics, 'close'> }> {
  const client: Client = (await import('prom-client')).default;
  const registry = new client.Registry();
  const registers = [registry];
  for (const g of GAUGES)
    new client.Gauge({
      name: g.name,
      help: g.help,
      labelNames: g.labels ?? [],
      registers,
      collect() {
        g.read(src, (l, v) => v !== undefined && this.set(l, v));
      },
    });
  for (const c of MIRRORED) {
    let mirror: Mirror | undefined;
    const counter: Counter<string> = new client.Counter({
      name: c.name,
      help: c.help,
      labelNames: c.labels ?? [],
      registers,
      collect() {
        c.read(src, (l, v) => mirror?.sync(l, v));
      },
    });
    mirror = new Mirror(counter);
  }
  return { registry, metrics: eventMetrics(client, registers, !!src.gw) };
}

/** The metrics fed by what supervise sees happen: transitions, takeovers and their phases, hooks, checks, pings. */
function eventMetrics(client: Client, registers: Registry[], gw: boolean): Omit<Metrics, 'close'> {
  const counter = (name: string, help: string, labelNames: string[]) =>
    new client.Counter({ name, help, labelNames, registers });
  const histogram = (name: string, help: string, labelNames: string[], buckets: number[]) =>
    new client.Histogram({ name, help, labelNames, buckets, registers });
  const transitions = counter(
    'pha_transitions_total',
    'transitions of this node, by kind (state, gateway, peer) and what it became',
    ['event', 'to'],
  );
  const failovers = counter(
    'pha_failovers_total',
    'takeovers by this node (to Active, not at start-up), by cause (silent, released, off, local)',
    ['cause'],
  );
  const failover = histogram(
    'pha_failover_seconds',
    'takeovers by this node: each phase of the timeline (detect, decide, resources, total; hooks after the state told)',
    ['phase'],
    [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5, 10, 30],
  );
  const lastFailover = new client.Gauge({
    name: 'pha_last_failover_seconds',
    help: "the last takeover's phases (as pha-cli stat's last transition line)",
    labelNames: ['phase'],
    registers,
  });
  const hookCalls = counter('pha_hook_calls_total', 'notify hook runs, by hook and outcome (ok, failed, timeout)', [
    'hook',
    'outcome',
  ]);
  const check = histogram(
    'pha_resource_check_seconds',
    "how long each resource's check took",
    ['resource'],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  const rtt = gw
    ? histogram(
        'pha_gateway_rtt_seconds',
        'round-trip time of the answered gateway pings',
        [],
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      )
    : null;
  const isFailover = (e: HistoryEntry) => e.event === 'state' && e.now === 'Active' && e.old !== 'UNKNOWN';
  const phase = (name: string, ms: number | null) => {
    if (ms === null) return;
    failover.observe({ phase: name }, ms / 1000);
    lastFailover.set({ phase: name }, ms / 1000);
  };
  return {
    transition(e) {
      transitions.inc({ event: e.event, to: e.now });
      const t = e.timeline;
      if (!isFailover(e) || !t) return;
      failovers.inc({ cause: t.cause });
      lastFailover.reset();
      phase('detect', t.detectMs);
      phase('decide', t.decideMs);
      phase(
        'resources',
        t.scripts.reduce((s, x) => s + x.ms, 0),
      );
      phase('total', t.totalMs);
    },
    hooksDone(e) {
      if (isFailover(e) && e.timeline?.hooks) phase('hooks', e.timeline.hooks.doneMs);
    },
    hookCall: (hook, outcome) => hookCalls.inc({ hook, outcome }),
    checked(results) {
      for (const x of results) if (x.ms !== undefined) check.observe({ resource: x.name }, x.ms / 1000);
    },
    pinged(ok, rttMs) {
      if (ok) rtt?.observe(rttMs / 1000);
    },
  };
}

/** Serves /metrics on host:port; a bind that fails is told to `problem` and tried again every 10 s. */
export function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
  problem: (text: string | null) => void,
): { close(): Promise<void> } {
  let retry: NodeJS.Timeout | undefined;
  let closed = false;
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('pha: the metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`),
    );
  });
  const listen = () => server.listen({ host, port });
  server.on('listening', () => problem(null));
  server.on('error', (e: NodeJS.ErrnoException) => {
    problem(`METRICS ${host}:${port}: cannot listen (${e.code ?? e.message}); trying again every 10 s`);
    if (!closed) {
      retry = setTimeout(listen, 10_000);
      retry.unref();
    }
  });
  listen();
  return {
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        clearTimeout(retry);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
