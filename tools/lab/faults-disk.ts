/**
 * An operator's bad day on the disk: var/ on a small tmpfs, filled up or
 * remounted read-only; the status file corrupted, truncated or deleted.
 * (See faults-extra.ts for why var/ read-only needs LOGPATH outside var/.)
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { isOurProcess } from '../../src/daemon/pidfile.js';
import { delay, runArgv } from './exec.js';
import { readDaemonPids } from './install.js';
import { LabPart } from './lab-part.js';
import type { FaultTime, NodeName } from './types.js';

/** Source name of the lab's var/ tmpfs mounts: `phalab-<prefix><node>` (found again by the sweep). */
export const MOUNT_SOURCE = /^phalab-(pha[0-9a-f]{6}-)(lb1|lb2)$/;

interface Filler {
  fd: number;
  file: string;
  timer: NodeJS.Timeout;
  bytes: number;
}

const CHUNK = Buffer.alloc(64 * 1024, 0x55);

export function mountInfo(): Array<{ target: string; fstype: string; source: string; options: string }> {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const unescapeOctal = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [left, right = ''] = line.split(' - ');
      const l = left!.split(' ');
      const r = right.split(' ');
      return {
        target: unescapeOctal(l[4] ?? ''),
        options: l[5] ?? '',
        fstype: r[0] ?? '',
        source: unescapeOctal(r[1] ?? ''),
      };
    });
}

function mountedAt(dir: string): { source: string; options: string } | undefined {
  const all = mountInfo().filter((m) => m.target === dir);
  return all[all.length - 1];
}

