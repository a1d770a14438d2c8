/**
 * `--auth`: what the heartbeat key costs (issue 9), measured against a
 * same-run baseline without a key, trials interleaved (plain, key, key,
 * plain, …) so that drift of the machine's load hits both alike:
 *
 *   - host death → VIP on the survivor (default profile), with and without AUTHKEY;
 *   - idle CPU of each node's three daemons (steady pair), with and without,
 *     from /proc/<pid>/schedstat (ns of CPU time, not 10 ms clock ticks);
 *   - the codec alone: µs of CPU per frame signed and per frame verified
 *     (createHeartbeatCodec, as the daemons use it) vs the plain word, and what
 *     that makes per node at HEARTBEAT_INT (one frame out, one in, per interval).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHeartbeatCodec, generateKey, KeyRing, writeKeyFile } from '../../src/heartbeat/index.js';
import { type NodeName, readDaemonPids } from '../lab/index.js';
import type { BenchOptions } from './args.js';
import { type BenchEnv, PHA_PROFILES, PhaPair, type Profile } from './pair.js';
import { interleavedHostDeath, order } from './paired.js';
import { phaRowSpec, type RunMeta } from './runner.js';
import { HOST_DEATH } from './scenarios.js';
import { type Summary, summarize } from './stats.js';
import { NODES } from './timeline.js';
import type { AuthBench, AuthCodecCost, AuthIdleWindow } from './types.js';
import { errText, fmtMs, say, sleep } from './util.js';

export type { AuthBench, AuthCodecCost, AuthIdleWindow } from './types.js';

const KEY_FILE = 'etc/authkey';

/** The default profile with AUTHKEY (enforce). */
export const KEYED_PROFILE: Profile = {
  ...PHA_PROFILES.default,
  config: { ...PHA_PROFILES.default.config, AUTHKEY: KEY_FILE },
};

/** A pair whose nodes share one key file (written before the start, mode 0600). */
class KeyedPair extends PhaPair {
  constructor(
    env: BenchEnv,
    label: string,
    private readonly key: Buffer,
  ) {
    super(env, label, KEYED_PROFILE);
  }

  override async install(): Promise<void> {
    await super.install();
    for (const n of NODES) writeKeyFile(join(this.dir, n, KEY_FILE), [{ id: 1, key: this.key }], 'pha bench');
  }
}

const makePair = (env: BenchEnv, variant: 'plain' | 'key', label: string, key: Buffer): PhaPair =>
  variant === 'key' ? new KeyedPair(env, label, key) : new PhaPair(env, label, PHA_PROFILES.default);

