// The heartbeat codec of one node: what the sender puts on the wire and what
// the receiver accepts. Pure: no sockets, no files, no clock. The generation
// files are read and written by the caller (generation.ts); the codec gets the
// loaded values and a callback.

import { PhaError } from '../errors.js';
import {
  announcementMacMatches,
  type ConfigDiff,
  type ConfigEntry,
  compareConfig,
  encodeAnnouncement,
  looksLikeAnnouncement,
  parseAnnouncement,
} from './announce.js';
import { type DropCounters, type DropReason, newDropCounters } from './drops.js';
import { encodeFrame, MAX_SEQUENCE, macMatches, parseFrame } from './frame.js';
import type { PeerState } from './generation.js';
import type { KeyRing } from './keyfile.js';
import { decodeHeartbeat, encodeHeartbeat, isFromPeer } from './plain.js';
import type { Word } from './word.js';

export type AuthMode = 'enforce' | 'permissive';

export interface AuthOptions {
  keys: KeyRing; // first id signs, all verify
  localNode: 1 | 2;
  peerNode: 1 | 2;
  mode: AuthMode;
}

export interface HeartbeatCodecOptions {
  /** Without it: the original's plain words, byte for byte. */
  auth?: AuthOptions | null;
  /** This node's sender boot generation (nextBootGeneration); needed to send frames. */
  generation?: number;
  /** The peer's newest accepted state as loaded from var/auth-peer-generation. */
  peerState?: PeerState | null;
  /**
   * Called to persist the peer's newest accepted state: `durable` true when a
   * new generation was accepted (write + fsync before trusting it further is
   * not needed: the frame was already accepted), false for a checkpoint of the
   * sequence every `checkpointEvery` accepted frames.
   */
  onPeerState?: (s: PeerState, durable: boolean) => void;
  /** Accepted frames between two checkpoints of the sequence (default 16). */
  checkpointEvery?: number;
  /** The values that must agree with the peer's (configTable): what we announce and compare against. */
  configTable?: readonly ConfigEntry[];
}

/**
 * `fresh`: newer than every frame taken before (the peer's word and liveness);
 * false for a copy of a frame already taken from another heartbeat path (that
 * path's liveness only). `lost`: frames the sender numbered between this one and
 * the previous one on the same path (none for plain words).
 */
export type Accepted = {
  ok: true;
  word: Word;
  authenticated: boolean;
  fresh: boolean;
  lost: number;
  generation?: number;
  sequence?: bigint;
};
export type Dropped = { ok: false; reason: DropReason };
export type AcceptResult = Accepted | Dropped;
/** A config announcement taken from the peer (it is never a heartbeat): how its config differs from ours. */
export type AnnouncementTaken = { ok: true; diff: ConfigDiff; generation: number; counter: bigint };

export interface HeartbeatCodec {
  readonly mode: 'plain' | AuthMode;
  /** The primary datagram for `word` (a frame with a key, else the plain word); each frame takes the next sequence number. */
  encode(word: Word): Buffer;
  /**
   * Every datagram to send for `word`, in order: plain → [word]; enforce →
   * [frame]; permissive → [frame, word], so that a peer not yet keyed still
   * hears us during a rolling upgrade.
   */
  datagrams(word: Word): Buffer[];
  /** Judges one datagram that came on heartbeat path `path` (0-based; default 0); counts a drop by its reason. */
  accept(msg: Buffer, fromAddress: string, peerAddrs: readonly string[], path?: number): AcceptResult;
  /**
   * The next config announcement (version-2 frame) for the peer; null without
   * a key (plain words cannot carry it). Its counter is its own, not the
   * heartbeat's sequence, so reordering between the two never drops a heartbeat.
   */
  announcement(): Buffer | null;
  /**
   * Judges a config announcement: null when `msg` does not claim to be one
   * (or there is no key), so the caller goes on with accept(); else taken, or
   * dropped and counted like a heartbeat frame by its reason.
   */
  acceptAnnouncement(
    msg: Buffer,
    fromAddress: string,
    peerAddrs: readonly string[],
  ): AnnouncementTaken | Dropped | null;
  /** Drops by reason since the codec was made (a live view; read it, do not write it). */
  readonly drops: Readonly<DropCounters>;
  /** Plain words accepted in permissive mode (each one could have been forged). */
  readonly plainAccepted: number;
  /** The peer's newest accepted (generation, sequence), or null. */
  readonly peerState: PeerState | null;
}

