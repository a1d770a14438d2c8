/**
 * The two ways the demo runs a pair: in the network-namespace lab (root), or
 * as a loopback pair on this machine (127.0.0.1 / 127.0.0.2, RES_test
 * resources). Both drive pha only through pha-cli and observe the real world:
 * who holds the resource, what the client reaches, the heartbeats on the wire.
 *
 * All times are wall-clock milliseconds (Date.now()), the unit of the status
 * file's own time keys.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pidAlive } from '../../src/daemon/pidfile.js';
import type { Status } from '../../src/status-store/index.js';
import { sleep } from '../../src/wait.js';
import { etcdBinary, LAB_WITNESS, LAB_WITNESS_TTL, type LabEtcd, startLabEtcd } from '../lab/etcd.js';
import {
  createLab,
  findPhaRoot,
  HB_IPS,
  HOST_IPS,
  installNode,
  type Lab,
  type NodeInstall,
  type NodeName,
  VIP,
  VIP6,
  VIP6_CIDR,
  type VipWatch,
  watchVip,
} from '../lab/index.js';

export const HELPER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'helper.js');
/** The package root (holds bin/pha-cli.js): dist/tools/demo → three levels up. */
export const PHA_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI_PATH = path.join(PHA_ROOT, 'bin', 'pha-cli.js');
/** TCP port of the little "who am I" service on each lab node. */
export const SERVICE_PORT = 8080;
/** The client asks the VIP this often (ms). */
export const PROBE_MS = 50;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Effective holders (indexes into names) from time t on. */
export interface HolderChange {
  t: number;
  holders: number[];
}

export interface ProbeResult {
  /** When the answer (or the failure) came. */
  t: number;
  /** When the connection attempt began. */
  started: number;
  ok: boolean;
  who: string | null;
  err?: string;
}

export interface Heard {
  t: number;
  word: string;
}

export interface NodeFiles {
  dir: string;
  config: string;
  status: string;
  run: string;
}

/**
 * The demo's notify hook (NOTIFY=demo-notify): one line per transition in
 * <dir>/notify.log, as an application's hook would be told it.
 */
export const NOTIFY_HOOK = 'demo-notify';
/** Where each node's supervise serves /metrics in the lab (on the node's own loopback). */
const METRICS_PORT = 9464;
/** The daemons' priority in the lab (docs/config.md, Profiles). */
const DEMO_NICE = -5;
/** The pair's heartbeat key (AUTHKEY, relative to INSTALLDIR). */
const AUTHKEY_FILE = 'etc/authkey';
/** The lab's two heartbeat paths: br0 (the LAN) and br1 (eth1, a heartbeat link). */
const LAB_HB_PATHS = `lb1:${HOST_IPS.lb1},${HB_IPS.lb1} lb2:${HOST_IPS.lb2},${HB_IPS.lb2}`;

/** A node program that prints what `addr`/metrics answers (no curl needed). */
function fetchScript(addr: string): string {
  return `fetch('http://${addr}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t), () => process.exit(1))`;
}

/** A scrape's text: GET http://addr/metrics from this process. */
async function fetchMetrics(addr: string): Promise<string | null> {
  try {
    const r = await fetch(`http://${addr}/metrics`, { signal: AbortSignal.timeout(5000) });
    return r.ok ? await r.text() : null;
  } catch {
    return null;
  }
}
export function installNotifyHook(dir: string): void {
  fs.mkdirSync(path.join(dir, 'res'), { recursive: true, mode: 0o755 });
  const hook = path.join(dir, 'res', NOTIFY_HOOK);
  fs.writeFileSync(
    hook,
    `#!/bin/sh\n# pha demo: a notify hook. Called as: ${NOTIFY_HOOK} <new> <old> <reason>\necho "$(date +%s%3N) #$PHA_SEQ $1 $2 ($3)" >> "$(dirname "$0")/../notify.log"\n`,
    { mode: 0o755 },
  );
  fs.chmodSync(hook, 0o755);
}

export type Idx = 0 | 1;
export const IDX: readonly Idx[] = [0, 1];
export const other = (i: Idx): Idx => (i === 0 ? 1 : 0);

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** Pids of live processes whose command line contains `needle` (this process excluded). */
export function pidsWithArg(needle: string): number[] {
  const out: number[] = [];
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const pid = Number(n);
    if (pid === process.pid) continue;
    if (cmdline(pid).includes(needle)) out.push(pid);
  }
  return out;
}

