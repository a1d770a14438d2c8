// The original's wire format: the plain ASCII word, nothing else (also what
// pha speaks without AUTHKEY). No sockets here, so it is tested by feeding buffers.
import type { Word } from './word.js';

export function encodeHeartbeat(word: Word): Buffer {
  return Buffer.from(word, 'ascii');
}

/** The word, or null for anything that is not exactly a heartbeat. */
export function decodeHeartbeat(msg: Buffer): Word | null {
  if (msg.length < 6 || msg.length > 8) return null;
  const s = msg.toString('latin1');
  return s === 'ONLINE' || s === 'OFFLINE' || s === 'PROGRESS' ? s : null;
}

/** Is `from` one of the peer's addresses? (IPv4-mapped IPv6 forms included) */
export function isFromPeer(from: string, peerAddrs: readonly string[]): boolean {
  const a = from.startsWith('::ffff:') ? from.slice(7) : from;
  return peerAddrs.includes(a);
}
