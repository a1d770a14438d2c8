// Supervise's core speaks these: what comes in (events) and what goes out
// (effects), with what the shell sees and the checks find.
import type { Config } from '../config/index.js';
import type { TimingInput } from '../config/timing.js';
import type { Clock, CommonEffect, OpResult } from '../daemon/effects.js';
import type { Word } from '../heartbeat/word.js';
import type { Status } from '../status-store/index.js';
import type { Decision } from './decide.js';
import type { Transition } from './transitions.js';

export type SuperviseConfig = TimingInput &
  Pick<Config, 'GW' | 'GW_INT'> &
  Partial<Pick<Config, 'SPLIT_YIELD' | 'witness'>> & {
    local: { id: 1 | 2; name?: string };
    peer: { name: string };
    resources: readonly { name: string; script: string }[];
  };

/** A daemon's liveness as the shell sees it. */
export interface Liveness {
  pid: boolean | undefined; // the watchdog's last pid check (false: gone)
  onBus: boolean; // heard on the bus lately
  everOnBus: boolean; // heard on the bus at some time
  everSeen?: boolean; // the watchdog has seen its process run (undefined: no watchdog)
  deadPid?: number; // the pid that check found dead (undefined: none known)
  busPid?: number; // the pid its last bus message came from
}

/** What the shell sees when the core asks ('look'). */
export interface SuperviseSight {
  own: Status; // the file with our own not-yet-written keys over it
  view: Status; // `own` with the other daemons' fresh bus states over it
  damaged: string | null; // the file read back corrupt, truncated or missing
  sender: Liveness;
  receiver: Liveness;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  timedOut?: boolean;
  output?: string;
  error?: string;
}

/** One resource's probe: does another host answer for it? null: cannot tell (no probe, an error). */
export interface ProbeResult {
  name: string;
  answered: boolean | null;
  by?: string; // who answered (MACs)
  error?: string; // why it could not tell
}

/** A decision that changed something (or its reason), as data: the port logs it. */
export interface DecisionRecord {
  op: Decision['op'];
  names: readonly string[];
  reason: string;
  peer: string;
  peerWord: Word | null;
  gwFailStreak: number;
}

/**
 * A request to the witness (rule 13): acquire (keep our lease alive, and put
 * the lock bound to it when the key is free or already ours), release (delete
 * the key when it is ours, revoke our lease), look (who holds it).
 */
export type WitnessOp = 'acquire' | 'release' | 'look';

/** The witness's answer: who the key names now, and whether it is ours (our name and our live lease); error: unreachable. */
export interface WitnessResult {
  holder: string | null;
  ours: boolean;
  error?: string;
}

/** Supervise's timers: the round, a wake-up the rules asked for, the gateway cadence, the bus, the stall tick, the probes, the witness. */
export type SuperviseTimer = 'round' | 'wake' | 'gw' | 'tick' | 'probe' | 'witness';

export type SuperviseEvent =
  | ({ kind: 'timer'; timer: SuperviseTimer } & Clock)
  | ({ kind: 'changed'; view: Status } & Clock) // the file or the bus changed; the shell's view of it
  | ({ kind: 'seen'; sight: SuperviseSight } & Clock) // answer to 'look' (at once)
  | ({ kind: 'checked'; results: readonly CheckResult[]; routeOk: boolean } & Clock)
  | ({ kind: 'pinged'; seq: number; ok: boolean; error: string | null } & Clock)
  | ({ kind: 'probed'; results: readonly ProbeResult[]; sentAt: number } & Clock) // answer to 'probe' (sentAt: mono)
  | ({ kind: 'done'; results: readonly OpResult[] } & Clock) // answer to 'run' / 'garp'
  | ({ kind: 'witnessed'; op: WitnessOp; sentAt: number; result: WitnessResult } & Clock); // answer to 'witness'

export type SuperviseEffect =
  | CommonEffect<SuperviseTimer>
  | { kind: 'look' } // answer at once with 'seen'
  | { kind: 'check'; timeoutMs: number; route: boolean } // every resource's check, and the default route when `route`
  | { kind: 'ping'; seq: number } // one echo to GW; answer with 'pinged'
  | { kind: 'run'; op: 'start' | 'stop'; names: string[] } // start in config order / stop all in reverse; answer with 'done'
  | { kind: 'garp' } // the ipaddr resources' garp action; answer with 'done'
  | { kind: 'probe'; sentAt: number } // every resource's probe (another holder?) (sentAt: mono); answer with 'probed'
  | { kind: 'witness'; op: WitnessOp; sentAt: number } // one request to the witness (sentAt: mono); answer with 'witnessed'
  | ({ kind: 'decision' } & DecisionRecord)
  | { kind: 'notify'; transition: Transition }; // tell the notify hooks (in order, beside the decisions)
