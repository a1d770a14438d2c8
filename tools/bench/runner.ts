/** Runs the trials of one scenario × profile and folds them into a ScenarioRow. */
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { BenchOptions } from './args.js';
import { type BenchEnv, PhaPair, type Profile } from './pair.js';
import { failed, type Measure, type ScenarioSpec } from './scenarios.js';
import { type Summary, summarize } from './stats.js';
import { NODES } from './timeline.js';
import type { ScenarioRow, TrialResult } from './types.js';
import { errText, fmtMs, say } from './util.js';

/** What a row says about itself before its trials ran. */
export type RowSpec = Pick<
  ScenarioRow,
  'impl' | 'scenario' | 'profile' | 'settings' | 'metric' | 'gapMeaning' | 'overlapMeaning' | 'flapsMeaning' | 'trials'
>;

export interface RunMeta {
  runId: string;
  at: string;
  /** performance.now() at the start of the run. */
  started: number;
  /** Set by Ctrl-C: finish no further trials. */
  aborted: () => boolean;
}

export function settingsOf(p: Profile): string {
  return [...Object.entries(p.timing), ...(p.config.NICE ? [['NICE', p.config.NICE]] : [])]
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

export function trialLine(spec: RowSpec, t: TrialResult): string {
  const head = `  ${spec.impl} ${spec.scenario} ${spec.profile} #${t.trial}:`;
  if (!t.ok) return `${head} FAILED — ${t.error ?? 'unknown'}${t.logs ? ` (logs ${t.logs})` : ''}`;
  const extra = Object.entries(t.extra)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? (Number.isInteger(v) ? String(v) : fmtMs(v)) : String(v)}`)
    .join(', ');
  return (
    `${head} ${fmtMs(t.toVipMs)} ms, gap ${fmtMs(t.gapMs)}, overlap ${fmtMs(t.overlapMs)}, holder ${t.holder ?? 'none'}` +
    `${t.flaps ? `, FLAPS ${t.flaps}` : ''}${extra ? ` (${extra})` : ''}${t.notes.length ? ` [${t.notes.join(' | ')}]` : ''}${t.logs ? ` logs ${t.logs}` : ''}`
  );
}

export function foldRow(spec: RowSpec, results: TrialResult[], meta: RunMeta): ScenarioRow {
  const ok = results.filter((r) => r.ok);
  const holders: Record<string, number> = {};
  for (const r of results) {
    const h = r.holder ?? 'none';
    holders[h] = (holders[h] ?? 0) + 1;
  }
  const extraKeys = new Set<string>();
  for (const r of results) for (const [k, v] of Object.entries(r.extra)) if (typeof v === 'number') extraKeys.add(k);
  const extra: Record<string, Summary> = {};
  for (const k of extraKeys) extra[k] = summarize(results.map((r) => r.extra[k] as number | null));
  return {
    ...spec,
    trials: results.length,
    ok: ok.length,
    toVip: summarize(ok.map((r) => r.toVipMs)),
    gap: summarize(ok.map((r) => r.gapMs)),
    overlap: summarize(ok.map((r) => r.overlapMs)),
    flaps: results.reduce((a, r) => a + r.flaps, 0),
    holders,
    extra,
    failures: results.filter((r) => !r.ok).map((r) => `#${r.trial}: ${r.error ?? 'failed'}`),
    notes: [...new Set(results.flatMap((r) => r.notes.map((n) => `#${r.trial}: ${n}`)))],
    results,
    runId: meta.runId,
    at: meta.at,
  };
}

const s3 = (s: Summary): string => `${fmtMs(s.median)} / ${fmtMs(s.p95)} / ${fmtMs(s.max)}`;

