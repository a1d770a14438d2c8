/**
 * Heartbeat forger and sniffer of the lab (root only; run inside a lab
 * namespace through lab.spawn / lab.run). It shows what anyone on the LAN can
 * do to pha: a raw socket with IP_HDRINCL puts any source address on a UDP
 * datagram. It refuses every address outside the lab (198.18.0.0/24).
 *
 *   forge.js send --src A --dst B [--port 4711] [--sport P]
 *                 (--word ONLINE | --hex HEX … | --hex-file FILE)
 *                 [--interval 100] [--duration MS] [--count N]
 *       Sends the payloads in turn (cycling) every interval ms from A to B:port,
 *       until duration ms have passed or N datagrams are sent (neither: until killed).
 *       stdout: {"ready":true}, then {"sent":N,"errors":E} at the end.
 *   forge.js capture [--port 4711] [--src A] [--dst B] [--duration MS] [--count N]
 *       Every UDP datagram seen arriving in this namespace to port (and from A, to B
 *       when given) → one line {"t","src","dst","sport","dport","hex"}.
 *
 * Only node built-ins and raw-socket (native, loaded at run time).
 */

import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { inLabRange } from './exec.js';

interface RawSocket {
  on(ev: 'message', fn: (buf: Buffer, source: string) => void): void;
  on(ev: 'error', fn: (e: Error) => void): void;
  send(
    buf: Buffer,
    offset: number,
    length: number,
    address: string,
    cb: (err: Error | null, bytes: number) => void,
  ): void;
  setOption(level: number, option: number, value: number): void;
  pauseRecv(): void;
  close(): void;
}
interface RawModule {
  createSocket(o: { protocol: number }): RawSocket;
  Protocol: { UDP: number };
  SocketLevel: { IPPROTO_IP: number };
  SocketOption: { IP_HDRINCL: number };
}

/** The lab's own /24, minus its network and broadcast addresses: the only addresses this tool touches. */
export function forgeableAddress(addr: string): boolean {
  if (!inLabRange(addr) || !addr.startsWith('198.18.0.')) return false;
  const last = Number(addr.split('.')[3]);
  return last > 0 && last < 255;
}

function ipBytes(addr: string): Buffer {
  return Buffer.from(addr.split('.').map(Number));
}

/** RFC 1071 ones' complement sum of 16-bit words, folded and complemented. */
export function inetChecksum(...parts: Buffer[]): number {
  let sum = 0;
  for (const b of parts) {
    for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
    if (b.length % 2) sum += b[b.length - 1]! << 8; // only the last part may be odd
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4 + UDP datagram from src:sport to dst:dport carrying payload, with both checksums. */
export function buildDatagram(
  src: string,
  dst: string,
  sport: number,
  dport: number,
  payload: Buffer,
  id = randomInt(1, 0xffff),
): Buffer {
  const udpLen = 8 + payload.length;
  const total = 20 + udpLen;
  const b = Buffer.alloc(total);
  b[0] = 0x45; // version 4, header 5 words
  b[1] = 0; // TOS
  b.writeUInt16BE(total, 2);
  b.writeUInt16BE(id, 4);
  b.writeUInt16BE(0x4000, 6); // don't fragment
  b[8] = 64; // TTL
  b[9] = 17; // UDP
  ipBytes(src).copy(b, 12);
  ipBytes(dst).copy(b, 16);
  b.writeUInt16BE(inetChecksum(b.subarray(0, 20)), 10);
  b.writeUInt16BE(sport, 20);
  b.writeUInt16BE(dport, 22);
  b.writeUInt16BE(udpLen, 24);
  payload.copy(b, 28);
  const pseudo = Buffer.alloc(12);
  ipBytes(src).copy(pseudo, 0);
  ipBytes(dst).copy(pseudo, 4);
  pseudo[9] = 17;
  pseudo.writeUInt16BE(udpLen, 10);
  const c = inetChecksum(pseudo, b.subarray(20, 28), payload);
  b.writeUInt16BE(c === 0 ? 0xffff : c, 26); // 0 means "no checksum" in UDP
  return b;
}

const out = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

function fail(msg: string, code = 2): never {
  process.stderr.write(`forge: ${msg}\n`);
  process.exit(code);
}

interface Opts {
  [k: string]: string[];
}

function parse(argv: string[]): Opts {
  const o: Opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) fail(`unexpected argument ${a}`);
    const v = argv[i + 1];
    if (v === undefined) fail(`${a} needs a value`);
    const list = o[a.slice(2)] ?? [];
    list.push(v);
    o[a.slice(2)] = list;
    i++;
  }
  return o;
}

function one(o: Opts, k: string): string | undefined {
  return o[k]?.[o[k]!.length - 1];
}

