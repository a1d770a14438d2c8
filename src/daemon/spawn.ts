// Start one daemon of a node and wait until it runs: spawned detached (its
// output to LOGPATH.<daemon>), or through systemctl when systemd manages it.
// "Runs" means its pid file names it; an instance that lost the race for the
// pid file reports who won (alreadyRunning). Used by pha-cli and by the
// daemons to restart each other.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Config, runDir } from '../config/index.js';
import { PACKAGE_BIN_DIR } from '../paths.js';
import { DETACHED_ENV } from './env.js';
import { type DaemonName, EXIT_ALREADY_RUNNING, readPid } from './pidfile.js';
import { managingUnit, systemctl, unitName, unitProperties } from './systemd.js';

export type SpawnResult =
  | { ok: true; pid: number; via: 'spawn' | 'systemd'; stale?: number }
  | { ok: false; reason: string; alreadyRunning?: number; stale?: number };

export interface SpawnOptions {
  /** How long to wait for the pid file (default 5 s). */
  timeoutMs?: number;
  /** auto (default): systemctl when systemd manages the daemon (managingUnit), else spawn. */
  manager?: 'auto' | 'spawn' | 'systemd';
}

export function logFileOf(config: Pick<Config, 'LOGPATH'>, d: DaemonName): string {
  return `${config.LOGPATH}.${d}`;
}

export async function spawnDaemon(config: Config, d: DaemonName, opts: SpawnOptions = {}): Promise<SpawnResult> {
  const rdir = runDir(config);
  const before = readPid(rdir, d, config.file);
  if (before.pid) return { ok: false, reason: `already running (pid ${before.pid})`, alreadyRunning: before.pid };
  // A stale file is left to the new instance: it removes it safely when it claims the name.
  const stale = before.stale;
  const manager = opts.manager ?? 'auto';
  const unit =
    manager === 'spawn' ? undefined : manager === 'systemd' ? unitName(d) : await managingUnit(config.file, d);
  const r = unit
    ? await viaSystemd(config, d, unit, opts.timeoutMs ?? 10_000)
    : await viaSpawn(config, d, opts.timeoutMs ?? 5000);
  return stale ? { ...r, stale } : r;
}

async function viaSpawn(config: Config, d: DaemonName, timeoutMs: number): Promise<SpawnResult> {
  const rdir = runDir(config);
  const log = logFileOf(config, d);
  let fd: number | 'ignore' = 'ignore';
  try {
    fs.mkdirSync(path.dirname(log), { recursive: true });
    fs.mkdirSync(rdir, { recursive: true });
    fd = fs.openSync(log, 'a');
  } catch {
    /* a full or read-only var/: start it all the same (it logs to its own file when it can) */
  }
  let exited: number | null = null;
  let spawnError = '';
  try {
    const child = spawn(process.execPath, [path.join(PACKAGE_BIN_DIR, `pha-${d}.js`), '--config', config.file], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, [DETACHED_ENV]: '1' },
    });
    child.on('error', (e) => {
      spawnError = e.message;
      exited = -1;
    });
    child.on('exit', (code, signal) => (exited = code ?? (signal ? 128 : 1)));
    child.unref();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited !== null) break;
      if (child.pid && readPid(rdir, d, config.file).pid === child.pid)
        return { ok: true, pid: child.pid, via: 'spawn' };
      await sleep(10);
    }
  } finally {
    if (typeof fd === 'number') fs.closeSync(fd);
  }
  if (exited === null)
    return { ok: false, reason: `did not write its pid file within ${Math.round(timeoutMs / 1000)} s; see ${log}` };
  if (exited === EXIT_ALREADY_RUNNING) {
    const holder = readPid(rdir, d, config.file).pid;
    if (holder) return { ok: false, reason: `already running (pid ${holder})`, alreadyRunning: holder };
  }
  if (spawnError) return { ok: false, reason: `could not be spawned: ${spawnError}` };
  const why = lastStartError(log);
  return { ok: false, reason: `exited at start (code ${exited})${why ? `: ${why}` : ''}; see ${log}` };
}

async function viaSystemd(config: Config, d: DaemonName, unit: string, timeoutMs: number): Promise<SpawnResult> {
  const rdir = runDir(config);
  const journal = `journalctl -u ${unit}`;
  const started = await systemctl(['start', unit]);
  if (started.code !== 0)
    return {
      ok: false,
      reason: `systemctl start ${unit} failed (exit ${started.code})${started.stderr.trim() ? `: ${started.stderr.trim()}` : ''}; see ${journal}`,
    };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const pid = readPid(rdir, d, config.file).pid;
    const u = await unitProperties(unit, ['MainPID', 'ActiveState']);
    if (pid && String(pid) === u.MainPID) return { ok: true, pid, via: 'systemd' };
    // Someone else's instance holds the pid file: the unit's one lost to it.
    if (pid && u.ActiveState !== 'active' && u.ActiveState !== 'activating')
      return { ok: false, reason: `already running (pid ${pid})`, alreadyRunning: pid };
    if (!pid && u.ActiveState === 'failed') return { ok: false, reason: `${unit} failed at start; see ${journal}` };
    await sleep(50);
  }
  return {
    ok: false,
    reason: `${unit} did not write its pid file within ${Math.round(timeoutMs / 1000)} s; see ${journal}`,
  };
}

/** The reason a daemon gave for not starting: the last fatal line of its log (it logs before it exits). */
function lastStartError(log: string): string | null {
  try {
    const fd = fs.openSync(log, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, 8192);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      const lines = buf.toString('utf8').trim().split('\n').reverse();
      for (const l of lines) {
        if (l.startsWith('pha-')) return l.replace(/^pha-\w+: /, '');
        try {
          const j = JSON.parse(l) as { level?: number; msg?: string; err?: string };
          if ((j.level ?? 0) >= 60) return `${j.msg ?? ''}${j.err ? `: ${j.err}` : ''}`;
        } catch {
          /* not a JSON line */
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* no log */
  }
  return null;
}
