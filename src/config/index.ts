// Load etc/config into one typed, frozen Config: parse, check every value,
// find this node and its peer, and find the resource scripts.

import dns from 'node:dns';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, type ConfigProblem, PhaError } from '../errors.js';
import { type KeyRing, loadKeyFile } from '../heartbeat/keyfile.js';
import { DEFAULT_CONFIG, PACKAGE_RES_DIR } from '../paths.js';
import { notWritableByOthers, scriptProblems } from '../perms.js';
import { KEYS, reservedNote } from './keys.js';
import { type ParsedConfig, parseConfigText, splitList } from './parse.js';

export { KEYS, RESERVED_RESOURCE_NAMES } from './keys.js';
export { parseConfigText } from './parse.js';

export interface ResourceDef {
  name: string;
  args: readonly string[];
  script: string; // absolute path of the script that will run
}

export interface NodeDef {
  name: string;
  id: 1 | 2;
  addrs: readonly string[]; // IPv4 addresses the name resolves to
}

/** The authenticated heartbeat's settings; `keys` never shows a key (JSON, inspect, logs). */
export interface AuthConfig {
  file: string; // the key file, absolute
  mode: 'enforce' | 'permissive';
  keys: KeyRing;
}

export interface Config {
  file: string;
  DEBUG: number;
  INSTALLDIR: string;
  LOGPATH: string;
  DAEMON: boolean;
  PINGTIMEOUT: number; // s
  PORT: number;
  SUPERVISE_INT: number; // ms
  NODES: readonly [string, string];
  GW: string;
  NODENAME: string;
  HEARTBEAT_INT: number; // ms
  DEADTIME: number; // ms
  RES_TIMEOUT: number; // s
  RES_RESTARTS: number;
  GW_FAILS: number;
  GW_INT: number; // ms
  CHECK_TIMEOUT: number; // ms (0 in the file: SUPERVISE_INT)
  FAIL_HOLDDOWN: number; // s
  OFF_PAUSE: number; // s
  BIND: string;
  PEER_ADDR: readonly string[];
  AUTHKEY: string; // key file path as resolved, '' = plain words
  AUTH_MODE: '' | 'enforce' | 'permissive'; // '' without AUTHKEY
  auth: AuthConfig | null;
  resources: readonly ResourceDef[];
  local: NodeDef;
  peer: NodeDef;
  warnings: readonly string[];
}

export type Lookup = (name: string) => Promise<string[]>;

export const systemLookup: Lookup = async (name) => {
  if (net.isIPv4(name)) return [name];
  const res = await dns.promises.lookup(name, { all: true, family: 4 });
  return [...new Set(res.map((r) => r.address))];
};

export interface LoadOptions {
  hostname?: string; // default os.hostname()
  lookup?: Lookup;
  env?: NodeJS.ProcessEnv;
}

export function configPathFrom(cliPath: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(cliPath || env.PHA_CONFIG || DEFAULT_CONFIG);
}

