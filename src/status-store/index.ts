// status.dat: the one shared state of a node's daemons and the CLI.
// Readers never lock (writes are temp file + rename, so a read sees a whole
// file); writers do read-modify-write under proper-lockfile.
import fs from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { PhaError, errorMessage } from '../errors.js';

export type Word = 'ONLINE' | 'OFFLINE' | 'PROGRESS';
export const WORDS: readonly Word[] = ['ONLINE', 'OFFLINE', 'PROGRESS'];
export type ResState = 'UP' | 'DOWN';

export interface Status {
  // keys of the original
  STATUS?: Word | null;
  RECEIVER_IN?: Word | null;
  SENDER_RUN?: 0 | 1;
  SUPERVISE?: 0 | 1;
  CLI?: 0 | 1;
  [res: `RES_${string}`]: ResState | undefined;
  // keys of the port (ms since the epoch unless named otherwise)
  RECEIVER_IN_SINCE?: number; // when RECEIVER_IN took its current value
  RECEIVER_STARTED_AT?: number; // receiver socket bound
  RECEIVER_DROPPED?: number; // datagrams that were not a heartbeat from the peer
  RECEIVER_STALL_AT?: number;
  SENDER_AT?: number;
  SENDER_STARTED_AT?: number;
  RECEIVER_AT?: number;
  SUPERVISE_AT?: number;
  DECIDED_AT?: number; // supervise's last decision written
  SENDER_PAUSE_UNTIL?: number; // "off": heartbeat paused until
  SENDER_MUTE?: 0 | 1; // own gateway failing: no heartbeat
  GW_OK?: 0 | 1 | null; // null: no GW configured
  ROUTE_OK?: 0 | 1;
  FAILED_UNTIL?: number; // FAIL_HOLDDOWN deadline
  OFF_REQUEST?: number | null; // set by "off", consumed by supervise
  OFF_FORCE?: 0 | 1;
  REASON?: string; // last decision of supervise, for stat
  ALARM?: string | null; // what needs the operator
  OFF_ANSWER?: string; // supervise's answer to the last "off"
  OFF_ANSWERED?: number; // the OFF_REQUEST it answers
  OFF_RESULT?: 'released' | 'refused' | 'failed'; // outcome of that answer
}

export interface StatusStoreOptions {
  file: string;
  /** Called for a replaced corrupt file or a compromised lock; never throws. */
  onProblem?: (msg: string) => void;
  /** Lock stale time (ms): proper-lockfile's minimum is 2000. */
  staleMs?: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keep only keys whose values have the right type; report the others. */
export function sanitize(input: unknown, problems: string[] = []): Status {
  if (!isObject(input)) {
    problems.push('content is not a JSON object');
    return {};
  }
  const out: Record<string, unknown> = {};
  const word = (v: unknown) => v === null || (typeof v === 'string' && (WORDS as readonly string[]).includes(v));
  for (const [k, v] of Object.entries(input)) {
    let ok: boolean;
    if (k === 'STATUS' || k === 'RECEIVER_IN') ok = word(v);
    else if (k === 'SENDER_RUN' || k === 'SUPERVISE' || k === 'CLI' || k === 'SENDER_MUTE' || k === 'ROUTE_OK' || k === 'OFF_FORCE') ok = v === 0 || v === 1;
    else if (k === 'GW_OK') ok = v === 0 || v === 1 || v === null;
    else if (k.startsWith('RES_')) ok = v === 'UP' || v === 'DOWN';
    else if (k === 'REASON' || k === 'OFF_ANSWER') ok = typeof v === 'string';
    else if (k === 'OFF_RESULT') ok = v === 'released' || v === 'refused' || v === 'failed';
    else if (k === 'ALARM') ok = typeof v === 'string' || v === null;
    else if (k === 'OFF_REQUEST') ok = v === null || (typeof v === 'number' && Number.isFinite(v));
    else ok = typeof v === 'number' && Number.isFinite(v);
    if (ok) out[k] = v;
    else problems.push(`key ${k} has an invalid value ${JSON.stringify(v)}: dropped`);
  }
  return out as Status;
}

export type Patch = Partial<Status> | Record<string, unknown>;

export class StatusStore {
  readonly file: string;
  private readonly onProblem: (msg: string) => void;
  private readonly lockOpts: lockfile.LockOptions;
  private tmpSeq = 0;

