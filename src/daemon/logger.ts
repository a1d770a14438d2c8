// pino JSON lines, one file per daemon (LOGPATH.<daemon>), written synchronously
// so the last lines before a crash are on disk; SIGHUP reopens for logrotate.
import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

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
    return { log: pino({ level, base: { daemon: opts.name, node: opts.node } }, dest), reopen: () => {} };
  }
  // Written synchronously (the last lines before a crash are on disk).
  const dest = new SafeFileDestination(opts.file);
  const log = pino({ level, base: { daemon: opts.name, node: opts.node } }, dest);
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
