/**
 * keepalived side by side (--compare keepalived): the same lab, the same VIP
 * on eth0, lb1 priority 150 (MASTER) / lb2 100 (BACKUP), (a) keepalived's
 * defaults (VRRPv2, advert_int 1) and (b) VRRPv3 with advert_int 0.2.
 * Scenarios: host death of the master, and graceful handover (the master's
 * keepalived stopped with SIGTERM: it sends priority 0 and drops the VIP).
 */

import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeName } from '../lab/index.js';
import type { BenchOptions } from './args.js';
import { type Observer, observe } from './observer.js';
import type { BenchEnv } from './pair.js';
import { type RowSpec, type RunMeta, runTrials } from './runner.js';
import { SETTLE_MS } from './scenarios.js';
import { NODES } from './timeline.js';
import type { ScenarioRow, TrialResult } from './types.js';
import { errText, say, sleep, waitFor } from './util.js';

interface KaProfile {
  name: string;
  settings: string;
  version: 2 | 3;
  advertInt: number;
}

export const KA_PROFILES: KaProfile[] = [
  { name: 'defaults', settings: 'VRRPv2 advert_int 1', version: 2, advertInt: 1 },
  { name: 'vrrp3-0.2s', settings: 'VRRPv3 advert_int 0.2', version: 3, advertInt: 0.2 },
];

const PRIORITY: Record<NodeName, number> = { lb1: 150, lb2: 100 };

function hasCmd(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** apt-get install -y <pkg> when `cmd` is missing; true when `cmd` is there afterwards. */
export function ensureInstalled(cmd: string, pkg: string): boolean {
  if (hasCmd(cmd)) return true;
  say(`bench: ${cmd} is missing: apt-get install -y ${pkg}`);
  try {
    execFileSync('apt-get', ['install', '-y', pkg], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (e) {
    say(`bench: apt-get install ${pkg} failed: ${errText(e)}`);
  }
  return hasCmd(cmd);
}

export function keepalivedConf(node: NodeName, p: KaProfile, vipCidr: string): string {
  return `# written by the pha bench: ${node}, ${p.settings}
global_defs {
  router_id ${node}
  vrrp_version ${p.version}
  script_user root
  enable_script_security
}

vrrp_instance VI_1 {
  state ${node === 'lb1' ? 'MASTER' : 'BACKUP'}
  interface eth0
  virtual_router_id 51
  priority ${PRIORITY[node]}
  advert_int ${p.advertInt}
  virtual_ipaddress {
    ${vipCidr} dev eth0
  }
}
`;
}

function readPidFile(file: string): number {
  try {
    const n = parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(n) && n > 1 ? n : 0;
  } catch {
    return 0;
  }
}

class KaPair {
  readonly dir: string;
  obs!: Observer;
  readonly notes: string[] = [];
  private readonly procs: Partial<Record<NodeName, ChildProcess>> = {};

  constructor(
    readonly env: BenchEnv,
    label: string,
    readonly profile: KaProfile,
  ) {
    this.dir = join(env.runDir, label);
  }

  pidFile(n: NodeName): string {
    return join(this.dir, n, 'keepalived.pid');
  }

  start(n: NodeName): void {
    const d = join(this.dir, n);
    mkdirSync(d, { recursive: true });
    const conf = join(d, 'keepalived.conf');
    writeFileSync(conf, keepalivedConf(n, this.profile, this.env.lab.vipCidr));
    const fd = openSync(join(d, 'keepalived.log'), 'a');
    try {
      this.procs[n] = this.env.lab.spawn(
        n,
        'keepalived',
        [
          '-n',
          '-l',
          '-D',
          '-G',
          '-P',
          '-f',
          conf,
          '-p',
          this.pidFile(n),
          '-r',
          join(d, 'vrrp.pid'),
          '-c',
          join(d, 'checkers.pid'),
        ],
        { stdio: ['ignore', fd, fd] },
      );
    } finally {
      closeSync(fd);
    }
  }

  async setup(): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true });
    this.obs = await observe(this.env.lab, this.env.observer);
    this.start('lb1');
    if (!(await waitFor(() => this.obs.holders().join() === 'lb1', 15_000, 10))) {
      throw new Error(
        `setup: keepalived on lb1 did not take the VIP within 15 s (see ${join(this.dir, 'lb1', 'keepalived.log')})`,
      );
    }
    this.start('lb2');
    await sleep(2000 + 3 * this.profile.advertInt * 1000 + Math.random() * this.profile.advertInt * 1000);
    if (this.obs.holders().join() !== 'lb1')
      throw new Error(`setup: holders [${this.obs.holders().join(',')}] after lb2 joined, not [lb1]`);
  }

  /** SIGTERM to keepalived's parent on the node (its graceful stop). */
  gracefulStop(n: NodeName): void {
    const pid = readPidFile(this.pidFile(n)) || this.procs[n]?.pid || 0;
    if (pid) process.kill(pid, 'SIGTERM');
  }

  async teardown(): Promise<void> {
    const { lab } = this.env;
    try {
      for (const n of NODES) if (lab.faultState(n).frozen) await lab.faults.thaw(n);
      for (const n of NODES) {
        const c = this.procs[n];
        if (c && c.exitCode === null && c.signalCode === null) {
          const gone = new Promise<void>((r) => c.once('exit', () => r()));
          this.gracefulStop(n);
          await Promise.race([gone, sleep(3000)]);
          if (c.exitCode === null && c.signalCode === null) {
            this.notes.push(`keepalived on ${n} did not stop within 3 s of SIGTERM: killed`);
            await lab.faults.kill(n, 'SIGKILL');
          }
        }
      }
      for (const n of NODES) {
        if (lab.faultState(n).dead) await lab.faults.hostRevive(n);
        const left = await lab.pids(n);
        if (left.length) await lab.faults.kill(left, 'SIGKILL');
        await lab.run(n, 'ip', ['addr', 'del', lab.vipCidr, 'dev', 'eth0']);
      }
    } catch (e) {
      this.notes.push(`teardown: ${errText(e)}`);
    }
    await this.obs?.stop().catch(() => {});
    if (!this.env.keepLogs) rmSync(this.dir, { recursive: true, force: true });
  }
}