export abstract class Backend {
  abstract readonly mode: 'lab' | 'loopback';
  abstract readonly names: readonly [string, string];
  /** What the holder holds, in words ("the VIP 198.18.0.100", "the test resource"). */
  abstract readonly what: string;
  abstract readonly hasClient: boolean;
  abstract readonly deadtimeMs: number;
  abstract files(i: Idx): NodeFiles;
  abstract setup(log: (l: string) => void): Promise<void>;
  /** pha-cli on node i: one-shot args, or commands piped to the shell. */
  abstract cli(i: Idx, input: string[] | { stdin: string }): Promise<CliResult>;
  /** Host death of node i: everything of pha on it dies at once, its resources with it. Returns the wall time it began. */
  abstract hostDeath(i: Idx): Promise<number>;
  /** Bring node i back as after a reboot (pha not started). */
  abstract hostRevive(i: Idx): Promise<void>;
  abstract destroy(): Promise<void>;
  abstract destroySync(): void;
  abstract describe(): string[];
  /**
   * The heartbeat cut on every path, the LAN intact (a firewall between the
   * nodes), or healed; returns the wall time it began. The lab only (null: cannot here).
   */
  heartbeatCut(_cut: boolean): Promise<number> | null {
    return null;
  }
  /** Why this pair cannot have a witness here (null: it can). */
  witnessUnavailable(): string | null {
    return 'the network-namespace lab only';
  }
  /**
   * A witness for the pair: etcd started on a third host, WITNESS (and a 1 s
   * lease) added to both configs, read at the next start. Its URL.
   */
  async startWitness(): Promise<string> {
    throw new Error(String(this.witnessUnavailable()));
  }
  /** Node i's /metrics (METRICS), as Prometheus would scrape it; null when it does not answer. */
  abstract scrape(i: Idx): Promise<string | null>;
  /** Told when a helper dies unexpectedly. */
  onProblem: ((msg: string) => void) | null = null;
  protected closing = false;

  /** Effective holder changes since setup (a dead node holds nothing for anybody). */
  readonly changes: HolderChange[] = [];
  /** Raw holding (address on the interface / resource file present). */
  protected raw: [boolean, boolean] = [false, false];
  readonly dead: [boolean, boolean] = [false, false];
  /** The peer's last heartbeat seen arriving at node i (wire), when a sniffer runs. */
  readonly heard: [Heard | null, Heard | null] = [null, null];
  sniffing = false;
  sniffNote = '';
  readonly probes: ProbeResult[] = [];
  lastProbe: ProbeResult | null = null;
  /** The client's probes of the IPv6 VIP (the lab only; empty elsewhere). */
  readonly probes6: ProbeResult[] = [];
  lastProbe6: ProbeResult | null = null;
  /** Last successful probe and when the client last changed from reaching to not reaching. */
  lastOk: ProbeResult | null = null;
  failingSince: number | null = null;

  holders(): number[] {
    return this.changes.length ? this.changes[this.changes.length - 1]!.holders : [];
  }

  protected recompute(t: number): void {
    const h = IDX.filter((i) => this.raw[i] && !this.isOut(i));
    const last = this.changes[this.changes.length - 1];
    if (!last || last.holders.join() !== h.join()) this.changes.push({ t, holders: h });
  }

  /** A node that holds nothing for a client whatever its interfaces say (dead; in the lab also frozen or cut off). */
  protected isOut(i: Idx): boolean {
    return this.dead[i];
  }

  protected setDead(i: Idx, dead: boolean, t: number): void {
    this.dead[i] = dead;
    this.recompute(t);
  }

  protected onProbe(p: ProbeResult): void {
    this.probes.push(p);
    // A late failure of an attempt begun before a newer one (a SYN lost to a dead node
    // times out after 1 s) is old news for the live view.
    if (this.lastProbe && p.started < this.lastProbe.started) return;
    this.lastProbe = p;
    if (p.ok) {
      this.lastOk = p;
      this.failingSince = null;
    } else if (this.failingSince === null) {
      this.failingSince = p.started;
    }
  }

  protected onProbe6(p: ProbeResult): void {
    this.probes6.push(p);
    if (!this.lastProbe6 || p.started >= this.lastProbe6.started) this.lastProbe6 = p;
  }

  readStatus(i: Idx): Status | null {
    try {
      return JSON.parse(fs.readFileSync(this.files(i).status, 'utf8')) as Status;
    } catch {
      return null;
    }
  }

