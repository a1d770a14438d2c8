/**
 * Process helpers of the lab: running commands with a timeout that kills the
 * whole process group, `ip` wrappers, signalling by pid.
 *
 * Only node built-ins are used (the lab is also run from a build directory
 * without node_modules next to it).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';

export interface RunOptions {
  /** Extra environment; merged over process.env (a value of undefined removes the variable). */
  env?: Record<string, string | undefined>;
  /** Kill the whole process group with SIGKILL after this many ms (default 30 000). */
  timeoutMs?: number;
  /** Written to the command's standard input, which is then closed. Without it stdin is /dev/null. */
  stdin?: string;
}

export interface RunResult {
  /** Exit code; 128 + signal number when killed by a signal; 127 when the command could not be started. */
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Wall time of the command, ms. */
  ms: number;
}

export const DEFAULT_RUN_TIMEOUT_MS = 30_000;

export function mergeEnv(extra?: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (extra) {
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
  }
  return env;
}

/** Send a signal to a process group (falls back to the single pid). Never throws. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): boolean {
  if (!pid || pid <= 1) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

/** Send a signal to one pid. Never throws. */
export function killPid(pid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

export { pidAlive } from '../../src/daemon/pidfile.js';

export { sleep as delay } from '../../src/wait.js';

/**
 * Run argv[0] with argv[1..] in its own process group, collect its output.
 * Resolves once the command has exited (plus at most 200 ms for its output to
 * drain: a daemon that keeps the inherited stdout open does not make this
 * hang). On timeout the whole process group is killed with SIGKILL.
 */
export function runArgv(
  argv: string[],
  opts: RunOptions = {},
  track?: (child: ChildProcess) => void,
): Promise<RunResult> {
  const started = performance.now();
  return new Promise<RunResult>((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), {
        env: mergeEnv(opts.env),
        detached: true,
        stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
    } catch (e) {
      resolve({ code: 127, signal: null, stdout: '', stderr: String(e), timedOut: false, ms: 0 });
      return;
    }
    track?.(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let collecting = true;
    let timedOut = false;
    let settled = false;
    child.stdout!.on('data', (d: Buffer) => {
      if (collecting) out.push(d);
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (collecting) err.push(d);
    });
    if (opts.stdin !== undefined && child.stdin) {
      child.stdin.on('error', () => {
        /* EPIPE when the command does not read its input */
      });
      child.stdin.end(opts.stdin);
    }
    const timeoutMs = opts.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGKILL');
    }, timeoutMs);
    const finish = (code: number, signal: NodeJS.Signals | null, extraErr = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      collecting = false;
      for (const s of [child.stdout, child.stderr]) {
        // A daemon started by the command may hold the pipe open: keep draining, never block exit.
        (s as unknown as Socket | null)?.unref?.();
        s?.resume();
      }
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + extraErr,
        timedOut,
        ms: performance.now() - started,
      });
    };
    child.on('error', (e) => finish(127, null, String(e)));
    child.on('exit', (code, signal) => {
      const c = code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : -1);
      let closed = false;
      child.once('close', () => {
        closed = true;
        finish(c, signal);
      });
      setTimeout(() => {
        if (!closed) finish(c, signal);
      }, 200);
    });
  });
}

/** `ip <args>`; rejects with the command's stderr on a non-zero exit. */
export function ip(args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`ip ${args.join(' ')}: ${(stderr || error.message).trim()}`));
      } else {
        resolve(stdout);
      }
    });
  });
}

/** Like ip() but never rejects; resolves true on success. */
export async function ipOk(args: string[]): Promise<boolean> {
  try {
    await ip(args);
    return true;
  } catch {
    return false;
  }
}

/** Pids of the processes in network namespace `ns` (`ip netns pids`). */
export async function netnsPids(ns: string): Promise<number[]> {
  try {
    const out = await ip(['netns', 'pids', ns]);
    return parsePids(out);
  } catch {
    return [];
  }
}

export function parsePids(text: string): number[] {
  return text
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number)
    .filter((p) => p > 1 && p !== process.pid);
}

/** True for an IPv4 literal inside 198.18.0.0/15, the only range the lab ever addresses. */
export function inLabRange(addr: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(addr);
  if (!m) return false;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return false;
  return o[0] === 198 && (o[1] === 18 || o[1] === 19);
}
