// IP address literals, both families: the canonical text (so that a config's
// "2001:DB8:0::1" and a socket's "2001:db8::1" compare equal), the family, and
// the 16 bytes of an IPv6 address (neighbour discovery needs them).
import net from 'node:net';

/** The 16 bytes of an IPv6 address (any textual form net.isIPv6 accepts, no zone). */
export function ip6Bytes(addr: string): Buffer {
  if (!net.isIPv6(addr) || addr.includes('%')) throw new RangeError(`not an IPv6 address: ${addr}`);
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const words = (s: string | undefined): number[] => {
    if (!s) return [];
    const out: number[] = [];
    for (const p of s.split(':')) {
      if (p.includes('.')) {
        // an embedded IPv4 (::ffff:1.2.3.4): two words
        const o = p.split('.').map(Number);
        out.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
      } else out.push(Number.parseInt(p, 16));
    }
    return out;
  };
  const h = words(head);
  const t = words(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  for (const [i, w] of all.entries()) b.writeUInt16BE(w, i * 2);
  return b;
}

/** The canonical text of an IPv6 address (RFC 5952: lower case, the longest run of zeros as ::). */
export function ip6Text(b: Buffer): string {
  const w = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(w) : `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

/** The canonical form of an IP literal (an IPv6 zone kept: fe80::1%eth1), or null when it is none. */
export function ipLiteral(s: string): string | null {
  if (net.isIPv4(s)) return s;
  const [addr, zone] = s.split('%', 2) as [string, string | undefined];
  if (!net.isIPv6(addr) || zone === '') return null;
  const canon = ip6Text(ip6Bytes(addr));
  return zone === undefined ? canon : `${canon}%${zone}`;
}

export function familyOf(addr: string): 4 | 6 {
  return net.isIPv4(addr) ? 4 : 6;
}

/** A link-local IPv6 address (fe80::/10): it means something only with its interface (%eth1). */
export function isLinkLocal6(addr: string): boolean {
  if (!net.isIPv6(addr.split('%')[0]!)) return false;
  const b = ip6Bytes(addr.split('%')[0]!);
  return b[0] === 0xfe && (b[1]! & 0xc0) === 0x80;
}

/** The dgram socket type for an address. */
export function udpType(addr: string): 'udp4' | 'udp6' {
  return familyOf(addr) === 4 ? 'udp4' : 'udp6';
}
