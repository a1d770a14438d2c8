// The status keys: one row per key of status.dat. The `Status` type, the
// sanitizer, `stat`'s readable times and docs/status-keys.md all come from this
// table, so adding a key is one row here (then `npm run docs`).

import { WORDS, type Word } from '../heartbeat/word.js';

export type ResState = 'UP' | 'DOWN';

/** Who writes a key. */
export type Writer = 'sender' | 'receiver' | 'supervise' | 'cli';

/** The TypeScript type of each value type (`enum` takes its `values`). */
interface ValueTypes {
  'word-or-null': Word | null;
  bit: 0 | 1;
  'bit-or-null': 0 | 1 | null;
  count: number;
  time: number; // ms since the epoch
  'time-or-null': number | null;
  string: string;
  'string-or-null': string | null;
}
export type ValueType = keyof ValueTypes | 'enum';

export interface KeyRow {
  type: ValueType;
  values?: readonly string[]; // type 'enum' only
  prefix?: string; // a pattern row: every key that starts with this prefix
  owner: Writer; // the writer that maintains the key
  also?: readonly Writer[]; // others that set, reset or clear it
  original: boolean; // a key of the original (its meaning must not change)
  /** Supervise tells the sender at once over the local bus (the heartbeat never waits for a file write). */
  bus?: boolean;
  /** A change makes supervise decide at once (not at its next round). */
  decides?: boolean;
  doc: string;
}

