/**
 * Observers of the floating IP for benchmarks and tests.
 *
 * watchVip(): one `ip -n <ns> -o monitor address` per node; every add/delete
 * of the VIP on a node's eth0 becomes a VipEvent stamped with
 * performance.now() at the arrival of the line (no polling, no load).
 *
 * sampleHolders(): polling fallback; one long-lived `ip -batch` per node is
 * asked for eth0's addresses every intervalMs (about 0.1 ms per question, so
 * sampling every 5 ms or finer does not disturb a 2-core machine).
 *
 * Both report raw interface state: a node that is dead, frozen or cut off
 * keeps its address. Combine with the lab's fault times (FaultTime,
 * lab.faultState()) to decide who holds the VIP for a client.
 *
 * The observer processes are lab tooling: node faults spare them, destroy()
 * kills them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { delay, ip, ipOk, killGroup } from './exec.js';
import { type Lab, NODE_NAMES, type NodeName } from './types.js';

export interface VipEvent {
  node: NodeName;
  kind: 'add' | 'del';
  /** performance.now() at the arrival of the monitor line. */
  t: number;
  /** Date.now() at the same moment. */
  wall: number;
  line: string;
}

/** The set of nodes with the VIP on eth0 from time t on. */
export interface HolderChange {
  t: number;
  holders: NodeName[];
}

const LINE = /^(?:\[[A-Z]+\]\s*)?(Deleted\s+)?\d+:\s+(\S+)\s+inet\s+([\d.]+)\/\d+/;

function sameSet(a: readonly NodeName[], b: readonly NodeName[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function order(s: Set<NodeName>): NodeName[] {
  return NODE_NAMES.filter((n) => s.has(n));
}

async function holdsNow(lab: Lab, node: NodeName): Promise<boolean> {
  try {
    const out = await ip(['-n', lab.nodes[node].ns, '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    return out.includes(` inet ${lab.vip}/`);
  } catch {
    return false;
  }
}

export interface WatchOptions {
  nodes?: NodeName[];
  /** How long to wait for the monitors to be subscribed (default 5000 ms). */
  readyTimeoutMs?: number;
}

/**
 * Events: 'event' (VipEvent), 'change' (HolderChange), 'error' is never emitted;
 * a monitor that dies unexpectedly emits 'monitor-exit' (node, code).
 */
export class VipWatch extends EventEmitter {
  /** Every add/delete of the VIP on eth0, in arrival order. */
  readonly events: VipEvent[] = [];
  /** Holder set at start, then each change (duplicates of the same set are not repeated). */
  readonly changes: HolderChange[] = [];
  private readonly held = new Set<NodeName>();
  private readonly children = new Map<NodeName, ChildProcess>();
  private stopped = false;
  private readonly probeSeen = new Set<string>();

  constructor(
    private readonly lab: Lab,
    readonly nodes: readonly NodeName[],
  ) {
    super();
  }

  /** Nodes holding the VIP according to the events so far. */
  holders(): NodeName[] {
    return order(this.held);
  }

  /** @internal */
  async start(readyTimeoutMs: number): Promise<void> {
    for (const node of this.nodes) {
      const child = spawn('ip', ['-n', this.lab.nodes[node].ns, '-o', 'monitor', 'address'], {
        detached: true,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      this.lab.adopt(child, { infra: true });
      this.children.set(node, child);
      let rest = '';
      child.stdout!.on('data', (d: Buffer) => {
        const t = performance.now();
        const wall = Date.now();
        const lines = (rest + d.toString('utf8')).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) this.onLine(node, line, t, wall);
      });
      child.once('exit', (code) => {
        if (!this.stopped) this.emit('monitor-exit', node, code);
      });
    }
    // Prove each monitor is subscribed: an address on lo (inside 198.18.0.0/15) must come through.
    const deadline = performance.now() + readyTimeoutMs;
    await Promise.all(
      this.nodes.map(async (node, i) => {
        const probe = `198.19.255.${250 - i}`;
        const ns = this.lab.nodes[node].ns;
        try {
          while (!this.probeSeen.has(`${node} ${probe}`)) {
            if (performance.now() > deadline) throw new Error(`vip-watch: monitor of ${node} not ready`);
            await ipOk(['-n', ns, 'addr', 'del', `${probe}/32`, 'dev', 'lo']);
            await ipOk(['-n', ns, 'addr', 'add', `${probe}/32`, 'dev', 'lo']);
            await delay(20);
          }
        } finally {
          await ipOk(['-n', ns, 'addr', 'del', `${probe}/32`, 'dev', 'lo']);
        }
      }),
    );
    const now = await Promise.all(this.nodes.map((n) => holdsNow(this.lab, n)));
    this.nodes.forEach((n, i) => {
      if (now[i]) this.held.add(n);
    });
    this.changes.push({ t: performance.now(), holders: this.holders() });
  }

  private onLine(node: NodeName, line: string, t: number, wall: number): void {
    const m = LINE.exec(line);
    if (!m) return;
    const [, deleted, dev, addr] = m;
    if (dev === 'lo' && addr!.startsWith('198.19.255.')) {
      this.probeSeen.add(`${node} ${addr}`);
      return;
    }
    if (dev !== 'eth0' || addr !== this.lab.vip) return;
    const ev: VipEvent = { node, kind: deleted ? 'del' : 'add', t, wall, line };
    this.events.push(ev);
    this.emit('event', ev);
    if (this.changes.length === 0) return; // before the initial read: that read includes it
    if (ev.kind === 'add') this.held.add(node);
    else this.held.delete(node);
    const holders = this.holders();
    const last = this.changes[this.changes.length - 1]!;
    if (!sameSet(last.holders, holders)) {
      const c = { t, holders };
      this.changes.push(c);
      this.emit('change', c);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(
      [...this.children.values()].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            killGroup(c.pid, 'SIGKILL');
          }),
      ),
    );
  }
}

/** Start VIP monitors on the nodes (default both); resolves once they are subscribed and the initial holders are known. */
export async function watchVip(lab: Lab, opts: WatchOptions = {}): Promise<VipWatch> {
  const w = new VipWatch(lab, opts.nodes ?? NODE_NAMES);
  try {
    await w.start(opts.readyTimeoutMs ?? 5000);
  } catch (e) {
    await w.stop();
    throw e;
  }
  return w;
}

// ------------------------------------------------------------------ polling

function vipLine(vip: string): RegExp {
  return new RegExp(`^\\d+: eth0\\s+inet ${vip.replace(/\./g, '\\.')}/`, 'm');
}

class BatchAsker {
  private buf = '';
  private waiting: ((text: string | null) => void) | null = null;
  readonly child: ChildProcess;

  constructor(lab: Lab, node: NodeName) {
    this.child = spawn('ip', ['-n', lab.nodes[node].ns, '-4', '-o', '-force', '-batch', '-'], {
      detached: true,
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    lab.adopt(this.child, { infra: true });
    this.child.stdin!.on('error', () => {
      /* process gone */
    });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.buf += d.toString('utf8');
      // "addr show dev lo" answers last: its 127.0.0.1 line marks the end of the reply.
      // (Not "link show": in batch mode it switches ip's family for the commands after it.)
      const m = /^\d+: lo\s+inet 127\.0\.0\.1\/8.*$/m.exec(this.buf);
      if (m && this.waiting) {
        const text = this.buf.slice(0, m.index);
        this.buf = this.buf.slice(m.index + m[0].length + 1);
        const w = this.waiting;
        this.waiting = null;
        w(text);
      }
    });
    this.child.once('exit', () => {
      const w = this.waiting;
      this.waiting = null;
      w?.(null);
    });
  }

  /** eth0's addresses, or null when the asker is gone. */
  ask(): Promise<string | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.child.stdin!.write('addr show dev eth0\naddr show dev lo\n');
    });
  }

  stop(): void {
    killGroup(this.child.pid, 'SIGKILL');
  }
}

