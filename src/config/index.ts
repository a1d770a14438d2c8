// Load etc/config into one typed, frozen Config: parse, check every value,
// find this node and its peer, and find the resource scripts.

import dns from 'node:dns';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, type ConfigProblem, errorMessage, PhaError } from '../errors.js';
import { type KeyRing, loadKeyFile } from '../heartbeat/keyfile.js';
import { familyOf, ipLiteral, isLinkLocal6 } from '../ip.js';
import { DEFAULT_CONFIG, PACKAGE_RES_DIR } from '../paths.js';
import { notWritableByOthers, privateFileProblem, scriptProblems } from '../perms.js';
import { KEYS, reservedNote } from './keys.js';
import { type ParsedConfig, parseConfigText, splitList } from './parse.js';
import { SAFE_FLOOR } from './timing.js';

export { KEYS, RESERVED_RESOURCE_NAMES } from './keys.js';
export { parseConfigText } from './parse.js';

export interface ResourceDef {
  name: string;
  args: readonly string[];
  script: string; // absolute path of the script that will run
}

/** A notify hook: a script called on every transition of this node. */
export interface NotifyHook {
  name: string;
  script: string; // absolute path
}

export interface NodeDef {
  name: string;
  id: 1 | 2;
  addrs: readonly string[]; // the addresses the name resolves to (IPv4 first), canonical
}

/** One heartbeat path: this node's address on it and the peer's (HB_PATHS; else the nodes' first addresses). */
export interface HbPath {
  local: string;
  peer: string;
}

/** At most this many heartbeat paths (corosync's knet carries 8 links). */
export const MAX_HB_PATHS = 8;

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
  NOTIFY: readonly string[];
  NOTIFY_TIMEOUT: number; // s
  SPLIT_YIELD: boolean; // rule 12: the second yields to a silent first that answers on the LAN
  NICE: number; // the daemons' scheduling priority (nice), 0: left as started
  BIND: string;
  PEER_ADDR: readonly string[];
  HB_PATHS: string;
  /** The heartbeat paths, in HB_PATHS order (path 1 first); one path without HB_PATHS. */
  paths: readonly HbPath[];
  pathsLine: number; // of HB_PATHS in the config file (0: unset)
  AUTHKEY: string; // key file path as resolved, '' = plain words
  AUTH_MODE: '' | 'enforce' | 'permissive'; // '' without AUTHKEY
  auth: AuthConfig | null;
  resources: readonly ResourceDef[];
  /** The notify hooks, in call order (NOTIFY). */
  notify: readonly NotifyHook[];
  METRICS: string;
  /** Where supervise serves /metrics (METRICS), and the line that says so; null: off. */
  metrics: MetricsAddress | null;
  WITNESS: string;
  /** The etcd witness; null: none (WITNESS empty). */
  witness: WitnessConfig | null;
  local: NodeDef;
  peer: NodeDef;
  warnings: readonly string[];
}

/** The etcd witness (WITNESS; rule 13). The password stays in its file: supervise reads it when it connects. */
export interface WitnessConfig {
  hosts: readonly string[]; // http(s)://<host>:<port>, as the etcd3 client takes them
  tls: boolean; // etcds://
  prefix: string; // ends in '/'
  ttl: number; // s
  ca: string; // paths, '' = unset
  cert: string;
  key: string;
  user: string;
  passwordFile: string;
  line: number; // of WITNESS in the config file
}

export interface MetricsAddress {
  host: string;
  port: number;
  line: number; // of METRICS in the config file
}

export type Lookup = (name: string) => Promise<string[]>;

