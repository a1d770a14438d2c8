// pha-cli watch: a live view of this node and what it knows of the peer,
// redrawn every 200 ms: state, the words both ways, the heartbeat's age (each
// path's with HB_PATHS), resources, gateway, the witness, alarms, the last
// transitions with their timelines. It
// fits 80 columns and works over a plain SSH session: no mouse, colour only
// on a terminal without NO_COLOR; `q` or Ctrl-C leaves the terminal as it was
// (the alternate screen, the cursor and the tty mode restored). Without a
// terminal (a pipe) it prints a frame whenever something changed.
import { runDir, varDir } from '../config/index.js';
import { readHistory } from '../supervise/history.js';
import { timelineLine } from '../supervise/timeline.js';
import { sleep } from '../wait.js';
import { liveView } from './alarms.js';
import { type Ctx, type NodeState, nodeState, pids, runningCount } from './control.js';
import { type LiveIo, liveSession } from './live.js';
import { pathSummaries } from './stat.js';

export const WATCH_EVERY_MS = 200;
const TRANSITIONS_SHOWN = 5;

export interface WatchData {
  now: number;
  node: string;
  peer: string;
  state: NodeState;
  daemons: number; // running, of 3
  said: string; // what our heartbeat says
  peerWord: string | null;
  peerSince: number | null;
  heardAt: number | null; // the peer's last heartbeat (the receiver's live answer)
  paths: string[]; // each heartbeat path's age and count (HB_PATHS with two or more; the receiver's live answer)
  resources: { name: string; state: string }[];
  gw: string;
  gwOk: number | null;
  witness: string | null; // WITNESS: the lock as this node sees it
  alarms: string[];
  transitions: ReturnType<typeof readHistory>['entries'];
}

export async function gatherWatch(ctx: Ctx, previous: NodeState): Promise<WatchData> {
  const { config, store } = ctx;
  const p = pids(config);
  const v = await liveView(store, varDir(config), runDir(config), p);
  const s = v.status;
  const now = Date.now();
  const paused = s.SENDER_RUN === 0 && (s.SENDER_PAUSE_UNTIL ?? 0) > now;
  const said = !p.sender.pid
    ? 'nothing (sender not running)'
    : paused
      ? `nothing (paused by off, ${Math.ceil(((s.SENDER_PAUSE_UNTIL ?? now) - now) / 1000)} s more)`
      : s.SENDER_MUTE === 1
        ? 'nothing (gateway lost: muted)'
        : (s.STATUS ?? 'PROGRESS');
  const heardAt = v.live.receiver?.stats?.heardAt;
  return {
    now,
    node: config.local.name,
    peer: config.peer.name,
    state: nodeState(s, p, previous),
    daemons: runningCount(p),
    said,
    peerWord: p.receiver.pid ? (s.RECEIVER_IN ?? null) : null,
    peerSince: typeof s.RECEIVER_IN_SINCE === 'number' ? s.RECEIVER_IN_SINCE : null,
    heardAt: typeof heardAt === 'number' && heardAt > 0 ? heardAt : null,
    paths: p.receiver.pid ? pathSummaries(config, v.live.receiver?.stats, now) : [],
    resources: config.resources.map((r) => ({
      name: r.name,
      state: String((s as Record<string, unknown>)[`RES_${r.name}`] ?? '?'),
    })),
    gw: config.GW,
    gwOk: s.GW_OK === 0 || s.GW_OK === 1 ? s.GW_OK : null,
    witness: typeof s.WITNESS === 'string' ? s.WITNESS : null,
    alarms: v.alarms,
    transitions: readHistory(varDir(config)).entries.slice(-TRANSITIONS_SHOWN),
  };
}