  constructor(opts: StatusStoreOptions) {
    this.file = opts.file;
    this.onProblem = opts.onProblem ?? (() => {});
    const stale = Math.max(2000, opts.staleMs ?? 2000);
    this.lockOpts = {
      // The lock is a directory next to the file; the file itself may not exist yet.
      realpath: false,
      stale,
      update: Math.floor(stale / 2),
      // Budget well past `stale` so a lock left by a SIGKILLed holder is taken over
      // (after ~stale ms), never given up on.
      retries: { retries: 400, factor: 1.2, minTimeout: 2, maxTimeout: 25, randomize: true },
      onCompromised: (err: Error) => this.onProblem(`status lock compromised (${err.message}); the next update takes it again`),
    };
    // var/ holds the status and the heartbeat's generation files: ours alone.
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
  }

  /** The current status; a missing file is empty, a corrupt one is reported and read as empty. */
  read(): Status {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      this.onProblem(`cannot read ${this.file}: ${errorMessage(e)}`);
      return {};
    }
    return this.parse(text);
  }

  private parse(text: string): Status {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      this.onProblem(`${this.file} is corrupt (${errorMessage(e)}); it is replaced at the next update`);
      return {};
    }
    const problems: string[] = [];
    const s = sanitize(data, problems);
    for (const p of problems) this.onProblem(`${this.file}: ${p}`);
    return s;
  }

  /**
   * Read-modify-write under the lock. `change` returns the keys to set
   * (undefined deletes a key) or nothing. Returns the status as written.
   */
  async update(change: Patch | ((cur: Status) => Patch | void)): Promise<Status> {
    let release: (() => Promise<void>) | undefined;
    try {
      release = await lockfile.lock(this.file, this.lockOpts);
    } catch (e) {
      throw new PhaError('PHA_ERR_STATUS_LOCK', `cannot lock ${this.file}: ${errorMessage(e)}`);
    }
    try {
      const cur = this.read();
      const patch = typeof change === 'function' ? change(cur) : change;
      const next: Record<string, unknown> = { ...cur };
      if (patch) {
        for (const [k, v] of Object.entries(patch)) {
          if (v === undefined) delete next[k];
          else next[k] = v;
        }
      }
      this.writeAtomic(next);
      return next as Status;
    } finally {
      try {
        await release();
      } catch (e) {
        this.onProblem(`releasing the status lock: ${errorMessage(e)}`);
      }
    }
  }

  private writeAtomic(data: Record<string, unknown>): void {
    const tmp = `${this.file}.tmp.${process.pid}.${this.tmpSeq++}`;
    const sorted = Object.fromEntries(Object.entries(data).sort(([a], [b]) => a.localeCompare(b)));
    try {
      fs.writeFileSync(tmp, JSON.stringify(sorted, null, 1) + '\n', { mode: 0o600 });
      fs.renameSync(tmp, this.file);
    } catch (e) {
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        /* nothing left to do */
      }
      throw e;
    }
  }
}

/**
 * Calls `onChange` when status.dat is replaced. Watches the directory, because a
 * watch on the file itself stops firing after the first rename.
 */
export function watchStatus(file: string, onChange: () => void): { close(): void } {
  const base = path.basename(file);
  const w = fs.watch(path.dirname(file), { persistent: true }, (_ev, name) => {
    if (name === base) onChange();
  });
  w.on('error', () => {
    /* the directory vanished: the periodic reads still work */
  });
  return { close: () => w.close() };
}
