/**
 * Two variants of a pair measured against each other in one run (the key's
 * cost, a slow notify hook's): trials interleaved (a, b, b, a, …) so that
 * drift of the machine's load hits both alike.
 */
import type { BenchOptions } from './args.js';
import type { BenchEnv, PhaPair } from './pair.js';
import { foldRow, type RowSpec, type RunMeta, rowLine, trialLine } from './runner.js';
import { failed, HOST_DEATH, type Measure } from './scenarios.js';
import type { ScenarioRow, TrialResult } from './types.js';
import { errText, say } from './util.js';

/** The first variant first on odd trials, the second first on even ones. */
export const order = <T>(i: number, [a, b]: readonly [T, T]): T[] => (i % 2 ? [a, b] : [b, a]);

export interface Variant {
  make: (i: number) => PhaPair;
  spec: RowSpec;
}

/** One host death of lb1 (lb2 takes over) on a fresh pair. */
async function hostDeathTrial(env: BenchEnv, pair: PhaPair, i: number, o: BenchOptions): Promise<TrialResult> {
  let m: Measure;
  try {
    await pair.setup();
    m = await HOST_DEATH.run(pair, o);
  } catch (e) {
    m = failed(errText(e));
  } finally {
    await pair.teardown();
  }
  const { notes, ...rest } = m;
  return { trial: i, ...rest, notes: [...(notes ?? []), ...pair.notes], ...(env.keepLogs ? { logs: pair.dir } : {}) };
}

/** Host death with each variant, `o.trials` each, interleaved: one row per variant. */
export async function interleavedHostDeath(
  env: BenchEnv,
  o: BenchOptions,
  meta: RunMeta,
  variants: readonly [Variant, Variant],
): Promise<[ScenarioRow, ScenarioRow]> {
  const results: [TrialResult[], TrialResult[]] = [[], []];
  for (let i = 1; i <= o.trials && !meta.aborted(); i++) {
    for (const v of order(i, [0, 1] as const)) {
      if (meta.aborted()) break;
      const t = await hostDeathTrial(env, variants[v].make(i), i, o);
      results[v].push(t);
      say(trialLine(variants[v].spec, t));
    }
  }
  const rows: [ScenarioRow, ScenarioRow] = [
    foldRow(variants[0].spec, results[0], meta),
    foldRow(variants[1].spec, results[1], meta),
  ];
  for (const r of rows) say(`ROW  ${rowLine(r)}`);
  return rows;
}
