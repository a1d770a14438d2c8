// The heartbeat on the wire: the original's plain word and the authenticated
// frame (docs/wire-format-auth.md), the receiver's acceptance rules, the key
// file and the generation files. Only keyfile.ts and generation.ts touch files.
export { WORDS, type Word } from './word.js';
export { decodeHeartbeat, encodeHeartbeat, isFromPeer } from './plain.js';
export { createHeartbeatCodec, type AcceptResult, type Accepted, type AuthMode, type AuthOptions, type Dropped, type HeartbeatCodec, type HeartbeatCodecOptions } from './codec.js';
export { DROP_MEANING, DROP_REASONS, DropLogLimiter, dropStatusKey, dropStatusPatch, newDropCounters, totalDrops, type DropCounters, type DropReason } from './drops.js';
export { encodeFrame, parseFrame, macMatches, FRAME_MAGIC, FRAME_VERSION, FRAME_MIN_LEN, FRAME_MAX_LEN, type FrameFields, type ParsedFrame } from './frame.js';
export { KeyRing, loadKeyFile, parseKeyFileText, formatKeyFile, generateKey, writeKeyFile } from './keyfile.js';
export { generationFile, peerGenerationFile, nextBootGeneration, readPeerState, writePeerState, type BootGeneration, type PeerState } from './generation.js';
