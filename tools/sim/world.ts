// The simulated pair: two nodes, each running the daemons' own cores
// (src/sender/core.ts, src/receiver/core.ts, src/supervise/core.ts) in virtual
// time, over a simulated status store, local bus, network, resources and
// gateway. Everything random comes from the seeded PRNG, so a seed replays.
// What the real shells do (<daemon>/shell.ts, daemon/bus.ts, daemon/watchdog.ts,
// status-store/writer.ts) is modelled here as closely as it matters for the
// protocol: the cores are the very code the daemons run.

import { BUS_HEARD_AGAIN_MS, type Timing, timingOf } from '../../src/config/timing.js';
import { type CommonPorts, type CoreRunner, type Reply, runCore } from '../../src/daemon/effects.js';
import { DAEMONS, type DaemonName } from '../../src/daemon/pidfile.js';
import { BACKUP_AFTER_MS, restartBackoffMs, restarts, WATCHERS } from '../../src/daemon/restart-policy.js';
import type { Word } from '../../src/heartbeat/word.js';
import { ReceiverCore, type ReceiverEffect, type ReceiverEvent } from '../../src/receiver/core.js';
import { type ReceiverPorts, receiverBinding } from '../../src/receiver/ports.js';
import { SenderCore, type SenderEffect, type SenderEvent, type SenderSight } from '../../src/sender/core.js';
import { type SenderPorts, senderBinding } from '../../src/sender/ports.js';
import type { Status } from '../../src/status-store/index.js';
import {
  type DecideFn,
  type Liveness,
  SuperviseCore,
  type SuperviseEffect,
  type SuperviseEvent,
} from '../../src/supervise/core.js';
import { decisionText, type SupervisePorts, superviseBinding } from '../../src/supervise/ports.js';
import { Prng } from './prng.js';

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
}

type Fn = () => void;

/** Binary heap of (time, seq) → callback. */
class Queue {
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
  /** The last thing each daemon said on the bus (the bus is modelled lazily: no event per repeat). */
  pub: Map<DaemonName, { keys: Partial<Status>; at: number }>;
  /** When each daemon ran: [start, end) per process (the watchdogs' pid checks look here). */
  hist: Record<DaemonName, { start: number; end: number; by?: number }[]>; // by: pid of the watcher that restarted it
}

interface Heard {
  keys: Partial<Status>;
  at: number;
}

export type { Heard };

export type Hang = 'before' | 'after';

/** A core and the runner that carries its effects out on this process's ports. */
interface Running<C, Ev, Eff> {
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
  /** A stop of resources is carried out: who and why (the last log line of that daemon). */
  stopping?: (node: SimNode, by: DaemonName, cause: string | null) => void;
}

export const WALL0 = 1_800_000_000_000;

export class World {
  t = 0;
  readonly q = new Queue();
  readonly nodes: [SimNode, SimNode];
  readonly rng: Prng;
  readonly p: Profile;
  readonly lat: Latencies;
  readonly fresh: number;
  /** The daemons' derived intervals (the same timingOf() they use). */
  readonly timing: Timing;
  readonly trace: string[] | null;
  hooks: WorldHooks = {};
  /** link[from][to] blocked (partition, one-way loss). */
  readonly blocked: [[boolean, boolean], [boolean, boolean]] = [
    [false, false],
    [false, false],
  ];
  loss = 0;
  dup = 0;
  extraDelay = 0;
  /** Let datagrams overtake each other (no FIFO per direction): heartbeats carry no sequence number yet. */
  reorder = false;
  private readonly lastArrival: [number, number] = [0, 0];
  steps = 0;
  /** Script calls that hung (scriptHang): how often the fault met a start or stop. */
  hangs = 0;
  private tokens = 0;
  private readonly decide: [DecideFn | undefined, DecideFn | undefined];
  private readonly resources: string[];

