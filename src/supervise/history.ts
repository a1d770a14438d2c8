// The transitions of this node, kept for the operator: the last 50 in
// var/history.json (replaced atomically, so a crash leaves the old list or
// the new one, never half), each with its timeline, numbered by PHA_SEQ
// (var/notify.seq: the number grows across restarts). supervise writes it;
// pha-cli stat and history read it.
import fs from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import { writeFileDurable } from '../heartbeat/durable-file.js';
import { type Timeline, timelineLine } from './timeline.js';
import type { NotifyEvent, Transition } from './transitions.js';

export const HISTORY_FILE = 'history.json';
export const SEQ_FILE = 'notify.seq';
export const HISTORY_MAX = 50;

export interface HistoryEntry {
  seq: number;
  at: number; // wall, ms since the epoch
  event: NotifyEvent;
  now: string;
  old: string;
  reason: string;
  timeline?: Timeline;
}

interface Log {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
}

export class History {
  private readonly file: string;
  private readonly seqFile: string;
  private entries: HistoryEntry[];
  private seq: number;

  constructor(
    varDir: string,
    private readonly log: Log,
    private readonly max = HISTORY_MAX,
  ) {
    this.file = path.join(varDir, HISTORY_FILE);
    this.seqFile = path.join(varDir, SEQ_FILE);
    const read = readHistory(varDir);
    if (read.problem) {
      // Kept aside, not overwritten: the operator may want what it held.
      const aside = `${this.file}.bad`;
      try {
        fs.renameSync(this.file, aside);
      } catch {}
      log.warn({ file: this.file, aside }, `${read.problem}: starting a new history (the old file is ${aside})`);
    }
    this.entries = read.entries;
    this.seq = Math.max(readSeq(this.seqFile), this.entries.at(-1)?.seq ?? 0);
  }

  /** The newest entries, oldest first. */
  list(): readonly HistoryEntry[] {
    return this.entries;
  }

  /** A transition happened: numbered, logged as one line, kept. */
  add(t: Transition): HistoryEntry {
    this.seq++;
    this.write(this.seqFile, `${this.seq}\n`, 'PHA_SEQ may repeat after a restart');
    const e: HistoryEntry = { seq: this.seq, at: t.wall, event: t.event, now: t.now, old: t.old, reason: t.reason };
    if (t.timeline) e.timeline = t.timeline;
    this.entries = [...this.entries, e].slice(-this.max);
    this.save();
    this.log.info({ seq: e.seq, event: e.event, timeline: e.timeline }, `transition #${e.seq}: ${timelineLine(e)}`);
    return e;
  }

  /** The hooks of transition `seq` are done (`doneMs` after it; the first finished at `firstMs`). */
  hooksDone(seq: number, hooks: { doneMs: number; firstMs: number; failed: number }): HistoryEntry | undefined {
    const e = this.entries.find((x) => x.seq === seq);
    if (!e?.timeline) return undefined;
    e.timeline = { ...e.timeline, hooks };
    this.save();
    return e;
  }

  private save(): void {
    this.write(this.file, `${JSON.stringify(this.entries, null, 1)}\n`, 'the history shown by pha-cli is behind');
  }

  private write(file: string, text: string, consequence: string): void {
    try {
      writeFileDurable(file, text, 0o644, { durable: false });
    } catch (e) {
      this.log.warn({ err: errorMessage(e), file }, `cannot write ${file}: ${consequence}`);
    }
  }
}

/** What var/history.json holds (none yet: empty); a file that is not a history is a problem, named. */
export function readHistory(varDir: string): { entries: HistoryEntry[]; problem?: string } {
  const file = path.join(varDir, HISTORY_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [] };
    return { entries: [], problem: `${file}: cannot read: ${errorMessage(e)}` };
  }
  try {
    const v: unknown = JSON.parse(text);
    if (!Array.isArray(v) || !v.every(isEntry)) throw new Error('expected a list of transitions');
    return { entries: v };
  } catch (e) {
    return { entries: [], problem: `${file}: not a history (${errorMessage(e)})` };
  }
}

function isEntry(x: unknown): x is HistoryEntry {
  const e = x as HistoryEntry;
  return (
    typeof e === 'object' &&
    e !== null &&
    Number.isSafeInteger(e.seq) &&
    typeof e.at === 'number' &&
    typeof e.now === 'string' &&
    typeof e.old === 'string' &&
    typeof e.reason === 'string'
  );
}

function readSeq(file: string): number {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
  } catch {
    return 0;
  }
}
