/**
 * `npm run demo`: a real two-node pha pair on this machine, a failover and a
 * manual switchover, with a live view and the measured times.
 *
 *   node dist/tools/demo/main.js [--step] [--keep] [--loopback] [--install-tools]
 *
 *   --step           wait for Enter between the steps
 *   --keep           after the walk-through keep the pair running (live view) until Ctrl-C
 *   --loopback       use the loopback pair even where the namespace lab would work
 *   --install-tools  as root, apt-get install what the lab misses (iproute2, iputils-ping, iputils-arping)
 *
 * As root (where network namespaces can be made) it builds the lab (tools/lab),
 * otherwise a loopback pair; when the lab's tools are missing it says which
 * packages and the command that installs them (planLab). pha is only ever driven through pha-cli, as an
 * operator would. Ctrl-C at any moment removes everything the demo made.
 */
import { spawn } from 'node:child_process';
import { sleep, waitFor } from '../../src/wait.js';
import { labSupport, missingLabTools, planLab } from '../lab/index.js';
import {
  type Backend,
  CLI_PATH,
  type CliResult,
  type HolderChange,
  IDX,
  type Idx,
  LabBackend,
  LoopbackBackend,
  other,
  PROBE_MS,
} from './backend.js';
import { Panel } from './panel.js';

interface Options {
  step: boolean;
  keep: boolean;
  loopback: boolean;
  installTools: boolean;
}

const USAGE = `usage: npm run demo [-- --step] [-- --keep] [-- --loopback] [-- --install-tools]
  --step           wait for Enter between the steps
  --keep           keep the pair running after the walk-through, until Ctrl-C
  --loopback       use the loopback pair (no namespaces) even as root
  --install-tools  as root: install what the namespace lab misses with apt-get, then run it`;

function parseArgs(argv: string[]): Options {
  const o: Options = { step: false, keep: false, loopback: false, installTools: false };
  for (const a of argv) {
    if (a === '--step') o.step = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--loopback') o.loopback = true;
    else if (a === '--install-tools') o.installTools = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else {
      process.stderr.write(`demo: unknown option ${a}\n${USAGE}\n`);
      process.exit(2);
    }
  }
  return o;
}

const fmt = (ms: number | null | undefined): string =>
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

interface Row {
  what: string;
  value: string;
  note: string;
}

class Demo {
  backend!: Backend;
  panel!: Panel;
  readonly t0 = Date.now();
  readonly rows: Row[] = [];
  aborting = false;
  private cleaned = false;
  private cleaning: Promise<void> | null = null;
  /** labSupport() makes and removes a probe namespace: let it finish before exiting. */
  probing: Promise<{ ok: boolean; reason?: string }> | null = null;
  /** What would give the real lab (missing packages), repeated after the walk-through. */
  labAdvice: string[] = [];

  constructor(readonly opts: Options) {}

  say(s = ''): void {
    if (this.panel) this.panel.say(s);
    else process.stdout.write(`${s}\n`);
  }

  name(i: Idx): string {
    return this.backend.names[i];
  }