export function rowLine(r: ScenarioRow): string {
  const holders = Object.entries(r.holders)
    .map(([h, n]) => `${h}×${n}`)
    .join(' ');
  return (
    `${r.impl.padEnd(10)} ${r.scenario.padEnd(16)} ${r.profile.padEnd(9)} ${`${r.ok}/${r.trials}`.padEnd(6)}` +
    ` time ${s3(r.toVip).padEnd(22)} gap ${s3(r.gap).padEnd(22)} overlap ${s3(r.overlap).padEnd(20)} flaps ${r.flaps}  end: ${holders}`
  );
}

/** Run `n` trials with `trial(i)` (which must clean up after itself), print each, fold into a row. */
export async function runTrials(
  spec: RowSpec,
  meta: RunMeta,
  trial: (i: number) => Promise<TrialResult>,
): Promise<ScenarioRow> {
  say(
    `\n== ${spec.impl} ${spec.scenario} @ ${spec.profile} (${spec.settings}), ${spec.trials} trials — ${spec.metric}`,
  );
  const results: TrialResult[] = [];
  for (let i = 1; i <= spec.trials && !meta.aborted(); i++) {
    const t = await trial(i);
    results.push(t);
    say(trialLine(spec, t));
  }
  const row = foldRow(spec, results, meta);
  say(`ROW  ${rowLine(row)}   [${((performance.now() - meta.started) / 60_000).toFixed(1)} min into the run]`);
  return row;
}

/** One pha trial: fresh pair, the scenario, teardown. Never throws. */
export async function phaTrial(
  env: BenchEnv,
  spec: ScenarioSpec,
  profile: Profile,
  i: number,
  o: BenchOptions,
): Promise<TrialResult> {
  // A scenario may need a setting of its own (hb-cut: SPLIT_YIELD=1).
  const p = spec.config ? { ...profile, config: { ...profile.config, ...spec.config } } : profile;
  const pair = new PhaPair(env, `pha-${spec.name}-${profile.name}-${i}`, p);
  let m: Measure;
  let kept: string | null = null;
  try {
    if (spec.noSetup) await pair.install();
    else await pair.setup();
    m = await spec.run(pair, o);
    // A both-start that flapped or overlapped: its daemons' logs are the
    // evidence (issue 10); copied before the teardown removes the install.
    if (spec.name.startsWith('both-start') && (m.flaps > 0 || (m.overlapMs ?? 0) > 0))
      kept = keepTrialLogs(pair.dir, join(o.outDir, 'flaps', `${basename(pair.dir)}-${Date.now()}`));
  } catch (e) {
    m = failed(errText(e));
  } finally {
    await pair.teardown();
  }
  const { notes, ...rest } = m;
  return {
    trial: i,
    ...rest,
    notes: [...(notes ?? []), ...pair.notes, ...(kept ? [`logs kept in ${kept}`] : [])],
    ...(env.keepLogs ? { logs: pair.dir } : {}),
  };
}

export function phaRowSpec(spec: ScenarioSpec, profile: Profile, o: BenchOptions): RowSpec {
  return {
    impl: 'pha',
    scenario: spec.name,
    profile: `${profile.label ?? profile.name}${o.load ? '+load' : ''}`,
    settings: settingsOf(profile) + (o.load ? ' under stress-ng --cpu 0' : ''),
    metric: spec.metric,
    gapMeaning: spec.gapMeaning,
    overlapMeaning: spec.overlapMeaning,
    flapsMeaning: spec.flapsMeaning,
    trials: spec.trials(o),
  };
}

/** Copy each node's daemon logs and status.dat to `to`; returns `to`, or null when nothing was there. */
function keepTrialLogs(from: string, to: string): string | null {
  let n = 0;
  for (const node of NODES) {
    const v = join(from, node, 'var');
    if (!existsSync(v)) continue;
    mkdirSync(join(to, node), { recursive: true });
    for (const f of readdirSync(v)) {
      if (!/^log\.|^status\.dat$/.test(f)) continue;
      try {
        copyFileSync(join(v, f), join(to, node, f));
        n++;
      } catch {
        /* a log that vanished: keep the others */
      }
    }
  }
  return n ? to : null;
}
