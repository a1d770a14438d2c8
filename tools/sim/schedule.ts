// Fault schedules from a seed. Every schedule starts both nodes at once, each
// daemon after its own random delay of 0-1500 ms (issue 10); the families add
// faults on top: 'both-start' none, 'partitions' partitions and heals,
// 'mixed' everything the simulator can do.
import { Prng } from './prng.js';
import type { DaemonName } from './world.js';

export type FaultKind =
  | 'partition' // both directions blocked for dur
  | 'oneway' // node's outgoing datagrams lost for dur
  | 'lossy' // random loss p (both ways) for dur
  | 'hbCut' // the heartbeat dropped both ways (a firewall on UDP PORT), the LAN intact (ARP, the probes) for dur
  | 'jitter' // extra delay 0..p ms (duplicates 5 %; datagrams overtake each other only in the 'reorder' family) for dur
  | 'crash' // kill -9 one daemon (its watchers restart it)
  | 'crashStuck' // kill -9 one daemon, and its restarts fail for dur (a broken install, a full disk)
  | 'freeze' // SIGSTOP one daemon for dur
  | 'freezeNode' // the whole node paused (a VM) for dur
  | 'gwDown' // node's gateway unreachable for dur
  | 'resFail' // node's resources vanish (a removed VIP)
  | 'startFails' // node's start scripts fail for dur
  | 'checkHang' // node's checks hang (until CHECK_TIMEOUT) for dur
  | 'scriptHang' // node's start and stop scripts hang for dur: each call begun in it is killed at RES_TIMEOUT (p, s) and failed
  | 'corrupt'
  | 'truncate'
  | 'delete' // status.dat damaged on node
  | 'unwritable' // var/ read-only on node for dur
  | 'off' // pha-cli off on node (the CLI refuses unless it is Active)
  | 'on' // pha-cli on
  | 'resStart' // pha-cli res start (an operator's mistake on a Standby)
  | 'resStop' // pha-cli res stop
  | 'restartNode' // pha-cli stop + res stop, then start again after dur (daemons 0-1500 ms apart)
  | 'hostDeath' // the node is gone (daemons and resources), for good (measurements only)
  | 'witnessDown' // the witness (etcd) down for dur: unreachable from both nodes
  | 'witnessCut'; // the witness unreachable from node for dur (it still answers the other)

export interface Fault {
  at: number; // ms
  kind: FaultKind;
  node: 0 | 1;
  daemon?: DaemonName;
  dur: number; // ms (0: an instant)
  p?: number;
  delays?: number[]; // restartNode: per-daemon start delays
}

export type Family = 'both-start' | 'partitions' | 'mixed' | 'reorder' | 'hbcut';

export interface Schedule {
  seed: number;
  family: Family;
  profile: 'default' | 'fast';
  ms: number; // length of the run
  resources: string[];
  startDelays: [number[], number[]]; // per node: sender, receiver, supervise
  /** Left from an earlier run (pha-cli stop leaves the resources up): which nodes hold at t=0, with the old run's status file. */
  leftover: [boolean, boolean];
  faults: Fault[];
  /** WITNESS: an etcd witness with this lease TTL (s); null: none. */
  witness?: { ttlS: number } | null;
}

const DAEMONS: DaemonName[] = ['sender', 'receiver', 'supervise'];

const WEIGHTS: [FaultKind, number][] = [
  ['partition', 6],
  ['oneway', 4],
  ['lossy', 4],
  ['jitter', 3],
  ['crash', 8],
  ['freeze', 5],
  ['freezeNode', 3],
  ['gwDown', 5],
  ['resFail', 4],
  ['startFails', 2],
  ['checkHang', 2],
  ['corrupt', 2],
  ['truncate', 2],
  ['delete', 2],
  ['unwritable', 3],
  ['off', 5],
  ['on', 2],
  ['resStart', 1],
  ['resStop', 2],
  ['restartNode', 3],
];

/** Faults after which a start or a stop runs (a takeover, a release, a restart). */
const MOVERS = new Set<FaultKind>([
  'partition',
  'oneway',
  'crash',
  'freezeNode',
  'gwDown',
  'resFail',
  'off',
  'resStart',
  'resStop',
  'restartNode',
  'startFails',
]);

function pickKind(r: Prng): FaultKind {
  const total = WEIGHTS.reduce((a, [, w]) => a + w, 0);
  let x = r.next() * total;
  for (const [k, w] of WEIGHTS) {
    x -= w;
    if (x < 0) return k;
  }
  return 'crash';
}

