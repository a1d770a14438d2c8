// Whether systemd manages a daemon of this config, and systemctl for it.
// pha-cli (and spawnDaemon) use the units when they are there and serve this
// config; everywhere else they spawn the daemons themselves. PHA_SYSTEMD=1
// forces the units, PHA_SYSTEMD=0 forbids them.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { DaemonName } from './pidfile.js';

export const unitName = (d: DaemonName): string => `pha-${d}.service`;

/** sd_booted(): systemd is the init system (it creates this directory at boot). */
export function systemdBooted(): boolean {
  return fs.existsSync('/run/systemd/system');
}

export interface SystemctlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function systemctl(args: string[], timeoutMs = 120_000): Promise<SystemctlResult> {
  return new Promise((resolve) => {
    execFile('systemctl', args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      const code = !e ? 0 : typeof e.code === 'number' ? e.code : 1;
      resolve({ code, stdout, stderr: stderr || (e && typeof e.code === 'string' ? `${e.code}: ${e.message}` : '') });
    });
  });
}

/** `systemctl show -p A -p B unit` as a record. */
export async function unitProperties(unit: string, props: string[]): Promise<Record<string, string>> {
  const r = await systemctl(['show', ...props.flatMap((p) => ['-p', p]), unit], 10_000);
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** PHA_CONFIG out of a unit's Environment property ("A=1 PHA_CONFIG=/x" or quoted). */
export function configOfEnvironment(environment: string): string | undefined {
  const m = /(?:^|\s)(?:"PHA_CONFIG=([^"]*)"|PHA_CONFIG=(\S*))/.exec(environment);
  return m ? (m[1] ?? m[2]) : undefined;
}

// One look per daemon and config, renewed now and then: a long-running
// daemon that restarts another notices units installed after it started.
const cache = new Map<string, { at: number; unit: Promise<string | undefined> }>();
const CACHE_MS = 30_000;

/**
 * The unit that manages daemon `d` of the config in `configFile`, or undefined
 * when pha starts it itself: systemd booted, the unit loaded, and its
 * Environment=PHA_CONFIG= naming this very config file (so a second install or
 * a test's config on the same machine never drives the units).
 */
export function managingUnit(
  configFile: string,
  d: DaemonName,
  env: NodeJS.ProcessEnv = process.env,
  booted = systemdBooted,
): Promise<string | undefined> {
  const force = env.PHA_SYSTEMD;
  if (force === '0') return Promise.resolve(undefined);
  if (force === '1') return Promise.resolve(unitName(d));
  if (!booted()) return Promise.resolve(undefined);
  const key = `${path.resolve(configFile)}\0${d}`;
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < CACHE_MS) return hit.unit;
  const unit = unitProperties(unitName(d), ['LoadState', 'Environment']).then((props) => {
    if (props.LoadState !== 'loaded') return undefined;
    const cfg = configOfEnvironment(props.Environment ?? '');
    return cfg && path.resolve(cfg) === path.resolve(configFile) ? unitName(d) : undefined;
  });
  cache.set(key, { at: Date.now(), unit });
  return unit;
}
