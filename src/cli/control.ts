// What the CLI commands do to a node: start/stop daemons (checked pid files),
// the status view, off/on, resources by hand. Output goes through `out`.
import dgram from 'node:dgram';
import net from 'node:net';
import { type Config, runDir, statusFile } from '../config/index.js';
import { timingOf } from '../config/timing.js';
import { DAEMONS, type DaemonName, isOurProcess, type PidInfo, readPid, removeStalePid } from '../daemon/pidfile.js';
import { spawnDaemon } from '../daemon/spawn.js';
import { managingUnit, systemctl } from '../daemon/systemd.js';
import { markDown } from '../daemon/watchdog.js';
import { ConfigError } from '../errors.js';
import { udpType } from '../ip.js';
import { ResourceRunner, type RunResult } from '../resources/index.js';
import { type Status, StatusStore } from '../status-store/index.js';
import { sleep } from '../wait.js';
import type { LiveIo } from './live.js';

export type { DaemonName } from '../daemon/pidfile.js';
export type NodeState = 'Active' | 'Standby' | 'NOTRUNNING';

export interface Ctx {
  config: Config;
  store: StatusStore;
  out: (line: string) => void;
  err: (line: string) => void;
  /** The terminal (or pipe) a live command (watch, log -f) runs on. */
  io?: LiveIo;
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
  return DAEMONS.filter((d) => p[d].pid > 0).length;
}

/** The prompt's word: PROGRESS keeps the previous one. */
export function nodeState(s: Status, p: Record<DaemonName, PidInfo>, previous: NodeState): NodeState {
  if (runningCount(p) === 0 || !s.STATUS) return s.STATUS === 'PROGRESS' ? previous : 'NOTRUNNING';
  if (s.STATUS === 'ONLINE') return 'Active';
  if (s.STATUS === 'OFFLINE') return 'Standby';
  return previous === 'NOTRUNNING' ? 'Standby' : previous;
}

/** Start one daemon unless a live one runs; waits until its pid file names it. */
export async function startDaemon(ctx: Ctx, d: DaemonName): Promise<boolean> {
  if (d === 'supervise' && !pids(ctx.config).supervise.pid) await metricsAddressFree(ctx.config);
  if (d !== 'supervise') await pathAddressesOurs(ctx.config);
  markDown(runDir(ctx.config), d, false); // meant to run: the other daemons may restart it again
  const r = await spawnDaemon(ctx.config, d);
  if (r.stale) ctx.out(`${d}: stale pid file (pid ${r.stale} is not a running pha-${d}): removed`);
  if (r.ok) return true;
  // Running already, or another start won the race for the pid file: it runs.
  if (r.alreadyRunning) {
    ctx.out(`${d}: already running (pid ${r.alreadyRunning})`);
    return true;
  }
  ctx.err(`${d}: ${r.reason}`);
  return false;
}

/**
 * Stop one daemon: through systemctl when systemd manages it, then by its
 * verified pid: SIGTERM, SIGKILL after 5 s (supervise: after its notify hooks
 * had NOTIFY_TIMEOUT more to finish).
 */
export async function stopDaemon(ctx: Ctx, d: DaemonName): Promise<boolean> {
  const { config } = ctx;
  // Stopped on purpose: the other daemons must not bring it back.
  markDown(runDir(config), d, true);
  const unit = await managingUnit(config.file, d);
  if (unit) {
    const r = await systemctl(['stop', unit]);
    if (r.code !== 0)
      ctx.err(`${d}: systemctl stop ${unit} failed (exit ${r.code})${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}`);
  }
  // Also without systemd, or for an instance started outside it.
  const p = readPid(runDir(config), d, config.file);
  if (!p.pid) {
    if (p.stale) {
      const removed = await removeStalePid(runDir(config), d, config.file);
      if (removed !== undefined) ctx.out(`${d}: not running (stale pid file for pid ${p.stale} removed)`);
    }
    return true;
  }
  process.kill(p.pid, 'SIGTERM');
  const graceMs = 5000 + (d === 'supervise' && config.notify.length ? config.NOTIFY_TIMEOUT * 1000 : 0);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isOurProcess(p.pid, d, config.file)) return true;
    await sleep(10);
  }
  if (isOurProcess(p.pid, d, config.file)) {
    ctx.err(`${d}: did not stop within ${Math.round(graceMs / 1000)} s: killed (SIGKILL pid ${p.pid})`);
    process.kill(p.pid, 'SIGKILL');
  }
  // Only if it is stale by now: a new instance may have claimed the name meanwhile.
  await removeStalePid(runDir(config), d, config.file);
  return true;
}

