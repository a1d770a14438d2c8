// The resources that are floating addresses: res/ipaddr by its real name (a
// link res/vip6 → ipaddr is one too), with the address and device it takes.
// supervise re-announces them (garp) and advertises an IPv6 one it has just
// started from its own process (no Node start in between: the clients'
// neighbour caches move within milliseconds of the address).
import fs from 'node:fs';
import path from 'node:path';
import type { ResourceDef } from '../config/index.js';
import { errorMessage } from '../errors.js';

export interface AddressResource {
  name: string;
  ip: string; // without the prefix
  dev: string;
  family: 4 | 6;
}

function realName(script: string): string {
  try {
    return path.basename(fs.realpathSync(script));
  } catch {
    return path.basename(script);
  }
}

export function addressResources(resources: readonly ResourceDef[]): AddressResource[] {
  return resources.flatMap((r) => {
    if (realName(r.script) !== 'ipaddr' || r.args.length !== 2) return [];
    const [cidr, dev] = r.args as [string, string];
    const ip = cidr.split('/')[0]!;
    return [{ name: r.name, ip, dev, family: ip.includes(':') ? (6 as const) : (4 as const) }];
  });
}

/**
 * Advertise an IPv6 address just started, from this process at once (one
 * burst; the script's own pha-ndp follows ~70 ms later and again after a
 * second). The raw socket's module is loaded on the first use; a failure is
 * told once.
 */
export function advertiserOf(
  addresses: readonly AddressResource[],
  failed: (name: string, err: string) => void,
): (name: string) => void {
  let told = false;
  return (name) => {
    const a = addresses.find((x) => x.name === name && x.family === 6);
    if (!a) return;
    void import('./ndp-socket.js')
      .then((ndp) => ndp.advertise(a.ip, a.dev, 1))
      .catch((e) => {
        if (!told) failed(name, errorMessage(e));
        told = true;
      });
  };
}
