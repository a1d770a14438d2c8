/**
 * Small child processes of the demo (run inside a lab host, or on the machine
 * in loopback mode). Each prints one JSON line per observation on stdout and
 * runs until killed.
 *
 *   serve <name> <port>                   TCP server: answers "<name>\n" to every connection
 *   probe <host> <port> <intervalMs>      a client: connects every intervalMs, reports who answered
 *   sniff <port> <addr>…                  heartbeat sniffer (raw IPv4/UDP socket, root only): every
 *                                         UDP datagram to <port> whose destination is one of <addr>
 *                                         (any when none given) → {t, src, dst, word}
 */
import { createRequire } from 'node:module';
import net from 'node:net';

const out = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

function serve(name: string, port: number): void {
  const srv = net.createServer((c) => {
    c.on('error', () => {
      /* client gone */
    });
    c.end(`${name}\n`);
  });
  // Both families on '::' (the lab's IPv6 VIP too); where the host has no IPv6, IPv4 alone.
  let family6 = true;
  srv.on('error', (e: NodeJS.ErrnoException) => {
    if (family6 && (e.code === 'EAFNOSUPPORT' || e.code === 'EADDRNOTAVAIL')) {
      family6 = false;
      srv.listen(port, '0.0.0.0', () => out({ ready: true }));
      return;
    }
    out({ error: `serve: ${e.message}` });
    process.exit(1);
  });
  srv.listen(port, '::', () => out({ ready: true }));
}

function probe(host: string, port: number, intervalMs: number): void {
  const timeoutMs = 1000;
  const once = (): void => {
    const started = Date.now();
    let done = false;
    let data = '';
    const finish = (ok: boolean, who: string | null, err?: string): void => {
      if (done) return;
      done = true;
      sock.destroy();
      out({ t: Date.now(), started, ok, who, err });
    };
    const sock = net.connect({ host, port });
    sock.setTimeout(timeoutMs, () => finish(false, null, 'timeout'));
    sock.on('data', (d) => {
      data += d.toString('utf8');
      if (data.includes('\n')) finish(true, data.trim());
    });
    sock.on('end', () => finish(data.trim() !== '', data.trim() || null, data.trim() ? undefined : 'closed'));
    sock.on('error', (e: NodeJS.ErrnoException) => finish(false, null, e.code ?? e.message));
  };
  out({ ready: true });
  once();
  setInterval(once, intervalMs);
}

interface RawSocket {
  on(ev: 'message', fn: (buf: Buffer, source: string) => void): void;
  on(ev: 'error', fn: (e: Error) => void): void;
}
interface RawModule {
  createSocket(o: { protocol: number }): RawSocket;
  Protocol: { UDP: number };
}

const keep: unknown[] = [];

function sniff(port: number, addrs: string[]): void {
  let raw: RawModule;
  try {
    raw = createRequire(import.meta.url)('raw-socket') as RawModule;
  } catch (e) {
    out({ error: `sniff: raw-socket module not available: ${(e as Error).message}` });
    process.exit(1);
  }
  let sock: RawSocket;
  try {
    sock = raw.createSocket({ protocol: raw.Protocol.UDP });
  } catch (e) {
    out({ error: `sniff: cannot open a raw socket: ${(e as Error).message}` });
    process.exit(1);
  }
  // The native socket is closed when its wrapper is garbage-collected: keep it referenced for our lifetime.
  keep.push(sock);
  process.on('exit', () => keep.length);
  sock.on('error', (e) => {
    out({ error: `sniff: ${e.message}` });
    process.exit(1);
  });
  const ipStr = (b: Buffer, o: number): string => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
  sock.on('message', (b) => {
    const t = Date.now();
    if (b.length < 28 || b[0]! >> 4 !== 4 || b[9] !== 17) return;
    const ihl = (b[0]! & 0x0f) * 4;
    if (b.length < ihl + 8) return;
    if (b.readUInt16BE(ihl + 2) !== port) return;
    const dst = ipStr(b, 16);
    if (addrs.length && !addrs.includes(dst)) return;
    const word = b.subarray(ihl + 8).toString('latin1');
    out({ t, src: ipStr(b, 12), dst, word: /^[A-Z]{1,16}$/.test(word) ? word : '?' });
  });
  out({ ready: true });
}

const [cmd, ...args] = process.argv.slice(2);
// Never outlive the demo (a demo killed with SIGKILL must not leave us behind).
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 500).unref();
process.on('SIGPIPE', () => process.exit(0));
process.stdout.on('error', () => process.exit(0));
switch (cmd) {
  case 'serve':
    serve(args[0] ?? 'unknown', Number(args[1] ?? 8080));
    break;
  case 'probe':
    probe(args[0] ?? '127.0.0.1', Number(args[1] ?? 8080), Number(args[2] ?? 100));
    break;
  case 'sniff':
    sniff(Number(args[0] ?? 4711), args.slice(1));
    break;
  default:
    process.stderr.write('usage: helper serve <name> <port> | probe <host> <port> <ms> | sniff <port> [addr…]\n');
    process.exit(2);
}
