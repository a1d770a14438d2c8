// One command table for the interactive shell and the one-shot CLI. The first
// word is resolved as the original did (dis…/off…, ena…/on…, h/?), then the
// tokens are parsed by commander (options, arity, errors that never exit).

import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { KEYS, runDir, varDir } from '../config/index.js';
import { timingOf } from '../config/timing.js';
import { errorMessage, exitCodeOf } from '../errors.js';
import type { Status } from '../status-store/index.js';
import { readHistory } from '../supervise/history.js';
import { waitFor } from '../wait.js';
import { liveView } from './alarms.js';
import {
  type Ctx,
  checkResources,
  describeResult,
  type NodeState,
  nodeState,
  pids,
  resPatch,
  runner,
  runningCount,
  startAll,
  startDaemon,
  stopAll,
  stopDaemon,
} from './control.js';
import { showHistory } from './history.js';
import { keygenCommand } from './keygen.js';
import { parseLogArgs, runLog } from './log.js';
import { hasNonPrintable, printable } from './printable.js';
import { formatStat, statJson } from './stat.js';
import { COMMAND_TABLE, canonical, commandDef, helpText, RES_ACTIONS } from './table.js';
import { runWatch } from './watch.js';

export interface CommandResult {
  code: number;
  quit?: boolean;
}

export { canonical, isKnown } from './table.js';

/** watch and log: their own arguments, on the context's terminal. */
async function liveCommand(ctx: Ctx, tokens: readonly string[]): Promise<number> {
  const io = ctx.io ?? { input: process.stdin, output: process.stdout };
  const args = tokens.slice(1);
  if (tokens[0] === 'watch') {
    if (args.some((a) => a !== '--once')) {
      ctx.err(`watch: unknown argument '${args.find((a) => a !== '--once')}' (expected --once)`);
      return 2;
    }
    return runWatch(ctx, io, args.includes('--once'));
  }
  const a = parseLogArgs(args);
  if ('error' in a) {
    ctx.err(a.error);
    return 2;
  }
  return runLog(ctx.config.LOGPATH, a, io);
}

export interface RunOptions {
  mode: 'shell' | 'oneshot';
  state?: NodeState; // the shell's last state (PROGRESS keeps it)
}

