/**
 * More faults for the lab, the way an operator's bad day brings them: a full
 * or read-only var/, a corrupt status file, one daemon killed, a check that
 * hangs, a lossy cable.
 *
 *   const xf = extraFaults(lab);          // one per lab; undone on lab.destroy() and every exit path
 *   await installNode(lab, 'lb1');
 *   await xf.varOnTmpfs('lb1');           // BEFORE pha starts on lb1
 *   await lab.cli('lb1', ['start']);
 *   await xf.fillVar('lb1');  …  await xf.unfillVar('lb1');
 *   await xf.startLoss('lb1', 0.1);  …  const stats = await xf.stopLoss('lb1');
 *   await xf.restoreAll();                // undo what is still injected (keeps the tmpfs)
 *   await xf.unmountVar('lb1');           // after pha stopped there
 *
 * var/ read-only: Linux refuses `mount -o remount,ro` (EBUSY) while any file on
 * the filesystem is open for writing, and pha's daemons keep their logs open in
 * var/ when LOGPATH is the default. varReadOnly() therefore needs LOGPATH
 * outside var/ (it retries short-lived writers and otherwise throws, naming the
 * processes that hold files open). The full disk (fillVar) has no such limit
 * and hits the logs too.
 *
 * Random loss: tc clsact on the node's bridge port in the switch namespace, a
 * u32 match-all filter on both ingress (node → switch) and egress (switch →
 * node) with `action mirred egress redirect dev <dead veth>`. A controller
 * process adds both filters for a 20 ms slot with probability p and removes
 * them otherwise (one `tc -batch` fed through a pipe), so both directions of
 * the cable lose the same slots: the loss is about p per packet in each
 * direction and about p per ping round trip, but bursty at slot granularity
 * (packets closer than 20 ms are lost together). There is no netem, no
 * iptables and no gact drop action on this kernel. The dead veth's peer is up
 * but attached to nothing (no bridge, no address, no forwarding): frames end
 * there silently (with the peer down, mirred would drop as well but logs
 * "device is down" to the kernel log for every frame).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ownerAlive } from './cleanup.js';
import { delay, ip, ipOk, killGroup, killPid, pidAlive, runArgv } from './exec.js';
import { type NodeInstall, readDaemonPids } from './install.js';
import type { LossStats as ControllerStats, LossSettings } from './loss-controller.js';
import type { FaultTime, Lab, NodeName } from './types.js';

export type DaemonName = 'sender' | 'receiver' | 'supervise';

/** Source name of the lab's var/ tmpfs mounts: `phalab-<prefix><node>` (found again by the sweep). */
const MOUNT_SOURCE = /^phalab-(pha[0-9a-f]{6}-)(lb1|lb2)$/;

/**
 * A resource like res/test whose check hangs on demand: installed as
 * `<INSTALLDIR>/res/hang` (pha looks there first). `hang start|stop|check <file>`:
 * start touches <file>, stop removes it, check exits 0 when <file> exists —
 * but while `<file>.hang` exists, check sleeps 3600 s first (a child process,
 * so only a kill of the whole process group ends it).
 */
export const HANG_SCRIPT = `#!/bin/sh
# pha lab resource: like res/test, but "check" hangs while <file>.hang exists.
#   hang start|stop|check <file>
[ $# -eq 2 ] && [ -n "$2" ] || { echo "usage: hang start|stop|check <file>" >&2; exit 2; }
case $1 in
start) touch -- "$2" ;;
stop) rm -f -- "$2" ;;
check)
    if [ -e "$2.hang" ]; then sleep 3600; exit 1; fi
    [ -f "$2" ] ;;
*) echo "usage: hang start|stop|check <file>" >&2; exit 2 ;;
esac
`;

export interface FillResult extends FaultTime {
  /** Bytes the filler wrote before ENOSPC. */
  bytes: number;
}

export interface KillResult extends FaultTime {
  pid: number;
}

