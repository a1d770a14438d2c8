/**
 * Cleanup on every exit path, owner pid files, and the sweep of leftovers of
 * crashed runs.
 *
 * Every live lab is registered here. On process 'exit' (also reached after a
 * crash by an uncaught exception, and on process.exit()) each is removed synchronously; on
 * SIGINT / SIGTERM / SIGHUP each is removed asynchronously and then the signal
 * is re-raised (so the process still dies by it: shell status 130 / 143 / 129)
 * unless another listener for that signal exists, which then owns the policy.
 * A run killed with SIGKILL leaves its namespaces; the next createLab() (or
 * sweepLeftovers()) removes them once their owner pid is dead.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { delay, ip, killPid, netnsPids, parsePids } from './exec.js';

/** Where owner pid files live: `<dir>/<prefix>.pid` holding "<pid> <starttime>". */
export const LAB_RUN_DIR = '/run/pha-lab';
/** Namespace directory of iproute2. */
export const NETNS_DIR = '/run/netns';
/** Per-namespace /etc files bind-mounted by `ip netns exec`. */
export const ETC_NETNS_DIR = '/etc/netns';
/** Generated prefixes: "pha" + 6 hex digits + "-". */
export const PREFIX_PATTERN = /^pha[0-9a-f]{6}-/;
/** Suffixes of the namespaces of one lab. */
export const NS_SUFFIXES = ['sw', 'gw', 'lb1', 'lb2', 'cl'] as const;

/** What the registry needs from a lab. */
export interface Cleanable {
  readonly prefix: string;
  destroy(): Promise<void>;
  destroySync(): void;
}

const live = new Set<Cleanable>();
let handlersInstalled = false;
let signalling = false;

export function registerLab(lab: Cleanable): void {
  live.add(lab);
  installHandlers();
}

export function unregisterLab(lab: Cleanable): void {
  live.delete(lab);
}

export function liveLabs(): Cleanable[] {
  return [...live];
}

/** Remove every live lab synchronously (used by the 'exit' handler). */
export function destroyAllSync(): void {
  for (const lab of [...live]) {
    try {
      lab.destroySync();
    } catch {
      /* keep going: best effort on the way out */
    }
    live.delete(lab);
  }
}

const SIGNAL_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

function onSignal(sig: NodeJS.Signals): void {
  if (signalling) {
    // Second signal while the async cleanup runs: finish synchronously and go.
    destroyAllSync();
    process.exit(SIGNAL_CODES[sig] ?? 1);
  }
  signalling = true;
  const all = [...live];
  const hardStop = setTimeout(() => {
    destroyAllSync();
    process.exit(SIGNAL_CODES[sig] ?? 1);
  }, 15_000);
  void Promise.allSettled(all.map((l) => l.destroy())).then(() => {
    clearTimeout(hardStop);
    destroyAllSync();
    removeSignalHandlers();
    signalling = false;
    if (process.listenerCount(sig) === 0) {
      // Default action again: die by the signal, as without us.
      process.kill(process.pid, sig);
      // In case the signal is somehow not fatal.
      setTimeout(() => process.exit(SIGNAL_CODES[sig] ?? 1), 1000).unref();
    }
  });
}

const handlers: Partial<Record<NodeJS.Signals, () => void>> = {};

function removeSignalHandlers(): void {
  for (const [sig, h] of Object.entries(handlers) as Array<[NodeJS.Signals, () => void]>) {
    process.removeListener(sig, h);
    delete handlers[sig];
  }
  handlersInstalled = false;
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as NodeJS.Signals[]) {
    const h = (): void => onSignal(sig);
    handlers[sig] = h;
    process.on(sig, h);
  }
  if (!exitInstalled) {
    exitInstalled = true;
    // Also reached after an uncaught exception or unhandled rejection that crashes the process.
    // (No uncaughtException hook: where one is handled, e.g. by node:test, the run goes on with its lab.)
    process.on('exit', destroyAllSync);
  }
}
let exitInstalled = false;

// ---------------------------------------------------------------- pid files

function procStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Field 22 (starttime); rest[0] is field 3.
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

