// pha-cli log [sender|receiver|supervise …] [-f] [-n N]: the daemons' pino
// logs (LOGPATH.<daemon>, JSON lines) merged in time order and pretty-printed
// with pino-pretty. -f follows them until `q` or Ctrl-C, across a rotation
// too: logrotate moves the file away and the daemon reopens it on SIGHUP, so
// a file whose inode changed (or that shrank) is read again from its start.
import fs from 'node:fs';
import path from 'node:path';
import { prettyFactory } from 'pino-pretty';
import { DAEMONS, type DaemonName } from '../daemon/pidfile.js';
import { type LiveIo, liveSession } from './live.js';

export const LOG_LINES_DEFAULT = 20;
/** How much of each file's end is read for the last lines (a pino line is well under 4 KiB). */
const TAIL_BYTES = 1 << 20;
/** A safety net beside the directory watch (which a busy or odd file system may not deliver). */
const FOLLOW_POLL_MS = 1000;

export interface LogArgs {
  daemons: DaemonName[];
  follow: boolean;
  lines: number;
}

/** The arguments after `log`; a clear error for anything else. */
export function parseLogArgs(args: readonly string[]): LogArgs | { error: string } {
  const daemons: DaemonName[] = [];
  let follow = false;
  let lines = LOG_LINES_DEFAULT;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-f' || a === '--follow') follow = true;
    else if (a === '-n' || a === '--lines') {
      const n = Number(args[++i]);
      if (!Number.isSafeInteger(n) || n < 0)
        return { error: `log: ${a} needs a whole number of lines, 0 or more (got '${args[i] ?? ''}')` };
      lines = n;
    } else if ((DAEMONS as readonly string[]).includes(a)) {
      if (!daemons.includes(a as DaemonName)) daemons.push(a as DaemonName);
    } else return { error: `log: unknown argument '${a}' (expected sender, receiver, supervise, -f or -n N)` };
  }
  return { daemons: daemons.length ? daemons : [...DAEMONS], follow, lines };
}

interface Line {
  time: number;
  daemon: DaemonName;
  text: string; // as in the file (a JSON line, or anything else)
}

/** Lines of one file's text; a line that is not pino JSON takes the time of the line before it. */
function parseLines(text: string, daemon: DaemonName, after = 0): Line[] {
  const out: Line[] = [];
  let t = after;
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    try {
      const v = JSON.parse(raw) as { time?: unknown };
      if (typeof v.time === 'number') t = v.time;
    } catch {
      /* not JSON: shown as it is */
    }
    out.push({ time: t, daemon, text: raw });
  }
  return out;
}

export function logFile(logPath: string, d: DaemonName): string {
  return `${logPath}.${d}`;
}

/** The last `n` lines of the daemons' logs, merged by time (a stable sort: one file's order is kept). */
export function lastLines(logPath: string, daemons: readonly DaemonName[], n: number): Line[] {
  const all: Line[] = [];
  for (const d of daemons) {
    let text = '';
    try {
      const fd = fs.openSync(logFile(logPath, d), 'r');
      try {
        const size = fs.fstatSync(fd).size;
        const from = Math.max(0, size - TAIL_BYTES);
        const buf = Buffer.alloc(size - from);
        fs.readSync(fd, buf, 0, buf.length, from);
        text = buf.toString('utf8');
        if (from > 0) text = text.slice(text.indexOf('\n') + 1); // a cut first line
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      continue; // no log yet
    }
    all.push(...parseLines(text, d));
  }
  all.sort((a, b) => a.time - b.time);
  return n === 0 ? [] : all.slice(-n);
}

/** A printer: pino-pretty for JSON lines (colour on a terminal without NO_COLOR), other lines as they are. */
export function printer(color: boolean): (l: Line) => string {
  const pretty = prettyFactory({
    colorize: color,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    messageFormat: '({daemon}) {msg}',
    ignore: 'pid,hostname,node,daemon',
    singleLine: true,
  });
  return (l) => {
    if (!l.text.startsWith('{')) return `[${l.daemon}] ${l.text}\n`;
    try {
      return pretty(`${l.text}\n`);
    } catch {
      return `[${l.daemon}] ${l.text}\n`;
    }
  };
}

/** One file followed: what was read of which inode. */
interface Followed {
  daemon: DaemonName;
  file: string;
  ino: number;
  offset: number;
  rest: string; // a last line not ended yet
}

function readNew(f: Followed): Line[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(f.file);
  } catch {
    return []; // moved away, not reopened yet
  }
  if (st.ino !== f.ino || st.size < f.offset) {
    // Rotated (a new file) or truncated: from its start.
    f.ino = st.ino;
    f.offset = 0;
    f.rest = '';
  }
  if (st.size === f.offset) return [];
  const fd = fs.openSync(f.file, 'r');
  try {
    const buf = Buffer.alloc(st.size - f.offset);
    const n = fs.readSync(fd, buf, 0, buf.length, f.offset);
    f.offset += n;
    const text = f.rest + buf.subarray(0, n).toString('utf8');
    const cut = text.lastIndexOf('\n');
    f.rest = text.slice(cut + 1);
    return parseLines(text.slice(0, cut + 1), f.daemon);
  } finally {
    fs.closeSync(fd);
  }
}

export async function runLog(logPath: string, a: LogArgs, io: LiveIo): Promise<number> {
  const color = !!io.output.isTTY && !process.env.NO_COLOR;
  const print = printer(color);
  for (const l of lastLines(logPath, a.daemons, a.lines)) io.output.write(print(l));
  if (!a.follow) return 0;
  const followed: Followed[] = a.daemons.map((d) => {
    const file = logFile(logPath, d);
    let ino = 0;
    let offset = 0;
    try {
      const st = fs.statSync(file);
      ino = st.ino;
      offset = st.size;
    } catch {
      /* appears later */
    }
    return { daemon: d, file, ino, offset, rest: '' };
  });
  const pump = () => {
    const batch = followed.flatMap(readNew).sort((x, y) => x.time - y.time);
    for (const l of batch) io.output.write(print(l));
  };
  const live = liveSession(io);
  let watcher: fs.FSWatcher | undefined;
  try {
    watcher = fs.watch(path.dirname(logFile(logPath, 'sender')), () => pump());
  } catch {
    /* the poll alone */
  }
  const poll = setInterval(pump, FOLLOW_POLL_MS);
  await live.stopped;
  clearInterval(poll);
  watcher?.close();
  live.end();
  return 0;
}
