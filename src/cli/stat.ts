// The `stat` view: the status file as the original's Data::Dumper listing (new
// keys included, times shown readably), the three pids, and what needs attention.
import type { Config } from '../config/index.js';
import type { PidInfo } from '../daemon/pidfile.js';
import { type Status, TIME_KEYS } from '../status-store/index.js';
import type { HistoryEntry } from '../supervise/history.js';
import { timelineLine } from '../supervise/timeline.js';
import type { DaemonName, NodeState } from './control.js';

function perlValue(k: string, v: unknown, now: number): string {
  if (v === null || v === undefined) return 'undef';
  if (typeof v === 'number') {
    if (TIME_KEYS.has(k) && v > 1e12) {
      const d = (v - now) / 1000;
      const rel = d >= 0 ? `in ${d.toFixed(1)} s` : `${(-d).toFixed(1)} s ago`;
      return `'${new Date(v).toISOString()} (${rel})'`;
    }
    return String(v);
  }
  return `'${String(v).replace(/'/g, "\\'")}'`;
}

/**
 * Each heartbeat path (HB_PATHS) as "<peer> → <local>: heard … ago, …", from
 * the receiver's live numbers, in HB_PATHS order; none for a single path.
 * (stat and watch show them, each in its own layout.)
 */
export function pathSummaries(config: Config, stats: Record<string, number> | undefined, now: number): string[] {
  if (config.paths.length < 2) return [];
  return config.paths.map((path, i) => {
    const n = i + 1;
    const head = `${path.peer} → ${path.local}: `;
    if (!stats) return `${head}unknown (receiver not answering)`;
    const at = stats[`path${n}HeardAt`] ?? 0;
    const age = at > 0 ? `heard ${((now - at) / 1000).toFixed(1)} s ago` : 'never heard';
    const lost = stats[`path${n}Lost`] ?? 0;
    const loss = config.auth ? `, ${lost} lost (${(stats[`path${n}LossPct`] ?? 0).toFixed(1)} % recently)` : '';
    return `${head}${age}, ${stats[`path${n}Heard`] ?? 0} datagrams${loss}`;
  });
}

/** stat's line per heartbeat path. */
export function pathLines(config: Config, stats: Record<string, number> | undefined, now: number): string[] {
  return pathSummaries(config, stats, now).map((t, i) => `heartbeat path ${i + 1} ${t}`);
}

export function formatStat(
  s: Status,
  p: Record<DaemonName, PidInfo>,
  config: Config,
  now: number,
  alarms: string[] = s.ALARM ? [s.ALARM] : [],
  last?: HistoryEntry,
  receiverStats?: Record<string, number>,
): string {
  const lines = ['$VAR1 = {'];
  const entries = Object.entries(s);
  for (const [i, [k, v]] of entries.entries())
    lines.push(`          '${k}' => ${perlValue(k, v, now)}${i < entries.length - 1 ? ',' : ''}`);
  lines.push('        };');
  for (const d of ['sender', 'receiver', 'supervise'] as DaemonName[]) {
    const info = p[d];
    const note = info.stale
      ? `   (stale pid file: ${info.stale > 0 ? `pid ${info.stale}` : 'unreadable'} is not a running pha-${d})`
      : '';
    lines.push(`${(`${d}:`).padEnd(16)}${info.pid}${note}`);
  }
  const peer = s.RECEIVER_IN ?? null;
  const since = s.RECEIVER_IN_SINCE ? ` for ${((now - s.RECEIVER_IN_SINCE) / 1000).toFixed(1)} s` : '';
  lines.push(`peer ${config.peer.name}: ${peer ?? 'no heartbeat'}${since}`);
  if (p.receiver.pid) lines.push(...pathLines(config, receiverStats, now));
  if (s.SENDER_RUN === 0 && s.SENDER_PAUSE_UNTIL && s.SENDER_PAUSE_UNTIL > now) {
    lines.push(
      `heartbeat: paused by off for ${((s.SENDER_PAUSE_UNTIL - now) / 1000).toFixed(0)} s more ('on' resumes)`,
    );
  } else if (s.SENDER_MUTE === 1) lines.push('heartbeat: stopped (own gateway check failing)');
  if (s.FAILED_UNTIL && s.FAILED_UNTIL > now)
    lines.push(
      `FAILED: starts nothing for ${((s.FAILED_UNTIL - now) / 1000).toFixed(0)} s ('res start' or 'on' clears it)`,
    );
  if (typeof s.WITNESS === 'string') lines.push(`witness: ${s.WITNESS}`);
  for (const a of alarms) lines.push(`ALARM: ${a}`);
  if (s.REASON) lines.push(`last decision: ${s.REASON}`);
  if (last) lines.push(`last transition: ${timelineLine(last)}`);
  return lines.join('\n');
}

export function statJson(s: Status, p: Record<DaemonName, PidInfo>, config: Config, state: NodeState) {
  return {
    node: config.local.name,
    peer: config.peer.name,
    state,
    status: s,
    pids: { sender: p.sender.pid, receiver: p.receiver.pid, supervise: p.supervise.pid },
    stale: Object.fromEntries(
      Object.entries(p)
        .filter(([, v]) => v.stale)
        .map(([k, v]) => [k, v.stale]),
    ),
  };
}
