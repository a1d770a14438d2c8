/**
 * latest.json (all numbers, every trial) and latest.md (the tables, the
 * targets of issue 3 with met / missed). Rows of earlier runs that this run
 * did not measure are kept (merge by impl/scenario/profile) unless --no-merge.
 */

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuthBench } from './auth.js';
import { type NotifyBench, phasesLine } from './notify.js';
import { loopLine } from './soak.js';
import type { Summary } from './stats.js';
import type { BenchResults, NodeFootprint, ScenarioRow, SoakResult } from './types.js';
import { fmtMs } from './util.js';

const rowKey = (r: ScenarioRow): string => `${r.impl}|${r.scenario}|${r.profile}`;

export function loadPrevious(outDir: string): BenchResults | null {
  const f = join(outDir, 'latest.json');
  if (!existsSync(f)) return null;
  try {
    const j = JSON.parse(readFileSync(f, 'utf8')) as BenchResults;
    return Array.isArray(j.rows) && Array.isArray(j.runs) ? j : null;
  } catch {
    return null;
  }
}

export function mergeResults(prev: BenchResults | null, fresh: BenchResults): BenchResults {
  if (!prev) return fresh;
  const freshKeys = new Set(fresh.rows.map(rowKey));
  const rows = [...prev.rows.filter((r) => !freshKeys.has(rowKey(r))), ...fresh.rows];
  const freshSoak = new Set(fresh.soak.map((s) => s.profile));
  const soak = [...(prev.soak ?? []).filter((s) => !freshSoak.has(s.profile)), ...fresh.soak];
  const micro = fresh.micro ?? prev.micro ?? null;
  const auth = fresh.auth ?? prev.auth ?? null;
  const notify = fresh.notify ?? prev.notify ?? null;
  const used = new Set([
    ...rows.map((r) => r.runId),
    ...soak.map((s) => s.runId),
    ...(micro ? [micro.runId] : []),
    ...(auth ? [auth.runId] : []),
    ...(notify ? [notify.runId] : []),
  ]);
  const runs = [
    ...prev.runs.filter((r) => used.has(r.runId) && !fresh.runs.some((f) => f.runId === r.runId)),
    ...fresh.runs,
  ];
  return { rows: sortRows(rows), micro, soak, auth, notify, runs };
}

const SCEN_ORDER = [
  'host-death',
  'host-death-witness',
  'freeze',
  'off',
  'graceful-stop',
  'partition-heal',
  'hb-cut',
  'gateway-loss',
  'both-start',
  'both-start-staggered',
  'vip-remove',
];
const PROF_ORDER = ['default', 'fast', 'defaults', 'vrrp3-0.2s'];

function sortRows(rows: ScenarioRow[]): ScenarioRow[] {
  const idx = (a: string[], x: string): number => (a.includes(x) ? a.indexOf(x) : 99);
  return [...rows].sort(
    (a, b) =>
      (a.impl === b.impl ? 0 : a.impl === 'pha' ? -1 : 1) ||
      idx(PROF_ORDER, a.profile) - idx(PROF_ORDER, b.profile) ||
      idx(SCEN_ORDER, a.scenario) - idx(SCEN_ORDER, b.scenario),
  );
}

// ------------------------------------------------------------------ targets

export interface TargetCheck {
  target: string;
  measured: string;
  status: 'met' | 'missed' | 'not measured' | 'partly measured';
  note?: string;
}

const find = (res: BenchResults, impl: string, scenario: string, profile: string): ScenarioRow | undefined =>
  res.rows.find((r) => r.impl === impl && r.scenario === scenario && r.profile === profile);

const s3 = (s: Summary): string => `${fmtMs(s.median)} / ${fmtMs(s.p95)} / ${fmtMs(s.max)}`;
const by = (v: number | null, limit: number): string =>
  v === null ? '' : v > limit ? ` (over by ${fmtMs(v - limit)} ms)` : '';
const allOk = (r: ScenarioRow): boolean => r.ok === r.trials && r.trials > 0;