  constructor(readonly o: WorldOptions) {
    this.rng = new Prng(o.seed).fork(7);
    this.p = o.profile;
    this.lat = o.lat ?? LATENCIES;
    this.timing = timingOf({ ...this.p, resources: o.resources });
    this.fresh = this.timing.busFreshMs;
    this.trace = o.trace ? [] : null;
    this.decide = o.decide ?? [undefined, undefined];
    this.resources = o.resources;
    const mk = (id: 1 | 2): SimNode => ({
      id,
      name: `n${id}`,
      file: {},
      fileState: 'ok',
      unwritable: false,
      res: new Map(o.resources.map((r) => [r, false])),
      gwUp: true,
      startFails: false,
      checkHangs: false,
      scriptsHang: false,
      procs: {},
      down: new Set(),
      restarting: new Set(),
      noStartUntil: {},
      restartFails: {},
      incarnation: 0,
      pub: new Map(),
      hist: { sender: [], receiver: [], supervise: [] },
    });
    this.nodes = [mk(1), mk(2)];
  }

  get wall(): number {
    return WALL0 + this.t;
  }

  log(node: SimNode | null, who: string, msg: string): void {
    if (this.trace)
      this.trace.push(`${(this.t / 1000).toFixed(3).padStart(8)} ${node ? node.name : '--'} ${who.padEnd(9)} ${msg}`);
  }

  at(t: number, fn: Fn): void {
    this.q.push(Math.max(t, this.t), fn);
  }

  /** Run until virtual time `until` (ms). */
  run(until: number): void {
    while (this.q.peek() <= until) {
      const e = this.q.pop()!;
      this.t = e.at;
      e.fn();
      this.steps++;
      this.hooks.step?.();
    }
    this.t = until;
  }

  private lat2(r: [number, number]): number {
    return this.rng.between(r[0], r[1]);
  }

  // ---- process plumbing -------------------------------------------------

  /** Run `fn` in `proc` now, or when it thaws; never after it died. */
  private deliver(proc: Proc, fn: Fn): void {
    if (!proc.alive) return;
    if (proc.frozen) proc.queued.push(fn);
    else fn();
  }
  private later(proc: Proc, delay: number, fn: Fn): void {
    this.at(this.t + delay, () => this.deliver(proc, fn));
  }
  private clock(proc: Proc) {
    return { mono: this.t + proc.monoOffset, wall: this.wall };
  }
  freeze(proc: Proc, ms: number): void {
    if (!proc.alive) return;
    const until = this.t + ms;
    proc.frozenUntil = Math.max(proc.frozenUntil, until);
    this.log(proc.node, proc.name, `frozen for ${Math.round(ms)} ms`);
    this.at(until, () => {
      if (!proc.alive || proc.frozenUntil > this.t) return;
      proc.frozenUntil = -1;
      this.log(proc.node, proc.name, 'thawed');
      const q = proc.queued;
      proc.queued = [];
      for (const fn of q)
        if (proc.alive && !proc.frozen) fn();
        else if (proc.alive) proc.queued.push(fn);
    });
  }

  crash(node: SimNode, d: DaemonName): void {
    const proc = node.procs[d];
    if (!proc) return;
    this.end(proc);
    this.log(node, d, `killed (pid ${proc.pid})`);
    // Every living daemon of the node checks at its next poll (watchdog.ts
    // check()): it restarts each dead daemon it saw alive and whose first
    // watcher is dead too, so a daemon whose restarter died with it is still
    // brought back (by the second watcher).
    this.pollAll(node, this.t);
    // The backup's safety net: it steps in once the daemon has stayed dead BACKUP_AFTER_MS.
    this.pollAll(node, this.t + BACKUP_AFTER_MS, true);
  }

  /** Each living daemon of the node polls at its first poll after `from` (or at it: `atOrAfter`); the real ones poll every wdInt. */
  private pollAll(node: SimNode, from: number, atOrAfter = false): void {
    const wd = this.wdInt;
    for (const w of Object.values(node.procs)) {
      if (!w) continue;
      const next =
        w.startedAt +
        (atOrAfter ? Math.ceil((from - w.startedAt) / wd) : Math.floor((from - w.startedAt) / wd) + 1) * wd;
      this.at(next, () => this.deliver(w, () => this.watchCheck(w)));
    }
  }

