/**
 * The cable's faults on a node's bridge port: random loss, drawn per 20 ms
 * slot by a controller process (loss-controller.ts; faults-extra.ts says
 * how), and a filter that drops the heartbeat alone (UDP to PORT), as a
 * misconfigured firewall would, the LAN otherwise intact. Both redirect what
 * they drop into a dead veth (tc clsact, u32, mirred: no iptables or netem).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { delay, ip, ipOk, killGroup, runArgv } from './exec.js';
import { LabPart } from './lab-part.js';
import type { LossStats as ControllerStats, LossSettings } from './loss-controller.js';
import type { FaultTime, NodeName } from './types.js';

/** tools/lab/loss-controller.ts, compiled beside this file. */
const LOSS_CONTROLLER = fileURLToPath(new URL('./loss-controller.js', import.meta.url));

interface Loss {
  child: ChildProcess;
  port: string;
  dead: string;
  deadPeer: string;
  done: Promise<LossStats | null>;
}

export interface LossStats extends ControllerStats {
  /** Frames the dead veth swallowed (its peer's rx counter). */
  framesDropped: number;
}

export class LossFaults extends LabPart {
  private readonly losses = new Map<NodeName, Loss>();
  private readonly filters = new Map<NodeName, { port: string; dead: string }>();

  // ------------------------------------------------------- heartbeat filter
  /** What the node sends to UDP `udpPort` is dropped at its bridge port; everything else passes. */
  async dropHeartbeat(node: NodeName, udpPort: number): Promise<FaultTime> {
    if (this.losses.has(node) || this.filters.has(node))
      throw new Error(`dropHeartbeat(${node}): the cable has a fault`);
    const sw = this.lab.switchNs;
    const port = this.lab.nodes[node].port;
    const dead = `hd-${node}`;
    return this.timed(async () => {
      await ipOk(['-n', sw, 'link', 'del', dead]);
      await ip(['-n', sw, 'link', 'add', dead, 'type', 'veth', 'peer', 'name', `hdp-${node}`]);
      await ip(['-n', sw, 'link', 'set', `hdp-${node}`, 'up']);
      await ip(['-n', sw, 'link', 'set', dead, 'up']);
      await runArgv(['tc', '-n', sw, 'qdisc', 'del', 'dev', port, 'clsact']);
      this.filters.set(node, { port, dead });
      const tc = async (args: string[]) => {
        const r = await runArgv(['tc', '-n', sw, ...args]);
        if (r.code !== 0) throw new Error(`tc ${args.join(' ')}: ${r.stderr.trim()}`);
      };
      await tc(['qdisc', 'add', 'dev', port, 'clsact']);
      await tc([
        ...['filter', 'add', 'dev', port, 'ingress', 'protocol', 'ip', 'u32'],
        ...['match', 'ip', 'protocol', '17', '0xff', 'match', 'ip', 'dport', String(udpPort), '0xffff'],
        ...['action', 'mirred', 'egress', 'redirect', 'dev', dead],
      ]);
    });
  }

  async passHeartbeat(node: NodeName): Promise<FaultTime> {
    const f = this.filters.get(node);
    if (!f) throw new Error(`passHeartbeat(${node}): no heartbeat filter`);
    this.filters.delete(node);
    return this.timed(async () => {
      await runArgv(['tc', '-n', this.lab.switchNs, 'qdisc', 'del', 'dev', f.port, 'clsact']);
      await ipOk(['-n', this.lab.switchNs, 'link', 'del', f.dead]);
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

  async restore(attempt: (fn: () => Promise<unknown>) => Promise<void>): Promise<void> {
    for (const node of [...this.losses.keys()]) await attempt(() => this.stopLoss(node));
    for (const node of [...this.filters.keys()]) await attempt(() => this.passHeartbeat(node));
  }

  /** For exit handlers: kill the controllers. */
  cleanupSync(): void {
    for (const l of this.losses.values()) killGroup(l.child.pid, 'SIGKILL');
    this.losses.clear();
  }
}
