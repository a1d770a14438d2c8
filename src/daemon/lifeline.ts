// Lifelines: each daemon listens on an abstract unix socket (Linux; no file)
// and the node's other daemons stay connected to it. The kernel closes that
// connection when the process dies, however it dies: a death is heard at once.
import { createHash } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import type { DaemonName } from './pidfile.js';

/** The abstract unix socket name of `d`'s lifeline for this install (per network namespace). */
export function lifelineName(runDir: string, d: DaemonName): string {
  return `\0pha-life-${createHash('sha256').update(path.resolve(runDir)).digest('hex').slice(0, 32)}-${d}`;
}

export class Lifelines {
  private server: net.Server | undefined;
  private readonly lines = new Map<DaemonName, net.Socket>();
  private readonly up = new Set<DaemonName>();

  constructor(private readonly runDir: string) {}

  /** Offer our own lifeline. */
  listen(self: DaemonName): void {
    this.server = net.createServer((c) => {
      c.on('error', () => {});
      c.resume();
    });
    this.server.on('error', () => {
      /* no death signal from us: the others' polling still sees us */
    });
    this.server.listen(lifelineName(this.runDir, self));
    this.server.unref();
  }

  /** Stay connected to `d`'s lifeline; `closed` is called when a line that was up goes down. */
  hold(d: DaemonName, closed: () => void): void {
    if (this.lines.has(d)) return;
    const c = net.connect(lifelineName(this.runDir, d));
    this.lines.set(d, c);
    c.on('connect', () => {
      this.up.add(d);
    });
    c.on('error', () => {});
    c.on('close', () => {
      this.lines.delete(d);
      // it was there and is gone: now, not at the next poll
      if (this.up.delete(d)) closed();
    });
    c.resume();
    c.unref();
  }

  /** Is our line to `d` connected? Then the kernel tells us of its death: no need to poll its pid. */
  isUp(d: DaemonName): boolean {
    return this.up.has(d);
  }

  close(): void {
    this.up.clear();
    this.server?.close();
    for (const c of this.lines.values()) c.destroy();
    this.lines.clear();
  }
}
