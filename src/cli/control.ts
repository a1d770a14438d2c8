// What the CLI commands do to a node: start/stop daemons (checked pid files),
// the status view, off/on, resources by hand. Output goes through `out`.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { runDir, statusFile, type Config } from '../config/index.js';
import { DAEMONS, isOurProcess, readPid, pidFilePath, type PidInfo, type ProcName } from '../daemon/pidfile.js';
import { DETACHED_ENV } from '../daemon/env.js';
import { markDown } from '../daemon/watchdog.js';
import { PACKAGE_BIN_DIR } from '../paths.js';
import { ResourceRunner, type RunResult } from '../resources/index.js';
import { StatusStore, type Status } from '../status-store/index.js';

export type DaemonName = 'sender' | 'receiver' | 'supervise';
export type NodeState = 'Active' | 'Standby' | 'NOTRUNNING';

export interface Ctx {
  config: Config;
  store: StatusStore;
  out: (line: string) => void;
  err: (line: string) => void;
}

export function makeStore(config: Config, onProblem: (m: string) => void): StatusStore {
  return new StatusStore({ file: statusFile(config), onProblem });
}

export function pids(config: Config): Record<DaemonName, PidInfo> {
  const r = runDir(config);
  return {
    sender: readPid(r, 'sender', config.file),
    receiver: readPid(r, 'receiver', config.file),
    supervise: readPid(r, 'supervise', config.file),
  };
}

export function runningCount(p: Record<DaemonName, PidInfo>): number {
  return DAEMONS.filter((d) => p[d as DaemonName].pid > 0).length;
}

/** The prompt's word: PROGRESS keeps the previous one. */
export function nodeState(s: Status, p: Record<DaemonName, PidInfo>, previous: NodeState): NodeState {
  if (runningCount(p) === 0 || !s.STATUS) return s.STATUS === 'PROGRESS' ? previous : 'NOTRUNNING';
  if (s.STATUS === 'ONLINE') return 'Active';
  if (s.STATUS === 'OFFLINE') return 'Standby';
  return previous === 'NOTRUNNING' ? 'Standby' : previous;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function logFile(config: Config, d: DaemonName): string {
  return `${config.LOGPATH}.${d}`;
}

/** Start one daemon unless a live one runs; waits until its pid file names it. */
export async function startDaemon(ctx: Ctx, d: DaemonName): Promise<boolean> {
  const { config } = ctx;
  const p = readPid(runDir(config), d, config.file);
  if (p.pid) {
    ctx.out(`${d}: already running (pid ${p.pid})`);
    return true;
  }
  if (p.stale) ctx.out(`${d}: stale pid file (pid ${p.stale} is not a running pha-${d}): removed`);
  markDown(runDir(config), d, false); // meant to run again: the other daemons may restart it
  fs.rmSync(pidFilePath(runDir(config), d), { force: true });
  fs.mkdirSync(path.dirname(logFile(config, d)), { recursive: true });
  fs.mkdirSync(runDir(config), { recursive: true });
  const fd = fs.openSync(logFile(config, d), 'a');
  const child = spawn(process.execPath, [path.join(PACKAGE_BIN_DIR, `pha-${d}.js`), '--config', config.file], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, [DETACHED_ENV]: '1' },
  });
  fs.closeSync(fd);
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? 1));
  child.unref();
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (exited !== null) {
      ctx.err(`${d}: exited at start (code ${exited}); see ${logFile(config, d)}`);
      return false;
    }
    if (readPid(runDir(config), d, config.file).pid === child.pid) return true;
    await sleep(10);
  }
  ctx.err(`${d}: did not write its pid file within 5 s; see ${logFile(config, d)}`);
  return false;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stop one daemon by its verified pid: SIGTERM, then SIGKILL after 5 s. */
export async function stopDaemon(ctx: Ctx, d: DaemonName): Promise<boolean> {
  const { config } = ctx;
  // Stopped on purpose: the other daemons must not bring it back.
  markDown(runDir(config), d, true);
  const p = readPid(runDir(config), d, config.file);
  if (!p.pid) {
    if (p.stale) {
      fs.rmSync(pidFilePath(runDir(config), d), { force: true });
      ctx.out(`${d}: not running (stale pid file for pid ${p.stale} removed)`);
    }
    return true;
  }
  process.kill(p.pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (!alive(p.pid) || !isOurProcess(p.pid, d as ProcName, config.file)) return true;
    await sleep(10);
  }
  if (isOurProcess(p.pid, d as ProcName, config.file)) {
    ctx.err(`${d}: did not stop within 5 s: killed (SIGKILL pid ${p.pid})`);
    process.kill(p.pid, 'SIGKILL');
  }
  fs.rmSync(pidFilePath(runDir(config), d), { force: true });
  return true;
}

export async function startAll(ctx: Ctx): Promise<boolean> {
  if (runningCount(pids(ctx.config)) === 0) {
    // What a killed node left in the file is an earlier run's: do not show or send it.
    await ctx.store.update({ STATUS: null, RECEIVER_IN: null, DECIDED_AT: undefined, REASON: undefined, ALARM: undefined });
  }
  // The receiver first: supervise's startup grace counts from its bind.
  const okR = await startDaemon(ctx, 'receiver');
  const [okS, okU] = await Promise.all([startDaemon(ctx, 'sender'), startDaemon(ctx, 'supervise')]);
  return okR && okS && okU;
}

export function runner(config: Config): ResourceRunner {
  return new ResourceRunner({ timeoutMs: config.RES_TIMEOUT * 1000 });
}

export async function checkResources(config: Config): Promise<RunResult[]> {
  return runner(config).checkAll(config.resources);
}

export async function stopAll(ctx: Ctx): Promise<boolean> {
  const results = await Promise.all((['sender', 'supervise', 'receiver'] as DaemonName[]).map((d) => stopDaemon(ctx, d)));
  // Reset what the original resets, also when a daemon had died without doing it.
  await ctx.store.update({ STATUS: null, SENDER_RUN: 0, SUPERVISE: 0, RECEIVER_IN: null, SENDER_MUTE: undefined });
  const checks = await checkResources(ctx.config);
  await ctx.store.update(resPatch(checks));
  const up = checks.filter((c) => c.ok).map((c) => c.name);
  if (up.length) {
    ctx.out(`WARNING: resources still UP on this node: ${up.join(', ')}.`);
    ctx.out(`  The peer will start them too once it misses our heartbeat (both would hold them).`);
    ctx.out(`  To take this node out safely, run 'res stop' now (or use 'off' before 'stop').`);
  }
  return results.every(Boolean);
}

export function resPatch(results: RunResult[], action: 'check' | 'start' | 'stop' = 'check'): Partial<Status> {
  const p: Record<string, 'UP' | 'DOWN'> = {};
  for (const r of results) p[`RES_${r.name}`] = action === 'stop' ? (r.ok ? 'DOWN' : 'UP') : r.ok ? 'UP' : 'DOWN';
  return p as Partial<Status>;
}

export function describeResult(r: RunResult): string {
  const what = r.ok ? 'ok' : r.timedOut ? 'TIMEOUT' : `FAILED (exit ${r.code ?? r.signal})`;
  return `  ${r.name} ${r.action}: ${what}${r.output ? ' — ' + r.output.split('\n').join(' | ') : ''}${!r.ok && r.error ? ' (' + r.error + ')' : ''}`;
}

