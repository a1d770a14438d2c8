// Supervise's Prometheus endpoint (METRICS=<addr:port>, prom-client): this
// node's state, the peer's word, the heartbeats both ways (the sender's and
// the receiver's counters reach supervise over the local bus), transitions,
// the failover's duration by phase, resources, gateway, hooks, and each
// daemon's lag, memory and status-file writes. Loaded only when METRICS is
// set (prom-client costs memory). Gauges are read at the scrape; counters and
// histograms are fed by the events supervise sees.
import http from 'node:http';
import type { Counter, Histogram, Registry } from 'prom-client';
import type { DaemonName } from '../daemon/pidfile.js';
import type { VitalsSnapshot } from '../daemon/vitals.js';
import { DROP_REASONS } from '../heartbeat/drops.js';
import type { Status } from '../status-store/index.js';
import type { HistoryEntry } from './history.js';

export interface MetricsSource {
  node: string;
  peer: string;
  version: string;
  resources: readonly string[];
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

export async function buildRegistry(
  src: MetricsSource,
): Promise<{ registry: Registry; metrics: Omit<Metrics, 'close'> }> {
  const client = (await import('prom-client')).default;
  const registry = new client.Registry();
  const r = [registry];
  const set01 = <T extends string>(
    g: { set(l: Record<string, string>, v: number): void },
    label: string,
    all: readonly T[],
    now: T,
  ) => {
    for (const x of all) g.set({ [label]: x }, x === now ? 1 : 0);
  };

  new client.Gauge({
    name: 'pha_build_info',
    help: 'pha version and this node (always 1)',
    labelNames: ['version', 'node', 'peer'],
    registers: r,
    collect() {
      this.set({ version: src.version, node: src.node, peer: src.peer }, 1);
    },
  });
  new client.Gauge({
    name: 'pha_node_state',
    help: "this node's state (1 for the current one): Active holds the resources",
    labelNames: ['state'],
    registers: r,
    collect() {
      set01(this, 'state', STATES, nodeStateOf(src.status(), Date.now()));
    },
  });
  new client.Gauge({
    name: 'pha_peer_word',
    help: "the peer's newest heartbeat word (1 for the current one); SILENT: none for DEADTIME",
    labelNames: ['word'],
    registers: r,
    collect() {
      set01(this, 'word', WORDS, src.status().RECEIVER_IN ?? 'SILENT');
    },
  });
  new client.Gauge({
    name: 'pha_peer_word_age_seconds',
    help: "how long the peer's word (or its silence) has been what it is",
    registers: r,
    collect() {
      const since = src.status().RECEIVER_IN_SINCE;
      if (typeof since === 'number') this.set(Math.max(0, Date.now() - since) / 1000);
    },
  });
  new client.Gauge({
    name: 'pha_resource_up',
    help: 'a resource of this node is up (its last check, start or stop)',
    labelNames: ['resource'],
    registers: r,
    collect() {
      const s = src.status() as Record<string, unknown>;
      for (const name of src.resources) this.set({ resource: name }, s[`RES_${name}`] === 'UP' ? 1 : 0);
    },
  });
  if (src.gw)
    new client.Gauge({
      name: 'pha_gateway_ok',
      help: 'the gateway answers (0: GW_FAILS pings in a row went unanswered)',
      registers: r,
      collect() {
        const ok = src.status().GW_OK;
        if (ok === 0 || ok === 1) this.set(ok);
      },
    });
  new client.Gauge({
    name: 'pha_alarms',
    help: "alarms of this node's daemons now (pha-cli stat shows them)",
    registers: r,
    collect() {
      this.set(src.alarms());
    },
  });
  const vital = (name: string, help: string, key: string, scale: number) =>
    new client.Gauge({
      name,
      help,
      labelNames: ['daemon'],
      registers: r,
      collect() {
        for (const d of DAEMON_LIST) {
          const v = src.vitals(d)?.[key];
          if (v !== undefined) this.set({ daemon: d }, v * scale);
        }
      },
    });
  vital('pha_event_loop_lag_seconds', "the worst lateness of the daemon's timers in the last 15-30 s", 'lagMs', 1e-3);
  vital('pha_resident_memory_bytes', "the daemon's resident memory", 'rssBytes', 1);

  // Counters of the sender and the receiver, kept by them and mirrored here at each scrape.
  const mirrored = (name: string, help: string, labelNames: string[], sync: (m: Mirror) => void) => {
    let m: Mirror;
    const c: Counter<string> = new client.Counter({
      name,
      help,
      labelNames,
      registers: r,
      collect() {
        sync(m);
      },
    });
    m = new Mirror(c);
  };
  mirrored('pha_heartbeats_sent_total', 'heartbeats the sender sent to the peer', [], (m) =>
    m.sync({}, src.vitals('sender')?.sent),
  );
  mirrored('pha_heartbeat_send_errors_total', 'heartbeats the sender could not send', [], (m) =>
    m.sync({}, src.vitals('sender')?.sendErrors ?? 0),
  );
  mirrored('pha_heartbeats_received_total', 'valid heartbeats the receiver took from the peer', [], (m) =>
    m.sync({}, src.vitals('receiver')?.heard),
  );
  mirrored('pha_heartbeats_dropped_total', 'datagrams the receiver did not take, by reason', ['reason'], (m) => {
    const v = src.vitals('receiver');
    if (v) for (const reason of DROP_REASONS) m.sync({ reason }, v[`drop:${reason}`] ?? 0);
  });
  mirrored('pha_status_writes_total', 'status-file writes, by daemon', ['daemon'], (m) => {
    for (const d of DAEMON_LIST) m.sync({ daemon: d }, src.vitals(d)?.writes);
  });
  mirrored(
    'pha_status_write_seconds_total',
    'time spent in status-file writes (lock, write, rename)',
    ['daemon'],
    (m) => {
      for (const d of DAEMON_LIST) {
        const ms = src.vitals(d)?.writeMs;
        m.sync({ daemon: d }, ms === undefined ? undefined : ms / 1000);
      }
    },
  );

  const transitions = new client.Counter({
    name: 'pha_transitions_total',
    help: 'transitions of this node, by kind (state, gateway, peer) and what it became',
    labelNames: ['event', 'to'],
    registers: r,
  });
  const failovers = new client.Counter({
    name: 'pha_failovers_total',
    help: 'takeovers by this node (to Active, not at start-up), by cause (silent, released, off, local)',
    labelNames: ['cause'],
    registers: r,
  });
  const failover: Histogram<string> = new client.Histogram({
    name: 'pha_failover_seconds',
    help: 'takeovers by this node: each phase of the timeline (detect, decide, resources, total; hooks after the state told)',
    labelNames: ['phase'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5, 10, 30],
    registers: r,
  });
  const lastFailover = new client.Gauge({
    name: 'pha_last_failover_seconds',
    help: "the last takeover's phases (as pha-cli stat's last transition line)",
    labelNames: ['phase'],
    registers: r,
  });
  const hookCalls = new client.Counter({
    name: 'pha_hook_calls_total',
    help: 'notify hook runs, by hook and outcome (ok, failed, timeout)',
    labelNames: ['hook', 'outcome'],
    registers: r,
  });
  const check = new client.Histogram({
    name: 'pha_resource_check_seconds',
    help: "how long each resource's check took",
    labelNames: ['resource'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: r,
  });
  const rtt = src.gw
    ? new client.Histogram({
        name: 'pha_gateway_rtt_seconds',
        help: 'round-trip time of the answered gateway pings',
        buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
        registers: r,
      })
    : null;
  const isFailover = (e: HistoryEntry) => e.event === 'state' && e.now === 'Active' && e.old !== 'UNKNOWN';

  return {
    registry,
    metrics: {
      transition(e) {
        transitions.inc({ event: e.event, to: e.now });
        const t = e.timeline;
        if (!isFailover(e) || !t) return;
        failovers.inc({ cause: t.cause });
        const phases: Record<string, number | null> = {
          detect: t.detectMs,
          decide: t.decideMs,
          resources: t.scripts.reduce((s, x) => s + x.ms, 0),
          total: t.totalMs,
        };
        lastFailover.reset();
        for (const [phase, ms] of Object.entries(phases)) {
          if (ms === null) continue;
          failover.observe({ phase }, ms / 1000);
          lastFailover.set({ phase }, ms / 1000);
        }
      },
      hooksDone(e) {
        const h = e.timeline?.hooks;
        if (!isFailover(e) || !h) return;
        failover.observe({ phase: 'hooks' }, h.doneMs / 1000);
        lastFailover.set({ phase: 'hooks' }, h.doneMs / 1000);
      },
      hookCall: (hook, outcome) => hookCalls.inc({ hook, outcome }),
      checked(results) {
        for (const x of results) if (x.ms !== undefined) check.observe({ resource: x.name }, x.ms / 1000);
      },
      pinged(ok, rttMs) {
        if (ok) rtt?.observe(rttMs / 1000);
      },
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
