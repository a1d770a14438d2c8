// Supervise's ports: what its core's effects need from the world, and how
// each effect maps onto them. The shell (shell.ts) and the simulator supply
// the ports; this binding is the one dispatch both run, so a check, ping or
// script that fails reaches the core the same way in both.
import type { CommonPorts, CoreBinding, OpResult, Reply } from '../daemon/effects.js';
import { errorMessage } from '../errors.js';
import type {
  CheckResult,
  DecisionRecord,
  ProbeResult,
  SuperviseEffect,
  SuperviseEvent,
  SuperviseSight,
  WitnessOp,
  WitnessResult,
} from './events.js';
import type { Transition } from './transitions.js';

export interface SupervisePorts extends CommonPorts {
  /** What supervise sees now: the file with its own pending writes, the bus over it, the others' liveness. */
  sight(): SuperviseSight;
  /** Every resource's check (each with `timeoutMs`), and the default route when `route`. */
  check(timeoutMs: number, route: boolean, reply: Reply<{ results: readonly CheckResult[]; routeOk: boolean }>): void;
  /** One echo to GW. */
  ping(reply: Reply<{ ok: boolean; error?: string | null }>): void;
  /** Start `names` in config order, or stop every resource in reverse order. */
  run(op: 'start' | 'stop', names: readonly string[], reply: Reply<readonly OpResult[]>): void;
  /** The ipaddr resources' gratuitous ARP. */
  garp(reply: Reply<void>): void;
  /** Every resource's probe: does another host answer for it? */
  probe(reply: Reply<readonly ProbeResult[]>): void;
  /** One request to the witness (rule 13); only asked when WITNESS is set. */
  witness?(op: WitnessOp, reply: Reply<WitnessResult>): void;
  /** A decision that changed something, as data (after its log line). */
  decided(d: DecisionRecord): void;
  /** A transition of this node for the notify hooks: queued, never awaited (a slow hook delays no decision). */
  notify(t: Transition): void;
}

export function decisionText(d: DecisionRecord): string {
  return `decision: ${d.op === 'none' ? 'no action' : `${d.op} ${d.names.join(',')}`} — ${d.reason}`;
}

export function superviseBinding(
  resources: readonly { name: string }[],
): CoreBinding<SuperviseEvent, SuperviseEffect, SupervisePorts> {
  const all = (ok: boolean, names: readonly string[]) => names.map((name) => ({ name, ok }));
  return {
    name: 'supervise',
    timerEvent: (timer, clock) => ({ kind: 'timer', timer, ...clock }),
    carry(e, ports, run) {
      switch (e.kind) {
        case 'look':
          run.feed({ kind: 'seen', sight: ports.sight(), ...ports.clock() });
          break;
        case 'check':
          ports.check(
            e.timeoutMs,
            e.route,
            run.reply(
              'the checks',
              (r, c) => ({ kind: 'checked', results: r.results, routeOk: r.routeOk, ...c }),
              // Nothing known about them: DOWN, as a check that timed out.
              (err, c) => ({
                kind: 'checked',
                results: resources.map((r) => ({ name: r.name, ok: false, error: errorMessage(err) })),
                routeOk: true,
                ...c,
              }),
            ),
          );
          break;
        case 'ping':
          ports.ping(
            run.reply(
              'the gateway ping',
              (r, c) => ({ kind: 'pinged', seq: e.seq, ok: r.ok, error: r.ok ? null : (r.error ?? 'no answer'), ...c }),
              (err, c) => ({ kind: 'pinged', seq: e.seq, ok: false, error: errorMessage(err), ...c }),
            ),
          );
          break;
        case 'run': {
          // A start or stop that failed as a whole did nothing we know of: every resource failed.
          const names = e.op === 'stop' ? [...resources].reverse().map((r) => r.name) : e.names;
          ports.run(
            e.op,
            names,
            run.reply(
              `${e.op} of ${names.join(', ')}`,
              (results, c) => ({ kind: 'done', results, ...c }),
              (_err, c) => ({ kind: 'done', results: all(false, names), ...c }),
            ),
          );
          break;
        }
        case 'garp':
          ports.garp(
            run.reply(
              'the gratuitous ARP',
              (_v, c) => ({ kind: 'done', results: [], ...c }),
              (_err, c) => ({ kind: 'done', results: [], ...c }),
            ),
          );
          break;
        case 'probe':
          ports.probe(
            run.reply(
              'the probes',
              (results, c) => ({ kind: 'probed', results, sentAt: e.sentAt, ...c }),
              (_err, c) => ({ kind: 'probed', results: [], sentAt: e.sentAt, ...c }),
            ),
          );
          break;
        case 'witness': {
          // No answer, or a port that cannot ask: unreachable (never "free").
          const failed = (err: unknown, c: ReturnType<typeof ports.clock>) => ({
            kind: 'witnessed' as const,
            op: e.op,
            sentAt: e.sentAt,
            result: { holder: null, ours: false, error: errorMessage(err) },
            ...c,
          });
          const reply = run.reply(
            `the witness (${e.op})`,
            (result: WitnessResult, c) => ({ kind: 'witnessed', op: e.op, sentAt: e.sentAt, result, ...c }),
            failed,
          );
          if (ports.witness) ports.witness(e.op, reply);
          else reply.fail(new Error('no witness port'));
          break;
        }
        case 'notify':
          ports.notify(e.transition);
          break;
        case 'decision': {
          const { kind: _, ...d } = e;
          ports.log(d.op === 'none' ? 'info' : 'warn', decisionText(d), {
            decision: d.op,
            resources: d.names.length ? d.names : undefined,
            peer: d.peer,
            peerWord: d.peerWord,
            gwFailStreak: d.gwFailStreak,
            reason: d.reason,
          });
          ports.decided(d);
          break;
        }
      }
    },
  };
}
