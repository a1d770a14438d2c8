// The sender's ports: what its core's effects need from the world, and how
// each effect maps onto them. The shell (shell.ts) and the simulator supply
// the ports; this binding is the one dispatch both run.
import type { CommonPorts, CoreBinding, OpResult, Reply } from '../daemon/effects.js';
import type { Word } from '../heartbeat/word.js';
import type { SenderEffect, SenderEvent, SenderSight } from './core.js';

export interface SenderPorts extends CommonPorts {
  /** What the sender sees now: the file (re-read when `reread`) under the bus, and supervise's liveness. */
  sight(reread: boolean): SenderSight;
  /** One heartbeat to the peer (its failures are counted and logged by the port). */
  send(word: Word): void;
  /** Stop every resource, in reverse config order. */
  fence(reply: Reply<readonly OpResult[]>): void;
}

export function senderBinding(
  resources: readonly { name: string }[],
): CoreBinding<SenderEvent, SenderEffect, SenderPorts> {
  return {
    name: 'sender',
    timerEvent: (timer, clock, ports) => ({
      kind: 'timer',
      timer,
      sight: timer === 'tick' ? ports.sight(false) : undefined,
      ...clock,
    }),
    carry(e, ports, run) {
      switch (e.kind) {
        case 'send':
          ports.send(e.word);
          break;
        case 'fence':
          ports.fence(
            run.reply(
              'stopping the resources',
              (results, c) => ({ kind: 'fenced', results, ...c }),
              // Nothing known stopped: every resource may still be held.
              (_err, c) => ({ kind: 'fenced', results: resources.map((r) => ({ name: r.name, ok: false })), ...c }),
            ),
          );
          break;
      }
    },
  };
}
