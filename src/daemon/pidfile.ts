// Pid files that are checked before they are believed (fix 12): the pid must be
// alive and be one of our own processes; we never signal a pid that is not.
import fs from 'node:fs';
import path from 'node:path';

export type ProcName = 'sender' | 'receiver' | 'supervise' | 'cli';
export const DAEMONS: readonly ProcName[] = ['sender', 'receiver', 'supervise'];

export interface PidInfo {
  pid: number; // 0 when not running
  stale?: number; // pid found in the file but not (any more) our process
}

export function pidFilePath(runDir: string, name: ProcName): string {
  return path.join(runDir, name);
}

function cmdline(pid: number): string[] | null {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

/** Is `pid` a live pha process of this kind (for this config, when it says which)? */
export function isOurProcess(pid: number, name: ProcName, configFile?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  const argv = cmdline(pid);
  if (!argv) return false;
  if (!argv.some((a) => path.basename(a).startsWith(`pha-${name}`))) return false;
  const i = argv.indexOf('--config');
  if (configFile && i >= 0 && argv[i + 1] && path.resolve(argv[i + 1]!) !== path.resolve(configFile)) return false;
  // A zombie is not running.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
  } catch {
    return false;
  }
  return true;
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
