// Pid files that are checked before they are believed (fix 12): the pid must be
// alive and be one of our own processes; we never signal a pid that is not.
// A daemon's pid file is created exclusively (claimPid): of any number of
// concurrent starts exactly one runs.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT, PhaError } from '../errors.js';
import { isDeadState, procArgv, procStatFields } from '../proc.js';

export type ProcName = 'sender' | 'receiver' | 'supervise' | 'cli';
export type DaemonName = Exclude<ProcName, 'cli'>;
export const DAEMONS: readonly DaemonName[] = ['sender', 'receiver', 'supervise'];

export interface PidInfo {
  pid: number; // 0 when not running
  stale?: number; // pid found in the file but not (any more) our process
}

export function pidFilePath(runDir: string, name: ProcName): string {
  return path.join(runDir, name);
}

/**
 * Does `pid` run? A zombie (killed, not yet reaped) does not; a process of
 * another user does (kill(pid, 0) says EPERM: it exists). One read of /proc.
 */
export function pidAlive(pid: number | undefined): boolean {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    return !isDeadState(procStatFields(pid)[0]);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && fs.existsSync('/proc/self')) return false;
    try {
      process.kill(pid, 0); // no /proc here
      return true;
    } catch (k) {
      return (k as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
}

/** Is `pid` a live pha process of this kind (for this config, when it says which)? */
export function isOurProcess(pid: number, name: ProcName, configFile?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  const argv = procArgv(pid);
  if (!argv) return false;
  if (!argv.some((a) => path.basename(a).startsWith(`pha-${name}`))) return false;
  const i = argv.indexOf('--config');
  if (configFile && i >= 0 && argv[i + 1] && path.resolve(argv[i + 1]!) !== path.resolve(configFile)) return false;
  return pidAlive(pid);
}

export function readPid(runDir: string, name: ProcName, configFile?: string): PidInfo {
  let text: string;
  try {
    text = fs.readFileSync(pidFilePath(runDir, name), 'utf8').trim();
  } catch {
    return { pid: 0 };
  }
  const pid = Number(text);
  if (isOurProcess(pid, name, configFile)) return { pid };
  return { pid: 0, stale: Number.isInteger(pid) && pid > 0 ? pid : -1 };
}

/** Exit code of a daemon that found another instance running (systemd: RestartPreventExitStatus). */
export const EXIT_ALREADY_RUNNING = EXIT.alreadyRunning;

export type Claim = { ok: true } | { ok: false; holder: number };

/** The pid a pid file names: undefined when there is no file, NaN when it names none. */
function pidIn(file: string): number | undefined {
  try {
    const t = fs.readFileSync(file, 'utf8').trim();
    return /^\d+$/.test(t) ? Number(t) : NaN;
  } catch {
    return undefined;
  }
}

/**
 * Runs `fn` while holding the lock of `file`'s stale-pid removal: an abstract
 * unix socket named after the file. The kernel gives its name to one process
 * at a time and frees it when that process dies, so the lock itself can never
 * be left stale by a crash. (Abstract names are per network namespace: starts
 * of one install from two namespaces still never both win the pid file, the
 * link() below decides that; only their stale removals are not serialized.)
 */
async function withRemovalLock<T>(file: string, fn: () => T, timeoutMs = 5000): Promise<T> {
  const name = `\0pha-pidfile-${createHash('sha256').update(file).digest('hex').slice(0, 40)}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const server = net.createServer();
    const bound = await new Promise<boolean>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(false) : reject(e)));
      server.listen({ path: name, exclusive: true }, () => resolve(true));
    });
    if (bound) {
      try {
        return fn();
      } finally {
        server.close();
      }
    }
    if (Date.now() > deadline)
      throw new PhaError(
        'PHA_ERR_PIDFILE',
        file,
        `another process held the pid-file lock for more than ${timeoutMs} ms`,
      );
    await sleep(2 + Math.random() * 8);
  }
}

/**
 * Removes `name`'s pid file if it is stale (names no live process of ours).
 * Under the removal lock and re-checked there, so it never removes the file
 * of an instance that claimed it a moment ago. Returns the stale pid removed
 * (-1: the file named no pid), or undefined when nothing was removed.
 */
export async function removeStalePid(runDir: string, name: ProcName, configFile?: string): Promise<number | undefined> {
  const file = pidFilePath(runDir, name);
  if (pidIn(file) === undefined) return undefined;
  return withRemovalLock(`${fs.realpathSync(runDir)}/${name}`, () => {
    const cur = pidIn(file);
    if (cur === undefined || isOurProcess(cur, name, configFile)) return undefined;
    fs.rmSync(file, { force: true });
    return Number.isNaN(cur) ? -1 : cur;
  });
}

/**
 * Creates `name`'s pid file for `pid`, exclusively: a complete temp file is
 * link()ed to the name, which fails with EEXIST when any file is there. A
 * live holder wins (the result names it); a stale file is removed safely
 * (removeStalePid) and the link retried.
 */
export async function claimPid(runDir: string, name: ProcName, configFile?: string, pid = process.pid): Promise<Claim> {
  fs.mkdirSync(runDir, { recursive: true });
  const file = pidFilePath(runDir, name);
  const tmp = `${file}.new.${pid}`;
  fs.writeFileSync(tmp, `${pid}\n`);
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        fs.linkSync(tmp, file);
        return { ok: true };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = pidIn(file);
      if (holder === pid) return { ok: true };
      if (holder !== undefined && isOurProcess(holder, name, configFile)) return { ok: false, holder };
      await removeStalePid(runDir, name, configFile);
    }
    throw new PhaError('PHA_ERR_PIDFILE', file, 'could not be created (it kept coming back)');
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Writes a pid file that others may share (the CLI's var/run/cli, not a daemon's). */
export function writePid(runDir: string, name: ProcName, pid = process.pid): void {
  fs.mkdirSync(runDir, { recursive: true });
  const tmp = `${pidFilePath(runDir, name)}.tmp.${pid}`;
  fs.writeFileSync(tmp, `${pid}\n`);
  fs.renameSync(tmp, pidFilePath(runDir, name));
}

/** Remove the pid file only if it still names `pid` (a newer instance may own it). */
export function removePid(runDir: string, name: ProcName, pid = process.pid): void {
  try {
    const cur = Number(fs.readFileSync(pidFilePath(runDir, name), 'utf8').trim());
    if (cur === pid) fs.rmSync(pidFilePath(runDir, name), { force: true });
  } catch {
    /* gone already */
  }
}
