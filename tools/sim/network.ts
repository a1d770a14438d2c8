// The network between the nodes (loss, duplication, delay, reordering,
// partitions) and the resources on each node (their scripts' latency and faults).
import type { Word } from '../../src/heartbeat/word.js';
import { judge, toKill } from '../../src/resources/orphans.js';
import type { Hang, Proc, SimNode, SimScript } from './model.js';
import { SimStore } from './store.js';

export abstract class SimNetwork extends SimStore {
  /** link[from][to] blocked (partition, one-way loss). */
  readonly blocked: [[boolean, boolean], [boolean, boolean]] = [
    [false, false],
    [false, false],
  ];

  loss = 0;

  /** The heartbeat dropped both ways (a firewall on UDP PORT); everything else, ARP and the probes among it, passes. */
  hbBlocked = false;

  dup = 0;

  extraDelay = 0;

  /** Let datagrams overtake each other (no FIFO per direction): only a keyed pair's frames carry a sequence number. */
  reorder = false;

  protected readonly lastArrival: [number, number] = [0, 0];

  /** A heartbeat from `sender`: the word, or with a key the frame the real codec makes of it. */
  protected send(sender: Proc, word: Word): void {
    const from = sender.node;
    this.hooks.sent?.(from, word);
    const frame = sender.codec?.encode(word);
    const to = this.nodes[2 - from.id]!;
    if (this.blocked[from.id - 1]![to.id - 1] || this.hbBlocked) return;
    if (this.loss > 0 && this.rng.chance(this.loss)) {
      if (this.trace) this.log(from, 'net', `${word} to ${to.name} lost`);
      this.hooks.lost?.(from, word);
      return;
    }
    const copies = this.dup > 0 && this.rng.chance(this.dup) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let arrive = this.t + this.lat2(this.lat.netMs) + this.extraDelay * this.rng.next();
      // A link keeps its order unless reordering is on.
      if (!this.reorder) arrive = Math.max(arrive, this.lastArrival[from.id - 1]!);
      this.lastArrival[from.id - 1] = arrive;
      this.at(arrive, () => {
        const r = to.procs.receiver;
        if (r) this.deliver(r, () => this.receive(r, from, word, frame));
      });
    }
  }

  /** What the receiver makes of a datagram: a keyed one is judged by its codec (an older frame is dropped). */
  private receive(r: Proc, from: SimNode, word: Word, frame: Buffer | undefined): void {
    const run = r.receiver?.run;
    if (!run) return;
    if (!frame || !r.codec) {
      run.feed({ kind: 'word', word, ...this.clock(r) });
      return;
    }
    const addr = `198.18.0.1${from.id}`;
    const a = r.codec.accept(frame, addr, [addr]);
    // One path in the model: a copy (fresh false) cannot come; the receiver takes it as its shell would.
    if (a.ok) run.feed(a.fresh ? { kind: 'word', word: a.word, ...this.clock(r) } : { kind: 'copy', ...this.clock(r) });
    else {
      if (this.trace) this.log(r.node, 'net', `${word} from ${from.name} dropped: ${a.reason}`);
      run.feed({ kind: 'dropped', from: addr, bytes: frame.length, ...this.clock(r) });
    }
  }

  // ---- resources, network -----------------------------------------------
  protected setRes(node: SimNode, name: string, up: boolean): void {
    if (node.res.get(name) === up) return;
    node.res.set(name, up);
    this.log(node, 'res', `${name} ${up ? 'UP' : 'DOWN'}`);
    this.hooks.held?.(node);
  }

  /** A resource vanished by itself (a removed VIP, a crashed service). */
  resourceFails(node: SimNode, name: string): void {
    this.setRes(node, name, false);
  }

  /**
   * Start `names` in config order, like ResourceRunner.startInOrder in
   * `owner`'s process (null: pha-cli): the loop dies with its process, so a
   * dead owner starts nothing more; the script in flight runs on as an orphan
   * until a sweep kills it (killScripts).
   */
  startSome(
    node: SimNode,
    names: string[],
    done: (r: { name: string; ok: boolean }[]) => void,
    owner: Proc | null = null,
  ): void {
    const results: { name: string; ok: boolean }[] = [];
    const next = (i: number) => {
      if (i >= names.length) return done(results);
      if (owner && !owner.alive) return;
      const name = names[i]!;
      const hang = this.hang(node, 'start');
      const work = this.lat2(this.lat.startMs);
      const s = this.script(node, owner, 'start', name, hang, () => {
        results.push({ name, ok: false });
        done(results);
      });
      // Did its work (in the usual time, or seconds late), then hung: the resource is up from then on.
      if (hang === 'after' || hang === 'late')
        this.at(this.t + this.workAt(hang, work), () => s.live && this.scriptWork(node, s, true));
      this.at(this.t + (hang ? this.p.RES_TIMEOUT * 1000 : work), () => {
        if (!s.live) return;
        this.scriptEnded(node, s);
        if (hang) this.hooks.hung?.(node, 'start', 'killed', hang);
        const ok = !hang && !node.startFails;
        if (ok) this.scriptWork(node, s, true);
        results.push({ name, ok });
        // Like ResourceRunner.startInOrder: the first failure ends the sequence.
        if (ok) next(i + 1);
        else done(results);
      });
    };
    next(0);
  }

  private script(
    node: SimNode,
    owner: Proc | null,
    op: 'start' | 'stop',
    name: string,
    hang: Hang | null,
    onKill: () => void,
  ): SimScript {
    const s: SimScript = { owner, op, name, hang, live: true, onKill };
    node.scripts.add(s);
    return s;
  }

  private scriptEnded(node: SimNode, s: SimScript): void {
    s.live = false;
    node.scripts.delete(s);
  }

  private scriptWork(node: SimNode, s: SimScript, up: boolean): void {
    this.hooks.scriptWork?.(node, s);
    this.setRes(node, s.name, up);
  }

  /**
   * The sweep of var/run/scripts by `by` (src/resources/orphans.ts, the same
   * verdict and policy): a supervise at its start kills the scripts of dead
   * owners; the fencing sender (`foreign`) every script not its own.
   */
  protected killScripts(by: Proc, kill: { foreign: boolean }): void {
    if (this.o.orphansLive) return;
    const node = by.node;
    for (const s of [...node.scripts]) {
      if (!s.owner) continue; // pha-cli records none
      const o = s.owner;
      const r = {
        owner: o.name,
        ownerPid: o.pid,
        ownerStart: o.startedAt,
        pgid: 2,
        start: 0,
        resource: s.name,
        action: s.op,
        at: 0,
      };
      const v = judge(r, { leaderStart: 0, ownerStart: o.alive ? o.startedAt : null }, by.pid);
      if (!toKill(v, s.op, kill)) continue;
      this.scriptEnded(node, s);
      this.log(node, by.name, `killed res ${s.name} ${s.op} of ${o.name} (pid ${o.pid}${o.alive ? '' : ', dead'})`);
      if (s.hang) this.hooks.hung?.(node, s.op, 'killed', s.hang);
      s.onKill();
    }
  }

  /** When a hung script that does its work does it: in its usual time, or late (30-90 % of RES_TIMEOUT). */
  private workAt(h: Hang, work: number): number {
    return h === 'late' ? this.p.RES_TIMEOUT * 1000 * (0.3 + 0.6 * this.rng.next()) : work;
  }

  /** Does a script begun now hang, and did it do its work before it hung ('after': the address is added, arping hangs; 'late': seconds into the hang) or not ('before')? */
  protected hang(node: SimNode, op: 'start' | 'stop'): Hang | null {
    if (!node.scriptsHang) return null;
    const h = this.rng.chance(0.5) ? (this.rng.chance(0.4) ? 'late' : 'after') : 'before';
    this.hangs++;
    this.log(node, 'res', `${op} script hangs (${h} its work) until RES_TIMEOUT ${this.p.RES_TIMEOUT} s`);
    this.hooks.hung?.(node, op, 'begun', h);
    return h;
  }

  /** Stop every resource in reverse order, like ResourceRunner.stopInReverse in `owner`'s process (null: pha-cli). */
  stopAll(node: SimNode, done: (r: { name: string; ok: boolean }[]) => void, owner: Proc | null = null): void {
    const names = [...this.resources].reverse();
    const results: { name: string; ok: boolean }[] = [];
    const next = (i: number) => {
      if (i >= names.length) return done(results);
      if (owner && !owner.alive) return;
      const name = names[i]!;
      const hang = this.hang(node, 'stop');
      const work = this.lat2(this.lat.stopMs);
      // Killed: a failure, and the stop goes on with the next one.
      const s = this.script(node, owner, 'stop', name, hang, () => {
        results.push({ name, ok: false });
        next(i + 1);
      });
      if (hang === 'after' || hang === 'late')
        this.at(this.t + this.workAt(hang, work), () => s.live && this.scriptWork(node, s, false));
      this.at(this.t + (hang ? this.p.RES_TIMEOUT * 1000 : work), () => {
        if (!s.live) return;
        this.scriptEnded(node, s);
        if (hang) this.hooks.hung?.(node, 'stop', 'killed', hang);
        if (!hang) this.scriptWork(node, s, false);
        results.push({ name, ok: !hang });
        next(i + 1);
      });
    };
    next(0);
  }
}
