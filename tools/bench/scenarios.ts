/**
 * pha failover scenarios. Each trial gets a fresh pair (PhaPair.setup: lb1
 * Active, lb2 Standby, steady), injects one fault and measures on the
 * effective holder timeline (dead / frozen nodes are no holders).
 */

import { LAB_WITNESS, LAB_WITNESS_TTL, startLabEtcd } from '../lab/etcd.js';
import { extraFaults } from '../lab/faults-extra.js';
import type { ConfigValue, Lab, NodeName } from '../lab/index.js';
import type { BenchOptions, ScenarioName } from './args.js';
import type { Observer } from './observer.js';
import { type PhaPair, takeoverBreakdown, timelinePhases } from './pair.js';
import type { Timeline } from './timeline.js';
import { NODES } from './timeline.js';
import type { TrialResult } from './types.js';
import { sleep, waitFor } from './util.js';

export type Measure = Omit<TrialResult, 'trial' | 'notes' | 'logs'> & { notes?: string[] };

export interface ScenarioSpec {
  name: ScenarioName;
  /** What the time column means. */
  metric: string;
  gapMeaning: string;
  overlapMeaning: string;
  flapsMeaning: string;
  /** The pair is only installed and observed, not started (both-start). */
  noSetup?: boolean;
  /** Settings of its own over the profile's. */
  config?: Record<string, ConfigValue>;
  /** Something the lab needs for this scenario's trials (the witness's etcd): set up once, torn down after. */
  around?(lab: Lab): Promise<() => Promise<void>>;
  trials(o: BenchOptions): number;
  run(pair: PhaPair, o: BenchOptions): Promise<Measure>;
}

/** Observation after the expected state was reached, to catch late moves. */
export const SETTLE_MS = 2000;
const TAKEOVER_TIMEOUT_MS = 15_000;

/** A measure that failed: no times, the error said. */
export const failed = (error: string, partial: Partial<Measure> = {}): Measure => ({
  ok: false,
  error,
  toVipMs: null,
  gapMs: null,
  overlapMs: null,
  holder: null,
  flaps: 0,
  extra: {},
  ...partial,
});

const holderOf = (tl: Timeline, end: number): string | null => tl.finalHolders(end).join('+') || null;

/**
 * Common failover measure: after the fault at t0, wait until `done()` holds,
 * observe SETTLE_MS more, then time-to-VIP on the survivor, gap, overlap and
 * flaps (moves away from the survivor after it took over).
 */
async function failover(
  obs: Observer,
  t0: number,
  survivor: NodeName,
  done: () => boolean,
  exclude: (tl: Timeline) => void = () => {},
  settleMs = SETTLE_MS,
): Promise<Measure & { tl: Timeline; end: number; took: number | null }> {
  const reached = await waitFor(done, TAKEOVER_TIMEOUT_MS);
  await sleep(settleMs);
  const end = performance.now();
  const tl = obs.timeline();
  exclude(tl);
  const took = tl.firstHold(t0, end, survivor);
  const m: Measure = {
    ok: reached && took !== null,
    error: reached
      ? took === null
        ? `${survivor} never held the VIP`
        : undefined
      : `not reached within ${TAKEOVER_TIMEOUT_MS / 1000} s (holders at end: ${obs.holders().join(',') || 'none'})`,
    toVipMs: took === null ? null : took - t0,
    gapMs: tl.gapMs(t0, end),
    overlapMs: tl.overlapMs(t0, end),
    holder: holderOf(tl, end),
    flaps: took === null ? 0 : tl.flaps(survivor, took, end),
    extra: {},
  };
  return { ...m, tl, end, took };
}

const only = (obs: Observer, n: NodeName) => (): boolean => obs.effective().join() === n;

export const HOST_DEATH: ScenarioSpec = {
  name: 'host-death',
  metric: 'fault → VIP on lb2',
  gapMeaning: 'no live holder after the fault',
  overlapMeaning: 'two live holders (0 by definition: the dead node holds nothing)',
  flapsMeaning: 'VIP moves away from lb2 after it took over',
  trials: (o) => o.trials,
  async run(pair) {
    const f = await pair.lab.faults.hostDeath('lb1');
    const {
      tl: _tl,
      end: _e,
      took: _t,
      ...m
    } = await failover(pair.obs, f.start, 'lb2', only(pair.obs, 'lb2'), (tl) => tl.exclude('lb1', f.start));
    m.extra = {
      faultMs: f.end - f.start,
      ...takeoverBreakdown(pair.dir, 'lb2', f.start),
      ...timelinePhases(pair.dir, 'lb2'),
    };
    return m;
  },
};

/**
 * Host death with the witness (WITNESS, rule 13): the same fault, with a
 * real etcd in the lab's third namespace (tuned: a 1 s lease TTL). lb2 takes
 * over once it has heard nothing for DEADTIME and lb1's lease has run out.
 */
