// Records of the resource scripts that run (var/run/scripts/<pgid>), so that a
// script whose daemon was killed -9 does not run on unsupervised: the next
// supervise kills such orphans at its start, the fencing sender kills every
// script not its own before it stops the resources (docs/daemons.md).
// judge() decides from facts; ScriptRecords does the file and /proc I/O.
import fs from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import { isDeadState, procStatFields } from '../proc.js';

/** One running script call, as its owner recorded it right after the spawn. */
export interface ScriptRecord {
  owner: string; // the daemon that runs it (sender, supervise)
  ownerPid: number;
  ownerStart: number; // the owner's start time (/proc/<pid>/stat field 22): a reused pid is not the owner
  pgid: number; // the script's process group (its pid: it leads its own group)
  start: number; // the group leader's start time: a reused pgid is not the script
  resource: string;
  action: string;
  at: number; // wall ms of the spawn (the age in the log)
}

/**
 * own: ours; foreign: its owner runs (another daemon, or a frozen one);
 * orphan: its owner died (or its pid now names another process) and the
 * script still runs; stale: the script is gone (or its pgid was reused),
 * only the file is left.
 */
export type Verdict = 'own' | 'foreign' | 'orphan' | 'stale';

/** What /proc says now: the start time of the record's group leader and of its owner's pid (null: no such process). */
export interface Facts {
  leaderStart: number | null;
  ownerStart: number | null;
}

export function judge(r: ScriptRecord, facts: Facts, selfPid: number): Verdict {
  if (facts.leaderStart !== r.start) return 'stale';
  if (facts.ownerStart !== r.ownerStart) return 'orphan';
  return r.ownerPid === selfPid ? 'own' : 'foreign';
}

/**
 * Is a script with this verdict killed? Orphans always (nobody enforces
 * their timeout, nobody acts on their result); with `foreign` (the fencing
 * sender) also a live owner's, but not its notify hook, which touches no
 * resource (its alert still goes out).
 */
export function toKill(v: Verdict, action: string, kill: { foreign: boolean }): boolean {
  return v === 'orphan' || (v === 'foreign' && kill.foreign && action !== 'notify');
}

const FIELDS: (keyof ScriptRecord)[] = ['owner', 'ownerPid', 'ownerStart', 'pgid', 'start', 'resource', 'action', 'at'];

/** A record's text, or why it is not one (a damaged file must never throw). */
export function parseRecord(text: string): ScriptRecord | { problem: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { problem: 'not JSON' };
  }
  if (typeof v !== 'object' || v === null) return { problem: 'not an object' };
  const o = v as Record<string, unknown>;
  for (const k of FIELDS) {
    const want = k === 'owner' || k === 'resource' || k === 'action' ? 'string' : 'number';
    if (typeof o[k] !== want) return { problem: `${k} missing or not a ${want}` };
  }
  for (const k of ['ownerPid', 'pgid'] as const)
    if (!Number.isInteger(o[k]) || (o[k] as number) <= 1) return { problem: `${k} ${o[k]} is not a process` };
  return o as unknown as ScriptRecord;
}

/**
 * Field 22 of /proc/<pid>/stat (clock ticks since boot); null when there is
 * no such process, or it is a zombie: a killed owner nobody reaped yet is
 * dead (as the watchdog's pidAlive says), and a script that has exited is
 * not killed for what it left in its group.
 */