export interface LossStats extends ControllerStats {
  /** Frames the dead veth swallowed (its peer's rx counter). */
  framesDropped: number;
}

export interface ExtraFaults {
  /** Mount a fresh tmpfs (default 2 MiB) on `<installDir>/var` — before pha starts on the node. */
  varOnTmpfs(node: NodeName, opts?: { sizeKb?: number }): Promise<FaultTime>;
  /** Unmount it (lazily if busy); pha should be stopped there first. Also undoes fillVar / varReadOnly. */
  unmountVar(node: NodeName): Promise<void>;
  /** Fill the var/ tmpfs with a file until ENOSPC, and keep it full (topped up every 100 ms) until unfillVar. */
  fillVar(node: NodeName): Promise<FillResult>;
  unfillVar(node: NodeName): Promise<FaultTime>;
  /** `mount -o remount,ro` of the var/ tmpfs (needs LOGPATH outside var/, see the module comment). */
  varReadOnly(node: NodeName): Promise<FaultTime>;
  varReadWrite(node: NodeName): Promise<FaultTime>;
  /** Overwrite status.dat in place (same inode) with garbage that is not JSON. */
  corruptStatus(node: NodeName): Promise<FaultTime>;
  /** Truncate status.dat in place: to half its length (default) or to 0 bytes. */
  truncateStatus(node: NodeName, to?: 'half' | 'zero'): Promise<FaultTime>;
  deleteStatus(node: NodeName): Promise<FaultTime>;
  /** SIGKILL one daemon by the pid in var/run/<daemon> (checked to be that daemon); resolves once it is gone. */
  killDaemon(node: NodeName, daemon: DaemonName): Promise<KillResult>;
  /** Write `<installDir>/res/hang` (HANG_SCRIPT); before pha starts (the config names it). */
  installHangScript(node: NodeName): string;
  /** Make the node's `hang` resource's check hang (creates `<RES_hang file>.hang`). */
  hangCheck(node: NodeName): Promise<FaultTime>;
  unhangCheck(node: NodeName): Promise<FaultTime>;
  /** Pids of `hang check` calls running (hung) on the node. */
  hungChecks(node: NodeName): Promise<number[]>;
  /** Random loss with probability p per 20 ms slot on the node's cable (both directions). */
  startLoss(node: NodeName, p: number, opts?: { slotMs?: number }): Promise<FaultTime>;
  stopLoss(node: NodeName): Promise<LossStats>;
  /** Undo every fault still injected (loss, full, read-only, hang); the tmpfs mounts stay. */
  restoreAll(): Promise<void>;
  /** restoreAll() and unmount every var/ tmpfs (done on lab.destroy()). */
  cleanup(): Promise<void>;
}

interface Filler {
  fd: number;
  file: string;
  timer: NodeJS.Timeout;
  bytes: number;
}

interface Loss {
  child: ChildProcess;
  port: string;
  dead: string;
  deadPeer: string;
  done: Promise<LossStats | null>;
}

const CHUNK = Buffer.alloc(64 * 1024, 0x55);

function mountInfo(): Array<{ target: string; fstype: string; source: string; options: string }> {
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

function cmdline(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** Zombies count as gone. */
function procGone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const st = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return st === 'Z' || st === 'X';
  } catch {
    return true;
  }
}

/** tools/lab/loss-controller.ts, compiled beside this file. */
const LOSS_CONTROLLER = fileURLToPath(new URL('./loss-controller.js', import.meta.url));

class ExtraFaultsImpl implements ExtraFaults {
  private readonly mounts = new Map<NodeName, string>();
  private readonly fillers = new Map<NodeName, Filler>();
  private readonly readOnly = new Set<NodeName>();
  private readonly losses = new Map<NodeName, Loss>();
  private readonly hangFlags = new Set<string>();

  constructor(private readonly lab: Lab) {}