export const HOST_DEATH_WITNESS: ScenarioSpec = {
  ...HOST_DEATH,
  name: 'host-death-witness',
  metric: `fault → VIP on lb2, with the etcd witness (TTL ${LAB_WITNESS_TTL} s)`,
  config: { WITNESS: LAB_WITNESS, WITNESS_TTL: LAB_WITNESS_TTL },
  async around(lab) {
    const etcd = await startLabEtcd(lab);
    return () => etcd.remove();
  },
};

export const FREEZE: ScenarioSpec = {
  name: 'freeze',
  metric: 'freeze → VIP on lb2',
  gapMeaning: 'no live holder from the freeze to the end',
  overlapMeaning: 'both hold after the thaw (until lb1 yields)',
  flapsMeaning: 'lb1 takes the VIP back (or lb2 drops it) after lb2 took over',
  trials: (o) => o.trials,
  async run(pair, o) {
    const { lab, obs } = pair;
    const f = await lab.faults.freeze('lb1');
    const t0 = f.start;
    const took = await waitFor(() => obs.effective().includes('lb2'), Math.max(o.freezeMs, TAKEOVER_TIMEOUT_MS));
    const rest = t0 + o.freezeMs - performance.now();
    if (rest > 0) await sleep(rest);
    const th = await lab.faults.thaw('lb1');
    // lb1 must yield: its VIP goes, lb2 keeps it.
    const yielded = await waitFor(() => obs.holders().join() === 'lb2', 10_000);
    await sleep(SETTLE_MS);
    const end = performance.now();
    const tl = obs.timeline().exclude('lb1', t0, th.start);
    const t2 = tl.firstHold(t0, end, 'lb2');
    const del1 = tl.firstEvent('lb1', 'del', th.start);
    const m: Measure = {
      ok: took && yielded && t2 !== null,
      toVipMs: t2 === null ? null : t2 - t0,
      gapMs: tl.gapMs(t0, end),
      overlapMs: tl.overlapMs(t0, end),
      holder: holderOf(tl, end),
      flaps: t2 === null ? 0 : tl.flaps('lb2', t2, end),
      extra: {
        ...takeoverBreakdown(pair.dir, 'lb2', t0),
        ...timelinePhases(pair.dir, 'lb2'),
        frozenMs: th.start - t0,
        thawToYieldMs: del1 ? del1.t - th.start : null,
        lb2TookBeforeThaw: t2 !== null && t2 < th.start,
      },
    };
    if (!took) m.error = `lb2 did not take over while lb1 was frozen (holders: ${obs.holders().join(',') || 'none'})`;
    else if (!yielded) m.error = `after the thaw the holders are [${obs.holders().join(',')}], not [lb2]`;
    return m;
  },
};

export const OFF: ScenarioSpec = {
  name: 'off',
  metric: '`off` command start → VIP on lb2',
  gapMeaning: 'no holder between lb1 releasing and lb2 taking',
  overlapMeaning: 'both hold',
  flapsMeaning: 'VIP moves away from lb2 after it took over',
  trials: (o) => o.trials,
  async run(pair) {
    const t0 = performance.now();
    const r = await pair.cli('lb1', ['off']);
    const cliMs = performance.now() - t0;
    const { tl, end: _e, took, ...m } = await failover(pair.obs, t0, 'lb2', only(pair.obs, 'lb2'));
    const del1 = tl.firstEvent('lb1', 'del', t0);
    m.extra = {
      cliExit: r.code,
      cliMs,
      offToReleaseMs: del1 ? del1.t - t0 : null,
      releaseToTakeMs: del1 && took !== null ? took - del1.t : null,
      ...timelinePhases(pair.dir, 'lb2'),
    };
    if (r.code !== 0) {
      m.notes = [`pha-cli off exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 200)}`];
    }
    return m;
  },
};