/** A name's addresses, IPv4 first (the original's family, so a name with both keeps its heartbeat on IPv4). */
export const systemLookup: Lookup = async (name) => {
  const literal = ipLiteral(name.replace(/^\[(.*)\]$/, '$1'));
  if (literal) return [literal];
  const res = await dns.promises.lookup(name, { all: true, family: 0 });
  const addrs = res.map((r) => ipLiteral(r.address) ?? r.address);
  return [...new Set([...addrs.filter((a) => net.isIPv4(a)), ...addrs.filter((a) => !net.isIPv4(a))])];
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

/** Reads typed values out of a parsed file; every problem is kept with its file and line. */
interface Reader {
  file: string;
  errors: ConfigProblem[];
  lineOf(k: string): number;
  raw(k: string): string;
  num(k: string): number;
  bool01(k: string): boolean;
  problem(k: string | number, message: string): void;
  /** A value that works but that the operator should know about (the config still loads). */
  warn(k: string, message: string): void;
}

function reader(parsed: ParsedConfig): Reader {
  const file = parsed.file;
  const errors: ConfigProblem[] = [...parsed.errors];
  const lineOf = (k: string) => parsed.values.get(k)?.line ?? 0;
  const raw = (k: string): string => parsed.values.get(k)?.value ?? KEYS[k]!.default;
  const problem = (k: string | number, message: string) =>
    errors.push({ file, line: typeof k === 'number' ? k : lineOf(k), message });
  const num = (k: string): number => {
    const spec = KEYS[k]!;
    const s = raw(k);
    const ok = spec.kind === 'int' ? /^-?\d+$/.test(s) : /^-?(\d+\.?\d*|\.\d+)$/.test(s);
    const n = Number(s);
    const range = `${spec.min ?? '-'}..${spec.max ?? '-'}${spec.unit ? ` ${spec.unit}` : ''}`;
    const inRange = (spec.min === undefined || n >= spec.min) && (spec.max === undefined || n <= spec.max);
    if (ok && Number.isFinite(n) && inRange) return n;
    const note = k.startsWith('RES_') ? ` (${reservedNote(k)})` : '';
    problem(k, `${k}=${s}: expected ${spec.kind === 'int' ? 'a whole number' : 'a number'} in ${range}${note}`);
    return Number(spec.default);
  };
  const bool01 = (k: string): boolean => {
    const s = raw(k);
    if (s === '0' || s === '1') return s === '1';
    problem(k, `${k}=${s}: expected 0 or 1`);
    return KEYS[k]!.default === '1';
  };
  const warn = (k: string, message: string) => parsed.warnings.push({ file, line: lineOf(k), message });
  return { file, errors, lineOf, raw, num, bool01, problem, warn };
}

/** Typed values of a parsed file, with every problem named by file and line. */
export async function buildConfig(parsed: ParsedConfig, opts: LoadOptions = {}): Promise<Config> {
  const env = opts.env ?? process.env;
  const r = reader(parsed);
  const file = parsed.file;
  const installDir = path.resolve(r.raw('INSTALLDIR') || path.dirname(path.dirname(file)));
  const logPath = r.raw('LOGPATH') || path.join(installDir, 'var', 'log');
  const { nodes, gw, bind, peerAddr } = readAddresses(r);
  const values = readNumbers(r);
  const auth = readAuth(r, installDir);
  const resources = readResources(r, parsed, installDir);
  const notify = readNotify(r, installDir);
  const metrics = readMetrics(r);
  const witness = readWitness(r, nodes, installDir, values);
  const nodeName = env.NODENAME || r.raw('NODENAME');
  const ident = await readIdentity(r, nodes, nodeName, peerAddr, opts);
  const hb = readPaths(r, nodes, ident.local.name);
  const paths = hb.length ? hb : [{ local: ident.local.addrs[0] ?? '', peer: ident.peer.addrs[0] ?? '' }];
  // The peer speaks from any of its paths' addresses.
  const local = ident.local;
  const peer = { ...ident.peer, addrs: [...new Set([...ident.peer.addrs, ...paths.map((p) => p.peer)])] };

  if (values.CHECK_TIMEOUT === 0) values.CHECK_TIMEOUT = values.SUPERVISE_INT;
  if (r.errors.length) throw new ConfigError(r.errors);
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
    HB_PATHS: r.raw('HB_PATHS'),
    paths: Object.freeze(paths.map((p) => Object.freeze(p))),
    pathsLine: r.lineOf('HB_PATHS'),
    AUTHKEY: auth.file,
    AUTH_MODE: auth.config ? auth.config.mode : '',
    auth: auth.config,
    resources: Object.freeze(resources),
    NOTIFY: notify.map((h) => h.name),
    notify: Object.freeze(notify),
    METRICS: r.raw('METRICS'),
    metrics: metrics && Object.freeze(metrics),
    WITNESS: r.raw('WITNESS'),
    witness: witness && Object.freeze(witness),
    local: Object.freeze(local),
    peer: Object.freeze(peer),
    warnings: parsed.warnings.map((w) => `${w.file}:${w.line}: warning: ${w.message}`),
  });
}

