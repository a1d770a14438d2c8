// The config announcement (issue 21, item 4; docs/wire-format-auth.md §9): a
// separate authenticated frame, version 2, that carries a short keyed digest
// of each config value both nodes must agree on. It is never a heartbeat: the
// version-1 frame stays byte for byte as it was, so a node of the previous
// release drops announcements as 'not-a-heartbeat' and nothing else happens.
// Pure: bytes in and out, no sockets, no files, no clock.
import crypto from 'node:crypto';
import type { Config } from '../config/index.js';
import { FRAME_MAGIC, frameMac, MAC_LEN, MAX_GENERATION, MAX_SEQUENCE } from './frame.js';

export const ANNOUNCE_VERSION = 2;
/** Bytes of each value's digest: enough to tell a difference (2⁻³² to miss one), too few to matter for secrecy. */
export const DIGEST_LEN = 4;
/** Longest key name sent by name; a longer one (a resource with an absurd name) goes into the rest digest. */
export const MAX_NAME_LEN = 64;
/**
 * Largest announcement: 576 (the datagram every IPv4 host must accept) − 60
 * (the largest IPv4 header) − 8 (UDP) = 508, so it is never fragmented on any
 * path. About 30 resources fit by name; beyond that the rest is one digest.
 */
export const MAX_ANNOUNCE_LEN = 508;
const OFF_VERSION = 3;
const OFF_KEY_ID = 4;
const OFF_NODE = 5;
const OFF_GENERATION = 6; // u32 BE
const OFF_COUNTER = 10; // u64 BE
const OFF_COUNT = 18; // u8: entries sent by name
const OFF_REST_COUNT = 19; // u16 BE: keys folded into the rest digest
const OFF_REST_DIGEST = 21;
export const ANNOUNCE_HEADER_LEN = OFF_REST_DIGEST + DIGEST_LEN; // 25
export const ANNOUNCE_MIN_LEN = ANNOUNCE_HEADER_LEN + MAC_LEN; // 57: no entry at all
const NAME_RE = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/** One value both nodes must agree on: its key name and its canonical text. */
export interface ConfigEntry {
  name: string;
  value: string;
}

/** A named entry on the wire: its key name and the digest of its value. */
export interface AnnouncedEntry {
  name: string;
  digest: Buffer; // DIGEST_LEN bytes
}

export interface AnnounceFields {
  keyId: number;
  node: 1 | 2;
  generation: number; // the sender's boot generation (the heartbeat's)
  counter: bigint; // its own count, 1, 2, 3 … within the generation
}

/** A datagram with the shape of an announcement; its MAC is not checked yet. */
export interface ParsedAnnouncement {
  keyId: number;
  node: number;
  generation: number;
  counter: bigint;
  entries: AnnouncedEntry[];
  restCount: number;
  restDigest: Buffer;
  signed: Buffer;
  mac: Buffer;
}

/**
 * The values that must agree, in a fixed order (the order decides which are
 * named when they do not all fit): NODES, PORT, HEARTBEAT_INT, DEADTIME, then
 * each resource with its arguments, in config order. Lists are JSON, so that
 * ("a b", "c") and ("a", "b c") differ.
 */
export function configTable(
  c: Pick<Config, 'NODES' | 'PORT' | 'HEARTBEAT_INT' | 'DEADTIME'> & {
    resources: readonly { name: string; args: readonly string[] }[];
  },
): ConfigEntry[] {
  return [
    { name: 'NODES', value: JSON.stringify(c.NODES) },
    { name: 'PORT', value: String(c.PORT) },
    { name: 'HEARTBEAT_INT', value: String(c.HEARTBEAT_INT) },
    { name: 'DEADTIME', value: String(c.DEADTIME) },
    ...c.resources.map((r) => ({ name: `RES_${r.name}`, value: JSON.stringify(r.args) })),
  ];
}

/** A value's digest: keyed, so that a value (an address) cannot be guessed from the wire. */
export function valueDigest(key: Buffer, e: ConfigEntry): Buffer {
  return crypto
    .createHmac('sha256', key)
    .update(`pha config value\0${e.name}\0${e.value}`)
    .digest()
    .subarray(0, DIGEST_LEN);
}

