/**
 * A fresh pha pair on the lab for one trial: install dirs, start lb1, wait
 * until it holds the VIP, start lb2, steady state; and the teardown that
 * stops pha on both nodes, removes the resources and undoes every fault.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readHistory } from '../../src/supervise/history.js';
import { type ConfigValue, installNode, type Lab, type NodeName, type RunResult } from '../lab/index.js';
import type { ProfileName } from './args.js';
import { type Observer, observe } from './observer.js';
import { NODES } from './timeline.js';
import { errText, sleep, waitFor } from './util.js';

export interface Profile {
  name: ProfileName;
  /** Config overrides on top of the lab's base config (which sets SUPERVISE_INT=1000, PINGTIMEOUT=0.5). */
  config: Record<string, ConfigValue>;
  /** How rows name it, when not by its name (withNice). */
  label?: string;
  /** The resulting timing, for the report. */
  timing: { HEARTBEAT_INT: number; DEADTIME: number; SUPERVISE_INT: number };
}

/** HEARTBEAT_INT/DEADTIME of a faster profile (SUPERVISE_INT 2000 as the default's). */
function fastProfile(name: ProfileName, heartbeat: number, deadtime: number): Profile {
  return {
    name,
    config: { SUPERVISE_INT: 2000, HEARTBEAT_INT: heartbeat, DEADTIME: deadtime },
    timing: { HEARTBEAT_INT: heartbeat, DEADTIME: deadtime, SUPERVISE_INT: 2000 },
  };
}

/** pha's real defaults (SUPERVISE_INT back to 2000), the README's fast profile, and the fast end (issue 20). */
export const PHA_PROFILES: Record<ProfileName, Profile> = {
  default: {
    name: 'default',
    config: { SUPERVISE_INT: 2000 },
    timing: { HEARTBEAT_INT: 200, DEADTIME: 1000, SUPERVISE_INT: 2000 },
  },
  fast: fastProfile('fast', 50, 200),
  fast100: fastProfile('fast100', 100, 500),
  fast20: fastProfile('fast20', 20, 80),
  fast10: fastProfile('fast10', 10, 40),
};

/** `p` with NICE=`nice` in its config (unchanged for 0), its name marked for the rows. */
export function withNice(p: Profile, nice: number): Profile {
  if (!nice) return p;
  return { ...p, config: { ...p.config, NICE: nice }, label: `${p.name}+nice${nice}` };
}

export interface BenchEnv {
  lab: Lab;
  /** Base dir of this run's install dirs (removed at the end unless keepLogs). */
  runDir: string;
  keepLogs: boolean;
  observer: 'monitor' | 'sample';
}

/** Steady state after lb2 joined (plus a random 0..SUPERVISE_INT). */
export const STEADY_MS = 2000;

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '?';
  }
}

export class PhaPair {
  readonly dir: string;
  obs!: Observer;
  /** Things that went wrong outside the measurement (start/stop failures, leftovers). */
  readonly notes: string[] = [];

  /** `prepare`: called for each node's install dir after it is written, before pha starts (extra resources). */
  constructor(
    readonly env: BenchEnv,
    readonly label: string,
    readonly profile: Profile,
    readonly prepare?: (nodeDir: string) => void,
  ) {
    this.dir = join(env.runDir, label);
  }

  get lab(): Lab {
    return this.env.lab;
  }

