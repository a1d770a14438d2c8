/**
 * Idle footprint of a steady pair (CPU % and RSS of each node's three
 * daemons), supervise's round time with 1 / 10 / 50 / 200 resources, status-store
 * update latency with three concurrent writer processes, and the wall time
 * of a one-shot `pha-cli stat`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, watch, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResourceDef } from '../../src/config/index.js';
import { ResourceRunner } from '../../src/resources/index.js';
import { StatusStore } from '../../src/status-store/index.js';
import { findPhaRoot, type NodeName, readDaemonPids } from '../lab/index.js';
import type { BenchOptions, ProfileName } from './args.js';
import { type BenchEnv, PHA_PROFILES, PhaPair } from './pair.js';
import type { RunMeta } from './runner.js';
import { type Summary, summarize } from './stats.js';
import { NODES } from './timeline.js';
import type { DaemonFootprint, MicroResults, NodeFootprint } from './types.js';
import { errText, fmtMs, say, sleep } from './util.js';

const DAEMONS = ['sender', 'receiver', 'supervise'] as const;

function clockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

interface CpuSample {
  own: number;
  children: number;
}

/** utime+stime and cutime+cstime of a pid, in clock ticks; null when gone. */
export function cpuTicks(pid: number): CpuSample | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): utime = field 14 → f[11], stime f[12], cutime f[13], cstime f[14].
    return { own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
  } catch {
    return null;
  }
}

/** Pss and private (clean + dirty) memory in kB from smaps_rollup; zeros when gone. */
export function memShares(pid: number): { pssKb: number; privateKb: number } {
  try {
    const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? 0);
    return { pssKb: kb('Pss'), privateKb: kb('Private_Clean') + kb('Private_Dirty') };
  } catch {
    return { pssKb: 0, privateKb: 0 };
  }
}

/** Each daemon's vitals (wake-up counts, lag), asked inside the node over its local bus. */
export async function daemonStats(pair: PhaPair, n: NodeName): Promise<Record<string, Record<string, number>>> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'daemon-stats.js');
  const r = await pair.lab.run(n, process.execPath, [script, join(pair.lab.installs[n]!.dir, 'var', 'run')]);
  try {
    return JSON.parse(r.stdout) as Record<string, Record<string, number>>;
  } catch {
    return {};
  }
}

/** Per second over `s` seconds: the counts that grew between two readings, the rest left out. */
function perSecond(a: Record<string, number> = {}, b: Record<string, number> = {}, s: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) {
    const d = v - (a[k] ?? 0);
    if (d > 0 && k.startsWith('wake.')) out[k.replace(/^wake\./, '')] = Math.round((d / s) * 100) / 100;
  }
  return out;
}

/** VmRSS in kB; 0 when gone. */
export function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const sum = (ds: DaemonFootprint[], k: 'pssKb' | 'privateKb'): number => ds.reduce((a, d) => a + (d[k] ?? 0), 0);

/** `n - 1` res/test resources beside the VIP in a node's install dir (t1.., symlinks, each its own file). */
function extraResources(n: number): ((nodeDir: string) => void) | undefined {
  if (n <= 1) return undefined;
  const testScript = join(findPhaRoot(), 'res', 'test');
  return (dir) => {
    mkdirSync(join(dir, 'res'), { recursive: true });
    const lines: string[] = [];
    for (let i = 1; i < n; i++) {
      symlinkSync(testScript, join(dir, 'res', `t${i}`));
      lines.push(`RES_t${i}=${join(dir, 'var', `t${i}.up`)}`);
    }
    appendFileSync(join(dir, 'etc', 'config'), `${lines.join('\n')}\n`);
  };
}

