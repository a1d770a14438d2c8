// Start one daemon detached (as pha-cli start does) and wait until its pid
// file names it. Used by the watchdog to bring back a daemon that died.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PACKAGE_BIN_DIR } from '../paths.js';
import type { DaemonName } from './bus.js';
import { DETACHED_ENV } from './env.js';
import { readPid } from './pidfile.js';

export async function respawnDaemon(d: DaemonName, configFile: string, runDir: string, logFile: string): Promise<{ pid: number } | { error: string }> {
  let fd: number | 'ignore' = 'ignore';
  try {
    fd = fs.openSync(logFile, 'a');
  } catch {
    /* full or read-only var/: start it all the same, without a stdout file */
  }
  let child;
  try {
    child = spawn(process.execPath, [path.join(PACKAGE_BIN_DIR, `pha-${d}.js`), '--config', configFile], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, [DETACHED_ENV]: '1' },
    });
  } catch (e) {
    return { error: (e as Error).message };
  } finally {
    if (typeof fd === 'number') fs.closeSync(fd);
  }
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? 1));
  child.on('error', () => (exited = 127));
  child.unref();
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const p = readPid(runDir, d, configFile);
    if (p.pid === child.pid) return { pid: child.pid };
    if (exited !== null) {
      // Lost a race with another starter: that one runs, which is what we wanted.
      return p.pid ? { pid: p.pid } : { error: `pha-${d} exited at start (code ${exited})` };
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return { error: `pha-${d} did not write its pid file within 5 s` };
}
