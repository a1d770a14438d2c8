// The status file (damaged, unwritable), each daemon's background writer,
// the directory watch, and the local bus between a node's daemons.
import { BUS_HEARD_AGAIN_MS } from '../../src/config/timing.js';
import type { DaemonName } from '../../src/daemon/pidfile.js';
import type { SenderSight } from '../../src/sender/core.js';
import type { Status } from '../../src/status-store/index.js';
import { SimClock } from './clock.js';
import { DAEMON_NAMES, type Heard, type Proc, type SimNode } from './model.js';

export abstract class SimStore extends SimClock {
  /** store.read() in `proc`: the last good state when the file is damaged. */
  protected read(proc: Proc): { status: Status; damaged: string | null } {
    const n = proc.node;
    if (n.fileState === 'ok') {
      proc.lastGood = n.file;
      return { status: { ...n.file }, damaged: null };
    }
    if (n.fileState === 'missing' && proc.lastGood === undefined) return { status: {}, damaged: null };
    return {
      status: { ...(proc.lastGood ?? {}) },
      damaged: n.fileState === 'missing' ? 'status file missing' : 'status file corrupt',
    };
  }

  /** One read-modify-write of the file (the store's update()). */
  storeWrite(node: SimNode, patch: Record<string, unknown>, lastGood: Status | undefined, by: Proc | null): boolean {
    if (node.unwritable) return false;
    const cur: Record<string, unknown> = node.fileState === 'ok' ? { ...node.file } : { ...(lastGood ?? {}) };
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) delete cur[k];
      else cur[k] = v;
    }
    node.file = cur as Status;
    node.fileState = 'ok';
    if (by) by.lastGood = node.file;
    this.fileChanged(node);
    return true;
  }

  /** A status-file fault: corrupt, truncated (read as corrupt) or deleted. */
  damageFile(node: SimNode, how: 'corrupt' | 'truncate' | 'delete'): void {
    node.fileState = how === 'delete' ? 'missing' : 'corrupt';
    this.log(node, 'fault', `status file ${how}`);
    this.fileChanged(node);
  }

  /** fs.watch: every running daemon that watches the file hears of a change. */
  fileChanged(node: SimNode): void {
    for (const d of DAEMON_NAMES) {
      const proc = node.procs[d];
      if (!proc) continue;
      this.later(proc, this.lat2(this.lat.watchMs), () => {
        if (d === 'receiver') proc.receiver?.run.feed({ kind: 'changed', ...this.clock(proc) });
        else if (d === 'sender')
          proc.sender?.run.feed({
            kind: 'changed',
            reason: 'change',
            sight: this.senderSight(proc, true),
            ...this.clock(proc),
          });
        else
          proc.supervise?.run.feed({
            kind: 'changed',
            view: this.superviseView(proc, this.read(proc).status),
            ...this.clock(proc),
          });
      });
    }
  }

  /** StatusWriter: merged patches written in the background, retried while the file is not writable. */
  protected write(proc: Proc, patch: Record<string, unknown>): void {
    proc.pending = { ...(proc.pending ?? {}), ...patch };
    this.kick(proc);
  }

  protected kick(proc: Proc): void {
    if (proc.inflight || !proc.pending) return;
    const patch = proc.pending;
    proc.pending = null;
    proc.inflight = patch;
    this.at(this.t + this.lat2(this.lat.writeMs), () => {
      if (!proc.alive) return;
      proc.inflight = null;
      if (this.storeWrite(proc.node, patch, proc.lastGood, proc)) {
        if (proc.writeError) {
          proc.writeError = false;
          this.writerState(proc, null);
        }
        this.kick(proc);
      } else {
        proc.pending = { ...patch, ...(proc.pending ?? {}) };
        if (!proc.writeError) {
          proc.writeError = true;
          this.writerState(proc, 'status file not writable');
        }
        this.at(this.t + 500, () => proc.alive && this.kick(proc));
      }
    });
  }

  protected writerState(proc: Proc, err: string | null): void {
    if (err) proc.alarms.set('store', err);
    else proc.alarms.delete('store');
    const r = proc.receiver;
    if (r) this.deliver(proc, () => r.run.carry(r.core.republish()));
  }

  protected over(proc: Proc, file: Status): Status {
    if (!proc.inflight && !proc.pending) return file;
    const out = { ...file } as Record<string, unknown>;
    for (const [k, v] of Object.entries({ ...(proc.inflight ?? {}), ...(proc.pending ?? {}) })) {
      if (v === undefined) delete out[k];
      else out[k] = v;
    }
    return out as Status;
  }

  /** A daemon says its state on the bus: the others hear it (listeners only on a change, like LocalBus). */
  protected publish(proc: Proc, keys: Partial<Status>): void {
    const node = proc.node;
    const prev = node.pub.get(proc.name);
    const changed = !prev || this.t - prev.at > BUS_HEARD_AGAIN_MS || !sameKeys(prev.keys, keys);
    node.pub.set(proc.name, { keys, at: this.t, pid: proc.pid });
    for (const d of DAEMON_NAMES) {
      if (d === proc.name) continue;
      const to = node.procs[d];
      if (!to) continue;
      const first = !to.everHeard.has(proc.name);
      to.everHeard.add(proc.name);
      if (!changed && !first) continue;
      if (to.name === 'sender' && proc.name === 'supervise')
        this.later(to, 0.2, () =>
          to.sender?.run.feed({
            kind: 'changed',
            reason: 'bus',
            sight: this.senderSight(to, false),
            ...this.clock(to),
          }),
        );
      if (to.name === 'supervise' && proc.name !== 'supervise')
        this.later(to, 0.2, () =>
          to.supervise?.run.feed({
            kind: 'changed',
            view: this.superviseView(to, this.read(to).status),
            ...this.clock(to),
          }),
        );
    }
  }

  /** `d`'s state as `proc` heard it lately on the bus (undefined: not fresh). */
  protected busFresh(proc: Proc, d: DaemonName): Heard | undefined {
    const h = proc.node.pub.get(d);
    return h && h.at >= proc.startedAt && proc.everHeard.has(d) && this.t - h.at <= this.fresh ? h : undefined;
  }

  protected overlay(proc: Proc, s: Status): Status {
    let out: Status | undefined;
    for (const d of DAEMON_NAMES) {
      if (d === proc.name) continue;
      const h = this.busFresh(proc, d);
      if (!h) continue;
      out ??= { ...s };
      Object.assign(out, h.keys);
    }
    return out ?? s;
  }

  protected superviseView(proc: Proc, file: Status): Status {
    return this.overlay(proc, this.over(proc, file));
  }

  protected abstract senderSight(proc: Proc, reread: boolean): SenderSight;
}

function sameKeys(a: Partial<Status>, b: Partial<Status>): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k of ka) if (x[k] !== y[k]) return false;
  return true;
}
