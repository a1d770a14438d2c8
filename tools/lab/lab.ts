/**
 * The network-namespace lab: two pha nodes, a gateway and a client on one
 * bridge, all in 198.18.0.0/15, with faults injected the way they happen.
 *
 *   <p>sw   bridge br0; ports p-lb1, p-lb2, p-gw, p-cl (veth, other end "eth0")
 *   <p>gw   198.18.0.1/24   (the kernel answers ICMP echo)
 *   <p>lb1  198.18.0.11/24  default via 198.18.0.1, host name lb1
 *   <p>lb2  198.18.0.12/24  default via 198.18.0.1, host name lb2
 *   <p>cl   198.18.0.50/24  default via 198.18.0.1
 *   VIP     198.18.0.100/24 on eth0 of the holder (managed by pha's res/ipaddr)
 *
 * Commands run in a host with `ip netns exec <ns>` (so /etc/netns/<ns>/hosts is
 * bind-mounted over /etc/hosts); on a node additionally inside the UTS
 * namespace of the node's keeper process (`nsenter --uts=/proc/<keeper>/ns/uts`,
 * so `hostname` says lb1) and with env NODENAME=<node>.
 */
import { type ChildProcess, spawn as cpSpawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  ETC_NETNS_DIR,
  NS_SUFFIXES,
  netnsDelSync,
  netnsPidsSync,
  registerLab,
  removeOwnerPidFile,
  sweepLeftovers,
  unregisterLab,
  writeOwnerPidFile,
} from './cleanup.js';
import {
  delay,
  inLabRange,
  ip,
  ipOk,
  killGroup,
  killPid,
  mergeEnv,
  netnsPids,
  pidAlive,
  type RunOptions,
  type RunResult,
  runArgv,
} from './exec.js';

export type { RunOptions, RunResult } from './exec.js';
export * from './types.js';

import { labFaults } from './lab-faults.js';
import {
  type CreateLabOptions,
  GW_IP,
  HOST_IPS,
  type HostName,
  type HostRef,
  type Lab,
  type LabFaults,
  type LabHost,
  type LabNode,
  type LabSpawnOptions,
  NODE_NAMES,
  type NodeFaults,
  type NodeInstall,
  type NodeName,
  VIP,
  VIP_CIDR,
} from './types.js';
import { wire } from './wiring.js';

const PORTS: Readonly<Record<HostName, string>> = { lb1: 'p-lb1', lb2: 'p-lb2', gw: 'p-gw', client: 'p-cl' };

class NodeImpl implements LabNode {
  readonly dev = 'eth0' as const;
  keeperPid = 0;
  constructor(
    readonly name: NodeName,
    readonly ns: string,
    readonly ip: string,
    readonly port: string,
  ) {}
}

class LabImpl implements Lab {
  readonly nodes: { lb1: NodeImpl; lb2: NodeImpl };
  readonly gw: LabHost;
  readonly client: LabHost;
  readonly switchNs: string;
  readonly vip = VIP;
  readonly vipCidr = VIP_CIDR;
  readonly installs: Partial<Record<NodeName, NodeInstall>> = {};
  readonly faults: LabFaults;
  destroyed = false;

  private readonly allNs: string[];
  private readonly tracked = new Map<number, ChildProcess>();
  private readonly infra = new Set<number>();
  private readonly state: Record<NodeName, NodeFaults>;
  private readonly frozenPids: Record<NodeName, Set<number>> = { lb1: new Set(), lb2: new Set() };
  private destroying: Promise<void> | null = null;

