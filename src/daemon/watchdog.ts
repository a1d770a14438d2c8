// The daemons of a node watch each other and restart one that died, so that
// a crash of one daemon moves nothing (a killed sender is back before the
// peer's DEADTIME ends). Who restarts whom is restart-policy.ts (pure); how a
// death is heard, lifeline.ts (at once) and this poll of the pid files (the
// safety net, on an injected timer); here they meet.
// A daemon stopped on purpose (pha-cli stop / xx_sto, SIGTERM) leaves
// var/run/<daemon>.down and is not restarted. Under systemd the unit's
// Restart= does the restarting; the watchdog then only reports.
import fs from 'node:fs';
import path from 'node:path';
import { woke } from '../wakeups.js';
import type { DaemonName } from './bus.js';
import { Lifelines } from './lifeline.js';
import { isOurProcess, pidAlive, pidFilePath } from './pidfile.js';
import { restartBackoffMs, restarts, WATCHERS } from './restart-policy.js';

export { lifelineName } from './lifeline.js';
export { BACKUP_AFTER_MS, WATCHERS } from './restart-policy.js';

/** A repeating timer (injected, like MQTT.js's keepalive timer: tests and tools pass their own). */
export type Every = (ms: number, fn: () => void) => { stop(): void };

const realEvery: Every = (ms, fn) => {
  const t = setInterval(fn, ms);
  t.unref();
  return { stop: () => clearInterval(t) };
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
  /** The poll's timer (default: a real, unref'd interval). */
  every?: Every;
}

export type WatchdogEvent =
  | { kind: 'died'; daemon: DaemonName; pid: number; restarter: boolean }
  | { kind: 'restarted'; daemon: DaemonName; pid: number; ms: number }
  | { kind: 'restart-failed'; daemon: DaemonName; error: string };

interface Seen {
  alive: boolean; // at the last check
  pid: number; // last live pid (0: never seen alive)
  since: number; // when we first saw that pid
  readAt: number;
  deadSince: number | null;
}

/**
 * The poll while every watched daemon runs with its lifeline connected: the
 * kernel reports their deaths, so the poll only re-reads the pid files now
 * and then (a daemon started again by someone else, a lifeline that never
 * came up is noticed within this). Any daemon dead, unknown or without a
 * line: the poll runs at the interval it was given.
 */
export const WATCHDOG_RESTING_MS = 5000;

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
  private poll: { stop(): void } | undefined;
  private pollMs = 0;
  private fastMs = 0;
  private readonly lifelines: Lifelines;
  private readonly byes = new Set<DaemonName>();

  constructor(o: WatchdogOptions) {
    this.o = o;
    this.lifelines = new Lifelines(o.runDir);
  }

  /** Poll every `intervalMs`, and hear of a death at once over the lifelines. */
  start(intervalMs: number): void {
    this.lifelines.listen(this.o.self);
    this.fastMs = intervalMs;
    this.pace(intervalMs);
  }

  stop(): void {
    this.poll?.stop();
    this.poll = undefined;
    this.lifelines.close();
  }

  /** Poll every `ms` (a new timer only when the pace changes). */
  private pace(ms: number): void {
    if (ms === this.pollMs && this.poll) return;
    this.poll?.stop();
    this.pollMs = ms;
    this.poll = (this.o.every ?? realEvery)(ms, () => this.check());
  }

  /** Every watched daemon alive, its lifeline connected, none being restarted: the poll may rest. */
  private allHeld(): boolean {
    for (const d of Object.keys(WATCHERS) as DaemonName[]) {
      if (d === this.o.self) continue;
      if (!this.seen.get(d)?.alive || !this.lifelines.isUp(d) || this.restarting.has(d)) return false;
    }
    return true;
  }

  private livePid(d: DaemonName, s: Seen): number {
    const t = this.o.now();
    if (s.pid > 0 && t - s.readAt < 5000) {
      // One read of /proc/<pid>/stat: gone, or a zombie (killed, not yet reaped), is dead.
      woke('pid-check');
      if (pidAlive(s.pid)) return s.pid;
    }
    s.readAt = t;
    woke('pid-file');
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

  /** The pid of `d` that the last check found dead (undefined: alive, or never seen). */
  deadPid(d: DaemonName): number | undefined {
    const s = this.seen.get(d);
    return s && !s.alive && s.pid > 0 ? s.pid : undefined;
  }

  /** `d`'s pid when it was alive at the last check. */
  pidOf(d: DaemonName): number | undefined {
    const s = this.seen.get(d);
    return s?.alive ? s.pid : undefined;
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
        if (this.poll) this.lifelines.hold(d, () => this.check());
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
      const deadFor = t - s.deadSince;
      if (!restarts({ self: this.o.self, dead: d, deadFor, firstWatcherKnows: () => this.firstWatcherKnows(d, s) }))
        continue;
      const f = this.fails.get(d);
      if (f && t < f.nextAt) continue;
      void this.restart(d, s);
    }
    // The lifelines connect a moment after the first sight of a pid: the next fast poll rests.
    if (this.poll) this.pace(this.allHeld() ? Math.max(this.fastMs, WATCHDOG_RESTING_MS) : this.fastMs);
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
        f.nextAt = this.o.now() + restartBackoffMs(f.n);
        this.fails.set(d, f);
        this.o.onEvent({ kind: 'restart-failed', daemon: d, error: r.error });
      }
    } finally {
      this.restarting.delete(d);
    }
  }
}
