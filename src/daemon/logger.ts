// JSON lines in pino's format, one file per daemon (LOGPATH.<daemon>), written
// synchronously so the last lines before a crash are on disk; SIGHUP reopens
// for logrotate. `pha-cli log` (pino-pretty) and any pino tool read them.
// The lines are made here, not by pino itself: pino loads its transport
// machinery (thread-stream, worker_threads) whether it is used or not, 8 MB
// of resident memory in each of the three daemons for nothing they use.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** pino's level numbers. */
const LEVELS = { debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type LogLevelName = keyof typeof LEVELS;

export interface LogFn {
  (fields: object, msg?: string): void;
  (msg: string): void;
}
export type Logger = Record<LogLevelName, LogFn>;

/** An Error as pino's serializer writes it; a circular reference as "[Circular]". */
function replacer(): (key: string, value: unknown) => unknown {
  const seen = new WeakSet<object>();
  return (_key, value) => {
    if (value instanceof Error) return { type: value.name, message: value.message, stack: value.stack };
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'object' && value !== null) {
      if (seen.has(value)) return '[Circular]';
      seen.add(value);
    }
    return value;
  };
}

/** A logger writing one JSON line per call to `dest`: level, time, pid, hostname, `base`, the fields, msg. */
export function jsonLogger(
  o: { level: 'debug' | 'info'; base?: Record<string, unknown> },
  dest: { write(line: string): unknown },
): Logger {
  const min = LEVELS[o.level];
  const head = { pid: process.pid, hostname: os.hostname(), ...o.base };
  const at = (name: LogLevelName): LogFn =>
    ((a: object | string, b?: string) => {
      const level = LEVELS[name];
      if (level < min) return;
      const fields = typeof a === 'string' ? {} : a;
      const msg = typeof a === 'string' ? a : b;
      const line = { level, time: Date.now(), ...head, ...fields, ...(msg === undefined ? {} : { msg }) };
      dest.write(`${JSON.stringify(line, replacer())}\n`);
    }) as LogFn;
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') };
}

export interface LoggerOptions {
  name: string; // daemon
  node: string;
  debug: number;
  file?: string; // undefined: stderr
}

/**
 * A log file that never kills the daemon: a failed write (full disk,
 * read-only var/) is counted and reported through `onProblem`, and the lines
 * go to stderr meanwhile; the next write tries the file again.
 */
export class SafeFileDestination {
  private fd: number | null = null;
  private readonly file: string;
  failed = 0;
  lastError: string | null = null;
  onProblem: (msg: string | null) => void = () => {};

  constructor(file: string) {
    this.file = file;
    this.open();
  }

  private open(): void {
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      this.fd = fs.openSync(this.file, 'a');
    } catch (e) {
      this.fd = null;
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    this.failed++;
    const msg = `log file ${this.file} not writable: ${(e as Error).message}`;
    if (this.lastError === null) this.onProblem(msg);
    this.lastError = msg;
  }

  write(line: string): boolean {
    if (this.fd === null) this.open();
    if (this.fd !== null) {
      try {
        fs.writeSync(this.fd, line);
        if (this.lastError !== null) {
          this.lastError = null;
          this.onProblem(null);
        }
        return true;
      } catch (e) {
        this.fail(e);
      }
    }
    try {
      fs.writeSync(2, line);
    } catch {
      /* nowhere to write: the line is lost, the daemon lives */
    }
    return true;
  }

  reopen(): void {
    if (this.fd !== null) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* already closed */
      }
    }
    this.fd = null;
    this.open();
  }
}

export function createLogger(opts: LoggerOptions): { log: Logger; reopen(): void; dest?: SafeFileDestination } {
  const level = opts.debug > 0 ? 'debug' : 'info';
  if (!opts.file) {
    const dest = {
      write: (s: string) => {
        try {
          fs.writeSync(2, s);
        } catch {
          /* stderr gone */
        }
        return true;
      },
    };
    return { log: jsonLogger({ level, base: { daemon: opts.name, node: opts.node } }, dest), reopen: () => {} };
  }
  // Written synchronously (the last lines before a crash are on disk).
  const dest = new SafeFileDestination(opts.file);
  const log = jsonLogger({ level, base: { daemon: opts.name, node: opts.node } }, dest);
  return { log, reopen: () => dest.reopen(), dest };
}

/** Logs a repeated problem once per `intervalMs` with a count, not 5 times a second. */
export function rateLimited(log: Logger, intervalMs = 60_000): (msg: string) => void {
  const seen = new Map<string, { at: number; n: number }>();
  return (msg: string) => {
    const now = Date.now();
    const s = seen.get(msg);
    if (s && now - s.at < intervalMs) {
      s.n++;
      return;
    }
    log.warn({ repeats: s?.n ?? 0 }, msg);
    seen.set(msg, { at: now, n: 0 });
  };
}
