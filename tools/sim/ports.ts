// The daemons' ports over the simulated world: the same bindings the
// daemons' shells run (src/<daemon>/ports.ts), in virtual time.

import { BUS_READERS } from '../../src/daemon/bus.js';
import type { CommonPorts, Reply } from '../../src/daemon/effects.js';
import type { DaemonName } from '../../src/daemon/pidfile.js';
import type { ReceiverPorts } from '../../src/receiver/ports.js';
import type { SenderSight } from '../../src/sender/core.js';
import type { SenderPorts } from '../../src/sender/ports.js';
import type { Liveness } from '../../src/supervise/core.js';
import type { WitnessOp, WitnessResult } from '../../src/supervise/events.js';
import { decisionText, type SupervisePorts } from '../../src/supervise/ports.js';
import type { Proc } from './model.js';
import { SimNetwork } from './network.js';
import { SimWitness } from './witness.js';

const NOTIFY_TIMEOUT_MS = 10_000;

export abstract class SimPorts extends SimNetwork {
  /** The etcd witness (WITNESS), when the schedule has one. */
  readonly witness: SimWitness | null = this.o.witness ? new SimWitness(this.o.witness.ttlMs, this.o.seed) : null;
  /** Each supervise's lease (it lives on in etcd after the process died, until its TTL). */
  private readonly leaseOf = new WeakMap<Proc, number | undefined>();

  /** The ports every core needs, in virtual time. */
  protected commonPorts(proc: Proc): CommonPorts {
    return {
      clock: () => this.clock(proc),
      arm: (timer, at, fire) => {
        const token = ++this.tokens;
        proc.timers.set(timer, token);
        this.at(at - proc.monoOffset, () =>
          this.deliver(proc, () => {
            if (proc.timers.get(timer) !== token) return;
            proc.timers.delete(timer);
            fire();
          }),
        );
      },
      cancel: (timer) => proc.timers.delete(timer),
      log: (level, msg) => {
        if (level !== 'debug') this.log(proc.node, proc.name, msg);
      },
      alarm: (id, text) => (text === null ? proc.alarms.delete(id) : proc.alarms.set(id, text)),
      alarmList: () => [...proc.alarms.values()],
      write: (patch) => {
        this.write(proc, patch);
        this.restStamps(proc);
      },
      publish: (keys) => this.publish(proc, keys),
    };
  }

  /** stampsMayRest(), in the model: every reader of `proc`'s liveness runs and was heard on the bus from its own process. */
  private restStamps(proc: Proc): void {
    const rest = BUS_READERS[proc.name].every((r) => {
      const to = proc.node.procs[r];
      return to?.alive === true && proc.node.pub.get(r)?.pid === to.pid;
    });
    (proc.sender ?? proc.receiver ?? proc.supervise)?.core.restStamps(rest);
  }

  /** A port's answer reaches the process when it runs (queued while it is frozen, dropped once it died). */
  protected answer<T>(proc: Proc, reply: Reply<T>): (v: T) => void {
    return (v) => this.deliver(proc, () => reply.ok(v));
  }

  protected senderPorts(proc: Proc): SenderPorts {
    return {
      ...this.commonPorts(proc),
      sight: (reread) => this.senderSight(proc, reread),
      send: (word) => this.send(proc, word),
      fence: (reply) => {
        this.hooks.stopping?.(proc.node, 'sender', 'supervise gone: the sender stops the resources');
        // As the shell: every script not its own killed first.
        this.killScripts(proc, { foreign: true });
        proc.node.fencedAt = this.t;
        this.stopAll(proc.node, this.answer(proc, reply), proc);
      },
    };
  }

  protected senderSight(proc: Proc, reread: boolean): SenderSight {
    if (reread || proc.cache === undefined || this.t - proc.cachedAt >= 1000) {
      proc.cache = this.read(proc).status;
      proc.cachedAt = this.t;
    }
    return {
      view: this.overlay(proc, proc.cache),
      supervisePid: this.pidAlive(proc, 'supervise'),
      superviseOnBus: !!this.busFresh(proc, 'supervise'),
      superviseEverOnBus: proc.everHeard.has('supervise'),
      superviseStarting:
        proc.node.restarting.has('supervise') ||
        (!!proc.node.procs.supervise && this.t - proc.node.procs.supervise.startedAt < this.fresh),
    };
  }

  protected receiverPorts(proc: Proc): ReceiverPorts {
    return {
      ...this.commonPorts(proc),
      drain: (done) => this.later(proc, 0, done),
      read: () => this.read(proc),
    };
  }

