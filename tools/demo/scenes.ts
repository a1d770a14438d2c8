// The demo's steps, each as an operator would walk through it: a cold start,
// a failover (host death), a switchover (`off`), in the lab a heartbeat cut
// with the LAN intact, and the stop.

import type { Status } from '../../src/status-store/index.js';
import { sleep, waitFor } from '../../src/wait.js';
import { VIP6 } from '../lab/index.js';
import { type Backend, type CliResult, type HolderChange, IDX, type Idx, other, PROBE_MS } from './backend.js';

/** What a step needs of the demo: the pair, the panel's lines, the measured rows. */
export interface Demo {
  backend: Backend;
  say(s?: string): void;
  name(i: Idx): string;
  showCli(prompt: string, r: CliResult): void;
  pause(next: string): Promise<void>;
  row(what: string, ms: number | null, note?: string): void;
  holds(i: Idx): boolean;
  statusOf(i: Idx): Status | null;
  isStandbyHearingActive(i: Idx): boolean;
  /** The client's first answer from `who` asked after `after` (family 6: the IPv6 VIP). */
  firstAnswer(who: string, after: number, family?: 4 | 6): number | null;
  clientOutage(
    from: string,
    to: string,
    after: number,
    family?: 4 | 6,
  ): { outage: number | null; firstNew: number | null };
  showNotify(): void;
}

export const fmt = (ms: number | null | undefined): string =>
  ms === null || ms === undefined || !Number.isFinite(ms) ? 'n/a' : `${Math.round(ms)} ms`;

/** Gap (no holder), overlap (two holders) and changes of the effective holders within [from, to]. */
function holderStats(changes: readonly HolderChange[], from: number, to: number) {
  let gap = 0;
  let overlap = 0;
  let transitions = 0;
  let before: number[] = [];
  for (const c of changes) if (c.t <= from) before = c.holders;
  let cur = before;
  let t = from;
  const within = changes.filter((c) => c.t > from && c.t <= to);
  for (const c of within) {
    if (cur.length === 0) gap += c.t - t;
    if (cur.length === 2) overlap += c.t - t;
    transitions++;
    cur = c.holders;
    t = c.t;
  }
  if (cur.length === 0) gap += to - t;
  if (cur.length === 2) overlap += to - t;
  return { gap, overlap, transitions };
}

/** The IPv6 VIP's move as the client saw it (the lab only): a line and the rows. */
async function ipv6Client(d: Demo, from: Idx, to: Idx, t0: number, what: string): Promise<void> {
  if (d.backend.probes6.length === 0) return;
  await waitFor(() => d.firstAnswer(d.name(to), t0, 6) !== null, 5000);
  const c = d.clientOutage(d.name(from), d.name(to), t0, 6);
  d.say(
    `  IPv6: the client reaches [${VIP6}] on ${d.name(to)} ${fmt(c.firstNew === null ? null : c.firstNew - t0)} after the ${what} (without an answer for ${fmt(c.outage)}): res/vip6 announced the move with unsolicited neighbour advertisements.`,
  );
  d.row(`${what}: IPv6 client answered by ${d.name(to)}`, c.firstNew === null ? null : c.firstNew - t0);
  d.row(`${what}: IPv6 client without an answer`, c.outage, `±${PROBE_MS} ms`);
}

