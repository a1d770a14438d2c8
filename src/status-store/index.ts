// status.dat: the one shared state of a node's daemons and the CLI.
// Readers never lock (writes are temp file + rename, so a read sees a whole
// file); writers do read-modify-write under proper-lockfile.
import fs from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { errorMessage, PhaError } from '../errors.js';
import { sleep } from '../wait.js';
import { woke } from '../wakeups.js';
import { describeType, keyRow, type Status, validValue } from './keys.js';

export { keyRow, type ResState, STATUS_KEYS, type Status, TIME_KEYS } from './keys.js';

export interface StatusStoreOptions {
  file: string;
  /** Called for a replaced corrupt file or a compromised lock; never throws. */
  onProblem?: (msg: string) => void;
  /** Called each time a read finds the file corrupt, truncated, missing (after it existed) or unreadable. */
  onDamaged?: (what: string) => void;
  /** Lock stale time (ms): proper-lockfile's minimum is 2000. */
  staleMs?: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Keep only keys whose values have the type the key table gives them; report
 * the others. A key not in the table is kept when its value is a number (a
 * newer version's time or counter), else dropped.
 */
export function sanitize(input: unknown, problems: string[] = []): Status {
  if (!isObject(input)) {
    problems.push('content is not a JSON object');
    return {};
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    const row = keyRow(k);
    if (row ? validValue(row, v) : typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    else if (row)
      problems.push(`key ${k} has an invalid value ${JSON.stringify(v)} (expected ${describeType(row)}): dropped`);
    else problems.push(`unknown key ${k} with a non-number value ${JSON.stringify(v)}: dropped`);
  }
  return out as Status;
}

export type Patch = Partial<Status> | Record<string, unknown>;

export class StatusStore {
  readonly file: string;
  private readonly onProblem: (msg: string) => void;
  private readonly onDamaged: (what: string) => void;
  private readonly lockOpts: lockfile.LockOptions;
  private tmpSeq = 0;
  private lastGood: Status | undefined;
  private readonly lockBudgetMs: number;
  /** Set while the file read back was corrupt, missing or unreadable (an alarm). */
  damaged: string | null = null;
  /** The last failed write (null after a write succeeded): an alarm, the daemon goes on. */
  writeError: string | null = null;

  constructor(opts: StatusStoreOptions) {
    this.file = opts.file;
    this.onProblem = opts.onProblem ?? (() => {});
    this.onDamaged = opts.onDamaged ?? (() => {});
    const stale = Math.max(2000, opts.staleMs ?? 2000);
    this.lockOpts = {
      // The lock is a directory next to the file; the file itself may not exist yet.
      realpath: false,
      stale,
      update: Math.floor(stale / 2),
      retries: 0, // our own loop in lock(): only a held lock is waited for
      onCompromised: (err: Error) =>
        this.onProblem(`status lock compromised (${err.message}); the next update takes it again`),
    };
    // Budget well past `stale` so a lock left by a SIGKILLed holder is taken
    // over (after ~stale ms), never given up on.
    this.lockBudgetMs = stale * 2 + 1000;
    try {
      // var/ holds the status and the heartbeat's generation files: ours alone.
      fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    } catch {
      /* reported by the first write */
    }
  }

  /**
   * The current status. A corrupt, truncated or (after we have seen it) missing
   * file is reported and read as the last good state this process saw: one
   * broken write or an editor's accident never wipes keys others own.
   */
  read(): Status {
    woke('file.read');
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        if (this.lastGood === undefined) return {};
        this.onProblem(
          `status file ${this.file} is missing; using the last good state, it is written again at the next update`,
        );
        this.damaged = `status file missing`;
        this.onDamaged(this.damaged);
        return { ...this.lastGood };
      }
      this.onProblem(`cannot read ${this.file}: ${errorMessage(e)}`);
      this.damaged = `status file unreadable (${errorMessage(e)})`;
      this.onDamaged(this.damaged);
      return { ...(this.lastGood ?? {}) };
    }
    return this.parse(text);
  }

  private parse(text: string): Status {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      this.onProblem(
        `status file ${this.file} is corrupt (${errorMessage(e)}); using the last good state, it is replaced at the next update`,
      );
      this.damaged = `status file corrupt (${errorMessage(e)})`;
      this.onDamaged(this.damaged);
      return { ...(this.lastGood ?? {}) };
    }
    const problems: string[] = [];
    const s = sanitize(data, problems);
    for (const p of problems) this.onProblem(`${this.file}: ${p}`);
    if (problems.length === 0 || Object.keys(s).length > 0) {
      this.lastGood = s;
      this.damaged = null;
    }
    return s;
  }

  /**
   * Take the lock. A held lock is waited for (a lock left by a killed holder
   * is taken over after `stale`); any other error (read-only or full var/)
   * fails at once instead of retrying for seconds.
   */
  private async lock(): Promise<() => Promise<void>> {
    const deadline = Date.now() + this.lockBudgetMs;
    let wait = 2;
    for (;;) {
      try {
        return await lockfile.lock(this.file, this.lockOpts);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ELOCKED' || Date.now() >= deadline) {
          if (code !== 'ELOCKED')
            this.writeError = new PhaError('PHA_ERR_STATUS_WRITE', this.file, errorMessage(e)).message;
          throw new PhaError('PHA_ERR_STATUS_LOCK', this.file, errorMessage(e));
        }
      }
      await sleep(wait + Math.random() * wait);
      wait = Math.min(25, wait * 1.3);
    }
  }

  /**
   * Read-modify-write under the lock. `change` returns the keys to set
   * (undefined deletes a key) or nothing. Returns the status as written.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a change that returns nothing changes nothing
  async update(change: Patch | ((cur: Status) => Patch | void)): Promise<Status> {
    const release = await this.lock();
    try {
      const cur = this.read();
      const existed = this.damaged === null && fs.existsSync(this.file);
      const patch = typeof change === 'function' ? change(cur) : change;
      const next: Record<string, unknown> = { ...cur };
      if (patch) {
        for (const [k, v] of Object.entries(patch)) {
          if (v === undefined) delete next[k];
          else next[k] = v;
        }
      }
      try {
        // Deleted between our read and our write (the write would hide it): still a damage to report.
        if (existed && !fs.existsSync(this.file)) {
          this.damaged = 'status file missing';
          this.onDamaged(this.damaged);
        }
        woke('file.write');
        this.writeAtomic(next);
      } catch (e) {
        const err = new PhaError('PHA_ERR_STATUS_WRITE', this.file, errorMessage(e));
        this.writeError = err.message;
        throw err;
      }
      this.writeError = null;
      this.lastGood = next as Status;
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
      fs.writeFileSync(tmp, `${JSON.stringify(sorted, null, 1)}\n`, { mode: 0o600 });
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
    woke('file.watch');
    if (name === base) onChange();
  });
  w.on('error', () => {
    /* the directory vanished: the periodic reads still work */
  });
  return { close: () => w.close() };
}