export function resourceScript(installDir: string, name: string): string | undefined {
  for (const dir of [path.join(installDir, 'res'), PACKAGE_RES_DIR]) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Typed values of a parsed file, with every problem named by file and line. */
export async function buildConfig(parsed: ParsedConfig, opts: LoadOptions = {}): Promise<Config> {
  const env = opts.env ?? process.env;
  const errors: ConfigProblem[] = [...parsed.errors];
  const file = parsed.file;
  const lineOf = (k: string) => parsed.values.get(k)?.line ?? 0;
  const raw = (k: string): string => {
    const v = parsed.values.get(k)?.value;
    return v === undefined ? KEYS[k]!.default : v;
  };
  const num = (k: string): number => {
    const spec = KEYS[k]!;
    const s = raw(k);
    const ok = spec.kind === 'int' ? /^-?\d+$/.test(s) : /^-?(\d+\.?\d*|\.\d+)$/.test(s);
    const n = Number(s);
    const range = `${spec.min ?? '-'}..${spec.max ?? '-'}${spec.unit ? ` ${spec.unit}` : ''}`;
    if (
      !ok ||
      !Number.isFinite(n) ||
      (spec.min !== undefined && n < spec.min) ||
      (spec.max !== undefined && n > spec.max)
    ) {
      const note = k.startsWith('RES_') ? ` (${reservedNote(k)})` : '';
      errors.push({
        file,
        line: lineOf(k),
        message: `${k}=${s}: expected ${spec.kind === 'int' ? 'a whole number' : 'a number'} in ${range}${note}`,
      });
      return Number(spec.default);
    }
    return n;
  };
  const bool01 = (k: string): boolean => {
    const s = raw(k);
    if (s !== '0' && s !== '1') {
      errors.push({ file, line: lineOf(k), message: `${k}=${s}: expected 0 or 1` });
      return KEYS[k]!.default === '1';
    }
    return s === '1';
  };

  const installDir = path.resolve(raw('INSTALLDIR') || path.dirname(path.dirname(file)));
  const logPath = raw('LOGPATH') || path.join(installDir, 'var', 'log');
  const nodes = splitList(raw('NODES'));
  if (nodes.length !== 2) {
    errors.push({
      file,
      line: lineOf('NODES'),
      message: `NODES must name exactly two nodes (got ${nodes.length}${nodes.length ? `: ${nodes.join(' ')}` : ''})`,
    });
  } else if (nodes[0] === nodes[1]) {
    errors.push({ file, line: lineOf('NODES'), message: `NODES names the same node twice (${nodes[0]})` });
  }
  const gw = raw('GW');
  if (gw !== '' && !net.isIPv4(gw)) {
    errors.push({
      file,
      line: lineOf('GW'),
      message: `GW=${gw}: expected an IPv4 address (or empty for no gateway check)`,
    });
  }
  const bind = raw('BIND');
  if (bind !== '' && !net.isIPv4(bind)) {
    errors.push({ file, line: lineOf('BIND'), message: `BIND=${bind}: expected an IPv4 address` });
  }
  const peerAddr = splitList(raw('PEER_ADDR'));
  for (const a of peerAddr) {
    if (!net.isIPv4(a))
      errors.push({ file, line: lineOf('PEER_ADDR'), message: `PEER_ADDR: "${a}" is not an IPv4 address` });
  }
  const values = {
    DEBUG: num('DEBUG'),
    DAEMON: bool01('DAEMON'),
    PINGTIMEOUT: num('PINGTIMEOUT'),
    PORT: num('PORT'),
    SUPERVISE_INT: num('SUPERVISE_INT'),
    HEARTBEAT_INT: num('HEARTBEAT_INT'),
    DEADTIME: num('DEADTIME'),
    RES_TIMEOUT: num('RES_TIMEOUT'),
    RES_RESTARTS: num('RES_RESTARTS'),
    GW_FAILS: num('GW_FAILS'),
    GW_INT: num('GW_INT'),
    CHECK_TIMEOUT: num('CHECK_TIMEOUT'),
    FAIL_HOLDDOWN: num('FAIL_HOLDDOWN'),
    OFF_PAUSE: num('OFF_PAUSE'),
  };
  if (values.DEADTIME < 2 * values.HEARTBEAT_INT) {
    errors.push({
      file,
      line: lineOf('DEADTIME') || lineOf('HEARTBEAT_INT'),
      message: `DEADTIME=${values.DEADTIME} must be at least twice HEARTBEAT_INT=${values.HEARTBEAT_INT} (ms), or one lost datagram looks like a dead peer`,
    });
  }

  // Authenticated heartbeat: the key file is read and checked now, so a bad
  // one stops the start (exit 2) instead of a silent pair.
  const authKeyRaw = raw('AUTHKEY');
  const authModeRaw = raw('AUTH_MODE');
  let auth: AuthConfig | null = null;
  let authKeyFile = '';
  if (authModeRaw !== '' && authModeRaw !== 'enforce' && authModeRaw !== 'permissive') {
    errors.push({
      file,
      line: lineOf('AUTH_MODE'),
      message: `AUTH_MODE=${authModeRaw}: expected enforce or permissive`,
    });
  } else if (authModeRaw !== '' && authKeyRaw === '') {
    errors.push({
      file,
      line: lineOf('AUTH_MODE'),
      message: `AUTH_MODE=${authModeRaw} needs AUTHKEY=<key file> (without a key pha speaks the original's plain words)`,
    });
  }
  if (authKeyRaw !== '') {
    authKeyFile = path.resolve(installDir, authKeyRaw);
    const k = loadKeyFile(authKeyFile);
    if (k.fileProblem)
      errors.push({ file, line: lineOf('AUTHKEY'), message: `AUTHKEY=${authKeyRaw}: ${k.fileProblem}` });
    errors.push(...k.problems);
    if (k.ring)
      auth = Object.freeze({
        file: authKeyFile,
        mode: authModeRaw === 'permissive' ? 'permissive' : 'enforce',
        keys: k.ring,
      });
  }

  const resources: ResourceDef[] = [];
  for (const r of parsed.resources) {
    const script = resourceScript(installDir, r.name);
    if (!script) {
      errors.push({
        file,
        line: r.line,
        message: `RES_${r.name}: no script "${r.name}" in ${path.join(installDir, 'res')} or ${PACKAGE_RES_DIR}`,
      });
    } else if (!isExecutable(script)) {
      errors.push({ file, line: r.line, message: `RES_${r.name}: script ${script} is not executable (chmod +x)` });
    } else {
      // Whoever can write a script (or replace it in its directory) runs code as root.
      const unsafe = scriptProblems(script, `RES_${r.name}: script`);
      for (const m of unsafe) errors.push({ file, line: r.line, message: m });
      if (unsafe.length === 0) resources.push({ name: r.name, args: Object.freeze([...r.args]), script });
    }
  }

  // Identity: which NODES entry is this host.
  const nodeName = env.NODENAME || raw('NODENAME');
  const hostname = opts.hostname ?? os.hostname();
  let local: NodeDef = { name: nodes[0] ?? '', id: 1, addrs: [] };
  let peer: NodeDef = { name: nodes[1] ?? '', id: 2, addrs: [] };
  if (nodes.length === 2) {
    const me = nodeName || hostname;
    let idx = nodes.indexOf(me);
    if (idx < 0 && !nodeName) idx = nodes.indexOf(hostname.split('.')[0]!);
    if (idx < 0) {
      errors.push({
        file,
        line: lineOf('NODES'),
        message: nodeName
          ? `NODENAME=${nodeName} is not one of NODES (${nodes.join(' ')})`
          : `this host (${hostname}) is not one of NODES (${nodes.join(' ')}); set NODENAME or the host name`,
      });
    } else {
      const lookup = opts.lookup ?? systemLookup;
      const resolved: string[][] = [];
      for (const n of nodes) {
        try {
          const a = await lookup(n);
          if (a.length === 0) throw new PhaError('PHA_ERR_RESOLVE', n);
          resolved.push(a);
        } catch (e) {
          errors.push({
            file,
            line: lineOf('NODES'),
            message: `node name "${n}" does not resolve to an IPv4 address (/etc/hosts or DNS): ${(e as Error).message ?? e}`,
          });
          resolved.push([]);
        }
      }
      const other = 1 - idx;
      local = { name: nodes[idx]!, id: (idx + 1) as 1 | 2, addrs: resolved[idx]! };
      peer = { name: nodes[other]!, id: (other + 1) as 1 | 2, addrs: [...new Set([...resolved[other]!, ...peerAddr])] };
    }
  }

  if (values.CHECK_TIMEOUT === 0) values.CHECK_TIMEOUT = values.SUPERVISE_INT;
  if (errors.length) throw new ConfigError(errors);
  return Object.freeze({
    file,
    ...values,
    INSTALLDIR: installDir,
    LOGPATH: logPath,
    NODES: [nodes[0]!, nodes[1]!] as const,
    GW: gw,
    NODENAME: nodeName,
    BIND: bind,
    PEER_ADDR: peerAddr,
    AUTHKEY: authKeyFile,
    AUTH_MODE: auth ? auth.mode : '',
    auth,
    resources: Object.freeze(resources),
    local: Object.freeze(local),
    peer: Object.freeze(peer),
    warnings: parsed.warnings.map((w) => `${w.file}:${w.line}: warning: ${w.message}`),
  });
}

export async function loadConfig(file: string, opts: LoadOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError([
      {
        file,
        line: 0,
        message:
          code === 'ENOENT'
            ? 'config file not found (use --config FILE or PHA_CONFIG)'
            : `cannot read config: ${(e as Error).message}`,
      },
    ]);
  }
  // Whoever can write the config decides which scripts run as root.
  const perms = [
    notWritableByOthers(file, 'config file'),
    notWritableByOthers(path.dirname(file), 'config directory'),
  ].filter((m): m is string => m !== null);
  if (perms.length) throw new ConfigError(perms.map((message) => ({ file, line: 0, message })));
  return buildConfig(parseConfigText(text, file), opts);
}

/** Paths derived from the config that every part shares. */
export function varDir(c: Pick<Config, 'INSTALLDIR'>): string {
  return path.join(c.INSTALLDIR, 'var');
}
export function runDir(c: Pick<Config, 'INSTALLDIR'>): string {
  return path.join(c.INSTALLDIR, 'var', 'run');
}
export function statusFile(c: Pick<Config, 'INSTALLDIR'>): string {
  return path.join(c.INSTALLDIR, 'var', 'status.dat');
}
