// The two small state files of the authenticated heartbeat (the codec gets
// their values and a callback; it never touches a file):
//   var/auth-generation       this node's sender boot generation, +1 at every sender start
//   var/auth-peer-generation  the peer's newest accepted (generation, sequence)
// Both are one line of decimal text, replaced atomically and fsynced.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileDurable } from './durable-file.js';
import { MAX_GENERATION } from './frame.js';

export const GENERATION_FILE = 'auth-generation';
export const PEER_GENERATION_FILE = 'auth-peer-generation';

// In var/auth/, not var/: the other daemons watch var/ for status.dat, and a
// checkpoint every few seconds must not wake them.
export function generationFile(varDir: string): string {
  return path.join(varDir, 'auth', GENERATION_FILE);
}
export function peerGenerationFile(varDir: string): string {
  return path.join(varDir, 'auth', PEER_GENERATION_FILE);
}

export interface PeerState {
  generation: number;
  sequence: bigint;
}

export interface BootGeneration {
  generation: number;
  /** False when it could not be written: a later start might reuse it (the clock floor still makes that unlikely). */
  persisted: boolean;
  /** What the operator should know (corrupt or unwritable file), else undefined. */
  problem?: string;
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function ensureDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * The sender's generation for this start: max(stored + 1, now in seconds),
 * written durably before the first frame goes out. The clock is only a floor,
 * so a lost or deleted file (reinstall) still yields a generation above the
 * last one the peer accepted, as long as this node's clock did not go back by
 * more than the time since that start; no clock sync between nodes is needed.
 */
export function nextBootGeneration(file: string, nowMs: number = Date.now()): BootGeneration {
  let stored = 0;
  let problem: string | undefined;
  try {
    const t = readText(file);
    if (t !== null) {
      const s = t.trim();
      if (/^\d{1,10}$/.test(s) && Number(s) <= MAX_GENERATION) stored = Number(s);
      else problem = `${file} is corrupt ("${s.slice(0, 20)}"): the generation restarts from the clock`;
    }
  } catch (e) {
    problem = `cannot read ${file}: ${(e as Error).message}; the generation restarts from the clock`;
  }
  const floor = Math.min(MAX_GENERATION, Math.floor(nowMs / 1000));
  if (stored >= MAX_GENERATION) {
    return {
      generation: MAX_GENERATION,
      persisted: false,
      problem:
        `${file}: the generation is exhausted (${MAX_GENERATION}); put a new key on both nodes ` +
        `and remove ${PEER_GENERATION_FILE} and ${GENERATION_FILE} on both`,
    };
  }
  const generation = Math.max(stored + 1, floor);
  try {
    ensureDir(path.dirname(file));
    writeFileDurable(file, `${generation}\n`, 0o600);
    return { generation, persisted: true, problem };
  } catch (e) {
    const msg = `cannot write ${file}: ${(e as Error).message}`;
    return { generation, persisted: false, problem: problem ? `${problem}; ${msg}` : msg };
  }
}

/** The peer's newest accepted (generation, sequence), or null when none is stored (or the file is corrupt: `problem` says so). */
export function readPeerState(file: string): { state: PeerState | null; problem?: string } {
  let t: string | null;
  try {
    t = readText(file);
  } catch (e) {
    return {
      state: null,
      problem: `cannot read ${file}: ${(e as Error).message}; replays of the peer's current generation are not refused until it restarts`,
    };
  }
  if (t === null) return { state: null };
  const m = /^(\d{1,10}) (\d{1,20})$/.exec(t.trim());
  if (m && Number(m[1]) <= MAX_GENERATION && BigInt(m[2]!) <= 0xffff_ffff_ffff_ffffn) {
    return { state: { generation: Number(m[1]), sequence: BigInt(m[2]!) } };
  }
  return {
    state: null,
    problem: `${file} is corrupt ("${t.trim().slice(0, 40)}"): ignored; replays of the peer's current generation are not refused until it restarts`,
  };
}

/** Stores the peer's newest accepted state; `durable` (fsync) for a new generation, plain atomic rename for a checkpoint. */
export function writePeerState(file: string, s: PeerState, durable = true): void {
  ensureDir(path.dirname(file));
  writeFileDurable(file, `${s.generation} ${s.sequence}\n`, 0o600, { durable });
}
