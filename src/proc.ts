// What /proc says of a process, read in one place: its command line, and its
// stat fields (the state, the start time).
import fs from 'node:fs';

/** The command line of `pid` (null: no such process). */
export function procArgv(pid: number): string[] | null {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

/**
 * The fields of /proc/<pid>/stat from field 3 (the state) on: [0] is field 3,
 * [n - 3] is field n. The command name (field 2) may hold spaces and ')', so
 * the count starts after the last ')'. Throws as the read does (ENOENT: gone).
 */
export function procStatFields(pid: number): string[] {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** A zombie (killed, not yet reaped) or a dead task: no longer runs. */
export const isDeadState = (state: string | undefined): boolean => state === 'Z' || state === 'X';
