// The node's local bus: the three daemons tell each other their live state
// over loopback UDP, so that the heartbeat and the decisions never depend on
// a status-file write (a full disk, a read-only var/, a corrupt file). The
// status file stays the persisted copy and what pha-cli reads; the bus is the
// fresher source while its messages arrive.
//
// Each daemon binds 127.0.0.1:<ephemeral> and names its port in
// var/run/<daemon>.port. Every message carries the node's bus token
// (var/run/bus.key, 0600, made by the first daemon), so another local user
// cannot speak for a daemon.
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { BUS_HEARD_AGAIN_MS } from '../config/timing.js';
import { type Status, TIME_KEYS } from '../status-store/index.js';
import { sleep } from '../wait.js';
import { wakeCounts, woke } from '../wakeups.js';
import { DAEMONS, type DaemonName } from './pidfile.js';
import type { Vitals } from './vitals.js';

export type { DaemonName };

/** What one daemon says of itself: the keys it owns, and what needs the operator. */
export interface BusState {
  keys: Partial<Status>;
  alarms: string[];
  /** Its vitals (vitals.ts) for supervise's metrics: not state, never compared for a change. */
  stats?: Record<string, number>;
}

interface Wire {
  t: string; // token
  d: DaemonName | 'cli';
  p: number; // pid
  k?: Partial<Status>;
  a?: string[];
  s?: Record<string, number>;
  q?: 1; // a query: answer with your state
  b?: 1; // goodbye: stopping on purpose (do not restart me)
}

export interface Heard {
  state: BusState;
  pid: number;
  at: number; // monotonic ms when it arrived
  /** The state as compared (keys and alarms, not stats): made once on arrival. */
  json: string;
}

const MAX_DATAGRAM = 16 * 1024;
const PORT_REREAD_MS = 10_000;
/** A daemon's vitals ride on a message to supervise at most this often. */
const STATS_EVERY_MS = 1000;

/**
 * Whose state each daemon reads on the bus to judge its liveness: a daemon's
 * periodic repeat goes to these alone; a change goes to all. The receiver
 * reads nobody's (it hears a death over the lifelines, a change at once).
 */
export const BUS_READERS: Record<DaemonName, readonly DaemonName[]> = {
  sender: ['supervise'], // rule 9: supervise judges its sender
  receiver: ['supervise'], // the peer's word, and whether the receiver still says it
  supervise: ['sender'], // the word to send; a silent supervise means PROGRESS, then the fence
};

function stateJson(s: BusState): string {
  return JSON.stringify([s.keys, s.alarms]);
}

export function busKeyFile(runDir: string): string {
  return path.join(runDir, 'bus.key');
}
export function busPortFile(runDir: string, name: DaemonName): string {
  return path.join(runDir, `${name}.port`);
}