  private inst(node: NodeName): NodeInstall {
    const inst = this.lab.installs[node];
    if (!inst) throw new Error(`installNode(lab, '${node}') first`);
    return inst;
  }

  private varDir(node: NodeName): string {
    return path.join(this.inst(node).dir, 'var');
  }

  private statusFile(node: NodeName): string {
    return path.join(this.varDir(node), 'status.dat');
  }

  private mounted(node: NodeName): string {
    const dir = this.mounts.get(node);
    if (!dir)
      throw new Error(`var/ of ${node} is not on a lab tmpfs: call varOnTmpfs('${node}') before pha starts there`);
    return dir;
  }

  private timed = async (fn: () => Promise<void> | void): Promise<FaultTime> => {
    if (this.lab.destroyed) throw new Error(`lab ${this.lab.prefix} is destroyed`);
    const start = performance.now();
    await fn();
    return { start, end: performance.now() };
  };

  // ------------------------------------------------------------- var/

  async varOnTmpfs(node: NodeName, opts: { sizeKb?: number } = {}): Promise<FaultTime> {
    const inst = this.inst(node);
    const pids = await readDaemonPids(inst);
    const running = (['sender', 'receiver', 'supervise'] as const).filter(
      (d) => pidAlive(pids[d]) && cmdline(pids[d]).some((a) => a.includes(`pha-${d}`)),
    );
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

  async corruptStatus(node: NodeName): Promise<FaultTime> {
    const file = this.mustExist(node, 'corruptStatus');
    return this.timed(() => {
      // A torn JSON start, binary junk, no end: what a crash mid-write or an editor leaves.
      const junk = Buffer.concat([Buffer.from('{"STATUS":"ONL'), randomBytes(48), Buffer.from([0, 0xff, 0xfe, 0x0a])]);
      const fd = fs.openSync(file, 'r+');
      try {
        fs.ftruncateSync(fd, 0);
        fs.writeSync(fd, junk, 0, junk.length, 0);
      } finally {
        fs.closeSync(fd);
      }
    });
  }

  async truncateStatus(node: NodeName, to: 'half' | 'zero' = 'half'): Promise<FaultTime> {
    const file = this.mustExist(node, 'truncateStatus');
    return this.timed(() => {
      const size = fs.statSync(file).size;
      fs.truncateSync(file, to === 'zero' ? 0 : Math.floor(size / 2));
    });
  }

  async deleteStatus(node: NodeName): Promise<FaultTime> {
    const file = this.mustExist(node, 'deleteStatus');
    return this.timed(() => fs.rmSync(file));
  }

  // ---------------------------------------------------------- daemons

  async killDaemon(node: NodeName, daemon: DaemonName): Promise<KillResult> {
    const pid = (await readDaemonPids(this.inst(node)))[daemon];
    if (!pid || !pidAlive(pid)) throw new Error(`killDaemon(${node}, ${daemon}): no live pid in var/run/${daemon}`);
    if (!cmdline(pid).some((a) => a.includes(`pha-${daemon}`))) {
      throw new Error(`killDaemon(${node}, ${daemon}): pid ${pid} is not pha-${daemon} (${cmdline(pid).join(' ')})`);
    }
    const t = await this.timed(async () => {
      killPid(pid, 'SIGKILL');
      for (let i = 0; i < 300 && !procGone(pid); i++) await delay(10);
      if (!procGone(pid)) throw new Error(`killDaemon(${node}, ${daemon}): pid ${pid} still there 3 s after SIGKILL`);
    });
    return { ...t, pid };
  }

  // ------------------------------------------------------- hung check

  installHangScript(node: NodeName): string {
    const dir = path.join(this.inst(node).dir, 'res');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'hang');
    fs.writeFileSync(file, HANG_SCRIPT, { mode: 0o755 });
    fs.chmodSync(file, 0o755);
    return file;
  }

