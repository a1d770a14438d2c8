// The simulated world's data: profiles, latencies, the nodes and their
// processes, the event queue. The world itself is built in layers, one file
// each, every layer using only the ones before it: clock.ts (time, the queue,
// delivery into a process), store.ts (the status file, its writer, the local
// bus), network.ts (datagrams between the nodes, the resources on them),
// ports.ts (the daemons' ports over all that), processes.ts (daemons started,
// frozen, crashed, restarted by their watchdogs), world.ts (the operator).
import type { CoreRunner } from '../../src/daemon/effects.js';
import { DAEMONS, type DaemonName } from '../../src/daemon/pidfile.js';
import type { HeartbeatCodec } from '../../src/heartbeat/codec.js';
import type { PeerState } from '../../src/heartbeat/generation.js';
import type { Word } from '../../src/heartbeat/word.js';
import type { ReceiverCore, ReceiverEffect, ReceiverEvent } from '../../src/receiver/core.js';
import type { SenderCore, SenderEffect, SenderEvent } from '../../src/sender/core.js';
import type { Status } from '../../src/status-store/index.js';
import type { DecideFn, SuperviseCore, SuperviseEffect, SuperviseEvent } from '../../src/supervise/core.js';
import { type HookCall, HookQueue } from '../../src/supervise/hook-queue.js';
import type { Transition } from '../../src/supervise/transitions.js';

export type { DaemonName };
export const DAEMON_NAMES = DAEMONS;

export interface Profile {
  name: string;
  HEARTBEAT_INT: number;
  DEADTIME: number;
  SUPERVISE_INT: number;
  GW_INT: number;
  GW_FAILS: number;
  CHECK_TIMEOUT: number;
  RES_TIMEOUT: number; // s
  RES_RESTARTS: number;
  FAIL_HOLDDOWN: number; // s
  OFF_PAUSE: number; // s
  PINGTIMEOUT: number; // s
}

const base = {
  GW_INT: 250,
  GW_FAILS: 6,
  RES_TIMEOUT: 30,
  RES_RESTARTS: 2,
  FAIL_HOLDDOWN: 300,
  OFF_PAUSE: 30,
  PINGTIMEOUT: 2.1,
};
export const PROFILES: Record<string, Profile> = {
  default: { name: 'default', HEARTBEAT_INT: 200, DEADTIME: 1000, SUPERVISE_INT: 2000, CHECK_TIMEOUT: 2000, ...base },
  fast: { name: 'fast', HEARTBEAT_INT: 50, DEADTIME: 200, SUPERVISE_INT: 2000, CHECK_TIMEOUT: 2000, ...base },
};

export interface Latencies {
  netMs: [number, number]; // one-way datagram delay (jitter between)
  startMs: [number, number]; // one resource's start script
  stopMs: [number, number];
  checkMs: [number, number];
  pingMs: [number, number]; // an answered ping
  spawnMs: [number, number]; // a restarted daemon's start-up (Node's)
  writeMs: [number, number]; // a status-file write
  watchMs: [number, number]; // fs.watch telling the others
}

export const LATENCIES: Latencies = {
  netMs: [0.1, 3],
  startMs: [5, 200],
  stopMs: [5, 200],
  checkMs: [2, 40],
  pingMs: [0.2, 3],
  spawnMs: [300, 600],
  writeMs: [0.5, 3],
  watchMs: [1, 10],
};

export interface WorldOptions {
  seed: number;
  profile: Profile;
  resources: string[];
  lat?: Latencies;
  decide?: [DecideFn | undefined, DecideFn | undefined]; // per node (a broken rule on purpose)
  trace?: boolean;
  reorder?: boolean; // datagrams may overtake each other while jitter is on
  keyed?: boolean; // AUTHKEY: frames with a sequence number, judged by the real codec (older ones dropped)
  probes?: boolean; // the vip resource's probe (res/ipaddr probe) works (default); false: no resource has a probe
  probeWaits?: boolean; // the probes answer after their whole second even when answered (an IPv6 address among the resources: pha-ndp collects answers for 1 s)
  splitYield?: boolean; // SPLIT_YIELD=1: rule 12 acts
  orphansLive?: boolean; // broken on purpose: no script records, orphans run on (the invariant must catch it)
  witness?: { ttlMs: number }; // WITNESS: an etcd witness (tools/sim/witness.ts) with this lease TTL
}

export type Fn = () => void;

