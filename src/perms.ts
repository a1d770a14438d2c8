// File-permission checks of what pha reads as root and trusts: the config, the
// key file, resource scripts and the directories they sit in. Whoever can
// write one of them can run code as root or forge heartbeats, so pha refuses
// to start (like keepalived's script security or OpenSSH's StrictModes).
import fs from 'node:fs';
import path from 'node:path';

const GROUP_OTHER_WRITE = 0o022;
const GROUP_OTHER_ALL = 0o077;
const STICKY = 0o1000;

function mode(st: fs.Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, '0');
}

function ownerProblem(p: string, st: fs.Stats): string | null {
  const me = typeof process.geteuid === 'function' ? process.geteuid() : 0;
  if (st.uid === 0 || st.uid === me) return null;
  return `${p} is owned by uid ${st.uid}, neither root nor the user pha runs as (uid ${me}): that user could change it (chown ${me === 0 ? 'root' : me} ${p})`;
}

/**
 * Problem with `p` (a file or a directory) being writable by someone other
 * than root or us, or null. A sticky directory (/tmp) may be world-writable:
 * nobody else can replace our entries in it.
 */
export function notWritableByOthers(p: string, what: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    return `${what} ${p}: ${(e as NodeJS.ErrnoException).code ?? 'cannot stat'}`;
  }
  const owner = ownerProblem(p, st);
  if (owner) return `${what} ${owner}`;
  if ((st.mode & GROUP_OTHER_WRITE) === 0) return null;
  if (st.isDirectory() && (st.mode & STICKY) !== 0) return null;
  const who = (st.mode & 0o002) !== 0 ? 'world-writable' : 'group-writable';
  return `${what} ${p} is ${who} (mode ${mode(st)}): anyone who can write it can run code as root or steer pha; fix: chmod go-w ${p}`;
}

/** Problems with a script: itself and the directory it is found in (and where a symlink leads). */
export function scriptProblems(script: string, what: string): string[] {
  const out: string[] = [];
  const paths = [script, path.dirname(script)];
  try {
    const real = fs.realpathSync(script);
    if (real !== script) paths.push(real, path.dirname(real));
  } catch {
    /* reported by the stat below */
  }
  for (const p of [...new Set(paths)]) {
    const prob = notWritableByOthers(p, p === script || p === paths[2] ? what : `${what}: directory`);
    if (prob) out.push(prob);
  }
  return out;
}

/** Problem with a secret file (the key file): anything beyond owner access is refused. */
export function privateFileProblem(p: string, st: fs.Stats): string | null {
  const owner = ownerProblem(p, st);
  if (owner) return `key file ${owner}`;
  if (!st.isFile()) return `key file ${p} is not a regular file`;
  if ((st.mode & GROUP_OTHER_ALL) !== 0) {
    const readable = (st.mode & 0o044) !== 0;
    return `key file ${p} is ${readable ? 'group/world-readable' : 'open to group/others'} (mode ${mode(st)}): fix: chmod 600 ${p}`;
  }
  return null;
}
