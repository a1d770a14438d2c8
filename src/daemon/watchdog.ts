// The daemons of a node watch each other and restart one that died, so that
// a crash of one daemon moves nothing (a killed sender is back before the
// peer's DEADTIME ends). Who restarts whom:
//   supervise restarts sender and receiver; sender restarts supervise;
//   receiver restarts either only when its first watcher is dead too.
// A daemon stopped on purpose (pha-cli stop / xx_sto, SIGTERM) leaves
// var/run/<daemon>.down and is not restarted. Under systemd the unit's
// Restart= does the restarting; the watchdog then only reports.
import fs from 'node:fs';
import path from 'node:path';
import type { DaemonName } from './bus.js';
import { isOurProcess, pidFilePath } from './pidfile.js';

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
  | { kind: 'died'; daemon: DaemonName; pid: number }
  | { kind: 'restarted'; daemon: DaemonName; pid: number; ms: number }
  | { kind: 'restart-failed'; daemon: DaemonName; error: string };

interface Seen {
  alive: boolean; // at the last check
  pid: number; // last live pid (0: never seen alive)
  readAt: number;
  deadSince: number | null;
}

/**
 * One check every `intervalMs`: kill(pid, 0) on the cached pid (one syscall);
 * the pid file is re-read when that fails or every second.
 */
export class Watchdog {
  private readonly o: WatchdogOptions;
  private readonly seen = new Map<DaemonName, Seen>();
  private restarting = new Set<DaemonName>();
  private readonly fails = new Map<DaemonName, { n: number; nextAt: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(o: WatchdogOptions) {
    this.o = o;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private livePid(d: DaemonName, s: Seen): number {
    const t = this.o.now();
    if (s.pid > 0 && t - s.readAt < 1000) {
      try {
        process.kill(s.pid, 0);
        return s.pid;
      } catch {
        /* gone: confirm from the pid file below */
      }
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

  /** Was `d`'s pid alive at the last check? (undefined: not checked yet) */
  isAlive(d: DaemonName): boolean | undefined {
    return this.seen.get(d)?.alive;
  }

  check(): void {
    const t = this.o.now();
    for (const d of Object.keys(WATCHERS) as DaemonName[]) {
      if (d === this.o.self) continue;
      const s = this.seen.get(d) ?? { alive: false, pid: 0, readAt: 0, deadSince: null };
      this.seen.set(d, s);
      const pid = this.livePid(d, s);
      s.alive = pid > 0;
      if (pid > 0) {
        s.pid = pid;
        s.deadSince = null;
        this.fails.delete(d);
        continue;
      }
      // Only a daemon that was seen alive and died is restarted: one that was
      // never started (or is being started by pha-cli) is not ours to start.
      if (s.pid === 0) continue;
      if (fs.existsSync(downFile(this.o.runDir, d))) {
        s.pid = 0;
        continue;
      }
      if (s.deadSince === null) {
        s.deadSince = t;
        this.o.onEvent({ kind: 'died', daemon: d, pid: s.pid });
      }
      if (this.o.managedBySystemd || this.restarting.has(d)) continue;
      const rank = WATCHERS[d].indexOf(this.o.self);
      // The second watcher steps in only when the first is gone too.
      if (rank > 0 && this.livePid(WATCHERS[d][0]!, this.seen.get(WATCHERS[d][0]!) ?? { alive: false, pid: 0, readAt: 0, deadSince: null }) > 0) continue;
      const f = this.fails.get(d);
      if (f && t < f.nextAt) continue;
      void this.restart(d, s);
    }
  }

  private async restart(d: DaemonName, s: Seen): Promise<void> {
    this.restarting.add(d);
    const t0 = this.o.now();
    try {
      const r = await this.o.spawn(d);
      if ('pid' in r) {
        s.pid = r.pid;
        s.alive = true;
        s.readAt = this.o.now();
        s.deadSince = null;
        this.o.onEvent({ kind: 'restarted', daemon: d, pid: r.pid, ms: Math.round(this.o.now() - t0) });
      } else {
        const f = this.fails.get(d) ?? { n: 0, nextAt: 0 };
        f.n++;
        // Back off when it keeps failing (a broken install), up to 30 s.
        f.nextAt = this.o.now() + Math.min(30_000, 500 * 2 ** (f.n - 1));
        this.fails.set(d, f);
        this.o.onEvent({ kind: 'restart-failed', daemon: d, error: r.error });
      }
    } finally {
      this.restarting.delete(d);
    }
  }
}