export const STATUS_KEYS = {
  // keys of the original
  STATUS: {
    bus: true,
    type: 'word-or-null',
    owner: 'supervise',
    also: ['cli'],
    original: true,
    doc: "this node's word: ONLINE when every resource is UP, OFFLINE when not, PROGRESS while starting or stopping; null while supervise is not running",
  },
  RECEIVER_IN: {
    decides: true,
    type: 'word-or-null',
    owner: 'receiver',
    also: ['cli'],
    original: true,
    doc: "the peer's newest word; null when no valid heartbeat came for DEADTIME (or the receiver is not running)",
  },
  SENDER_RUN: {
    bus: true,
    type: 'bit',
    owner: 'sender',
    also: ['supervise', 'cli'],
    original: true,
    doc: "1: the heartbeat is sent; 0: paused by 'off' until SENDER_PAUSE_UNTIL (the sender resumes by itself), or the sender is stopped",
  },
  SUPERVISE: { type: 'bit', owner: 'supervise', also: ['cli'], original: true, doc: '1 while supervise runs' },
  CLI: { type: 'bit', owner: 'cli', original: true, doc: '1 while an interactive pha-cli shell runs' },
  'RES_<name>': {
    bus: true,
    type: 'enum',
    values: ['UP', 'DOWN'],
    prefix: 'RES_',
    owner: 'supervise',
    also: ['cli'],
    original: true,
    doc: 'one per resource: its state at the last check, start or stop',
  },
  // keys of the port
  RECEIVER_IN_SINCE: {
    decides: true,
    type: 'time',
    owner: 'receiver',
    original: false,
    doc: 'when RECEIVER_IN took its current value',
  },
  RECEIVER_SILENT_MS: {
    type: 'count',
    owner: 'receiver',
    original: false,
    doc:
      'while RECEIVER_IN is null after a silence: how long the receiver had heard nothing when it said so ' +
      "(DEADTIME and the timer's lateness): the detection phase of a failover's timeline",
  },
  RECEIVER_STARTED_AT: {
    decides: true,
    type: 'time',
    owner: 'receiver',
    original: false,
    doc: 'when the receiver bound its socket: the startup grace (rule 3) counts from here',
  },
  RECEIVER_DROPPED: {
    type: 'count',
    owner: 'receiver',
    original: false,
    doc: 'datagrams received since the receiver started that were not a heartbeat from the peer (the sum of RECEIVER_DROP_<REASON>)',
  },
  RECEIVER_DROP_NOT_FROM_PEER: {
    type: 'count',
    owner: 'receiver',
    original: false,
    doc: "dropped since the receiver started: from an address that is not the peer's (docs/wire-format-auth.md)",
  },
  RECEIVER_DROP_NOT_A_HEARTBEAT: {
    type: 'count',
    owner: 'receiver',
    original: false,
    doc: "dropped since the receiver started: from the peer's address, neither a heartbeat word nor a frame (docs/wire-format-auth.md)",
  },
  RECEIVER_DROP_BAD_MAC: {
    type: 'count',
    owner: 'receiver',
    original: false,
    doc: 'dropped since the receiver started: frames whose HMAC does not verify (forged or damaged) (docs/wire-format-auth.md)',
  },
  RECEIVER_DROP_UNKNOWN_KEY: {
    type: 'count',
    owner: 'receiver',
    original: false,
    doc: 'dropped since the receiver started: frames signed with a key id not in the key file (docs/wire-format-auth.md)',
  },
  RECEIVER_DROP_WRONG_NODE: {
    type: 'count',
    owner: 'receiver',
    original: false,
    doc:
      "dropped since the receiver started: authenticated frames that do not name the peer's node " +
      '(reflected, or NODES ordered differently) (docs/wire-format-auth.md)',
  },
  RECEIVER_DROP_REPLAY: {
    type: 'count',
    owner: 'receiver',
    original: false,
    doc: 'dropped since the receiver started: authenticated frames not newer than the newest accepted (replayed or reordered) (docs/wire-format-auth.md)',
  },
  RECEIVER_DROP_OLD_GENERATION: {
    type: 'count',
    owner: 'receiver',
    original: false,
    doc: 'dropped since the receiver started: authenticated frames of an older sender generation than the newest accepted (docs/wire-format-auth.md)',
  },
  RECEIVER_DROP_PLAIN_REFUSED: {
    type: 'count',
    owner: 'receiver',
    original: false,
    doc: 'dropped since the receiver started: plain words refused by AUTH_MODE=enforce (docs/wire-format-auth.md)',
  },
  RECEIVER_PLAIN_ACCEPTED: {
    type: 'count',
    owner: 'receiver',
    original: false,
    doc: 'plain words taken from the peer in AUTH_MODE=permissive since the receiver started (each could have been forged)',
  },
  RECEIVER_PEER_CONFIG: {
    type: 'enum',
    values: ['same', 'differs', 'unknown'],
    owner: 'receiver',
    original: false,
    doc:
      'does the peer run the same NODES, PORT, HEARTBEAT_INT, DEADTIME and resources as this node (its config announcement, with AUTHKEY only)? ' +
      'differs: RECEIVER_ALARM names the keys; unknown: none yet, or none for 30 s (no key, the peer runs an older pha, or it is silent). Never a decision (docs/wire-format-auth.md)',
  },
  RECEIVER_STALL_AT: {
    type: 'time',
    owner: 'receiver',
    original: false,
    doc: 'when the receiver last found its own loop stalled (it discarded what was queued: old news)',
  },
  RECEIVER_AT: {
    type: 'time',
    owner: 'receiver',
    original: false,
    doc: "receiver's liveness stamp (every 2 s; every 10 s while supervise hears the receiver on the local bus); stale: the peer's word is unknown, start nothing new (rule 9)",
  },
  SENDER_AT: {
    type: 'time',
    owner: 'sender',
    original: false,
    doc: "sender's liveness stamp (every 2 s; every 10 s while supervise hears the sender on the local bus)",
  },
  SENDER_STARTED_AT: {
    decides: true,
    type: 'time',
    owner: 'sender',
    original: false,
    doc: 'when the sender started, or resumed after its own stall; it sends PROGRESS until supervise has decided after this',
  },
  SUPERVISE_AT: {
    type: 'time',
    owner: 'supervise',
    original: false,
    doc: "supervise's liveness stamp (at least every 2 s; every 10 s while the sender hears supervise on the local bus); stale: the sender sends PROGRESS (rule 9)",
  },
  SPLIT_BRAIN: {
    type: 'string',
    owner: 'supervise',
    original: false,
    doc: 'while another host answers for a resource this node holds (its probe): "<resource> answered by <MACs>"; absent otherwise',
  },
  WITNESS: {
    type: 'string-or-null',
    owner: 'supervise',
    original: false,
    doc: 'with WITNESS (rule 13): held (this node holds the lock), free, other:<node>, unreachable; absent without a witness',
  },
  DECIDED_AT: {
    bus: true,
    type: 'time',
    owner: 'supervise',
    also: ['cli'],
    original: false,
    doc: "when supervise last wrote a decision (the sender's PROGRESS after a start or stall ends with it)",
  },
  SENDER_PAUSE_UNTIL: {
    decides: true,
    bus: true,
    type: 'time',
    owner: 'supervise',
    also: ['sender', 'cli'],
    original: false,
    doc: "'off': the heartbeat is paused until then ('on' clears it; so does supervise when the node takes over or holds the resources during the pause)",
  },
  SENDER_MUTE: {
    bus: true,
    type: 'bit',
    owner: 'supervise',
    also: ['cli'],
    original: false,
    doc: '1: the own gateway check is failing, the sender sends no heartbeat (rule 1)',
  },
  GW_OK: {
    bus: true,
    type: 'bit-or-null',
    owner: 'supervise',
    original: false,
    doc: 'the gateway: 1 answering, 0 lost (GW_FAILS pings in a row without an answer); null: no GW configured',
  },
  ROUTE_OK: {
    bus: true,
    type: 'bit',
    owner: 'supervise',
    original: false,
    doc: '1: a default route exists (checked only when GW is set)',
  },
  FAILED_UNTIL: {
    decides: true,
    type: 'time',
    owner: 'supervise',
    also: ['cli'],
    original: false,
    doc: "FAILED: this node starts nothing until then (rule 8); 'res start' or 'on' clears it",
  },
  OFF_REQUEST: {
    decides: true,
    type: 'time-or-null',
    owner: 'cli',
    also: ['supervise'],
    original: false,
    doc: "set by 'off' (its time, the request's id); supervise consumes it (null)",
  },
  OFF_FORCE: {
    type: 'bit',
    owner: 'cli',
    also: ['supervise'],
    original: false,
    doc: "1: 'off --force' (release even when no peer heartbeat is heard)",
  },
  OFF_ANSWER: {
    type: 'string',
    owner: 'supervise',
    original: false,
    doc: "supervise's answer to the last 'off', in words",
  },
  OFF_ANSWERED: {
    type: 'time',
    owner: 'supervise',
    original: false,
    doc: 'the OFF_REQUEST that OFF_ANSWER and OFF_RESULT answer',
  },
  OFF_RESULT: {
    type: 'enum',
    values: ['released', 'refused', 'failed'],
    owner: 'supervise',
    original: false,
    doc: "outcome of that 'off': released (exit 0), refused or failed (exit 1)",
  },
  REASON: {
    bus: true,
    type: 'string',
    owner: 'supervise',
    also: ['cli'],
    original: false,
    doc: "supervise's last decision and why, for stat",
  },
  ALARM: {
    bus: true,
    type: 'string-or-null',
    owner: 'supervise',
    also: ['cli'],
    original: false,
    doc: 'what needs the operator (gateway, FAILED, receiver or sender not running); null: nothing',
  },
  SENDER_ALARM: {
    type: 'string',
    owner: 'sender',
    original: false,
    doc:
      "the sender's own problems and recent events ('; '-separated): a status file it cannot write, " +
      'a daemon it restarted, resources it stopped because supervise was gone',
  },
  RECEIVER_ALARM: {
    type: 'string',
    owner: 'receiver',
    original: false,
    doc: "the receiver's own problems and recent events: a damaged status file it repaired, a daemon it restarted",
  },
  SUPERVISE_ALARM: {
    type: 'string',
    owner: 'supervise',
    original: false,
    doc: "supervise's own problems and recent events: a check that timed out, a status file it cannot write, a daemon it restarted",
  },
} as const satisfies Record<string, KeyRow>;