  /** How many of the three daemons have a pid file naming a live process. */
  daemonsAlive(i: Idx): number {
    let n = 0;
    for (const d of ['sender', 'receiver', 'supervise']) {
      try {
        const pid = Number(fs.readFileSync(path.join(this.files(i).run, d), 'utf8').trim());
        if (pidAlive(pid) && cmdline(pid).includes(`pha-${d}`)) n++;
      } catch {
        /* no pid file */
      }
    }
    return n;
  }

  /** Feed JSON lines of a helper child into fn; resolves at its {ready} line (rejects on exit or {error}). */
  protected follow(
    child: ChildProcess,
    what: string,
    fn: (o: Record<string, unknown>) => void,
    expectedExit?: () => boolean,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      let ready = false;
      let err = '';
      child.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const rl = createInterface({ input: child.stdout! });
      rl.on('line', (line) => {
        let o: Record<string, unknown>;
        try {
          o = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        if (o.ready) {
          ready = true;
          resolve();
        } else if (o.error && !ready) {
          reject(new Error(`${what}: ${String(o.error)}`));
        } else {
          fn(o);
        }
      });
      child.once('exit', (code, sig) => {
        if (!ready) reject(new Error(`${what} exited (${code ?? sig}) ${err.trim()}`));
        else if (!this.closing && !expectedExit?.())
          this.onProblem?.(
            `${what} exited (${code ?? sig})${err.trim() ? `: ${err.trim().split('\n').slice(-3).join(' | ')}` : ''}`,
          );
      });
    });
  }

  protected onSniff(o: Record<string, unknown>, addrs: readonly string[]): void {
    const dst = addrs.indexOf(String(o.dst));
    const src = addrs.indexOf(String(o.src));
    if (dst < 0 || src < 0 || src === dst) return;
    this.heard[dst as Idx] = { t: Number(o.t), word: String(o.word) };
  }
}

// ------------------------------------------------------------------- lab

export class LabBackend extends Backend {
  readonly mode = 'lab' as const;
  readonly names = ['lb1', 'lb2'] as const;
  readonly what = `the VIP ${VIP}`;
  readonly hasClient = true;
  readonly deadtimeMs = 1000;
  lab: Lab | null = null;
  private creating: Promise<Lab> | null = null;
  private watch: VipWatch | null = null;
  private inst: NodeInstall[] = [];
  private etcd: LabEtcd | null = null;

  describe(): string[] {
    return [
      'Mode: network-namespace lab (running as root).',
      `  switch (bridge) · gateway gw 198.18.0.1 · lb1 198.18.0.11 · lb2 198.18.0.12 · client 198.18.0.50`,
      `  pha on lb1 and lb2 (NODES=lb1 lb2, GW=198.18.0.1, SUPERVISE_INT=2000, HEARTBEAT_INT=200, DEADTIME=1000)`,
      `  heartbeat on two paths (HB_PATHS=${LAB_HB_PATHS}): the LAN and a heartbeat bridge (eth1)`,
      `  AUTHKEY=${AUTHKEY_FILE}: authenticated heartbeats; each node announces its config, the peer compares (RECEIVER_PEER_CONFIG)`,
      `  NICE=${DEMO_NICE}: the daemons (and their scripts) win the CPU from a busy host, so a load spike does not delay a heartbeat`,
      `  resources: RES_ipaddr=${VIP}/24 eth0 (the real res/ipaddr, gratuitous ARP with arping)`,
      `             RES_vip6=${VIP6_CIDR} eth0 (res/vip6 → res/ipaddr: IPv6, unsolicited neighbour advertisements)`,
      `  each node runs a tiny TCP service on :${SERVICE_PORT} answering its name; the client asks ${VIP}:${SERVICE_PORT}`,
      `  and [${VIP6}]:${SERVICE_PORT} every ${PROBE_MS} ms`,
    ];
  }

  files(i: Idx): NodeFiles {
    const dir = this.inst[i]!.dir;
    return {
      dir,
      config: this.inst[i]!.configPath,
      status: path.join(dir, 'var', 'status.dat'),
      run: path.join(dir, 'var', 'run'),
    };
  }

