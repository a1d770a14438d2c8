/**
 * Install dirs for pha on a lab node: `<dir>/etc/config`, `<dir>/var/run`.
 * pha looks up resource scripts in `<INSTALLDIR>/res` and falls back to the
 * package's own res/, so nothing is copied.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultInstallDir } from './cleanup.js';
import { GW_IP, type Lab, type NodeInstall, type NodeName, VIP_CIDR } from './types.js';

export type ConfigValue = string | number | null | undefined;

export interface InstallOptions {
  /** Default: `<tmpdir>/<prefix><node>`, removed on destroy (kept when env PHA_LAB_KEEP is set). */
  installDir?: string;
  /** Root of the pha package (holds bin/pha-cli.js and res/). Default: env PHA_ROOT, else found upward from this module or the cwd. */
  phaRoot?: string;
  /**
   * Overrides of the config lines, e.g. { HEARTBEAT_INT: 50, DEADTIME: 200 }.
   * A key already present is replaced in place, a new key is appended in
   * the given order, null/undefined removes the key.
   */
  config?: Record<string, ConfigValue>;
}

export type { NodeInstall } from './types.js';

function isPhaRoot(dir: string): boolean {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
    return pkg.name === 'pha';
  } catch {
    return false;
  }
}

function findUp(start: string): string | null {
  let dir = resolve(start);
  for (;;) {
    if (isPhaRoot(dir)) return dir;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** The pha package root: env PHA_ROOT, else upward from this module, else upward from the cwd, else the cwd. */
export function findPhaRoot(): string {
  if (process.env.PHA_ROOT) return resolve(process.env.PHA_ROOT);
  return findUp(dirname(fileURLToPath(import.meta.url))) ?? findUp(process.cwd()) ?? process.cwd();
}

/** The config lines installNode() writes for `node` before overrides. */
export function baseConfig(node: NodeName, dir: string): Array<[string, string]> {
  return [
    ['INSTALLDIR', dir],
    ['LOGPATH', join(dir, 'var', 'log')],
    ['DAEMON', '1'],
    ['PINGTIMEOUT', '0.5'],
    ['PORT', '4711'],
    ['SUPERVISE_INT', '1000'],
    ['NODES', 'lb1 lb2'],
    ['NODENAME', node],
    ['GW', GW_IP],
    ['RES_ipaddr', `${VIP_CIDR} eth0`],
  ];
}

export function applyOverrides(
  lines: Array<[string, string]>,
  overrides: Record<string, ConfigValue> = {},
): Array<[string, string]> {
  const out = lines.map((l) => [l[0], l[1]] as [string, string]);
  for (const [key, value] of Object.entries(overrides)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`bad config key ${key}`);
    const i = out.findIndex(([k]) => k === key);
    if (value === null || value === undefined) {
      if (i >= 0) out.splice(i, 1);
      continue;
    }
    const v = String(value);
    if (/[\n\r]/.test(v)) throw new Error(`config value of ${key} has a line break`);
    if (i >= 0) out[i] = [key, v];
    else out.push([key, v]);
  }
  return out;
}

/**
 * Write an install dir for pha on `node` and register it on the lab (used by
 * lab.cli()). Creates `<dir>/etc/config`, `<dir>/var/run` and `<dir>/var`
 * (LOGPATH is `<dir>/var/log`, so daemons log to `<dir>/var/log.<daemon>`).
 */
export async function installNode(lab: Lab, node: NodeName, opts: InstallOptions = {}): Promise<NodeInstall> {
  const ownedDir = opts.installDir === undefined;
  const dir = resolve(opts.installDir ?? defaultInstallDir(lab.prefix, node));
  const phaRoot = resolve(opts.phaRoot ?? findPhaRoot());
  mkdirSync(join(dir, 'etc'), { recursive: true });
  mkdirSync(join(dir, 'var', 'run'), { recursive: true });
  const config = applyOverrides(baseConfig(node, dir), opts.config);
  const configPath = join(dir, 'etc', 'config');
  writeFileSync(
    configPath,
    `# written by the pha lab (${lab.prefix}) for ${node}\n${config.map(([k, v]) => `${k}=${v}\n`).join('')}`,
  );
  if (ownedDir && process.env.PHA_LAB_KEEP) writeFileSync(join(dir, 'KEEP'), 'kept for inspection (PHA_LAB_KEEP)\n');
  const inst: NodeInstall = {
    node,
    dir,
    configPath,
    phaRoot,
    cliPath: join(phaRoot, 'bin', 'pha-cli.js'),
    ownedDir,
    config,
  };
  (lab.installs as Partial<Record<NodeName, NodeInstall>>)[node] = inst;
  return inst;
}

export interface DaemonPids {
  sender: number;
  receiver: number;
  supervise: number;
  cli: number;
}

/** Pids from `<dir>/var/run/<daemon>` (0 where missing or unreadable). Says nothing about liveness. */
export async function readDaemonPids(inst: NodeInstall): Promise<DaemonPids> {
  const one = async (name: string): Promise<number> => {
    try {
      const n = parseInt((await readFile(join(inst.dir, 'var', 'run', name), 'utf8')).trim(), 10);
      return Number.isInteger(n) && n > 0 ? n : 0;
    } catch {
      return 0;
    }
  };
  const [sender, receiver, supervise, cli] = await Promise.all(['sender', 'receiver', 'supervise', 'cli'].map(one));
  return { sender: sender!, receiver: receiver!, supervise: supervise!, cli: cli! };
}