const ago = (ms: number) => (ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`);

/** Wrap `text` to `width`, the lines after the first indented by `indent`. */
function wrap(text: string, width: number, indent: string): string[] {
  const out: string[] = [];
  const lead = /^ */.exec(text)![0];
  let line = lead;
  for (const word of text.slice(lead.length).split(' ')) {
    const next = line.trim() ? `${line} ${word}` : `${line}${word}`;
    if (next.length > width && line.trim()) {
      out.push(line);
      line = `${indent}${word}`;
    } else line = next;
  }
  if (line) out.push(line);
  return out.map((l) => l.slice(0, width));
}

/** One frame: at most `width` columns a line (colour codes do not count). */
export function renderWatch(d: WatchData, o: { width: number; color: boolean }): string[] {
  const c = (code: string, s: string) => (o.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const stateColor: Record<string, string> = { Active: '1;32', Standby: '1;36', FAILED: '1;31', NOTRUNNING: '1;33' };
  const clock = new Date(d.now).toTimeString().slice(0, 8);
  const head = `pha watch: ${d.node} and its peer ${d.peer}`;
  const lines = [
    `${head}${' '.repeat(Math.max(1, o.width - head.length - clock.length))}${clock}`,
    `this node  ${d.node}: ${c(stateColor[d.state] ?? '1', d.state)}, daemons ${d.daemons}/3, heartbeat says ${d.said}`,
  ];
  const word = d.peerWord ?? 'no heartbeat';
  const since = d.peerSince !== null ? ` for ${ago(d.now - d.peerSince)}` : '';
  const heard = d.heardAt !== null ? `, last heartbeat ${ago(d.now - d.heardAt)} ago` : '';
  lines.push(`peer       ${d.peer}: ${c(d.peerWord ? '1' : '1;31', word)}${since}${heard}`);
  for (const [i, p] of d.paths.entries())
    lines.push(...wrap(`${i === 0 ? 'paths     ' : '          '} ${i + 1} ${p}`, o.width, ' '.repeat(13)));
  const res = d.resources.map((r) => `${r.name} ${c(r.state === 'UP' ? '32' : '0', r.state)}`).join('  ');
  lines.push(`resources  ${res || 'none'}`);
  lines.push(
    `gateway    ${d.gw ? `${d.gw} ${d.gwOk === 0 ? c('1;31', 'LOST') : d.gwOk === 1 ? 'answers' : '?'}` : 'not checked (no GW)'}`,
  );
  if (d.witness !== null) lines.push(`witness    ${d.witness === 'held' ? 'held (the lock is ours)' : d.witness}`);
  if (d.alarms.length === 0) lines.push('alarms     none');
  for (const [i, a] of d.alarms.entries())
    for (const l of wrap(`${i === 0 ? 'alarms     ' : '           '}${a}`, o.width, ' '.repeat(11)))
      lines.push(`${l.slice(0, 11)}${c('31', l.slice(11))}`);
  lines.push('last transitions (pha-cli history):');
  if (d.transitions.length === 0) lines.push('  none yet');
  for (const e of [...d.transitions].reverse()) lines.push(...wrap(`  ${timelineLine(e)}`, o.width, '      '));
  lines.push('', c('2', 'q or Ctrl-C: leave'));
  return lines;
}

const ESC = '\x1b[';

/**
 * Runs until `q` or Ctrl-C (a key on a terminal, or SIGINT/SIGTERM), or once.
 * The terminal is left as it was found: the alternate screen left, the
 * cursor shown, the tty's raw mode as before.
 */
export async function runWatch(ctx: Ctx, io: LiveIo, once: boolean): Promise<number> {
  const tty = !!io.output.isTTY;
  const color = tty && !process.env.NO_COLOR;
  const width = () => Math.min(io.output.columns || 80, 120);
  let state: NodeState = 'NOTRUNNING';
  if (once) {
    const d = await gatherWatch(ctx, state);
    io.output.write(`${renderWatch(d, { width: width(), color: false }).join('\n')}\n`);
    return 0;
  }
  const live = liveSession(io);
  if (tty) io.output.write(`${ESC}?1049h${ESC}?25l`);
  let last = '';
  const draw = async () => {
    const d = await gatherWatch(ctx, state);
    state = d.state;
    const frame = renderWatch(d, { width: width(), color });
    if (tty) io.output.write(`${ESC}H${frame.map((l) => `${l}${ESC}K`).join('\n')}\n${ESC}J`);
    else {
      // A pipe: a frame when what it says changed (the clock line aside).
      const text = frame.slice(1).join('\n');
      if (text !== last) io.output.write(`${frame.join('\n')}\n\n`);
      last = text;
    }
  };
  let running = true;
  void live.stopped.then(() => {
    running = false;
  });
  while (running) {
    const t0 = Date.now();
    await draw().catch((e: Error) => io.output.write(`watch: ${e.message}\n`));
    await Promise.race([live.stopped, sleep(Math.max(0, WATCH_EVERY_MS - (Date.now() - t0)))]);
  }
  live.end();
  if (tty) io.output.write(`${ESC}?25h${ESC}?1049l`);
  return 0;
}