/** Events: 'change' (HolderChange), 'stopped'. */
export class HolderSampler extends EventEmitter {
  /** Holder set at the first sample, then each change. t = performance.now() when both answers were in. */
  readonly changes: HolderChange[] = [];
  /** Samples taken. */
  count = 0;
  /** Longest time between two consecutive samples, ms (the effective resolution). */
  maxIntervalMs = 0;
  private running = true;
  private lastT: number | undefined;
  private loop: Promise<void> = Promise.resolve();
  private readonly askers: Map<NodeName, BatchAsker>;

  constructor(
    private readonly lab: Lab,
    readonly intervalMs: number,
    readonly nodes: readonly NodeName[],
  ) {
    super();
    this.askers = new Map(nodes.map((n) => [n, new BatchAsker(lab, n)]));
  }

  holders(): NodeName[] {
    return this.changes.length ? [...this.changes[this.changes.length - 1]!.holders] : [];
  }

  /** @internal */
  async sampleOnce(): Promise<boolean> {
    const answers = await Promise.all(this.nodes.map((n) => this.askers.get(n)!.ask()));
    if (answers.some((a) => a === null)) return false;
    const t = performance.now();
    const holders = NODE_NAMES.filter((n) => {
      const i = this.nodes.indexOf(n);
      return i >= 0 && vipLine(this.lab.vip).test(answers[i]!);
    });
    const last = this.changes[this.changes.length - 1];
    if (!last || !sameSet(last.holders, holders)) {
      const c = { t, holders };
      this.changes.push(c);
      if (last) this.emit('change', c);
    }
    if (this.lastT !== undefined) this.maxIntervalMs = Math.max(this.maxIntervalMs, t - this.lastT);
    this.lastT = t;
    this.count++;
    return true;
  }

  /** @internal */
  run(): void {
    this.loop = (async () => {
      while (this.running) {
        const t0 = performance.now();
        if (!(await this.sampleOnce())) break;
        const wait = this.intervalMs - (performance.now() - t0);
        if (wait > 0) await delay(wait);
        else await new Promise((r) => setImmediate(r));
      }
      this.running = false;
      this.emit('stopped');
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    for (const a of this.askers.values()) a.stop();
  }
}

/**
 * Poll the holders every intervalMs (0 = as fast as possible); resolves after
 * the first sample. Stop it with stop(); it stops by itself when the lab goes.
 */
export async function sampleHolders(
  lab: Lab,
  intervalMs: number,
  opts: { nodes?: NodeName[] } = {},
): Promise<HolderSampler> {
  const s = new HolderSampler(lab, intervalMs, opts.nodes ?? NODE_NAMES);
  if (!(await s.sampleOnce())) {
    await s.stop();
    throw new Error('sampleHolders: ip -batch did not answer');
  }
  s.run();
  return s;
}