export function makeFault(r: Prng, kind: FaultKind, at: number): Fault {
  const node = r.int(0, 1) as 0 | 1;
  switch (kind) {
    case 'partition':
      return { at, kind, node, dur: r.int(500, 20_000) };
    case 'oneway':
      return { at, kind, node, dur: r.int(500, 10_000) };
    case 'lossy':
      return { at, kind, node, dur: r.int(5_000, 60_000), p: r.pick([0.05, 0.1, 0.2]) };
    case 'jitter':
      return { at, kind, node, dur: r.int(5_000, 60_000), p: r.int(5, 60) };
    case 'crash':
      return { at, kind, node, daemon: r.pick(DAEMONS), dur: 0 };
    case 'freeze':
      return { at, kind, node, daemon: r.pick(DAEMONS), dur: r.int(100, 3_000) };
    case 'freezeNode':
      return { at, kind, node, dur: r.int(100, 3_000) };
    case 'gwDown':
      return { at, kind, node, dur: r.int(1_000, 20_000) };
    case 'startFails':
    case 'checkHang':
    case 'unwritable':
      return { at, kind, node, dur: r.int(1_000, 10_000) };
    case 'restartNode':
      return { at, kind, node, dur: r.int(1_000, 10_000), delays: DAEMONS.map(() => r.int(0, 1500)) };
    default:
      return { at, kind, node, dur: 0 };
  }
}

/**
 * A tenth of the seeds run the reorder family (a keyed pair), chosen by a
 * stream of their own so that the other families' schedules do not move;
 * the salt is one under which every seed recorded in docs/simulation.md and
 * the regression list keeps the schedule it was found with.
 */
const REORDER_SALT = 120;
function reordered(seed: number): boolean {
  return new Prng(seed).fork(REORDER_SALT).chance(0.1);
}
/** Another tenth run the hbcut family (the heartbeat path cut, the LAN intact), chosen the same way. */
const HBCUT_SALT = 146;
function hbcut(seed: number): boolean {
  return new Prng(seed).fork(HBCUT_SALT).chance(0.1);
}

/**
 * The witness (rule 13) for a share of the seeds (--witness P, default none),
 * chosen and drawn from a stream of its own: the schedules without it stay as
 * they were, and its faults are appended last (the others' --keep indices hold).
 */
const WITNESS_SALT = 13;
function withWitness(seed: number, ms: number, share: number, faults: Fault[]): Schedule['witness'] {
  const x = new Prng(seed).fork(WITNESS_SALT);
  if (!x.chance(share)) return null;
  const ttlS = x.pick([1, 2]);
  // The witness down, or cut from one node, 0-3 times; mostly near another fault (a partition, a death).
  const movers = faults.filter((f) => MOVERS.has(f.kind) || f.kind === 'hbCut');
  for (let i = 0, n = x.int(0, 3); i < n; i++) {
    const near = movers.length > 0 && x.chance(0.6) ? x.pick(movers) : null;
    const at = Math.max(3_000, near ? near.at - x.int(0, 5_000) : x.int(3_000, Math.max(3_001, ms - 10_000)));
    const dur = x.int(1_000, 30_000);
    if (x.chance(0.4)) faults.push({ at, kind: 'witnessDown', node: 0, dur });
    else faults.push({ at, kind: 'witnessCut', node: x.int(0, 1) as 0 | 1, dur });
  }
  return { ttlS };
}

