// The lab's benchmark scenarios in the simulation (virtual time), to set
// beside the README's measured table: host death, off, partition heal.
import { Monitor } from './invariants.js';
import { Prng } from './prng.js';
import { apply } from './run.js';
import type { Fault, Schedule } from './schedule.js';
import { DAEMON_NAMES, PROFILES, type SimNode, World } from './world.js';

type Scenario = 'host-death' | 'off' | 'partition-heal';

interface Sample {
  skipped?: boolean; // lb1 did not hold before the fault (lb2 won the start): not this scenario
  ms: number | null; // the scenario's time (null: never)
  gap: number; // ms with no holder after the fault
  overlap: number; // ms with two holders after the fault
}

const T_FAULT = 20_000;

function one(seed: number, profile: string, sc: Scenario): Sample {
  const r = new Prng(seed).fork(3);
  const s: Schedule = {
    seed,
    family: 'mixed',
    profile: profile as 'default' | 'fast',
    ms: 45_000,
    resources: ['vip'],
    startDelays: [DAEMON_NAMES.map(() => r.int(0, 1500)), DAEMON_NAMES.map(() => r.int(0, 1500))],
    leftover: [false, false],
    faults: [],
  };
  const w = new World({ seed, profile: PROFILES[profile]!, resources: s.resources });
  const m = new Monitor(w, s);
  let holders: [boolean, boolean] = [false, false];
  let faultAt = Infinity;
  let since = 0;
  let gap = 0;
  let overlap = 0;
  let done: number | null = null;
  const account = () => {
    if (w.t > faultAt) {
      const dt = w.t - since;
      if (!holders[0] && !holders[1]) gap += dt;
      if (holders[0] && holders[1]) overlap += dt;
    }
    since = w.t;
  };
  w.hooks = {
    held: (n: SimNode) => {
      account();
      holders = [w.holds(w.nodes[0]), w.holds(w.nodes[1])];
      if (w.t < faultAt || done !== null) return;
      if (sc === 'partition-heal' ? healed && holders[0] && !holders[1] : n.id === 2 && holders[1]) done = w.t;
    },
    step: () => m.step(),
  };
  let healed = false;
  for (const node of w.nodes)
    for (const [i, d] of DAEMON_NAMES.entries()) w.at(s.startDelays[node.id - 1]![i]!, () => w.startDaemon(node, d));
  const n1 = w.nodes[0];
  w.run(T_FAULT);
  if (!w.holds(n1)) return { skipped: true, ms: null, gap: 0, overlap: 0 }; // lb1 must be the holder before the fault
  account();
  faultAt = w.t;
  const f: Fault =
    sc === 'host-death'
      ? { at: T_FAULT, kind: 'hostDeath', node: 0, dur: 0 }
      : sc === 'off'
        ? { at: T_FAULT, kind: 'off', node: 0, dur: 0 }
        : { at: T_FAULT, kind: 'partition', node: 0, dur: 10_000 };
  apply(w, m, f);
  if (sc === 'partition-heal') {
    w.run(T_FAULT + 10_000);
    account();
    faultAt = w.t; // from the heal on
    gap = 0;
    overlap = 0;
    healed = true;
    if (holders[0] && !holders[1]) done = w.t;
  }
  w.run(s.ms);
  account();
  return { ms: done === null ? null : done - faultAt, gap, overlap };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN;
};

export function measure(seeds: number): string {
  const out: string[] = [
    `simulated, ${seeds} seeds each: median (max) in ms of virtual time; one resource (start/stop 5-200 ms)`,
  ];
  out.push('| scenario | pha default | pha fast |', '|---|---|---|');
  const rows: [Scenario, string][] = [
    ['host-death', 'host death → VIP on the survivor'],
    ['off', 'off → VIP on the peer; gap / overlap'],
    ['partition-heal', 'partition heal → one holder (lb1); gap'],
  ];
  for (const [sc, label] of rows) {
    const cells = ['default', 'fast'].map((p) => {
      const xs: Sample[] = [];
      for (let seed = 1; seed <= seeds; seed++) {
        const x = one(seed, p, sc);
        if (!x.skipped) xs.push(x);
      }
      const ok = xs.filter((x) => x.ms !== null).map((x) => x.ms!);
      const fmt = (v: number[]) => `${median(v).toFixed(0)} (${Math.max(...v).toFixed(0)})`;
      const extra =
        sc === 'host-death'
          ? ''
          : `; gap ${fmt(xs.map((x) => x.gap))}${sc === 'off' ? `, overlap ${fmt(xs.map((x) => x.overlap))}` : ''}`;
      return `${fmt(ok)}${extra}${ok.length < xs.length ? ` [${xs.length - ok.length} not reached]` : ''}`;
    });
    out.push(`| ${label} | ${cells.join(' | ')} |`);
  }
  return out.join('\n');
}