export async function coldStart(d: Demo): Promise<void> {
  const b = d.backend;
  const [a, z] = [0, 1] as const;
  d.say('');
  d.say(`━━ Step 1 — cold start ━━`);
  d.say(`  The operator starts pha on ${d.name(a)} through the shell, the way the init script does it:`);
  const tStart = Date.now();
  const r = await b.cli(a, { stdin: 'start\nq\n' });
  d.showCli(`printf 'start\\nq\\n' | pha-cli        # on ${d.name(a)}`, r);
  if (r.code !== 0) throw new Error(`pha-cli start on ${d.name(a)} failed (exit ${r.code})`);
  d.say(`  ${d.name(a)} hears nobody. It gives a peer one DEADTIME (1 s) to speak, then starts ${b.what}.`);
  if (!(await waitFor(() => d.holds(a), 15_000))) throw new Error(`${d.name(a)} did not take ${b.what} within 15 s`);
  const tHeld = b.changes.find((c) => c.t >= tStart && c.holders.join() === String(a))!.t;
  d.say(`  → ${d.name(a)} is Active and holds ${b.what}, ${fmt(tHeld - tStart)} after 'start'.`);
  d.row(
    `cold start: 'start' on ${d.name(a)} → it holds ${b.mode === 'lab' ? 'the VIP' : 'the resource'}`,
    tHeld - tStart,
    'pha-cli start itself + 1 DEADTIME grace + script',
  );
  if (b.hasClient) {
    const ok = await waitFor(() => d.firstAnswer(d.name(a), tStart) !== null, 5000);
    const tc = d.firstAnswer(d.name(a), tStart);
    d.say(
      ok
        ? `  → the client reaches the VIP: ${d.name(a)} answers (${fmt(tc! - tStart)} after 'start').`
        : '  → the client does not reach the VIP yet (!)',
    );
  }
  await sleep(800);
  d.say(`  Now ${d.name(z)} joins with a one-shot command:`);
  const tJoin = Date.now();
  const r2 = await b.cli(z, ['start']);
  d.showCli(`pha-cli start        # on ${d.name(z)}`, r2);
  if (r2.code !== 0) throw new Error(`pha-cli start on ${d.name(z)} failed (exit ${r2.code})`);
  if (!(await waitFor(() => d.isStandbyHearingActive(z), 15_000)))
    throw new Error(`${d.name(z)} did not come up Standby within 15 s`);
  const tStandby = Date.now();
  await sleep(1500);
  const moved = b.changes.filter((c) => c.t > tJoin).length;
  d.say(
    `  → ${d.name(z)} hears ${d.name(a)} ONLINE and comes up Standby (${fmt(tStandby - tJoin)} after 'start', seen by polling status.dat).`,
  );
  d.say(
    `    ${b.what} ${moved === 0 ? `stayed on ${d.name(a)}: a joining node does not steal it` : `MOVED ${moved} time(s) during the join (!)`}.`,
  );
  // (the lab's pair runs with AUTHKEY: the config announcement needs it)
  const configKnown = () => d.statusOf(z)?.RECEIVER_PEER_CONFIG !== 'unknown';
  if (b.mode === 'lab') await waitFor(configKnown, 7000); // the announcement: every second at first, then every 5 s
  const peerConfig = b.mode === 'lab' ? d.statusOf(z)?.RECEIVER_PEER_CONFIG : undefined;
  if (peerConfig !== undefined)
    d.say(
      `    ${d.name(z)} compared ${d.name(a)}'s config announcement with its own: RECEIVER_PEER_CONFIG=${peerConfig}${peerConfig === 'same' ? ' (the same NODES, PORT, timing and resources)' : peerConfig === 'differs' ? ` (!) ${d.statusOf(z)?.RECEIVER_ALARM ?? ''}` : ' (none heard yet: it comes every few seconds)'}.`,
    );
  d.row(
    `cold start: 'start' on ${d.name(z)} → Standby`,
    tStandby - tJoin,
    moved === 0
      ? `no ${b.mode === 'lab' ? 'VIP' : 'resource'} move on join`
      : `${b.mode === 'lab' ? 'VIP' : 'resource'} moved ${moved}× (!)`,
  );
  await sleep(1000);
}