export function checkTargets(res: BenchResults): TargetCheck[] {
  const out: TargetCheck[] = [];
  const row = (scenario: string, profile: string, target: string, fn: (r: ScenarioRow) => TargetCheck): void => {
    const r = find(res, 'pha', scenario, profile);
    out.push(r ? fn(r) : { target, measured: '—', status: 'not measured' });
  };
  const failedTrials = (r: ScenarioRow): string =>
    allOk(r) ? '' : `; ${r.trials - r.ok} of ${r.trials} trials failed`;

  row('host-death', 'default', 'default: host death ≤ 1.2 s median', (r) => {
    const m = r.toVip.median;
    return {
      target: 'default: host death ≤ 1.2 s median',
      measured: `median ${fmtMs(m)} ms (p95 ${fmtMs(r.toVip.p95)}, max ${fmtMs(r.toVip.max)})${failedTrials(r)}`,
      status: m !== null && m <= 1200 && allOk(r) ? 'met' : 'missed',
      note: by(m, 1200).trim() || undefined,
    };
  });
  row('off', 'default', '`off`: gap ≤ 100 ms median, zero overlap', (r) => {
    const g = r.gap.median,
      ov = r.overlap.max;
    return {
      target: 'default: `off` gap ≤ 100 ms median with zero overlap',
      measured: `gap median ${fmtMs(g)} ms (max ${fmtMs(r.gap.max)}), overlap max ${fmtMs(ov)} ms${failedTrials(r)}`,
      status: g !== null && g <= 100 && ov === 0 && allOk(r) ? 'met' : 'missed',
      note: [by(g, 100).trim(), ov ? `overlap ${fmtMs(ov)} ms` : ''].filter(Boolean).join('; ') || undefined,
    };
  });
  row('partition-heal', 'default', 'partition heal', (r) => {
    const lb1 = r.holders.lb1 ?? 0;
    const ok = allOk(r) && lb1 === r.trials && (r.toVip.max ?? Infinity) <= 500 && r.gap.max === 0 && r.flaps === 0;
    return {
      target: 'default: partition heal → one holder (lb1) within 0.5 s, zero gap, stable',
      measured: `heal → one holder ${s3(r.toVip)} ms (med/p95/max); holder lb1 in ${lb1}/${r.trials}; gap max ${fmtMs(r.gap.max)} ms; later transitions ${r.flaps}${failedTrials(r)}`,
      status: ok ? 'met' : 'missed',
      note: by(r.toVip.max, 500).trim() || undefined,
    };
  });
  row('hb-cut', 'default', 'heartbeat cut, LAN intact', (r) => {
    const lb1 = r.holders.lb1 ?? 0;
    const ok = allOk(r) && lb1 === r.trials && (r.overlap.max ?? Infinity) <= 2500 && r.flaps === 0;
    return {
      target: 'default: heartbeat cut for 60 s with the LAN intact → two holders ≤ 2.5 s in all, then lb1 (issue 21)',
      measured: `two holders ${s3(r.overlap)} ms (med/p95/max); one holder again ${s3(r.toVip)} ms after the cut; holder lb1 in ${lb1}/${r.trials}; later transitions ${r.flaps}${failedTrials(r)}`,
      status: ok ? 'met' : 'missed',
      note: by(r.overlap.max, 2500).trim() || undefined,
    };
  });
  row('both-start', 'default', 'both started together', (r) => {
    const ok = allOk(r) && r.flaps === 0 && Object.keys(r.holders).every((h) => h === 'lb1' || h === 'lb2');
    return {
      target: 'default: both started together → one holder, no later transition',
      measured: `${r.trials} × ${(r.results[0]?.extra.windowS as number | undefined) ?? '?'} s: transitions after the first takeover ${r.flaps}, final holders ${Object.entries(
        r.holders,
      )
        .map(([h, n]) => `${h}×${n}`)
        .join(' ')}, overlap max ${fmtMs(r.overlap.max)} ms${failedTrials(r)}`,
      status: ok ? 'met' : 'missed',
    };
  });
  // Issue 10: whatever the start-up timing, one takeover and never two holders.
  for (const scenario of ['both-start', 'both-start-staggered']) {
    for (const profile of ['default', 'fast', 'default+load', 'fast+load']) {
      const r = find(res, 'pha', scenario, profile);
      if (!r && (scenario !== 'both-start' || profile.includes('+'))) continue;
      row(scenario, profile, `${profile}: ${scenario}: one takeover, no two holders`, (r) => ({
        target: `${profile}: ${scenario === 'both-start' ? 'both started together' : 'both started, daemons 0-1500 ms apart'} → one takeover, never two holders (issue 10)`,
        measured: `${r.trials} trials: transitions after the first takeover ${r.flaps}, overlap max ${fmtMs(r.overlap.max)} ms, final holders ${Object.entries(
          r.holders,
        )
          .map(([h, n]) => `${h}×${n}`)
          .join(' ')}${failedTrials(r)}`,
        status: allOk(r) && r.flaps === 0 && r.overlap.max === 0 ? 'met' : 'missed',
      }));
    }
  }
  row('gateway-loss', 'default', 'gateway loss', (r) => {
    const t = r.toVip.max,
      ov = r.overlap.max;
    const ok = allOk(r) && t !== null && t <= 3000 && ov !== null && ov < 100;
    return {
      target: 'default: gateway loss on the holder → handed over within 3 s, overlap < 100 ms',
      measured: `to lb2 ${s3(r.toVip)} ms; overlap ${s3(r.overlap)} ms${failedTrials(r)}`,
      status: ok ? 'met' : 'missed',
      note:
        [by(t, 3000).trim(), ov !== null && ov >= 100 ? `overlap over by ${fmtMs(ov - 100)} ms` : '']
          .filter(Boolean)
          .join('; ') || undefined,
    };
  });
  row(
    'off',
    'default+load',
    '`off` under full CPU load (stress-ng): gap ≤ 50 ms median, no overlap (issue 20)',
    (r) => {
      const g = r.gap.median;
      const floor = r.extra.baselineIpAddMs?.median;
      return {
        target: '`off` under full CPU load (stress-ng): gap ≤ 50 ms median, no overlap (issue 20)',
        measured: `gap ${s3(r.gap)} ms, overlap ${s3(r.overlap)} ms; same-run floor (one \`ip address add\` via bash) ${fmtMs(floor ?? null)} ms${failedTrials(r)}`,
        status: allOk(r) && g !== null && g <= 50 && r.overlap.max === 0 ? 'met' : 'missed',
        note: by(g, 50).trim() || undefined,
      };
    },
  );
  row('gateway-loss', 'default+load', 'gateway loss under full CPU load: overlap < 50 ms (issue 20)', (r) => ({
    target: 'gateway loss under full CPU load: overlap < 50 ms (issue 20)',
    measured: `overlap ${s3(r.overlap)} ms; same-run floor ${fmtMs(r.extra.baselineIpAddMs?.median ?? null)} ms${failedTrials(r)}`,
    status: allOk(r) && r.overlap.median !== null && r.overlap.median < 50 ? 'met' : 'missed',
  }));
  row('vip-remove', 'default', 'removed VIP', (r) => {
    const lb1 = r.holders.lb1 ?? 0;
    const t = r.toVip.max;
    // One round = the SUPERVISE_INT wait until the next check, plus that round's own check and restart (allowance 100 ms).
    const limit = 2000 + 100;
    const ok = allOk(r) && lb1 === r.trials && t !== null && t <= limit;
    return {
      target:
        "default: removed VIP restored locally within one round (SUPERVISE_INT 2 s + 100 ms for the round's check and restart)",
      measured: `back after ${s3(r.toVip)} ms; on lb1 in ${lb1}/${r.trials}${failedTrials(r)}`,
      status: ok ? 'met' : 'missed',
      note: by(t, limit).trim() || undefined,
    };
  });
  row('freeze', 'default', 'freeze', (r) => ({
    target: 'default: freeze and thaw of the holder → the thawed node yields, no flap (issue 3 test list)',
    measured: `to lb2 ${s3(r.toVip)} ms; overlap after thaw ${s3(r.overlap)} ms; flaps ${r.flaps}${failedTrials(r)}`,
    status: allOk(r) && r.flaps === 0 ? 'met' : 'missed',
  }));
  row('host-death', 'fast', 'fast: host death ≤ 0.3 s median', (r) => {
    const m = r.toVip.median;
    return {
      target: 'fast: host death ≤ 0.3 s median',
      measured: `median ${fmtMs(m)} ms (p95 ${fmtMs(r.toVip.p95)}, max ${fmtMs(r.toVip.max)})${failedTrials(r)}`,
      status: m !== null && m <= 300 && allOk(r) ? 'met' : 'missed',
      note: by(m, 300).trim() || undefined,
    };
  });

  const soakD = res.soak.find((s) => s.profile === 'default');
  const soakF = res.soak.find((s) => s.profile === 'fast');
  if (!soakD)
    out.push({
      target: 'zero spurious failovers in a 10-minute soak under full CPU load (default profile)',
      measured: '—',
      status: 'not measured',
    });
  else {
    const short = soakD.minutes < 9.95;
    out.push({
      target: 'zero spurious failovers in a 10-minute soak under full CPU load (default profile)',
      measured:
        `${soakD.spuriousFailovers} in ${soakD.minutes.toFixed(1)} min` +
        (soakF ? `; fast profile: ${soakF.spuriousFailovers} in ${soakF.minutes.toFixed(1)} min` : ''),
      status: soakD.spuriousFailovers > 0 ? 'missed' : short ? 'partly measured' : 'met',
      note: short ? `soak ran ${soakD.minutes.toFixed(1)} min, not 10` : undefined,
    });
  }

  const m = res.micro;
  // Issue 20: idle CPU against a bare Node timer of the same window, not an absolute figure.
  const fps = m?.footprint.filter((f) => f.profile === 'default' && (f.resources ?? 1) === 1) ?? [];
  const times = (f: NodeFootprint) => (f.baselineCpuPct ? f.totalCpuPct / f.baselineCpuPct : null);
  if (!fps.length || fps.some((f) => times(f) === null))
    out.push({
      target:
        "idle CPU of a node's three daemons ≤ 4× a bare Node.js timer of the same window (default profile, Active and Standby)",
      measured: '—',
      status: 'not measured',
    });
  else {
    const worst = Math.max(...fps.map((f) => times(f)!));
    out.push({
      target:
        "idle CPU of a node's three daemons ≤ 4× a bare Node.js timer of the same window (default profile, Active and Standby)",
      measured: fps
        .map(
          (f) =>
            `${f.node} ${f.role}: ${f.totalCpuPct.toFixed(2)} % (${times(f)!.toFixed(1)}× the timer's ${f.baselineCpuPct!.toFixed(2)} %; ${f.totalCpuPctWithChildren.toFixed(2)} % with the check scripts) over ${f.seconds} s`,
        )
        .join('; '),
      status: worst <= 4 ? 'met' : 'missed',
      note: worst > 4 ? `${worst.toFixed(1)}×: where it goes is the wake-up table under Idle footprint` : undefined,
    });
  }
  const fastFp = m?.footprint.filter((f) => f.profile === 'fast' && (f.resources ?? 1) === 1) ?? [];
  if (fps.length && fastFp.length) {
    const d = Math.max(...fps.map((f) => f.totalCpuPct));
    const f = Math.max(...fastFp.map((x) => x.totalCpuPct));
    out.push({
      target: 'fast profile idle CPU ≤ 2× the default profile',
      measured: `fast ${f.toFixed(2)} %, default ${d.toFixed(2)} % (the busier node of each): ${(f / d).toFixed(1)}×`,
      status: f <= 2 * d ? 'met' : 'missed',
    });
  }
  if (fps.length) {
    const rss = Math.max(...fps.map((f) => f.totalRssKb));
    const base = m?.nodeBaseline?.find((b) => b.profile === 'default');
    const pss = Math.max(...fps.map((f) => f.daemons.reduce((a, x) => a + (x.pssKb ?? 0), 0)));
    out.push({
      target: "RSS of a node's three daemons ≤ 120 MB",
      measured:
        `${MB(rss)} MB RSS (PSS ${MB(pss)} MB)` +
        (base
          ? `; three bare Node.js processes: ${MB(3 * base.rssKb)} MB RSS, ${MB(3 * (base.privateKb ?? 0))} MB private`
          : ''),
      status: rss <= 120 * 1024 ? 'met' : 'missed',
      note:
        rss > 120 * 1024 && base
          ? `the floor of three Node.js processes is ${MB(3 * base.rssKb)} MB RSS (the node binary's shared pages counted three times)`
          : undefined,
    });
  }
  const r10 = m?.superviseRound.find((r) => r.resources === 10);
  out.push(
    r10
      ? {
          target: 'supervise round with 10 resources < 100 ms',
          measured: `checkAll median ${fmtMs(r10.checkAll.median)} ms (p95 ${fmtMs(r10.checkAll.p95)}); with the status write ${fmtMs(r10.roundWithWrite.median)} ms`,
          status: (r10.roundWithWrite.median ?? Infinity) < 100 ? 'met' : 'missed',
          note: by(r10.roundWithWrite.median, 100).trim() || undefined,
        }
      : { target: 'supervise round with 10 resources < 100 ms', measured: '—', status: 'not measured' },
  );
  const r50 = m?.superviseRound.find((r) => r.resources === 50);
  if (r50)
    out.push({
      target: 'supervise round with 50 resources < 60 ms',
      measured: `checkAll median ${fmtMs(r50.checkAll.median)} ms (p95 ${fmtMs(r50.checkAll.p95)}); with the status write ${fmtMs(r50.roundWithWrite.median)} ms`,
      status: (r50.roundWithWrite.median ?? Infinity) < 60 ? 'met' : 'missed',
      note:
        [
          by(r50.roundWithWrite.median, 60).trim(),
          r50.spawnFloor
            ? `same-run floor (50 bare spawns from Node) ${fmtMs(r50.spawnFloor.median)} ms: the round is ${fmtMs((r50.roundWithWrite.median ?? 0) - (r50.spawnFloor.median ?? 0))} ms above it`
            : '',
        ]
          .filter(Boolean)
          .join('; ') || undefined,
    });
  const cs = m?.cliStat;
  out.push(
    cs
      ? {
          target: '`pha-cli stat` one-shot < 300 ms',
          measured: `median ${fmtMs(cs.wall.median)} ms (p95 ${fmtMs(cs.wall.p95)}) incl. ${fmtMs(cs.netnsOverhead.median)} ms of the lab's netns wrapper`,
          status: (cs.wall.median ?? Infinity) < 300 ? 'met' : 'missed',
          note: by(cs.wall.median, 300).trim() || undefined,
        }
      : { target: '`pha-cli stat` one-shot < 300 ms', measured: '—', status: 'not measured' },
  );
  return out;
}