  constructor(
    readonly prefix: string,
    readonly ipv6 = false,
  ) {
    this.switchNs = `${prefix}sw`;
    this.allNs = NS_SUFFIXES.map((s) => `${prefix}${s}`);
    this.nodes = {
      lb1: new NodeImpl('lb1', `${prefix}lb1`, HOST_IPS.lb1, PORTS.lb1),
      lb2: new NodeImpl('lb2', `${prefix}lb2`, HOST_IPS.lb2, PORTS.lb2),
    };
    this.gw = { name: 'gw', ns: `${prefix}gw`, ip: GW_IP, dev: 'eth0', port: PORTS.gw };
    this.client = { name: 'client', ns: `${prefix}cl`, ip: HOST_IPS.client, dev: 'eth0', port: PORTS.client };
    const clean = (): NodeFaults => ({
      dead: false,
      frozen: false,
      linkDown: false,
      gatewayLost: false,
      isolated: false,
    });
    this.state = { lb1: clean(), lb2: clean() };
    this.faults = labFaults({
      nodes: this.nodes,
      switchNs: this.switchNs,
      state: this.state,
      frozenPids: this.frozenPids,
      assertLive: () => this.assertLive(),
      signalNode: (node, signal) => this.signalNode(node, signal),
      pids: (node) => this.pids(node),
      startKeeper: (node) => this.startKeeper(node),
      ipv6,
    });
  }

  // ------------------------------------------------------------- building

  async build(): Promise<void> {
    await wire(this.allNs, this.switchNs, [this.gw, this.nodes.lb1, this.nodes.lb2, this.client], this.ipv6);
    await Promise.all(NODE_NAMES.map((n) => this.startKeeper(n)));
  }

