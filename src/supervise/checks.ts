// The gateway (ICMP through net-ping, no retries) and default-route checks.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { errorMessage, PhaError } from '../errors.js';

const require = createRequire(import.meta.url);

export interface Pinger {
  ping(target: string): Promise<{ ok: boolean; error?: string }>;
  close(): void;
}

interface NetPingSession {
  pingHost(target: string, cb: (err: Error | null, target: string) => void): void;
  close(): void;
  on(ev: 'error', cb: (e: Error) => void): void;
}

/** ICMP echo with one try; throws when the raw socket cannot be opened (no root / CAP_NET_RAW). */
export function createPinger(timeoutMs: number): Pinger {
  const netPing = require('net-ping') as { createSession(o: object): NetPingSession };
  let session: NetPingSession;
  try {
    session = netPing.createSession({ timeout: Math.round(timeoutMs), retries: 0, packetSize: 16 });
  } catch (e) {
    throw new PhaError('PHA_ERR_ICMP', errorMessage(e));
  }
  session.on('error', () => {
    /* reported per ping */
  });
  return {
    ping: (target) =>
      new Promise((resolve) => {
        try {
          session.pingHost(target, (err) => resolve(err ? { ok: false, error: errorMessage(err) } : { ok: true }));
        } catch (e) {
          resolve({ ok: false, error: errorMessage(e) });
        }
      }),
    close: () => session.close(),
  };
}

/** Is there a default route (in this network namespace)? */
export function hasDefaultRoute(routeFile = '/proc/net/route'): boolean {
  try {
    const lines = fs.readFileSync(routeFile, 'utf8').split('\n').slice(1);
    return lines.some((l) => {
      const f = l.trim().split(/\s+/);
      // Destination 00000000 with flag RTF_UP (0x1)
      return f[1] === '00000000' && (parseInt(f[3] ?? '0', 16) & 1) === 1;
    });
  } catch {
    return false;
  }
}