/** Processes with a file under `dir` open for writing: "pid (comm): file" lines. */
function writersUnder(dir: string): string[] {
  const out: string[] = [];
  for (const p of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${p}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = fs.readlinkSync(`/proc/${p}/fd/${fd}`);
        if (!target.startsWith(`${dir}/`)) continue;
        const flags = parseInt(
          /flags:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0',
          8,
        );
        if ((flags & 3) !== 0) {
          const comm = fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim();
          out.push(`${p} (${comm}): ${target}`);
        }
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return out;
}

async function mountCmd(args: string[]): Promise<{ ok: boolean; err: string }> {
  const r = await runArgv(['mount', ...args], { timeoutMs: 10_000 });
  return { ok: r.code === 0, err: (r.stderr || r.stdout).trim() };
}

export interface FillResult extends FaultTime {
  /** Bytes the filler wrote before ENOSPC. */
  bytes: number;
}

export class DiskFaults extends LabPart {
  private readonly mounts = new Map<NodeName, string>();

  private readonly fillers = new Map<NodeName, Filler>();

  private readonly readOnly = new Set<NodeName>();

  private mounted(node: NodeName): string {
    const dir = this.mounts.get(node);
    if (!dir)
      throw new Error(`var/ of ${node} is not on a lab tmpfs: call varOnTmpfs('${node}') before pha starts there`);
    return dir;
  }

  // ------------------------------------------------------------- var/
  async varOnTmpfs(node: NodeName, opts: { sizeKb?: number } = {}): Promise<FaultTime> {
    const inst = this.inst(node);
    const pids = await readDaemonPids(inst);
    const running = (['sender', 'receiver', 'supervise'] as const).filter((d) => isOurProcess(pids[d], d));
    if (running.length)
      throw new Error(
        `varOnTmpfs(${node}): pha already runs there (${running.join(', ')}); mount var/ before starting it`,
      );
    if (this.mounts.has(node)) throw new Error(`varOnTmpfs(${node}): already mounted`);
    const dir = this.varDir(node);
    const sizeKb = opts.sizeKb ?? 2048;
    return this.timed(async () => {
      fs.mkdirSync(dir, { recursive: true });
      const r = await mountCmd([
        '-t',
        'tmpfs',
        '-o',
        `size=${sizeKb}k,mode=0755`,
        `phalab-${this.lab.prefix}${node}`,
        dir,
      ]);
      if (!r.ok) throw new Error(`mount tmpfs on ${dir}: ${r.err}`);
      this.mounts.set(node, dir);
      fs.mkdirSync(path.join(dir, 'run'), { recursive: true });
    });
  }

  async unmountVar(node: NodeName): Promise<void> {
    const dir = this.mounts.get(node);
    if (!dir) return;
    this.stopFiller(node, true);
    this.readOnly.delete(node);
    const r = await runArgv(['umount', dir], { timeoutMs: 10_000 });
    if (r.code !== 0 && mountedAt(dir)) {
      const lazy = await runArgv(['umount', '-l', dir], { timeoutMs: 10_000 });
      if (lazy.code !== 0 && mountedAt(dir)) throw new Error(`umount ${dir}: ${lazy.stderr.trim() || r.stderr.trim()}`);
    }
    this.mounts.delete(node);
  }

  async fillVar(node: NodeName): Promise<FillResult> {
    const dir = this.mounted(node);
    if (this.fillers.has(node)) throw new Error(`fillVar(${node}): already full`);
    const file = path.join(dir, '.phalab-fill');
    let bytes = 0;
    const t = await this.timed(() => {
      const fd = fs.openSync(file, 'a');
      const topUp = (): number => {
        let n = 0;
        for (const chunk of [CHUNK, CHUNK.subarray(0, 4096), CHUNK.subarray(0, 512), CHUNK.subarray(0, 1)]) {
          for (;;) {
            try {
              const w = fs.writeSync(fd, chunk);
              n += w;
              if (w === 0) break;
            } catch (e) {
              if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw e;
            }
          }
        }
        return n;
      };
      bytes = topUp();
      const st = fs.statfsSync(dir);
      if (st.bavail !== 0) {
        fs.closeSync(fd);
        fs.rmSync(file, { force: true });
        throw new Error(`fillVar(${node}): ${dir} still has ${st.bavail} free blocks after writing ${bytes} bytes`);
      }
      // Keep it full: a daemon that deletes a file must not get room back.
      const timer = setInterval(() => {
        try {
          const f = this.fillers.get(node);
          if (f) f.bytes += topUp();
        } catch {
          /* read-only meanwhile: try again later */
        }
      }, 100);
      timer.unref();
      this.fillers.set(node, { fd, file, timer, bytes });
    });
    return { ...t, bytes };
  }

  private stopFiller(node: NodeName, removeFile: boolean): void {
    const f = this.fillers.get(node);
    if (!f) return;
    clearInterval(f.timer);
    try {
      fs.closeSync(f.fd);
    } catch {
      /* closed */
    }
    if (removeFile) {
      try {
        fs.rmSync(f.file, { force: true });
      } catch {
        /* read-only: the unmount takes it */
      }
    }
    this.fillers.delete(node);
  }

  async unfillVar(node: NodeName): Promise<FaultTime> {
    return this.timed(() => {
      const f = this.fillers.get(node);
      if (!f) return;
      if (this.readOnly.has(node)) throw new Error(`unfillVar(${node}): var/ is read-only; varReadWrite first`);
      this.stopFiller(node, true);
    });
  }

  async varReadOnly(node: NodeName): Promise<FaultTime> {
    const dir = this.mounted(node);
    return this.timed(async () => {
      let last = '';
      // A status write (temp file + rename) is open for a millisecond or so: retry over ~2 s.
      for (let i = 0; i < 100; i++) {
        const r = await mountCmd(['-o', 'remount,ro', dir]);
        if (r.ok) {
          last = '';
          break;
        }
        last = r.err;
        if (!/busy/i.test(r.err)) break;
        await delay(20);
      }
      if (last) {
        const w = writersUnder(dir);
        throw new Error(
          `varReadOnly(${node}): mount -o remount,ro ${dir}: ${last}` +
            (w.length ? `; files open for writing (set LOGPATH outside var/): ${w.join('; ')}` : ''),
        );
      }
      this.readOnly.add(node);
      try {
        fs.writeFileSync(path.join(dir, '.phalab-probe'), 'x');
        throw new Error(`varReadOnly(${node}): ${dir} still takes writes after remount,ro`);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EROFS') throw e;
      }
    });
  }

  async varReadWrite(node: NodeName): Promise<FaultTime> {
    const dir = this.mounted(node);
    return this.timed(async () => {
      const r = await mountCmd(['-o', 'remount,rw', dir]);
      if (!r.ok) throw new Error(`varReadWrite(${node}): mount -o remount,rw ${dir}: ${r.err}`);
      this.readOnly.delete(node);
    });
  }

  // ------------------------------------------------------- status.dat
  private mustExist(node: NodeName, what: string): string {
    const file = this.statusFile(node);
    if (!fs.existsSync(file)) throw new Error(`${what}(${node}): ${file} does not exist (start pha first)`);
    return file;
  }

  /**
   * Damage the file in place under pha's own status lock: an update already
   * in flight (read, then rename over) would otherwise replace the damage
   * before any daemon could see it, and there would be nothing to report.
   */
  private async underStatusLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
    // Loaded here, not at the top: proper-lockfile hooks the process's signals
    // (signal-exit), and a lab process must die by the signal it is sent.
    const { default: lockfile } = await import('proper-lockfile');
    const release = await lockfile.lock(file, {
      realpath: false,
      stale: 2000,
      retries: { retries: 100, minTimeout: 2, maxTimeout: 25 },
    });
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  async corruptStatus(node: NodeName): Promise<FaultTime> {
    const file = this.mustExist(node, 'corruptStatus');
    return this.underStatusLock(file, () =>
      this.timed(() => {
        // A torn JSON start, binary junk, no end: what a crash mid-write or an editor leaves.
        const junk = Buffer.concat([
          Buffer.from('{"STATUS":"ONL'),
          randomBytes(48),
          Buffer.from([0, 0xff, 0xfe, 0x0a]),
        ]);
        const fd = fs.openSync(file, 'r+');
        try {
          fs.ftruncateSync(fd, 0);
          fs.writeSync(fd, junk, 0, junk.length, 0);
        } finally {
          fs.closeSync(fd);
        }
      }),
    );
  }

  async truncateStatus(node: NodeName, to: 'half' | 'zero' = 'half'): Promise<FaultTime> {
    const file = this.mustExist(node, 'truncateStatus');
    return this.underStatusLock(file, () =>
      this.timed(() => {
        const size = fs.statSync(file).size;
        fs.truncateSync(file, to === 'zero' ? 0 : Math.floor(size / 2));
      }),
    );
  }

  async deleteStatus(node: NodeName): Promise<FaultTime> {
    const file = this.mustExist(node, 'deleteStatus');
    return this.timed(() => fs.rmSync(file));
  }

  /** Undo what is injected (keeps the tmpfs); errors are collected by `attempt`. */
  async restore(attempt: (fn: () => Promise<unknown>) => Promise<void>): Promise<void> {
    for (const node of [...this.readOnly]) await attempt(() => this.varReadWrite(node));
    for (const node of [...this.fillers.keys()]) await attempt(() => this.unfillVar(node));
  }

  async unmountAll(): Promise<unknown> {
    let first: unknown;
    for (const node of [...this.mounts.keys()]) {
      try {
        await this.unmountVar(node);
      } catch (e) {
        first ??= e;
      }
    }
    return first;
  }

  /** For exit handlers: close the fillers, lazy-unmount. */
  cleanupSync(): void {
    for (const node of [...this.fillers.keys()]) this.stopFiller(node, false);
    for (const dir of this.mounts.values()) {
      try {
        execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
      } catch {
        /* best effort on the way out */
      }
    }
    this.mounts.clear();
    this.readOnly.clear();
  }
}