  /** A watcher's poll: restart what it must (the real Watchdog.check()). */
  private watchCheck(w: Proc): void {
    const node = w.node;
    const wd = this.wdInt;
    for (const d of Object.keys(WATCHERS) as DaemonName[]) {
      if (d === w.name || node.procs[d] || node.down.has(d) || node.restarting.has(d)) continue;
      const last = node.hist[d][node.hist[d].length - 1];
      if (!last) continue;
      // The real policy (restart-policy.ts): the first watcher knows of the
      // death when it runs and is older than the death (it saw d run).
      const first = node.procs[WATCHERS[d][0]!];
      const firstWatcherKnows = () => !!first && first.startedAt < last.end;
      if (!restarts({ self: w.name, dead: d, deadFor: this.t - last.end, firstWatcherKnows })) continue;
      // Only a daemon this watcher saw alive (at one of its polls, or running
      // when the watcher started) is restarted.
      // Its polls run at its start and every wd after (daemon/index.ts).
      const firstPollIn = w.startedAt + Math.max(0, Math.ceil((last.start - w.startedAt) / wd)) * wd;
      // The watcher that restarted it knows its pid at once (Watchdog.restart()).
      const seen = firstPollIn < last.end || last.by === w.pid;
      if (!seen) continue;
      const f = node.restartFails[d];
      if (f && this.t < f.nextAt) continue;
      node.restarting.add(d);
      this.log(node, w.name, `${d} died: restarting it`);
      this.at(this.t + this.lat2(this.lat.spawnMs), () => {
        node.restarting.delete(d);
        if (node.procs[d] || node.down.has(d)) return;
        if (this.t < (node.noStartUntil[d] ?? 0)) {
          // Watchdog.restart(): the spawn failed; back off 0.5 s doubling up to 5 s, retry at a poll.
          const fail = node.restartFails[d] ?? { n: 0, nextAt: 0 };
          fail.n++;
          fail.nextAt = this.t + restartBackoffMs(fail.n);
          node.restartFails[d] = fail;
          this.log(
            node,
            w.name,
            `restart of ${d} failed (${fail.n}): next try in ${Math.round(fail.nextAt - this.t)} ms`,
          );
          // Every living watcher polls again once the back-off has passed.
          this.pollAll(node, fail.nextAt, true);
          return;
        }
        delete node.restartFails[d];
        this.startDaemon(node, d);
        const h = node.hist[d];
        if (w.alive) h[h.length - 1]!.by = w.pid;
      });
    }
  }

  private end(proc: Proc): void {
    proc.alive = false;
    (proc.sender ?? proc.receiver ?? proc.supervise)?.run.stop();
    delete proc.node.procs[proc.name];
    const h = proc.node.hist[proc.name];
    const last = h[h.length - 1];
    if (last && last.end === Infinity) last.end = this.t;
  }

  get wdInt(): number {
    return this.timing.watchdogPollMs;
  }

  /** Was `d` running at virtual time `x`? */
  private ranAt(node: SimNode, d: DaemonName, x: number): boolean {
    const h = node.hist[d];
    for (let i = h.length - 1; i >= 0; i--) {
      const r = h[i]!;
      if (r.start <= x) return x < r.end;
    }
    return false;
  }

  /** The watchdog's isAlive(d) in `proc`: d's pid at proc's last check (every wdInt from its start). */
  private pidAlive(proc: Proc, d: DaemonName): boolean {
    const wd = this.wdInt;
    const last = proc.startedAt + Math.floor((this.t - proc.startedAt) / wd) * wd;
    return this.ranAt(proc.node, d, last);
  }

  /** A clean stop (pha-cli stop / SIGTERM): marked down, its last keys written. */
  stopDaemon(node: SimNode, d: DaemonName): void {
    const proc = node.procs[d];
    node.down.add(d);
    if (!proc) return;
    const effects = proc.sender?.core.stop() ?? proc.receiver?.core.stop() ?? proc.supervise?.core.stop() ?? [];
    for (const e of effects) if (e.kind === 'write') this.write(proc, e.patch);
    this.end(proc);
    // The writer is flushed before the process exits.
    const patch = { ...(proc.inflight ?? {}), ...(proc.pending ?? {}) };
    if (Object.keys(patch).length) this.storeWrite(node, patch, proc.lastGood, proc);
    this.log(node, d, 'stopped');
  }