  private async startKeeper(node: NodeName): Promise<void> {
    const n = this.nodes[node];
    const child = cpSpawn(
      'ip',
      [
        'netns',
        'exec',
        n.ns,
        'unshare',
        '--uts',
        'sh',
        '-c',
        'hostname "$1" && echo ready && exec sleep infinity',
        'sh',
        node,
      ],
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.adopt(child, { infra: true });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    let onExit: ((code: number | null) => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`keeper of ${node} did not start: ${err}`)), 10_000);
        onExit = (code) => {
          clearTimeout(timer);
          reject(new Error(`keeper of ${node} exited ${code}: ${err}`));
        };
        child.once('exit', onExit);
        child.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    } catch (e) {
      killGroup(child.pid, 'SIGKILL');
      throw e;
    } finally {
      if (onExit) child.removeListener('exit', onExit);
    }
    child.stdout!.destroy();
    child.stderr!.destroy();
    child.unref();
    n.keeperPid = child.pid!;
    child.once('exit', () => {
      if (n.keeperPid === child.pid) n.keeperPid = 0;
    });
  }

  // --------------------------------------------------------------- access

  host(ref: HostRef): LabHost {
    const name = typeof ref === 'string' ? ref : ref.name;
    switch (name) {
      case 'lb1':
        return this.nodes.lb1;
      case 'lb2':
        return this.nodes.lb2;
      case 'gw':
        return this.gw;
      case 'client':
        return this.client;
      default:
        throw new Error(`no lab host ${String(name)}`);
    }
  }

  faultState(node: NodeName): Readonly<NodeFaults> {
    return { ...this.state[node] };
  }

  private isNode(h: LabHost): h is NodeImpl {
    return h.name === 'lb1' || h.name === 'lb2';
  }

  argv(host: HostRef, cmd: string, args: string[] = []): string[] {
    const h = this.host(host);
    const argv = ['ip', 'netns', 'exec', h.ns];
    if (this.isNode(h) && h.keeperPid && pidAlive(h.keeperPid)) {
      argv.push('nsenter', `--uts=/proc/${h.keeperPid}/ns/uts`, '--');
    }
    argv.push(cmd, ...args);
    return argv;
  }

  private envFor(h: LabHost, extra?: Record<string, string | undefined>): Record<string, string | undefined> {
    return this.isNode(h) ? { NODENAME: h.name, ...extra } : { ...extra };
  }

  run(host: HostRef, cmd: string, args: string[] = [], opts: RunOptions = {}): Promise<RunResult> {
    if (this.destroyed) return Promise.reject(new Error(`lab ${this.prefix} is destroyed`));
    const h = this.host(host);
    return runArgv(this.argv(h, cmd, args), { ...opts, env: this.envFor(h, opts.env) }, (c) => this.adopt(c));
  }

  spawn(host: HostRef, cmd: string, args: string[] = [], opts: LabSpawnOptions = {}): ChildProcess {
    this.assertLive();
    const h = this.host(host);
    const argv = this.argv(h, cmd, args);
    const child = cpSpawn(argv[0]!, argv.slice(1), {
      env: mergeEnv(this.envFor(h, opts.env)),
      detached: true,
      stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
    });
    return this.adopt(child);
  }

  adopt(child: ChildProcess, opts: { infra?: boolean } = {}): ChildProcess {
    const pid = child.pid;
    if (pid === undefined) return child;
    this.tracked.set(pid, child);
    if (opts.infra) this.infra.add(pid);
    child.once('exit', () => {
      this.tracked.delete(pid);
      this.infra.delete(pid);
    });
    return child;
  }

  async ping(from: HostRef, to: HostRef | string, timeoutS = 1): Promise<boolean> {
    let addr: string;
    if (typeof to === 'string' && (to === 'lb1' || to === 'lb2' || to === 'gw' || to === 'client'))
      addr = this.host(to).ip;
    else if (typeof to === 'string') addr = to;
    else addr = to.ip;
    if (!inLabRange(addr)) throw new Error(`lab refuses to ping ${addr}: only 198.18.0.0/15`);
    const r = await this.run(from, 'ping', ['-n', '-q', '-c1', `-W${timeoutS}`, addr], {
      timeoutMs: (timeoutS + 2) * 1000,
    });
    return r.code === 0;
  }

  async pids(host: HostRef, includeInfra = false): Promise<number[]> {
    const all = await netnsPids(this.host(host).ns);
    return includeInfra ? all : all.filter((p) => !this.infra.has(p));
  }

  async vipHolders(opts: { effective?: boolean; vip?: string } = {}): Promise<NodeName[]> {
    const vip = opts.vip ?? VIP;
    const family = vip.includes(':') ? '-6' : '-4';
    const held = await Promise.all(
      NODE_NAMES.map(async (n) => {
        try {
          const out = await ip(['-n', this.nodes[n].ns, '-o', family, 'addr', 'show', 'dev', 'eth0']);
          return out.includes(` inet${family === '-6' ? '6' : ''} ${vip}/`);
        } catch {
          return false;
        }
      }),
    );
    return NODE_NAMES.filter((n, i) => {
      if (!held[i]) return false;
      if (!opts.effective) return true;
      const s = this.state[n];
      return !s.dead && !s.frozen && !s.linkDown;
    });
  }

  cli(node: NodeName, input: string[] | { stdin: string }, opts: RunOptions = {}): Promise<RunResult> {
    const inst = this.installs[node];
    if (!inst) throw new Error(`installNode(lab, '${node}') first`);
    const args = Array.isArray(input) ? input : [];
    return this.run(node, process.execPath, [inst.cliPath, ...args], {
      ...opts,
      stdin: Array.isArray(input) ? opts.stdin : input.stdin,
      env: { NODENAME: node, PHA_CONFIG: inst.configPath, ...opts.env },
    });
  }

  private assertLive(): void {
    if (this.destroyed) throw new Error(`lab ${this.prefix} is destroyed`);
  }

  // --------------------------------------------------------------- faults

  /** Signal every non-infra process in the node's namespace; for SIGKILL repeat until none is left. */
  private async signalNode(node: NodeName, signal: NodeJS.Signals): Promise<number[]> {
    const hit = new Set<number>();
    const passes = signal === 'SIGKILL' ? 20 : 2;
    for (let pass = 0; pass < passes; pass++) {
      const pids = await this.pids(node);
      const todo = signal === 'SIGKILL' ? pids : pids.filter((p) => !hit.has(p));
      if (todo.length === 0) break;
      for (const p of todo) if (killPid(p, signal)) hit.add(p);
      if (signal === 'SIGKILL') await delay(10);
    }
    return [...hit];
  }

  // ------------------------------------------------------------- teardown

  destroy(): Promise<void> {
    if (!this.destroying) this.destroying = this.doDestroy();
    return this.destroying;
  }

  private async doDestroy(): Promise<void> {
    this.destroyed = true;
    for (const [pid] of this.tracked) killGroup(pid, 'SIGKILL');
    // Everything still inside our namespaces (daemons started by pha-cli, keepers).
    for (let pass = 0; pass < 20; pass++) {
      const pids = (await Promise.all(this.allNs.map((ns) => netnsPids(ns)))).flat();
      if (pids.length === 0) break;
      for (const p of pids) killPid(p, 'SIGKILL');
      await delay(10);
    }
    await Promise.all(this.allNs.map((ns) => ipOk(['netns', 'del', ns])));
    this.removeFiles();
    unregisterLab(this);
  }

  destroySync(): void {
    this.destroyed = true;
    for (const [pid] of this.tracked) killGroup(pid, 'SIGKILL');
    for (let pass = 0; pass < 5; pass++) {
      const pids = this.allNs.flatMap((ns) => netnsPidsSync(ns));
      if (pids.length === 0) break;
      for (const p of pids) killPid(p, 'SIGKILL');
    }
    for (const ns of this.allNs) netnsDelSync(ns);
    this.removeFiles();
    unregisterLab(this);
  }

  private removeFiles(): void {
    for (const ns of this.allNs) rmSync(join(ETC_NETNS_DIR, ns), { recursive: true, force: true });
    for (const inst of Object.values(this.installs)) {
      if (inst?.ownedDir && !process.env.PHA_LAB_KEEP) rmSync(inst.dir, { recursive: true, force: true });
    }
    removeOwnerPidFile(this.prefix);
  }
}