  async install(): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true });
    for (const n of NODES) {
      mkdirSync(join(this.dir, n), { recursive: true });
      await installNode(this.lab, n, { installDir: join(this.dir, n), config: this.profile.config });
      this.prepare?.(join(this.dir, n));
    }
    this.obs = await observe(this.lab, this.env.observer);
  }

  async cli(node: NodeName, args: string[], timeoutMs = 20_000): Promise<RunResult> {
    return this.lab.cli(node, args, { timeoutMs });
  }

  async start(node: NodeName): Promise<void> {
    const r = await this.cli(node, ['start']);
    if (r.code !== 0) throw new Error(`pha-cli start on ${node} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  }

  /** install, start lb1, wait until it holds, start lb2, wait STEADY_MS; throws when the pair does not come up as lb1 Active. */
  async setup(): Promise<void> {
    await this.install();
    await this.start('lb1');
    if (!(await waitFor(() => this.obs.holders().join() === 'lb1', 15_000, 10))) {
      throw new Error(
        `setup: lb1 did not take the VIP within 15 s (holders: ${this.obs.holders().join(',') || 'none'})`,
      );
    }
    await this.start('lb2');
    // A random phase against supervise's round (and the heartbeat), so a fault does not always land at the same point of the cycle.
    await sleep(STEADY_MS + Math.random() * this.profile.timing.SUPERVISE_INT);
    if (this.obs.holders().join() !== 'lb1') {
      throw new Error(`setup: after lb2 joined the holders are [${this.obs.holders().join(',')}], not [lb1]`);
    }
  }

  /** Stop pha on both nodes (stop, then res stop), undo every fault, check nothing is left. Never throws. */
  async teardown(): Promise<void> {
    const { lab } = this;
    const f = lab.faults;
    const step = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        this.notes.push(`teardown ${what}: ${errText(e)}`);
      }
    };
    for (const n of NODES) if (lab.faultState(n).frozen) await step(`thaw ${n}`, () => f.thaw(n));
    if (NODES.some((n) => lab.faultState(n).isolated)) await step('heal', () => f.heal());
    const alive = NODES.filter((n) => !lab.faultState(n).dead && lab.installs[n]);
    await Promise.all(
      alive.map((n) =>
        step(`stop ${n}`, async () => {
          const r = await this.cli(n, ['stop']);
          if (r.code !== 0)
            this.notes.push(`pha-cli stop on ${n} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`);
        }),
      ),
    );
    await Promise.all(
      alive.map((n) =>
        step(`res stop ${n}`, async () => {
          const r = await this.cli(n, ['res', 'stop']);
          if (r.code !== 0)
            this.notes.push(
              `pha-cli res stop on ${n} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`,
            );
        }),
      ),
    );
    for (const n of NODES) {
      const s = lab.faultState(n);
      if (s.gatewayLost) await step(`gatewayRestore ${n}`, () => f.gatewayRestore(n));
      if (s.dead) await step(`hostRevive ${n}`, () => f.hostRevive(n));
      else if (s.linkDown) await step(`linkUp ${n}`, () => f.linkUp(n));
    }
    await step('leftover check', () => this.killLeftovers());
    await step('observer stop', () => this.obs?.stop() ?? Promise.resolve());
    if (!this.env.keepLogs) rmSync(this.dir, { recursive: true, force: true });
  }

  /** After the stop nothing of pha may run in the nodes (a detached arping may still finish: killed quietly). */
  async killLeftovers(): Promise<void> {
    for (const n of NODES) {
      const pids = await this.lab.pids(n);
      const others = pids.filter((p) => comm(p) !== 'arping' && !/\barping\b/.test(cmdline(p)));
      if (others.length)
        this.notes.push(
          `left running in ${n} after stop: ${others.map((p) => `${p} ${cmdline(p).slice(0, 120)}`).join('; ')}`,
        );
      if (pids.length) await this.lab.faults.kill(pids, 'SIGKILL');
      // The VIP must be gone after res stop (a revived node comes up without it).
      const held = await this.lab.run(n, 'ip', ['-o', '-4', 'addr', 'show', 'dev', 'eth0']);
      if (held.stdout.includes(` inet ${this.lab.vip}/`)) {
        this.notes.push(`VIP still on ${n} after res stop`);
        await this.lab.run(n, 'ip', ['addr', 'del', this.lab.vipCidr, 'dev', 'eth0']);
      }
    }
  }
}

export interface LogLine {
  /** performance.now() time base (converted from the log's Date.now()). */
  t: number;
  daemon: string;
  msg: string;
}

/** The node's daemon log lines (receiver, supervise, sender) with their times converted to performance.now(). */
export function readLogLines(dir: string, node: NodeName): LogLine[] {
  const out: LogLine[] = [];
  for (const daemon of ['receiver', 'supervise', 'sender']) {
    let text = '';
    try {
      text = readFileSync(join(dir, node, 'var', `log.${daemon}`), 'utf8');
    } catch {
      continue;
    }
    for (const l of text.split('\n')) {
      if (!l.startsWith('{')) continue;
      try {
        const j = JSON.parse(l) as { time?: number; msg?: string };
        if (typeof j.time === 'number') out.push({ t: j.time - performance.timeOrigin, daemon, msg: j.msg ?? '' });
      } catch {
        /* not a pino line */
      }
    }
  }
  return out.sort((a, b) => a.t - b.t);
}

/**
 * How the survivor's takeover after `t0` went, from its logs: when its
 * receiver declared the peer silent (or heard a changed word), when
 * supervise decided to start, when the start was done. ms after t0; null
 * where the log has no such line.
 */
/**
 * The takeover's phases as `node`'s supervise timed them (its newest
 * transition to Active in var/history.json), for the report beside the
 * externally measured time: detect, decide, scripts, total (ms).
 */
export function timelinePhases(dir: string, node: NodeName): Record<string, number | null> {
  const { entries } = readHistory(join(dir, node, 'var'));
  const t = entries.filter((e) => e.event === 'state' && e.now === 'Active').at(-1)?.timeline;
  if (!t) return {};
  return {
    tlDetectMs: t.detectMs,
    tlDecideMs: t.decideMs,
    tlScriptsMs: t.scripts.reduce((s, x) => s + x.ms, 0),
    tlTotalMs: t.totalMs,
  };
}

export function takeoverBreakdown(dir: string, node: NodeName, t0: number): Record<string, number | null> {
  const lines = readLogLines(dir, node).filter((l) => l.t >= t0 - 5);
  const first = (daemon: string, re: RegExp): number | null => {
    const l = lines.find((x) => x.daemon === daemon && re.test(x.msg));
    return l ? Math.max(0, l.t - t0) : null;
  };
  return {
    peerSilentMs: first('receiver', /-> null/),
    decideStartMs: first('supervise', /^decision: start\b/),
    startDoneMs: first('supervise', /^start (done|failed)/),
  };
}