export async function startAll(ctx: Ctx): Promise<boolean> {
  // A config error stops the start before any daemon runs.
  if (!pids(ctx.config).supervise.pid) await metricsAddressFree(ctx.config);
  await pathAddressesOurs(ctx.config);
  if (runningCount(pids(ctx.config)) === 0) {
    // What a killed node left in the file is an earlier run's: do not show or send it.
    await ctx.store.update({
      STATUS: null,
      RECEIVER_IN: null,
      DECIDED_AT: undefined,
      REASON: undefined,
      ALARM: undefined,
    });
  }
  // The receiver first: supervise's startup grace counts from its bind.
  const okR = await startDaemon(ctx, 'receiver');
  const [okS, okU] = await Promise.all([startDaemon(ctx, 'sender'), startDaemon(ctx, 'supervise')]);
  return okR && okS && okU;
}

/** Each HB_PATHS address of this node can be bound here (a bind test, as the daemons will): else a config error naming the line. */
export async function pathAddressesOurs(config: Config, canBind = bindable): Promise<void> {
  if (!config.pathsLine) return; // the default path is the node's name: its own check
  const foreign: string[] = [];
  for (const p of config.paths) if (!(await canBind(p.local))) foreign.push(p.local);
  if (foreign.length)
    throw new ConfigError([
      {
        file: config.file,
        line: config.pathsLine,
        message: `HB_PATHS: ${foreign.join(', ')} ${foreign.length > 1 ? 'are' : 'is'} not an address of this host (${config.local.name}); the sender and the receiver bind to each path's own address`,
      },
    ]);
}

function bindable(addr: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(udpType(addr));
    sock.once('error', () => {
      sock.close();
      resolve(false);
    });
    sock.bind(0, addr, () => sock.close(() => resolve(true)));
  });
}

/** METRICS names an address supervise can listen on (not in use, ours): else a config error naming the line. */
async function metricsAddressFree(config: Config): Promise<void> {
  const m = config.metrics;
  if (!m) return;
  const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    const srv = net.createServer();
    srv.once('error', resolve);
    srv.listen({ host: m.host, port: m.port, exclusive: true }, () => srv.close(() => resolve(null)));
  });
  if (!err) return;
  const why =
    err.code === 'EADDRINUSE'
      ? 'the address is in use'
      : err.code === 'EADDRNOTAVAIL'
        ? 'no such address on this host'
        : err.message;
  throw new ConfigError([
    {
      file: config.file,
      line: m.line,
      message: `METRICS=${config.METRICS}: supervise cannot serve the metrics there: ${why}`,
    },
  ]);
}

export function runner(config: Config): ResourceRunner {
  return new ResourceRunner({ timeoutMs: timingOf(config).resTimeoutMs });
}

export async function checkResources(config: Config): Promise<RunResult[]> {
  return runner(config).checkAll(config.resources);
}

export async function stopAll(ctx: Ctx): Promise<boolean> {
  const all: DaemonName[] = ['sender', 'supervise', 'receiver'];
  // Every daemon is marked down before any is signalled, so none restarts another.
  for (const d of all) markDown(runDir(ctx.config), d, true);
  let results = await Promise.all(all.map((d) => stopDaemon(ctx, d)));
  // One restarted by a watchdog during the stop (its mark could not be written) is stopped too.
  for (let i = 0; i < 3 && runningCount(pids(ctx.config)) > 0; i++) {
    results = await Promise.all(all.map((d) => stopDaemon(ctx, d)));
  }
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
  return `  ${r.name} ${r.action}: ${what}${r.output ? ` — ${r.output.split('\n').join(' | ')}` : ''}${!r.ok && r.error ? ` (${r.error})` : ''}`;
}
