// What `stat` shows as needing the operator: supervise's decision alarm, each
// daemon's own alarms (from its live answer on the local bus, else from the
// status file), and what pha-cli itself finds (a var/ it cannot write, a
// damaged status file, a daemon that is not running).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type BusState, type DaemonName, queryDaemons } from '../daemon/bus.js';
import type { PidInfo } from '../daemon/pidfile.js';
import type { Status, StatusStore } from '../status-store/index.js';

const DAEMONS: DaemonName[] = ['sender', 'receiver', 'supervise'];
const ALARM_KEY = { sender: 'SENDER_ALARM', receiver: 'RECEIVER_ALARM', supervise: 'SUPERVISE_ALARM' } as const;

/** Can a file be created in `dir`? (read-only or full file systems say no) */
export function probeWritable(dir: string): string | null {
  const f = path.join(dir, `.pha-probe-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  try {
    fs.writeFileSync(f, 'probe\n');
    fs.rmSync(f, { force: true });
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOSPC' ? 'no space left' : code === 'EROFS' ? 'read-only file system' : (e as Error).message;
    return `${dir} not writable (${why}): the daemons keep their state in memory and on the local bus; the status file is behind`;
  }
}

export interface LiveView {
  status: Status; // the file, with the daemons' live keys laid over it
  alarms: string[];
  live: Partial<Record<DaemonName, BusState>>;
}

export async function liveView(
  store: StatusStore,
  varDir: string,
  runDir: string,
  pids: Record<DaemonName, PidInfo>,
): Promise<LiveView> {
  const file = store.read();
  const running = DAEMONS.filter((d) => pids[d].pid > 0);
  const live = running.length ? await queryDaemons(runDir) : {};
  const status: Status = { ...file };
  for (const d of DAEMONS) if (live[d]) Object.assign(status, live[d]!.keys);
  const alarms: string[] = [];
  const add = (a: string | null | undefined) => {
    for (const x of (a ?? '').split('; ')) if (x && !alarms.includes(x)) alarms.push(x);
  };
  add(status.ALARM);
  for (const d of DAEMONS) {
    if (live[d]) for (const a of live[d]!.alarms) add(a);
    else add(file[ALARM_KEY[d]]);
  }
  if (store.damaged) add(`${store.damaged} (pha-cli read it)`);
  if (running.length) add(probeWritable(varDir));
  if (running.length > 0 && running.length < 3) add(`not running: ${DAEMONS.filter((d) => !pids[d].pid).join(', ')}`);
  return { status, alarms, live };
}