  /** Start a daemon process now (it runs its start-up code at once). */
  startDaemon(node: SimNode, d: DaemonName): void {
    if (node.procs[d]) return;
    node.down.delete(d);
    const proc = new Proc(node, d, ++node.incarnation + node.id * 1000, this.rng.int(0, 1e7));
    node.procs[d] = proc;
    proc.startedAt = this.t;
    node.hist[d].push({ start: this.t, end: Infinity });
    this.log(node, d, `started (pid ${proc.pid})`);
    const cfg = this.config(node);
    if (d === 'sender') {
      const core = new SenderCore(cfg);
      const run = runCore(core, senderBinding(cfg.resources), this.senderPorts(proc));
      proc.sender = { core, run };
      run.carry(core.start(this.clock(proc), this.senderSight(proc, true)));
    } else if (d === 'receiver') {
      const core = new ReceiverCore(cfg);
      const run = runCore(core, receiverBinding, this.receiverPorts(proc));
      proc.receiver = { core, run };
      run.carry(core.start(this.clock(proc)));
    } else {
      const core = new SuperviseCore(cfg, { decide: this.decide[node.id - 1] });
      const run = runCore(core, superviseBinding(cfg.resources), this.supervisePorts(proc));
      proc.supervise = { core, run };
      run.carry(core.start(this.clock(proc), this.read(proc).status));
      // The shell waits for the first write to land, then runs.
      this.later(proc, this.lat2(this.lat.writeMs) + 0.5, () => run.carry(core.run(this.clock(proc))));
    }
  }

  private config(node: SimNode) {
    const p = this.p;
    const peer = this.nodes[2 - node.id]!;
    return {
      ...p,
      GW: '198.18.0.1',
      local: { id: node.id },
      peer: { name: peer.name },
      resources: this.resources.map((name) => ({
        name,
        script: name === 'vip' ? '/opt/pha/res/ipaddr' : '/opt/pha/res/service',
      })),
    };
  }

  // ---- status file, writer, watch, bus ----------------------------------

  /** store.read() in `proc`: the last good state when the file is damaged. */
  private read(proc: Proc): { status: Status; damaged: string | null } {
    const n = proc.node;
    if (n.fileState === 'ok') {
      proc.lastGood = n.file;
      return { status: { ...n.file }, damaged: null };
    }
    if (n.fileState === 'missing' && proc.lastGood === undefined) return { status: {}, damaged: null };
    return {
      status: { ...(proc.lastGood ?? {}) },
      damaged: n.fileState === 'missing' ? 'status file missing' : 'status file corrupt',
    };
  }