/** One digest over the entries not sent by name, sorted by name (both nodes agree on the order). */
export function restDigest(key: Buffer, rest: readonly ConfigEntry[]): Buffer {
  const h = crypto.createHmac('sha256', key).update('pha config rest\0');
  for (const e of [...rest].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)))
    h.update(`${e.name}\0${e.value}\0`);
  return h.digest().subarray(0, DIGEST_LEN);
}

const entryLen = (e: ConfigEntry) => 1 + Buffer.byteLength(e.name, 'latin1') + DIGEST_LEN;
const nameable = (e: ConfigEntry) => e.name.length <= MAX_NAME_LEN && NAME_RE.test(e.name);

/** Which entries go by name (in table order, while they fit), and which into the rest digest. */
export function splitTable(table: readonly ConfigEntry[]): { named: ConfigEntry[]; rest: ConfigEntry[] } {
  const named: ConfigEntry[] = [];
  const rest: ConfigEntry[] = [];
  let len = ANNOUNCE_MIN_LEN;
  for (const e of table) {
    if (rest.length === 0 && named.length < 255 && nameable(e) && len + entryLen(e) <= MAX_ANNOUNCE_LEN) {
      named.push(e);
      len += entryLen(e);
    } else rest.push(e); // once one does not fit, all later ones go to the rest: a stable cut
  }
  return { named, rest };
}

export function encodeAnnouncement(f: AnnounceFields, table: readonly ConfigEntry[], key: Buffer): Buffer {
  if (!Number.isInteger(f.keyId) || f.keyId < 1 || f.keyId > 255)
    throw new RangeError(`key id ${f.keyId} is not in 1..255`);
  if (f.node !== 1 && f.node !== 2) throw new RangeError(`node ${String(f.node)} is not 1 or 2`);
  if (!Number.isInteger(f.generation) || f.generation < 0 || f.generation > MAX_GENERATION)
    throw new RangeError(`generation ${f.generation} is not a u32`);
  if (f.counter < 0n || f.counter > MAX_SEQUENCE) throw new RangeError(`counter ${f.counter} is not a u64`);
  const { named, rest } = splitTable(table);
  const len = ANNOUNCE_MIN_LEN + named.reduce((n, e) => n + entryLen(e), 0);
  const buf = Buffer.alloc(len);
  FRAME_MAGIC.copy(buf, 0);
  buf[OFF_VERSION] = ANNOUNCE_VERSION;
  buf[OFF_KEY_ID] = f.keyId;
  buf[OFF_NODE] = f.node;
  buf.writeUInt32BE(f.generation, OFF_GENERATION);
  buf.writeBigUInt64BE(f.counter, OFF_COUNTER);
  buf[OFF_COUNT] = named.length;
  buf.writeUInt16BE(Math.min(rest.length, 0xffff), OFF_REST_COUNT);
  restDigest(key, rest).copy(buf, OFF_REST_DIGEST);
  let at = ANNOUNCE_HEADER_LEN;
  for (const e of named) {
    buf[at] = e.name.length;
    buf.write(e.name, at + 1, 'latin1');
    valueDigest(key, e).copy(buf, at + 1 + e.name.length);
    at += entryLen(e);
  }
  frameMac(key, buf.subarray(0, at)).copy(buf, at);
  return buf;
}

/** Does the datagram claim to be an announcement ("PHA", version 2)? Cheap: no parse, no HMAC. */
export function looksLikeAnnouncement(msg: Buffer): boolean {
  return (
    msg.length >= 4 &&
    msg[0] === FRAME_MAGIC[0] &&
    msg[1] === FRAME_MAGIC[1] &&
    msg[2] === FRAME_MAGIC[2] &&
    msg[OFF_VERSION] === ANNOUNCE_VERSION
  );
}

