/**
 * Helpers for the lab fault tests (test/lab/faults.test.ts): the steady pair,
 * holder sampling and `stat --json` polling. Copied from scenarios.test.ts and
 * made to take the lab as a parameter. Not a test file itself.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { type ConfigValue, installNode, type Lab, type NodeName, sampleHolders } from '../../tools/lab/index.js';
import type { HolderSampler } from '../../tools/lab/vip-watch.js';
import { sleep } from '../helpers/wait.js';

export { sleep } from '../helpers/wait.js';

export const NODES: readonly NodeName[] = ['lb1', 'lb2'];

export interface InstallOpts {
  /** Config overrides per node; gets the node's install dir. */
  config?: (node: NodeName, dir: string) => Record<string, ConfigValue>;
  /** LOGPATH=<dir>/log/log instead of <dir>/var/log (var/ can then be remounted read-only). */
  logOutsideVar?: boolean;
}

/** `pha-cli stat --json` parsed, or why not. */
export interface StatSample {
  t: number;
  code: number;
  json: StatJson | null;
  raw: string;
}
export interface StatJson {
  state?: string;
  status?: Record<string, unknown>;
  pids?: Record<string, number>;
  stale?: Record<string, number>;
  alarms?: unknown;
}

/** The new `alarms` field of `stat --json`: the strings in it ([] when missing). */
export function alarmsOf(json: StatJson | null | undefined): string[] {
  return Array.isArray(json?.alarms)
    ? (json!.alarms as unknown[]).filter((a): a is string => typeof a === 'string')
    : [];
}

export class Pair {
  lab!: Lab;
  base!: string;
  seq = 0;
  /** Samplers and pollers still running (stopAll() ends them, also when a test failed half-way). */
  private readonly running = new Set<{ stop(): Promise<void> }>();

  async stopAll(): Promise<void> {
    const all = [...this.running];
    this.running.clear();
    await Promise.all(all.map((r) => r.stop().catch(() => undefined)));
  }

  /** Fresh install dirs (empty var/) for both nodes. */
  async install(opts: InstallOpts = {}): Promise<void> {
    this.seq++;
    for (const n of NODES) {
      const dir = path.join(this.base, `${this.seq}-${n}`);
      const extra: Record<string, ConfigValue> = {};
      if (opts.logOutsideVar) {
        fs.mkdirSync(path.join(dir, 'log'), { recursive: true });
        extra.LOGPATH = path.join(dir, 'log', 'log');
      }
      await installNode(this.lab, n, { installDir: dir, config: { ...extra, ...(opts.config?.(n, dir) ?? {}) } });
    }
  }

  dir(node: NodeName): string {
    return this.lab.installs[node]!.dir;
  }

  /** The VIP holders() looks at (default the lab's IPv4 VIP). */
  vip: string | undefined;

  holders(): Promise<NodeName[]> {
    return this.lab.vipHolders({ effective: true, vip: this.vip });
  }

  /** Resolves to the ms it took; fails the test after timeoutMs. */
  async waitHolders(want: NodeName[], timeoutMs: number): Promise<number> {
    const t0 = performance.now();
    for (;;) {
      const h = await this.holders();
      if (h.length === want.length && want.every((n) => h.includes(n))) return performance.now() - t0;
      if (performance.now() - t0 > timeoutMs)
        assert.fail(`expected holders [${want}] within ${timeoutMs} ms, have [${h}]`);
      await sleep(20);
    }
  }

  cli(node: NodeName, args: string[] | { stdin: string }) {
    return this.lab.cli(node, args, { timeoutMs: 60_000 });
  }

  statusPath(node: NodeName): string {
    return path.join(this.dir(node), 'var', 'status.dat');
  }

  /** status.dat parsed; {} when missing or not JSON. */
  status(node: NodeName): Record<string, unknown> {
    return this.statusOrNull(node) ?? {};
  }