/** Binary heap of (time, seq) → callback. */
export class Queue {
  private h: { at: number; seq: number; fn: Fn }[] = [];
  private seq = 0;
  get size(): number {
    return this.h.length;
  }
  push(at: number, fn: Fn): void {
    const e = { at, seq: this.seq++, fn };
    const h = this.h;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p]!, e)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }
  peek(): number {
    return this.h.length ? this.h[0]!.at : Infinity;
  }
  pop(): { at: number; fn: Fn } | undefined {
    const h = this.h;
    if (!h.length) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    const n = h.length;
    if (n) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && less(h[r]!, h[l]!) ? r : l;
        if (!less(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
const less = (a: { at: number; seq: number }, b: { at: number; seq: number }) =>
  a.at < b.at || (a.at === b.at && a.seq < b.seq);

type FileState = 'ok' | 'corrupt' | 'missing';

export interface SimNode {
  id: 1 | 2;
  name: string;
  file: Status;
  fileState: FileState;
  unwritable: boolean;
  res: Map<string, boolean>; // actually up
  gwUp: boolean;
  startFails: boolean;
  checkHangs: boolean;
  /** Start and stop scripts begun now hang until RES_TIMEOUT, are killed and fail. */
  scriptsHang: boolean;
  procs: Partial<Record<DaemonName, Proc>>;
  down: Set<DaemonName>; // stopped on purpose
  restarting: Set<DaemonName>;
  /** A daemon that cannot start until then (its restarts fail; the watchdog backs off). */
  noStartUntil: Partial<Record<DaemonName, number>>;
  restartFails: Partial<Record<DaemonName, { n: number; nextAt: number }>>;
  incarnation: number;
  /** Keyed pairs (AUTHKEY): the sender's boot generation (var/auth-generation) and the peer's newest accepted frame (var/auth-peer-generation). */
  generation: number;
  peerState: PeerState | null;
  /** PHA_SEQ of the node's last transition (var/notify.seq: survives restarts). */
  notifySeq: number;
  /** Resource scripts that run now, as var/run/scripts records them (src/resources/orphans.ts). */
  scripts: Set<SimScript>;
  /** When its sender last fenced (a script of a daemon dead before then must not do its work after). */
  fencedAt: number;
  /** The last thing each daemon said on the bus (the bus is modelled lazily: no event per repeat). */
  pub: Map<DaemonName, Heard>;
  /** When each daemon ran: [start, end) per process (the watchdogs' pid checks look here). */
  hist: Record<DaemonName, { start: number; end: number; pid: number; by?: number }[]>; // by: pid of the watcher that restarted it
}

export interface Heard {
  keys: Partial<Status>;
  at: number;
  pid: number; // the process that said it
}

/** A hung script did its work before it hung ('after'), seconds into the hang ('late': a slow start that then hangs), or never ('before'). */
export type Hang = 'before' | 'after' | 'late';

/** One running start or stop script: its owner (null: pha-cli, which records none), killed as the real sweeps do. */
export interface SimScript {
  owner: Proc | null;
  op: 'start' | 'stop';
  name: string;
  hang: Hang | null;
  live: boolean;
  /** Killed: it does no more work; its owner's runner sees a failure (and goes on as it would). */
  onKill: () => void;
}

/** A core and the runner that carries its effects out on this process's ports. */
export interface Running<C, Ev, Eff> {
  core: C;
  run: CoreRunner<Ev, Eff>;
}

export class Proc {
  alive = true;
  frozenUntil = -1;
  queued: Fn[] = [];
  readonly timers = new Map<string, number>();
  readonly everHeard = new Set<DaemonName>();
  startedAt = 0; // virtual ms
  readonly alarms = new Map<string, string>();
  /** supervise's notify hooks: the queue (dies with the process, as the real one). */
  readonly hookQueue = new HookQueue(100);
  lastGood: Status | undefined;
  pending: Record<string, unknown> | null = null;
  inflight: Record<string, unknown> | null = null;
  writeError = false;
  cache: Status | undefined;
  cachedAt = -Infinity;
  readonly monoOffset: number;
  sender?: Running<SenderCore, SenderEvent, SenderEffect>;
  receiver?: Running<ReceiverCore, ReceiverEvent, ReceiverEffect>;
  supervise?: Running<SuperviseCore, SuperviseEvent, SuperviseEffect>;
  /** A keyed pair's heartbeat codec (the real one): the sender's frames, the receiver's judge. */
  codec?: HeartbeatCodec;
  constructor(
    readonly node: SimNode,
    readonly name: DaemonName,
    readonly pid: number,
    monoOffset: number,
  ) {
    this.monoOffset = monoOffset;
  }
  get frozen(): boolean {
    return this.frozenUntil >= 0;
  }
}

export interface WorldHooks {
  /** After every event. */
  step?: () => void;
  /** A datagram went out. */
  sent?: (node: SimNode, word: Word) => void;
  /** A datagram was lost (random loss, not a blocked link). */
  lost?: (node: SimNode, word: Word) => void;
  /** A node's resources changed (actual state). */
  held?: (node: SimNode) => void;
  /** A start or stop script hangs ('begun'), or is killed at RES_TIMEOUT ('killed'); it hung before or after doing its work. */
  hung?: (node: SimNode, op: 'start' | 'stop', phase: 'begun' | 'killed', h: Hang) => void;
  /** A probe's answers reach supervise (asked at `askedAt`; a frozen supervise gets them late). */
  probeAnswered?: (node: SimNode, askedAt: number) => void;
  /** supervise told a transition (when it happened, not when its hook runs). */
  told?: (node: SimNode, t: Transition) => void;
  /** A notify hook call begins (one hook configured: its queue's order is what is checked). */
  notified?: (node: SimNode, call: HookCall) => void;
  /** A script does its work (a resource comes up or goes down). */
  scriptWork?: (node: SimNode, s: SimScript) => void;
  /** A stop of resources is carried out: who and why (the last log line of that daemon). */
  stopping?: (node: SimNode, by: DaemonName, cause: string | null) => void;
}

export const WALL0 = 1_800_000_000_000;
