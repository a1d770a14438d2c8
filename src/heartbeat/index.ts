// The heartbeat on the wire: the original's plain word, the authenticated
// frame and the config announcement (docs/wire-format-auth.md), the receiver's
// acceptance rules, the key file and the generation files. Only keyfile.ts and generation.ts touch files.

export {
  ANNOUNCE_MIN_LEN,
  ANNOUNCE_VERSION,
  type AnnouncedEntry,
  type AnnounceFields,
  announcementMacMatches,
  type ConfigDiff,
  type ConfigEntry,
  compareConfig,
  configTable,
  DIGEST_LEN,
  describeDiff,
  encodeAnnouncement,
  looksLikeAnnouncement,
  MAX_ANNOUNCE_LEN,
  type ParsedAnnouncement,
  parseAnnouncement,
  restDigest,
  sameConfig,
  splitTable,
  valueDigest,
} from './announce.js';
export {
  type Accepted,
  type AcceptResult,
  type AnnouncementTaken,
  type AuthMode,
  type AuthOptions,
  createHeartbeatCodec,
  type Dropped,
  type HeartbeatCodec,
  type HeartbeatCodecOptions,
} from './codec.js';
export {
  DROP_MEANING,
  DROP_REASONS,
  type DropCounters,
  DropLogLimiter,
  type DropReason,
  dropStatusKey,
  dropStatusPatch,
  newDropCounters,
  totalDrops,
} from './drops.js';
export {
  encodeFrame,
  FRAME_MAGIC,
  FRAME_MAX_LEN,
  FRAME_MIN_LEN,
  FRAME_VERSION,
  type FrameFields,
  macMatches,
  type ParsedFrame,
  parseFrame,
} from './frame.js';
export {
  type BootGeneration,
  generationFile,
  nextBootGeneration,
  type PeerState,
  peerGenerationFile,
  readPeerState,
  writePeerState,
} from './generation.js';
export { formatKeyFile, generateKey, KeyRing, loadKeyFile, parseKeyFileText, writeKeyFile } from './keyfile.js';
export { decodeHeartbeat, encodeHeartbeat, isFromPeer } from './plain.js';
export { WORDS, type Word } from './word.js';