type Table = typeof STATUS_KEYS;
type ValueOf<R> = R extends { type: 'enum'; values: readonly (infer E)[] }
  ? E
  : R extends { type: infer T extends keyof ValueTypes }
    ? ValueTypes[T]
    : never;
type NamedKeys = {
  -readonly [K in keyof Table as Table[K] extends { prefix: string } ? never : K]?: ValueOf<Table[K]>;
};
type PatternKeys = {
  -readonly [K in keyof Table as Table[K] extends { prefix: infer P extends string } ? `${P}${string}` : never]:
    | ValueOf<Table[K]>
    | undefined;
};

/** The content of status.dat (every key optional: a missing key is "unknown"). */
export type Status = NamedKeys & PatternKeys;

const ROWS: readonly [string, KeyRow][] = Object.entries(STATUS_KEYS);

/** The row that describes key `k`: its own, else the pattern row whose prefix it has. */
export function keyRow(k: string): KeyRow | undefined {
  if (Object.hasOwn(STATUS_KEYS, k)) {
    const row: KeyRow = STATUS_KEYS[k as keyof Table];
    if (row.prefix === undefined) return row;
  }
  return ROWS.find(([, r]) => r.prefix !== undefined && k.startsWith(r.prefix))?.[1];
}

/** The keys supervise tells the sender over the bus (named keys; and every RES_ key). */
export const SUPERVISE_BUS_KEYS: ReadonlySet<string> = new Set(
  ROWS.filter(([, r]) => r.bus && r.prefix === undefined).map(([k]) => k),
);
const BUS_PREFIXES = ROWS.flatMap(([, r]) => (r.bus && r.prefix !== undefined ? [r.prefix] : []));
export function onSuperviseBus(k: string): boolean {
  return SUPERVISE_BUS_KEYS.has(k) || BUS_PREFIXES.some((p) => k.startsWith(p));
}

