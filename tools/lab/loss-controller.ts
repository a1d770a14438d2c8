/**
 * Random loss on a switch port, the way netem would do it (there is no netem
 * here): every slot of `slotMs` it draws whether the port drops, and only when
 * that changes it tells tc to redirect the port's traffic into a dead veth
 * (clsact + u32 + mirred) or to stop. Runs as its own process (the lab spawns
 * `node loss-controller.js` in the host namespace), settings in env
 * PHALAB_LOSS. Prints "ready" once tc runs; ends (filters removed, stats
 * printed as one JSON line) when its stdin closes — so also when the test
 * process dies — or on SIGTERM.
 */
import { spawn } from 'node:child_process';

export interface LossSettings {
  ns: string; // the switch's namespace
  port: string; // the port whose traffic drops
  dead: string; // the veth it is redirected into
  p: number; // the share of slots that drop
  slotMs: number;
}

export interface LossStats {
  p: number;
  slotMs: number;
  /** Slots drawn, and how many of them dropped. */
  slots: number;
  dropSlots: number;
  /** Slots that started more than one slot late (a loaded machine stretches slots). */
  lateSlots: number;
  /** tc errors seen by the controller. */
  tcErrors: number;
  /** Share of the time the filters were in place (what a packet saw). */
  dropTimeShare: number;
}

function main(cfg: LossSettings): void {
  const tc = spawn('tc', ['-n', cfg.ns, '-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let tcErrors = 0;
  tc.stderr.on('data', (d: Buffer) => {
    tcErrors++;
    process.stderr.write(d);
  });
  tc.stdin.on('error', () => {});
  const dirs = ['ingress', 'egress'];
  const on = dirs
    .map(
      (d) =>
        `filter add dev ${cfg.port} ${d} pref 1 protocol all u32 match u32 0 0 action mirred egress redirect dev ${cfg.dead}\n`,
    )
    .join('');
  const off = dirs.map((d) => `filter del dev ${cfg.port} ${d} pref 1\n`).join('');
  let dropping = false;
  let slots = 0;
  let dropSlots = 0;
  let lateSlots = 0;
  let dropMs = 0;
  let since = performance.now();
  let stopped = false;
  const t0 = performance.now();
  let n = 0;
  let timer: NodeJS.Timeout | undefined;
  const set = (drop: boolean) => {
    const now = performance.now();
    if (dropping) dropMs += now - since;
    since = now;
    if (drop !== dropping) tc.stdin.write(drop ? on : off);
    dropping = drop;
  };
  const tick = () => {
    if (stopped) return;
    const drop = Math.random() < cfg.p;
    slots++;
    if (drop) dropSlots++;
    set(drop);
    n++;
    let wait = t0 + n * cfg.slotMs - performance.now();
    if (wait < -cfg.slotMs) {
      // Late by more than a slot (a loaded machine): skip ahead, and count it.
      lateSlots++;
      n = Math.ceil((performance.now() - t0) / cfg.slotMs);
      wait = t0 + n * cfg.slotMs - performance.now();
    }
    timer = setTimeout(tick, Math.max(0, wait));
  };
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    set(false);
    const total = performance.now() - t0;
    tc.stdin.end();
    const stats: LossStats = {
      p: cfg.p,
      slotMs: cfg.slotMs,
      slots,
      dropSlots,
      lateSlots,
      tcErrors,
      dropTimeShare: total > 0 ? dropMs / total : 0,
    };
    const done = () => process.stdout.write(`${JSON.stringify(stats)}\n`, () => process.exit(0));
    tc.once('exit', done);
    setTimeout(done, 2000);
  };
  process.stdin.on('data', () => {});
  process.stdin.on('end', stop);
  process.on('SIGTERM', stop);
  tc.once('spawn', () => {
    process.stdout.write('ready\n');
    tick();
  });
  tc.once('error', (e) => {
    process.stderr.write(`${String(e)}\n`);
    process.exit(1);
  });
}

main(JSON.parse(process.env.PHALAB_LOSS ?? '{}') as LossSettings);