export async function runCommand(ctx: Ctx, rawTokens: string[], opts: RunOptions): Promise<CommandResult> {
  const tokens = canonical(rawTokens);
  if (tokens.length === 0) return { code: 0 };
  const def = commandDef(tokens[0]!);
  if (!def) {
    const word = rawTokens.join(' ');
    const binary = hasNonPrintable(word) || /\\x[0-9a-f]{2}/.test(word);
    ctx.err(
      `unknown command '${printable(word)}'${binary ? ' (not text: control characters or bytes that are not UTF-8, shown escaped)' : ''} – try 'help'`,
    );
    return { code: 2 };
  }
  const { config, store } = ctx;
  if (tokens[0] === 'keygen')
    return {
      code: keygenCommand(
        tokens.slice(1),
        () => config.AUTHKEY || path.join(config.INSTALLDIR, 'etc', 'authkey'),
        ctx.out,
        ctx.err,
      ),
    };
  if (tokens[0] === 'watch' || tokens[0] === 'log') return { code: await liveCommand(ctx, tokens) };
  let result: CommandResult = { code: 0 };
  const program = new Command('pha-cli');
  program
    .exitOverride()
    .helpOption(false)
    .configureOutput({
      writeOut: (s) => ctx.out(s.trimEnd()),
      writeErr: (s) => ctx.err(s.trimEnd()),
      outputError: (s, write) => write(`${printable(s.trimEnd().replace(/^error: /, ''))} – try 'help'`),
    });

  program.command('help').action(() => ctx.out(helpText(`${config.OFF_PAUSE} s`)));
  program.command('quit').action(() => {
    result = { code: 0, quit: true };
  });
  program.command('start').action(async () => {
    const ok = await startAll(ctx);
    result.code = ok ? 0 : 1;
  });
  program.command('stop').action(async () => {
    result.code = (await stopAll(ctx)) ? 0 : 1;
  });
  for (const { name, daemon } of COMMAND_TABLE) {
    if (!daemon) continue;
    const [d, what] = daemon;
    program.command(name).action(async () => {
      const ok = what === 'start' ? await startDaemon(ctx, d) : await stopDaemon(ctx, d);
      result.code = ok ? 0 : 1;
    });
  }
  program
    .command('stat')
    .option('--json', 'machine-readable')
    .action(async (o: { json?: boolean }) => {
      const p = pids(config);
      const n = runningCount(p);
      // The daemons' live state over the local bus: the truth when the file is behind.
      const v = await liveView(store, varDir(config), runDir(config), p);
      const last = readHistory(varDir(config))
        .entries.filter((e) => e.event === 'state')
        .at(-1);
      if (o.json)
        ctx.out(
          JSON.stringify({
            ...statJson(v.status, p, config, nodeState(v.status, p, opts.state ?? 'NOTRUNNING')),
            alarms: v.alarms,
            lastTransition: last ?? null,
          }),
        );
      else ctx.out(formatStat(v.status, p, config, Date.now(), v.alarms, last, v.live.receiver?.stats));
      // LSB status codes: 0 running, 3 not running, 1 partly.
      result.code = n === 3 ? 0 : n === 0 ? 3 : 1;
    });
  program
    .command('off')
    .option('--force', 'release even when no peer heartbeat is heard')
    .action(async (o: { force?: boolean }) => {
      result.code = await off(ctx, !!o.force);
    });
  program.command('on').action(async () => {
    await store.update({ SENDER_RUN: 1, SENDER_PAUSE_UNTIL: undefined, FAILED_UNTIL: undefined, OFF_REQUEST: null });
    ctx.out('heartbeat enabled (pause and FAILED hold-down cleared)');
  });
  program
    .command('history')
    .argument('[n]', 'how many (default 10)')
    .option('--json', 'machine-readable')
    .action((n: string | undefined, o: { json?: boolean }) => {
      const r = showHistory(varDir(config), n, !!o.json);
      if (r.out !== undefined) ctx.out(r.out);
      if (r.err !== undefined) ctx.err(r.err);
      result.code = r.code;
    });
  program.command('conf').action(() => ctx.out(showConf(ctx)));
  program
    .command('res')
    .argument('[action]', 'list | start | stop')
    .argument('[name]', 'one resource (default: all)')
    .action(async (action?: string, name?: string) => {
      result.code = await res(ctx, action, name);
    });

  try {
    await program.parseAsync(tokens, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return { code: 2 };
    ctx.err(`error: ${errorMessage(e)}`);
    return { code: exitCodeOf(e) };
  }
  return result;
}

async function off(ctx: Ctx, force: boolean): Promise<number> {
  const { config, store } = ctx;
  const p = pids(config);
  if (!p.supervise.pid) {
    ctx.err("off: supervise is not running on this node (run 'start' first)");
    return 1;
  }
  // The live view: a damaged or unwritable file must not refuse a good 'off'.
  const s = (await liveView(store, varDir(config), runDir(config), p)).status;
  if (s.STATUS !== 'ONLINE') {
    ctx.err(
      `off: this node is ${s.STATUS === 'OFFLINE' ? 'Standby' : (s.STATUS ?? 'not running')}: 'off' works on the Active node only`,
    );
    return 1;
  }
  if (!s.RECEIVER_IN && !force) {
    ctx.err(
      `off refused: no heartbeat from ${config.peer.name}, nobody would take over ('off --force' releases anyway)`,
    );
    return 1;
  }
  const req = Date.now();
  await store.update({ OFF_REQUEST: req, OFF_FORCE: force ? 1 : 0 });
  const budget = config.resources.length * timingOf(config).resTimeoutMs + 5000;
  const answered = await waitFor(() => {
    const cur = store.read();
    return cur.OFF_ANSWERED === req ? cur : undefined;
  }, budget);
  if (!answered) {
    ctx.err(`off: supervise did not answer within ${Math.round(budget / 1000)} s; see ${config.LOGPATH}.supervise`);
    return 1;
  }
  // The answer says itself what happened; the exit code follows it.
  if (answered.OFF_RESULT !== 'released') {
    ctx.err(answered.OFF_ANSWER ?? 'off: refused');
    return 1;
  }
  ctx.out(answered.OFF_ANSWER ?? 'off: released');
  const taken = await waitFor(
    () => (store.read().RECEIVER_IN === 'ONLINE' ? true : undefined),
    config.DEADTIME + config.SUPERVISE_INT + 2000,
  );
  ctx.out(
    taken
      ? `off: ${config.peer.name} is ONLINE (took over); this node is Standby`
      : `off: released, but ${config.peer.name} has not reported ONLINE yet`,
  );
  return 0;
}

async function res(ctx: Ctx, action: string | undefined, name: string | undefined): Promise<number> {
  const { config, store } = ctx;
  const usage = `usage: res list | res start [name] | res stop [name]   (resources: ${config.resources.map((r) => r.name).join(', ') || 'none'})`;
  if (!action) {
    ctx.out(usage);
    return 0;
  }
  if (!(RES_ACTIONS as readonly string[]).includes(action)) {
    ctx.err(`res: unknown action '${printable(action)}'\n${usage}`);
    return 2;
  }
  const list = name ? config.resources.filter((r) => r.name === name) : config.resources;
  if (name && list.length === 0) {
    ctx.err(
      `res: no resource '${printable(name)}' in ${config.file} (configured: ${config.resources.map((r) => r.name).join(', ') || 'none'})`,
    );
    return 2;
  }
  if (action === 'list') {
    const checks = await checkResources(config);
    for (const r of config.resources) {
      const c = checks.find((x) => x.name === r.name)!;
      ctx.out(`  ${r.name.padEnd(12)} ${(c.ok ? 'UP' : 'DOWN').padEnd(5)} ${r.script} ${r.args.join(' ')}`);
    }
    await store.update(resPatch(checks));
    return 0;
  }
  const s: Status = store.read();
  const p = pids(config);
  if (action === 'start' && s.RECEIVER_IN === 'ONLINE') {
    ctx.out(`WARNING: ${config.peer.name} is ONLINE and holds the resources: both nodes may hold them now`);
  }
  if (action === 'stop' && p.supervise.pid && s.STATUS === 'ONLINE') {
    ctx.out(
      "note: supervise is running and will treat this as a resource failure (restart, then hand over); for a switchover use 'off'",
    );
  }
  const r = runner(config);
  const results = action === 'start' ? await r.startInOrder(list) : await r.stopInReverse(list);
  for (const x of results) ctx.out(describeResult(x));
  const patch: Partial<Status> = resPatch(results, action as 'start' | 'stop');
  if (action === 'start') patch.FAILED_UNTIL = undefined; // the operator's word ends FAILED
  await store.update(patch);
  return results.every((x) => x.ok) && results.length === list.length ? 0 : 1;
}

function showConf(ctx: Ctx): string {
  const c = ctx.config as unknown as Record<string, unknown>;
  const lines = [
    `# ${ctx.config.file}`,
    `# this node: ${ctx.config.local.name} (node ${ctx.config.local.id}, ${ctx.config.local.addrs.join(' ')}), ` +
      `peer: ${ctx.config.peer.name} (${ctx.config.peer.addrs.join(' ')})`,
  ];
  for (const k of Object.keys(KEYS)) {
    const v = c[k];
    lines.push(`${k}=${Array.isArray(v) ? v.join(' ') : typeof v === 'boolean' ? (v ? 1 : 0) : String(v ?? '')}`);
  }
  if (ctx.config.auth) lines.push(`# heartbeat key file ${ctx.config.auth.keys.describe()}`);
  for (const r of ctx.config.resources) lines.push(`RES_${r.name}=${r.args.join(' ')}    # ${r.script}`);
  for (const w of ctx.config.warnings) lines.push(`# ${w}`);
  return lines.join('\n');
}