  protected supervisePorts(proc: Proc): SupervisePorts {
    const node = proc.node;
    return {
      ...this.commonPorts(proc),
      sight: () => {
        const r = this.read(proc);
        const own = this.over(proc, r.status);
        return {
          own,
          view: this.overlay(proc, own),
          damaged: r.damaged,
          sender: this.liveness(proc, 'sender'),
          receiver: this.liveness(proc, 'receiver'),
        };
      },
      check: (timeoutMs, _route, reply) => {
        const hang = node.checkHangs;
        const ms = hang ? timeoutMs : Math.max(...this.resources.map(() => this.lat2(this.lat.checkMs)), 0);
        this.at(this.t + ms, () => {
          const results = this.resources.map((name) => ({
            name,
            ok: !hang && node.res.get(name) === true,
            timedOut: hang,
          }));
          this.deliver(proc, () => reply.ok({ results, routeOk: true }));
        });
      },
      ping: (reply) => {
        const ok = node.gwUp;
        const ms = ok ? this.lat2(this.lat.pingMs) : this.p.PINGTIMEOUT * 1000;
        this.at(this.t + ms, () => this.deliver(proc, () => reply.ok({ ok, error: ok ? null : 'timeout' })));
      },
      run: (op, names, reply) => {
        if (op === 'stop') {
          this.hooks.stopping?.(node, 'supervise', this.lastDecision.get(proc) ?? null);
          this.stopAll(node, this.answer(proc, reply), proc);
        } else this.startSome(node, [...names], this.answer(proc, reply), proc);
      },
      garp: (reply) => this.later(proc, 1, () => reply.ok()),
      // res/ipaddr probe: the peer answers for what it holds while the link carries ARP both ways (arping -D waits
      // 1 s for none). Only the address has a probe (res/service has none: it cannot tell).
      probe: (reply) => {
        const peer = this.nodes[2 - node.id]!;
        const reach = !this.blocked[0][1] && !this.blocked[1][0];
        const results = [...node.res.keys()].map((name) => {
          if (name !== 'vip' || this.o.probes === false) return { name, answered: null };
          const answered = reach && !!peer.res.get(name);
          return { name, answered, by: answered ? `02:00:00:00:00:0${peer.id}` : undefined };
        });
        // arping -D ends at the first answer; pha-ndp (IPv6) waits its second whatever came, and one slow probe holds all.
        const askedAt = this.t;
        this.later(proc, results.some((r) => r.answered) && !this.o.probeWaits ? 1 : 1000, () => {
          this.hooks.probeAnswered?.(node, askedAt);
          reply.ok(results);
        });
      },
      ...(this.witness ? { witness: (op, reply) => this.askWitness(proc, op, reply) } : {}),
      decided: (d) => this.lastDecision.set(proc, decisionText(d)),
      notify: (t) => {
        this.hooks.told?.(proc.node, t);
        proc.node.notifySeq++;
        proc.hookQueue.push(proc.node.notifySeq, t);
        this.runHooks(proc);
      },
    };
  }

  protected readonly lastDecision = new WeakMap<Proc, string>();

  /**
   * One request to the witness: there and back in 0.2-3 ms each way, etcd
   * acting on it when it arrives. Unreachable when it leaves or when its
   * answer would come back: "unreachable" at the port's deadline, and the
   * port forgets its lease (as the real one does).
   */
  private askWitness(proc: Proc, op: WitnessOp, reply: Reply<WitnessResult>): void {
    const w = this.witness!;
    const i = proc.node.id - 1;
    const sent = this.t;
    const fail = () =>
      this.at(sent + w.timeoutMs, () => {
        if (op !== 'look') this.leaseOf.set(proc, undefined);
        this.deliver(proc, () => reply.ok({ holder: null, ours: false, error: 'unreachable (simulated)' }));
      });
    if (!w.reachable(i)) {
      fail();
      return;
    }
    this.at(sent + w.hop(), () => {
      if (!w.reachable(i)) {
        fail();
        return;
      }
      const r = w.apply(op, proc.node.name, this.leaseOf.get(proc), this.t);
      this.leaseOf.set(proc, r.lease);
      this.at(this.t + w.hop(), () => {
        if (w.reachable(i)) this.deliver(proc, () => reply.ok(r.result));
        else fail();
      });
    });
  }

  protected liveness(proc: Proc, d: DaemonName): Liveness {
    const heard = this.busFresh(proc, d);
    return {
      pid: this.pidAlive(proc, d),
      deadPid: this.deadPid(proc, d),
      onBus: !!heard,
      busPid: heard?.pid,
      everOnBus: proc.everHeard.has(d),
    };
  }

  protected abstract pidAlive(proc: Proc, d: DaemonName): boolean;
  protected abstract deadPid(proc: Proc, d: DaemonName): number | undefined;

  /**
   * The notify hooks as the Notifier runs them: one call at a time, in order,
   * beside the decisions. A call takes 1-30 ms; 3 % hang until NOTIFY_TIMEOUT
   * (10 s) and are killed. The answer reaches supervise like any other.
   */
  private runHooks(proc: Proc): void {
    const call = proc.hookQueue.take();
    if (!call) return;
    this.hooks.notified?.(proc.node, call);
    const t = call.transition;
    this.log(
      proc.node,
      'notify',
      `#${call.seq} ${t.now} ${t.old} (${t.reason})${call.missed ? ` missed ${call.missed}` : ''}`,
    );
    const ms = this.hookRng.chance(0.03) ? NOTIFY_TIMEOUT_MS : this.hookRng.between(1, 30);
    this.later(proc, ms, () => {
      proc.hookQueue.done();
      this.runHooks(proc);
    });
  }
}
