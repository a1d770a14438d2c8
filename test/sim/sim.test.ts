// The simulated pair under thousands of seeded fault schedules (issue 8): the
// daemons' own cores, two nodes, a virtual clock. A failure names the seed and
// the command that replays it step by step.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runSchedule, scheduleFor, type RunOptions } from '../../tools/sim/run.js';
import { MUTANTS } from '../../tools/sim/mutants.js';
import type { Family } from '../../tools/sim/schedule.js';

const CI_SEEDS = 2000;
const CI_MINUTES = 0.5;

function failing(seed: number, minutes: number, o: RunOptions = {}, family?: Family, keep?: number[]) {
  return runSchedule(scheduleFor(seed, minutes, family, keep), o).violation;
}
const replay = (seed: number, minutes: number, family?: string, keep?: number[]) =>
  `npm run sim -- --seed ${seed} --seeds 1 --minutes ${minutes}${family ? ` --family ${family}` : ''}${keep ? ` --keep ${keep.join(',')}` : ''} --trace`;

describe('simulation', () => {
  it(`holds every invariant over ${CI_SEEDS} seeds (${CI_MINUTES} min each, all families)`, () => {
    const bad: string[] = [];
    for (let seed = 1; seed <= CI_SEEDS && bad.length < 3; seed++) {
      const v = failing(seed, CI_MINUTES);
      if (v) bad.push(`seed ${seed}: ${v.name} at ${(v.at / 1000).toFixed(3)} s: ${v.detail}\n  replay: ${replay(seed, CI_MINUTES)}`);
    }
    assert.deepEqual(bad, []);
  });

  it('both nodes started together (daemons 0-1500 ms apart, both profiles): one takeover, never two holders (issue 10)', () => {
    const bad: string[] = [];
    for (let seed = 1; seed <= 600 && bad.length < 3; seed++) {
      const v = failing(seed, 0.25, {}, 'both-start');
      if (v) bad.push(`seed ${seed}: ${v.name}: ${v.detail}\n  replay: ${replay(seed, 0.25, 'both-start')}`);
    }
    assert.deepEqual(bad, []);
  });

  it('replays the same seed step for step', () => {
    const a = runSchedule(scheduleFor(77, 1), { trace: true });
    const b = runSchedule(scheduleFor(77, 1), { trace: true });
    assert.equal(a.steps, b.steps);
    assert.deepEqual(a.trace, b.trace);
  });
});

// Schedules that failed before their fix (the shrunk ones the simulator printed), kept as regressions.
describe('simulation: regressions (seeds that found bugs)', () => {
  const cases: { seed: number; minutes: number; keep: number[]; bug: string }[] = [
    { seed: 51, minutes: 2, keep: [1], bug: 'sender frozen 661 ms (fast): PROGRESS for ever after its stall, both hold (supervise never decided again)' },
    { seed: 44, minutes: 2, keep: [7], bug: 'sender frozen 2.2 s: at thaw it sent the old ONLINE from a queued bus message before noticing its stall' },
    { seed: 80, minutes: 2, keep: [1, 5], bug: 'off, then a partition: the paused node took over silently and kept after the heal' },
    { seed: 159, minutes: 2, keep: [0, 1], bug: 'off, then the peer loses its gateway: the paused node took over silently, both held' },
    { seed: 57, minutes: 2, keep: [2, 3], bug: 'off, then res start on the paused node: both ONLINE, the paused node kept by rank while silent' },
    { seed: 134, minutes: 2, keep: [3, 4], bug: 'off, then one-way loss: the paused node took over and the heal left the wrong holder' },
  ];
  for (const c of cases) {
    it(`seed ${c.seed} (keep ${c.keep.join(',')}): ${c.bug}`, () => {
      const v = failing(c.seed, c.minutes, {}, undefined, c.keep);
      assert.equal(v, null, v ? `${v.name}: ${v.detail}\n  replay: ${replay(c.seed, c.minutes, undefined, c.keep)}` : '');
    });
  }
});

describe('simulation: a broken rule is caught within the CI seed budget', () => {
  for (const [name, m] of Object.entries(MUTANTS)) {
    it(`${name} (${m.about})`, () => {
      let caught: { seed: number; invariant: string } | null = null;
      for (let seed = 1; seed <= CI_SEEDS && !caught; seed++) {
        const v = failing(seed, CI_MINUTES, { decide: m.decide });
        if (v) caught = { seed, invariant: v.name };
      }
      assert.ok(caught, `${name} survived ${CI_SEEDS} seeds`);
      // Shown in the test's output: how soon, and by which invariant.
      process.stdout.write(`# ${name}: caught at seed ${caught.seed} by ${caught.invariant}\n`);
    });
  }
});