function num(o: Opts, k: string, dflt: number | undefined, min: number, max: number): number | undefined {
  const v = one(o, k);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${k} ${v}: an integer in ${min}..${max}`);
  return n;
}

function addr(o: Opts, k: string, required: boolean): string | undefined {
  const v = one(o, k);
  if (v === undefined) {
    if (required) fail(`--${k} is required`);
    return undefined;
  }
  if (!forgeableAddress(v)) fail(`--${k} ${v}: refused, the forger only uses lab addresses in 198.18.0.1-254`);
  return v;
}

function loadRaw(): RawModule {
  try {
    return createRequire(import.meta.url)('raw-socket') as RawModule;
  } catch (e) {
    return fail(`raw-socket module not available: ${(e as Error).message}`, 1);
  }
}

const keep: unknown[] = [];

function openRaw(raw: RawModule): RawSocket {
  let sock: RawSocket;
  try {
    sock = raw.createSocket({ protocol: raw.Protocol.UDP });
  } catch (e) {
    return fail(`cannot open a raw socket (root only): ${(e as Error).message}`, 1);
  }
  // The native socket closes when its wrapper is garbage-collected: keep it for our lifetime.
  keep.push(sock);
  sock.on('error', (e) => fail(`raw socket: ${e.message}`, 1));
  return sock;
}

function payloads(o: Opts): Buffer[] {
  const list: Buffer[] = [];
  for (const w of o.word ?? []) list.push(Buffer.from(w, 'latin1'));
  const hex = [...(o.hex ?? [])];
  for (const f of o['hex-file'] ?? []) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      fail(`--hex-file ${f}: ${(e as Error).message}`);
    }
    hex.push(
      ...text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#')),
    );
  }
  for (const h of hex) {
    if (!/^(?:[0-9a-f]{2})+$/i.test(h)) fail(`not a hex payload: ${h.slice(0, 40)}`);
    list.push(Buffer.from(h, 'hex'));
  }
  if (!list.length) fail('no payload: give --word, --hex or --hex-file');
  for (const p of list) if (p.length > 1400) fail(`payload of ${p.length} bytes: at most 1400`);
  return list;
}

function send(o: Opts): void {
  const src = addr(o, 'src', true)!;
  const dst = addr(o, 'dst', true)!;
  const dport = num(o, 'port', 4711, 1, 65535)!;
  const sport = num(o, 'sport', dport, 1, 65535)!;
  const interval = num(o, 'interval', 100, 1, 3_600_000)!;
  const duration = num(o, 'duration', undefined, 1, 86_400_000);
  const count = num(o, 'count', undefined, 1, 1_000_000_000);
  const list = payloads(o);
  const raw = loadRaw();
  const sock = openRaw(raw);
  sock.pauseRecv(); // send only: do not queue every UDP datagram of the namespace
  try {
    sock.setOption(raw.SocketLevel.IPPROTO_IP, raw.SocketOption.IP_HDRINCL, 1);
  } catch (e) {
    fail(`IP_HDRINCL: ${(e as Error).message}`, 1);
  }
  let sent = 0;
  let errors = 0;
  let lastError: string | undefined;
  let i = 0;
  const started = Date.now();
  const finish = (): void => {
    clearInterval(timer);
    out({ sent, errors, lastError });
    process.exit(0);
  };
  const once = (): void => {
    if ((count !== undefined && i >= count) || (duration !== undefined && Date.now() - started >= duration)) {
      finish();
      return;
    }
    const dgram = buildDatagram(src, dst, sport, dport, list[i % list.length]!);
    i++;
    sock.send(dgram, 0, dgram.length, dst, (err) => {
      if (err) {
        errors++;
        lastError = err.message;
      } else sent++;
    });
  };
  const timer = setInterval(once, interval);
  process.on('SIGTERM', finish);
  process.on('SIGINT', finish);
  out({ ready: true, src, dst, port: dport, payloads: list.length });
  once();
}

function capture(o: Opts): void {
  const port = num(o, 'port', 4711, 1, 65535)!;
  const src = addr(o, 'src', false);
  const dst = addr(o, 'dst', false);
  const duration = num(o, 'duration', undefined, 1, 86_400_000);
  const count = num(o, 'count', undefined, 1, 1_000_000_000);
  const sock = openRaw(loadRaw());
  let n = 0;
  const ipStr = (b: Buffer, off: number): string => `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
  sock.on('message', (b) => {
    if (b.length < 28 || b[0]! >> 4 !== 4 || b[9] !== 17) return;
    const ihl = (b[0]! & 0x0f) * 4;
    if (b.length < ihl + 8 || b.readUInt16BE(ihl + 2) !== port) return;
    const s = ipStr(b, 12);
    const d = ipStr(b, 16);
    if ((src && s !== src) || (dst && d !== dst)) return;
    const udpLen = b.readUInt16BE(ihl + 4);
    const payload = b.subarray(ihl + 8, Math.min(b.length, ihl + udpLen));
    out({ t: Date.now(), src: s, dst: d, sport: b.readUInt16BE(ihl), dport: port, hex: payload.toString('hex') });
    if (count !== undefined && ++n >= count) process.exit(0);
  });
  if (duration !== undefined) setTimeout(() => process.exit(0), duration);
  out({ ready: true, port, src, dst });
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(`/${process.argv[1].split('/').pop()!}`);
if (isMain) {
  // Never outlive the caller (a test killed with SIGKILL must not leave a forger behind).
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 500).unref();
  process.stdout.on('error', () => process.exit(0));
  const [cmd, ...rest] = process.argv.slice(2);
  const o = parse(rest);
  if (cmd === 'send') send(o);
  else if (cmd === 'capture') capture(o);
  else
    fail(
      'usage: forge.js send --src A --dst B [--port P] (--word W | --hex H | --hex-file F) [--interval MS] [--duration MS] [--count N]\n       forge.js capture [--port P] [--src A] [--dst B] [--duration MS] [--count N]',
    );
}