// ----------------------------------------------------------------- markdown

const MB = (kb: number): string => (kb / 1024).toFixed(1);

/** A footprint row's CPU (without the check scripts) against the bare timer of its window. */
function ratio(f: NodeFootprint): string {
  return f.baselineCpuPct && f.baselineCpuPct > 0 ? `${(f.totalCpuPct / f.baselineCpuPct).toFixed(1)}×` : '—';
}

function failoverTable(rows: ScenarioRow[]): string[] {
  const lines = [
    '| impl | scenario | profile | ok | time measured | time med / p95 / max | gap med / p95 / max | overlap med / p95 / max | flaps | final holder | same-run floor: `ip address add` via bash, med / p95 |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.impl} | ${r.scenario} | ${r.profile} | ${r.ok}/${r.trials} | ${r.metric} | ${s3(r.toVip)} | ${s3(r.gap)} | ${s3(r.overlap)} | ${r.flaps} | ${Object.entries(
        r.holders,
      )
        .map(([h, n]) => `${h}×${n}`)
        .join(
          ' ',
        )} | ${r.extra.baselineIpAddMs ? `${fmtMs(r.extra.baselineIpAddMs.median)} / ${fmtMs(r.extra.baselineIpAddMs.p95)}` : '—'} |`,
    );
  }
  return lines;
}

function sideBySide(res: BenchResults): string[] {
  const cols: Array<[string, string, string]> = [
    ['pha default', 'pha', 'default'],
    ['pha fast', 'pha', 'fast'],
    ['keepalived defaults (VRRPv2, advert 1 s)', 'keepalived', 'defaults'],
    ['keepalived VRRPv3 advert 0.2 s', 'keepalived', 'vrrp3-0.2s'],
  ];
  if (!res.rows.some((r) => r.impl === 'keepalived')) return [];
  const cell = (r: ScenarioRow | undefined): string =>
    r ? `${fmtMs(r.toVip.median)} (gap ${fmtMs(r.gap.median)}, overlap ${fmtMs(r.overlap.max)} max)` : '—';
  return [
    '',
    '## pha and keepalived side by side (same lab, same run where the run ids match)',
    '',
    'Median time to the VIP on the survivor in ms (median gap; largest overlap).',
    '',
    `| scenario | ${cols.map((c) => c[0]).join(' | ')} |`,
    `|---|${cols.map(() => '---').join('|')}|`,
    `| host death of the holder | ${cols.map(([, i, p]) => cell(find(res, i, 'host-death', p))).join(' | ')} |`,
    `| graceful handover (pha \`off\` from the command's start; keepalived SIGTERM) | ${cols.map(([, i, p]) => cell(find(res, i, i === 'pha' ? 'off' : 'graceful-stop', p))).join(' | ')} |`,
    '',
    'Original Perl pha on this lab (issue 3): host death 3.0 s; `off` 2.9 s with up to 1.9 s of two holders. keepalived as measured there: defaults host death 3.1 s, graceful stop 0.6 s; VRRPv3 0.2 s adverts host death 0.57 s, graceful stop 0.13 s.',
  ];
}