  /** One read-modify-write of the file (the store's update()). */
  storeWrite(node: SimNode, patch: Record<string, unknown>, lastGood: Status | undefined, by: Proc | null): boolean {
    if (node.unwritable) return false;
    const cur: Record<string, unknown> = node.fileState === 'ok' ? { ...node.file } : { ...(lastGood ?? {}) };
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) delete cur[k];
      else cur[k] = v;
    }
    node.file = cur as Status;
    node.fileState = 'ok';
    if (by) by.lastGood = node.file;
    this.fileChanged(node);
    return true;
  }

  /** A status-file fault: corrupt, truncated (read as corrupt) or deleted. */
  damageFile(node: SimNode, how: 'corrupt' | 'truncate' | 'delete'): void {
    node.fileState = how === 'delete' ? 'missing' : 'corrupt';
    this.log(node, 'fault', `status file ${how}`);
    this.fileChanged(node);
  }

  /** fs.watch: every running daemon that watches the file hears of a change. */
  fileChanged(node: SimNode): void {
    for (const d of ['sender', 'supervise'] as const) {
      const proc = node.procs[d];
      if (!proc) continue;
      this.later(proc, this.lat2(this.lat.watchMs), () => {
        if (d === 'sender')
          proc.sender?.run.feed({
            kind: 'changed',
            reason: 'change',
            sight: this.senderSight(proc, true),
            ...this.clock(proc),
          });
        else
          proc.supervise?.run.feed({
            kind: 'changed',
            view: this.superviseView(proc, this.read(proc).status),
            ...this.clock(proc),
          });
      });
    }
  }

  /** StatusWriter: merged patches written in the background, retried while the file is not writable. */
  private write(proc: Proc, patch: Record<string, unknown>): void {
    proc.pending = { ...(proc.pending ?? {}), ...patch };
    this.kick(proc);
  }
  private kick(proc: Proc): void {
    if (proc.inflight || !proc.pending) return;
    const patch = proc.pending;
    proc.pending = null;
    proc.inflight = patch;
    this.at(this.t + this.lat2(this.lat.writeMs), () => {
      if (!proc.alive) return;
      proc.inflight = null;
      if (this.storeWrite(proc.node, patch, proc.lastGood, proc)) {
        if (proc.writeError) {
          proc.writeError = false;
          this.writerState(proc, null);
        }
        this.kick(proc);
      } else {
        proc.pending = { ...patch, ...(proc.pending ?? {}) };
        if (!proc.writeError) {
          proc.writeError = true;
          this.writerState(proc, 'status file not writable');
        }
        this.at(this.t + 500, () => proc.alive && this.kick(proc));
      }
    });
  }
  private writerState(proc: Proc, err: string | null): void {
    if (err) proc.alarms.set('store', err);
    else proc.alarms.delete('store');
    const r = proc.receiver;
    if (r) this.deliver(proc, () => r.run.carry(r.core.republish()));
  }
  private over(proc: Proc, file: Status): Status {
    if (!proc.inflight && !proc.pending) return file;
    const out = { ...file } as Record<string, unknown>;
    for (const [k, v] of Object.entries({ ...(proc.inflight ?? {}), ...(proc.pending ?? {}) })) {
      if (v === undefined) delete out[k];
      else out[k] = v;
    }
    return out as Status;
  }

  /** A daemon says its state on the bus: the others hear it (listeners only on a change, like LocalBus). */
  private publish(proc: Proc, keys: Partial<Status>): void {
    const node = proc.node;
    const prev = node.pub.get(proc.name);
    const changed = !prev || this.t - prev.at > BUS_HEARD_AGAIN_MS || !sameKeys(prev.keys, keys);
    node.pub.set(proc.name, { keys, at: this.t });
    for (const d of DAEMON_NAMES) {
      if (d === proc.name) continue;
      const to = node.procs[d];
      if (!to) continue;
      const first = !to.everHeard.has(proc.name);
      to.everHeard.add(proc.name);
      if (!changed && !first) continue;
      if (to.name === 'sender' && proc.name === 'supervise')
        this.later(to, 0.2, () =>
          to.sender?.run.feed({
            kind: 'changed',
            reason: 'bus',
            sight: this.senderSight(to, false),
            ...this.clock(to),
          }),
        );
      if (to.name === 'supervise' && proc.name !== 'supervise')
        this.later(to, 0.2, () =>
          to.supervise?.run.feed({
            kind: 'changed',
            view: this.superviseView(to, this.read(to).status),
            ...this.clock(to),
          }),
        );
    }
  }
  /** `d`'s state as `proc` heard it lately on the bus (undefined: not fresh). */
  private busFresh(proc: Proc, d: DaemonName): Heard | undefined {
    const h = proc.node.pub.get(d);
    return h && h.at >= proc.startedAt && proc.everHeard.has(d) && this.t - h.at <= this.fresh ? h : undefined;
  }
  private overlay(proc: Proc, s: Status): Status {
    let out: Status | undefined;
    for (const d of DAEMON_NAMES) {
      if (d === proc.name) continue;
      const h = this.busFresh(proc, d);
      if (!h) continue;
      out ??= { ...s };
      Object.assign(out, h.keys);
    }
    return out ?? s;
  }

  // ---- the daemons' ports: the simulated world under the shared bindings ---

  /** The ports every core needs, in virtual time. */
  private commonPorts(proc: Proc): CommonPorts {
    return {
      clock: () => this.clock(proc),
      arm: (timer, at, fire) => {
        const token = ++this.tokens;
        proc.timers.set(timer, token);
        this.at(at - proc.monoOffset, () =>
          this.deliver(proc, () => {
            if (proc.timers.get(timer) !== token) return;
            proc.timers.delete(timer);
            fire();
          }),
        );
      },
      cancel: (timer) => proc.timers.delete(timer),
      log: (level, msg) => {
        if (level !== 'debug') this.log(proc.node, proc.name, msg);
      },
      alarm: (id, text) => (text === null ? proc.alarms.delete(id) : proc.alarms.set(id, text)),
      alarmList: () => [...proc.alarms.values()],
    };
  }
  /** A port's answer reaches the process when it runs (queued while it is frozen, dropped once it died). */
  private answer<T>(proc: Proc, reply: Reply<T>): (v: T) => void {
    return (v) => this.deliver(proc, () => reply.ok(v));
  }

  private senderPorts(proc: Proc): SenderPorts {
    return {
      ...this.commonPorts(proc),
      sight: (reread) => this.senderSight(proc, reread),
      send: (word) => this.send(proc.node, word),
      write: (patch) => this.write(proc, patch),
      publish: (keys) => this.publish(proc, keys),
      fence: (reply) => {
        this.hooks.stopping?.(proc.node, 'sender', 'supervise gone: the sender stops the resources');
        this.stopAll(proc.node, this.answer(proc, reply));
      },
    };
  }
  private senderSight(proc: Proc, reread: boolean): SenderSight {
    if (reread || proc.cache === undefined || this.t - proc.cachedAt >= 1000) {
      proc.cache = this.read(proc).status;
      proc.cachedAt = this.t;
    }
    return {
      view: this.overlay(proc, proc.cache),
      supervisePid: this.pidAlive(proc, 'supervise'),
      superviseOnBus: !!this.busFresh(proc, 'supervise'),
      superviseEverOnBus: proc.everHeard.has('supervise'),
      superviseStarting:
        proc.node.restarting.has('supervise') ||
        (!!proc.node.procs.supervise && this.t - proc.node.procs.supervise.startedAt < this.fresh),
    };
  }

  private receiverPorts(proc: Proc): ReceiverPorts {
    return {
      ...this.commonPorts(proc),
      write: (patch) => this.write(proc, patch),
      publish: (keys) => this.publish(proc, keys),
      drain: (done) => this.later(proc, 0, done),
      read: () => this.read(proc),
    };
  }

  private supervisePorts(proc: Proc): SupervisePorts {
    const node = proc.node;
    return {
      ...this.commonPorts(proc),
      sight: () => {
        const r = this.read(proc);
        const own = this.over(proc, r.status);
        return {
          own,
          view: this.overlay(proc, own),
          damaged: r.damaged,
          sender: this.liveness(proc, 'sender'),
          receiver: this.liveness(proc, 'receiver'),
        };
      },
      check: (timeoutMs, _route, reply) => {
        const hang = node.checkHangs;
        const ms = hang ? timeoutMs : Math.max(...this.resources.map(() => this.lat2(this.lat.checkMs)), 0);
        this.at(this.t + ms, () => {
          const results = this.resources.map((name) => ({
            name,
            ok: !hang && node.res.get(name) === true,
            timedOut: hang,
          }));
          this.deliver(proc, () => reply.ok({ results, routeOk: true }));
        });
      },
      ping: (reply) => {
        const ok = node.gwUp;
        const ms = ok ? this.lat2(this.lat.pingMs) : this.p.PINGTIMEOUT * 1000;
        this.at(this.t + ms, () => this.deliver(proc, () => reply.ok({ ok, error: ok ? null : 'timeout' })));
      },
      run: (op, names, reply) => {
        if (op === 'stop') {
          this.hooks.stopping?.(node, 'supervise', this.lastDecision.get(proc) ?? null);
          this.stopAll(node, this.answer(proc, reply));
        } else this.startSome(node, [...names], this.answer(proc, reply));
      },
      garp: (reply) => this.later(proc, 1, () => reply.ok()),
      write: (patch) => this.write(proc, patch),
      publish: (keys) => this.publish(proc, keys),
      decided: (d) => this.lastDecision.set(proc, decisionText(d)),
    };
  }
  private readonly lastDecision = new WeakMap<Proc, string>();

  private superviseView(proc: Proc, file: Status): Status {
    return this.overlay(proc, this.over(proc, file));
  }
  private liveness(proc: Proc, d: DaemonName): Liveness {
    return { pid: this.pidAlive(proc, d), onBus: !!this.busFresh(proc, d), everOnBus: proc.everHeard.has(d) };
  }

  // ---- resources, network -----------------------------------------------

  private setRes(node: SimNode, name: string, up: boolean): void {
    if (node.res.get(name) === up) return;
    node.res.set(name, up);
    this.log(node, 'res', `${name} ${up ? 'UP' : 'DOWN'}`);
    this.hooks.held?.(node);
  }
  /** A resource vanished by itself (a removed VIP, a crashed service). */
  resourceFails(node: SimNode, name: string): void {
    this.setRes(node, name, false);
  }
  startSome(node: SimNode, names: string[], done: (r: { name: string; ok: boolean }[]) => void): void {
    const results: { name: string; ok: boolean }[] = [];
    const next = (i: number) => {
      if (i >= names.length) return done(results);
      const hang = this.hang(node, 'start');
      const work = this.lat2(this.lat.startMs);
      // Did its work (in the usual time), then hung: the resource is up from then on.
      if (hang === 'after') this.at(this.t + work, () => this.setRes(node, names[i]!, true));
      this.at(this.t + (hang ? this.p.RES_TIMEOUT * 1000 : work), () => {
        if (hang) this.hooks.hung?.(node, 'start', 'killed', hang);
        const ok = !hang && !node.startFails;
        if (ok) this.setRes(node, names[i]!, true);
        results.push({ name: names[i]!, ok });
        // Like ResourceRunner.startInOrder: the first failure ends the sequence.
        if (ok) next(i + 1);
        else done(results);
      });
    };
    next(0);
  }
  /** Does a script begun now hang, and did it do its work before it hung ('after': the address is added, arping hangs) or not ('before')? */
  private hang(node: SimNode, op: 'start' | 'stop'): Hang | null {
    if (!node.scriptsHang) return null;
    const h = this.rng.chance(0.5) ? 'after' : 'before';
    this.hangs++;
    this.log(node, 'res', `${op} script hangs (${h} its work) until RES_TIMEOUT ${this.p.RES_TIMEOUT} s`);
    this.hooks.hung?.(node, op, 'begun', h);
    return h;
  }
  stopAll(node: SimNode, done: (r: { name: string; ok: boolean }[]) => void): void {
    const names = [...this.resources].reverse();
    const results: { name: string; ok: boolean }[] = [];
    const next = (i: number) => {
      if (i >= names.length) return done(results);
      const hang = this.hang(node, 'stop');
      const work = this.lat2(this.lat.stopMs);
      if (hang === 'after') this.at(this.t + work, () => this.setRes(node, names[i]!, false));
      this.at(this.t + (hang ? this.p.RES_TIMEOUT * 1000 : work), () => {
        if (hang) this.hooks.hung?.(node, 'stop', 'killed', hang);
        if (!hang) this.setRes(node, names[i]!, false);
        results.push({ name: names[i]!, ok: !hang });
        next(i + 1);
      });
    };
    next(0);
  }

  private send(from: SimNode, word: Word): void {
    this.hooks.sent?.(from, word);
    const to = this.nodes[2 - from.id]!;
    if (this.blocked[from.id - 1]![to.id - 1]) return;
    if (this.loss > 0 && this.rng.chance(this.loss)) {
      if (this.trace) this.log(from, 'net', `${word} to ${to.name} lost`);
      this.hooks.lost?.(from, word);
      return;
    }
    const copies = this.dup > 0 && this.rng.chance(this.dup) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let arrive = this.t + this.lat2(this.lat.netMs) + this.extraDelay * this.rng.next();
      // A link keeps its order unless reordering is on.
      if (!this.reorder) arrive = Math.max(arrive, this.lastArrival[from.id - 1]!);
      this.lastArrival[from.id - 1] = arrive;
      this.at(arrive, () => {
        const r = to.procs.receiver;
        if (r) this.deliver(r, () => r.receiver?.run.feed({ kind: 'word', word, ...this.clock(r) }));
      });
    }
  }

  // ---- the operator (pha-cli) -------------------------------------------

  /** pha-cli's own store.update(): a fresh process, so a damaged file is read as {}. */
  cliWrite(node: SimNode, patch: Record<string, unknown>): boolean {
    const ok = this.storeWrite(node, patch, undefined, null);
    this.log(node, 'cli', `${ok ? 'wrote' : 'could not write'} ${JSON.stringify(patch)}`);
    return ok;
  }
  /** pha-cli off: checks the live view first, like the CLI. Returns whether the request was written. */
  off(node: SimNode, force: boolean): boolean {
    const sup = node.procs.supervise;
    if (!sup) return false;
    const r = this.read(sup).status;
    const live = {
      ...r,
      ...(sup.alive ? lastPublished(sup) : {}),
      ...(node.procs.receiver ? receiverKeys(this, node) : {}),
    };
    if (live.STATUS !== 'ONLINE') {
      this.log(node, 'cli', `off refused by the CLI: STATUS ${live.STATUS ?? 'none'}`);
      return false;
    }
    if (!live.RECEIVER_IN && !force) {
      this.log(node, 'cli', 'off refused by the CLI: no heartbeat from the peer');
      return false;
    }
    return this.cliWrite(node, { OFF_REQUEST: this.wall, OFF_FORCE: force ? 1 : 0 });
  }
  on(node: SimNode): void {
    this.cliWrite(node, { SENDER_RUN: 1, SENDER_PAUSE_UNTIL: undefined, FAILED_UNTIL: undefined, OFF_REQUEST: null });
  }
  resStart(node: SimNode): void {
    this.log(node, 'cli', 'res start');
    this.startSome(node, [...this.resources], (results) => {
      const patch: Record<string, unknown> = { FAILED_UNTIL: undefined };
      for (const r of results) patch[`RES_${r.name}`] = r.ok ? 'UP' : 'DOWN';
      this.cliWrite(node, patch);
    });
  }
  resStop(node: SimNode): void {
    this.log(node, 'cli', 'res stop');
    this.hooks.stopping?.(node, 'supervise', 'operator: res stop');
    this.stopAll(node, (results) => {
      const patch: Record<string, unknown> = {};
      for (const r of results) patch[`RES_${r.name}`] = r.ok ? 'DOWN' : 'UP';
      this.cliWrite(node, patch);
    });
  }

  /** What an earlier run left (pha-cli stop leaves the resources up, and its keys in the file). */
  leftover(node: SimNode): void {
    for (const r of node.res.keys()) node.res.set(r, true);
    const file: Record<string, unknown> = {
      STATUS: null,
      SUPERVISE: 0,
      SENDER_RUN: 0,
      RECEIVER_IN: null,
      DECIDED_AT: this.wall - 60_000,
      RECEIVER_STARTED_AT: this.wall - 600_000,
      SENDER_STARTED_AT: this.wall - 600_000,
    };
    for (const r of node.res.keys()) file[`RES_${r}`] = 'UP';
    node.file = file as Status;
    this.hooks.held?.(node);
  }

  holds(node: SimNode): boolean {
    for (const v of node.res.values()) if (v) return true;
    return false;
  }
  allUp(node: SimNode): boolean {
    for (const v of node.res.values()) if (!v) return false;
    return node.res.size > 0;
  }
  running(node: SimNode): boolean {
    return DAEMON_NAMES.every((d) => node.procs[d] && !node.procs[d]!.frozen);
  }
}

function sameKeys(a: Partial<Status>, b: Partial<Status>): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k of ka) if (x[k] !== y[k]) return false;
  return true;
}

/** What supervise last told the bus (its live STATUS), as pha-cli's live view sees it. */
function lastPublished(sup: Proc): Partial<Status> {
  return sup.node.pub.get('supervise')?.keys ?? {};
}
function receiverKeys(_w: World, node: SimNode): Partial<Status> {
  return node.pub.get('receiver')?.keys ?? {};
}