/** The keys whose change makes supervise decide at once. */
export const DECIDE_KEYS: readonly (keyof Status)[] = ROWS.filter(([, r]) => r.decides).map(([k]) => k as keyof Status);

/** Keys whose values are times (ms since the epoch): `stat` shows them readably. */
export const TIME_KEYS: ReadonlySet<string> = new Set(
  ROWS.filter(([, r]) => r.prefix === undefined && (r.type === 'time' || r.type === 'time-or-null')).map(([k]) => k),
);

const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const bit = (v: unknown) => v === 0 || v === 1;
const CHECKS: Record<ValueType, (v: unknown, r: KeyRow) => boolean> = {
  'word-or-null': (v) => v === null || (typeof v === 'string' && (WORDS as readonly string[]).includes(v)),
  bit,
  'bit-or-null': (v) => v === null || bit(v),
  count: finite,
  time: finite,
  'time-or-null': (v) => v === null || finite(v),
  string: (v) => typeof v === 'string',
  'string-or-null': (v) => v === null || typeof v === 'string',
  enum: (v, r) => typeof v === 'string' && (r.values ?? []).includes(v),
};

/** Does `v` have the type of row `r`? */
export function validValue(r: KeyRow, v: unknown): boolean {
  return CHECKS[r.type](v, r);
}

/** The values a row accepts, in words (for messages and docs). */
export function describeType(r: KeyRow): string {
  switch (r.type) {
    case 'word-or-null':
      return `${WORDS.join(' | ')} | null`;
    case 'bit':
      return '0 | 1';
    case 'bit-or-null':
      return '0 | 1 | null';
    case 'count':
      return 'number';
    case 'time':
      return 'time (ms since the epoch)';
    case 'time-or-null':
      return 'time (ms since the epoch) | null';
    case 'string':
      return 'string';
    case 'string-or-null':
      return 'string | null';
    case 'enum':
      return (r.values ?? []).join(' | ');
  }
}
