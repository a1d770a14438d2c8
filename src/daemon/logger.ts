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

export function createLogger(opts: LoggerOptions): { log: Logger; reopen(): void } {
  const level = opts.debug > 0 ? 'debug' : 'info';
  if (!opts.file) {
    const dest = pino.destination({ dest: 2, sync: true });
    return { log: pino({ level, base: { daemon: opts.name, node: opts.node } }, dest), reopen: () => {} };
  }
  fs.mkdirSync(path.dirname(opts.file), { recursive: true });
  const dest = pino.destination({ dest: opts.file, sync: true, mkdir: true });
  const log = pino({ level, base: { daemon: opts.name, node: opts.node } }, dest);
  return { log, reopen: () => dest.reopen() };
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