export const PARTITION_HEAL: ScenarioSpec = {
  name: 'partition-heal',
  metric: 'heal → one holder',
  gapMeaning: 'no holder after the heal',
  overlapMeaning: 'two holders after the heal (the split brain being resolved)',
  flapsMeaning: 'holder changes within 5 s after one holder remained',
  trials: (o) => o.trials,
  async run(pair) {
    const { lab, obs } = pair;
    const p = await lab.faults.partition();
    const both = await waitFor(() => obs.effective().length === 2, TAKEOVER_TIMEOUT_MS);
    if (!both)
      return failed(`during the partition the holders are [${obs.holders().join(',')}], expected both (split brain)`);
    const splitMs = performance.now() - p.start;
    await sleep(1000); // let lb2 settle ONLINE
    const h = await lab.faults.heal();
    const t0 = h.start;
    const single = await waitFor(() => obs.effective().length === 1, TAKEOVER_TIMEOUT_MS);
    await sleep(5000);
    const end = performance.now();
    const tl = obs.timeline();
    const one = tl.firstSingle(t0, end);
    const m: Measure = {
      ok: single && one !== null,
      toVipMs: one ? one.t - t0 : null,
      gapMs: tl.gapMs(t0, end),
      overlapMs: tl.overlapMs(t0, end),
      holder: holderOf(tl, end),
      flaps: one ? tl.transitions(one.t, end) : 0,
      extra: { splitBrainAfterMs: splitMs, firstSingleHolder: one?.holder ?? null },
    };
    if (!m.ok)
      m.error = `no single holder within ${TAKEOVER_TIMEOUT_MS / 1000} s after the heal (holders: ${obs.holders().join(',') || 'none'})`;
    return m;
  },
};

/** How long the heartbeat stays cut in hb-cut (the 60 s; --quick: 20 s). */
const HB_CUT_MS = (o: BenchOptions) => (o.quick ? 20_000 : 60_000);
const HB_PORT = 4711; // the lab's PORT (tools/lab/install.ts)

export const HB_CUT: ScenarioSpec = {
  name: 'hb-cut',
  config: { SPLIT_YIELD: 1 },
  metric: 'heartbeat cut (LAN intact, SPLIT_YIELD=1) → one holder again',
  gapMeaning: 'no holder from the cut to 5 s after the heal',
  overlapMeaning: 'two holders in that time (lb2 took over on silence; rule 12 makes it release)',
  flapsMeaning: 'holder changes after one holder remained, to 5 s after the heal',
  trials: (o) => o.bothTrials,
  async run(pair, o) {
    const { lab, obs } = pair;
    const xf = extraFaults(lab);
    const t0 = performance.now();
    try {
      for (const n of NODES) await xf.dropHeartbeat(n, HB_PORT);
      await sleep(HB_CUT_MS(o));
    } finally {
      for (const n of NODES) await xf.passHeartbeat(n).catch(() => undefined);
    }
    const healAt = performance.now();
    await sleep(5000);
    const end = performance.now();
    const tl = obs.timeline();
    // One holder again: the end of the last stretch with two.
    const two = tl.segments(t0, end).filter((s) => s.holders.length >= 2);
    const backToOne = two.length ? two[two.length - 1]!.to : t0;
    const m: Measure = {
      ok: holderOf(tl, end) === 'lb1',
      toVipMs: backToOne - t0,
      gapMs: tl.gapMs(t0, end),
      overlapMs: tl.overlapMs(t0, end),
      holder: holderOf(tl, end),
      flaps: tl.transitions(backToOne, end),
      extra: {
        cutMs: healAt - t0,
        overlapDuringCutMs: tl.overlapMs(t0, healAt),
        overlapAfterHealMs: tl.overlapMs(healAt, end),
      },
    };
    if (!m.ok) m.error = `after the cut and the heal the holder is ${m.holder}, not lb1`;
    return m;
  },
};

export const GATEWAY_LOSS: ScenarioSpec = {
  name: 'gateway-loss',
  metric: 'gateway loss on lb1 → VIP on lb2',
  gapMeaning: 'no holder',
  overlapMeaning: 'both hold (lb1 is alive, only cut from its gateway)',
  flapsMeaning: 'VIP moves away from lb2 after it took over',
  trials: (o) => o.trials,
  async run(pair) {
    const f = await pair.lab.faults.gatewayLoss('lb1');
    const { tl, end: _e, took: _t, ...m } = await failover(pair.obs, f.start, 'lb2', only(pair.obs, 'lb2'));
    const del1 = tl.firstEvent('lb1', 'del', f.start);
    m.extra = {
      lb1ReleaseMs: del1 ? del1.t - f.start : null,
      ...takeoverBreakdown(pair.dir, 'lb2', f.start),
      ...timelinePhases(pair.dir, 'lb2'),
    };
    return m;
  },
};

/** Both nodes started at once by `start(pair)`; observed for 20 s (60 s with --long). */
async function bothStart(
  pair: PhaPair,
  o: BenchOptions,
  start: (pair: PhaPair) => Promise<string[]>,
): Promise<Measure> {
  const windowMs = o.long ? 60_000 : 20_000;
  const t0 = performance.now();
  const notes = await start(pair);
  await sleep(t0 + windowMs - performance.now());
  const end = performance.now();
  const tl = pair.obs.timeline();
  const first = tl.firstHold(t0, end);
  const final = tl.finalHolders(end);
  return {
    ok: first !== null && final.length === 1,
    error:
      first === null
        ? `nobody took the VIP in ${windowMs / 1000} s`
        : final.length !== 1
          ? `holders at the end: [${final.join(',')}]`
          : undefined,
    toVipMs: first === null ? null : first - t0,
    gapMs: first === null ? windowMs : tl.gapMs(first, end),
    overlapMs: tl.overlapMs(t0, end),
    holder: final.join('+') || null,
    flaps: first === null ? 0 : tl.transitions(first, end),
    extra: { windowS: windowMs / 1000, firstHolder: first === null ? null : tl.effectiveAt(first).join('+') },
    notes,
  };
}

