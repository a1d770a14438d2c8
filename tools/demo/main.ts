/**
 * `npm run demo`: a real two-node pha pair on this machine, a failover, a
 * manual switchover and (in the lab) a heartbeat cut with the LAN intact,
 * with a live view and the measured times.
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
import { labSupport, missingLabTools, planLab } from '../lab/index.js';
import { type Backend, CLI_PATH, type CliResult, IDX, type Idx, LabBackend, LoopbackBackend } from './backend.js';
import { Panel } from './panel.js';
import {
  coldStart,
  type Demo as DemoSteps,
  failover,
  fmt,
  heartbeatCut,
  stopBoth,
  switchover,
  witnessCut,
} from './scenes.js';
import { type Row, Told } from './told.js';

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

class Demo implements DemoSteps {
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

  private probesOf(family: 4 | 6) {
    return family === 6 ? this.backend.probes6 : this.backend.probes;
  }

  /** First successful probe answered by `who` that began after t. */
  firstAnswer(who: string, after: number, family: 4 | 6 = 4): number | null {
    let t: number | null = null;
    for (const p of this.probesOf(family))
      if (p.ok && p.who === who && p.started >= after && (t === null || p.t < t)) t = p.t;
    return t;
  }

  /** Time the client had no answer around a move: last answer from `from` before the first from `to`. */
  clientOutage(
    from: string,
    to: string,
    after: number,
    family: 4 | 6 = 4,
  ): { outage: number | null; firstNew: number | null } {
    const ps = this.probesOf(family);
    let firstNew: number | null = null;
    for (const p of ps)
      if (p.ok && p.who === to && p.started >= after && (firstNew === null || p.t < firstNew)) firstNew = p.t;
    if (firstNew === null) return { outage: null, firstNew: null };
    let lastOld: number | null = null;
    for (const p of ps)
      if (p.ok && p.who === from && p.t <= firstNew && (lastOld === null || p.t > lastOld)) lastOld = p.t;
    return { outage: lastOld === null ? null : firstNew - lastOld, firstNew };
  }

  private readonly told = new Told(this);
  showNotify(): void {
    this.told.notify();
  }

  // --------------------------------------------------------- lifecycle

  async run(): Promise<void> {
    this.say(
      'pha demo — a two-node pair on this machine: a failover, a manual switchover and (in the lab) a heartbeat cut, measured.',
    );
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
    await coldStart(this);
    this.showNotify();
    await this.pause('step 2, failover');
    await failover(this);
    this.showNotify();
    await this.pause('step 3, manual switchover');
    await switchover(this);
    this.showNotify();
    if (this.backend.mode === 'lab') {
      await this.pause('step 4, the heartbeat cut');
      await heartbeatCut(this);
      this.showNotify();
      await this.pause('step 5, the same cut with a witness');
      await witnessCut(this);
      this.showNotify();
    }
    this.told.summary();
    await this.told.metrics();
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
    await this.pause(`step ${this.backend.mode === 'lab' ? 6 : 4}, stop and clean up`);
    if (this.opts.step) this.stopListening();
    await stopBoth(this);
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