/**
 * Build a lab. Sweeps leftovers of crashed runs first. On any failure the
 * partial lab is removed and the error rethrown. The lab is removed on every
 * exit path of this process (destroy(), process exit, SIGINT/SIGTERM/SIGHUP,
 * uncaught exception); SIGKILL leaves it for the next sweep.
 */
export async function createLab(opts: CreateLabOptions = {}): Promise<Lab> {
  if (opts.sweep !== false) await sweepLeftovers();
  const prefix = opts.prefix ?? `pha${randomBytes(3).toString('hex')}-`;
  if (!/^[a-z0-9][a-z0-9_.-]*$/i.test(prefix) || prefix.length > 40) throw new Error(`bad lab prefix ${prefix}`);
  const lab = new LabImpl(prefix, opts.ipv6 ?? false);
  // Owner pid file before any namespace exists, so a sweep never takes a lab under construction for a leftover.
  writeOwnerPidFile(prefix);
  registerLab(lab);
  try {
    await lab.build();
  } catch (e) {
    await lab.destroy();
    throw e;
  }
  return lab;
}

/** Why namespaces cannot be made here, or ok. */
export async function labSupport(): Promise<{ ok: boolean; reason?: string }> {
  if (process.platform !== 'linux')
    return { ok: false, reason: `platform ${process.platform} has no network namespaces` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return { ok: false, reason: 'not root' };
  for (const tool of [
    ['ip', '-V'],
    ['unshare', '--version'],
    ['nsenter', '--version'],
    ['ping', '-V'],
  ]) {
    const r = await runArgv(tool, { timeoutMs: 5000 });
    if (r.code === 127 || /ENOENT/.test(r.stderr)) return { ok: false, reason: `${tool[0]} not installed` };
  }
  const probe = `phaprobe${process.pid}`;
  try {
    await ip(['netns', 'add', probe]);
  } catch (e) {
    return { ok: false, reason: `cannot make network namespaces: ${(e as Error).message}` };
  }
  try {
    await ip(['-n', probe, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', probe, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
  } catch (e) {
    return { ok: false, reason: `no bridge/veth support: ${(e as Error).message}` };
  } finally {
    await ipOk(['netns', 'del', probe]);
  }
  return { ok: true };
}

/** True when running as root and `ip netns add` (with veth and bridge) works. */
export async function canMakeNamespaces(): Promise<boolean> {
  return (await labSupport()).ok;
}