  /** Show what pha-cli printed, indented, as the operator would see it. */
  showCli(prompt: string, r: CliResult): void {
    this.say(`    $ ${prompt}    (exit ${r.code}, ${Math.round(r.ms)} ms)`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
    const text = (r.stdout + (r.stderr ? r.stderr : '')).replace(/\x1b\[[0-9;]*[a-zA-Z]/g, '').trimEnd();
    for (const l of text.split('\n').filter((x) => x.trim() !== '')) this.say(`    │ ${l}`);
  }

  /** --step: Enter presses not yet used, and whether stdin has ended. */
  private enters = 0;
  private stdinEnded = false;
  private onEnter: (() => void) | null = null;

  listenForEnter(): void {
    const stdin = process.stdin;
    stdin.on('data', (d: Buffer) => {
      for (const ch of d.toString()) if (ch === '\n') this.enters++;
      this.onEnter?.();
    });
    stdin.on('end', () => {
      this.stdinEnded = true;
      this.onEnter?.();
    });
    stdin.on('error', () => {
      this.stdinEnded = true;
      this.onEnter?.();
    });
    stdin.resume();
  }

  stopListening(): void {
    process.stdin.pause();
    process.stdin.removeAllListeners('data');
    if (!process.stdin.isTTY) process.stdin.destroy();
  }

  async pause(next: string): Promise<void> {
    if (!this.opts.step) return;
    this.say(`  [--step] press Enter for: ${next}`);
    while (this.enters === 0 && !this.stdinEnded) {
      await new Promise<void>((resolve) => {
        this.onEnter = resolve;
      });
      this.onEnter = null;
    }
    if (this.enters > 0) this.enters--;
    else this.say('  (stdin ended: going on without waiting)');
  }

  row(what: string, ms: number | null, note = ''): void {
    this.rows.push({ what, value: fmt(ms), note });
  }

  holds(i: Idx): boolean {
    const h = this.backend.holders();
    return h.length === 1 && h[0] === i;
  }

  statusOf(i: Idx) {
    return this.backend.readStatus(i);
  }

  isStandbyHearingActive(i: Idx): boolean {
    const s = this.statusOf(i);
    return s?.STATUS === 'OFFLINE' && s.RECEIVER_IN === 'ONLINE' && this.backend.daemonsAlive(i) === 3;
  }

  /** First successful probe answered by `who` that began after t. */
  firstAnswer(who: string, after: number): number | null {
    let t: number | null = null;
    for (const p of this.backend.probes)
      if (p.ok && p.who === who && p.started >= after && (t === null || p.t < t)) t = p.t;
    return t;
  }

  /** Time the client had no answer around a move: last answer from `from` before the first from `to`. */
  clientOutage(from: string, to: string, after: number): { outage: number | null; firstNew: number | null } {
    const ps = this.backend.probes;
    let firstNew: number | null = null;
    for (const p of ps)
      if (p.ok && p.who === to && p.started >= after && (firstNew === null || p.t < firstNew)) firstNew = p.t;
    if (firstNew === null) return { outage: null, firstNew: null };
    let lastOld: number | null = null;
    for (const p of ps)
      if (p.ok && p.who === from && p.t <= firstNew && (lastOld === null || p.t > lastOld)) lastOld = p.t;
    return { outage: lastOld === null ? null : firstNew - lastOld, firstNew };
  }

  // ------------------------------------------------------------- steps

  async coldStart(): Promise<void> {
    const b = this.backend;
    const [a, z] = [0, 1] as const;
    this.say('');
    this.say(`━━ Step 1 — cold start ━━`);
    this.say(`  The operator starts pha on ${this.name(a)} through the shell, the way the init script does it:`);
    const tStart = Date.now();
    const r = await b.cli(a, { stdin: 'start\nq\n' });
    this.showCli(`printf 'start\\nq\\n' | pha-cli        # on ${this.name(a)}`, r);
    if (r.code !== 0) throw new Error(`pha-cli start on ${this.name(a)} failed (exit ${r.code})`);
    this.say(`  ${this.name(a)} hears nobody. It gives a peer one DEADTIME (1 s) to speak, then starts ${b.what}.`);
    if (!(await waitFor(() => this.holds(a), 15_000)))
      throw new Error(`${this.name(a)} did not take ${b.what} within 15 s`);
    const tHeld = b.changes.find((c) => c.t >= tStart && c.holders.join() === String(a))!.t;
    this.say(`  → ${this.name(a)} is Active and holds ${b.what}, ${fmt(tHeld - tStart)} after 'start'.`);
    this.row(
      `cold start: 'start' on ${this.name(a)} → it holds ${b.mode === 'lab' ? 'the VIP' : 'the resource'}`,
      tHeld - tStart,
      'pha-cli start itself + 1 DEADTIME grace + script',
    );
    if (b.hasClient) {
      const ok = await waitFor(() => this.firstAnswer(this.name(a), tStart) !== null, 5000);
      const tc = this.firstAnswer(this.name(a), tStart);
      this.say(
        ok
          ? `  → the client reaches the VIP: ${this.name(a)} answers (${fmt(tc! - tStart)} after 'start').`
          : '  → the client does not reach the VIP yet (!)',
      );
    }
    await sleep(800);
    this.say(`  Now ${this.name(z)} joins with a one-shot command:`);
    const tJoin = Date.now();
    const r2 = await b.cli(z, ['start']);
    this.showCli(`pha-cli start        # on ${this.name(z)}`, r2);
    if (r2.code !== 0) throw new Error(`pha-cli start on ${this.name(z)} failed (exit ${r2.code})`);
    if (!(await waitFor(() => this.isStandbyHearingActive(z), 15_000)))
      throw new Error(`${this.name(z)} did not come up Standby within 15 s`);
    const tStandby = Date.now();
    await sleep(1500);
    const moved = b.changes.filter((c) => c.t > tJoin).length;
    this.say(
      `  → ${this.name(z)} hears ${this.name(a)} ONLINE and comes up Standby (${fmt(tStandby - tJoin)} after 'start', seen by polling status.dat).`,
    );
    this.say(
      `    ${b.what} ${moved === 0 ? `stayed on ${this.name(a)}: a joining node does not steal it` : `MOVED ${moved} time(s) during the join (!)`}.`,
    );
    this.row(
      `cold start: 'start' on ${this.name(z)} → Standby`,
      tStandby - tJoin,
      moved === 0
        ? `no ${b.mode === 'lab' ? 'VIP' : 'resource'} move on join`
        : `${b.mode === 'lab' ? 'VIP' : 'resource'} moved ${moved}× (!)`,
    );
    await sleep(1000);
  }

  async failover(): Promise<void> {
    const b = this.backend;
    const holder = b.holders()[0] ?? 0;
    const dead = holder as Idx;
    const surv = other(dead);
    this.say('');
    this.say(`━━ Step 2 — failover: host death of the Active node ${this.name(dead)} ━━`);
    if (b.mode === 'lab')
      this.say(`  ${this.name(dead)}'s cable is pulled at the switch and every process on it is killed (SIGKILL).`);
    else this.say(`  ${this.name(dead)}'s three daemons are killed (SIGKILL) and its resource file removed.`);
    const t0 = await b.hostDeath(dead);
    this.say(`  ${this.name(surv)} stops hearing heartbeats; after DEADTIME (1 s) of silence it takes over.`);
    if (!(await waitFor(() => this.holds(surv), 20_000)))
      throw new Error(`${this.name(surv)} did not take over within 20 s`);
    const tVip = b.changes.find((c) => c.t >= t0 && c.holders.join() === String(surv))!.t;
    let client: { outage: number | null; firstNew: number | null } = { outage: null, firstNew: null };
    if (b.hasClient) {
      await waitFor(() => this.firstAnswer(this.name(surv), t0) !== null, 10_000);
      client = this.clientOutage(this.name(dead), this.name(surv), t0);
    }
    await sleep(300);
    // Timeline from what was observed.
    const s = this.statusOf(surv);
    const lastHb = b.sniffing ? (b.heard[surv] && b.heard[surv]!.t < tVip ? b.heard[surv]!.t : null) : null;
    this.say(`  Timeline (0 = the host died):`);
    if (lastHb !== null)
      this.say(
        `    ${fmt(lastHb - t0).padStart(9)}  last heartbeat from ${this.name(dead)} seen arriving at ${this.name(surv)} (on the wire)`,
      );
    if (s?.RECEIVER_IN_SINCE && s.RECEIVER_IN_SINCE > t0 && s.RECEIVER_IN_SINCE <= tVip + 100) {
      this.say(
        `    ${fmt(s.RECEIVER_IN_SINCE - t0).padStart(9)}  ${this.name(surv)}'s receiver: ${this.name(dead)} is silent (RECEIVER_IN → null)`,
      );
    }
    this.say(`    ${fmt(tVip - t0).padStart(9)}  ${b.what} is on ${this.name(surv)}`);
    if (b.hasClient) {
      this.say(
        `    ${fmt(client.firstNew !== null ? client.firstNew - t0 : null).padStart(9)}  the client gets its first answer from ${this.name(surv)} (asking every ${PROBE_MS} ms)`,
      );
    }
    this.say(
      `  → failover took ${fmt(tVip - t0)}${b.hasClient ? `; the client was without an answer for ${fmt(client.outage)}` : ''}.`,
    );
    this.row(
      `host death of ${this.name(dead)} → ${this.name(surv)} holds ${b.mode === 'lab' ? 'the VIP' : 'the resource'}`,
      tVip - t0,
      'target ≤ 1200 ms (median)',
    );
    if (b.hasClient) {
      this.row(
        `host death: client answered by ${this.name(surv)}`,
        client.firstNew !== null ? client.firstNew - t0 : null,
        `after the death; ±${PROBE_MS} ms`,
      );
      this.row(
        'host death: client without an answer',
        client.outage,
        `last answer from ${this.name(dead)} → first from ${this.name(surv)}`,
      );
    }
    await sleep(1200);
    await this.pause(`revive ${this.name(dead)}`);

    this.say('');
    this.say(
      `  ${this.name(dead)} comes back (as after a reboot${b.mode === 'lab' ? ': link up, no VIP' : ''}); pha is not running there yet.`,
    );
    await b.hostRevive(dead);
    await sleep(500);
    this.say(
      `  The operator starts pha on ${this.name(dead)} again (its pid files are stale: the daemons were killed):`,
    );
    const tJoin = Date.now();
    const r = await b.cli(dead, ['start']);
    this.showCli(`pha-cli start        # on ${this.name(dead)}`, r);
    // Settled: the rejoined node runs, both hear each other, one holder.
    const settled = () => {
      const s1 = this.statusOf(dead);
      const s2 = this.statusOf(surv);
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
    if (!(await waitFor(settled, 15_000)))
      throw new Error(`${this.name(dead)} did not settle within 15 s after 'start'`);
    const tSettled = Date.now();
    await sleep(2000);
    const moves = b.changes.filter((c) => c.t > tJoin);
    const st = holderStats(b.changes, tJoin, Date.now());
    if (moves.length === 0 && this.isStandbyHearingActive(dead)) {
      const thing = b.mode === 'lab' ? 'VIP' : 'resource';
      this.say(
        `  → ${this.name(dead)} joined as Standby (${fmt(tSettled - tJoin)} after 'start'); ${b.what} stays on ${this.name(surv)}: no failback.`,
      );
      this.row(`${this.name(dead)} back: 'start' → Standby`, tSettled - tJoin, `no failback, no ${thing} move`);
    } else {
      const path = moves
        .map(
          (c) => `${c.holders.map((h) => this.name(h as Idx)).join('+') || 'nobody'} at +${Math.round(c.t - tJoin)} ms`,
        )
        .join(', ');
      this.say(
        `  (!) ${b.what} MOVED while ${this.name(dead)} joined: ${path || 'no move, but the node is not Standby'}`,
      );
      this.say(
        `      gap ${fmt(st.gap)}, overlap ${fmt(st.overlap)}. A joining node should come up Standby (SPEC fix 11): this is a pha bug.`,
      );
      if (b.mode === 'lab')
        this.say(`      (Run with PHA_LAB_KEEP=1 to keep the install dirs and their logs, var/log.*, for a look.)`);
      this.row(
        `${this.name(dead)} back: 'start' → settled`,
        tSettled - tJoin,
        `${b.mode === 'lab' ? 'VIP' : 'resource'} moved ${moves.length}× (!), gap ${fmt(st.gap)}: pha bug`,
      );
    }
  }

  async switchover(): Promise<void> {
    const b = this.backend;
    const from = (b.holders()[0] ?? 1) as Idx;
    const to = other(from);
    this.say('');
    this.say(`━━ Step 3 — manual switchover: 'off' on the Active node ${this.name(from)} ━━`);
    this.say(
      `  ${this.name(from)} stops ${b.what} (sending PROGRESS), sends OFFLINE at once (the release), then pauses`,
    );
    this.say(`  its heartbeat for 30 s. ${this.name(to)} sees ONLINE → OFFLINE and takes over at once.`);
    const tOff = Date.now();
    const r = await b.cli(from, ['off']);
    this.showCli(`pha-cli off        # on ${this.name(from)}`, r);
    if (r.code !== 0) throw new Error(`pha-cli off on ${this.name(from)} failed (exit ${r.code})`);
    if (!(await waitFor(() => this.holds(to), 10_000)))
      throw new Error(`${this.name(to)} did not take over within 10 s`);
    const tTaken = b.changes.find((c) => c.t >= tOff && c.holders.join() === String(to))!.t;
    let client: { outage: number | null; firstNew: number | null } = { outage: null, firstNew: null };
    if (b.hasClient) {
      await waitFor(() => this.firstAnswer(this.name(to), tOff) !== null, 5000);
      client = this.clientOutage(this.name(from), this.name(to), tOff);
    }
    await sleep(1500);
    const tEnd = Date.now();
    const st = holderStats(b.changes, tOff, tEnd);
    const firstLeave = b.changes.find((c) => c.t >= tOff && !c.holders.includes(from));
    const src =
      b.mode === 'lab'
        ? "the lab's VIP watcher (ip monitor address, event-stamped)"
        : 'sampling the resource files every 5 ms';
    this.say(`  Measured with ${src}:`);
    this.say(
      `    'off' issued → ${b.what} released by ${this.name(from)}: ${fmt(firstLeave ? firstLeave.t - tOff : null)}`,
    );
    this.say(`    'off' issued → ${b.what} on ${this.name(to)}:          ${fmt(tTaken - tOff)}`);
    this.say(`    gap (nobody holds it):   ${fmt(st.gap)}`);
    this.say(
      `    overlap (both hold it):  ${fmt(st.overlap)}  ${st.overlap === 0 ? '✓ never two holders' : '✗ TWO HOLDERS (!)'}`,
    );
    this.say(
      `    holder changes: ${st.transitions} ${st.transitions <= 2 ? '(release, take-over: no flapping)' : '(!)'}`,
    );
    if (b.hasClient) this.say(`    the client was without an answer for ${fmt(client.outage)}`);
    this.say(
      `  ${this.name(from)} stays Standby; its heartbeat is paused for 30 s (OFF_PAUSE), so ${this.name(to)} hears nothing`,
    );
    this.say(`  from it meanwhile and keeps ${b.what}. No automatic failback afterwards ('on' ends the pause early).`);
    this.row(
      `off on ${this.name(from)} → ${this.name(to)} holds ${b.mode === 'lab' ? 'the VIP' : 'the resource'}`,
      tTaken - tOff,
      'includes pha-cli start-up and the stop script',
    );
    this.row('off: gap (no holder)', st.gap, 'target ≤ 100 ms (median)');
    this.row('off: overlap (two holders)', st.overlap, st.overlap === 0 ? 'must be 0 ✓' : 'must be 0 ✗');
    if (b.hasClient) this.row('off: client without an answer', client.outage, `±${PROBE_MS} ms`);
    await sleep(1000);
  }

  summary(): void {
    const b = this.backend;
    this.say('');
    this.say(
      `━━ Summary (${b.mode === 'lab' ? 'network-namespace lab' : 'loopback pair'}, default timing: HEARTBEAT_INT=200 DEADTIME=1000 SUPERVISE_INT=2000) ━━`,
    );
    const w1 = Math.max(...this.rows.map((r) => r.what.length), 10);
    const w2 = Math.max(...this.rows.map((r) => r.value.length), 8);
    this.say(`  ${'measured'.padEnd(w1)}  ${'this run'.padStart(w2)}  note`);
    this.say(`  ${'─'.repeat(w1)}  ${'─'.repeat(w2)}  ${'─'.repeat(30)}`);
    for (const r of this.rows) this.say(`  ${r.what.padEnd(w1)}  ${r.value.padStart(w2)}  ${r.note}`);
    if (b.sniffing)
      this.say(
        "  Heartbeat age in the live view: now − arrival of the peer's last heartbeat, seen on the wire by a raw-socket sniffer.",
      );
    else this.say(`  Heartbeat age in the live view is estimated from status.dat (${b.sniffNote || 'no sniffer'}).`);
  }

  async stopBoth(): Promise<void> {
    const b = this.backend;
    this.say('');
    this.say('━━ Step 4 — stop pha on both nodes ━━');
    const order = IDX.slice().sort((x, y) => Number(b.holders().includes(x)) - Number(b.holders().includes(y)));
    for (const i of order) {
      const r = await b.cli(i, ['stop']);
      this.showCli(`pha-cli stop        # on ${this.name(i)}`, r);
    }
    this.say(`  (pha warns that 'stop' leaves ${b.what} up: a real node would now run 'res stop' or use 'off' first.)`);
  }

  // --------------------------------------------------------- lifecycle

  async run(): Promise<void> {
    this.say('pha demo — a two-node pair on this machine, a failover and a manual switchover, measured.');
    this.probing = this.opts.loopback
      ? Promise.resolve({ ok: false, reason: 'forced with --loopback' })
      : this.prepareLab();
    const support = await this.probing;
    if (this.aborting) return;
    const loopback = async (why: string): Promise<void> => {
      const lb = new LoopbackBackend();
      lb.whyNote = why;
      this.backend = lb;
      for (const l of lb.describe()) this.say(l);
      if (this.opts.loopback) {
        /* asked for */
      } else if (this.labAdvice.length > 0) for (const l of this.labAdvice) this.say(`  ${l.trim()}`);
      else
        this.say(
          '  (run as root on Linux, where network namespaces work, to see the real lab: a floating IP, a gateway, a client)',
        );
      this.say('  Ctrl-C at any moment removes everything the demo made.');
      this.say('');
      lb.onProblem = (m) => this.say(`  (!) ${m}`);
      await lb.setup((l) => this.say(`  ${l}`));
    };
    if (support.ok) {
      const lab = new LabBackend();
      this.backend = lab;
      for (const l of lab.describe()) this.say(l);
      this.say('  Ctrl-C at any moment removes everything the demo made.');
      this.say('');
      lab.onProblem = (m) => this.say(`  (!) ${m}`);
      try {
        await lab.setup((l) => this.say(`  ${l}`));
      } catch (e) {
        if (this.aborting) return;
        this.say(`  The lab could not be built: ${(e as Error).message}`);
        await lab.destroy().catch(() => {});
        this.say('  Falling back to the loopback pair.');
        this.say('');
        await loopback(`the network-namespace lab could not be built here`);
      }
    } else {
      await loopback(
        this.opts.loopback
          ? 'forced with --loopback'
          : `the network-namespace lab is not available here: ${support.reason}`,
      );
    }
    if (this.aborting) return;
    if (!this.backend.sniffing && this.backend.sniffNote) this.say(`  heartbeat sniffer: ${this.backend.sniffNote}`);
    this.say(
      '  Live view: per node its state (STATUS), "hears <peer>: <RECEIVER_IN> for <now − RECEIVER_IN_SINCE>", the heartbeat',
    );
    this.say(
      this.backend.sniffing
        ? "  age (now − arrival of the peer's last heartbeat at that node, seen on the wire by a raw socket) and its last decision (REASON)."
        : "  age (estimated: < DEADTIME while the peer's word is there, ≈ now − RECEIVER_IN_SINCE + DEADTIME once it went null) and REASON.",
    );
    this.say(
      '  (status.dat keeps no "last heard" time: RECEIVER_AT is only the receiver\'s own liveness stamp, every 0.5 s.)',
    );
    if (this.opts.step) this.listenForEnter();
    this.panel = new Panel(this.backend, this.t0, !!process.stdout.isTTY);
    this.panel.start();
    await this.pause('step 1, cold start');
    await this.coldStart();
    await this.pause('step 2, failover');
    await this.failover();
    await this.pause('step 3, manual switchover');
    await this.switchover();
    this.summary();
    if (this.opts.keep) {
      this.say('');
      this.say('--keep: the pair keeps running; try pha-cli yourself:');
      for (const i of IDX) {
        const ns =
          this.backend.mode === 'lab'
            ? `ip netns exec ${(this.backend as LabBackend).lab!.prefix}${this.name(i)} `
            : '';
        this.say(`  ${ns}env PHA_CONFIG=${this.backend.files(i).config} node ${CLI_PATH}        # ${this.name(i)}`);
      }
      this.say('Ctrl-C ends the demo and removes everything.');
      await new Promise(() => {});
    }
    await this.pause('step 4, stop and clean up');
    if (this.opts.step) this.stopListening();
    await this.stopBoth();
    this.panel.stop();
    await this.cleanup();
    this.say(
      `Done in ${((Date.now() - this.t0) / 1000).toFixed(1)} s; ${this.backend.mode === 'lab' ? 'lab destroyed' : 'daemons stopped, temp dir removed'}: nothing left behind.`,
    );
    if (this.backend.mode !== 'lab') for (const l of this.labAdvice) this.say(l);
  }

  /** The lab's tools (installed with --install-tools when asked and allowed), then the namespace probe. */
  async prepareLab(): Promise<{ ok: boolean; reason?: string }> {
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    const missing = await missingLabTools();
    const plan = planLab({
      platform: process.platform,
      root,
      missing,
      installTools: this.opts.installTools,
      apt: missing.length > 0 && (await hasCommand('apt-get')),
    });
    if (plan.action === 'loopback') {
      this.labAdvice = plan.say; // said with the loopback pair's description, and again at the end
      return { ok: false, reason: plan.reason };
    }
    for (const l of plan.say) this.say(l);
    if (plan.action === 'install') {
      for (const argv of plan.commands) {
        if (this.aborting) return { ok: false, reason: 'aborted' };
        this.say(`  $ ${argv.join(' ')}`);
        const code = await runInherited(argv);
        if (code !== 0) return { ok: false, reason: `${argv.join(' ')} exited ${code}` };
      }
      const still = await missingLabTools();
      if (still.length > 0)
        return {
          ok: false,
          reason: `still missing after apt-get: ${still.map((m) => `${m.tool} (${m.why})`).join(', ')}`,
        };
      this.say('  installed; building the lab.');
    }
    return labSupport();
  }

  cleanup(): Promise<void> {
    if (!this.cleaning) {
      this.cleaning = (async () => {
        try {
          await this.probing?.catch(() => null);
          await this.backend?.destroy();
        } finally {
          this.cleaned = true;
        }
      })();
    }
    return this.cleaning;
  }

  cleanupSync(): void {
    this.panel?.restoreTerminal();
    if (this.cleaned || !this.backend) return;
    try {
      this.backend.destroySync();
    } catch {
      /* best effort on the way out */
    }
    this.cleaned = true;
  }

  onSignal(sig: NodeJS.Signals): void {
    const code = sig === 'SIGINT' ? 130 : sig === 'SIGTERM' ? 143 : 129;
    if (this.aborting) return; // a second Ctrl-C (or npm forwarding it): the cleanup already runs
    this.aborting = true;
    this.panel?.stop();
    this.panel?.restoreTerminal();
    process.stdout.write(`\n${sig === 'SIGINT' ? 'Ctrl-C' : sig}: stopping the demo, removing everything it made …\n`);
    const hard = setTimeout(() => {
      this.cleanupSync();
      process.exit(code);
    }, 20_000);
    this.cleanup().then(
      () => {
        clearTimeout(hard);
        process.stdout.write(
          `cleaned up: ${this.backend?.mode === 'lab' ? 'lab destroyed (namespaces, pha daemons, install dirs)' : 'pha daemons killed, temp dir removed'}.\n`,
        );
        process.exit(code);
      },
      (e) => {
        process.stdout.write(`cleanup problem: ${(e as Error).message}\n`);
        this.cleanupSync();
        process.exit(code);
      },
    );
  }
}

/** Runs a command with the terminal (apt-get's progress is the operator's to see). */
function runInherited(argv: string[]): Promise<number> {
  return new Promise((resolve) => {
    const c = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    c.on('error', () => resolve(127));
    c.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

function hasCommand(name: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = spawn('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    c.on('error', () => resolve(false));
    c.on('exit', (code) => resolve(code === 0));
  });
}

async function main(): Promise<void> {
  const demo = new Demo(parseArgs(process.argv.slice(2)));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as NodeJS.Signals[]) process.on(sig, () => demo.onSignal(sig));
  process.on('exit', () => demo.cleanupSync());
  try {
    await demo.run();
  } catch (e) {
    if (demo.aborting) {
      await new Promise(() => {}); // the signal handler finishes and exits
    }
    demo.panel?.stop();
    process.stdout.write(`\ndemo failed: ${(e as Error).stack ?? String(e)}\n`);
    await demo.cleanup().catch(() => {});
    process.exitCode = 1;
  }
}

void main();
