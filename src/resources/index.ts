// Runs res/<name> <action> <args…>: no shell, own process group, timeout that
// kills the whole group. Start in config order, stop in reverse, checks at once.
import { type ChildProcess, spawn as nodeSpawn, type SpawnOptions } from 'node:child_process';
import path from 'node:path';
import type { ResourceDef } from '../config/index.js';
import { PACKAGE_BIN_DIR } from '../paths.js';
import { woke } from '../wakeups.js';
import type { ScriptRecords } from './orphans.js';

export type ResAction = 'start' | 'stop' | 'check' | 'garp' | 'probe';
/** What a call of a script was: a resource action, or a notify hook (its arguments are the transition). */
export type CallKind = ResAction | 'notify';

export interface RunResult {
  name: string;
  action: CallKind;
  ok: boolean;
  code: number | null; // exit code; null when killed or not started
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  output: string; // stdout+stderr, trimmed, capped
  error?: string; // could not execute, timeout…
}

export type SpawnFn = (cmd: string, args: string[], opts: SpawnOptions) => ChildProcess;

export interface RunnerOptions {
  timeoutMs: number;
  spawn?: SpawnFn; // injectable for tests
  env?: NodeJS.ProcessEnv;
  onResult?: (r: RunResult) => void; // logging hook
  records?: ScriptRecords; // each running call recorded in var/run/scripts (orphans.ts)
}

const OUTPUT_CAP = 4096;

/** What a script gets besides our environment: where this node and pha-ndp are (res/ipaddr's IPv6 helper). */
export function scriptEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, PHA_NODE: process.execPath, PHA_NDP: path.join(PACKAGE_BIN_DIR, 'pha-ndp.js') };
}

export class ResourceRunner {
  private readonly opts: RunnerOptions;
  /** Calls still running, with their child (start/stop must not outlive a daemon that stops). */
  private readonly running = new Map<Promise<RunResult>, ChildProcess | undefined>();
  /** The scripts' environment, made once (not a copy of process.env per check). */
  private readonly env: NodeJS.ProcessEnv;
  constructor(opts: RunnerOptions) {
    this.opts = opts;
    this.env = opts.env ?? scriptEnv();
  }

  /**
   * On a daemon's stop: let the start or stop scripts that run finish (an
   * interrupted "ip address add" could complete after the operator's
   * "res stop"), at most `timeoutMs`; then kill what is left, group and all.
   */
  async settle(timeoutMs: number): Promise<void> {
    if (this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running.keys()]),
      new Promise((r) => (timer = setTimeout(r, timeoutMs))),
    ]);
    clearTimeout(timer);
    for (const child of this.running.values()) if (child) killGroup(child);
  }

  /** One call; `timeoutMs` overrides the runner's (checks have their own, shorter one). */
  run(res: ResourceDef, action: ResAction, timeoutMs = this.opts.timeoutMs): Promise<RunResult> {
    return this.call({ name: res.name, script: res.script }, action, [action, ...res.args], timeoutMs);
  }

  /** A notify hook: `script <args…>` with the transition in its environment too. */
  notify(
    hook: { name: string; script: string },
    args: string[],
    env: Record<string, string>,
    timeoutMs: number,
  ): Promise<RunResult> {
    return this.call(hook, 'notify', args, timeoutMs, { ...this.env, ...env });
  }

  private call(
    res: { name: string; script: string },
    action: CallKind,
    argv: string[],
    timeoutMs: number,
    env?: NodeJS.ProcessEnv,
  ): Promise<RunResult> {
    let spawned: ChildProcess | undefined;
    // spawn() runs synchronously inside runOne: the child is known when it returns.
    const p = this.runOne(res, action, argv, timeoutMs, env ?? this.env, (c) => (spawned = c));
    this.running.set(p, spawned);
    void p.finally(() => this.running.delete(p));
    return p;
  }

  private runOne(
    res: { name: string; script: string },
    action: CallKind,
    argv: string[],
    timeoutMs: number,
    env: NodeJS.ProcessEnv,
    onSpawn: (c: ChildProcess) => void,
  ): Promise<RunResult> {
    const started = Date.now();
    const spawn = this.opts.spawn ?? nodeSpawn;
    return new Promise((resolve) => {
      let out = '';
      let settled = false;
      let timedOut = false;
      const finish = (r: Omit<RunResult, 'name' | 'action' | 'durationMs' | 'output' | 'timedOut'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (child?.pid !== undefined) this.opts.records?.remove(child.pid);
        const result: RunResult = {
          name: res.name,
          action,
          timedOut,
          durationMs: Date.now() - started,
          output: out.trim(),
          ...r,
        };
        this.opts.onResult?.(result);
        resolve(result);
      };
      let child: ChildProcess | undefined;
      try {
        woke(`script.${action}`);
        child = spawn(res.script, argv, {
          detached: true, // own process group: the timeout kills grandchildren too
          stdio: ['ignore', 'pipe', 'pipe'],
          env,
        });
        onSpawn(child);
        // Recorded before anything else runs: if this daemon dies now, the group is found.
        if (child.pid !== undefined) this.opts.records?.add(child.pid, res.name, action);
      } catch (e) {
        resolve({
          name: res.name,
          action,
          ok: false,
          code: null,
          signal: null,
          timedOut: false,
          durationMs: 0,
          output: '',
          error: `cannot execute ${res.script}: ${(e as Error).message}`,
        });
        return;
      }
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(child);
        // The pipes may stay open if something escaped the group; do not wait for them.
        finish({
          ok: false,
          code: null,
          signal: 'SIGKILL',
          error: `timed out after ${timeoutMs} ms; process group killed`,
        });
      }, timeoutMs);
      const collect = (b: Buffer) => {
        if (out.length < OUTPUT_CAP) out += b.toString('utf8').slice(0, OUTPUT_CAP - out.length);
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      child.on('error', (e: NodeJS.ErrnoException) => {
        finish({
          ok: false,
          code: e.code === 'ENOENT' ? 127 : 126,
          signal: null,
          error: `cannot execute ${res.script}: ${e.message}`,
        });
      });
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        // 126/127: the script (or its interpreter) could not be executed: a failure.
        finish({
          ok: code === 0,
          code,
          signal,
          error: code === 126 || code === 127 ? `${res.script} could not be executed (exit ${code})` : undefined,
        });
      };
      let grace: NodeJS.Timeout | undefined;
      child.on('close', (code, signal) => {
        clearTimeout(grace); // no wake-up of its own for a script that closed its pipes
        done(code, signal);
      });
      child.on('exit', (code, signal) => {
        // The script has ended; a daemon it started may keep our pipes open for
        // ever (an init script's service): take what output came, do not wait.
        grace = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          done(code, signal);
        }, 50).unref();
      });
    });
  }

  /** Checks of all resources at once (fix 9). */
  checkAll(list: readonly ResourceDef[], timeoutMs?: number): Promise<RunResult[]> {
    return Promise.all(list.map((r) => this.run(r, 'check', timeoutMs)));
  }

  /** Start in config order; stops at the first failure. */
  async startInOrder(list: readonly ResourceDef[]): Promise<RunResult[]> {
    const results: RunResult[] = [];
    for (const r of list) {
      const res = await this.run(r, 'start');
      results.push(res);
      if (!res.ok) break;
    }
    return results;
  }

  /** Stop in reverse config order; goes on after a failure (stop as much as possible). */
  async stopInReverse(list: readonly ResourceDef[]): Promise<RunResult[]> {
    const results: RunResult[] = [];
    for (const r of [...list].reverse()) results.push(await this.run(r, 'stop'));
    return results;
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