  private hangFile(node: NodeName): string {
    const line = this.inst(node).config.find(([k]) => k === 'RES_hang');
    if (!line?.[1].trim()) throw new Error(`${node}: no RES_hang=<file> in its config`);
    return line[1].trim().split(/\s+/)[0]!;
  }

  async hangCheck(node: NodeName): Promise<FaultTime> {
    const flag = `${this.hangFile(node)}.hang`;
    return this.timed(() => {
      fs.writeFileSync(flag, 'checks of this resource hang while this file exists\n');
      this.hangFlags.add(flag);
    });
  }

  async unhangCheck(node: NodeName): Promise<FaultTime> {
    const flag = `${this.hangFile(node)}.hang`;
    return this.timed(() => {
      fs.rmSync(flag, { force: true });
      this.hangFlags.delete(flag);
    });
  }

  async hungChecks(node: NodeName): Promise<number[]> {
    const file = this.hangFile(node);
    const pids = await this.lab.pids(node);
    return pids.filter((p) => {
      const a = cmdline(p);
      const i = a.findIndex((x) => x.endsWith('/res/hang'));
      return i >= 0 && a[i + 1] === 'check' && a[i + 2] === file;
    });
  }

  // ------------------------------------------------------------- loss

  async startLoss(node: NodeName, p: number, opts: { slotMs?: number } = {}): Promise<FaultTime> {
    if (!(p >= 0 && p <= 1)) throw new Error(`startLoss: p must be within 0..1, not ${p}`);
    if (this.losses.has(node)) throw new Error(`startLoss(${node}): already lossy`);
    const slotMs = opts.slotMs ?? 20;
    const sw = this.lab.switchNs;
    const port = this.lab.nodes[node].port;
    const dead = `ld-${node}`;
    const deadPeer = `ldp-${node}`;
    return this.timed(async () => {
      await ipOk(['-n', sw, 'link', 'del', dead]);
      await ip(['-n', sw, 'link', 'add', dead, 'type', 'veth', 'peer', 'name', deadPeer]);
      await ip(['-n', sw, 'link', 'set', deadPeer, 'up']);
      await ip(['-n', sw, 'link', 'set', dead, 'up']);
      await runArgv(['tc', '-n', sw, 'qdisc', 'del', 'dev', port, 'clsact']);
      const q = await runArgv(['tc', '-n', sw, 'qdisc', 'add', 'dev', port, 'clsact']);
      if (q.code !== 0) throw new Error(`tc qdisc add dev ${port} clsact: ${q.stderr.trim()}`);
      const child = spawn(process.execPath, [LOSS_CONTROLLER], {
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, PHALAB_LOSS: JSON.stringify({ ns: sw, port, dead, p, slotMs } satisfies LossSettings) },
      });
      this.lab.adopt(child, { infra: true });
      child.stdin!.on('error', () => {
        /* gone */
      });
      let out = '';
      let err = '';
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const ready = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`loss controller for ${node} did not start: ${err}`)), 10_000);
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('ready\n')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`loss controller for ${node} exited ${code}: ${err}`));
        });
      });
      const done = new Promise<LossStats | null>((resolve) => {
        child.once('exit', () => {
          const line = out.split('\n').find((l) => l.startsWith('{'));
          try {
            resolve(line ? { ...(JSON.parse(line) as ControllerStats), framesDropped: 0 } : null);
          } catch {
            resolve(null);
          }
        });
      });
      this.losses.set(node, { child, port, dead, deadPeer, done });
      try {
        await ready;
      } catch (e) {
        await this.stopLoss(node).catch(() => undefined);
        throw e;
      }
    });
  }

  async stopLoss(node: NodeName): Promise<LossStats> {
    const l = this.losses.get(node);
    if (!l) throw new Error(`stopLoss(${node}): no loss running`);
    this.losses.delete(node);
    l.child.stdin!.end();
    const timeout = delay(5000).then(() => null);
    let stats = await Promise.race([l.done, timeout]);
    if (l.child.exitCode === null && l.child.signalCode === null) {
      killGroup(l.child.pid, 'SIGKILL');
      stats = null;
    }
    const sw = this.lab.switchNs;
    let framesDropped = 0;
    try {
      const rx = await ip(['-n', sw, '-s', '-j', 'link', 'show', 'dev', l.deadPeer]);
      framesDropped =
        (JSON.parse(rx) as Array<{ stats64?: { rx?: { packets?: number } } }>)[0]?.stats64?.rx?.packets ?? 0;
    } catch {
      /* counters are a nicety */
    }
    await runArgv(['tc', '-n', sw, 'qdisc', 'del', 'dev', l.port, 'clsact']);
    await ipOk(['-n', sw, 'link', 'del', l.dead]);
    if (!stats) throw new Error(`stopLoss(${node}): the controller gave no statistics (killed)`);
    return { ...stats, framesDropped };
  }

  // ---------------------------------------------------------- cleanup

  async restoreAll(): Promise<void> {
    const errors: string[] = [];
    const attempt = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (e) {
        errors.push((e as Error).message);
      }
    };
    for (const node of [...this.losses.keys()]) await attempt(() => this.stopLoss(node));
    for (const node of [...this.readOnly]) await attempt(() => this.varReadWrite(node));
    for (const node of [...this.fillers.keys()]) await attempt(() => this.unfillVar(node));
    for (const flag of [...this.hangFlags]) {
      fs.rmSync(flag, { force: true });
      this.hangFlags.delete(flag);
    }
    if (errors.length) throw new Error(`restoreAll: ${errors.join('; ')}`);
  }

  async cleanup(): Promise<void> {
    let first: unknown;
    try {
      await this.restoreAll();
    } catch (e) {
      first = e;
    }
    for (const node of [...this.mounts.keys()]) {
      try {
        await this.unmountVar(node);
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
  }

  /** For exit handlers: kill the controllers, close the fillers, lazy-unmount. */
  cleanupSync(): void {
    for (const l of this.losses.values()) killGroup(l.child.pid, 'SIGKILL');
    this.losses.clear();
    for (const node of [...this.fillers.keys()]) this.stopFiller(node, false);
    for (const flag of this.hangFlags) fs.rmSync(flag, { force: true });
    this.hangFlags.clear();
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

const byLab = new WeakMap<Lab, ExtraFaultsImpl>();

/**
 * The extra faults of a lab (one instance per lab). The first call sweeps var/
 * tmpfs mounts left by crashed runs and hooks the lab's destroy() and
 * destroySync() so that everything injected here is undone first — on
 * destroy() and on every exit path the lab itself covers.
 */
export function extraFaults(lab: Lab): ExtraFaults {
  let xf = byLab.get(lab);
  if (xf) return xf;
  sweepExtraLeftovers();
  const impl = new ExtraFaultsImpl(lab);
  xf = impl;
  byLab.set(lab, impl);
  const destroy = lab.destroy.bind(lab);
  const destroySync = lab.destroySync.bind(lab);
  const hooks = lab as { destroy: () => Promise<void>; destroySync: () => void };
  hooks.destroy = async () => {
    try {
      await impl.cleanup();
    } catch {
      impl.cleanupSync();
    }
    return destroy();
  };
  hooks.destroySync = () => {
    impl.cleanupSync();
    destroySync();
  };
  return impl;
}

/** Lazily unmount var/ tmpfs mounts of labs whose owner process is gone (SIGKILLed runs). Resolves to the mount points. */
export function sweepExtraLeftovers(): string[] {
  const swept: string[] = [];
  for (const m of mountInfo()) {
    const match = m.fstype === 'tmpfs' ? MOUNT_SOURCE.exec(m.source) : null;
    if (!match || ownerAlive(match[1]!)) continue;
    try {
      execFileSync('umount', ['-l', m.target], { stdio: 'ignore' });
      swept.push(m.target);
    } catch {
      /* already gone */
    }
  }
  return swept;
}