export function generate(seed: number, minutes: number, family?: Family, witnessShare = 0): Schedule {
  const r = new Prng(seed).fork(1);
  const roll = r.next();
  const fam: Family =
    family ??
    (reordered(seed)
      ? 'reorder'
      : hbcut(seed)
        ? 'hbcut'
        : roll < 0.2
          ? 'both-start'
          : roll < 0.35
            ? 'partitions'
            : 'mixed');
  const profile = r.chance(0.5) ? 'default' : 'fast';
  const resources = r.chance(0.7) ? ['vip'] : ['vip', 'web'];
  const startDelays: [number[], number[]] = [DAEMONS.map(() => r.int(0, 1500)), DAEMONS.map(() => r.int(0, 1500))];
  const ms = Math.round(minutes * 60_000);
  // Sometimes an earlier run left the resources up on one node, or (after a
  // partition, then stop) on both.
  const lo = r.next();
  const leftover: [boolean, boolean] =
    lo < 0.6 ? [false, false] : lo < 0.75 ? [true, false] : lo < 0.9 ? [false, true] : [true, true];
  const faults: Fault[] = [];
  if (fam === 'reorder') {
    // A keyed pair on a network that reorders: the frames' sequence numbers
    // order the words (an old word that overtakes a new one is dropped).
    faults.push({ at: 0, kind: 'jitter', node: 0, dur: ms, p: r.int(5, 60) });
  } else if (fam === 'hbcut') {
    // A steady pair, then the heartbeat path cut (once or twice), the LAN intact: the probes see the other holder.
    let at = r.int(6000, 15000);
    for (let i = 0, n = r.int(1, 2); i < n && at < ms - 3000; i++) {
      const dur = r.int(3000, 20000);
      faults.push({ at, kind: 'hbCut', node: 0, dur });
      at += dur + r.int(4000, 12000);
    }
  } else if (fam === 'both-start') {
    // Only the start, sometimes on a jittery network (issue 10).
    if (r.chance(0.3)) faults.push({ at: 0, kind: 'jitter', node: 0, dur: ms, p: r.int(5, 60) });
  } else {
    const n =
      fam === 'partitions'
        ? Math.max(1, Math.round(minutes * r.int(1, 4)))
        : Math.max(1, Math.round(minutes * r.int(2, 8)));
    for (let i = 0; i < n; i++) {
      const at = r.int(5_000, Math.max(5_001, ms - 15_000));
      faults.push(
        makeFault(
          r,
          fam === 'partitions' ? r.pick(['partition', 'partition', 'oneway'] as FaultKind[]) : pickKind(r),
          at,
        ),
      );
    }
    faults.sort((a, b) => a.at - b.at);
    if (fam === 'mixed') {
      // A daemon that stays dead for seconds (rules 9 and 11 at work, not the
      // watchdog). Drawn from its own stream and appended last, so that the
      // faults above (and the regression seeds' --keep indices) stay as they were.
      const x = new Prng(seed).fork(2);
      if (x.chance(0.3))
        faults.push({
          at: x.int(5_000, Math.max(5_001, ms - 15_000)),
          kind: 'crashStuck',
          node: x.int(0, 1) as 0 | 1,
          daemon: x.pick(DAEMONS),
          dur: x.int(2_000, 20_000),
        });
      // Start and stop scripts that hang until RES_TIMEOUT (a hung NFS mount, a
      // service that never answers systemctl). Its own stream, appended last,
      // for the same reason; the fault carries the run's RES_TIMEOUT (p, in s).
      const y = new Prng(seed).fork(3);
      // Scripts run only when something changes: mostly it begins just before another fault.
      if (y.chance(0.2)) {
        const movers = faults.filter((f) => MOVERS.has(f.kind));
        const mover = movers.length > 0 && y.chance(0.8) ? y.pick(movers) : null;
        const at = mover ? mover.at - y.int(0, 1_000) : y.int(5_000, Math.max(5_001, ms - 15_000));
        const node = (mover && y.chance(0.5) ? mover.node : y.int(0, 1)) as 0 | 1;
        faults.push({
          at: Math.max(5_000, at),
          kind: 'scriptHang',
          node,
          dur: y.int(1_000, 20_000),
          p: y.pick([2, 5, 10, 30]),
        });
        // Half the time its supervise is killed while such a script may run
        // (killed -9, or dead for seconds: its sender fences): an orphan that
        // var/run/scripts must see killed. Its own stream, appended last.
        const z = new Prng(seed).fork(4);
        const hang = faults[faults.length - 1]!;
        if (z.chance(0.5)) {
          const stuck = z.chance(0.5);
          faults.push({
            at: hang.at + z.int(50, 1_500),
            kind: stuck ? 'crashStuck' : 'crash',
            node: hang.node,
            daemon: 'supervise',
            dur: stuck ? z.int(2_000, 20_000) : 0,
          });
        }
      }
    }
  }
  const witness = witnessShare > 0 ? withWitness(seed, ms, witnessShare, faults) : null;
  return { seed, family: fam, profile, ms, resources, startDelays, leftover, faults, witness };
}

export function describeFault(f: Fault): string {
  const who = `n${f.node + 1}${f.daemon ? ` ${f.daemon}` : ''}`;
  const extra = f.p !== undefined ? ` p=${f.p}` : '';
  return `${(f.at / 1000).toFixed(3)}s ${f.kind} ${who}${f.dur ? ` for ${f.dur} ms` : ''}${extra}`;
}
