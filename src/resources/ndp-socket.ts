// The raw ICMPv6 socket of neighbour discovery (raw-socket, built for the
// gateway ping; root or CAP_NET_RAW): unsolicited advertisements and the
// probe, for pha-ndp (res/ipaddr) and for supervise, which advertises a VIP it
// has just started at once, without waiting for a Node process to start.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { naFor, solicitation, solicitedNode, unsolicitedNa } from './ndp.js';

interface RawSocket {
  on(ev: 'message', fn: (buf: Buffer, source: string) => void): void;
  on(ev: 'error', fn: (e: Error) => void): void;
  send(buf: Buffer, off: number, len: number, addr: string, cb: (err: Error | null) => void): void;
  setOption(level: number, option: number, value: number | Buffer, length?: number): void;
  close(): void;
}
interface RawModule {
  createSocket(o: { protocol: number; addressFamily: number }): RawSocket;
  Protocol: { ICMPv6: number };
  AddressFamily: { IPv6: number };
  SocketLevel: { SOL_SOCKET: number; IPPROTO_IPV6: number };
  SocketOption: { SO_BINDTODEVICE: number };
}

// Linux values (raw-socket exports neither).
const IPV6_MULTICAST_IF = 17;
const IPV6_MULTICAST_HOPS = 18;
/** Neighbour discovery must arrive with hop limit 255 (RFC 4861 §7.1.2), or receivers drop it. */
const ND_HOPS = 255;
const BURST = 3;
const AGAIN_MS = 1000;
const PROBE_WAIT_MS = 1000;

export class Cannot extends Error {}

function sysNet(dev: string, file: string): string {
  try {
    return fs.readFileSync(`/sys/class/net/${dev}/${file}`, 'utf8').trim();
  } catch {
    throw new Cannot(`no device '${dev}'`);
  }
}

function open(dev: string): RawSocket {
  let raw: RawModule;
  try {
    raw = createRequire(import.meta.url)('raw-socket') as RawModule;
  } catch (e) {
    throw new Cannot(`raw-socket not available: ${(e as Error).message}`);
  }
  let sock: RawSocket;
  try {
    sock = raw.createSocket({ protocol: raw.Protocol.ICMPv6, addressFamily: raw.AddressFamily.IPv6 });
  } catch (e) {
    throw new Cannot(`cannot open a raw ICMPv6 socket (root or CAP_NET_RAW needed): ${(e as Error).message}`);
  }
  const name = Buffer.from(`${dev}\0`);
  sock.setOption(raw.SocketLevel.SOL_SOCKET, raw.SocketOption.SO_BINDTODEVICE, name, name.length);
  sock.setOption(raw.SocketLevel.IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ND_HOPS);
  sock.setOption(raw.SocketLevel.IPPROTO_IPV6, IPV6_MULTICAST_IF, Number(sysNet(dev, 'ifindex')));
  return sock;
}

/** One datagram; a socket error, or no answer within a second, fails it (raw-socket may report either way). */
function send(sock: RawSocket, buf: Buffer, to: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (m: string) => reject(new Cannot(`send to ${to}: ${m}`));
    const timer = setTimeout(() => fail('no completion within 1 s'), 1000);
    sock.on('error', (e) => {
      clearTimeout(timer);
      fail(e.message);
    });
    sock.send(buf, 0, buf.length, to, (err) => {
      clearTimeout(timer);
      if (err) fail(err.message);
      else resolve();
    });
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `rounds` bursts of 3 advertisements, a second apart. */
export async function advertise(ip: string, dev: string, rounds = 2): Promise<number> {
  const mac = sysNet(dev, 'address');
  const sock = open(dev);
  try {
    const na = unsolicitedNa(ip, mac);
    for (let round = 0; round < rounds; round++) {
      if (round) await sleep(AGAIN_MS);
      for (let i = 0; i < BURST; i++) await send(sock, na, `ff02::1%${dev}`);
    }
  } finally {
    sock.close();
  }
  return 0;
}

/** Who else answers for `ip`: the MACs of other hosts (none: nobody). */
export async function probe(ip: string, dev: string): Promise<string[]> {
  const mine = sysNet(dev, 'address').toUpperCase();
  const sock = open(dev);
  const macs = new Set<string>();
  try {
    sock.on('message', (buf) => {
      const na = naFor(buf, ip);
      // Our own kernel may answer our own solicitation: only another MAC is another holder.
      if (na?.mac && na.mac !== mine) macs.add(na.mac);
    });
    await send(sock, solicitation(ip, mine), `${solicitedNode(ip)}%${dev}`);
    await sleep(PROBE_WAIT_MS);
  } finally {
    sock.close();
  }
  return [...macs].sort();
}
