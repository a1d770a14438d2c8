// The heartbeat key file: one or two lines `<id> <hex key>`; the first line
// signs, every line verifies (a second line is for hitless rotation). Keys live
// in a KeyRing, whose bytes never reach JSON, util.inspect or a log line.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import type { ConfigProblem } from '../errors.js';
import { notWritableByOthers, privateFileProblem } from '../perms.js';
import { writeFileDurable } from './durable-file.js';

export const KEY_ID_MIN = 1;
export const KEY_ID_MAX = 255; // one byte on the wire; 0 is never a key id
export const KEY_MIN_BYTES = 32; // the HMAC-SHA256 output size
export const KEY_MAX_BYTES = 64; // the SHA-256 block size: longer keys are hashed first, no gain
export const KEYGEN_BYTES = 32;
export const MAX_KEYS = 2;

export class KeyRing {
  readonly #keys: ReadonlyMap<number, Buffer>;
  /** Key ids in file order; the first signs. */
  readonly ids: readonly number[];
  readonly file: string;

  constructor(file: string, keys: readonly { id: number; key: Buffer }[]) {
    if (keys.length < 1 || keys.length > MAX_KEYS) throw new RangeError(`a key ring holds 1..${MAX_KEYS} keys`);
    this.file = file;
    this.#keys = new Map(keys.map((k) => [k.id, Buffer.from(k.key)]));
    this.ids = Object.freeze(keys.map((k) => k.id));
    Object.freeze(this);
  }

  get signingId(): number {
    return this.ids[0]!;
  }

  get signingKey(): Buffer {
    return this.#keys.get(this.ids[0]!)!;
  }

  /** The key with this id, or undefined for an unknown id. */
  key(id: number): Buffer | undefined {
    return this.#keys.get(id);
  }

  /** What `conf`, logs and JSON may show: the file and the key ids, never a key. */
  describe(): string {
    return `${this.file}: key id${this.ids.length > 1 ? 's' : ''} ${this.ids.join(', ')} (${this.signingId} signs)`;
  }

  toJSON(): { file: string; ids: readonly number[]; signingId: number } {
    return { file: this.file, ids: this.ids, signingId: this.signingId };
  }

  [util.inspect.custom](): string {
    return `KeyRing { ${this.describe()} }`;
  }
}

export interface ParsedKeyFile {
  keys: { id: number; key: Buffer; line: number }[];
  problems: ConfigProblem[];
}

const LINE_RE = /^(\S+)\s+(\S+)$/;

/** Pure parser; problems name the key file and line but never quote a key. */
export function parseKeyFileText(text: string, file: string): ParsedKeyFile {
  const keys: ParsedKeyFile['keys'] = [];
  const problems: ConfigProblem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return;
    const m = LINE_RE.exec(t);
    if (!m) {
      problems.push({
        file,
        line,
        message: `malformed key line: expected "<id> <hex key>" (id ${KEY_ID_MIN}..${KEY_ID_MAX}, key ${KEY_MIN_BYTES}..${KEY_MAX_BYTES} bytes as hex)`,
      });
      return;
    }
    const [, idText, hex] = m as unknown as [string, string, string];
    const id = /^\d{1,3}$/.test(idText) ? Number(idText) : NaN;
    if (!(id >= KEY_ID_MIN && id <= KEY_ID_MAX)) {
      problems.push({
        file,
        line,
        message: `key id "${idText.slice(0, 10)}" is not a whole number in ${KEY_ID_MIN}..${KEY_ID_MAX}`,
      });
      return;
    }
    if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length % 2 !== 0) {
      problems.push({ file, line, message: `key ${id}: the key is not an even number of hex digits (0-9, a-f)` });
      return;
    }
    const bytes = hex.length / 2;
    if (bytes < KEY_MIN_BYTES) {
      problems.push({
        file,
        line,
        message: `key ${id} is too short: ${bytes} bytes, at least ${KEY_MIN_BYTES} (${KEY_MIN_BYTES * 2} hex digits); make one with 'pha-cli keygen'`,
      });
      return;
    }
    if (bytes > KEY_MAX_BYTES) {
      problems.push({
        file,
        line,
        message: `key ${id} is too long: ${bytes} bytes, at most ${KEY_MAX_BYTES} (${KEY_MAX_BYTES * 2} hex digits)`,
      });
      return;
    }
    const dup = keys.find((k) => k.id === id);
    if (dup) {
      problems.push({ file, line, message: `key id ${id} is given twice (also line ${dup.line})` });
      return;
    }
    keys.push({ id, key: Buffer.from(hex, 'hex'), line });
  });
  if (keys.length > MAX_KEYS) {
    problems.push({
      file,
      line: keys[MAX_KEYS]!.line,
      message: `more than ${MAX_KEYS} keys: the first signs, a second is for rotation; remove the others`,
    });
  }
  if (keys.length === 0 && problems.length === 0) {
    problems.push({
      file,
      line: 0,
      message: 'no key in the file: expected "<id> <hex key>" lines; make one with \'pha-cli keygen\'',
    });
  }
  return { keys, problems };
}

/** The file text for these keys (first signs). */
export function formatKeyFile(keys: readonly { id: number; key: Buffer }[], note = ''): string {
  const head = `# pha heartbeat key${keys.length > 1 ? 's' : ''}: "<id> <hex key>"; the first line signs, all lines verify.${note ? ` ${note}` : ''}\n`;
  return head + keys.map((k) => `${k.id} ${k.key.toString('hex')}\n`).join('');
}

export function generateKey(bytes = KEYGEN_BYTES): Buffer {
  return crypto.randomBytes(bytes);
}

export interface LoadedKeyFile {
  ring?: KeyRing;
  /** The file as a whole (missing, unreadable, permissions): the caller names where AUTHKEY was set. */
  fileProblem?: string;
  /** Lines of the file: named by key-file path and line. */
  problems: ConfigProblem[];
}

/** Reads and checks a key file: owner-only permissions, one or two valid keys. */
export function loadKeyFile(file: string): LoadedKeyFile {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      return {
        problems: [],
        fileProblem: `key file ${file} not found (create it with 'pha-cli keygen ${file}', then copy it to the peer)`,
      };
    if (code === 'ELOOP') return { problems: [], fileProblem: `key file ${file} is a symlink: give the real path` };
    return { problems: [], fileProblem: `key file ${file} is not readable: ${code ?? (e as Error).message}` };
  }
  try {
    // fstat the open file: what is checked is what is read.
    const perm = privateFileProblem(file, fs.fstatSync(fd));
    if (perm) return { problems: [], fileProblem: perm };
    const dirProblem = notWritableByOthers(path.dirname(file), 'key file directory');
    if (dirProblem) return { problems: [], fileProblem: dirProblem };
    let text: string;
    try {
      text = fs.readFileSync(fd, 'utf8');
    } catch (e) {
      return {
        problems: [],
        fileProblem: `key file ${file} is not readable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      };
    }
    const parsed = parseKeyFileText(text, file);
    if (parsed.problems.length) return { problems: parsed.problems };
    return { ring: new KeyRing(file, parsed.keys), problems: [] };
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes a key file with mode 0600 (atomically: a reader never sees half a key). */
export function writeKeyFile(file: string, keys: readonly { id: number; key: Buffer }[], note = ''): void {
  writeFileDurable(file, formatKeyFile(keys, note), 0o600);
}