type KaScenario = 'host-death' | 'graceful-stop';

async function kaTrial(env: BenchEnv, sc: KaScenario, p: KaProfile, i: number): Promise<TrialResult> {
  const pair = new KaPair(env, `ka-${sc}-${p.name}-${i}`, p);
  const base = {
    trial: i,
    toVipMs: null,
    gapMs: null,
    overlapMs: null,
    holder: null,
    flaps: 0,
    extra: {},
    notes: [] as string[],
  };
  let r: TrialResult;
  try {
    await pair.setup();
    const { lab } = env;
    let t0: number;
    if (sc === 'host-death') {
      t0 = (await lab.faults.hostDeath('lb1')).start;
    } else {
      t0 = performance.now();
      pair.gracefulStop('lb1');
    }
    const reached = await waitFor(() => pair.obs.effective().join() === 'lb2', 15_000);
    await sleep(SETTLE_MS);
    const end = performance.now();
    const tl = pair.obs.timeline();
    if (sc === 'host-death') tl.exclude('lb1', t0);
    const took = tl.firstHold(t0, end, 'lb2');
    const del1 = tl.firstEvent('lb1', 'del', t0);
    r = {
      ...base,
      ok: reached && took !== null,
      error: reached
        ? undefined
        : `lb2 alone did not hold the VIP within 15 s (holders: ${pair.obs.holders().join(',') || 'none'})`,
      toVipMs: took === null ? null : took - t0,
      gapMs: tl.gapMs(t0, end),
      overlapMs: tl.overlapMs(t0, end),
      holder: tl.finalHolders(end).join('+') || null,
      flaps: took === null ? 0 : tl.flaps('lb2', took, end),
      extra: sc === 'graceful-stop' ? { stopToReleaseMs: del1 ? del1.t - t0 : null } : {},
    };
  } catch (e) {
    r = { ...base, ok: false, error: errText(e) };
  } finally {
    await pair.teardown();
  }
  r.notes.push(...pair.notes);
  if (env.keepLogs) r.logs = pair.dir;
  return r;
}

const KA_SPECS: Record<KaScenario, Omit<RowSpec, 'impl' | 'profile' | 'settings' | 'trials'>> = {
  'host-death': {
    scenario: 'host-death',
    metric: 'fault → VIP on lb2',
    gapMeaning: 'no live holder after the fault',
    overlapMeaning: 'two live holders (0 by definition)',
    flapsMeaning: 'VIP moves away from lb2 after it took over',
  },
  'graceful-stop': {
    scenario: 'graceful-stop',
    metric: 'SIGTERM to the master → VIP on lb2',
    gapMeaning: 'no holder between release and take',
    overlapMeaning: 'both hold',
    flapsMeaning: 'VIP moves away from lb2 after it took over',
  },
};

export async function runKeepalived(env: BenchEnv, o: BenchOptions, meta: RunMeta): Promise<ScenarioRow[]> {
  if (!ensureInstalled('keepalived', 'keepalived')) {
    say('bench: keepalived is not available: no comparison rows');
    return [];
  }
  const v = spawnSync('keepalived', ['--version'], { encoding: 'utf8' });
  const version = `${v.stdout ?? ''}${v.stderr ?? ''}`.split('\n')[0]!.trim() || 'keepalived';
  const rows: ScenarioRow[] = [];
  for (const p of KA_PROFILES) {
    for (const sc of ['host-death', 'graceful-stop'] as KaScenario[]) {
      if (meta.aborted()) return rows;
      const spec: RowSpec = {
        impl: 'keepalived',
        profile: p.name,
        settings: `${version}, ${p.settings}`,
        trials: o.trials,
        ...KA_SPECS[sc],
      };
      rows.push(await runTrials(spec, meta, (i) => kaTrial(env, sc, p, i)));
    }
  }
  return rows;
}