export async function failover(d: Demo): Promise<void> {
  const b = d.backend;
  const holder = b.holders()[0] ?? 0;
  const dead = holder as Idx;
  const surv = other(dead);
  d.say('');
  d.say(`━━ Step 2 — failover: host death of the Active node ${d.name(dead)} ━━`);
  if (b.mode === 'lab')
    d.say(`  ${d.name(dead)}'s cable is pulled at the switch and every process on it is killed (SIGKILL).`);
  else d.say(`  ${d.name(dead)}'s three daemons are killed (SIGKILL) and its resource file removed.`);
  const t0 = await b.hostDeath(dead);
  d.say(`  ${d.name(surv)} stops hearing heartbeats; after DEADTIME (1 s) of silence it takes over.`);
  if (!(await waitFor(() => d.holds(surv), 20_000))) throw new Error(`${d.name(surv)} did not take over within 20 s`);
  const tVip = b.changes.find((c) => c.t >= t0 && c.holders.join() === String(surv))!.t;
  let client: { outage: number | null; firstNew: number | null } = { outage: null, firstNew: null };
  if (b.hasClient) {
    await waitFor(() => d.firstAnswer(d.name(surv), t0) !== null, 10_000);
    client = d.clientOutage(d.name(dead), d.name(surv), t0);
  }
  await sleep(300);
  // Timeline from what was observed.
  const s = d.statusOf(surv);
  const lastHb = b.sniffing ? (b.heard[surv] && b.heard[surv]!.t < tVip ? b.heard[surv]!.t : null) : null;
  d.say(`  Timeline (0 = the host died):`);
  if (lastHb !== null)
    d.say(
      `    ${fmt(lastHb - t0).padStart(9)}  last heartbeat from ${d.name(dead)} seen arriving at ${d.name(surv)} (on the wire)`,
    );
  if (s?.RECEIVER_IN_SINCE && s.RECEIVER_IN_SINCE > t0 && s.RECEIVER_IN_SINCE <= tVip + 100) {
    d.say(
      `    ${fmt(s.RECEIVER_IN_SINCE - t0).padStart(9)}  ${d.name(surv)}'s receiver: ${d.name(dead)} is silent (RECEIVER_IN → null)`,
    );
  }
  d.say(`    ${fmt(tVip - t0).padStart(9)}  ${b.what} is on ${d.name(surv)}`);
  if (b.hasClient) {
    d.say(
      `    ${fmt(client.firstNew !== null ? client.firstNew - t0 : null).padStart(9)}  the client gets its first answer from ${d.name(surv)} (asking every ${PROBE_MS} ms)`,
    );
  }
  d.say(
    `  → failover took ${fmt(tVip - t0)}${b.hasClient ? `; the client was without an answer for ${fmt(client.outage)}` : ''}.`,
  );
  d.row(
    `host death of ${d.name(dead)} → ${d.name(surv)} holds ${b.mode === 'lab' ? 'the VIP' : 'the resource'}`,
    tVip - t0,
    'target ≤ 1200 ms (median)',
  );
  if (b.hasClient) {
    d.row(
      `host death: client answered by ${d.name(surv)}`,
      client.firstNew !== null ? client.firstNew - t0 : null,
      `after the death; ±${PROBE_MS} ms`,
    );
    d.row(
      'host death: client without an answer',
      client.outage,
      `last answer from ${d.name(dead)} → first from ${d.name(surv)}`,
    );
  }
  await ipv6Client(d, dead, surv, t0, 'host death');
  await sleep(1200);
  await d.pause(`revive ${d.name(dead)}`);

  d.say('');
  d.say(
    `  ${d.name(dead)} comes back (as after a reboot${b.mode === 'lab' ? ': link up, no VIP' : ''}); pha is not running there yet.`,
  );
  await b.hostRevive(dead);
  await sleep(500);
  d.say(`  The operator starts pha on ${d.name(dead)} again (its pid files are stale: the daemons were killed):`);
  const tJoin = Date.now();
  const r = await b.cli(dead, ['start']);
  d.showCli(`pha-cli start        # on ${d.name(dead)}`, r);
  // Settled: the rejoined node runs, both hear each other, one holder.
  const settled = () => {
    const s1 = d.statusOf(dead);
    const s2 = d.statusOf(surv);
    return (
      b.daemonsAlive(dead) === 3 &&
      b.holders().length === 1 &&
      (s1?.STATUS === 'OFFLINE' || s1?.STATUS === 'ONLINE') &&
      (s2?.STATUS === 'OFFLINE' || s2?.STATUS === 'ONLINE') &&
      !!s1.RECEIVER_IN &&
      !!s2.RECEIVER_IN &&
      s1.RECEIVER_IN !== 'PROGRESS' &&
      s2.RECEIVER_IN !== 'PROGRESS'
    );
  };
  if (!(await waitFor(settled, 15_000))) throw new Error(`${d.name(dead)} did not settle within 15 s after 'start'`);
  const tSettled = Date.now();
  await sleep(2000);
  const moves = b.changes.filter((c) => c.t > tJoin);
  const st = holderStats(b.changes, tJoin, Date.now());
  if (moves.length === 0 && d.isStandbyHearingActive(dead)) {
    const thing = b.mode === 'lab' ? 'VIP' : 'resource';
    d.say(
      `  → ${d.name(dead)} joined as Standby (${fmt(tSettled - tJoin)} after 'start'); ${b.what} stays on ${d.name(surv)}: no failback.`,
    );
    d.row(`${d.name(dead)} back: 'start' → Standby`, tSettled - tJoin, `no failback, no ${thing} move`);
  } else {
    const path = moves
      .map((c) => `${c.holders.map((h) => d.name(h as Idx)).join('+') || 'nobody'} at +${Math.round(c.t - tJoin)} ms`)
      .join(', ');
    d.say(`  (!) ${b.what} MOVED while ${d.name(dead)} joined: ${path || 'no move, but the node is not Standby'}`);
    d.say(
      `      gap ${fmt(st.gap)}, overlap ${fmt(st.overlap)}. A joining node should come up Standby (SPEC fix 11): this is a pha bug.`,
    );
    if (b.mode === 'lab')
      d.say(`      (Run with PHA_LAB_KEEP=1 to keep the install dirs and their logs, var/log.*, for a look.)`);
    d.row(
      `${d.name(dead)} back: 'start' → settled`,
      tSettled - tJoin,
      `${b.mode === 'lab' ? 'VIP' : 'resource'} moved ${moves.length}× (!), gap ${fmt(st.gap)}: pha bug`,
    );
  }
}

