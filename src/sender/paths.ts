// The sender's heartbeat paths (HB_PATHS): one socket per path, bound to our
// own address on it, so the peer's source-address check holds on hosts with
// several addresses (127.0.0.1 / 127.0.0.2 included) and each path leaves by
// its own link. Every datagram goes out on every path, in the order given.
import DgramAsPromised, { type SocketAsPromised } from 'dgram-as-promised';
import type { Config } from '../config/index.js';
import type { Logger } from '../daemon/index.js';
import type { Vitals } from '../daemon/vitals.js';
import { errorMessage } from '../errors.js';
import { udpType } from '../ip.js';

export interface SenderPaths {
  /** The datagrams on every path; true when at least one path took them all. */
  send(datagrams: readonly Buffer[]): Promise<boolean>;
  close(): Promise<void>;
}

export async function openPaths(
  config: Pick<Config, 'paths' | 'PORT' | 'peer'>,
  log: Logger,
  vitals?: Vitals,
): Promise<SenderPaths> {
  const paths = config.paths;
  const socks: SocketAsPromised[] = paths.map((p) => DgramAsPromised.createSocket(udpType(p.local)));
  for (const [i, sock] of socks.entries())
    sock.socket.on('error', (e) => log.error({ err: errorMessage(e), path: i + 1 }, 'socket error'));
  const close = async () => {
    for (const sock of socks) await sock.close().catch(() => {});
  };
  try {
    for (const [i, sock] of socks.entries()) await sock.bind(0, paths[i]!.local);
  } catch (e) {
    await close();
    throw e;
  }
  const errors = paths.map(() => 0);
  const sendOn = async (i: number, datagrams: readonly Buffer[]) => {
    try {
      for (const d of datagrams) await socks[i]!.send(d, config.PORT, paths[i]!.peer);
      return true;
    } catch (e) {
      const n = ++errors[i]!;
      if (paths.length > 1) vitals?.count(`path${i + 1}SendErrors`);
      if (n === 1 || n % 100 === 0)
        log.warn({ peer: config.peer.name, path: i + 1, err: errorMessage(e), sendErrors: n }, 'heartbeat send failed');
      return false;
    }
  };
  return {
    send: async (datagrams) => (await Promise.all(paths.map((_, i) => sendOn(i, datagrams)))).some(Boolean),
    close,
  };
}
