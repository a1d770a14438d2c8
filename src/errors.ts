// One catalogue of coded errors: each carries the message an operator acts on.
export type PhaErrorCode =
  | 'PHA_ERR_CONFIG'
  | 'PHA_ERR_STATUS_LOCK'
  | 'PHA_ERR_STATUS_WRITE'
  | 'PHA_ERR_USAGE'
  | 'PHA_ERR_DAEMON'
  | 'PHA_ERR_RESOURCE';

export class PhaError extends Error {
  readonly code: PhaErrorCode;
  readonly exitCode: number;
  constructor(code: PhaErrorCode, message: string, exitCode = 1) {
    super(message);
    this.name = 'PhaError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

export interface ConfigProblem {
  file: string;
  line: number; // 0 when the problem is not tied to one line
  message: string;
}

export function formatProblem(p: ConfigProblem): string {
  return p.line > 0 ? `${p.file}:${p.line}: ${p.message}` : `${p.file}: ${p.message}`;
}

export class ConfigError extends PhaError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super('PHA_ERR_CONFIG', problems.map(formatProblem).join('\n'), 2);
    this.problems = problems;
  }
}

/** Message of anything thrown, without a stack trace. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