  async setup(log: (l: string) => void): Promise<void> {
    const t0 = Date.now();
    this.creating = createLab({ ipv6: true });
    const lab = await this.creating;
    this.lab = lab;
    log(`lab ${lab.prefix} built in ${Date.now() - t0} ms (namespaces ${lab.prefix}{sw,gw,lb1,lb2,cl})`);
    for (const n of this.names) {
      // METRICS on the node's own loopback (each namespace has its own).
      const inst = await installNode(lab, n, {
        config: {
          SUPERVISE_INT: 2000,
          NOTIFY: NOTIFY_HOOK,
          METRICS: `127.0.0.1:${METRICS_PORT}`,
          HB_PATHS: LAB_HB_PATHS,
          NICE: DEMO_NICE,
          RES_vip6: `${VIP6_CIDR} eth0`,
          AUTHKEY: AUTHKEY_FILE,
        },
      });
      installNotifyHook(inst.dir);
      // A second address is a second resource: a link to res/ipaddr under the resource's name.
      fs.symlinkSync(path.join(findPhaRoot(), 'res', 'ipaddr'), path.join(inst.dir, 'res', 'vip6'));
      this.inst.push(inst);
    }
    log(`pha installed: ${this.inst.map((x) => x.configPath).join(', ')}`);
    // One heartbeat key for the pair, made as an operator makes it: keygen on one node, the file copied.
    const k = await this.cli(0, ['keygen']);
    if (k.code !== 0) throw new Error(`pha-cli keygen on lb1 failed (exit ${k.code}): ${k.stdout}${k.stderr}`);
    const [from, to] = this.inst.map((x) => path.join(x.dir, AUTHKEY_FILE));
    fs.copyFileSync(from!, to!);
    fs.chmodSync(to!, 0o600);
    log(`'pha-cli keygen' on lb1 wrote ${AUTHKEY_FILE}; copied to lb2 (mode 0600)`);
    const watch = await watchVip(lab);
    this.watch = watch;
    for (const n of watch.holders()) this.raw[this.names.indexOf(n as 'lb1' | 'lb2') as Idx] = true;
    this.recompute(Date.now());
    watch.on('event', (ev: { node: NodeName; kind: 'add' | 'del'; wall: number }) => {
      this.raw[this.names.indexOf(ev.node) as Idx] = ev.kind === 'add';
      this.recompute(ev.wall);
    });
    await Promise.all(IDX.map((i) => this.startService(i)));
    // The client.
    const probe = this.helper('client', ['probe', VIP, String(SERVICE_PORT), String(PROBE_MS)], true);
    await this.follow(probe, 'client probe', (o) => this.onProbe(o as unknown as ProbeResult));
    const probe6 = this.helper('client', ['probe', VIP6, String(SERVICE_PORT), String(PROBE_MS)], true);
    await this.follow(probe6, 'client probe (IPv6)', (o) => this.onProbe6(o as unknown as ProbeResult));
    // Heartbeat sniffers (lab tooling: they survive the node's faults).
    const addrs = [lab.nodes.lb1.ip, lab.nodes.lb2.ip];
    try {
      await Promise.all(
        IDX.map(async (i) => {
          const port = this.inst[i]!.config.find(([k]) => k === 'PORT')?.[1] ?? '4711';
          const s = this.helper(this.names[i], ['sniff', port, addrs[i]!], true);
          await this.follow(s, `sniffer on ${this.names[i]}`, (o) => this.onSniff(o, addrs));
        }),
      );
      this.sniffing = true;
    } catch (e) {
      this.sniffNote = (e as Error).message;
    }
  }

  /** A helper process inside a lab host; infra: spared by node faults, killed on destroy. */
  protected override isOut(i: Idx): boolean {
    if (this.dead[i]) return true;
    const f = this.lab?.faultState(this.names[i]);
    return !!f && (f.dead || f.frozen || f.linkDown);
  }

  private helper(host: 'lb1' | 'lb2' | 'client', args: string[], infra: boolean): ChildProcess {
    const lab = this.lab!;
    if (!infra) return lab.spawn(host, process.execPath, [HELPER, ...args]);
    const argv = lab.argv(host, process.execPath, [HELPER, ...args]);
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    return lab.adopt(child, { infra: true });
  }

  private async startService(i: Idx): Promise<void> {
    // Part of the node: dies with it in a host death.
    const child = this.helper(this.names[i], ['serve', this.names[i], String(SERVICE_PORT)], false);
    await this.follow(
      child,
      `service on ${this.names[i]}`,
      () => {},
      () => this.dead[i],
    );
  }

  async scrape(i: Idx): Promise<string | null> {
    const r = await this.lab!.run(this.names[i], process.execPath, ['-e', fetchScript(`127.0.0.1:${METRICS_PORT}`)], {
      timeoutMs: 5000,
    });
    return r.code === 0 ? r.stdout : null;
  }

