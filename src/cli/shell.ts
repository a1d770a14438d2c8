// The interactive shell: prompt [node:state] > , tab completion of commands and
// resource names, history; works the same with piped stdin.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { runDir, varDir } from '../config/index.js';
import { readPid, removePid, writePid } from '../daemon/pidfile.js';
import { type CommandResult, runCommand } from './commands.js';
import { type Ctx, type NodeState, nodeState, pids } from './control.js';
import { LenientUtf8Lines, printable } from './printable.js';
import { COMMAND_WORDS, canonical, commandDef } from './table.js';

export function tokenize(line: string): string[] {
  return line.trim().split(/\s+/).filter(Boolean);
}

export function completer(resourceNames: readonly string[]) {
  return (line: string): [string[], string] => {
    const parts = line.split(/\s+/);
    const last = parts[parts.length - 1] ?? '';
    const cmd = canonical(parts.slice(0, 1))[0];
    let pool: readonly string[];
    if (parts.length <= 1) pool = COMMAND_WORDS;
    else if (parts[0] === 'show' && parts.length === 2) pool = ['conf'];
    else if (cmd === 'res' && parts.length === 3 && (parts[1] === 'start' || parts[1] === 'stop')) pool = resourceNames;
    else if (parts.length === 2) pool = (cmd && commandDef(cmd)?.next) || [];
    else pool = [];
    const hits = pool.filter((c) => c.startsWith(last));
    return [hits.length ? hits : [], last];
  };
}

/**
 * watch and log run until the operator leaves: on a terminal, as a pha-cli of
 * their own that owns it meanwhile (the shell's line editing paused, its tty
 * mode given back after); on piped input only what ends by itself.
 */
async function liveInShell(ctx: Ctx, tokens: string[], tty: boolean, rl: readline.Interface): Promise<CommandResult> {
  if (!tty) {
    const endless =
      (tokens[0] === 'watch' && !tokens.includes('--once')) ||
      (tokens[0] === 'log' && tokens.some((t) => t === '-f' || t === '--follow'));
    if (endless) {
      ctx.err(`${tokens[0]}: needs a terminal to be left with q or Ctrl-C here (use 'watch --once', 'log' without -f)`);
      return { code: 2 };
    }
    return runCommand(ctx, tokens, { mode: 'shell' });
  }
  rl.pause();
  try {
    const child = spawn(
      process.execPath,
      [...process.execArgv, process.argv[1]!, '--config', ctx.config.file, ...tokens],
      {
        stdio: 'inherit',
      },
    );
    const code = await new Promise<number>((resolve) => {
      child.once('exit', (c) => resolve(c ?? 1));
      child.once('error', (e) => {
        ctx.err(`${tokens[0]}: ${e.message}`);
        resolve(1);
      });
    });
    return { code };
  } finally {
    rl.resume();
  }
}

export async function runShell(
  ctx: Ctx,
  input: NodeJS.ReadableStream & { isTTY?: boolean },
  output: NodeJS.WritableStream,
): Promise<number> {
  const { config, store } = ctx;
  const rdir = runDir(config);
  const other = readPid(rdir, 'cli', config.file);
  if (other.pid && other.pid !== process.pid) ctx.out(`note: another pha-cli is open on this node (pid ${other.pid})`);
  else if (other.stale) ctx.out(`note: stale var/run/cli (pid ${other.stale} is not a running pha-cli) replaced`);
  writePid(rdir, 'cli');
  await store.update({ CLI: 1 }).catch((e) => ctx.err(`warning: ${(e as Error).message}`));

  const histFile = path.join(varDir(config), 'cli_history');
  let history: string[] = [];
  try {
    history = fs.readFileSync(histFile, 'utf8').split('\n').filter(Boolean).reverse().slice(0, 500);
  } catch {
    /* first run */
  }
  const tty = !!input.isTTY;
  const rl = readline.createInterface({
    // Piped input may be binary: bytes that are not UTF-8 arrive as \xNN text.
    input: tty ? input : input.pipe(new LenientUtf8Lines()),
    output,
    terminal: tty,
    completer: completer(config.resources.map((r) => r.name)),
    history: tty ? history : [],
    historySize: 500,
  });
  let state: NodeState = 'NOTRUNNING';
  const refresh = () => {
    state = nodeState(store.read(), pids(config), state);
    rl.setPrompt(`[${config.local.name}:${state}] > `);
  };
  let code = 0;
  const cleanup = async () => {
    removePid(rdir, 'cli');
    await store.update({ CLI: 0 }).catch(() => {});
  };
  rl.on('SIGINT', () => {
    // Ctrl-C clears the line, as in a shell; quit leaves.
    output.write('^C\n');
    rl.write(null, { ctrl: true, name: 'u' });
    refresh();
    rl.prompt();
  });
  refresh();
  rl.prompt();
  try {
    for await (const line of rl) {
      const tokens = tokenize(line);
      // Echo piped input after the prompt, like a terminal, but never raw: a
      // control character in it would drive the operator's terminal.
      if (!tty && line.trim()) output.write(`${printable(line.trim())}\n`);
      if (tokens.length) {
        if (tty) fs.appendFile(histFile, `${line.trim()}\n`, () => {});
        const r = commandDef(canonical(tokens)[0] ?? '')?.live
          ? await liveInShell(ctx, tokens, tty, rl)
          : await runCommand(ctx, tokens, { mode: 'shell', state });
        if (r.quit) break;
        code = r.code;
      }
      refresh();
      rl.prompt();
    }
  } finally {
    rl.close();
    await cleanup();
  }
  if (!tty) output.write('\n');
  return code;
}