function extrasTable(rows: ScenarioRow[]): string[] {
  const lines = ['| impl | scenario | profile | number | median | p95 | max |', '|---|---|---|---|---|---|---|'];
  let any = false;
  for (const r of rows) {
    for (const [k, s] of Object.entries(r.extra)) {
      // constants, not measurements; the floor has its own column
      if (!s.n || k === 'cliExit' || k === 'windowS' || k === 'baselineIpAddMs') continue;
      any = true;
      lines.push(
        `| ${r.impl} | ${r.scenario} | ${r.profile} | ${k} | ${fmtMs(s.median)} | ${fmtMs(s.p95)} | ${fmtMs(s.max)} |`,
      );
    }
  }
  return any ? lines : [];
}

function soakTable(soak: SoakResult[]): string[] {
  if (!soak.length) return ['not run (`--soak MINUTES`)'];
  return [
    '| profile | settings | minutes | load | spurious transitions | gap ms | overlap ms | holder at end | transitions (s → holders) | logs: peer declared silent / own stall | worst in the daemons |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...soak.map(
      (s) =>
        `| ${s.profile} | ${s.settings} | ${s.minutes.toFixed(1)} | ${s.load} | ${s.spuriousFailovers} | ${fmtMs(s.gapMs)} | ${fmtMs(s.overlapMs)} | ${s.finalHolder} | ${s.transitions.map((t) => `${t.atS}→${t.holders}`).join(', ') || '—'} | ${s.peerLost ?? '—'} / ${s.stalls ?? '—'} | ${loopLine(s.loop)} |`,
    ),
  ];
}

