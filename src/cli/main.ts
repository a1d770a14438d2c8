// pha-cli: without a command the interactive shell (also with piped stdin);
// with one, a one-shot command whose exit code a script can use. Help and
// version need no config; everything else names the config file it tried.
import { type Config, configPathFrom, loadConfig } from '../config/index.js';
import { ConfigError, errorMessage, exitCodeOf, PhaError } from '../errors.js';
import { packageVersion } from '../version.js';
import { configHint, parseCliArgs, usageText } from './args.js';
import { runCommand } from './commands.js';
import { type Ctx, makeStore } from './control.js';
import { defaultKeyFile, keygenCommand } from './keygen.js';
import { runShell } from './shell.js';

async function main(): Promise<number> {
  const inv = parseCliArgs(process.argv.slice(2), process.env);
  if (inv.kind === 'usage-error') {
    const err = new PhaError('PHA_ERR_USAGE', inv.message);
    process.stderr.write(`pha-cli: ${err.message}\n`);
    return exitCodeOf(err);
  }
  if (inv.kind === 'version') {
    process.stdout.write(`pha-cli (pha) ${packageVersion()}\n`);
    return 0;
  }
  const configFile = configPathFrom(inv.config.file);
  if (inv.kind === 'help') {
    process.stdout.write(`${usageText(inv.config, configFile)}\n`);
    return 0;
  }
  // keygen makes the key file a valid config may need: it must not need one.
  if (inv.command[0] === 'keygen')
    return keygenCommand(
      inv.command.slice(1),
      () => defaultKeyFile(configFile),
      (l) => process.stdout.write(`${l}\n`),
      (l) => process.stderr.write(`${l}\n`),
    );
  let config: Config;
  try {
    config = await loadConfig(configFile);
  } catch (e) {
    process.stderr.write(
      `pha-cli: ${e instanceof ConfigError ? 'config problem, nothing done:\n' : ''}${errorMessage(e)}\n`,
    );
    process.stderr.write(`pha-cli: ${configHint(inv.config, configFile)}\n`);
    return exitCodeOf(e);
  }
  for (const w of config.warnings) process.stderr.write(`pha-cli: ${w}\n`);
  const problems = new Set<string>();
  const ctx: Ctx = {
    config,
    store: makeStore(config, (m) => {
      if (!problems.has(m)) process.stderr.write(`pha-cli: ${m}\n`);
      problems.add(m);
    }),
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
    io: { input: process.stdin, output: process.stdout },
  };
  if (inv.command.length === 0) return runShell(ctx, process.stdin, process.stdout);
  return (await runCommand(ctx, inv.command, { mode: 'oneshot' })).code;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`pha-cli: ${errorMessage(e)}\n`);
    process.exitCode = exitCodeOf(e);
  },
);