export function pidFilePath(prefix: string): string {
  return join(LAB_RUN_DIR, `${prefix}.pid`);
}

export function writeOwnerPidFile(prefix: string): void {
  mkdirSync(LAB_RUN_DIR, { recursive: true });
  writeFileSync(pidFilePath(prefix), `${process.pid} ${procStartTime(process.pid) ?? ''}\n`);
}

export function removeOwnerPidFile(prefix: string): void {
  rmSync(pidFilePath(prefix), { force: true });
}

/** True when the pid file of `prefix` names a process that is still the one that wrote it. */
export function ownerAlive(prefix: string): boolean {
  let text: string;
  try {
    text = readFileSync(pidFilePath(prefix), 'utf8');
  } catch {
    return false;
  }
  const [pidS, start] = text.trim().split(/\s+/);
  const pid = Number(pidS);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const now = procStartTime(pid);
  if (now === null) return false;
  return !start || start === now;
}

// ------------------------------------------------------------------- sweep

/** Install dir the lab makes for a node when none is given. */
export function defaultInstallDir(prefix: string, node: string): string {
  return join(tmpdir(), `${prefix}${node}`);
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function prefixOf(name: string, known: Set<string>): string | null {
  for (const p of known) if (name.startsWith(p)) return p;
  const m = PREFIX_PATTERN.exec(name);
  return m ? m[0] : null;
}

/**
 * Remove namespaces, /etc/netns dirs, owner pid files and (unless marked KEEP)
 * default install dirs of earlier labs whose owner process is dead. A lab is
 * recognised by its pid file in /run/pha-lab (any prefix) or by a name matching
 * /^pha[0-9a-f]{6}-/. Processes still inside such namespaces (orphaned keepers,
 * daemons) are SIGKILLed by pid first. Labs of live processes (this one
 * included) are left alone. Resolves to the prefixes swept.
 */
export async function sweepLeftovers(): Promise<string[]> {
  const known = new Set<string>(
    listDir(LAB_RUN_DIR)
      .filter((f) => f.endsWith('.pid'))
      .map((f) => f.slice(0, -4)),
  );
  const nsByPrefix = new Map<string, string[]>();
  const add = (p: string): string[] => {
    const l = nsByPrefix.get(p) ?? [];
    nsByPrefix.set(p, l);
    return l;
  };
  for (const p of known) add(p);
  for (const ns of listDir(NETNS_DIR)) {
    const p = prefixOf(ns, known);
    if (p && (NS_SUFFIXES as readonly string[]).includes(ns.slice(p.length))) add(p).push(ns);
  }
  for (const d of listDir(ETC_NETNS_DIR)) {
    const p = prefixOf(d, known);
    if (p) add(p);
  }
  const swept: string[] = [];
  for (const [prefix, namespaces] of nsByPrefix) {
    if (ownerAlive(prefix)) continue;
    // Kill what is left inside (SIGKILL by pid), a few passes against forks.
    for (let pass = 0; pass < 5; pass++) {
      const pids = (await Promise.all(namespaces.map((ns) => netnsPids(ns)))).flat();
      if (pids.length === 0) break;
      for (const pid of pids) killPid(pid, 'SIGKILL');
      await delay(20);
    }
    for (const ns of namespaces) {
      try {
        await ip(['netns', 'del', ns]);
      } catch {
        /* already gone */
      }
    }
    for (const d of listDir(ETC_NETNS_DIR)) {
      if (d.startsWith(prefix)) rmSync(join(ETC_NETNS_DIR, d), { recursive: true, force: true });
    }
    for (const node of ['lb1', 'lb2']) {
      const dir = defaultInstallDir(prefix, node);
      if (existsSync(dir) && !existsSync(join(dir, 'KEEP'))) rmSync(dir, { recursive: true, force: true });
    }
    removeOwnerPidFile(prefix);
    swept.push(prefix);
  }
  return swept;
}

// -------------------------------------------------------- synchronous tools

export function netnsPidsSync(ns: string): number[] {
  try {
    return parsePids(
      execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    );
  } catch {
    return [];
  }
}

export function netnsDelSync(ns: string): void {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
}