/** The `--notify` section: host death with a hanging hook against none, and lb2's timeline phases. */
function notifySection(n: NotifyBench | null): string[] {
  if (!n?.hostDeath) return ['not measured (`npm run bench -- --notify`)'];
  const r = (x: ScenarioRow): string =>
    `${fmtMs(x.toVip.median)} (${fmtMs(x.toVip.max)}) | ${phasesLine(x)} | ${x.ok}/${x.trials}`;
  return [
    `Run \`${n.runId}\`. Trials alternate between the two variants. The hook sleeps 30 s on every call and is killed at ` +
      '`NOTIFY_TIMEOUT=2`; it runs beside the decisions, so the failover should not wait for it. The phases are ' +
      "lb2's own timeline of the takeover (`pha-cli history`), medians.",
    '',
    '| host death → VIP on lb2, default profile | median (max) ms | timeline phases (medians) | ok |',
    '|---|---|---|---|',
    `| no notify hook | ${r(n.hostDeath.plain)} |`,
    `| a hook hanging to \`NOTIFY_TIMEOUT\` | ${r(n.hostDeath.hook)} |`,
  ];
}

/** The `--auth` section: host death and idle CPU with and without AUTHKEY (medians), and the codec's cost per frame. */
function authSection(a: AuthBench | null): string[] {
  if (!a) return ['not measured (`npm run bench -- --auth`)'];
  const L: string[] = [
    `Run \`${a.runId}\`. Trials and idle windows alternate between the two variants (plain, key, key, plain, …), so both see the same machine.`,
    '',
  ];
  const f3 = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : x.toFixed(3));
  if (a.hostDeath) {
    const r = (x: ScenarioRow): string => `${fmtMs(x.toVip.median)} (${fmtMs(x.toVip.max)}) | ${x.ok}/${x.trials}`;
    L.push(
      '| host death → VIP on lb2, default profile | median (max) ms | ok |',
      '|---|---|---|',
      `| without a key | ${r(a.hostDeath.plain)} |`,
      `| with \`AUTHKEY\` (enforce) | ${r(a.hostDeath.key)} |`,
      '',
    );
  }
  if (a.idleSummary) {
    const s = a.idleSummary;
    L.push(
      '| idle CPU of the three daemons (schedstat ns) | without a key: median (min–max) % | with a key: median (min–max) % | difference of medians, points |',
      '|---|---|---|---|',
    );
    for (const n of ['lb1', 'lb2'] as const) {
      const p = s.plain[n],
        k = s.key[n];
      const d =
        p.median === null || k.median === null
          ? '—'
          : `${k.median - p.median >= 0 ? '+' : ''}${(k.median - p.median).toFixed(3)}`;
      L.push(
        `| ${n} (${n === 'lb1' ? 'Active' : 'Standby'}), ${p.n} / ${k.n} windows of ${a.idle[0]?.seconds ?? '?'} s | ${f3(p.median)} (${f3(p.min)}–${f3(p.max)}) | ${f3(k.median)} (${f3(k.min)}–${f3(k.max)}) | ${d} |`,
      );
    }
    L.push('');
  }
  if (a.codec) {
    const c = a.codec;
    L.push(
      `The codec alone (\`createHeartbeatCodec\`, ${c.frames} datagrams, CPU from process.cpuUsage): plain word encode ${c.plainEncodeUs.toFixed(2)} µs, accept ${c.plainAcceptUs.toFixed(2)} µs; ` +
        `frame sign ${c.keyEncodeUs.toFixed(2)} µs, verify and accept ${c.keyAcceptUs.toFixed(2)} µs. The key's extra CPU per node (one frame signed and one verified per interval): ` +
        Object.entries(c.extraCpuPct)
          .map(([k, v]) => `${k}: **${v.toFixed(4)} %**`)
          .join(', ') +
        ' (target < 0.05 %) — in a tight loop, caches warm.',
    );
    if (c.wake) {
      L.push(
        '',
        `Woken every 200 ms like a daemon (two processes side by side, ${c.wake.seconds} s, one frame signed and verified per wake; \`tools/bench/auth-wake.ts\`): ` +
          `${c.wake.plainUsPerWake.toFixed(1)} µs of CPU per wake with the plain word, ${c.wake.keyUsPerWake.toFixed(1)} µs with the key: **${c.wake.extraCpuPct.toFixed(3)} %** extra CPU per node at HEARTBEAT_INT=200. ` +
          'Cold caches make each HMAC cost tens of µs instead of a few: this, not the tight loop, is what the idle daemons pay.',
      );
    }
  }
  return L;
}

