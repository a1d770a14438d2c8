// The authenticated heartbeat frame (docs/wire-format-auth.md): a pure codec,
// bytes in and out, no sockets, no files, no clock.
import crypto from 'node:crypto';
import { WORDS, type Word } from './word.js';

/** "PHA": readable in a capture, and never one of the plain words (those are 6..8 bytes). */
export const FRAME_MAGIC = Buffer.from('PHA', 'ascii');
export const FRAME_VERSION = 1;
export const MAC_LEN = 32; // HMAC-SHA256, not truncated
const OFF_VERSION = 3;
const OFF_KEY_ID = 4;
const OFF_NODE = 5;
const OFF_GENERATION = 6; // u32 BE
const OFF_SEQUENCE = 10; // u64 BE
const OFF_WORD_LEN = 18;
const OFF_WORD = 19;
export const FRAME_HEADER_LEN = OFF_WORD;
export const FRAME_MIN_LEN = FRAME_HEADER_LEN + 6 + MAC_LEN; // ONLINE: 57
export const FRAME_MAX_LEN = FRAME_HEADER_LEN + 8 + MAC_LEN; // OFFLINE 58, PROGRESS: 59

export const MAX_GENERATION = 0xffff_ffff;
export const MAX_SEQUENCE = 0xffff_ffff_ffff_ffffn;

export interface FrameFields {
  keyId: number; // 1..255
  node: 1 | 2; // the sender's position in NODES
  generation: number; // u32: the sender's boot generation
  sequence: bigint; // u64: grows within a generation, starts at 1
  word: Word;
}

/** A frame that has the right shape; its MAC is not checked yet. */
export interface ParsedFrame {
  keyId: number;
  node: number; // not narrowed: an authenticated frame may still name a wrong node
  generation: number;
  sequence: bigint;
  word: Word;
  signed: Buffer; // the bytes the MAC covers (a view of the datagram)
  mac: Buffer; // the last 32 bytes (a view of the datagram)
}

export function frameMac(key: Buffer, signed: Buffer): Buffer {
  return crypto.createHmac('sha256', key).update(signed).digest();
}

export function encodeFrame(f: FrameFields, key: Buffer): Buffer {
  if (!Number.isInteger(f.keyId) || f.keyId < 1 || f.keyId > 255)
    throw new RangeError(`key id ${f.keyId} is not in 1..255`);
  if (f.node !== 1 && f.node !== 2) throw new RangeError(`node ${String(f.node)} is not 1 or 2`);
  if (!Number.isInteger(f.generation) || f.generation < 0 || f.generation > MAX_GENERATION)
    throw new RangeError(`generation ${f.generation} is not a u32`);
  if (f.sequence < 0n || f.sequence > MAX_SEQUENCE) throw new RangeError(`sequence ${f.sequence} is not a u64`);
  if (!(WORDS as readonly string[]).includes(f.word)) throw new RangeError(`not a heartbeat word: ${String(f.word)}`);
  const n = f.word.length;
  const buf = Buffer.alloc(FRAME_HEADER_LEN + n + MAC_LEN);
  FRAME_MAGIC.copy(buf, 0);
  buf[OFF_VERSION] = FRAME_VERSION;
  buf[OFF_KEY_ID] = f.keyId;
  buf[OFF_NODE] = f.node;
  buf.writeUInt32BE(f.generation, OFF_GENERATION);
  buf.writeBigUInt64BE(f.sequence, OFF_SEQUENCE);
  buf[OFF_WORD_LEN] = n;
  buf.write(f.word, OFF_WORD, 'latin1');
  const end = OFF_WORD + n;
  frameMac(key, buf.subarray(0, end)).copy(buf, end);
  return buf;
}

/** The frame's fields when `msg` has exactly the shape of a version-1 frame, else null. */
export function parseFrame(msg: Buffer): ParsedFrame | null {
  if (msg.length < FRAME_MIN_LEN || msg.length > FRAME_MAX_LEN) return null;
  if (msg[0] !== FRAME_MAGIC[0] || msg[1] !== FRAME_MAGIC[1] || msg[2] !== FRAME_MAGIC[2]) return null;
  if (msg[OFF_VERSION] !== FRAME_VERSION) return null;
  const n = msg[OFF_WORD_LEN]!;
  if (msg.length !== FRAME_HEADER_LEN + n + MAC_LEN) return null;
  const word = msg.toString('latin1', OFF_WORD, OFF_WORD + n);
  if (word !== 'ONLINE' && word !== 'OFFLINE' && word !== 'PROGRESS') return null;
  const end = OFF_WORD + n;
  return {
    keyId: msg[OFF_KEY_ID]!,
    node: msg[OFF_NODE]!,
    generation: msg.readUInt32BE(OFF_GENERATION),
    sequence: msg.readBigUInt64BE(OFF_SEQUENCE),
    word,
    signed: msg.subarray(0, end),
    mac: msg.subarray(end),
  };
}

/** Constant-time check of the frame's MAC under `key`. */
export function macMatches(frame: ParsedFrame, key: Buffer): boolean {
  const expected = frameMac(key, frame.signed);
  // Lengths are equal by construction (parseFrame); timingSafeEqual throws otherwise.
  return frame.mac.length === expected.length && crypto.timingSafeEqual(frame.mac, expected);
}
