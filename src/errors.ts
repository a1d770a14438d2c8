// One catalogue of coded errors (fastify's habit): each code carries the
// message an operator acts on and the exit code a command or daemon ends
// with. Nothing else in src/ decides how an error exits: exitCodeOf() does.

export interface ConfigProblem {
  file: string;
  line: number; // 0 when the problem is not tied to one line
  message: string;
}

export function formatProblem(p: ConfigProblem): string {
  return p.line > 0 ? `${p.file}:${p.line}: ${p.message}` : `${p.file}: ${p.message}`;
}

/** The exit codes pha ends with (LSB-like for the init script). */
export const EXIT = { ok: 0, failed: 1, config: 2, alreadyRunning: 3 } as const;

const CATALOGUE = {
  PHA_ERR_CONFIG: {
    exit: EXIT.config,
    message: (problems: readonly ConfigProblem[]) => problems.map(formatProblem).join('\n'),
  },
  PHA_ERR_USAGE: { exit: EXIT.config, message: (what: string) => `${what} (pha-cli --help)` },
  PHA_ERR_STATUS_LOCK: { exit: EXIT.failed, message: (file: string, why: string) => `cannot lock ${file}: ${why}` },
  PHA_ERR_STATUS_WRITE: {
    exit: EXIT.failed,
    message: (file: string, why: string) => `status file ${file} not writable: ${why}`,
  },
  PHA_ERR_PIDFILE: { exit: EXIT.failed, message: (file: string, why: string) => `${file}: ${why}` },
  PHA_ERR_ALREADY_RUNNING: {
    exit: EXIT.alreadyRunning,
    message: (pid: number) => `already running (pid ${pid})`,
  },
  PHA_ERR_DAEMON: { exit: EXIT.failed, message: (daemon: string, why: string) => `${daemon} could not start: ${why}` },
  PHA_ERR_ICMP: {
    exit: EXIT.failed,
    message: (why: string) => `cannot open an ICMP socket for the gateway check (needs root or CAP_NET_RAW): ${why}`,
  },
  PHA_ERR_RESOLVE: { exit: EXIT.config, message: (name: string) => `${name} has no IPv4 address` },
  PHA_ERR_INTERNAL: { exit: EXIT.failed, message: (what: string) => `internal error: ${what}` },
} as const;

type Catalogue = typeof CATALOGUE;
export type PhaErrorCode = keyof Catalogue;
type Args<C extends PhaErrorCode> = Parameters<Catalogue[C]['message']>;

export class PhaError<C extends PhaErrorCode = PhaErrorCode> extends Error {
  readonly code: C;
  constructor(code: C, ...args: Args<C>) {
    super((CATALOGUE[code].message as (...a: Args<C>) => string)(...args));
    this.name = 'PhaError';
    this.code = code;
  }
}

export class ConfigError extends PhaError<'PHA_ERR_CONFIG'> {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super('PHA_ERR_CONFIG', problems);
    this.problems = problems;
  }
}

/** The exit code for anything thrown: a coded error's own, else a plain failure. */
export function exitCodeOf(err: unknown): number {
  return err instanceof PhaError ? CATALOGUE[err.code as PhaErrorCode].exit : EXIT.failed;
}

/** Message of anything thrown, without a stack trace. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
