/**
 * --soak MINUTES: a steady pair under full CPU load (stress-ng --cpu 0, all
 * CPUs) for MINUTES per profile, no fault injected: every VIP transition is a
 * spurious failover.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { LOOP_DELAY_ENV } from '../../src/daemon/vitals.js';
import type { Lab } from '../lab/index.js';
import type { BenchOptions } from './args.js';
import { daemonStats } from './footprint.js';
import { ensureInstalled } from './keepalived.js';
import { type BenchEnv, PHA_PROFILES, PhaPair, withNice } from './pair.js';
import { type RunMeta, settingsOf } from './runner.js';
import { NODES } from './timeline.js';
import type { SoakResult } from './types.js';
import { errText, fmtMs, say, sleep } from './util.js';

export async function runSoak(env: BenchEnv, o: BenchOptions, meta: RunMeta): Promise<SoakResult[]> {
  const out: SoakResult[] = [];
  if (!ensureInstalled('stress-ng', 'stress-ng')) {
    say('bench: stress-ng is not available: no soak');
    return out;
  }
  for (const pname of o.profiles) {
    if (meta.aborted()) break;
    const profile = withNice(PHA_PROFILES[pname], o.nice);
    const pair = new PhaPair(env, `soak-${pname}`, profile);
    const ms = o.soakMinutes * 60_000;
    const notes: string[] = [];
    let stress: ReturnType<BenchEnv['lab']['spawn']> | null = null;
    say(
      `\n== soak @ ${profile.label ?? pname}: ${o.soakMinutes} min of a steady pair under ${LOAD} (${cpus().length} CPUs busy)`,
    );
    const loop: Record<string, LoopMax> = {};
    try {
      // The daemons measure their loop delay and GC pauses (vitals.ts) for this pair only.
      process.env[LOOP_DELAY_ENV] = '1';
      await pair.setup();
      delete process.env[LOOP_DELAY_ENV];
      stress = env.lab.spawn(
        'client',
        'stress-ng',
        [...LOAD.split(' ').slice(1), '--timeout', `${Math.ceil(ms / 1000) + 60}s`, '--quiet'],
        { stdio: 'ignore' },
      );
      await sleep(500);
      const t0 = performance.now();
      const wallStart = Date.now();
      let lastReport = t0;
      let lastSample = t0;
      while (performance.now() - t0 < ms && !meta.aborted()) {
        await sleep(Math.min(1000, ms - (performance.now() - t0)));
        // Each daemon's lag (15 s window) and loop delay, every 10 s: the worst of the soak.
        if (performance.now() - lastSample >= 10_000) {
          lastSample = performance.now();
          for (const n of NODES) sampleLoop(loop, n, await daemonStats(pair, n));
        }
        if (performance.now() - lastReport >= 60_000) {
          lastReport = performance.now();
          const n = pair.obs.timeline().transitions(t0, lastReport);
          say(
            `  ${((lastReport - t0) / 60_000).toFixed(0)} min: ${n} transition(s), holders now ${pair.obs.holders().join(',') || 'none'}`,
          );
        }
      }
      const end = performance.now();
      stopStress(stress);
      const tl = pair.obs.timeline();
      const changes = tl.holderChanges(t0, end);
      const logs = NODES.map((n) =>
        ['receiver', 'sender', 'supervise']
          .map((d) => {
            try {
              return readFileSync(join(pair.dir, n, 'var', `log.${d}`), 'utf8');
            } catch {
              return '';
            }
          })
          .join('\n'),
      )
        .join('\n')
        .split('\n')
        .filter((l) => {
          try {
            const t = (JSON.parse(l) as { time?: number }).time ?? 0;
            return t >= wallStart;
          } catch {
            return false;
          }
        });
      const r: SoakResult = {
        peerLost: logs.filter((l) => /-> null/.test(l)).length,
        stalls: logs.filter((l) => /own stall detected/.test(l)).length,
        profile: profile.label ?? pname,
        settings: settingsOf(profile),
        minutes: (end - t0) / 60_000,
        spuriousFailovers: changes.length,
        transitions: changes.map((c) => ({
          atS: Math.round((c.from - t0) / 100) / 10,
          holders: c.holders.join('+') || 'none',
        })),
        gapMs: tl.gapMs(t0, end),
        overlapMs: tl.overlapMs(t0, end),
        finalHolder: tl.finalHolders(end).join('+') || 'none',
        load: `${LOAD} (${cpus().length} CPU workers)`,
        loop,
        notes,
        runId: meta.runId,
        at: meta.at,
      };
      out.push(r);
      say(
        `  soak ${profile.label ?? pname}: ${r.spuriousFailovers} spurious transition(s) in ${r.minutes.toFixed(1)} min, gap ${fmtMs(r.gapMs)} ms, overlap ${fmtMs(r.overlapMs)} ms, holder ${r.finalHolder}; ` +
          `in the logs: peer declared silent ${r.peerLost}×, own stall detected ${r.stalls}×; worst loop delay ${loopLine(loop)}` +
          (r.transitions.length ? ` — ${r.transitions.map((t) => `${t.atS}s→${t.holders}`).join(', ')}` : ''),
      );
    } catch (e) {
      notes.push(errText(e));
      say(`  soak ${profile.label ?? pname} FAILED: ${errText(e)}`);
    } finally {
      delete process.env[LOOP_DELAY_ENV];
      stopStress(stress);
      await pair.teardown();
      notes.push(...pair.notes);
    }
  }
  return out;
}

/** Full CPU load on every core, and memory pressure (a worker dirtying 40 % of the RAM). */
const LOAD = 'stress-ng --cpu 0 --vm 1 --vm-bytes 40%';

type LoopMax = SoakResult['loop'] extends Record<string, infer V> | undefined ? V : never;

function sampleLoop(loop: Record<string, LoopMax>, n: string, stats: Record<string, Record<string, number>>): void {
  for (const [d, s] of Object.entries(stats)) {
    const m = loop[`${n}.${d}`] ?? { lagMs: 0, loopDelayP99Ms: 0, loopDelayMaxMs: 0, gcMaxMs: 0 };
    loop[`${n}.${d}`] = m;
    for (const k of ['lagMs', 'loopDelayP99Ms', 'loopDelayMaxMs', 'gcMaxMs'] as const) m[k] = Math.max(m[k], s[k] ?? 0);
  }
}

/** The worst of each measure over the node's daemons. */
export function loopLine(loop: Record<string, LoopMax> | undefined): string {
  const v = Object.values(loop ?? {});
  if (!v.length) return 'not measured';
  const worst = (k: keyof LoopMax) => fmtMs(Math.max(...v.map((x) => x[k])));
  return `timer lag ${worst('lagMs')} ms, loop delay p99 ${worst('loopDelayP99Ms')} ms / max ${worst('loopDelayMaxMs')} ms, GC pause max ${worst('gcMaxMs')} ms`;
}

function stopStress(c: { pid?: number } | null): void {
  if (!c?.pid) return;
  try {
    process.kill(-c.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** --load: stress-ng on every CPU (in the client namespace: lab-owned, killed with the lab). */
export function startLoad(lab: Lab): { pid?: number } | null {
  if (!ensureInstalled('stress-ng', 'stress-ng')) return null;
  say(`bench: --load: stress-ng --cpu 0 (${cpus().length} workers) runs while the failover scenarios run`);
  return lab.spawn('client', 'stress-ng', ['--cpu', '0', '--timeout', '4h', '--quiet'], { stdio: 'ignore' });
}

export function stopLoad(c: { pid?: number }): void {
  stopStress(c);
}