/** The fields when `msg` has exactly the shape of an announcement, else null. Never throws. */
export function parseAnnouncement(msg: Buffer): ParsedAnnouncement | null {
  if (msg.length < ANNOUNCE_MIN_LEN || msg.length > MAX_ANNOUNCE_LEN || !looksLikeAnnouncement(msg)) return null;
  const count = msg[OFF_COUNT]!;
  const end = msg.length - MAC_LEN;
  const entries: AnnouncedEntry[] = [];
  const seen = new Set<string>();
  let at = ANNOUNCE_HEADER_LEN;
  for (let i = 0; i < count; i++) {
    if (at >= end) return null;
    const n = msg[at]!;
    if (n < 1 || n > MAX_NAME_LEN || at + 1 + n + DIGEST_LEN > end) return null;
    const name = msg.toString('latin1', at + 1, at + 1 + n);
    // Names reach logs and alarms: only what a config key can be, each once.
    if (!NAME_RE.test(name) || seen.has(name)) return null;
    seen.add(name);
    entries.push({ name, digest: msg.subarray(at + 1 + n, at + 1 + n + DIGEST_LEN) });
    at += 1 + n + DIGEST_LEN;
  }
  if (at !== end) return null;
  return {
    keyId: msg[OFF_KEY_ID]!,
    node: msg[OFF_NODE]!,
    generation: msg.readUInt32BE(OFF_GENERATION),
    counter: msg.readBigUInt64BE(OFF_COUNTER),
    entries,
    restCount: msg.readUInt16BE(OFF_REST_COUNT),
    restDigest: msg.subarray(OFF_REST_DIGEST, OFF_REST_DIGEST + DIGEST_LEN),
    signed: msg.subarray(0, end),
    mac: msg.subarray(end),
  };
}

export function announcementMacMatches(a: ParsedAnnouncement, key: Buffer): boolean {
  const expected = frameMac(key, a.signed);
  return a.mac.length === expected.length && crypto.timingSafeEqual(a.mac, expected);
}

/** How the peer's config differs from ours: key names only, never values. */
export interface ConfigDiff {
  differ: string[]; // both have it, the values differ
  onlyPeer: string[]; // the peer has it, we do not
  onlyHere: string[]; // we have it, the peer does not
  /** Among the keys the peer could not name (its announcement was full) some differ from ours (which: not known). */
  restDiffers: boolean;
  restCount: number; // how many keys the peer folded into its rest digest
}

export const sameConfig = (d: ConfigDiff) =>
  d.differ.length === 0 && d.onlyPeer.length === 0 && d.onlyHere.length === 0 && !d.restDiffers;

/**
 * Compare the peer's announcement with our table, under the key that signed
 * it. Our entries that the peer did not name are compared as a whole against
 * its rest digest: a key only one side has is then reported among the rest.
 */
export function compareConfig(
  local: readonly ConfigEntry[],
  peer: Pick<ParsedAnnouncement, 'entries' | 'restCount' | 'restDigest'>,
  key: Buffer,
): ConfigDiff {
  const mine = new Map(local.map((e) => [e.name, e]));
  const differ: string[] = [];
  const onlyPeer: string[] = [];
  for (const p of peer.entries) {
    const e = mine.get(p.name);
    if (!e) onlyPeer.push(p.name);
    else if (!crypto.timingSafeEqual(valueDigest(key, e), p.digest)) differ.push(p.name);
  }
  const named = new Set(peer.entries.map((p) => p.name));
  const unnamed = local.filter((e) => !named.has(e.name));
  // Without a rest on the peer's side every key of ours it did not name is ours alone.
  if (peer.restCount === 0)
    return { differ, onlyPeer, onlyHere: unnamed.map((e) => e.name), restDiffers: false, restCount: 0 };
  const restDiffers = !restDigest(key, unnamed).equals(peer.restDigest);
  return { differ, onlyPeer, onlyHere: [], restDiffers, restCount: peer.restCount };
}

/** The alarm, in words: "lb2 runs a different config: RES_ipaddr, DEADTIME differ". Null when the same. */
export function describeDiff(d: ConfigDiff, peerName: string, localName: string): string | null {
  if (sameConfig(d)) return null;
  const parts: string[] = [];
  if (d.differ.length) parts.push(`${d.differ.join(', ')} ${d.differ.length === 1 ? 'differs' : 'differ'}`);
  if (d.onlyPeer.length) parts.push(`${d.onlyPeer.join(', ')} only on ${peerName}`);
  if (d.onlyHere.length) parts.push(`${d.onlyHere.join(', ')} only on ${localName}`);
  if (d.restDiffers)
    parts.push(`some of the ${d.restCount} keys its announcement could not name (too many resources) differ`);
  return `${peerName} runs a different config: ${parts.join('; ')}`;
}