  /** status.dat parsed; null when missing or not a JSON object. */
  statusOrNull(node: NodeName): Record<string, unknown> | null {
    try {
      const v: unknown = JSON.parse(fs.readFileSync(this.statusPath(node), 'utf8'));
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  async stat(node: NodeName): Promise<StatSample> {
    const r = await this.cli(node, ['stat', '--json']);
    let json: StatJson | null = null;
    try {
      json = JSON.parse(r.stdout) as StatJson;
    } catch {
      /* not JSON: kept in raw */
    }
    return { t: performance.now(), code: r.code, json, raw: (r.stdout + r.stderr).trim().slice(0, 2000) };
  }

  /** The steady pair: lb1 started first (piped shell), lb1 Active, lb2 joins Standby. */
  async steadyPair(): Promise<void> {
    const r = await this.cli('lb1', { stdin: 'start\nq\n' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await this.waitHolders(['lb1'], 6000);
    const r2 = await this.cli('lb2', ['start']);
    assert.equal(r2.code, 0, r2.stdout + r2.stderr);
    const t0 = Date.now();
    while (this.status('lb2').RECEIVER_IN !== 'ONLINE' || this.status('lb2').STATUS !== 'OFFLINE') {
      if (Date.now() - t0 > 5000) assert.fail(`lb2 did not come up Standby: ${JSON.stringify(this.status('lb2'))}`);
      await sleep(20);
    }
  }

  /** Samples holders every 5 ms (a dead, frozen or cut-off node is not a holder: see effectiveChanges). */
  async watch(): Promise<HolderSampler> {
    const s = await sampleHolders(this.lab, 5);
    this.running.add(s);
    return s;
  }

  private effective(holders: NodeName[]): NodeName[] {
    return holders.filter((n) => {
      const f = this.lab.faultState(n);
      return !f.dead && !f.frozen && !f.linkDown;
    });
  }

  effectiveChanges(s: HolderSampler): string[] {
    const out: string[] = [];
    for (const c of s.changes) {
      const v = this.effective(c.holders).join('+') || 'none';
      if (out[out.length - 1] !== v) out.push(v);
    }
    return out;
  }

  /** Total ms during which two nodes held the VIP, up to endT (default now). */
  twoHolderMs(s: HolderSampler, endT = performance.now()): number {
    let ms = 0;
    s.changes.forEach((c, i) => {
      if (this.effective(c.holders).length < 2) return;
      const next = s.changes[i + 1]?.t ?? endT;
      ms += Math.max(0, next - c.t);
    });
    return ms;
  }

  /** Poll `stat --json` on a node (one call at a time, intervalMs between calls) until stop(). */
  pollStat(node: NodeName, intervalMs: number): StatPoller {
    const p = new StatPoller(this, node, intervalMs);
    this.running.add(p);
    return p;
  }
}

export class StatPoller {
  readonly samples: StatSample[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    pair: Pair,
    readonly node: NodeName,
    intervalMs: number,
  ) {
    this.loop = (async () => {
      while (this.running) {
        try {
          this.samples.push(await pair.stat(node));
        } catch (e) {
          this.samples.push({ t: performance.now(), code: -1, json: null, raw: String(e) });
        }
        const until = performance.now() + intervalMs;
        while (this.running && performance.now() < until) await sleep(Math.min(50, until - performance.now()));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Every alarm string seen, deduplicated, in order. */
  alarms(): string[] {
    return [...new Set(this.samples.flatMap((s) => alarmsOf(s.json)))];
  }

  /** The first alarm seen that matches. */
  seen(re: RegExp): string | undefined {
    return this.alarms().find((a) => re.test(a));
  }

  /** status.ALARM values seen (today's single-string alarm), for the failure message. */
  legacyAlarms(): string[] {
    return [
      ...new Set(this.samples.map((s) => s.json?.status?.ALARM).filter((a): a is string => typeof a === 'string')),
    ];
  }
}
