/**
 * `npm run bench`: failover scenarios on the network-namespace lab, idle
 * footprint and micro-benchmarks, optionally keepalived side by side and a
 * soak under CPU load. Writes bench/results/latest.md and latest.json.
 * See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { cpus, hostname, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, findPhaRoot, type Lab, labSupport } from '../lab/index.js';
import { type BenchOptions, parseArgs, USAGE } from './args.js';
import { type AuthBench, runAuthBench } from './auth.js';
import { ipAddBaseline } from './baseline.js';
import { runFootprint } from './footprint.js';
import { runKeepalived } from './keepalived.js';
import { type NotifyBench, runNotifyBench } from './notify.js';
import { type BenchEnv, PHA_PROFILES, withNice } from './pair.js';
import { loadPrevious, mergeResults, writeResults } from './report.js';
import { phaRowSpec, phaTrial, type RunMeta, runTrials } from './runner.js';
import { PHA_SCENARIOS } from './scenarios.js';
import { snapshotPha } from './snapshot.js';
import { runSoak, startLoad, stopLoad } from './soak.js';
import type { BenchResults, MicroResults, ScenarioRow, SoakResult } from './types.js';
import { errText, say } from './util.js';

function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bin', 'res'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  let o: BenchOptions;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench: ${errText(e)}\n${USAGE}\n`);
    return 2;
  }
  if (o.help) {
    say(USAGE);
    return 0;
  }
  if (o.reportOnly) {
    const prev = loadPrevious(o.outDir);
    if (!prev) {
      process.stderr.write(`bench: no ${join(o.outDir, 'latest.json')} to render\n`);
      return 1;
    }
    say(`written: ${writeResults(o.outDir, prev, { partial: false, thisRun: '' }).join(', ')}`);
    return 0;
  }
  const support = await labSupport();
  if (!support.ok) {
    process.stderr.write(
      `bench: the failover benchmark needs the network-namespace lab, which cannot be built here: ${support.reason}.\n` +
        `       Run it as root on Linux with iproute2, util-linux (unshare, nsenter) and iputils-ping:  sudo npm run bench\n`,
    );
    return 1;
  }

  const started = performance.now();
  const loadAtStart = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const runId = randomBytes(4).toString('hex');
  const at = new Date().toISOString();
  let aborted = false;
  const meta: RunMeta = { runId, at, started, aborted: () => aborted };
  const rows: ScenarioRow[] = [];
  let micro: MicroResults | null = null;
  const soak: SoakResult[] = [];
  let auth: AuthBench | null = null;
  let notify: NotifyBench | null = null;
  let lab: Lab | null = null;
  let runDir = '';

  const save = (final: boolean): void => {
    const fresh: BenchResults = {
      rows,
      micro,
      soak,
      auth,
      notify,
      runs: [
        {
          runId,
          at,
          argv: process.argv.slice(2),
          commit: commit(),
          host: `${hostname()} ${cpus().length} cpu, Linux ${release()}, node ${process.version}`,
          durationS: Math.round((performance.now() - started) / 1000),
          load: `loadavg at start ${loadAtStart}, at the end ${loadavg()
            .map((x) => x.toFixed(2))
            .join(' ')}`,
        },
      ],
    };
    const merged = o.merge ? mergeResults(loadPrevious(o.outDir), fresh) : fresh;
    const files = writeResults(o.outDir, merged, { partial: !final, thisRun: runId });
    if (final) say(`\nresults: ${files.join(', ')}`);
  };

  // Ctrl-C: stop after the current step, then the lab goes (its own handler also removes it on exit).
  const onSignal = (sig: NodeJS.Signals): void => {
    if (aborted) {
      say(`\nbench: second ${sig}: exiting now`);
      if (runDir && !o.keepLogs) rmSync(runDir, { recursive: true, force: true });
      process.exit(130);
    }
    aborted = true;
    say(`\nbench: ${sig}: removing the lab and exiting (results so far are saved; press Ctrl-C again to exit at once)`);
    void (async () => {
      try {
        save(false);
      } catch (e) {
        say(`bench: saving partial results failed: ${errText(e)}`);
      }
      await lab?.destroy().catch(() => {});
      if (runDir && !o.keepLogs) rmSync(runDir, { recursive: true, force: true });
      process.exit(130);
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    lab = await createLab();
    runDir = join(tmpdir(), `${lab.prefix}bench`);
    mkdirSync(runDir, { recursive: true });
    process.on('exit', () => {
      if (!o.keepLogs) rmSync(runDir, { recursive: true, force: true });
    });
    const liveRoot = findPhaRoot();
    if (o.snapshot) process.env.PHA_ROOT = snapshotPha(liveRoot, join(runDir, 'pha'));
    const env: BenchEnv = { lab, runDir, keepLogs: o.keepLogs, observer: o.observer };
    say(
      `bench ${runId}: lab ${lab.prefix}, sections ${o.sections.join(', ')}, ${o.trials} trials, observer ${o.observer}, ` +
        `pha from ${o.snapshot ? `a copy of ${liveRoot} (dist as built at the start)` : liveRoot}` +
        (o.keepLogs ? `, logs kept under ${runDir}` : ''),
    );

    if (o.sections.includes('failover')) {
      const stress = o.load ? startLoad(lab) : null;
      if (o.load && !stress) say('bench: --load: stress-ng is not available: the failover rows run without load');
      if (!stress) o.load = false;
      try {
        for (const pname of o.profiles) {
          const profile = withNice(PHA_PROFILES[pname], o.nice);
          const first = rows.length;
          for (const sname of o.scenarios) {
            if (aborted) break;
            const spec = PHA_SCENARIOS[sname];
            let done: (() => Promise<void>) | null = null;
            try {
              done = spec.around ? await spec.around(lab) : null;
            } catch (e) {
              say(`bench: ${sname} skipped: ${e instanceof Error ? e.message : String(e)}`);
              continue;
            }
            try {
              rows.push(await runTrials(phaRowSpec(spec, profile, o), meta, (i) => phaTrial(env, spec, profile, i, o)));
            } finally {
              await done?.();
            }
            save(false);
          }
          // Each row's same-run floor: one `ip address add` through bash, under the same load.
          const floor = await ipAddBaseline(lab, o.trials * 2);
          for (const r of rows.slice(first)) if (floor) r.extra.baselineIpAddMs = floor;
          save(false);
        }
      } finally {
        if (stress) stopLoad(stress);
      }
    }
    if (o.sections.includes('keepalived') && !aborted) {
      rows.push(...(await runKeepalived(env, o, meta)));
      save(false);
    }
    if (o.sections.includes('footprint') && !aborted) {
      micro = await runFootprint(env, o, meta);
      save(false);
    }
    if (o.sections.includes('auth') && !aborted) {
      auth = await runAuthBench(env, o, meta);
      save(false);
    }
    if (o.sections.includes('notify') && !aborted) {
      notify = await runNotifyBench(env, o, meta);
      save(false);
    }
    if (o.sections.includes('soak') && !aborted) {
      soak.push(...(await runSoak(env, o, meta)));
    }
    if (aborted) return 130;
    save(true);
    say(`bench: done in ${((performance.now() - started) / 60_000).toFixed(1)} min`);
    return 0;
  } catch (e) {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    try {
      save(false);
    } catch {
      /* nothing more to save */
    }
    return 1;
  } finally {
    if (!aborted) {
      await lab?.destroy();
      if (runDir && !o.keepLogs) rmSync(runDir, { recursive: true, force: true });
    }
  }
}

main().then(
  (code) => {
    if (code !== 130) process.exit(code);
  },
  (e) => {
    process.stderr.write(`bench: ${errText(e)}\n`);
    process.exit(1);
  },
);