export async function switchover(d: Demo): Promise<void> {
  const b = d.backend;
  const from = (b.holders()[0] ?? 1) as Idx;
  const to = other(from);
  d.say('');
  d.say(`━━ Step 3 — manual switchover: 'off' on the Active node ${d.name(from)} ━━`);
  d.say(`  ${d.name(from)} stops ${b.what} (sending PROGRESS), sends OFFLINE at once (the release), then pauses`);
  d.say(`  its heartbeat for 30 s. ${d.name(to)} sees ONLINE → OFFLINE and takes over at once.`);
  const tOff = Date.now();
  const r = await b.cli(from, ['off']);
  d.showCli(`pha-cli off        # on ${d.name(from)}`, r);
  if (r.code !== 0) throw new Error(`pha-cli off on ${d.name(from)} failed (exit ${r.code})`);
  if (!(await waitFor(() => d.holds(to), 10_000))) throw new Error(`${d.name(to)} did not take over within 10 s`);
  const tTaken = b.changes.find((c) => c.t >= tOff && c.holders.join() === String(to))!.t;
  let client: { outage: number | null; firstNew: number | null } = { outage: null, firstNew: null };
  if (b.hasClient) {
    await waitFor(() => d.firstAnswer(d.name(to), tOff) !== null, 5000);
    client = d.clientOutage(d.name(from), d.name(to), tOff);
  }
  await sleep(1500);
  const tEnd = Date.now();
  const st = holderStats(b.changes, tOff, tEnd);
  const firstLeave = b.changes.find((c) => c.t >= tOff && !c.holders.includes(from));
  const src =
    b.mode === 'lab'
      ? "the lab's VIP watcher (ip monitor address, event-stamped)"
      : 'sampling the resource files every 5 ms';
  d.say(`  Measured with ${src}:`);
  d.say(`    'off' issued → ${b.what} released by ${d.name(from)}: ${fmt(firstLeave ? firstLeave.t - tOff : null)}`);
  d.say(`    'off' issued → ${b.what} on ${d.name(to)}:          ${fmt(tTaken - tOff)}`);
  d.say(`    gap (nobody holds it):   ${fmt(st.gap)}`);
  d.say(
    `    overlap (both hold it):  ${fmt(st.overlap)}  ${st.overlap === 0 ? '✓ never two holders' : '✗ TWO HOLDERS (!)'}`,
  );
  d.say(`    holder changes: ${st.transitions} ${st.transitions <= 2 ? '(release, take-over: no flapping)' : '(!)'}`);
  if (b.hasClient) d.say(`    the client was without an answer for ${fmt(client.outage)}`);
  d.say(
    `  ${d.name(from)} stays Standby; its heartbeat is paused for 30 s (OFF_PAUSE), so ${d.name(to)} hears nothing`,
  );
  d.say(`  from it meanwhile and keeps ${b.what}. No automatic failback afterwards ('on' ends the pause early).`);
  d.row(
    `off on ${d.name(from)} → ${d.name(to)} holds ${b.mode === 'lab' ? 'the VIP' : 'the resource'}`,
    tTaken - tOff,
    'includes pha-cli start-up and the stop script',
  );
  d.row('off: gap (no holder)', st.gap, 'target ≤ 100 ms (median)');
  d.row('off: overlap (two holders)', st.overlap, st.overlap === 0 ? 'must be 0 ✓' : 'must be 0 ✗');
  if (b.hasClient) d.row('off: client without an answer', client.outage, `±${PROBE_MS} ms`);
  await ipv6Client(d, from, to, tOff, 'off');
  await sleep(1000);
}