export function renderMarkdown(res: BenchResults, opts: { partial: boolean; thisRun: string }): string {
  const L: string[] = [];
  L.push('# pha failover benchmark — latest results', '');
  if (opts.partial)
    L.push(`> **Partial**: run ${opts.thisRun} was interrupted or is still running; rows below may be incomplete.`, '');
  L.push('Written by `npm run bench` (see `bench/README.md`). All times in ms. Runs that contributed:', '');
  for (const r of res.runs)
    L.push(
      `- \`${r.runId}\` ${r.at} — commit ${r.commit}, ${r.host}, ${r.durationS} s, args \`${r.argv.join(' ') || '(none)'}\`${r.load ? `, ${r.load}` : ''}`,
    );
  const profs = [...new Map(res.rows.map((r) => [`${r.impl} ${r.profile}`, r.settings])).entries()];
  L.push(
    '',
    'Settings: ' +
      profs.map(([k, v]) => `**${k}**: ${v}`).join('; ') +
      '. The lab sets PINGTIMEOUT=0.5 and GW=198.18.0.1; the VIP is 198.18.0.100/24 on eth0 via res/ipaddr.',
    '',
  );
  L.push(
    'Effective holders: a node that is dead (host death) or frozen is no holder, whatever its interfaces say. ' +
      "*gap* = time with no effective holder, *overlap* = time with two, inside the scenario's window (see the definitions below). " +
      'Median / p95 / max over the successful trials (p95 = nearest rank: with 10 trials it is the 10th value, the max).',
    '',
  );

  L.push('## Failover', '', ...failoverTable(res.rows));
  L.push(...sideBySide(res));

  const t = checkTargets(res);
  L.push('', '## Targets (issue 3)', '', '| target | measured | result |', '|---|---|---|');
  for (const c of t)
    L.push(
      `| ${c.target} | ${c.measured} | ${c.status === 'met' ? '**met**' : c.status === 'missed' ? `**MISSED**${c.note ? ` — ${c.note}` : ''}` : c.status + (c.note ? ` — ${c.note}` : '')} |`,
    );

  const m = res.micro;
  L.push('', '## Idle footprint', '');
  if (m?.footprint.length) {
    L.push(
      `Steady pair (lb1 Active, lb2 Standby), CPU from /proc/<pid>/stat (utime+stime; "with checks" adds the waited-for children, i.e. the resource-check scripts) over the window; RSS = VmRSS at the end (max seen in brackets).`,
      '',
      '| node | profile | resources | seconds | sender CPU % / RSS MB | receiver CPU % / RSS MB | supervise CPU % (with checks) / RSS MB | three daemons CPU % (with checks) | × a bare Node timer, same window | RSS MB total | PSS MB | private MB |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const f of m.footprint) {
      const d = (n: string): string => {
        const x = f.daemons.find((y) => y.daemon === n);
        return x
          ? `${x.cpuPct.toFixed(2)}${n === 'supervise' ? ` (${x.cpuPctWithChildren.toFixed(2)})` : ''} / ${MB(x.rssKb)} (${MB(x.rssMaxKb)})`
          : '—';
      };
      const sum = (k: 'pssKb' | 'privateKb') =>
        f.daemons.some((x) => x[k] !== undefined) ? MB(f.daemons.reduce((a, x) => a + (x[k] ?? 0), 0)) : '—';
      L.push(
        `| ${f.node} ${f.role} | ${f.profile} | ${f.resources ?? 1} | ${f.seconds} | ${d('sender')} | ${d('receiver')} | ${d('supervise')} | ${f.totalCpuPct.toFixed(2)} (${f.totalCpuPctWithChildren.toFixed(2)}) | ${ratio(f)} | ${MB(f.totalRssKb)} | ${sum('pssKb')} | ${sum('privateKb')} |`,
      );
    }
    const woke = m.footprint.filter((f) => f.daemons.some((x) => x.wakePerS));
    if (woke.length)
      L.push(
        '',
        "Where it goes: each daemon's wake-ups per second over the window, by cause (`src/wakeups.ts`, asked over the bus): `timer.<name>` a timer of the core, `bus.in`/`bus.out` local-bus messages, `pid-check`/`pid-file` the watchdog, `file.read`/`file.write`/`file.watch` the status file, `heartbeat.in`/`.out`, `script.<action>` a resource script (its CPU is the with-checks part), `gw.ping` the gateway echo.",
        '',
        '| node | profile | resources | daemon | wake-ups per second by cause |',
        '|---|---|---|---|---|',
        ...woke.flatMap((f) =>
          f.daemons.map(
            (x) =>
              `| ${f.node} ${f.role} | ${f.profile} | ${f.resources ?? 1} | ${x.daemon} | ${Object.entries(
                x.wakePerS ?? {},
              )
                .sort(([, a], [, b]) => b - a)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')} |`,
          ),
        ),
      );
    const st = m.footprint.filter((f) => f.statusWritesPerS !== undefined);
    if (st.length)
      L.push(
        '',
        `status.dat replacement events per second (fs.watch on var/): ${st.map((f) => `${f.node} ${f.profile} ${f.statusWritesPerS!.toFixed(1)}`).join(', ')}.`,
      );
    if (m.nodeBaseline?.length)
      L.push(
        '',
        `Reference, same window: a bare \`node -e "setInterval(() => {}, 200)"\` uses ${m.nodeBaseline.map((b) => `${b.cpuPct.toFixed(2)} % CPU and ${MB(b.rssKb)} MB RSS${b.pssKb ? ` (PSS ${MB(b.pssKb)}, private ${MB(b.privateKb ?? 0)})` : ''} (${b.profile} window)`).join('; ')} — the floor of each of the three Node.js daemons. RSS counts the node binary's shared pages in every process; PSS shares them out, private is what a process alone holds.`,
      );
  } else L.push('not measured');

  L.push('', '## supervise round time', '');
  if (m?.superviseRound.length) {
    L.push(
      "`ResourceRunner.checkAll` (what a round runs: all checks concurrently) on N `res/test` resources (t1..tN, symlinks to res/test, all UP), then the round's status write; 20 rounds after 2 warm-up rounds. The floor beside it, same run, interleaved with the rounds: N concurrent spawns of `/bin/true` from the same process, no pipes (Node forks the whole process for each spawn: that is most of a round).",
      '',
      '| resources | checkAll median | checkAll p95 | with status write median | with status write p95 | floor: N bare spawns, median |',
      '|---|---|---|---|---|---|',
      ...m.superviseRound.map(
        (r) =>
          `| ${r.resources} | ${fmtMs(r.checkAll.median)} | ${fmtMs(r.checkAll.p95)} | ${fmtMs(r.roundWithWrite.median)} | ${fmtMs(r.roundWithWrite.p95)} | ${r.spawnFloor ? fmtMs(r.spawnFloor.median) : '—'} |`,
      ),
    );
  } else L.push('not measured');

  L.push('', '## status-store update latency', '');
  if (m?.statusStore) {
    const s = m.statusStore;
    L.push(
      `${s.writers} writer processes × ${s.updatesEach} \`StatusStore.update\` each, all at once (lock, read, atomic write, unlock): ` +
        `p50 **${fmtMs(s.latency.median)}** ms, p99 **${fmtMs(s.latency.p99)}** ms, max ${fmtMs(s.latency.max)} ms; ${s.writers * s.updatesEach} updates in ${fmtMs(s.wallMs)} ms; errors ${s.errors}.`,
    );
  } else L.push('not measured');

  L.push('', '## `pha-cli stat` one-shot', '');
  if (m?.cliStat) {
    const c = m.cliStat;
    L.push(
      `${c.runs} runs of \`pha-cli stat\` on the running lb1 (through the lab: \`ip netns exec … nsenter … node bin/pha-cli.js stat\`): median **${fmtMs(c.wall.median)}** ms, p95 ${fmtMs(c.wall.p95)} ms, max ${fmtMs(c.wall.max)} ms; ` +
        `the wrapper alone (\`true\` the same way) takes a median ${fmtMs(c.netnsOverhead.median)} ms. Exit codes: ${c.exitCodes.join(', ')}.`,
    );
  } else L.push('not measured');

  L.push('', '## Soak under full CPU load', '', ...soakTable(res.soak));

  L.push('', '## Heartbeat key (`AUTHKEY`): cost, same run (`--auth`)', '', ...authSection(res.auth ?? null));
  L.push(
    '',
    '## A hanging notify hook and the failover, same run (`--notify`)',
    '',
    ...notifySection(res.notify ?? null),
  );

  const ex = extrasTable(res.rows);
  if (ex.length) L.push('', '## Further numbers per scenario', '', ...ex);

  L.push(
    '',
    '## Definitions',
    '',
    '| impl | scenario | time measured | gap | overlap | flaps |',
    '|---|---|---|---|---|---|',
  );
  const seen = new Set<string>();
  for (const r of res.rows) {
    const k = `${r.impl}|${r.scenario}`;
    if (seen.has(k)) continue;
    seen.add(k);
    L.push(`| ${r.impl} | ${r.scenario} | ${r.metric} | ${r.gapMeaning} | ${r.overlapMeaning} | ${r.flapsMeaning} |`);
  }

  const fails = res.rows.flatMap((r) => [
    ...r.failures.map((f) => `${r.impl} ${r.scenario} ${r.profile} ${f}`),
    ...r.notes.map((n) => `${r.impl} ${r.scenario} ${r.profile} ${n}`),
  ]);
  const more = [
    ...(m?.notes ?? []),
    ...(res.auth?.notes ?? []).map((n) => `auth: ${n}`),
    ...(res.notify?.notes ?? []).map((n) => `notify: ${n}`),
    ...res.soak.flatMap((s) => s.notes.map((n) => `soak ${s.profile}: ${n}`)),
  ];
  L.push('', '## Failed trials and notes', '');
  if (!fails.length && !more.length) L.push('none');
  for (const f of [...fails, ...more]) L.push(`- ${f.replace(/\n/g, ' ')}`);
  L.push('');
  return L.join('\n');
}

export function writeResults(outDir: string, res: BenchResults, opts: { partial: boolean; thisRun: string }): string[] {
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, 'latest.json');
  const md = join(outDir, 'latest.md');
  const write = (f: string, text: string): void => {
    writeFileSync(`${f}.tmp`, text);
    renameSync(`${f}.tmp`, f);
  };
  write(
    json,
    `${JSON.stringify({ partial: opts.partial || undefined, ...res, targets: checkTargets(res) }, null, 1)}\n`,
  );
  write(md, renderMarkdown(res, opts));
  return [md, json];
}