function readAddresses(r: Reader) {
  const nodes = splitList(r.raw('NODES'));
  if (nodes.length !== 2)
    r.problem(
      'NODES',
      `NODES must name exactly two nodes (got ${nodes.length}${nodes.length ? `: ${nodes.join(' ')}` : ''})`,
    );
  else if (nodes[0] === nodes[1]) r.problem('NODES', `NODES names the same node twice (${nodes[0]})`);
  const gw = literalOf(r, 'GW', r.raw('GW'), 'expected an IPv4 or IPv6 address (or empty for no gateway check)');
  const bind = literalOf(r, 'BIND', r.raw('BIND'), 'expected an IPv4 or IPv6 address (0.0.0.0 or :: for all)');
  const peerAddr = splitList(r.raw('PEER_ADDR')).map((a) =>
    literalOf(r, 'PEER_ADDR', a, 'expected IPv4 or IPv6 addresses, space-separated'),
  );
  return { nodes, gw, bind, peerAddr };
}

/** The canonical form of an IP literal in `key`, or a problem naming the line; '' stays ''. */
function literalOf(r: Reader, key: string, value: string, expected: string): string {
  if (value === '') return '';
  const lit = ipLiteral(value);
  if (lit === null) {
    r.problem(key, `${key}=${value}: ${expected}`);
    return value;
  }
  if (isLinkLocal6(lit) && !lit.includes('%'))
    r.problem(key, `${key}: ${value} is link-local: it needs its interface (${value}%eth0)`);
  return lit;
}

/**
 * HB_PATHS="lb1:198.18.0.11,198.18.1.11 lb2:198.18.0.12,198.18.1.12": path i
 * joins the i-th address of each node. Empty: one path, the nodes' names.
 */
function readPaths(r: Reader, nodes: string[], localName: string): HbPath[] {
  const raw = r.raw('HB_PATHS');
  if (raw === '' || nodes.length !== 2) return [];
  const bad = (m: string) => {
    r.problem('HB_PATHS', `HB_PATHS: ${m}`);
    return [];
  };
  const expect = `expected "${nodes[0]}:<addr>[,<addr>…] ${nodes[1]}:<addr>[,<addr>…]" (IP literals, one per path, in the same order on both)`;
  const byNode = new Map<string, string[]>();
  for (const entry of splitList(raw)) {
    // A node named by an IPv6 literal is written in brackets: [2001:db8::11]:…
    const m = /^(\[[^\]]+\]|[^:[]+):(.+)$/.exec(entry);
    if (!m) return bad(`"${entry}" is not <node>:<addr>[,<addr>…]; ${expect}`);
    const [, written, list] = m as unknown as [string, string, string];
    const name = written.startsWith('[') ? written.slice(1, -1) : written;
    if (!nodes.includes(name)) return bad(`"${name}" is not one of NODES (${nodes.join(' ')}); ${expect}`);
    if (byNode.has(name)) return bad(`${name} is named twice; ${expect}`);
    const addrs: string[] = [];
    for (const a of list.split(',')) {
      const lit = ipLiteral(a);
      if (lit === null) return bad(`${name}: "${a}" is not an IP address; ${expect}`);
      if (isLinkLocal6(lit) && !lit.includes('%'))
        return bad(`${name}: ${a} is link-local: it needs its interface (%eth1)`);
      addrs.push(lit);
    }
    if (new Set(addrs).size !== addrs.length) return bad(`${name} names an address twice (${list})`);
    byNode.set(name, addrs);
  }
  const a = byNode.get(nodes[0]!);
  const b = byNode.get(nodes[1]!);
  if (!a || !b) return bad(`names ${byNode.size === 0 ? 'no node' : 'one node only'}; ${expect}`);
  if (a.length !== b.length)
    return bad(`${nodes[0]} has ${a.length} path address(es), ${nodes[1]} ${b.length}: every path joins one of each`);
  if (a.length > MAX_HB_PATHS) return bad(`${a.length} paths; at most ${MAX_HB_PATHS}`);
  const mixed = a.findIndex((x, i) => familyOf(x) !== familyOf(b[i]!));
  if (mixed >= 0)
    return bad(`path ${mixed + 1} joins ${a[mixed]} and ${b[mixed]}: both ends of a path are IPv4, or both IPv6`);
  const shared = a.find((x) => b.includes(x));
  if (shared) return bad(`${shared} is named for both nodes`);
  const [mine, theirs] = localName === nodes[0] ? [a, b] : [b, a];
  return mine.map((local, i) => ({ local, peer: theirs[i]! }));
}