/**
 * Step 4 (the lab): the heartbeat cut on both paths while the LAN works. With
 * the default SPLIT_YIELD=0 the Standby takes over after DEADTIME and both
 * hold: the point is that the split brain is seen while it lasts (each
 * node's probe: SPLIT_BRAIN, the alarm), and that the heal ends it.
 */
export async function heartbeatCut(d: Demo): Promise<void> {
  const b = d.backend;
  if (b.mode !== 'lab') return;
  const holder = (b.holders()[0] ?? 1) as Idx;
  const standby = other(holder);
  d.say('');
  d.say('━━ Step 4 — the heartbeat cut, the LAN intact (a firewall between the nodes) ━━');
  d.say(`  First 'on' on ${d.name(standby)}: its heartbeat pause from 'off' ends, ${d.name(holder)} hears it again.`);
  const r = await b.cli(standby, ['on']);
  d.showCli(`pha-cli on        # on ${d.name(standby)}`, r);
  const hears = (i: Idx, word: string) => d.statusOf(i)?.RECEIVER_IN === word;
  if (!(await waitFor(() => hears(holder, 'OFFLINE') && hears(standby, 'ONLINE'), 15_000)))
    throw new Error(`${d.name(holder)} and ${d.name(standby)} did not hear each other within 15 s after 'on'`);
  await sleep(500);
  d.say(`  Now every heartbeat between them is dropped (blackhole routes both ways, on the LAN and on the heartbeat`);
  d.say(
    `  bridge), while the gateway, the client and ARP still reach both. ${d.name(standby)} hears silence, and after`,
  );
  d.say(`  DEADTIME it takes over: two holders. Each holder probes its resources on the LAN (an ARP probe from`);
  d.say(`  0.0.0.0; IPv6: a neighbour solicitation) and finds the other answering: the split brain is seen.`);
  const tCut = await b.heartbeatCut(true)!;
  const split = (i: Idx) => !!d.statusOf(i)?.SPLIT_BRAIN;
  const seen: [number | null, number | null] = [null, null];
  const twoAt = () => b.changes.find((c) => c.t >= tCut && c.holders.length === 2)?.t ?? null;
  const ok = await waitFor(() => {
    for (const i of IDX) if (seen[i] === null && split(i)) seen[i] = Date.now();
    return twoAt() !== null && seen.every((t) => t !== null);
  }, 15_000);
  if (!ok)
    d.say(
      `  (!) after 15 s: ${twoAt() === null ? 'no second holder' : 'two holders'}, SPLIT_BRAIN seen on ${
        IDX.filter((i) => seen[i] !== null)
          .map((i) => d.name(i))
          .join(', ') || 'neither node'
      }`,
    );
  const stat = await b.cli(holder, ['stat']);
  // (the key dump has SPLIT_BRAIN and SUPERVISE_ALARM too)
  d.showCli(`pha-cli stat        # on ${d.name(holder)}, while both hold (the key dump left out)`, {
    ...stat,
    stdout: statSummary(stat.stdout),
  });
  await sleep(1500);
  d.say(`  The firewall is fixed: the heartbeats pass again, and both ONLINE resolve to one holder (rule 5).`);
  const tHeal = await b.heartbeatCut(false)!;
  if (!(await waitFor(() => b.holders().length === 1 && IDX.every((i) => !split(i)), 15_000)))
    throw new Error(`no single holder without SPLIT_BRAIN within 15 s after the heal`);
  const tOne = b.changes.at(-1)!;
  await sleep(1000);
  const st = holderStats(b.changes, tCut, Date.now());
  const t2 = twoAt();
  d.say(`  Measured (0 = the cut):`);
  d.say(`    ${fmt(t2 === null ? null : t2 - tCut).padStart(9)}  ${d.name(standby)} holds too: two holders`);
  for (const i of IDX)
    d.say(
      `    ${fmt(seen[i] === null ? null : seen[i]! - tCut).padStart(9)}  ${d.name(i)}: SPLIT_BRAIN in status.dat, the alarm in 'stat' (probe answered by the other)`,
    );
  d.say(`    ${fmt(tHeal - tCut).padStart(9)}  the heal`);
  d.say(
    `    ${fmt(tOne.t - tCut).padStart(9)}  one holder again: ${d.name(tOne.holders[0] as Idx)} (${fmt(tOne.t - tHeal)} after the heal)`,
  );
  d.say(`  → two holders for ${fmt(st.overlap)}, seen on both nodes while it lasted.`);
  d.say(`  With SPLIT_YIELD=1 the second in NODES yields once the first has answered its probe for a DEADTIME:`);
  d.say(
    `  about a DEADTIME and a probe of two holders, then one for the rest of the cut (docs/decision-rules.md, rule 12).`,
  );
  d.row('heartbeat cut: second holder', t2 === null ? null : t2 - tCut, 'after the cut (DEADTIME of silence)');
  const firstSeen = Math.max(...IDX.map((i) => seen[i] ?? Number.NaN));
  d.row('heartbeat cut: split brain seen on both', Number.isNaN(firstSeen) ? null : firstSeen - tCut, 'after the cut');
  d.row('heartbeat cut: one holder after the heal', tOne.t - tHeal, `two holders ${fmt(st.overlap)} (SPLIT_YIELD=0)`);
}

