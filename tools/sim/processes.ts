// The daemons as processes: started, stopped, frozen, crashed, and restarted
// by their watchdogs (the real restart policy, src/daemon/restart-policy.ts).
import { runCore } from '../../src/daemon/effects.js';
import type { DaemonName } from '../../src/daemon/pidfile.js';
import { BACKUP_AFTER_MS, restartBackoffMs, restarts, WATCHERS } from '../../src/daemon/restart-policy.js';
import { createHeartbeatCodec } from '../../src/heartbeat/codec.js';
import { KeyRing } from '../../src/heartbeat/keyfile.js';
import { ReceiverCore } from '../../src/receiver/core.js';
import { receiverBinding } from '../../src/receiver/ports.js';
import { SenderCore } from '../../src/sender/core.js';
import { senderBinding } from '../../src/sender/ports.js';
import { SuperviseCore } from '../../src/supervise/core.js';
import { superviseBinding } from '../../src/supervise/ports.js';
import { Proc, type SimNode } from './model.js';

/** The simulated pair's heartbeat key (a keyed pair: the reorder family). */
const SIM_KEYS = new KeyRing('(simulated)', [{ id: 1, key: Buffer.alloc(32, 7) }]);

import { SimPorts } from './ports.js';

export abstract class SimProcesses extends SimPorts {
  freeze(proc: Proc, ms: number): void {
    if (!proc.alive) return;
    const until = this.t + ms;
    proc.frozenUntil = Math.max(proc.frozenUntil, until);
    this.log(proc.node, proc.name, `frozen for ${Math.round(ms)} ms`);
    this.at(until, () => {
      if (!proc.alive || proc.frozenUntil > this.t) return;
      proc.frozenUntil = -1;
      this.log(proc.node, proc.name, 'thawed');
      const q = proc.queued;
      proc.queued = [];
      for (const fn of q)
        if (proc.alive && !proc.frozen) fn();
        else if (proc.alive) proc.queued.push(fn);
    });
  }

  crash(node: SimNode, d: DaemonName): void {
    const proc = node.procs[d];
    if (!proc) return;
    this.end(proc);
    this.log(node, d, `killed (pid ${proc.pid})`);
    // Every living daemon of the node checks at its next poll (watchdog.ts
    // check()): it restarts each dead daemon it saw alive and whose first
    // watcher is dead too, so a daemon whose restarter died with it is still
    // brought back (by the second watcher).
    this.pollAll(node, this.t);
    // The backup's safety net: it steps in once the daemon has stayed dead BACKUP_AFTER_MS.
    this.pollAll(node, this.t + BACKUP_AFTER_MS, true);
  }

  /** Each living daemon of the node polls at its first poll after `from` (or at it: `atOrAfter`); the real ones poll every wdInt. */
  protected pollAll(node: SimNode, from: number, atOrAfter = false): void {
    const wd = this.wdInt;
    for (const w of Object.values(node.procs)) {
      if (!w) continue;
      const next =
        w.startedAt +
        (atOrAfter ? Math.ceil((from - w.startedAt) / wd) : Math.floor((from - w.startedAt) / wd) + 1) * wd;
      this.at(next, () => this.deliver(w, () => this.watchCheck(w)));
    }
  }

  /** A watcher's poll: restart what it must (the real Watchdog.check()). */
  protected watchCheck(w: Proc): void {
    const node = w.node;
    const wd = this.wdInt;
    for (const d of Object.keys(WATCHERS) as DaemonName[]) {
      if (d === w.name || node.procs[d] || node.down.has(d) || node.restarting.has(d)) continue;
      const last = node.hist[d][node.hist[d].length - 1];
      if (!last) continue;
      // The real policy (restart-policy.ts): the first watcher knows of the
      // death when it runs and is older than the death (it saw d run).
      const first = node.procs[WATCHERS[d][0]!];
      const firstWatcherKnows = () => !!first && first.startedAt < last.end;
      if (!restarts({ self: w.name, dead: d, deadFor: this.t - last.end, firstWatcherKnows })) continue;
      // Only a daemon this watcher saw alive (at one of its polls, or running
      // when the watcher started) is restarted.
      // Its polls run at its start and every wd after (daemon/index.ts).
      const firstPollIn = w.startedAt + Math.max(0, Math.ceil((last.start - w.startedAt) / wd)) * wd;
      // The watcher that restarted it knows its pid at once (Watchdog.restart()).
      const seen = firstPollIn < last.end || last.by === w.pid;
      if (!seen) continue;
      const f = node.restartFails[d];
      if (f && this.t < f.nextAt) continue;
      node.restarting.add(d);
      this.log(node, w.name, `${d} died: restarting it`);
      this.at(this.t + this.lat2(this.lat.spawnMs), () => {
        node.restarting.delete(d);
        if (node.procs[d] || node.down.has(d)) return;
        if (this.t < (node.noStartUntil[d] ?? 0)) {
          // Watchdog.restart(): the spawn failed; back off 0.5 s doubling up to 5 s, retry at a poll.
          const fail = node.restartFails[d] ?? { n: 0, nextAt: 0 };
          fail.n++;
          fail.nextAt = this.t + restartBackoffMs(fail.n);
          node.restartFails[d] = fail;
          this.log(
            node,
            w.name,
            `restart of ${d} failed (${fail.n}): next try in ${Math.round(fail.nextAt - this.t)} ms`,
          );
          // Every living watcher polls again once the back-off has passed.
          this.pollAll(node, fail.nextAt, true);
          return;
        }
        delete node.restartFails[d];
        this.startDaemon(node, d);
        const h = node.hist[d];
        if (w.alive) h[h.length - 1]!.by = w.pid;
      });
    }
  }