function readNumbers(r: Reader) {
  const values = {
    DEBUG: r.num('DEBUG'),
    DAEMON: r.bool01('DAEMON'),
    PINGTIMEOUT: r.num('PINGTIMEOUT'),
    PORT: r.num('PORT'),
    SUPERVISE_INT: r.num('SUPERVISE_INT'),
    HEARTBEAT_INT: r.num('HEARTBEAT_INT'),
    DEADTIME: r.num('DEADTIME'),
    RES_TIMEOUT: r.num('RES_TIMEOUT'),
    RES_RESTARTS: r.num('RES_RESTARTS'),
    GW_FAILS: r.num('GW_FAILS'),
    GW_INT: r.num('GW_INT'),
    CHECK_TIMEOUT: r.num('CHECK_TIMEOUT'),
    FAIL_HOLDDOWN: r.num('FAIL_HOLDDOWN'),
    OFF_PAUSE: r.num('OFF_PAUSE'),
    NOTIFY_TIMEOUT: r.num('NOTIFY_TIMEOUT'),
    SPLIT_YIELD: r.bool01('SPLIT_YIELD'),
    NICE: r.num('NICE'),
  };
  if (values.DEADTIME < 2 * values.HEARTBEAT_INT) {
    r.problem(
      r.lineOf('DEADTIME') || r.lineOf('HEARTBEAT_INT'),
      `DEADTIME=${values.DEADTIME} must be at least twice HEARTBEAT_INT=${values.HEARTBEAT_INT} (ms), or one lost datagram looks like a dead peer`,
    );
  } else if (values.DEADTIME < SAFE_FLOOR.DEADTIME) {
    r.warn(
      'DEADTIME',
      `DEADTIME=${values.DEADTIME} (ms) is shorter than the shortest measured safe, ${SAFE_FLOOR.DEADTIME}: ${SAFE_FLOOR.why} (docs/config.md, Profiles)`,
    );
  }
  return values;
}

/**
 * Authenticated heartbeat: the key file is read and checked now, so a bad one
 * stops the start (exit 2) instead of a silent pair.
 */
function readAuth(r: Reader, installDir: string): { file: string; config: AuthConfig | null } {
  const keyRaw = r.raw('AUTHKEY');
  const modeRaw = r.raw('AUTH_MODE');
  if (modeRaw !== '' && modeRaw !== 'enforce' && modeRaw !== 'permissive')
    r.problem('AUTH_MODE', `AUTH_MODE=${modeRaw}: expected enforce or permissive`);
  else if (modeRaw !== '' && keyRaw === '')
    r.problem(
      'AUTH_MODE',
      `AUTH_MODE=${modeRaw} needs AUTHKEY=<key file> (without a key pha speaks the original's plain words)`,
    );
  if (keyRaw === '') return { file: '', config: null };
  const file = path.resolve(installDir, keyRaw);
  const k = loadKeyFile(file);
  if (k.fileProblem) r.problem('AUTHKEY', `AUTHKEY=${keyRaw}: ${k.fileProblem}`);
  r.errors.push(...k.problems);
  if (!k.ring) return { file, config: null };
  return {
    file,
    config: Object.freeze({ file, mode: modeRaw === 'permissive' ? 'permissive' : 'enforce', keys: k.ring }),
  };
}

function readResources(r: Reader, parsed: ParsedConfig, installDir: string): ResourceDef[] {
  const resources: ResourceDef[] = [];
  for (const res of parsed.resources) {
    const script = resourceScript(installDir, res.name);
    if (!script) {
      r.problem(
        res.line,
        `RES_${res.name}: no script "${res.name}" in ${path.join(installDir, 'res')} or ${PACKAGE_RES_DIR}`,
      );
    } else if (!isExecutable(script)) {
      r.problem(res.line, `RES_${res.name}: script ${script} is not executable (chmod +x)`);
    } else {
      // Whoever can write a script (or replace it in its directory) runs code as root.
      const unsafe = scriptProblems(script, `RES_${res.name}: script`);
      for (const m of unsafe) r.problem(res.line, m);
      const wrong = addressArgsProblem(script, res.args);
      if (wrong) r.problem(res.line, `RES_${res.name}=${res.args.join(' ')}: ${wrong}`);
      if (unsafe.length === 0) resources.push({ name: res.name, args: Object.freeze([...res.args]), script });
    }
  }
  return resources;
}

