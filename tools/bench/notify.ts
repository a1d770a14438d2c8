/**
 * `--notify`: does a slow notify hook delay a failover? Host death with a hook
 * that sleeps 30 s on every call (NOTIFY_TIMEOUT=2: killed after 2 s) against
 * the same pair without hooks, trials interleaved; the takeover's phases as
 * lb2's supervise timed them (its timeline) beside the external measure.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchOptions } from './args.js';
import { type BenchEnv, PHA_PROFILES, PhaPair, type Profile } from './pair.js';
import { interleavedHostDeath } from './paired.js';
import { phaRowSpec, type RunMeta } from './runner.js';
import { HOST_DEATH } from './scenarios.js';
import { NODES } from './timeline.js';
import type { NotifyBench, ScenarioRow } from './types.js';
import { fmtMs, say } from './util.js';

export type { NotifyBench } from './types.js';

const HOOK = 'bench-slow-hook';

/** The default profile with a hook that hangs on every call. */
export const HOOK_PROFILE: Profile = {
  ...PHA_PROFILES.default,
  config: { ...PHA_PROFILES.default.config, NOTIFY: HOOK, NOTIFY_TIMEOUT: '2' },
};

class SlowHookPair extends PhaPair {
  constructor(env: BenchEnv, label: string) {
    super(env, label, HOOK_PROFILE);
  }

  override async install(): Promise<void> {
    await super.install();
    for (const n of NODES) {
      const dir = join(this.dir, n, 'res');
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, HOOK),
        '#!/bin/sh\n# pha bench: a hook that hangs (killed at NOTIFY_TIMEOUT)\nsleep 30\n',
      );
      chmodSync(join(dir, HOOK), 0o755);
    }
  }
}

/** The phases' medians of a row, from the timeline (extras tl*). */
export function phasesLine(r: ScenarioRow): string {
  const m = (k: string) => fmtMs(r.extra[k]?.median ?? null);
  return `detect ${m('tlDetectMs')}, decide ${m('tlDecideMs')}, scripts ${m('tlScriptsMs')}, total ${m('tlTotalMs')} ms`;
}

export async function runNotifyBench(env: BenchEnv, o: BenchOptions, meta: RunMeta): Promise<NotifyBench> {
  const spec = (hook: boolean) => ({
    ...phaRowSpec(HOST_DEATH, hook ? HOOK_PROFILE : PHA_PROFILES.default, o),
    profile: hook ? 'default+slow hook' : 'default (same run)',
    settings: `HEARTBEAT_INT=200 DEADTIME=1000 SUPERVISE_INT=2000${hook ? ' NOTIFY=<sleep 30> NOTIFY_TIMEOUT=2' : ''}`,
  });
  say(
    `\n== host death with and without a notify hook that hangs (NOTIFY_TIMEOUT=2), ${o.trials} trials each, interleaved`,
  );
  const [plain, hook] = await interleavedHostDeath(env, o, meta, [
    { make: (i) => new PhaPair(env, `notify-host-death-plain-${i}`, PHA_PROFILES.default), spec: spec(false) },
    { make: (i) => new SlowHookPair(env, `notify-host-death-hook-${i}`), spec: spec(true) },
  ]);
  say(
    `\nNOTIFY host death → VIP on lb2, median (max): without hooks ${fmtMs(plain.toVip.median)} (${fmtMs(plain.toVip.max)}) ms, ` +
      `with a hook hanging to NOTIFY_TIMEOUT ${fmtMs(hook.toVip.median)} (${fmtMs(hook.toVip.max)}) ms [${plain.ok}/${plain.trials} and ${hook.ok}/${hook.trials} ok]`,
  );
  say(`NOTIFY lb2's timeline, medians: without hooks ${phasesLine(plain)}; with the hanging hook ${phasesLine(hook)}`);
  return { runId: meta.runId, at: meta.at, hostDeath: { plain, hook }, notes: [] };
}
