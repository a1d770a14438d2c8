// The daemons of a node watch each other and restart one that died, so that
// a crash of one daemon moves nothing (a killed sender is back before the
// peer's DEADTIME ends). Who restarts whom:
//   supervise restarts sender and receiver; sender restarts supervise;
//   the second watcher steps in when the first is dead too, when the first
//   is a newer instance than the death (it never saw the daemon run, so it
//   will not restart it: a receiver that died, then a supervise that died
//   and was restarted, would otherwise stay dead for good), and when the
//   daemon has stayed dead for BACKUP_AFTER_MS whatever the reason.
// A daemon stopped on purpose (pha-cli stop / xx_sto, SIGTERM) leaves
// var/run/<daemon>.down and is not restarted. Under systemd the unit's
// Restart= does the restarting; the watchdog then only reports.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { DaemonName } from './bus.js';
import { isOurProcess, pidAlive, pidFilePath } from './pidfile.js';

export const WATCHERS: Record<DaemonName, DaemonName[]> = {
  sender: ['supervise', 'receiver'],
  receiver: ['supervise', 'sender'],
  supervise: ['sender', 'receiver'],
};

export function downFile(runDir: string, d: DaemonName): string {
  return path.join(runDir, `${d}.down`);
}

/** Mark a daemon as stopped on purpose (or clear the mark). Never throws. */
export function markDown(runDir: string, d: DaemonName, down: boolean): void {
  try {
    if (down) fs.writeFileSync(downFile(runDir, d), `${new Date().toISOString()}\n`);
    else fs.rmSync(downFile(runDir, d), { force: true });
  } catch {
    /* read-only var/: the intent cannot be recorded; at worst a stopped daemon comes back */
  }
}

export interface WatchdogOptions {
  self: DaemonName;
  runDir: string;
  configFile: string;
  /** Start a daemon (detached); resolves with its pid, or an error text. */
  spawn: (d: DaemonName) => Promise<{ pid: number } | { error: string }>;
  now: () => number; // monotonic ms
  /** The other daemons' liveness also shows on the bus; used as a hint only. */
  onEvent: (e: WatchdogEvent) => void;
  managedBySystemd?: boolean;
}

export type WatchdogEvent =
  | { kind: 'died'; daemon: DaemonName; pid: number; restarter: boolean }
  | { kind: 'restarted'; daemon: DaemonName; pid: number; ms: number }
  | { kind: 'restart-failed'; daemon: DaemonName; error: string };

/** The abstract unix socket name of `d`'s lifeline for this install (per network namespace). */
export function lifelineName(runDir: string, d: DaemonName): string {
  return `\0pha-life-${createHash('sha256').update(path.resolve(runDir)).digest('hex').slice(0, 32)}-${d}`;
}

interface Seen {
  alive: boolean; // at the last check
  pid: number; // last live pid (0: never seen alive)
  since: number; // when we first saw that pid
  readAt: number;
  deadSince: number | null;
}

/**
 * The backup steps in anyway once a daemon has stayed dead this long (the
 * first watcher's back-off is at most 5 s, a spawn waits at most 5 s): the
 * first may have started just before the death without seeing it run.
 */
export const BACKUP_AFTER_MS = 10_000;

const unseen = (): Seen => ({ alive: false, pid: 0, since: 0, readAt: 0, deadSince: null });

/**
 * One check every `intervalMs`: kill(pid, 0) on the cached pid (one syscall);
 * the pid file is re-read when that fails or every second.
 */
export class Watchdog {
  private readonly o: WatchdogOptions;
  private readonly seen = new Map<DaemonName, Seen>();
  private restarting = new Set<DaemonName>();
  private readonly restartedAt = new Map<DaemonName, number>();
  private readonly fails = new Map<DaemonName, { n: number; nextAt: number }>();
  private timer: NodeJS.Timeout | undefined;
  private server: net.Server | undefined;
  private readonly lines = new Map<DaemonName, net.Socket>();
  private readonly byes = new Set<DaemonName>();

  constructor(o: WatchdogOptions) {
    this.o = o;
  }

  /**
   * Poll every `intervalMs`, and hear of a death at once: each daemon listens on
   * an abstract unix socket (Linux; no file) and the others stay connected to
   * it. The kernel closes that connection when the process dies, however it dies.
   */
  start(intervalMs: number): void {
    this.server = net.createServer((c) => {
      c.on('error', () => {});
      c.resume();
    });
    this.server.on('error', () => {
      /* no death signal from us: the others' polling still sees us */
    });
    this.server.listen(lifelineName(this.o.runDir, this.o.self));
    this.server.unref();
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.server?.close();
    for (const c of this.lines.values()) c.destroy();
    this.lines.clear();
  }

