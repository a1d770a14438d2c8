/**
 * --soak MINUTES: a steady pair under full CPU load (stress-ng --cpu 0, all
 * CPUs) for MINUTES per profile, no fault injected: every VIP transition is a
 * spurious failover.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Lab } from '../lab/index.js';
import type { BenchOptions } from './args.js';
import { ensureInstalled } from './keepalived.js';
import { type BenchEnv, PHA_PROFILES, PhaPair } from './pair.js';
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
    const profile = PHA_PROFILES[pname];
    const pair = new PhaPair(env, `soak-${pname}`, profile);
    const ms = o.soakMinutes * 60_000;
    const notes: string[] = [];
    let stress: ReturnType<BenchEnv['lab']['spawn']> | null = null;
    say(
      `\n== soak @ ${pname}: ${o.soakMinutes} min of a steady pair under stress-ng --cpu 0 (${cpus().length} CPUs busy)`,
    );
    try {
      await pair.setup();
      stress = env.lab.spawn(
        'client',
        'stress-ng',
        ['--cpu', '0', '--timeout', `${Math.ceil(ms / 1000) + 60}s`, '--quiet'],
        { stdio: 'ignore' },
      );
      await sleep(500);
      const t0 = performance.now();
      const wallStart = Date.now();
      let lastReport = t0;
      while (performance.now() - t0 < ms && !meta.aborted()) {
        await sleep(Math.min(1000, ms - (performance.now() - t0)));
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
        profile: pname,
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
        load: `stress-ng --cpu 0 (${cpus().length} workers)`,
        notes,
        runId: meta.runId,
        at: meta.at,
      };
      out.push(r);
      say(
        `  soak ${pname}: ${r.spuriousFailovers} spurious transition(s) in ${r.minutes.toFixed(1)} min, gap ${fmtMs(r.gapMs)} ms, overlap ${fmtMs(r.overlapMs)} ms, holder ${r.finalHolder}; ` +
          `in the logs: peer declared silent ${r.peerLost}×, own stall detected ${r.stalls}×` +
          (r.transitions.length ? ` — ${r.transitions.map((t) => `${t.atS}s→${t.holders}`).join(', ')}` : ''),
      );
    } catch (e) {
      notes.push(errText(e));
      say(`  soak ${pname} FAILED: ${errText(e)}`);
    } finally {
      stopStress(stress);
      await pair.teardown();
      notes.push(...pair.notes);
    }
  }
  return out;
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