export const BOTH_START: ScenarioSpec = {
  name: 'both-start',
  metric: 'both started → first holder',
  gapMeaning: 'no holder after the first takeover',
  overlapMeaning: 'two holders',
  flapsMeaning: 'VIP transitions after the first takeover',
  noSetup: true,
  trials: (o) => o.bothTrials,
  run: (pair, o) =>
    bothStart(pair, o, async (p) => {
      const rs = await Promise.all([p.cli('lb1', ['start']), p.cli('lb2', ['start'])]);
      return rs.flatMap((r, i) =>
        r.code === 0
          ? []
          : [`pha-cli start on lb${i + 1} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 200)}`],
      );
    }),
};

/**
 * Both nodes at once, each daemon on its own: `pha-cli re_sta` / `se_sta` /
 * `su_sta`, each after a random 0-1500 ms (a cold or loaded machine starts
 * its daemons that far apart; issue 10). The delays are in the notes.
 */
export const BOTH_START_STAGGERED: ScenarioSpec = {
  ...BOTH_START,
  name: 'both-start-staggered',
  metric: 'both started, daemons 0-1500 ms apart → first holder',
  run: (pair, o) =>
    bothStart(pair, o, async (p) => {
      const plan = (['lb1', 'lb2'] as const).flatMap((n) =>
        (['re_sta', 'se_sta', 'su_sta'] as const).map((cmd) => ({ n, cmd, ms: Math.floor(Math.random() * 1500) })),
      );
      const rs = await Promise.all(
        plan.map(async (x) => {
          await sleep(x.ms);
          return { ...x, r: await p.cli(x.n, [x.cmd]) };
        }),
      );
      const order = [...plan]
        .sort((a, b) => a.ms - b.ms)
        .map((x) => `${x.n} ${x.cmd.slice(0, 2)}@${x.ms}`)
        .join(' ');
      return [
        `start plan: ${order}`,
        ...rs.flatMap((x) =>
          x.r.code === 0
            ? []
            : [`pha-cli ${x.cmd} on ${x.n} exited ${x.r.code}: ${(x.r.stderr || x.r.stdout).trim().slice(0, 200)}`],
        ),
      ];
    }),
};

export const VIP_REMOVE: ScenarioSpec = {
  name: 'vip-remove',
  metric: 'VIP removed on lb1 → VIP back',
  gapMeaning: 'no holder',
  overlapMeaning: 'two holders',
  flapsMeaning: 'holder changes after the VIP was back',
  trials: (o) => o.trials,
  async run(pair) {
    const { lab, obs } = pair;
    const f = await lab.faults.vipRemove('lb1');
    const t0 = f.start;
    const gone = await waitFor(() => obs.timeline().firstEvent('lb1', 'del', t0) !== null, 5000);
    if (!gone) return failed('the removal of the VIP was not observed');
    const back = await waitFor(
      () =>
        obs.effective().length > 0 &&
        obs.timeline().firstHold(obs.timeline().firstEvent('lb1', 'del', t0)!.t, performance.now()) !== null,
      20_000,
    );
    await sleep(SETTLE_MS);
    const end = performance.now();
    const tl = obs.timeline();
    const del = tl.firstEvent('lb1', 'del', t0)!;
    const t1 = tl.firstHold(del.t, end);
    return {
      ok: back && t1 !== null,
      error: back ? undefined : 'the VIP did not come back within 20 s',
      toVipMs: t1 === null ? null : t1 - t0,
      gapMs: tl.gapMs(t0, end),
      overlapMs: tl.overlapMs(t0, end),
      holder: holderOf(tl, end),
      flaps: t1 === null ? 0 : tl.transitions(t1, end),
      extra: { restoredOn: t1 === null ? null : tl.effectiveAt(t1).join('+') },
    };
  },
};

export const PHA_SCENARIOS: Record<ScenarioName, ScenarioSpec> = {
  'host-death': HOST_DEATH,
  'host-death-witness': HOST_DEATH_WITNESS,
  freeze: FREEZE,
  off: OFF,
  'partition-heal': PARTITION_HEAL,
  'hb-cut': HB_CUT,
  'gateway-loss': GATEWAY_LOSS,
  'both-start': BOTH_START,
  'both-start-staggered': BOTH_START_STAGGERED,
  'vip-remove': VIP_REMOVE,
};