  protected end(proc: Proc): void {
    proc.alive = false;
    (proc.sender ?? proc.receiver ?? proc.supervise)?.run.stop();
    delete proc.node.procs[proc.name];
    const h = proc.node.hist[proc.name];
    const last = h[h.length - 1];
    if (last && last.end === Infinity) last.end = this.t;
  }

  get wdInt(): number {
    return this.timing.watchdogPollMs;
  }

  /** Was `d` running at virtual time `x`? */
  protected ranAt(node: SimNode, d: DaemonName, x: number): boolean {
    const h = node.hist[d];
    for (let i = h.length - 1; i >= 0; i--) {
      const r = h[i]!;
      if (r.start <= x) return x < r.end;
    }
    return false;
  }

  /** The watchdog's isAlive(d) in `proc`: d's pid at proc's last check (every wdInt from its start). */
  protected pidAlive(proc: Proc, d: DaemonName): boolean {
    return this.ranAt(proc.node, d, this.pidCheckAt(proc));
  }

  /** The pid of `d` that `proc`'s last check found dead: its latest process started before the check. */
  protected deadPid(proc: Proc, d: DaemonName): number | undefined {
    const at = this.pidCheckAt(proc);
    const h = proc.node.hist[d];
    for (let i = h.length - 1; i >= 0; i--) if (h[i]!.start <= at) return at < h[i]!.end ? undefined : h[i]!.pid;
    return undefined;
  }

  /** When `proc`'s watchdog last checked the pids (every wdInt from its start). */
  protected pidCheckAt(proc: Proc): number {
    const wd = this.wdInt;
    return proc.startedAt + Math.floor((this.t - proc.startedAt) / wd) * wd;
  }

  /** A clean stop (pha-cli stop / SIGTERM): marked down, its last keys written. */
  stopDaemon(node: SimNode, d: DaemonName): void {
    const proc = node.procs[d];
    node.down.add(d);
    if (!proc) return;
    const effects = proc.sender?.core.stop() ?? proc.receiver?.core.stop() ?? proc.supervise?.core.stop() ?? [];
    for (const e of effects) if (e.kind === 'write') this.write(proc, e.patch);
    this.end(proc);
    // The writer is flushed before the process exits.
    const patch = { ...(proc.inflight ?? {}), ...(proc.pending ?? {}) };
    if (Object.keys(patch).length) this.storeWrite(node, patch, proc.lastGood, proc);
    this.log(node, d, 'stopped');
  }

  /** Start a daemon process now (it runs its start-up code at once). */
  startDaemon(node: SimNode, d: DaemonName): void {
    if (node.procs[d]) return;
    node.down.delete(d);
    const proc = new Proc(node, d, ++node.incarnation + node.id * 1000, this.rng.int(0, 1e7));
    node.procs[d] = proc;
    proc.startedAt = this.t;
    node.hist[d].push({ start: this.t, end: Infinity, pid: proc.pid });
    this.log(node, d, `started (pid ${proc.pid})`);
    const cfg = this.config(node);
    if (this.o.keyed) proc.codec = this.codecFor(node, d);
    if (d === 'sender') {
      const core = new SenderCore(cfg);
      const run = runCore(core, senderBinding(cfg.resources), this.senderPorts(proc));
      proc.sender = { core, run };
      run.carry(core.start(this.clock(proc), this.senderSight(proc, true)));
    } else if (d === 'receiver') {
      const core = new ReceiverCore(cfg);
      const run = runCore(core, receiverBinding, this.receiverPorts(proc));
      proc.receiver = { core, run };
      run.carry(core.start(this.clock(proc)));
    } else {
      // As the shell: the orphans of dead owners killed before anything is checked or decided.
      this.killScripts(proc, { foreign: false });
      const core = new SuperviseCore(cfg, { decide: this.decide[node.id - 1] });
      const run = runCore(core, superviseBinding(cfg.resources), this.supervisePorts(proc));
      proc.supervise = { core, run };
      run.carry(core.start(this.clock(proc), this.read(proc).status));
      // The shell waits for the first write to land, then runs.
      this.later(proc, this.lat2(this.lat.writeMs) + 0.5, () => run.carry(core.run(this.clock(proc))));
    }
  }

  /**
   * A keyed pair's codec, as the shells make it: a sender starts a new boot
   * generation (sequence from 1); a receiver starts from the peer's newest
   * frame its predecessors persisted (a checkpoint every 16 frames).
   */
  private codecFor(node: SimNode, d: DaemonName) {
    const auth = { keys: SIM_KEYS, localNode: node.id, peerNode: (3 - node.id) as 1 | 2, mode: 'enforce' as const };
    if (d === 'sender') return createHeartbeatCodec({ auth, generation: ++node.generation });
    if (d === 'receiver')
      return createHeartbeatCodec({
        auth,
        peerState: node.peerState,
        onPeerState: (st) => {
          node.peerState = st;
        },
      });
    return undefined;
  }

  protected config(node: SimNode) {
    const p = this.p;
    const peer = this.nodes[2 - node.id]!;
    return {
      ...p,
      GW: '198.18.0.1',
      SPLIT_YIELD: !!this.o.splitYield,
      local: { id: node.id, name: node.name },
      peer: { name: peer.name },
      witness: this.witness
        ? {
            hosts: ['http://198.18.0.50:2379'],
            tls: false,
            prefix: `/pha/${this.nodes[0].name},${this.nodes[1].name}/`,
            ttl: this.witness.ttlMs / 1000,
            ca: '',
            cert: '',
            key: '',
            user: '',
            passwordFile: '',
            line: 0,
          }
        : null,
      resources: this.resources.map((name) => ({
        name,
        script: name === 'vip' ? '/opt/pha/res/ipaddr' : '/opt/pha/res/service',
      })),
    };
  }
}