/**
 * The shipped res/ipaddr (by its real name: a link res/vip6 → ipaddr too) takes
 * <ip/prefix> <dev>: a VIP the script would refuse at its first start is a
 * config error here, named by its line.
 */
function addressArgsProblem(script: string, args: readonly string[]): string | null {
  let real = script;
  try {
    real = fs.realpathSync(script);
  } catch {
    /* the script's own checks report it */
  }
  if (path.basename(real) !== 'ipaddr') return null;
  const expect = 'expected <ip/prefix> <dev>, e.g. 10.0.0.20/24 eth0 or 2001:db8::100/64 eth0';
  if (args.length !== 2) return expect;
  const [cidr, dev] = args as [string, string];
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
  const ip = m ? ipLiteral(m[1]!) : null;
  if (!m || ip === null || ip.includes('%')) return `"${cidr}" is not an address with its prefix length; ${expect}`;
  if (Number(m[2]) > (familyOf(ip) === 4 ? 32 : 128)) return `the prefix /${m[2]} is too long for ${m[1]}`;
  if (dev.startsWith('-') || dev.includes('/')) return `"${dev}" is not a device name; ${expect}`;
  return null;
}

/** METRICS=<addr:port>: an IPv4 address or [IPv6] (0.0.0.0 or [::] for all), and a TCP port. */
function readMetrics(r: Reader): MetricsAddress | null {
  const raw = r.raw('METRICS');
  if (raw === '') return null;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(raw);
  const host = m ? (m[1] ?? m[2]!) : '';
  const port = m ? Number(m[3]) : 0;
  if (!m || !(m[1] ? net.isIPv6(host) : net.isIPv4(host)) || port < 1 || port > 65535) {
    r.problem(
      'METRICS',
      `METRICS=${raw}: expected <address>:<port>, e.g. 127.0.0.1:9464, 0.0.0.0:9464 or [::1]:9464 (empty: no metrics)`,
    );
    return null;
  }
  return { host, port, line: r.lineOf('METRICS') };
}

const WITNESS_ONLY = [
  'WITNESS_PREFIX',
  'WITNESS_TTL',
  'WITNESS_CA',
  'WITNESS_CERT',
  'WITNESS_KEY',
  'WITNESS_USER',
  'WITNESS_PASSWORD_FILE',
];

/**
 * WITNESS=etcd://h:p[,h:p…] or etcds://…: every problem (the URL, a file that
 * cannot be read or is open to others) names its line now, so a typo stops the
 * start instead of a pair that silently runs without its tie-break.
 */
function readWitness(
  r: Reader,
  nodes: string[],
  installDir: string,
  v: { HEARTBEAT_INT: number },
): WitnessConfig | null {
  const raw = r.raw('WITNESS');
  const ttl = r.num('WITNESS_TTL');
  if (raw === '') {
    for (const k of WITNESS_ONLY) if (r.lineOf(k) > 0) r.problem(k, `${k} is set but WITNESS is not (no witness)`);
    return null;
  }
  const expect = 'expected etcd://<host>:<port>[,<host>:<port>…] or etcds://… (IPv6 hosts in brackets)';
  const m = /^(etcds?):\/\/(.+)$/.exec(raw);
  if (!m) {
    r.problem('WITNESS', `WITNESS=${raw}: ${expect}`);
    return null;
  }
  const tls = m[1] === 'etcds';
  const hosts: string[] = [];
  for (const hp of m[2]!.split(',')) {
    const e = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(hp);
    const port = e ? Number(e[3]) : 0;
    if (!e || (e[1] !== undefined && !net.isIPv6(e[1])) || port < 1 || port > 65535) {
      r.problem('WITNESS', `WITNESS=${raw}: "${hp}" is not <host>:<port>; ${expect}`);
      return null;
    }
    hosts.push(`${tls ? 'https' : 'http'}://${e[1] !== undefined ? `[${e[1]}]` : e[2]}:${port}`);
  }
  let prefix = r.raw('WITNESS_PREFIX') || `/pha/${nodes.join(',')}/`;
  if (!prefix.endsWith('/')) prefix += '/';
  // The holder keeps its lease alive every HEARTBEAT_INT and counts it lost a
  // quarter TTL early: a few keepalives must fit in the rest.
  if (ttl * 1000 < 4 * v.HEARTBEAT_INT)
    r.problem(
      'WITNESS_TTL',
      `WITNESS_TTL=${ttl} s: at least 4 × HEARTBEAT_INT (${v.HEARTBEAT_INT} ms), or the lease is lost between keepalives`,
    );
  const file = (k: string, secret: boolean): string => {
    const value = r.raw(k);
    if (value === '') return '';
    const p = path.resolve(installDir, value);
    try {
      const st = fs.statSync(p);
      fs.accessSync(p, fs.constants.R_OK);
      const bad = secret ? privateFileProblem(p, st) : st.isFile() ? null : `${p} is not a regular file`;
      if (bad) r.problem(k, `${k}=${value}: ${bad}`);
    } catch (e) {
      r.problem(k, `${k}=${value}: cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`);
    }
    return p;
  };
  const ca = file('WITNESS_CA', false);
  const cert = file('WITNESS_CERT', false);
  const key = file('WITNESS_KEY', true);
  const passwordFile = file('WITNESS_PASSWORD_FILE', true);
  const user = r.raw('WITNESS_USER');
  if (!tls)
    for (const k of ['WITNESS_CA', 'WITNESS_CERT', 'WITNESS_KEY'])
      if (r.raw(k) !== '') r.problem(k, `${k} needs WITNESS=etcds://… (TLS)`);
  if ((cert === '') !== (key === ''))
    r.problem(cert ? 'WITNESS_CERT' : 'WITNESS_KEY', 'WITNESS_CERT and WITNESS_KEY go together');
  if ((user === '') !== (passwordFile === ''))
    r.problem(user ? 'WITNESS_USER' : 'WITNESS_PASSWORD_FILE', 'WITNESS_USER and WITNESS_PASSWORD_FILE go together');
  return { hosts, tls, prefix, ttl, ca, cert, key, user, passwordFile, line: r.lineOf('WITNESS') };
}