  /** Stay connected to `d`'s lifeline; its close is a death signal (checked at once). */
  private connect(d: DaemonName): void {
    if (this.lines.has(d) || !this.timer) return;
    const c = net.connect(lifelineName(this.o.runDir, d));
    this.lines.set(d, c);
    let up = false;
    c.on('connect', () => (up = true));
    c.on('error', () => {});
    c.on('close', () => {
      this.lines.delete(d);
      if (up) this.check(); // it was there and is gone: now, not at the next poll
    });
    c.resume();
    c.unref();
  }

  private livePid(d: DaemonName, s: Seen): number {
    const t = this.o.now();
    if (s.pid > 0 && t - s.readAt < 5000) {
      // One read of /proc/<pid>/stat: gone, or a zombie (killed, not yet reaped), is dead.
      if (pidAlive(s.pid)) return s.pid;
    }
    s.readAt = t;
    let pid = 0;
    try {
      pid = Number(fs.readFileSync(pidFilePath(this.o.runDir, d), 'utf8').trim());
    } catch {
      return 0;
    }
    return isOurProcess(pid, d, this.o.configFile) ? pid : 0;
  }

  /** `d` said it stops on purpose: do not restart it (until a new instance runs). */
  stoppedOnPurpose(d: DaemonName): void {
    this.byes.add(d);
  }

  /** Are we starting `d` now, or did within `withinMs` (it may not have spoken yet)? */
  starting(d: DaemonName, withinMs: number): boolean {
    const at = this.restartedAt.get(d);
    return this.restarting.has(d) || (at !== undefined && this.o.now() - at < withinMs);
  }

  /** Has `d` ever been seen running (since we started)? */
  everSeen(d: DaemonName): boolean {
    return (this.seen.get(d)?.pid ?? 0) > 0;
  }

  /** Was `d`'s pid alive at the last check? (undefined: not checked yet) */
  isAlive(d: DaemonName): boolean | undefined {
    return this.seen.get(d)?.alive;
  }

  check(): void {
    const t = this.o.now();
    for (const d of Object.keys(WATCHERS) as DaemonName[]) {
      if (d === this.o.self) continue;
      const s = this.seen.get(d) ?? unseen();
      this.seen.set(d, s);
      const pid = this.livePid(d, s);
      s.alive = pid > 0;
      if (pid > 0 && pid !== s.pid) {
        this.byes.delete(d); // a new instance: its own fate
        s.since = t;
      }
      if (pid > 0) {
        this.connect(d);
        s.pid = pid;
        s.deadSince = null;
        this.fails.delete(d);
        continue;
      }
      // Only a daemon that was seen alive and died is restarted: one that was
      // never started (or is being started by pha-cli) is not ours to start.
      if (s.pid === 0) continue;
      if (this.byes.has(d) || fs.existsSync(downFile(this.o.runDir, d))) {
        s.pid = 0;
        continue;
      }
      if (s.deadSince === null) {
        s.deadSince = t;
        this.o.onEvent({
          kind: 'died',
          daemon: d,
          pid: s.pid,
          restarter: !this.o.managedBySystemd && WATCHERS[d][0] === this.o.self,
        });
      }
      if (this.o.managedBySystemd || this.restarting.has(d)) continue;
      if (WATCHERS[d].indexOf(this.o.self) > 0 && this.firstWatcherKnows(d, s) && t - s.deadSince < BACKUP_AFTER_MS)
        continue;
      const f = this.fails.get(d);
      if (f && t < f.nextAt) continue;
      void this.restart(d, s);
    }
  }

  /**
   * Does `d`'s first watcher restart it? Only when it runs and is the instance
   * we saw before `d` died: a newer one never saw `d` run and leaves it dead.
   */
  private firstWatcherKnows(d: DaemonName, s: Seen): boolean {
    const first = WATCHERS[d][0]!;
    const f = this.seen.get(first) ?? unseen();
    const pid = this.livePid(first, f);
    return pid > 0 && pid === f.pid && s.deadSince !== null && f.since < s.deadSince;
  }

  private async restart(d: DaemonName, s: Seen): Promise<void> {
    this.restarting.add(d);
    const t0 = this.o.now();
    try {
      const r = await this.o.spawn(d);
      if ('pid' in r) {
        if (s.pid !== r.pid) s.since = this.o.now();
        s.pid = r.pid;
        s.alive = true;
        s.readAt = this.o.now();
        s.deadSince = null;
        this.restartedAt.set(d, this.o.now());
        this.o.onEvent({ kind: 'restarted', daemon: d, pid: r.pid, ms: Math.round(this.o.now() - t0) });
      } else {
        const f = this.fails.get(d) ?? { n: 0, nextAt: 0 };
        f.n++;
        // Back off when it keeps failing (a broken install, a full disk), up to 5 s.
        f.nextAt = this.o.now() + Math.min(5000, 500 * 2 ** (f.n - 1));
        this.fails.set(d, f);
        this.o.onEvent({ kind: 'restart-failed', daemon: d, error: r.error });
      }
    } finally {
      this.restarting.delete(d);
    }
  }
}