  async cli(i: Idx, input: string[] | { stdin: string }): Promise<CliResult> {
    const r = await this.lab!.cli(this.names[i], input, { timeoutMs: 60_000 });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr, ms: r.ms };
  }

  async hostDeath(i: Idx): Promise<number> {
    const t = Date.now();
    this.setDead(i, true, t);
    this.heard[i] = null;
    await this.lab!.faults.hostDeath(this.names[i]);
    return t;
  }

  /** Blackhole routes on each node to the peer's LAN and heartbeat-bridge addresses: ARP (the probe) still passes. */
  override async heartbeatCut(cut: boolean): Promise<number> {
    const t = Date.now();
    for (const [n, peer] of [
      ['lb1', 'lb2'],
      ['lb2', 'lb1'],
    ] as const)
      for (const addr of [HOST_IPS[peer], HB_IPS[peer]]) {
        const r = await this.lab!.run(n, 'ip', ['route', cut ? 'add' : 'del', 'blackhole', `${addr}/32`]);
        if (r.code !== 0)
          throw new Error(`ip route ${cut ? 'add' : 'del'} blackhole ${addr} on ${n}: ${r.stderr.trim()}`);
      }
    return t;
  }

  async hostRevive(i: Idx): Promise<void> {
    await this.lab!.faults.hostRevive(this.names[i]);
    this.setDead(i, false, Date.now());
    await this.startService(i);
  }

  override witnessUnavailable(): string | null {
    return etcdBinary() ? null : 'etcd is not installed (apt-get install --no-install-recommends etcd-server)';
  }

  override async startWitness(): Promise<string> {
    this.etcd = await startLabEtcd(this.lab!);
    for (const inst of this.inst)
      fs.appendFileSync(inst.configPath, `WITNESS=${LAB_WITNESS}\nWITNESS_TTL=${LAB_WITNESS_TTL}\n`);
    return LAB_WITNESS;
  }

  async destroy(): Promise<void> {
    // Interrupted while the lab was being built: wait for it, then remove it.
    this.closing = true;
    const lab = this.lab ?? (await this.creating?.catch(() => null)) ?? null;
    await this.watch?.stop().catch(() => {});
    await this.etcd?.remove().catch(() => {}); // its data directory (the lab kills what it started)
    await lab?.destroy();
  }

  destroySync(): void {
    this.closing = true;
    this.lab?.destroySync();
  }
}

// -------------------------------------------------------------- loopback

export class LoopbackBackend extends Backend {
  readonly mode = 'loopback' as const;
  readonly names = ['127.0.0.1', '127.0.0.2'] as const;
  readonly what = 'the test resource';
  readonly hasClient = false;
  readonly deadtimeMs = 1000;
  readonly base: string;
  readonly port: number;
  private readonly nodeFiles: NodeFiles[];
  private readonly held: string[];
  private readonly children = new Set<ChildProcess>();
  private poll: NodeJS.Timeout | undefined;

  constructor() {
    super();
    this.base = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-demo-'));
    this.port = 20000 + Math.floor(Math.random() * 30000);
    this.nodeFiles = [];
    this.held = [];
    IDX.forEach((i) => {
      const dir = path.join(this.base, `node${i + 1}`);
      fs.mkdirSync(path.join(dir, 'etc'), { recursive: true });
      const held = path.join(dir, 'held');
      const lines: Array<[string, string]> = [
        ['INSTALLDIR', dir],
        ['DAEMON', '1'],
        ['PORT', String(this.port)],
        ['SUPERVISE_INT', '2000'],
        ['NODES', this.names.join(' ')],
        ['NODENAME', this.names[i]],
        ['GW', ''],
        ['RES_test', held],
        ['NOTIFY', NOTIFY_HOOK],
        ['METRICS', `${this.names[i]}:${this.port + 1}`],
        // Two heartbeat paths, as a pair with a dedicated heartbeat link would have.
        ['HB_PATHS', `${this.names[0]}:${this.names[0]},127.0.1.1 ${this.names[1]}:${this.names[1]},127.0.1.2`],
      ];
      installNotifyHook(dir);
      const config = path.join(dir, 'etc', 'config');
      fs.writeFileSync(config, `# pha demo, loopback node ${i + 1}\n${lines.map(([k, v]) => `${k}=${v}\n`).join('')}`);
      this.nodeFiles.push({
        dir,
        config,
        status: path.join(dir, 'var', 'status.dat'),
        run: path.join(dir, 'var', 'run'),
      });
      this.held.push(held);
    });
  }

