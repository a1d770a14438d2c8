// The command table: every command of pha-cli once — its canonical word, the
// words and abbreviations that name it (the original's dis…/off…, ena…/on…,
// h/?), what completes after it, and its lines of help. The shell's
// completion, the parser's resolution and the help text are all read from it.
import { DAEMONS, type DaemonName } from '../daemon/pidfile.js';

export interface CommandDef {
  /** The canonical word the parser acts on. */
  name: string;
  /** Other exact words for it (offered by completion). */
  aliases?: readonly string[];
  /** The original's abbreviations: any word that starts so (not completed). */
  prefixes?: readonly string[];
  /** What completes as the next word. */
  next?: readonly string[];
  /** One daemon's start or stop (se_sta … su_sto). */
  daemon?: readonly [DaemonName, 'start' | 'stop'];
  /** Runs until the operator leaves (q, Ctrl-C); the interactive shell runs it in a child on the terminal. */
  live?: boolean;
  /** Lines of help: [usage, meaning]; `{OFF_PAUSE}` stands for the pause in seconds. */
  help?: readonly (readonly [string, string])[];
}

export const RES_ACTIONS = ['list', 'start', 'stop'] as const;

const PER_DAEMON: CommandDef[] = DAEMONS.flatMap((d) =>
  (['start', 'stop'] as const).map((what) => ({
    name: `${d.slice(0, 2)}_${what.slice(0, 3)}`,
    daemon: [d, what] as const,
  })),
);
PER_DAEMON[0]!.help = [[PER_DAEMON.map((c) => c.name).join(' '), 'start/stop one daemon']];

export const COMMAND_TABLE: readonly CommandDef[] = [
  { name: 'start', help: [['start', 'start sender, receiver and supervise']] },
  { name: 'stop', help: [['stop', 'stop the three daemons (resources stay as they are!)']] },
  {
    name: 'off',
    aliases: ['disable'],
    prefixes: ['dis', 'off'],
    next: ['--force'],
    help: [
      ['off|disable [--force]', 'manual failover: release the resources to the peer, pause the heartbeat {OFF_PAUSE}'],
    ],
  },
  {
    name: 'on',
    aliases: ['enable'],
    prefixes: ['ena', 'on'],
    help: [['on|enable', 'resume the heartbeat now (also clears FAILED)']],
  },
  {
    name: 'stat',
    aliases: ['status'],
    next: ['--json'],
    help: [['stat|status [--json]', "status file, the three daemon pids, the peer's word"]],
  },
  {
    name: 'watch',
    next: ['--once'],
    live: true,
    help: [['watch [--once]', 'live view of this node and its peer, every 200 ms (q or Ctrl-C leaves)']],
  },
  {
    name: 'log',
    next: ['sender', 'receiver', 'supervise', '-f', '-n'],
    live: true,
    help: [
      ['log [sender|receiver|supervise] [-f] [-n N]', "the daemons' logs merged in time order, pretty (-f follows)"],
    ],
  },
  {
    name: 'history',
    next: ['--json'],
    help: [['history [N] [--json]', "this node's last N transitions (10), each with its timeline"]],
  },
  {
    name: 'res',
    next: RES_ACTIONS,
    help: [
      ['res', 'usage of res'],
      ['res list', 'the resources, their arguments and their state now'],
      ['res start [name]', 'start all resources (config order) or one'],
      ['res stop [name]', 'stop all resources (reverse order) or one'],
    ],
  },
  { name: 'conf', aliases: ['show'], help: [['conf|show conf', 'the parsed configuration']] },
  { name: 'keygen', help: [['keygen [FILE] [--force|--rotate]', 'write a new heartbeat key file (mode 0600)']] },
  ...PER_DAEMON,
  { name: 'help', aliases: ['h', '?', '--help', '-h'], help: [['help|h|?', 'this text']] },
  { name: 'quit', aliases: ['exit', 'q'], help: [['quit|exit|q', 'leave the shell']] },
];

const byName = new Map(COMMAND_TABLE.map((c) => [c.name, c]));

export function commandDef(name: string): CommandDef | undefined {
  return byName.get(name);
}

/** Every word completion offers first. */
export const COMMAND_WORDS: readonly string[] = COMMAND_TABLE.flatMap((c) => [
  c.name,
  ...(c.aliases ?? []).filter((a) => /^[a-z]{2}/.test(a)),
]);

/** The original's abbreviations → the canonical command word; unknown words stay as they are. */
export function canonical(tokens: string[]): string[] {
  if (tokens.length === 0) return tokens;
  const [first, ...rest] = tokens as [string, ...string[]];
  const w = first.toLowerCase();
  // `show` alone is no command: only `show conf`.
  if (w === 'show') return rest[0] === 'conf' ? ['conf', ...rest.slice(1)] : [first, ...rest];
  const c = COMMAND_TABLE.find(
    (d) => d.name === w || d.aliases?.includes(w) || d.prefixes?.some((p) => w.startsWith(p)),
  );
  return [c ? c.name : w, ...rest];
}

export function isKnown(tokens: string[]): boolean {
  const c = canonical(tokens);
  return c.length > 0 && byName.has(c[0]!);
}

/** The commands' help, `offPause` put in for the pause. */
export function helpText(offPause: string): string {
  const line = ([usage, meaning]: readonly [string, string]) =>
    `  ${usage.length < 22 ? usage.padEnd(22) : `${usage}  `}${meaning.replace('{OFF_PAUSE}', offPause)}`;
  return ['commands:', ...COMMAND_TABLE.flatMap((c) => c.help ?? []).map(line)].join('\n');
}
