// The gateway (ICMP through net-ping, no retries) and default-route checks,
// and the resources' probes for a second holder.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { ResourceDef } from '../config/index.js';
import { errorMessage, PhaError } from '../errors.js';
import type { ResourceRunner } from '../resources/index.js';
import type { ProbeResult } from './events.js';

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

/** net-ping's networkProtocol for ICMPv6 echo. */
const NET_PING_IPV6 = 2;

/** ICMP (or ICMPv6) echo with one try; throws when the raw socket cannot be opened (no root / CAP_NET_RAW). */
export function createPinger(timeoutMs: number, family: 4 | 6 = 4): Pinger {
  const netPing = require('net-ping') as { createSession(o: object): NetPingSession };
  let session: NetPingSession;
  try {
    session = netPing.createSession({
      timeout: Math.round(timeoutMs),
      retries: 0,
      packetSize: 16,
      ...(family === 6 ? { networkProtocol: NET_PING_IPV6 } : {}),
    });
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

/** Is there a default route (in this network namespace) of the gateway's family? */
export function hasDefaultRoute(routeFile = '/proc/net/route', family: 4 | 6 = 4): boolean {
  if (family === 6) return hasDefaultRoute6(routeFile === '/proc/net/route' ? '/proc/net/ipv6_route' : routeFile);
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

/** /proc/net/ipv6_route: destination ::/0, up, not the kernel's "unreachable" entry on lo. */
function hasDefaultRoute6(routeFile: string): boolean {
  const RTF_UP = 0x1;
  const RTF_REJECT = 0x200;
  try {
    return fs
      .readFileSync(routeFile, 'utf8')
      .split('\n')
      .some((l) => {
        const f = l.trim().split(/\s+/);
        if (f.length < 10 || !/^0{32}$/.test(f[0]!) || f[1] !== '00') return false;
        const flags = Number.parseInt(f[8]!, 16);
        return (flags & RTF_UP) !== 0 && (flags & RTF_REJECT) === 0;
      });
  } catch {
    return false;
  }
}

/**
 * The resources' probes (`res/<name> probe …`, for split-brain detection):
 * exit 0 nobody else answers; 1 with "answered by …" on stdout another host
 * does; 2 (usage: the script has no probe) or 1 without that line: the script
 * is not asked again; anything else: cannot tell this time, and why.
 */
export class Prober {
  private readonly without = new Set<string>();

  constructor(
    private readonly runner: ResourceRunner,
    private readonly resources: readonly ResourceDef[],
    private readonly timeoutMs: number,
    private readonly log: (msg: string) => void,
  ) {}

  async probe(): Promise<ProbeResult[]> {
    const todo = this.resources.filter((r) => !this.without.has(r.name));
    return Promise.all(
      todo.map(async (r): Promise<ProbeResult> => {
        const x = await this.runner.run(r, 'probe', this.timeoutMs);
        const by = /^answered by (.+)$/m.exec(x.output)?.[1]?.trim();
        if (x.code === 0) return { name: r.name, answered: false };
        if (x.code === 1 && by) return { name: r.name, answered: true, by };
        if (x.code === 1 || x.code === 2) {
          this.without.add(r.name);
          this.log(`res ${r.name} has no probe (exit ${x.code}): a second holder of it cannot be seen`);
          return { name: r.name, answered: null };
        }
        return { name: r.name, answered: null, error: x.error ?? (x.output.split('\n').at(-1) || `exit ${x.code}`) };
      }),
    );
  }
}