  scrape(i: Idx): Promise<string | null> {
    return fetchMetrics(`${this.names[i]}:${this.port + 1}`);
  }

  describe(): string[] {
    return [
      `Mode: LOOPBACK PAIR — ${this.whyNote}`,
      '  No network namespaces: both pha nodes run on this machine, on 127.0.0.1 and 127.0.0.2',
      `  (NODENAME per node, UDP port ${this.port}, no gateway check). The resource is RES_test: a file that`,
      '  exists on the node that holds it. There is no VIP and no client; "host death" = SIGKILL of the',
      "  node's daemons and removal of its resource file.",
      `  install dirs: ${this.base}/node1, ${this.base}/node2`,
    ];
  }

  whyNote = 'forced with --loopback';

  files(i: Idx): NodeFiles {
    return this.nodeFiles[i]!;
  }

  async setup(log: (l: string) => void): Promise<void> {
    const sample = () => {
      const t = Date.now();
      for (const i of IDX) this.raw[i] = fs.existsSync(this.held[i]!);
      this.recompute(t);
    };
    sample();
    this.poll = setInterval(sample, 5);
    if (typeof process.getuid === 'function' && process.getuid() === 0) {
      const child = spawn(process.execPath, [HELPER, 'sniff', String(this.port), ...this.names], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.track(child);
      try {
        await this.follow(child, 'heartbeat sniffer', (o) => this.onSniff(o, this.names));
        this.sniffing = true;
      } catch (e) {
        this.sniffNote = (e as Error).message;
      }
    } else {
      this.sniffNote = 'not root: no raw socket to watch the heartbeats on the wire';
    }
    log(`install dirs written under ${this.base}`);
  }

  private track(c: ChildProcess): ChildProcess {
    this.children.add(c);
    c.once('exit', () => this.children.delete(c));
    return c;
  }

  cli(i: Idx, input: string[] | { stdin: string }): Promise<CliResult> {
    const started = performance.now();
    return new Promise((resolve) => {
      const env: NodeJS.ProcessEnv = { ...process.env, PHA_CONFIG: this.nodeFiles[i]!.config };
      delete env.NODENAME;
      const args = Array.isArray(input) ? input : [];
      const child = spawn(process.execPath, [CLI_PATH, ...args], {
        env,
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      this.track(child);
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d) => (stdout += d));
      child.stderr!.on('data', (d) => (stderr += d));
      child.stdin!.on('error', () => {});
      child.stdin!.end(Array.isArray(input) ? '' : input.stdin);
      let done = false;
      const finish = (code: number) => {
        if (done) return;
        done = true;
        // Daemons the command started may keep the pipes: do not wait for them.
        child.stdout!.destroy();
        child.stderr!.destroy();
        resolve({ code, stdout, stderr, ms: performance.now() - started });
      };
      child.on('exit', (code, sig) => setTimeout(() => finish(code ?? (sig ? 128 : 1)), 50));
      child.on('error', () => finish(127));
    });
  }

  /** Pids of this node's daemons, from its pid files, only when they really are its daemons. */
  private daemonPids(i: Idx): number[] {
    const f = this.nodeFiles[i]!;
    return ['sender', 'receiver', 'supervise'].flatMap((d) => {
      try {
        const pid = Number(fs.readFileSync(path.join(f.run, d), 'utf8').trim());
        return pid > 1 && cmdline(pid).includes(f.config) ? [pid] : [];
      } catch {
        return [];
      }
    });
  }

  async hostDeath(i: Idx): Promise<number> {
    const t = Date.now();
    this.setDead(i, true, t);
    this.heard[i] = null;
    for (const pid of this.daemonPids(i)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    fs.rmSync(this.held[i]!, { force: true });
    return t;
  }

  async hostRevive(i: Idx): Promise<void> {
    this.setDead(i, false, Date.now());
  }

  private killAllSync(): void {
    for (const c of this.children) {
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    // Every process started for this demo carries the temp dir in its command line (--config <base>/…).
    for (let pass = 0; pass < 3; pass++) {
      const pids = pidsWithArg(this.base);
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }

  async destroy(): Promise<void> {
    this.closing = true;
    if (this.poll) clearInterval(this.poll);
    this.killAllSync();
    await sleep(50);
    this.killAllSync();
    fs.rmSync(this.base, { recursive: true, force: true });
  }

  destroySync(): void {
    this.closing = true;
    if (this.poll) clearInterval(this.poll);
    this.killAllSync();
    fs.rmSync(this.base, { recursive: true, force: true });
  }
}
