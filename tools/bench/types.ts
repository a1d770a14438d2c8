/** Result shapes shared by the scenarios, the report and latest.json. */

import type { NodeName } from '../lab/index.js';
import type { Summary } from './stats.js';

export type Impl = 'pha' | 'keepalived';

export interface TrialResult {
  trial: number;
  /** The expected end state was reached (else `error` says what happened). */
  ok: boolean;
  error?: string;
  /** The scenario's main time (see ScenarioRow.metric), ms from the fault. */
  toVipMs: number | null;
  /** Time with no effective holder in the scenario's window, ms. */
  gapMs: number | null;
  /** Time with two effective holders in the scenario's window, ms. */
  overlapMs: number | null;
  /** Effective holder(s) at the end. */
  holder: string | null;
  /** Scenario-specific count of unwanted VIP moves (see ScenarioRow.flapsMeaning). */
  flaps: number;
  /** Further numbers of this scenario (ms unless named otherwise). */
  extra: Record<string, number | string | boolean | null>;
  notes: string[];
  /** Install dir with the daemons' logs, when kept. */
  logs?: string;
}

export interface ScenarioRow {
  impl: Impl;
  scenario: string;
  profile: string;
  /** e.g. "HEARTBEAT_INT=200 DEADTIME=1000 SUPERVISE_INT=2000". */
  settings: string;
  metric: string;
  gapMeaning: string;
  overlapMeaning: string;
  flapsMeaning: string;
  trials: number;
  ok: number;
  toVip: Summary;
  gap: Summary;
  overlap: Summary;
  flaps: number;
  /** Final holder → number of trials. */
  holders: Record<string, number>;
  extra: Record<string, Summary>;
  failures: string[];
  notes: string[];
  results: TrialResult[];
  runId: string;
  at: string;
}

export interface DaemonFootprint {
  daemon: string;
  pid: number;
  cpuPct: number;
  /** Including the CPU of waited-for children (resource checks). */
  cpuPctWithChildren: number;
  rssKb: number;
  rssMaxKb: number;
  /** Proportional set size (shared pages split between the processes that map them: the node binary). */
  pssKb?: number;
  /** Private memory (what this process alone holds). */
  privateKb?: number;
  /** Wake-ups per second by cause over the window (src/wakeups.ts: timers by name, bus, pid checks, file, scripts). */
  wakePerS?: Record<string, number>;
}

export interface NodeFootprint {
  node: string;
  role: string;
  profile: string;
  seconds: number;
  daemons: DaemonFootprint[];
  totalCpuPct: number;
  totalCpuPctWithChildren: number;
  totalRssKb: number;
  /** Resources in the config (the VIP and res/test ones): 1 unless the row measures the cost of more. */
  resources?: number;
  /** CPU % of a bare Node.js 200 ms timer over the same window (the row's baseline). */
  baselineCpuPct?: number;
  /** Replacements of the node's status.dat per second during the window (each is a locked write that wakes the other daemons' watchers). */
  statusWritesPerS?: number;
}

export interface MicroResults {
  footprint: NodeFootprint[];
  /** A bare `node -e "setInterval(() => {}, 200)"` measured over the same window: the floor of one Node.js process. */
  nodeBaseline?: { profile: string; cpuPct: number; rssKb: number; pssKb?: number; privateKb?: number }[];
  superviseRound: Array<{
    resources: number;
    rounds: number;
    checkAll: Summary;
    roundWithWrite: Summary;
    /** Same run, interleaved: N concurrent spawns of /bin/true from the same process (older runs: absent). */
    spawnFloor?: Summary;
  }>;
  statusStore: { writers: number; updatesEach: number; latency: Summary; wallMs: number; errors: number } | null;
  cliStat: { runs: number; wall: Summary; netnsOverhead: Summary; exitCodes: number[] } | null;
  notes: string[];
  runId: string;
  at: string;
}

export interface SoakResult {
  profile: string;
  settings: string;
  minutes: number;
  spuriousFailovers: number;
  transitions: Array<{ atS: number; holders: string }>;
  gapMs: number;
  overlapMs: number;
  finalHolder: string;
  load: string;
  /** Each daemon's worst (`node.daemon`): timer lag, event-loop delay p99 and max, GC pause. */
  loop?: Record<string, { lagMs: number; loopDelayP99Ms: number; loopDelayMaxMs: number; gcMaxMs: number }>;
  /** From the daemons' logs during the soak: the receiver declared the peer silent, a daemon detected its own stall (near-misses even without a VIP move). */
  peerLost?: number;
  stalls?: number;
  notes: string[];
  runId: string;
  at: string;
}

export interface BenchResults {
  /** Rows keyed by impl/scenario/profile; a new run replaces the rows it measured. */
  rows: ScenarioRow[];
  micro: MicroResults | null;
  soak: SoakResult[];
  /** The heartbeat key's cost (`--auth`), tools/bench/auth.ts. */
  auth?: AuthBench | null;
  notify?: NotifyBench | null;
  runs: Array<{
    runId: string;
    at: string;
    argv: string[];
    commit: string;
    host: string;
    durationS: number;
    load?: string;
  }>;
}

// ---- --auth: what the heartbeat key costs (auth.ts)

export interface AuthIdleWindow {
  variant: 'plain' | 'key';
  rep: number;
  seconds: number;
  /** CPU % of the three daemons of each node over the window. */
  cpuPct: Record<NodeName, number>;
  /** The same per daemon (sender, receiver, supervise), to see where a difference comes from. */
  daemonPct: Record<NodeName, Record<string, number>>;
}

export interface AuthCodecCost {
  frames: number;
  /** CPU µs per datagram (process.cpuUsage over the loop / frames). */
  plainEncodeUs: number;
  plainAcceptUs: number;
  keyEncodeUs: number;
  keyAcceptUs: number;
  /** The key's extra CPU per node: one frame signed and one verified per HEARTBEAT_INT. */
  extraCpuPct: Record<string, number>;
  /**
   * The same in two processes woken every 200 ms like the daemons (auth-wake.js, run side by
   * side): CPU µs per wake (timer + encode + accept), and the key's extra CPU per node.
   */
  wake?: { seconds: number; plainUsPerWake: number; keyUsPerWake: number; extraCpuPct: number } | null;
}

export interface AuthBench {
  runId: string;
  at: string;
  hostDeath: { plain: ScenarioRow; key: ScenarioRow } | null;
  idle: AuthIdleWindow[];
  idleSummary: Record<'plain' | 'key', Record<NodeName, Summary>> | null;
  codec: AuthCodecCost | null;
  notes: string[];
}

// ---- --notify: does a hanging notify hook delay a failover (notify.ts)

export interface NotifyBench {
  runId: string;
  at: string;
  hostDeath: { plain: ScenarioRow; hook: ScenarioRow } | null;
  notes: string[];
}