export function createHeartbeatCodec(opts: HeartbeatCodecOptions = {}): HeartbeatCodec {
  const auth = opts.auth ?? null;
  const drops = newDropCounters();
  const checkpointEvery = Math.max(1, opts.checkpointEvery ?? 16);
  let plainAccepted = 0;
  let newest: PeerState | null = opts.peerState ? { ...opts.peerState } : null;
  // The newest frame seen on each heartbeat path: each path's own replay window and loss count.
  const onPath = new Map<number, PeerState>();
  // What an earlier run took: no path's copy can be that old (a replay across a restart).
  const floor: PeerState | null = newest ? { ...newest } : null;
  let sinceCheckpoint = 0;
  let sequence = 0n;
  let announced = 0n; // our announcements sent
  let newestAnnouncement: PeerState | null = null;
  let lastAnnouncement: { bytes: Buffer; taken: AnnouncementTaken } | null = null; // the peer's newest taken (generation, counter)
  const table = opts.configTable ?? [];

  const drop = (reason: DropReason): Dropped => {
    drops[reason]++;
    return { ok: false, reason };
  };

  const frame = (word: Word): Buffer => {
    if (!auth) throw new PhaError('PHA_ERR_INTERNAL', 'a frame without a key');
    if (opts.generation === undefined)
      throw new PhaError('PHA_ERR_INTERNAL', 'a frame without a boot generation (nextBootGeneration)');
    // A u64 at 100 frames/s lasts 5.8e9 years; saturating keeps the type honest.
    if (sequence < MAX_SEQUENCE) sequence++;
    return encodeFrame(
      { keyId: auth.keys.signingId, node: auth.localNode, generation: opts.generation, sequence, word },
      auth.keys.signingKey,
    );
  };

  const acceptFrame = (msg: Buffer, path: number): AcceptResult => {
    const f = parseFrame(msg);
    if (!f) return drop('not-a-heartbeat');
    const key = auth!.keys.key(f.keyId);
    if (!key) return drop('unknown-key');
    if (!macMatches(f, key)) return drop('bad-mac');
    // Authenticated from here: only a key holder made this frame.
    if (f.node !== auth!.peerNode) return drop('wrong-node');
    if (newest && f.generation < newest.generation) return drop('old-generation');
    if (floor && f.generation === floor.generation && f.sequence <= floor.sequence) return drop('replay');
    // Every frame goes out on every path: on its own path a frame must be new; across paths a copy is expected.
    const seen = onPath.get(path);
    const samePathGen = seen !== undefined && seen.generation === f.generation;
    if (samePathGen && f.sequence <= seen.sequence) return drop('replay');
    const gap = samePathGen ? f.sequence - seen.sequence - 1n : 0n;
    const lost = gap > 1_000_000n ? 1_000_000 : Number(gap);
    onPath.set(path, { generation: f.generation, sequence: f.sequence });
    const info = { word: f.word, authenticated: true, lost, generation: f.generation, sequence: f.sequence };
    // Not newer than the newest taken (from any path): a copy, or reordered: never the peer's word.
    if (newest && f.generation === newest.generation && f.sequence <= newest.sequence)
      return { ok: true, fresh: false, ...info };
    const newGeneration = !newest || f.generation !== newest.generation;
    newest = { generation: f.generation, sequence: f.sequence };
    if (newGeneration || ++sinceCheckpoint >= checkpointEvery) {
      sinceCheckpoint = 0;
      try {
        opts.onPeerState?.({ ...newest }, newGeneration);
      } catch {
        /* the caller logs its own write failures; judging datagrams goes on */
      }
    }
    return { ok: true, fresh: true, ...info };
  };

  const announcement = (): Buffer | null => {
    if (!auth || opts.generation === undefined) return null;
    if (announced < MAX_SEQUENCE) announced++;
    return encodeAnnouncement(
      { keyId: auth.keys.signingId, node: auth.localNode, generation: opts.generation, counter: announced },
      table,
      auth.keys.signingKey,
    );
  };

  const acceptAnnouncement = (
    msg: Buffer,
    fromAddress: string,
    peerAddrs: readonly string[],
  ): AnnouncementTaken | Dropped | null => {
    if (!auth || !looksLikeAnnouncement(msg)) return null;
    if (!isFromPeer(fromAddress, peerAddrs)) return drop('not-from-peer');
    const a = parseAnnouncement(msg);
    if (!a) return drop('not-a-heartbeat');
    const key = auth.keys.key(a.keyId);
    if (!key) return drop('unknown-key');
    if (!announcementMacMatches(a, key)) return drop('bad-mac');
    if (a.node !== auth.peerNode) return drop('wrong-node');
    // The heartbeat's newest generation is a floor too: an announcement of a
    // sender that has since restarted is old news (e.g. replayed after our restart).
    const floor = Math.max(newestAnnouncement?.generation ?? 0, newest?.generation ?? 0);
    if (a.generation < floor) return drop('old-generation');
    if (
      newestAnnouncement &&
      a.generation === newestAnnouncement.generation &&
      a.counter <= newestAnnouncement.sequence
    ) {
      // The same announcement by another heartbeat path (HB_PATHS): byte for byte the one taken.
      if (lastAnnouncement?.bytes.equals(msg)) return lastAnnouncement.taken;
      return drop('replay');
    }
    newestAnnouncement = { generation: a.generation, sequence: a.counter };
    const taken: AnnouncementTaken = {
      ok: true,
      diff: compareConfig(table, a, key),
      generation: a.generation,
      counter: a.counter,
    };
    lastAnnouncement = { bytes: Buffer.from(msg), taken };
    return taken;
  };

  return {
    mode: auth ? auth.mode : 'plain',
    announcement,
    acceptAnnouncement,
    encode: (word) => (auth ? frame(word) : encodeHeartbeat(word)),
    datagrams: (word) =>
      !auth ? [encodeHeartbeat(word)] : auth.mode === 'enforce' ? [frame(word)] : [frame(word), encodeHeartbeat(word)],
    accept(msg, fromAddress, peerAddrs, path = 0) {
      // The source check first and cheapest: strangers never cost an HMAC.
      if (!isFromPeer(fromAddress, peerAddrs)) return drop('not-from-peer');
      const plain = decodeHeartbeat(msg);
      if (plain) {
        if (!auth) return { ok: true, word: plain, authenticated: false, fresh: true, lost: 0 };
        if (auth.mode === 'enforce') return drop('plain-refused');
        plainAccepted++;
        return { ok: true, word: plain, authenticated: false, fresh: true, lost: 0 };
      }
      if (!auth) return drop('not-a-heartbeat');
      return acceptFrame(msg, path);
    },
    drops,
    get plainAccepted() {
      return plainAccepted;
    },
    get peerState() {
      return newest ? { ...newest } : null;
    },
  };
}
