// `pha-cli keygen [FILE] [--force] [--rotate]`: writes a new heartbeat key file
// (mode 0600). Works without a valid config (the AUTHKEY it names may not
// exist yet): the default path is found by a lenient read of the config.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfigText } from '../config/parse.js';
import { errorMessage } from '../errors.js';
import { generateKey, KEY_ID_MAX, loadKeyFile, writeKeyFile } from '../heartbeat/keyfile.js';

export const KEYGEN_USAGE =
  'usage: keygen [FILE] [--force] [--rotate]   (FILE default: AUTHKEY of the config, else INSTALLDIR/etc/authkey)';

/** AUTHKEY of the config (relative to INSTALLDIR), else INSTALLDIR/etc/authkey; the config need not be valid. */
export function defaultKeyFile(configFile: string): string {
  let installDir = path.dirname(path.dirname(configFile));
  let authKey = '';
  try {
    const parsed = parseConfigText(fs.readFileSync(configFile, 'utf8'), configFile);
    installDir = path.resolve(parsed.values.get('INSTALLDIR')?.value || installDir);
    authKey = parsed.values.get('AUTHKEY')?.value ?? '';
  } catch {
    /* no readable config: the default install layout */
  }
  return authKey ? path.resolve(installDir, authKey) : path.join(installDir, 'etc', 'authkey');
}

export interface KeygenOptions {
  file: string;
  force?: boolean;
  rotate?: boolean;
  out: (line: string) => void;
  err: (line: string) => void;
}

const nextId = (id: number) => (id % KEY_ID_MAX) + 1;

/** Writes the key file; returns the exit code. Never prints a key. */
export function keygen({ file, force = false, rotate = false, out, err }: KeygenOptions): number {
  const exists = fs.existsSync(file);
  let keys: { id: number; key: Buffer }[];
  let what: string;
  const stamp = `Made by pha-cli keygen on ${new Date().toISOString()}.`;
  if (exists && rotate) {
    const old = loadKeyFile(file);
    if (!old.ring) {
      const why = old.fileProblem ?? old.problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n');
      err(
        `keygen --rotate: cannot read the current keys, nothing written:\n${why}\n(use --force to replace the file with a single new key)`,
      );
      return 1;
    }
    const keep = old.ring.signingId;
    const id = nextId(keep);
    keys = [
      { id, key: generateKey() },
      { id: keep, key: old.ring.signingKey },
    ];
    what = `new key id ${id} signs; key id ${keep} kept to verify${old.ring.ids.length > 1 ? ` (key id ${old.ring.ids[1]} dropped)` : ''}`;
  } else if (exists && !force) {
    err(
      `keygen: ${file} exists; nothing written ('keygen --rotate' adds a new signing key and keeps the current one, '--force' replaces the file)`,
    );
    return 1;
  } else {
    let id = 1;
    if (exists) {
      // A different id than the one replaced: a peer still on the old key says "unknown key id", not "bad MAC".
      const old = loadKeyFile(file);
      if (old.ring) id = nextId(old.ring.signingId);
    }
    keys = [{ id, key: generateKey() }];
    what = `key id ${id}`;
  }
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    writeKeyFile(file, keys, stamp);
  } catch (e) {
    err(`keygen: cannot write ${file}: ${errorMessage(e)}`);
    return 1;
  }
  out(`keygen: wrote ${file} (mode 0600): ${what}`);
  const check = loadKeyFile(file);
  if (check.fileProblem) err(`keygen: warning: ${check.fileProblem}`);
  if (rotate && exists) {
    out('next: copy it to the peer (same path, mode 0600, e.g. scp -p), then on both nodes restart the receiver');
    out(
      "      ('re_sto', 're_sta'), and only then the sender ('se_sto', 'se_sta'): every receiver knows both keys before a sender signs with the new one",
    );
  } else {
    out(
      'next: copy it to the peer (same path, mode 0600, e.g. scp -p), set AUTHKEY in both configs, restart both nodes',
    );
  }
  return 0;
}

/** The command line form: tokens after the word `keygen`. */
export function keygenCommand(
  tokens: string[],
  defaultFile: () => string,
  out: (l: string) => void,
  err: (l: string) => void,
): number {
  let parsed: { values: { force?: boolean; rotate?: boolean }; positionals: string[] };
  try {
    parsed = parseArgs({
      args: tokens,
      options: { force: { type: 'boolean' }, rotate: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    err(`keygen: ${errorMessage(e)}\n${KEYGEN_USAGE}`);
    return 2;
  }
  if (parsed.positionals.length > 1) {
    err(`keygen: one FILE at most\n${KEYGEN_USAGE}`);
    return 2;
  }
  if (parsed.values.force && parsed.values.rotate) {
    err(`keygen: --force and --rotate exclude each other\n${KEYGEN_USAGE}`);
    return 2;
  }
  const file = path.resolve(parsed.positionals[0] ?? defaultFile());
  return keygen({ file, force: !!parsed.values.force, rotate: !!parsed.values.rotate, out, err });
}
