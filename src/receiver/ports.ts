// The receiver's ports: what its core's effects need from the world, and how
// each effect maps onto them. The shell (index.ts) and the simulator supply
// the ports; this binding is the one dispatch both run.
import type { CommonPorts, CoreBinding } from '../daemon/effects.js';
import type { Status } from '../status-store/index.js';
import type { ReceiverEffect, ReceiverEvent } from './core.js';

export interface ReceiverPorts extends CommonPorts {
  /** Call `done` once every datagram queued now has been handled (a burst becomes its newest word). */
  drain(done: () => void): void;
  /** The status file now (the last good state when it is damaged). */
  read(): { status: Status; damaged: string | null };
}

export const receiverBinding: CoreBinding<ReceiverEvent, ReceiverEffect, ReceiverPorts> = {
  name: 'receiver',
  timerEvent: (timer, clock) => ({ kind: 'timer', timer, ...clock }),
  carry(e, ports, run) {
    switch (e.kind) {
      case 'drain':
        ports.drain(() => run.feed({ kind: 'drained', ...ports.clock() }));
        break;
      case 'read': {
        const { status, damaged } = ports.read();
        run.feed({ kind: 'file', status, damaged, ...ports.clock() });
        break;
      }
    }
  },
};
