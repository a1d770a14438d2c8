// npm run sim -- --seeds N [--seed S] [--minutes M] [--family F] [--keep i,j] [--trace]
// Runs seeds S, S+1, … S+N-1; for a failing seed prints the invariant, the
// shrunk schedule and the command that replays it step by step.
import { parseArgs } from 'node:util';
import { INVARIANTS } from './invariants.js';
import { runSchedule, scheduleFor, shrink } from './run.js';
import { describeFault, type Family } from './schedule.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1' },
    seed: { type: 'string', default: '1' },
    minutes: { type: 'string', default: '10' },
    family: { type: 'string' },
    keep: { type: 'string' },
    trace: { type: 'boolean', default: false },
    'max-failures': { type: 'string', default: '3' },
    jobs: { type: 'string', default: '1' },
    measure: { type: 'boolean', default: false },
    witness: { type: 'string', default: '0' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  process.stdout.write(
    `usage: npm run sim -- [--seeds N] [--seed S] [--minutes M] [--family both-start|partitions|mixed|reorder|hbcut] [--keep i,j,…] [--trace] [--jobs J]\n  --jobs J: split the seeds over J processes (the nightly: --seeds 100000 --jobs 2)\n  --measure: the lab benchmark's scenarios in virtual time (host death, off, partition heal)\n  --witness P: an etcd witness (WITNESS, rule 13) in a share P (0..1) of the seeds, with its faults (down, cut from one node)\n\ninvariants:\n${Object.entries(
      INVARIANTS,
    )
      .map(([k, v]) => `  ${k.padEnd(22)} ${v}`)
      .join('\n')}\n`,
  );
  process.exit(0);
}

if (values.measure) {
  const { measure } = await import('./measure.js');
  process.stdout.write(`${measure(Number(values.seeds) > 1 ? Number(values.seeds) : 50)}\n`);
  process.exit(0);
}

const first = Number(values.seed);
const n = Number(values.seeds);
const minutes = Number(values.minutes);
const family = values.family as Family | undefined;
const keep = values.keep !== undefined ? values.keep.split(',').filter(Boolean).map(Number) : undefined;
const maxFailures = Number(values['max-failures']);
const witness = Number(values.witness);
if (!(witness >= 0 && witness <= 1)) {
  process.stderr.write('sim: --witness takes a share of the seeds, 0..1\n');
  process.exit(2);
}
if (![first, n, minutes].every(Number.isFinite) || n < 1 || minutes <= 0) {
  process.stderr.write('sim: --seeds, --seed and --minutes take numbers (--seeds ≥ 1, --minutes > 0)\n');
  process.exit(2);
}

const jobs = Math.max(1, Math.min(Number(values.jobs) || 1, n));
if (jobs > 1 && !values.trace) {
  // Split the seeds over child processes; each prints its own failures and summary.
  const { spawn } = await import('node:child_process');
  const per = Math.ceil(n / jobs);
  const codes = await Promise.all(
    Array.from({ length: jobs }, (_, j) => {
      const from = first + j * per;
      const count = Math.min(per, first + n - from);
      const args = [
        process.argv[1]!,
        '--seed',
        String(from),
        '--seeds',
        String(count),
        '--minutes',
        String(minutes),
        '--max-failures',
        String(maxFailures),
      ];
      if (family) args.push('--family', family);
      if (witness > 0) args.push('--witness', String(witness));
      if (values.keep !== undefined) args.push('--keep', values.keep);
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
      return new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
    }),
  );
  process.exit(codes.some((c) => c !== 0) ? 1 : 0);
}

const t0 = performance.now();
let failures = 0;
let steps = 0;
for (let seed = first; seed < first + n; seed++) {
  const r = runSchedule(scheduleFor(seed, minutes, family, keep, witness), { trace: values.trace });
  steps += r.steps;
  if (values.trace) process.stdout.write(`${r.trace.join('\n')}\n`);
  if (!r.violation) continue;
  failures++;
  const fam = (family ? ` --family ${family}` : '') + (witness > 0 ? ` --witness ${witness}` : '');
  process.stdout.write(
    `\nseed ${seed}: ${r.violation.name} violated at ${(r.violation.at / 1000).toFixed(3)} s: ${r.violation.detail}\n  (${INVARIANTS[r.violation.name]})\n`,
  );
  if (!values.trace) {
    const s = shrink(seed, minutes, family, r.violation.name, {}, witness);
    const faults = scheduleFor(seed, minutes, family, s.keep, witness).faults;
    process.stdout.write(
      `  shrunk to ${faults.length} fault(s) of ${scheduleFor(seed, minutes, family, undefined, witness).faults.length} (family ${s.result.schedule.family}, profile ${s.result.schedule.profile}, start delays n1 ${s.result.schedule.startDelays[0].join('/')} n2 ${s.result.schedule.startDelays[1].join('/')}):\n`,
    );
    for (const f of faults) process.stdout.write(`    ${describeFault(f)}\n`);
    process.stdout.write(
      `  replay: npm run sim -- --seed ${seed} --seeds 1 --minutes ${minutes}${fam} --keep ${s.keep.join(',') || '""'} --trace\n`,
    );
  }
  if (failures >= maxFailures) break;
}
const ms = performance.now() - t0;
process.stdout.write(
  `\n${n} seed(s) from ${first}, ${minutes} min each: ${failures} failing, ${steps} steps, ${(ms / 1000).toFixed(1)} s\n`,
);
process.exit(failures ? 1 : 0);
