// pha-cli history [N] [--json]: this node's last transitions (var/history.json,
// kept by supervise), oldest first, each with its timeline in one line.
import { readHistory } from '../supervise/history.js';
import { timelineLine } from '../supervise/timeline.js';

export const HISTORY_DEFAULT = 10;

export function showHistory(
  varDir: string,
  n: string | undefined,
  json: boolean,
): { code: number; out?: string; err?: string } {
  const count = n === undefined ? HISTORY_DEFAULT : Number(n);
  if (!Number.isSafeInteger(count) || count < 1)
    return { code: 2, err: `history: N must be a whole number of transitions, 1 or more (got '${n}')` };
  const { entries, problem } = readHistory(varDir);
  if (problem) return { code: 1, err: `history: ${problem}` };
  const last = entries.slice(-count);
  if (json) return { code: 0, out: JSON.stringify(last) };
  if (last.length === 0) return { code: 0, out: 'no transitions yet' };
  return { code: 0, out: last.map((e) => timelineLine(e, true)).join('\n') };
}