export function procStart(pid: number): number | null {
  try {
    const rest = procStatFields(pid);
    if (isDeadState(rest[0])) return null;
    const v = Number(rest[22 - 3]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

/** What a sweep did with one file. */
export type SweepEntry =
  | { verdict: Verdict; record: ScriptRecord; killed: boolean; ageMs: number; error?: string }
  | { verdict: 'damaged'; file: string; problem: string };

export type RecordsLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export function scriptsDir(runDir: string): string {
  return path.join(runDir, 'scripts');
}

/** A daemon's records, logged through its logger, kills told as an alarm event. */
export function daemonRecords(
  runDir: string,
  owner: string,
  log: { [L in 'info' | 'warn' | 'error']: (fields: object, msg: string) => void },
  alarms?: { event(text: string): void },
): ScriptRecords {
  return new ScriptRecords(
    scriptsDir(runDir),
    owner,
    (level, msg, fields) => log[level](fields ?? {}, msg),
    (text) => alarms?.event(text),
  );
}

/** The records of one process: written after a spawn, removed when the call ends, swept by the next owner. */
export class ScriptRecords {
  private readonly selfStart: number | null;
  private problem: string | null = null;

  constructor(
    readonly dir: string,
    private readonly owner: string,
    private readonly log: RecordsLog = () => {},
    /** A one-shot alarm (pha-cli stat shows it for a while): the operator must see that scripts were killed. */
    private readonly event: (text: string) => void = () => {},
    private readonly now: () => number = Date.now,
    readonly selfPid: number = process.pid,
  ) {
    this.selfStart = procStart(selfPid);
  }

  /** Record a script that has just been spawned (its pid leads its group). Never throws. */
  add(pgid: number, resource: string, action: string): void {
    const start = procStart(pgid);
    // Gone already (or no /proc): nothing that could outlive us to record.
    if (start === null || this.selfStart === null) return;
    const r: ScriptRecord = {
      owner: this.owner,
      ownerPid: this.selfPid,
      ownerStart: this.selfStart,
      pgid,
      start,
      resource,
      action,
      at: this.now(),
    };
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      // One small write(2): a kill -9 cannot tear it; a power cut leaves a
      // damaged record, which a sweep logs and removes (its script died too).
      fs.writeFileSync(path.join(this.dir, String(pgid)), `${JSON.stringify(r)}\n`, { mode: 0o600 });
      if (this.problem) this.log('info', 'script records writable again', { dir: this.dir });
      this.problem = null;
    } catch (e) {
      const why = errorMessage(e);
      // Once per problem: a script that cannot be recorded still runs.
      if (this.problem !== why)
        this.log(
          'error',
          `cannot record running scripts in ${this.dir}: ${why} (an orphan of this daemon would not be killed)`,
        );
      this.problem = why;
    }
  }

  remove(pgid: number): void {
    try {
      fs.unlinkSync(path.join(this.dir, String(pgid)));
    } catch {
      /* never written, or swept */
    }
  }

  /**
   * Read every record and act on it: remove stale and damaged ones, kill the
   * process group of each orphan (and with `foreign`, of each script a live
   * other owner runs), then remove its record. Each kill is logged. Never
   * throws: the fence's stops run after it whatever the files hold.
   */
  sweep(kill: { foreign: boolean }, facts: (r: ScriptRecord) => Facts = readFacts): SweepEntry[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        this.log('error', `cannot read the script records in ${this.dir}: ${errorMessage(e)}`);
      return [];
    }
    const out: SweepEntry[] = [];
    for (const name of names.sort()) {
      const file = path.join(this.dir, name);
      let parsed: ReturnType<typeof parseRecord>;
      try {
        parsed = parseRecord(fs.readFileSync(file, 'utf8'));
      } catch (e) {
        parsed = { problem: errorMessage(e) };
      }
      if ('problem' in parsed || String(parsed.pgid) !== name) {
        const problem = 'problem' in parsed ? parsed.problem : `names pgid ${parsed.pgid}`;
        this.log('warn', `damaged script record ${file} (${problem}): removed, nothing killed`, { file, problem });
        rmQuiet(file);
        out.push({ verdict: 'damaged', file, problem });
        continue;
      }
      const r = parsed;
      const verdict = judge(r, facts(r), this.selfPid);
      const ageMs = Math.max(0, this.now() - r.at);
      if (verdict === 'own') continue;
      if (verdict === 'stale') rmQuiet(file);
      if (!toKill(verdict, r.action, kill)) {
        out.push({ verdict, record: r, killed: false, ageMs });
        continue;
      }
      let error: string | undefined;
      try {
        process.kill(-r.pgid, 'SIGKILL');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') error = errorMessage(e);
      }
      const fields = {
        resource: r.resource,
        action: r.action,
        pgid: r.pgid,
        owner: r.owner,
        ownerPid: r.ownerPid,
        ageMs,
        error,
      };
      const whose = `${r.owner} (pid ${r.ownerPid}${verdict === 'orphan' ? ', dead' : ''})`;
      if (error)
        this.log('error', `cannot kill res ${r.resource} ${r.action} of ${whose}, pgid ${r.pgid}: ${error}`, fields);
      else
        this.log(
          'warn',
          `killed res ${r.resource} ${r.action} of ${whose}: pgid ${r.pgid}, running for ${Math.round(ageMs / 1000)} s`,
          fields,
        );
      if (!error) rmQuiet(file);
      out.push({ verdict, record: r, killed: !error, ageMs, error });
    }
    const killed = out.flatMap((e) => ('record' in e && e.killed ? [e.record] : []));
    if (killed.length)
      this.event(
        `killed ${killed.length === 1 ? 'a script' : `${killed.length} scripts`} left running by another process: ${killed
          .map((r) => `res ${r.resource} ${r.action} of ${r.owner} ${r.ownerPid}`)
          .join(', ')}`,
      );
    return out;
  }
}

function readFacts(r: ScriptRecord): Facts {
  return { leaderStart: procStart(r.pgid), ownerStart: procStart(r.ownerPid) };
}

function rmQuiet(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    /* gone already */
  }
}