async function idleFootprint(
  env: BenchEnv,
  o: BenchOptions,
  profileName: ProfileName,
  meta: RunMeta,
  micro: MicroResults,
  resources = 1,
): Promise<void> {
  const label = resources > 1 ? `${profileName}, ${resources} resources` : profileName;
  const seconds = resources > 1 ? Math.min(o.idleSeconds, 60) : o.idleSeconds;
  const pair = new PhaPair(
    env,
    `footprint-${profileName}-${resources}`,
    PHA_PROFILES[profileName],
    extraResources(resources),
  );
  try {
    await pair.setup();
    const hz = clockTicks();
    const pids: Record<NodeName, Record<string, number>> = { lb1: {}, lb2: {} };
    for (const n of NODES) {
      const p = await readDaemonPids(env.lab.installs[n]!);
      for (const d of DAEMONS) pids[n][d] = p[d];
    }
    const all = NODES.flatMap((n) => DAEMONS.map((d) => ({ n, d, pid: pids[n][d]! })));
    const rssMax = new Map<number, number>();
    const writes: Record<NodeName, number> = { lb1: 0, lb2: 0 };
    const watchers = NODES.map((n) =>
      watch(join(env.lab.installs[n]!.dir, 'var'), (_ev, name) => {
        if (name === 'status.dat') writes[n]++;
      }),
    );
    // Reference: a bare Node.js process with a 200 ms timer, over the same window.
    const ref = spawn(process.execPath, ['-e', 'setInterval(() => {}, 200)'], { stdio: 'ignore', detached: true });
    env.lab.adopt(ref);
    await sleep(300);
    const ref0 = ref.pid ? cpuTicks(ref.pid) : null;
    const wake0 = { lb1: await daemonStats(pair, 'lb1'), lb2: await daemonStats(pair, 'lb2') };
    const first = new Map(all.map((x) => [x.pid, cpuTicks(x.pid)]));
    const t0 = performance.now();
    say(`\n== idle footprint @ ${label}: ${seconds} s of a steady pair (lb1 Active, lb2 Standby)`);
    while (performance.now() - t0 < seconds * 1000 && !meta.aborted()) {
      for (const x of all) rssMax.set(x.pid, Math.max(rssMax.get(x.pid) ?? 0, rssKb(x.pid)));
      await sleep(Math.min(1000, seconds * 1000 - (performance.now() - t0)));
    }
    const wallS = (performance.now() - t0) / 1000;
    const last = new Map(all.map((x) => [x.pid, cpuTicks(x.pid)]));
    const wake1 = { lb1: await daemonStats(pair, 'lb1'), lb2: await daemonStats(pair, 'lb2') };
    for (const w of watchers) w.close();
    const ref1 = ref.pid ? cpuTicks(ref.pid) : null;
    if (ref0 && ref1 && ref.pid) {
      micro.nodeBaseline ??= [];
      micro.nodeBaseline.push({
        profile: label,
        cpuPct: ((ref1.own - ref0.own) / hz / wallS) * 100,
        rssKb: rssKb(ref.pid),
        ...memShares(ref.pid),
      });
      const m = memShares(ref.pid);
      say(
        `  reference: a bare node process with a 200 ms timer: ${(((ref1.own - ref0.own) / hz / wallS) * 100).toFixed(2)}% CPU, RSS ${(rssKb(ref.pid) / 1024).toFixed(1)} MB (PSS ${(m.pssKb / 1024).toFixed(1)}, private ${(m.privateKb / 1024).toFixed(1)})`,
      );
    }
    ref.kill('SIGKILL');
    const holders = pair.obs.holders().join(',');
    if (holders !== 'lb1')
      micro.notes.push(`footprint ${label}: holders [${holders}] at the end of the idle window, expected [lb1]`);
    for (const n of NODES) {
      const daemons: DaemonFootprint[] = DAEMONS.map((d) => {
        const pid = pids[n][d]!;
        const a = first.get(pid),
          b = last.get(pid);
        const pct = (x: 'own' | 'children'): number => (a && b ? ((b[x] - a[x]) / hz / wallS) * 100 : NaN);
        const own = pct('own');
        return {
          daemon: d,
          pid,
          cpuPct: own,
          cpuPctWithChildren: own + pct('children'),
          rssKb: rssKb(pid),
          rssMaxKb: rssMax.get(pid) ?? 0,
          ...memShares(pid),
          wakePerS: perSecond(wake0[n][d], wake1[n][d], wallS),
        };
      });
      const fp: NodeFootprint = {
        node: n,
        role: n === 'lb1' ? 'Active' : 'Standby',
        profile: profileName,
        resources,
        ...(micro.nodeBaseline?.length ? { baselineCpuPct: micro.nodeBaseline.at(-1)!.cpuPct } : {}),
        seconds: Math.round(wallS),
        daemons,
        totalCpuPct: daemons.reduce((a, d) => a + d.cpuPct, 0),
        totalCpuPctWithChildren: daemons.reduce((a, d) => a + d.cpuPctWithChildren, 0),
        totalRssKb: daemons.reduce((a, d) => a + d.rssKb, 0),
        // A rename shows as one or two events (the temp file's rename onto status.dat): counted once per event name match, so an upper bound.
        statusWritesPerS: writes[n] / wallS,
      };
      micro.footprint.push(fp);
      say(
        `  ${n} (${fp.role}) ${daemons.map((d) => `${d.daemon} ${d.cpuPct.toFixed(2)}% (+children ${d.cpuPctWithChildren.toFixed(2)}%) ${(d.rssKb / 1024).toFixed(1)} MB`).join(', ')}` +
          ` | total ${fp.totalCpuPct.toFixed(2)}% (+children ${fp.totalCpuPctWithChildren.toFixed(2)}%), RSS ${(fp.totalRssKb / 1024).toFixed(1)} MB` +
          ` (PSS ${(sum(daemons, 'pssKb') / 1024).toFixed(1)}, private ${(sum(daemons, 'privateKb') / 1024).toFixed(1)}); status.dat events ${fp.statusWritesPerS!.toFixed(1)}/s`,
      );
      for (const d of daemons)
        say(
          `    ${d.daemon} wakes/s: ${Object.entries(d.wakePerS ?? {})
            .sort(([, a], [, b]) => b - a)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        );
    }
    if (profileName === 'default' && resources === 1 && !meta.aborted()) micro.cliStat = await cliStat(pair);
  } catch (e) {
    micro.notes.push(`footprint ${label}: ${errText(e)}`);
    say(`  footprint ${label} FAILED: ${errText(e)}`);
  } finally {
    await pair.teardown();
    micro.notes.push(...pair.notes.map((n) => `footprint ${label}: ${n}`));
  }
}

/** `pha-cli stat` one-shot on the running lb1, 20 runs; the `ip netns exec … nsenter` wrapper's own time measured with `true`. */
async function cliStat(pair: PhaPair, runs = 20): Promise<MicroResults['cliStat']> {
  const wall: number[] = [],
    overhead: number[] = [],
    codes: number[] = [];
  await pair.cli('lb1', ['stat']); // warm the page cache
  for (let i = 0; i < runs; i++) {
    const r = await pair.cli('lb1', ['stat']);
    wall.push(r.ms);
    codes.push(r.code);
    const t = await pair.lab.run('lb1', 'true');
    overhead.push(t.ms);
  }
  const res = { runs, wall: summarize(wall), netnsOverhead: summarize(overhead), exitCodes: [...new Set(codes)] };
  say(
    `\n== pha-cli stat one-shot on lb1: median ${fmtMs(res.wall.median)} ms, p95 ${fmtMs(res.wall.p95)} ms (netns wrapper alone: median ${fmtMs(res.netnsOverhead.median)} ms), exit codes ${res.exitCodes.join(',')}`,
  );
  return res;
}

/** checkAll on N test resources t1..tN (copies of res/test by symlink), as supervise does each round; then the round's status write. */
async function superviseRounds(env: BenchEnv, n: number, rounds = 20): Promise<MicroResults['superviseRound'][number]> {
  const dir = join(env.runDir, `rounds-${n}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'res'), { recursive: true });
  mkdirSync(join(dir, 'var', 'up'), { recursive: true });
  const testScript = join(findPhaRoot(), 'res', 'test');
  const list: ResourceDef[] = [];
  for (let i = 1; i <= n; i++) {
    const script = join(dir, 'res', `t${i}`);
    symlinkSync(testScript, script);
    const file = join(dir, 'var', 'up', `t${i}`);
    writeFileSync(file, ''); // UP: the steady state of a round
    list.push({ name: `t${i}`, args: [file], script });
  }
  const runner = new ResourceRunner({ timeoutMs: 30_000 });
  const store = new StatusStore({ file: join(dir, 'var', 'status.dat') });
  const check: number[] = [],
    round: number[] = [],
    floor: number[] = [];
  let downs = 0;
  for (let i = 0; i < rounds + 2; i++) {
    const t0 = performance.now();
    const results = await runner.checkAll(list);
    const t1 = performance.now();
    const patch: Record<string, string> = {};
    for (const r of results) patch[`RES_${r.name}`] = r.ok ? 'UP' : 'DOWN';
    await store.update({ ...patch, SUPERVISE_AT: Date.now() });
    const t2 = performance.now();
    downs += results.filter((r) => !r.ok).length;
    const f = await spawnFloor(n);
    if (i >= 2) {
      // two warm-up rounds
      check.push(t1 - t0);
      round.push(t2 - t0);
      floor.push(f);
    }
  }
  if (!env.keepLogs) rmSync(dir, { recursive: true, force: true });
  const res = {
    resources: n,
    rounds,
    checkAll: summarize(check),
    roundWithWrite: summarize(round),
    spawnFloor: summarize(floor),
  };
  say(
    `  ${String(n).padStart(2)} resources: checkAll median ${fmtMs(res.checkAll.median)} ms, p95 ${fmtMs(res.checkAll.p95)} ms; with the status write median ${fmtMs(res.roundWithWrite.median)} ms, p95 ${fmtMs(res.roundWithWrite.p95)} ms; floor (${n} bare spawns) ${fmtMs(res.spawnFloor.median)} ms${downs ? ` (${downs} checks said DOWN!)` : ''}`,
  );
  return res;
}

/**
 * The same-run floor of a round: `n` concurrent spawns of /bin/true from this
 * process, no pipes, waited for (Node forks the whole process for each; that,
 * not the check script, is most of a round's time).
 */
async function spawnFloor(n: number): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve) => {
          const c = spawn('/bin/true', [], { stdio: 'ignore' });
          c.on('exit', () => resolve());
          c.on('error', () => resolve());
        }),
    ),
  );
  return performance.now() - t0;
}

