// The world's time: the event queue, virtual time, the trace, and delivery
// into a process (queued while it is frozen, dropped once it died).
import { type Timing, timingOf } from '../../src/config/timing.js';
import type { DecideFn } from '../../src/supervise/core.js';
import {
  type Fn,
  LATENCIES,
  type Latencies,
  type Proc,
  type Profile,
  Queue,
  type SimNode,
  WALL0,
  type WorldHooks,
  type WorldOptions,
} from './model.js';
import { Prng } from './prng.js';

export abstract class SimClock {
  t = 0;

  readonly q = new Queue();

  readonly nodes: [SimNode, SimNode];

  readonly rng: Prng;
  /** The notify hooks' own draws: modelling them shifts no other random number of a seed. */
  readonly hookRng: Prng;

  readonly p: Profile;

  readonly lat: Latencies;

  readonly fresh: number;

  /** The daemons' derived intervals (the same timingOf() they use). */
  readonly timing: Timing;

  readonly trace: string[] | null;

  hooks: WorldHooks = {};

  steps = 0;

  /** Script calls that hung (scriptHang): how often the fault met a start or stop. */
  hangs = 0;

  protected tokens = 0;

  protected readonly decide: [DecideFn | undefined, DecideFn | undefined];

  protected readonly resources: string[];

  constructor(readonly o: WorldOptions) {
    this.rng = new Prng(o.seed).fork(7);
    this.hookRng = new Prng(o.seed).fork(11);
    this.p = o.profile;
    this.lat = o.lat ?? LATENCIES;
    this.timing = timingOf({ ...this.p, resources: o.resources });
    this.fresh = this.timing.busFreshMs;
    this.trace = o.trace ? [] : null;
    this.decide = o.decide ?? [undefined, undefined];
    this.resources = o.resources;
    const mk = (id: 1 | 2): SimNode => ({
      id,
      name: `n${id}`,
      file: {},
      fileState: 'ok',
      unwritable: false,
      res: new Map(o.resources.map((r) => [r, false])),
      gwUp: true,
      startFails: false,
      checkHangs: false,
      scriptsHang: false,
      procs: {},
      down: new Set(),
      restarting: new Set(),
      noStartUntil: {},
      restartFails: {},
      incarnation: 0,
      generation: 0,
      peerState: null,
      notifySeq: 0,
      pub: new Map(),
      hist: { sender: [], receiver: [], supervise: [] },
      scripts: new Set(),
      fencedAt: -Infinity,
    });
    this.nodes = [mk(1), mk(2)];
  }

  get wall(): number {
    return WALL0 + this.t;
  }

  log(node: SimNode | null, who: string, msg: string): void {
    if (this.trace)
      this.trace.push(`${(this.t / 1000).toFixed(3).padStart(8)} ${node ? node.name : '--'} ${who.padEnd(9)} ${msg}`);
  }

  at(t: number, fn: Fn): void {
    this.q.push(Math.max(t, this.t), fn);
  }

  /** Run until virtual time `until` (ms). */
  run(until: number): void {
    while (this.q.peek() <= until) {
      const e = this.q.pop()!;
      this.t = e.at;
      e.fn();
      this.steps++;
      this.hooks.step?.();
    }
    this.t = until;
  }

  protected lat2(r: [number, number]): number {
    return this.rng.between(r[0], r[1]);
  }

  // ---- process plumbing -------------------------------------------------
  /** Run `fn` in `proc` now, or when it thaws; never after it died. */
  protected deliver(proc: Proc, fn: Fn): void {
    if (!proc.alive) return;
    if (proc.frozen) proc.queued.push(fn);
    else fn();
  }

  protected later(proc: Proc, delay: number, fn: Fn): void {
    this.at(this.t + delay, () => this.deliver(proc, fn));
  }

  protected clock(proc: Proc) {
    return { mono: this.t + proc.monoOffset, wall: this.wall };
  }
}