/** The node's bus token; created (exclusively, 0600) when missing. */
export function loadBusToken(runDir: string, create: boolean): string | null {
  const file = busKeyFile(runDir);
  for (let i = 0; i < 2; i++) {
    try {
      const t = fs.readFileSync(file, 'utf8').trim();
      if (/^[0-9a-f]{32}$/.test(t)) return t;
      if (!create) return null;
      fs.rmSync(file, { force: true }); // unreadable content: make a new one
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !create) return null;
    }
    try {
      fs.mkdirSync(runDir, { recursive: true });
      fs.writeFileSync(file, `${crypto.randomBytes(16).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return null;
    }
  }
  return null;
}

function parse(msg: Buffer, token: string): Wire | null {
  if (msg.length > MAX_DATAGRAM) return null;
  let w: unknown;
  try {
    w = JSON.parse(msg.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof w !== 'object' || w === null) return null;
  const o = w as Record<string, unknown>;
  if (o.t !== token || typeof o.p !== 'number') return null;
  if (o.d !== 'cli' && !(DAEMONS as readonly unknown[]).includes(o.d)) return null;
  if (o.k !== undefined && (typeof o.k !== 'object' || o.k === null || Array.isArray(o.k))) return null;
  if (o.a !== undefined && (!Array.isArray(o.a) || !o.a.every((x) => typeof x === 'string'))) return null;
  if (o.s !== undefined && !isStats(o.s)) return null;
  return o as unknown as Wire;
}

function isStats(s: unknown): s is Record<string, number> {
  return typeof s === 'object' && s !== null && !Array.isArray(s) && Object.values(s).every(Number.isFinite);
}

export interface LocalBusOptions {
  runDir: string;
  name: DaemonName;
  now: () => number; // monotonic
  onHeard?: (from: DaemonName, h: Heard) => void;
  /** This daemon's vitals, sent to supervise (and to a query) with each message. */
  vitals?: Vitals;
}

export class LocalBus {
  private sock: dgram.Socket | null = null;
  private token: string | null = null;
  private readonly heard = new Map<DaemonName, Heard>();
  private readonly ports = new Map<DaemonName, { port: number; readAt: number }>();
  private mine: BusState = { keys: {}, alarms: [] };
  private mineJson: string | null = null; // what was last published, to tell a repeat from a change
  private statsAt = -Infinity; // when our vitals last went to supervise
  private readonly listeners: { d: DaemonName; cb: (h: Heard) => void }[] = [];
  private readonly byeListeners: ((d: DaemonName) => void)[] = [];
  private readonly opts: LocalBusOptions;
  problem: string | null = null;

  constructor(opts: LocalBusOptions) {
    this.opts = opts;
  }

  /** Bind and publish our port. A bus that cannot start is a problem, not a crash: the file still works. */
  async start(): Promise<void> {
    const { runDir, name } = this.opts;
    this.token = loadBusToken(runDir, true);
    if (!this.token) {
      this.problem = `local bus disabled: cannot read or create ${busKeyFile(runDir)}`;
      return;
    }
    const sock = dgram.createSocket('udp4');
    sock.on('error', () => {
      /* a send to a daemon that is gone: it is noticed by its silence */
    });
    sock.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, '127.0.0.1', () => {
        sock.off('error', reject);
        resolve();
      });
    }).catch((e: Error) => {
      this.problem = `local bus disabled: cannot bind 127.0.0.1: ${e.message}`;
    });
    if (this.problem) {
      sock.close();
      return;
    }
    this.sock = sock;
    try {
      const f = busPortFile(runDir, name);
      fs.writeFileSync(`${f}.tmp`, `${sock.address().port}\n`);
      fs.renameSync(`${f}.tmp`, f);
    } catch (e) {
      this.problem = `local bus: cannot write ${busPortFile(runDir, name)}: ${(e as Error).message}`;
    }
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    woke('bus.in');
    if (!this.token || rinfo.address !== '127.0.0.1') return;
    const w = parse(msg, this.token);
    if (!w) return;
    if (w.q) {
      this.sendTo(rinfo.port, {
        t: this.token,
        d: this.opts.name,
        p: process.pid,
        k: this.mine.keys,
        a: this.mine.alarms,
        s: { ...this.opts.vitals?.snapshot(), ...wakeCounts() },
      });
      return;
    }
    if (w.d === 'cli' || w.d === this.opts.name) return;
    if (w.b) {
      this.heard.delete(w.d);
      for (const cb of this.byeListeners) cb(w.d);
      return;
    }
    // Where it speaks from is where it listens: a restarted daemon is heard at once.
    this.ports.set(w.d, { port: rinfo.port, readAt: this.opts.now() });
    const before = this.heard.get(w.d);
    // Vitals come at most once a second: a message without them keeps the last.
    const stats = w.s ?? (before?.pid === w.p ? before.state.stats : undefined);
    const state: BusState = { keys: w.k ?? {}, alarms: w.a ?? [], stats };
    const h: Heard = { state, pid: w.p, at: this.opts.now(), json: stateJson(state) };
    this.heard.set(w.d, h);
    this.opts.onHeard?.(w.d, h);
    // Listeners hear of a change of state (or of a daemon heard again), not of every liveness repeat.
    const changed = !before || this.opts.now() - before.at > BUS_HEARD_AGAIN_MS || before.json !== h.json;
    if (changed) for (const l of this.listeners) if (l.d === w.d) l.cb(h);
  }

  private portOf(d: DaemonName): number | null {
    const cached = this.ports.get(d);
    const t = this.opts.now();
    // The port file changes only when the daemon restarts, and a restarted
    // daemon's first message (to all) tells its port at once: re-read rarely.
    if (cached && t - cached.readAt < PORT_REREAD_MS) return cached.port;
    try {
      const port = Number(fs.readFileSync(busPortFile(this.opts.runDir, d), 'utf8').trim());
      if (!Number.isInteger(port) || port <= 0 || port > 65535) return null;
      this.ports.set(d, { port, readAt: t });
      return port;
    } catch {
      return cached?.port ?? null;
    }
  }

  private sendTo(port: number, w: Wire): void {
    if (!this.sock) return;
    const buf = Buffer.from(JSON.stringify(w));
    this.sock.send(buf, port, '127.0.0.1', () => {
      /* errors: see the socket's error handler */
    });
  }

  /** Set our state and tell the other two daemons (a repeat of the same state: only those that read our liveness). */
  publish(state: BusState): void {
    const json = stateJson(state);
    const repeat = json === this.mineJson;
    this.mine = state;
    this.mineJson = json;
    if (!this.sock || !this.token) return;
    for (const d of DAEMONS as readonly DaemonName[]) {
      if (d === this.opts.name || (repeat && !BUS_READERS[this.opts.name].includes(d))) continue;
      const port = this.portOf(d);
      if (!port) continue;
      // Only supervise serves the metrics: the vitals go to it alone, and at
      // most once a second (a scrape needs no more; a repeat stays small).
      let s: Record<string, number> | undefined;
      if (d === 'supervise' && this.opts.vitals && this.opts.now() - this.statsAt >= STATS_EVERY_MS) {
        s = this.opts.vitals.snapshot();
        this.statsAt = this.opts.now();
      }
      woke('bus.out');
      this.sendTo(port, { t: this.token, d: this.opts.name, p: process.pid, k: state.keys, a: state.alarms, s });
    }
  }

  /** The last message heard from `d` (undefined: none since it last said goodbye). */
  lastHeard(d: DaemonName): Heard | undefined {
    return this.heard.get(d);
  }

  /** Has `d` ever been heard on the bus? (then its silence means something) */
  everHeard(d: DaemonName): boolean {
    return this.heard.has(d);
  }

  /** Call `cb` when `d`'s state changes (not on every repeat). */
  onHeardFrom(d: DaemonName, cb: (h: Heard) => void): void {
    this.listeners.push({ d, cb });
  }

  /** The newest state heard from `d`, when it is not older than `maxAgeMs`. */
  fresh(d: DaemonName, maxAgeMs: number): Heard | undefined {
    const h = this.heard.get(d);
    return h && this.opts.now() - h.at <= maxAgeMs ? h : undefined;
  }

  /** Call `cb` when a daemon says it stops on purpose. */
  onBye(cb: (d: DaemonName) => void): void {
    this.byeListeners.push(cb);
  }

  /** Tell the others we stop on purpose: needs no disk (a full var/ cannot hold the down mark). */
  sayBye(): void {
    if (!this.sock || !this.token) return;
    for (const d of DAEMONS as readonly DaemonName[]) {
      if (d === this.opts.name) continue;
      const port = this.portOf(d);
      if (port) this.sendTo(port, { t: this.token, d: this.opts.name, p: process.pid, b: 1 });
    }
  }

  close(): void {
    this.sock?.close();
    this.sock = null;
    try {
      fs.rmSync(busPortFile(this.opts.runDir, this.opts.name), { force: true });
    } catch {
      /* read-only var/: a stale port file is harmless (token-checked, re-read) */
    }
  }
}

/**
 * May `self`'s file stamp rest (STAMP_RESTING_MS)? A stamp is its liveness for
 * a reader that cannot hear it on the bus; every reader of it (BUS_READERS)
 * heard on the bus from the process that runs now (`pidOf`: the watchdog's)
 * has a working bus, so it hears us there and never looks at the stamp.
 */
export function stampsMayRest(
  self: DaemonName,
  bus: LocalBus | undefined,
  pidOf: (d: DaemonName) => number | undefined,
): boolean {
  if (!bus || bus.problem) return false;
  return BUS_READERS[self].every((r) => {
    const pid = pidOf(r);
    return pid !== undefined && bus.lastHeard(r)?.pid === pid;
  });
}

/**
 * When a daemon's file stamp may rest: its liveness readers hear it on the bus
 * (stampsMayRest), and what rides on the stamp — its alarms, the receiver's
 * drop counters — is in the file as it is now. Something new to tell makes
 * the stamp busy (every STAMP_MS) until a stamp has written it.
 */
export class StampRest {
  private written = '';

  constructor(
    private readonly self: DaemonName,
    private readonly bus: LocalBus | undefined,
    private readonly pidOf: (d: DaemonName) => number | undefined,
    /** What rides on the stamp, as it is now. */
    private readonly carried: () => unknown,
    /** Told the verdict (the core's restStamps). */
    private readonly apply: (resting: boolean) => void = () => {},
  ) {}

  /** A stamp, with what it carries, was written now. */
  wrote(): void {
    this.written = JSON.stringify(this.carried());
    this.check();
  }

  /** Judge again and tell the core (after a publish: something new may ride on the stamp now). */
  check(): void {
    this.apply(this.mayRest());
  }

  mayRest(): boolean {
    return stampsMayRest(this.self, this.bus, this.pidOf) && JSON.stringify(this.carried()) === this.written;
  }
}

/**
 * Overlay the daemons' fresh bus states on the file's status: a daemon's own
 * keys from the bus are newer than (or the same as) what the file says.
 */
export function overlay(file: Status, bus: LocalBus, maxAgeMs: number, except?: DaemonName): Status {
  let out: Status | undefined;
  for (const d of DAEMONS as readonly DaemonName[]) {
    if (d === except) continue;
    const h = bus.fresh(d, maxAgeMs);
    if (!h) continue;
    out ??= { ...file };
    for (const [k, v] of Object.entries(h.state.keys)) {
      // A time the file has newer (written after the last message) wins.
      const f = (file as Record<string, unknown>)[k];
      if (typeof v === 'number' && typeof f === 'number' && TIME_KEYS.has(k) && f > v) continue;
      (out as Record<string, unknown>)[k] = v;
    }
  }
  return out ?? file;
}

/** pha-cli's view: ask each running daemon for its live state (short timeout). */
export async function queryDaemons(runDir: string, timeoutMs = 1000): Promise<Partial<Record<DaemonName, BusState>>> {
  const token = loadBusToken(runDir, false);
  if (!token) return {};
  const sock = dgram.createSocket('udp4');
  const out: Partial<Record<DaemonName, BusState>> = {};
  // No loopback, or no socket: stat shows the file alone, it never hangs.
  const bound = await new Promise<boolean>((resolve) => {
    sock.once('error', () => resolve(false));
    sock.bind(0, '127.0.0.1', () => resolve(true));
  });
  sock.on('error', () => {});
  if (!bound) {
    sock.close();
    return out;
  }
  const want = new Set<DaemonName>();
  sock.on('message', (msg, rinfo) => {
    if (rinfo.address !== '127.0.0.1') return;
    const w = parse(msg, token);
    if (!w || w.d === 'cli') return;
    out[w.d] = { keys: w.k ?? {}, alarms: w.a ?? [], stats: w.s };
    want.delete(w.d);
  });
  const q = Buffer.from(JSON.stringify({ t: token, d: 'cli', p: process.pid, q: 1 } satisfies Wire));
  for (const d of DAEMONS as readonly DaemonName[]) {
    try {
      const port = Number(fs.readFileSync(busPortFile(runDir, d), 'utf8').trim());
      if (Number.isInteger(port) && port > 0 && port < 65536) {
        want.add(d);
        sock.send(q, port, '127.0.0.1');
      }
    } catch {
      /* not running */
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (want.size > 0 && Date.now() < deadline) await sleep(10);
  sock.close();
  return out;
}
