// The network between the nodes (loss, duplication, delay, reordering,
// partitions) and the resources on each node (their scripts' latency and faults).
import type { Word } from '../../src/heartbeat/word.js';
import type { Hang, Proc, SimNode } from './model.js';
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

  startSome(node: SimNode, names: string[], done: (r: { name: string; ok: boolean }[]) => void): void {
    const results: { name: string; ok: boolean }[] = [];
    const next = (i: number) => {
      if (i >= names.length) return done(results);
      const hang = this.hang(node, 'start');
      const work = this.lat2(this.lat.startMs);
      // Did its work (in the usual time), then hung: the resource is up from then on.
      if (hang === 'after') this.at(this.t + work, () => this.setRes(node, names[i]!, true));
      this.at(this.t + (hang ? this.p.RES_TIMEOUT * 1000 : work), () => {
        if (hang) this.hooks.hung?.(node, 'start', 'killed', hang);
        const ok = !hang && !node.startFails;
        if (ok) this.setRes(node, names[i]!, true);
        results.push({ name: names[i]!, ok });
        // Like ResourceRunner.startInOrder: the first failure ends the sequence.
        if (ok) next(i + 1);
        else done(results);
      });
    };
    next(0);
  }

  /** Does a script begun now hang, and did it do its work before it hung ('after': the address is added, arping hangs) or not ('before')? */
  protected hang(node: SimNode, op: 'start' | 'stop'): Hang | null {
    if (!node.scriptsHang) return null;
    const h = this.rng.chance(0.5) ? 'after' : 'before';
    this.hangs++;
    this.log(node, 'res', `${op} script hangs (${h} its work) until RES_TIMEOUT ${this.p.RES_TIMEOUT} s`);
    this.hooks.hung?.(node, op, 'begun', h);
    return h;
  }

  stopAll(node: SimNode, done: (r: { name: string; ok: boolean }[]) => void): void {
    const names = [...this.resources].reverse();
    const results: { name: string; ok: boolean }[] = [];
    const next = (i: number) => {
      if (i >= names.length) return done(results);
      const hang = this.hang(node, 'stop');
      const work = this.lat2(this.lat.stopMs);
      if (hang === 'after') this.at(this.t + work, () => this.setRes(node, names[i]!, false));
      this.at(this.t + (hang ? this.p.RES_TIMEOUT * 1000 : work), () => {
        if (hang) this.hooks.hung?.(node, 'stop', 'killed', hang);
        if (!hang) this.setRes(node, names[i]!, false);
        results.push({ name: names[i]!, ok: !hang });
        next(i + 1);
      });
    };
    next(0);
  }
}