/** The notify hooks: found like resource scripts, executable, and writable by nobody else (they run as root). */
function readNotify(r: Reader, installDir: string): NotifyHook[] {
  const hooks: NotifyHook[] = [];
  for (const name of splitList(r.raw('NOTIFY'))) {
    const script = resourceScript(installDir, name);
    if (!script)
      r.problem('NOTIFY', `NOTIFY: no script "${name}" in ${path.join(installDir, 'res')} or ${PACKAGE_RES_DIR}`);
    else if (!isExecutable(script)) r.problem('NOTIFY', `NOTIFY: hook ${script} is not executable (chmod +x)`);
    else {
      const unsafe = scriptProblems(script, 'NOTIFY: hook');
      for (const m of unsafe) r.problem('NOTIFY', m);
      if (unsafe.length === 0) hooks.push({ name, script });
    }
  }
  return hooks;
}

/** Which NODES entry is this host, and the addresses of both. */
async function readIdentity(
  r: Reader,
  nodes: string[],
  nodeName: string,
  peerAddr: string[],
  opts: LoadOptions,
): Promise<{ local: NodeDef; peer: NodeDef }> {
  const hostname = opts.hostname ?? os.hostname();
  const unknown = {
    local: { name: nodes[0] ?? '', id: 1, addrs: [] },
    peer: { name: nodes[1] ?? '', id: 2, addrs: [] },
  } as const;
  if (nodes.length !== 2) return unknown;
  let idx = nodes.indexOf(nodeName || hostname);
  if (idx < 0 && !nodeName) idx = nodes.indexOf(hostname.split('.')[0]!);
  if (idx < 0) {
    r.problem(
      'NODES',
      nodeName
        ? `NODENAME=${nodeName} is not one of NODES (${nodes.join(' ')})`
        : `this host (${hostname}) is not one of NODES (${nodes.join(' ')}); set NODENAME or the host name`,
    );
    return unknown;
  }
  const lookup = opts.lookup ?? systemLookup;
  const resolved: string[][] = [];
  for (const n of nodes) {
    try {
      const a = await lookup(n);
      if (a.length === 0) throw new PhaError('PHA_ERR_RESOLVE', n);
      resolved.push(a);
    } catch (e) {
      r.problem(
        'NODES',
        `node name "${n}" does not resolve to an address (/etc/hosts or DNS): ${(e as Error).message ?? e}`,
      );
      resolved.push([]);
    }
  }
  const other = 1 - idx;
  return {
    local: { name: nodes[idx]!, id: (idx + 1) as 1 | 2, addrs: resolved[idx]! },
    peer: { name: nodes[other]!, id: (other + 1) as 1 | 2, addrs: [...new Set([...resolved[other]!, ...peerAddr])] },
  };
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
