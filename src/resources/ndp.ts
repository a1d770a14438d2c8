// IPv6 neighbour discovery for res/ipaddr, the IPv6 side of arping: an
// unsolicited neighbour advertisement (RFC 4861 §7.2.6: the IPv6 gratuitous
// ARP; Override set, so a client's cache takes the new holder's MAC at once)
// and a neighbour solicitation that asks who holds an address (the probe of a
// split brain). Pure: packets in and out; the socket is ndp-tool.ts's.
import { ip6Bytes, ip6Text } from '../ip.js';

export { ip6Bytes, ip6Text };

export const ICMP6_NS = 135;
export const ICMP6_NA = 136;
const OPT_SOURCE_LL = 1;
const OPT_TARGET_LL = 2;
const FLAG_SOLICITED = 0x40;
const FLAG_OVERRIDE = 0x20;

export function macBytes(mac: string): Buffer {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(mac);
  if (!m) throw new RangeError(`not a MAC address: ${mac}`);
  return Buffer.from(m.slice(1).map((x) => Number.parseInt(x, 16)));
}

export function macText(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0').toUpperCase()).join(':');
}

/**
 * Unsolicited NA for `target` with our `mac` (to ff02::1): Override set,
 * Solicited and Router clear. The kernel fills the checksum (a raw ICMPv6
 * socket always does).
 */
export function unsolicitedNa(target: string, mac: string): Buffer {
  const b = Buffer.alloc(32);
  b[0] = ICMP6_NA;
  b[4] = FLAG_OVERRIDE;
  ip6Bytes(target).copy(b, 8);
  b[24] = OPT_TARGET_LL;
  b[25] = 1; // length in units of 8 bytes
  macBytes(mac).copy(b, 26);
  return b;
}

/** A neighbour solicitation for `target` from our link-local address, with our MAC. */
export function solicitation(target: string, mac: string): Buffer {
  const b = Buffer.alloc(32);
  b[0] = ICMP6_NS;
  ip6Bytes(target).copy(b, 8);
  b[24] = OPT_SOURCE_LL;
  b[25] = 1;
  macBytes(mac).copy(b, 26);
  return b;
}

/** The solicited-node multicast address of `target` (ff02::1:ffXX:XXXX), where its holder listens. */
export function solicitedNode(target: string): string {
  const t = ip6Bytes(target);
  const b = ip6Bytes('ff02::1:ff00:0');
  t.copy(b, 13, 13, 16);
  return ip6Text(b);
}

/** An NA (an ICMPv6 message as a raw socket gives it: no IPv6 header) for `target`: its MAC, or null. */
export function naFor(msg: Buffer, target: string): { mac: string | null; solicited: boolean } | null {
  if (msg.length < 24 || msg[0] !== ICMP6_NA || msg[1] !== 0) return null;
  if (!msg.subarray(8, 24).equals(ip6Bytes(target))) return null;
  let mac: string | null = null;
  for (let off = 24; off + 8 <= msg.length; ) {
    const len = msg[off + 1]! * 8;
    if (len === 0) break; // malformed: a zero-length option would loop for ever
    if (msg[off] === OPT_TARGET_LL && len >= 8) mac = macText(msg.subarray(off + 2, off + 8));
    off += len;
  }
  return { mac, solicited: (msg[4]! & FLAG_SOLICITED) !== 0 };
}