/** Three writer processes, `each` updates each, all at once; every update's latency. */
async function statusStoreLatency(env: BenchEnv, writers = 3, each = 500): Promise<MicroResults['statusStore']> {
  const dir = join(env.runDir, 'store');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'status.dat');
  const script = join(dirname(fileURLToPath(import.meta.url)), 'store-writer.js');
  const startAt = Date.now() + 800;
  const t0 = performance.now();
  const outs = await Promise.all(
    Array.from(
      { length: writers },
      (_, i) =>
        new Promise<{ lat: number[]; errors: number }>((resolve, reject) => {
          const c = spawn(process.execPath, [script, file, String(each), String(i + 1), String(startAt)], {
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          env.lab.adopt(c);
          let out = '';
          c.stdout!.on('data', (d: Buffer) => {
            out += d.toString();
          });
          c.once('exit', (code) => {
            try {
              resolve(JSON.parse(out) as { lat: number[]; errors: number });
            } catch {
              reject(new Error(`store writer ${i + 1} exited ${code} without a result`));
            }
          });
        }),
    ),
  );
  const wallMs = performance.now() - t0 - Math.max(0, startAt - Date.now());
  if (!env.keepLogs) rmSync(dir, { recursive: true, force: true });
  const lat = outs.flatMap((o) => o.lat);
  const res = {
    writers,
    updatesEach: each,
    latency: summarize(lat),
    wallMs,
    errors: outs.reduce((a, o) => a + o.errors, 0),
  };
  say(
    `\n== status-store: ${writers} writers × ${each} updates at once: p50 ${fmtMs(res.latency.median)} ms, p99 ${fmtMs(res.latency.p99)} ms, max ${fmtMs(res.latency.max)} ms, errors ${res.errors}`,
  );
  return res;
}

export async function runFootprint(env: BenchEnv, o: BenchOptions, meta: RunMeta): Promise<MicroResults> {
  const micro: MicroResults = {
    footprint: [],
    superviseRound: [],
    statusStore: null,
    cliStat: null,
    notes: [],
    runId: meta.runId,
    at: meta.at,
  };
  for (const p of o.profiles) {
    if (meta.aborted()) return micro;
    await idleFootprint(env, o, p, meta, micro);
  }
  // Idle cost as work grows: the default profile with 10, 50 and 200 resources (mostly their check scripts).
  for (const n of o.resourceCounts) {
    if (meta.aborted()) return micro;
    await idleFootprint(env, o, 'default', meta, micro, n);
  }
  if (meta.aborted()) return micro;
  say('\n== supervise round (resource checks run concurrently, then the status write), 20 rounds');
  for (const n of [1, 10, 50, 200]) {
    try {
      micro.superviseRound.push(await superviseRounds(env, n));
    } catch (e) {
      micro.notes.push(`supervise round with ${n} resources: ${errText(e)}`);
    }
  }
  try {
    micro.statusStore = await statusStoreLatency(env);
  } catch (e) {
    micro.notes.push(`status-store latency: ${errText(e)}`);
  }
  return micro;
}

export type { Summary };