/**
 * Step 5 (the lab, with etcd installed): the same cut with a witness. The
 * operator adds WITNESS and restarts the pair; the cut Standby asks etcd for
 * the lock, finds it the holder's and waits: no second holder at all.
 */
export async function witnessCut(d: Demo): Promise<void> {
  const b = d.backend;
  if (b.mode !== 'lab') return;
  d.say('');
  d.say('━━ Step 5 — the same cut with a witness (WITNESS: an etcd lock breaks the tie) ━━');
  const unavailable = b.witnessUnavailable();
  if (unavailable !== null) {
    d.say(`  (skipped: ${unavailable}; rule 13 in docs/decision-rules.md says what the witness does)`);
    return;
  }
  const holder = (b.holders()[0] ?? 0) as Idx;
  const standby = other(holder);
  d.say(`  The operator adds a witness: pha stops on both nodes (${d.name(holder)} stops its resources too),`);
  for (const i of [standby, holder]) {
    const r = await b.cli(i, ['stop']);
    d.showCli(`pha-cli stop        # on ${d.name(i)}`, r);
  }
  const rs = await b.cli(holder, ['res', 'stop']);
  d.showCli(`pha-cli res stop        # on ${d.name(holder)}`, rs);
  const url = await b.startWitness();
  d.say(`  etcd runs on a third host (here the client, 198.18.0.50); both configs get WITNESS=${url}`);
  d.say(`  and WITNESS_TTL=1 (the lease), and pha starts again, ${d.name(holder)} first:`);
  const key = (i: Idx) => d.statusOf(i)?.WITNESS;
  const tStart = Date.now();
  const r1 = await b.cli(holder, ['start']);
  d.showCli(`pha-cli start        # on ${d.name(holder)}`, r1);
  if (!(await waitFor(() => d.holds(holder) && key(holder) === 'held', 15_000)))
    throw new Error(`${d.name(holder)} did not take the lock and the VIP within 15 s: WITNESS=${key(holder)}`);
  const r2 = await b.cli(standby, ['start']);
  d.showCli(`pha-cli start        # on ${d.name(standby)}`, r2);
  if (!(await waitFor(() => d.isStandbyHearingActive(standby) && key(standby) === `other:${d.name(holder)}`, 15_000)))
    throw new Error(`${d.name(standby)} did not come up Standby within 15 s: WITNESS=${key(standby)}`);
  d.say(
    `  → ${d.name(holder)} holds the lock and the VIP (WITNESS=held), ${d.name(standby)} is Standby (WITNESS=${key(standby)}), ${fmt(Date.now() - tStart)} after the first start.`,
  );
  await sleep(1000);
  d.say(`  The heartbeat is cut as in step 4. ${d.name(standby)} hears silence; before it takes over it asks etcd`);
  d.say(`  for the lock, which ${d.name(holder)} keeps alive: it waits.`);
  const tCut = await b.heartbeatCut(true)!;
  const why = () => String(d.statusOf(standby)?.REASON ?? '');
  const waiting = await waitFor(() => /witness gives the lock to/.test(why()), 10_000);
  const tWaiting = Date.now();
  await sleep(2500);
  const st = holderStats(b.changes, tCut, Date.now());
  const stat = await b.cli(standby, ['stat']);
  d.showCli(`pha-cli stat        # on ${d.name(standby)}, the heartbeat cut (the key dump left out)`, {
    ...stat,
    stdout: statSummary(stat.stdout),
  });
  await b.heartbeatCut(false);
  if (!(await waitFor(() => d.isStandbyHearingActive(standby) && d.holds(holder), 15_000)))
    throw new Error(`the pair did not settle within 15 s after the heal`);
  await sleep(1500); // (the metrics below: a daemon's counters reach supervise once a second)
  d.say(
    `  → ${waiting ? `${d.name(standby)} said why it waits ${fmt(tWaiting - tCut)} after the cut` : `(!) ${d.name(standby)} never said it waits for the lock: ${why()}`}; two holders for ${fmt(st.overlap)}; ${st.transitions === 0 ? 'the VIP did not move, during the cut or after the heal' : `(!) ${st.transitions} holder change(s)`}.`,
  );
  d.say(`  The price (rule 13): with etcd unreachable too, a Standby takes nothing over, not even after a host death.`);
  d.row('witness: heartbeat cut, two holders', st.overlap, st.overlap === 0 ? 'the lock decides ✓' : '(!)');
  d.row('witness: cut → the Standby says it waits', waiting ? tWaiting - tCut : null, 'its REASON');
}

/** stat's summary lines, below its key dump (the dump has every status key). */
function statSummary(out: string): string {
  const lines = out.split('\n');
  let end = lines.length - 1;
  while (end >= 0 && lines[end]!.trim() !== '};') end--;
  return end >= 0 ? lines.slice(end + 1).join('\n') : out;
}

/** Step 6: stop pha on both nodes, the holder last; pha warns that the VIP stays up. */
export async function stopBoth(d: Demo): Promise<void> {
  const b = d.backend;
  d.say('');
  d.say(`━━ Step ${b.mode === 'lab' ? 6 : 4} — stop pha on both nodes ━━`);
  const order = IDX.slice().sort((x, y) => Number(b.holders().includes(x)) - Number(b.holders().includes(y)));
  for (const i of order) {
    const r = await b.cli(i, ['stop']);
    d.showCli(`pha-cli stop        # on ${d.name(i)}`, r);
  }
  d.say(`  (pha warns that 'stop' leaves ${b.what} up: a real node would now run 'res stop' or use 'off' first.)`);
}
