// pha-cli: without a command the interactive shell (also with piped stdin);
// with one, a one-shot command whose exit code a script can use.
import { configPathFrom, loadConfig, type Config } from '../config/index.js';
import { ConfigError, errorMessage } from '../errors.js';
import { runCommand } from './commands.js';
import { defaultKeyFile, keygenCommand } from './keygen.js';
import { makeStore, type Ctx } from './control.js';
import { runShell } from './shell.js';

function takeConfigArg(argv: string[]): { file?: string; rest: string[] } {
  const rest: string[] = [];
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if ((a === '--config' || a === '-c') && i + 1 < argv.length && rest.length === 0) file = argv[++i];
    else if (a.startsWith('--config=') && rest.length === 0) file = a.slice(9);
    else rest.push(a);
  }
  return { file, rest };
}

async function main(): Promise<number> {
  const { file, rest } = takeConfigArg(process.argv.slice(2));
  const configFile = configPathFrom(file);
  // keygen makes the key file a valid config may need: it must not need one.
  if (rest[0] === 'keygen') return keygenCommand(rest.slice(1), () => defaultKeyFile(configFile), (l) => process.stdout.write(l + '\n'), (l) => process.stderr.write(l + '\n'));
  let config: Config;
  try {
    config = await loadConfig(configFile);
  } catch (e) {
    process.stderr.write(`pha-cli: ${e instanceof ConfigError ? 'bad config, nothing started:\n' : ''}${errorMessage(e)}\n`);
    return e instanceof ConfigError ? 2 : 1;
  }
  for (const w of config.warnings) process.stderr.write(`pha-cli: ${w}\n`);
  const problems = new Set<string>();
  const ctx: Ctx = {
    config,
    store: makeStore(config, (m) => {
      if (!problems.has(m)) process.stderr.write(`pha-cli: ${m}\n`);
      problems.add(m);
    }),
    out: (l) => process.stdout.write(l + '\n'),
    err: (l) => process.stderr.write(l + '\n'),
  };
  if (rest.length === 0) return runShell(ctx, process.stdin, process.stdout);
  return (await runCommand(ctx, rest, { mode: 'oneshot' })).code;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`pha-cli: ${errorMessage(e)}\n`);
    process.exitCode = 1;
  },
);