/** Nanoseconds on a CPU (first field of /proc/<pid>/schedstat); null when gone. */
export function cpuNs(pid: number): number | null {
  try {
    const n = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

async function idleWindow(
  env: BenchEnv,
  variant: 'plain' | 'key',
  rep: number,
  o: BenchOptions,
  key: Buffer,
  meta: RunMeta,
  notes: string[],
): Promise<AuthIdleWindow | null> {
  const pair = makePair(env, variant, `auth-idle-${variant}-${rep}`, key);
  try {
    await pair.setup();
    const pids: Record<NodeName, number[]> = { lb1: [], lb2: [] };
    for (const n of NODES) {
      const p = await readDaemonPids(env.lab.installs[n]!);
      pids[n] = [p.sender, p.receiver, p.supervise];
    }
    const read = (n: NodeName): number[] | null => {
      const v = pids[n].map(cpuNs);
      return v.some((x) => x === null) ? null : (v as number[]);
    };
    const a = { lb1: read('lb1'), lb2: read('lb2') };
    const t0 = performance.now();
    while (performance.now() - t0 < o.idleSeconds * 1000 && !meta.aborted())
      await sleep(Math.min(1000, o.idleSeconds * 1000 - (performance.now() - t0)));
    const wallMs = performance.now() - t0;
    const b = { lb1: read('lb1'), lb2: read('lb2') };
    if (pair.obs.holders().join() !== 'lb1')
      notes.push(`idle ${variant} #${rep}: holders [${pair.obs.holders().join(',')}] at the end, expected [lb1]`);
    if (a.lb1 === null || a.lb2 === null || b.lb1 === null || b.lb2 === null) {
      notes.push(`idle ${variant} #${rep}: a daemon went away during the window`);
      return null;
    }
    const pctOf = (n: NodeName, i: number): number => ((b[n]![i]! - a[n]![i]!) / 1e6 / wallMs) * 100;
    const names = ['sender', 'receiver', 'supervise'];
    const daemonPct = (n: NodeName): Record<string, number> =>
      Object.fromEntries(names.map((d, i) => [d, pctOf(n, i)]));
    const pct = (n: NodeName): number => names.reduce((acc, _d, i) => acc + pctOf(n, i), 0);
    const w: AuthIdleWindow = {
      variant,
      rep,
      seconds: Math.round(wallMs / 1000),
      cpuPct: { lb1: pct('lb1'), lb2: pct('lb2') },
      daemonPct: { lb1: daemonPct('lb1'), lb2: daemonPct('lb2') },
    };
    const per = (n: NodeName): string => names.map((d) => `${d} ${w.daemonPct[n][d]!.toFixed(3)}`).join(', ');
    say(
      `  idle ${variant.padEnd(5)} #${rep}: lb1 (Active) ${w.cpuPct.lb1.toFixed(3)} % (${per('lb1')}), lb2 (Standby) ${w.cpuPct.lb2.toFixed(3)} % (${per('lb2')}) over ${w.seconds} s`,
    );
    return w;
  } catch (e) {
    notes.push(`idle ${variant} #${rep}: ${errText(e)}`);
    say(`  idle ${variant} #${rep} FAILED: ${errText(e)}`);
    return null;
  } finally {
    await pair.teardown();
    notes.push(...pair.notes.map((x) => `idle ${variant} #${rep}: ${x}`));
  }
}

/** CPU µs per call of fn over `n` calls (after a warm-up of n/10). */
function usPer(n: number, fn: (i: number) => void): number {
  for (let i = 0; i < n / 10; i++) fn(i);
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn(i);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

export function codecCost(frames = 50_000): AuthCodecCost {
  const peer = '198.18.0.11';
  const ring = new KeyRing('bench', [{ id: 1, key: generateKey() }]);
  const plainTx = createHeartbeatCodec();
  const plainRx = createHeartbeatCodec();
  const keyTx = createHeartbeatCodec({
    auth: { keys: ring, localNode: 1, peerNode: 2, mode: 'enforce' },
    generation: 7,
  });
  const keyRx = createHeartbeatCodec({
    auth: { keys: ring, localNode: 2, peerNode: 1, mode: 'enforce' },
    onPeerState: () => {},
  });
  const words = ['ONLINE', 'OFFLINE'] as const;
  const total = frames + frames / 10;
  const plainMsgs: Buffer[] = [];
  let sink = 0;
  const plainEncodeUs = usPer(frames, (i) => {
    plainMsgs[i] = plainTx.encode(words[i & 1]!);
  });
  const keyEncodeUs = usPer(frames, (i) => {
    sink += keyTx.encode(words[i & 1]!).length;
  });
  if (!sink) throw new Error('codec benchmark: no frames');
  // The receiver takes only frames newer than the last: accept a fresh run of frames in sequence order (warm-up included).
  const keyOrdered = [...Array(total)].map((_, i) => keyTx.encode(words[i & 1]!));
  let bad = 0;
  const plainAcceptUs = usPer(frames, (i) => {
    if (!plainRx.accept(plainMsgs[i % plainMsgs.length]!, peer, [peer]).ok) bad++;
  });
  let k = 0;
  const keyAcceptUs = usPer(frames, () => {
    if (!keyRx.accept(keyOrdered[k++]!, peer, [peer]).ok) bad++;
  });
  if (bad) throw new Error(`codec benchmark: ${bad} datagrams were refused`);
  const extraCpuPct: Record<string, number> = {};
  for (const hb of [200, 50]) {
    const perS = 1000 / hb;
    extraCpuPct[`HEARTBEAT_INT=${hb}`] =
      (((keyEncodeUs - plainEncodeUs + (keyAcceptUs - plainAcceptUs)) * perS) / 1e6) * 100;
  }
  return { frames, plainEncodeUs, plainAcceptUs, keyEncodeUs, keyAcceptUs, extraCpuPct };
}

function wakeChild(
  env: BenchEnv,
  mode: 'plain' | 'key',
  seconds: number,
): Promise<{ wakes: number; cpuUsPerWake: number }> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'auth-wake.js');
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [script, mode, '200', String(seconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
    env.lab.adopt(c);
    let out = '';
    let err = '';
    c.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    c.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    c.once('exit', (code) => {
      try {
        resolve(JSON.parse(out) as { wakes: number; cpuUsPerWake: number });
      } catch {
        reject(new Error(`auth-wake ${mode} exited ${code}: ${err.trim()}`));
      }
    });
  });
}

export async function runAuthBench(env: BenchEnv, o: BenchOptions, meta: RunMeta): Promise<AuthBench> {
  const res: AuthBench = {
    runId: meta.runId,
    at: meta.at,
    hostDeath: null,
    idle: [],
    idleSummary: null,
    codec: null,
    notes: [],
  };
  const key = generateKey();

  say('\n== heartbeat key (AUTHKEY): the codec alone, CPU per datagram');
  try {
    const c = codecCost();
    res.codec = c;
    say(
      `  plain word: encode ${c.plainEncodeUs.toFixed(2)} µs, accept ${c.plainAcceptUs.toFixed(2)} µs; frame: sign ${c.keyEncodeUs.toFixed(2)} µs, verify+accept ${c.keyAcceptUs.toFixed(2)} µs (${c.frames} each)`,
    );
    say(
      `  the key's extra CPU per node: ${Object.entries(c.extraCpuPct)
        .map(([k, v]) => `${k}: ${v.toFixed(4)} %`)
        .join(', ')}`,
    );
  } catch (e) {
    res.notes.push(`codec: ${errText(e)}`);
  }
  if (res.codec && !meta.aborted()) {
    const seconds = Math.max(10, Math.min(60, o.idleSeconds));
    say(`  the same woken every 200 ms like a daemon (plain and key side by side, ${seconds} s):`);
    try {
      const [p, k] = await Promise.all([wakeChild(env, 'plain', seconds), wakeChild(env, 'key', seconds)]);
      const extra = (((k.cpuUsPerWake - p.cpuUsPerWake) * 5) / 1e6) * 100;
      res.codec.wake = { seconds, plainUsPerWake: p.cpuUsPerWake, keyUsPerWake: k.cpuUsPerWake, extraCpuPct: extra };
      say(
        `  plain ${p.cpuUsPerWake.toFixed(1)} µs per wake, key ${k.cpuUsPerWake.toFixed(1)} µs per wake: the key's extra CPU per node at HEARTBEAT_INT=200: ${extra.toFixed(4)} %`,
      );
    } catch (e) {
      res.notes.push(`codec wake: ${errText(e)}`);
    }
  }

  // Host death, interleaved.
  const specFor = (variant: 'plain' | 'key') => ({
    ...phaRowSpec(HOST_DEATH, variant === 'key' ? KEYED_PROFILE : PHA_PROFILES.default, o),
    profile: variant === 'key' ? 'default+AUTHKEY' : 'default (same run)',
    settings: `HEARTBEAT_INT=200 DEADTIME=1000 SUPERVISE_INT=2000${variant === 'key' ? ' AUTHKEY (enforce)' : ''}`,
  });
  say(`\n== host death with and without AUTHKEY (default profile), ${o.trials} trials each, interleaved`);
  const [plain, keyed] = await interleavedHostDeath(env, o, meta, [
    { make: (i) => makePair(env, 'plain', `auth-host-death-plain-${i}`, key), spec: specFor('plain') },
    { make: (i) => makePair(env, 'key', `auth-host-death-key-${i}`, key), spec: specFor('key') },
  ]);
  res.hostDeath = { plain, key: keyed };

  // Idle CPU, interleaved windows.
  const reps = o.quick ? 3 : 5;
  say(
    `\n== idle CPU of a node's three daemons with and without AUTHKEY: ${reps} windows of ${o.idleSeconds} s each, interleaved (CPU ns from /proc/<pid>/schedstat)`,
  );
  for (let r = 1; r <= reps && !meta.aborted(); r++) {
    for (const v of order(r, ['plain', 'key'] as const)) {
      if (meta.aborted()) break;
      const w = await idleWindow(env, v, r, o, key, meta, res.notes);
      if (w) res.idle.push(w);
    }
  }
  const sum = (v: 'plain' | 'key', n: NodeName): Summary =>
    summarize(res.idle.filter((w) => w.variant === v).map((w) => w.cpuPct[n]));
  res.idleSummary = {
    plain: { lb1: sum('plain', 'lb1'), lb2: sum('plain', 'lb2') },
    key: { lb1: sum('key', 'lb1'), lb2: sum('key', 'lb2') },
  };
  const p = res.idleSummary;
  const f3 = (x: number | null): string => (x === null ? '—' : x.toFixed(3));
  const d3 = (a: number | null, b: number | null): string =>
    a === null || b === null ? '—' : `${b - a >= 0 ? '+' : ''}${(b - a).toFixed(3)}`;
  say(
    `\nAUTH host death → VIP on lb2, median (max): without key ${fmtMs(res.hostDeath.plain.toVip.median)} (${fmtMs(res.hostDeath.plain.toVip.max)}) ms, ` +
      `with key ${fmtMs(res.hostDeath.key.toVip.median)} (${fmtMs(res.hostDeath.key.toVip.max)}) ms [${res.hostDeath.plain.ok}/${res.hostDeath.plain.trials} and ${res.hostDeath.key.ok}/${res.hostDeath.key.trials} ok]`,
  );
  for (const n of NODES) {
    const per = ['sender', 'receiver', 'supervise']
      .map((d) => {
        const m = (v: 'plain' | 'key'): number | null =>
          summarize(res.idle.filter((w) => w.variant === v).map((w) => w.daemonPct[n][d])).median;
        return `${d} ${f3(m('plain'))} → ${f3(m('key'))}`;
      })
      .join(', ');
    say(`AUTH idle CPU ${n} per daemon, medians without → with key: ${per}`);
    say(
      `AUTH idle CPU ${n} (${n === 'lb1' ? 'Active' : 'Standby'}), median (min–max) of ${p.plain[n].n} / ${p.key[n].n} windows: without key ${f3(p.plain[n].median)} % (${f3(p.plain[n].min)}–${f3(p.plain[n].max)}), ` +
        `with key ${f3(p.key[n].median)} % (${f3(p.key[n].min)}–${f3(p.key[n].max)}), difference of medians ${d3(p.plain[n].median, p.key[n].median)} points`,
    );
  }
  return res;
}
