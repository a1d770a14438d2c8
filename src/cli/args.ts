// pha-cli's own arguments, before any config is read: --config, help and
// version (these two need no config), and where the config comes from, so a
// config problem can say which file was tried and how to name another.
import { KEYS } from '../config/keys.js';
import { DEFAULT_CONFIG } from '../paths.js';
import { canonical, helpText } from './table.js';

export type ConfigSource = 'option' | 'env' | 'default';

export interface ConfigChoice {
  file: string; // as given (resolved by configPathFrom)
  source: ConfigSource;
}

export type Invocation =
  | { kind: 'help'; config: ConfigChoice }
  | { kind: 'version' }
  | { kind: 'run'; config: ConfigChoice; command: string[] } // [] = the shell
  | { kind: 'usage-error'; message: string };

/** Which config file a command would read: --config FILE, else $PHA_CONFIG, else the default. */
export function chooseConfig(option: string | undefined, env: NodeJS.ProcessEnv): ConfigChoice {
  if (option) return { file: option, source: 'option' };
  if (env.PHA_CONFIG) return { file: env.PHA_CONFIG, source: 'env' };
  return { file: DEFAULT_CONFIG, source: 'default' };
}

/** Options count only before the command word (after it they are the command's). */
export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv): Invocation {
  let option: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config' || a === '-c') {
      const v = argv[i + 1];
      if (v === undefined || v === '') return { kind: 'usage-error', message: `${a} needs a FILE` };
      option = v;
      i++;
    } else if (a.startsWith('--config=')) {
      option = a.slice('--config='.length);
      if (!option) return { kind: 'usage-error', message: '--config= needs a FILE' };
    } else if (a === '-V' || a === '--version') {
      return { kind: 'version' };
    } else break;
  }
  const command = argv.slice(i);
  const config = chooseConfig(option, env);
  if (command.length > 0 && canonical(command)[0] === 'help') return { kind: 'help', config };
  return { kind: 'run', config, command };
}

export function describeSource(c: ConfigChoice): string {
  switch (c.source) {
    case 'option':
      return 'given with --config';
    case 'env':
      return 'from $PHA_CONFIG';
    case 'default':
      return 'the default: neither --config nor $PHA_CONFIG is set';
  }
}

/** The line after a config problem: the file tried, why that one, how to name another. */
export function configHint(c: ConfigChoice, resolved: string): string {
  return `config file: ${resolved} (${describeSource(c)}); another: pha-cli --config FILE …, or PHA_CONFIG=FILE`;
}

/** `pha-cli --help`: usage, where the config comes from, and the command table. */
export function usageText(c: ConfigChoice, resolved: string): string {
  const pause = `OFF_PAUSE s (default ${KEYS.OFF_PAUSE.default})`;
  return [
    'usage: pha-cli [--config FILE] [COMMAND [ARGS…]]',
    '       pha-cli --help | --version',
    'Without a COMMAND: the interactive shell (reads commands from stdin also when piped).',
    'With one: runs it once; the exit code says how it went (stat: 0 running, 1 partly, 3 stopped).',
    `config: --config FILE (or -c), else $PHA_CONFIG, else ${DEFAULT_CONFIG}`,
    `        now: ${resolved} (${describeSource(c)})`,
    '  -h, --help, help      this text (needs no config)',
    '  -V, --version         the version of pha (needs no config)',
    '',
    helpText(pause),
  ].join('\n');
}
