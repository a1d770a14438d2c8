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
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ownerAlive } from './cleanup.js';
import { delay, killPid, pidAlive } from './exec.js';
import { readDaemonPids } from './install.js';
import type { FaultTime, Lab, NodeName } from './types.js';

export type { DaemonName } from '../../src/daemon/pidfile.js';

import type { FillResult } from './faults-disk.js';

export type { FillResult } from './faults-disk.js';

import type { LossStats } from './faults-loss.js';

export type { LossStats } from './faults-loss.js';

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

export interface KillResult extends FaultTime {
  pid: number;
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
  /** Drop what the node sends to UDP `udpPort` (the heartbeat), the LAN otherwise intact. */
  dropHeartbeat(node: NodeName, udpPort: number): Promise<FaultTime>;
  passHeartbeat(node: NodeName): Promise<FaultTime>;
  /** Undo every fault still injected (loss, full, read-only, hang); the tmpfs mounts stay. */
  restoreAll(): Promise<void>;
  /** restoreAll() and unmount every var/ tmpfs (done on lab.destroy()). */
  cleanup(): Promise<void>;
}

import type { DaemonName } from '../../src/daemon/pidfile.js';
import { procArgv } from '../../src/proc.js';
import { DiskFaults, MOUNT_SOURCE, mountInfo } from './faults-disk.js';
import { LossFaults } from './faults-loss.js';
import { LabPart } from './lab-part.js';

const argv = (pid: number): string[] => procArgv(pid) ?? [];

class ExtraFaultsImpl extends LabPart implements ExtraFaults {
  private readonly disk = new DiskFaults(this.lab);
  private readonly loss = new LossFaults(this.lab);
  private readonly hangFlags = new Set<string>();

  // var/ and the status file (faults-disk.ts), the cable (faults-loss.ts)
  varOnTmpfs = (node: NodeName, opts?: { sizeKb?: number }) => this.disk.varOnTmpfs(node, opts);
  unmountVar = (node: NodeName) => this.disk.unmountVar(node);
  fillVar = (node: NodeName) => this.disk.fillVar(node);
  unfillVar = (node: NodeName) => this.disk.unfillVar(node);
  varReadOnly = (node: NodeName) => this.disk.varReadOnly(node);
  varReadWrite = (node: NodeName) => this.disk.varReadWrite(node);
  corruptStatus = (node: NodeName) => this.disk.corruptStatus(node);
  truncateStatus = (node: NodeName, to?: 'half' | 'zero') => this.disk.truncateStatus(node, to);
  deleteStatus = (node: NodeName) => this.disk.deleteStatus(node);
  startLoss = (node: NodeName, p: number, opts?: { slotMs?: number }) => this.loss.startLoss(node, p, opts);
  stopLoss = (node: NodeName) => this.loss.stopLoss(node);
  dropHeartbeat = (node: NodeName, udpPort: number) => this.loss.dropHeartbeat(node, udpPort);
  passHeartbeat = (node: NodeName) => this.loss.passHeartbeat(node);

  // ------------------------------------------------------ daemons, checks

  // ---------------------------------------------------------- daemons
  async killDaemon(node: NodeName, daemon: DaemonName): Promise<KillResult> {
    const pid = (await readDaemonPids(this.inst(node)))[daemon];
    if (!pid || !pidAlive(pid)) throw new Error(`killDaemon(${node}, ${daemon}): no live pid in var/run/${daemon}`);
    if (!argv(pid).some((a) => a.includes(`pha-${daemon}`))) {
      throw new Error(`killDaemon(${node}, ${daemon}): pid ${pid} is not pha-${daemon} (${argv(pid).join(' ')})`);
    }
    const t = await this.timed(async () => {
      killPid(pid, 'SIGKILL');
      for (let i = 0; i < 300 && pidAlive(pid); i++) await delay(10);
      if (pidAlive(pid)) throw new Error(`killDaemon(${node}, ${daemon}): pid ${pid} still there 3 s after SIGKILL`);
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
      const a = argv(p);
      const i = a.findIndex((x) => x.endsWith('/res/hang'));
      return i >= 0 && a[i + 1] === 'check' && a[i + 2] === file;
    });
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
    await this.loss.restore(attempt);
    await this.disk.restore(attempt);
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
    first ??= await this.disk.unmountAll();
    if (first) throw first;
  }

  /** For exit handlers: kill the controllers, close the fillers, lazy-unmount. */
  cleanupSync(): void {
    this.loss.cleanupSync();
    this.disk.cleanupSync();
    for (const flag of this.hangFlags) fs.rmSync(flag, { force: true });
    this.hangFlags.clear();
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
