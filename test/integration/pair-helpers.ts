// A loopback pair for integration tests: two install dirs, nodes on 127.0.0.1
// and 127.0.0.2 (NODENAME), RES_test resources, no GW. Real daemons, real UDP.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../helpers/wait.js';

export { sleep, waitFor } from '../helpers/wait.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI = path.join(ROOT, 'bin', 'pha-cli.js');

export interface PairNode {
  name: string;
  dir: string;
  config: string;
  held: string; // the RES_test file
}

export interface Pair {
  a: PairNode;
  b: PairNode;
  base: string;
  cleanup(): Promise<void>;
}

export function makePair(extra: Record<string, string> = {}): Pair {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-pair-'));
  const port = 20000 + Math.floor(Math.random() * 30000);
  const mk = (n: 1 | 2): PairNode => {
    const dir = path.join(base, `n${n}`);
    fs.mkdirSync(path.join(dir, 'etc'), { recursive: true });
    const held = path.join(dir, 'held');
    const lines = {
      INSTALLDIR: dir,
      DAEMON: '1',
      PORT: String(port),
      SUPERVISE_INT: '500',
      NODES: '127.0.0.1 127.0.0.2',
      NODENAME: `127.0.0.${n}`,
      GW: '',
      RES_test: held,
      ...extra,
    };
    const config = path.join(dir, 'etc', 'config');
    fs.writeFileSync(
      config,
      `${Object.entries(lines)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n')}\n`,
    );
    return { name: `127.0.0.${n}`, dir, config, held };
  };
  const a = mk(1);
  const b = mk(2);
  return {
    a,
    b,
    base,
    async cleanup() {
      for (const n of [a, b]) await cli(n, ['stop']).catch(() => {});
      // Anything still alive that we started (pid files of our own install dirs).
      for (const n of [a, b]) {
        for (const d of ['sender', 'receiver', 'supervise']) {
          try {
            const pid = Number(fs.readFileSync(path.join(n.dir, 'var', 'run', d), 'utf8'));
            const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
            if (cmd.includes(n.config)) process.kill(pid, 'SIGKILL');
          } catch {
            /* not running */
          }
        }
      }
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(n: PairNode, args: string[], stdin?: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PHA_CONFIG: n.config, ...extraEnv };
    delete env.NODENAME;
    if (stdin === undefined) {
      execFile(process.execPath, [CLI, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
      return;
    }
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

export const holds = (n: PairNode) => fs.existsSync(n.held);

/** Samples who holds every `stepMs` for `ms`; counts holder changes and double holding. */
export async function watchHolders(p: Pair, ms: number, stepMs = 2) {
  let last = '';
  let changes = 0;
  let bothSamples = 0;
  let noneSamples = 0;
  let samples = 0;
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const a = holds(p.a);
    const b = holds(p.b);
    const who = a && b ? 'both' : a ? 'a' : b ? 'b' : 'none';
    if (who === 'both') bothSamples++;
    if (who === 'none') noneSamples++;
    if (last && who !== last) changes++;
    last = who;
    samples++;
    await sleep(stepMs);
  }
  return { changes, bothSamples, noneSamples, samples, last };
}

export function daemonPids(n: PairNode): number[] {
  return ['sender', 'receiver', 'supervise'].flatMap((d) => {
    try {
      return [Number(fs.readFileSync(path.join(n.dir, 'var', 'run', d), 'utf8'))];
    } catch {
      return [];
    }
  });
}

/**
 * A node's death as a host dies: all its daemons SIGKILLed, and any that one of
 * them managed to restart in the meantime too, until none is left (the
 * daemons restart each other, so killing them one by one is not a death).
 */
export async function killNode(n: PairNode): Promise<void> {
  // By /proc, not by pid files: a daemon just restarted by another may not have written its own yet.
  const ours = (): number[] =>
    fs
      .readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .filter((pid) => {
        try {
          const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
          return argv.some((a) => /pha-(sender|receiver|supervise)/.test(a)) && argv.includes(n.config);
        } catch {
          return false;
        }
      });
  const deadline = Date.now() + 5000;
  let quietSince = Date.now();
  while (Date.now() < deadline && Date.now() - quietSince < 1000) {
    const live = ours();
    for (const pid of live) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (live.length) quietSince = Date.now();
    await sleep(20);
  }
}
