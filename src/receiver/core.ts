// The receiver's logic, sans-I/O: accept the peer's word, declare the peer
// silent DEADTIME after its last word, notice our own stall, re-assert the
// peer's word when the status file lost it. Events in (a decoded word from the
// peer or a dropped datagram, a timer, the file as read), effects out (write
// keys, publish on the bus, arm a timer, read the file, log). The shell
// (shell.ts) owns the socket and decodes; the simulator drives this class.
import type { Config, HbPath } from '../config/index.js';
import { busIntervalOf, STAMP_MS, stampPeriod, tickFallbackMs } from '../config/timing.js';
import type { Clock, CommonEffect } from '../daemon/effects.js';
import type { Word } from '../heartbeat/word.js';
import type { Status } from '../status-store/index.js';
import { PathWatch } from './paths.js';

export type ReceiverConfig = Pick<Config, 'HEARTBEAT_INT' | 'DEADTIME'> & {
  peer: { name: string };
  paths?: readonly HbPath[]; // HB_PATHS; one path when absent
};

/** The receiver's timers: its tick (bus, stamps, own stall), and the peer's dead time. */
export type ReceiverTimer = 'tick' | 'dead';

// `path`: which heartbeat path (0-based, HB_PATHS order) carried it; `lost`: frames skipped on that path before it.
type PathOf = { path?: number; lost?: number };

export type ReceiverEvent =
  | ({ kind: 'word'; word: Word } & PathOf & Clock) // a valid heartbeat from the peer, newer than any taken
  | ({ kind: 'copy' } & PathOf & Clock) // a valid frame already taken from another path: that path's liveness only
  | ({ kind: 'dropped'; from: string; bytes: number } & Clock) // not a heartbeat from the peer
  | ({ kind: 'drained' } & Clock) // every datagram queued with the last word has been handled
  | ({ kind: 'timer'; timer: ReceiverTimer } & Clock)
  | ({ kind: 'file'; status: Status; damaged: string | null } & Clock) // answer to a 'read'
  | ({ kind: 'changed' } & Clock); // the status file was replaced, changed or removed (the directory watch)

export type ReceiverEffect =
  | CommonEffect<ReceiverTimer>
  | { kind: 'drain' } // answer with 'drained' once the datagrams queued now are handled (coalesces a burst)
  | { kind: 'read' }; // answer at once with 'file'

/** The file is read when the directory watch reports a change; this often at the least (a watch that failed). */
export const FILE_SAFETY_READ_MS = 5000;

export class ReceiverCore {
  private startedAt = 0; // wall
  // A word left in the file from an earlier run is old news: start from null.
  private current: Word | null = null;
  private since = 0; // wall: since when `current` holds
  private lastHeard = 0; // mono; the peer gets one DEADTIME to speak after start
  private pending: Word | null = null; // newest word of the burst being drained
  private drainScheduled = false;
  private discardUntil = 0; // mono
  dropped = 0; // read by the shell: it rides on the stamp
  private droppedLogged = 0;
  private lastTickAt = 0; // mono
  private silentMs: number | undefined; // the silence that made the word null (a timeline's detection)
  private tickDue = 0; // mono
  private lastStamp = -Infinity; // mono
  private lastCheckAt = -Infinity; // mono
  private readonly interval: number;
  private stampMs = STAMP_MS;
  readonly paths: PathWatch;

  constructor(private readonly c: ReceiverConfig) {
    this.interval = busIntervalOf(c.DEADTIME);
    this.paths = new PathWatch(c.paths ?? [{ local: '', peer: '' }], c.DEADTIME);
  }

  /** On the bus, liveness is the message's arrival; no time stamp in the state. */
  private publishEffect(): ReceiverEffect {
    return {
      kind: 'publish',
      keys: {
        RECEIVER_IN: this.current,
        RECEIVER_IN_SINCE: this.since,
        RECEIVER_STARTED_AT: this.startedAt,
        RECEIVER_SILENT_MS: this.silentMs,
      },
    };
  }

  /** Bound and listening. */
  start(clock: Clock): ReceiverEffect[] {
    this.startedAt = clock.wall;
    this.since = clock.wall;
    this.lastHeard = clock.mono;
    this.lastTickAt = clock.mono;
    this.tickDue = clock.mono + this.interval;
    this.paths.start(clock);
    return [
      { kind: 'arm', timer: 'tick', at: this.fallbackAt() },
      this.publishEffect(),
      {
        kind: 'write',
        patch: {
          RECEIVER_STARTED_AT: clock.wall,
          RECEIVER_AT: clock.wall,
          RECEIVER_IN: null,
          RECEIVER_IN_SINCE: clock.wall,
        },
      },
    ];
  }

  /** The writer's state changed (file not writable / writable again): tell the others now. */
  republish(): ReceiverEffect[] {
    return [this.publishEffect()];
  }

  stop(): ReceiverEffect[] {
    // Stopped: the peer's word is unknown now, not "silent" (silent would be a takeover).
    return [
      { kind: 'cancel', timer: 'tick' },
      { kind: 'cancel', timer: 'dead' },
      {
        kind: 'write',
        patch: {
          RECEIVER_IN: undefined,
          RECEIVER_IN_SINCE: undefined,
          RECEIVER_AT: undefined,
          RECEIVER_SILENT_MS: undefined,
        },
      },
    ];
  }

  handle(e: ReceiverEvent): ReceiverEffect[] {
    const out: ReceiverEffect[] = [];
    switch (e.kind) {
      case 'copy':
        out.push(...this.paths.heard(e.path ?? 0, e, e.lost));
        break;
      case 'word': {
        // A message after a silence of our own loop: we were frozen (the tick has not run yet).
        if (e.mono - this.lastTickAt > this.c.DEADTIME) this.onStall(e, e.mono - this.lastTickAt, out);
        out.push(...this.paths.heard(e.path ?? 0, e, e.lost));
        if (e.mono < this.discardUntil) break; // backlog from before our own stall: stale news (fix 13)
        this.lastHeard = e.mono;
        out.push({ kind: 'arm', timer: 'dead', at: e.mono + this.c.DEADTIME + 1 });
        this.pending = e.word;
        // Coalesce a burst (all datagrams already queued) into its newest word.
        if (!this.drainScheduled) {
          this.drainScheduled = true;
          out.push({ kind: 'drain' });
        }
        break;
      }
      case 'drained':
        this.drainScheduled = false;
        if (this.pending) this.setWord(this.pending, 'heartbeat', e, out);
        this.pending = null;
        // The tick rides on the peer's heartbeat once it is due: no wake of its own while the peer speaks.
        if (e.mono >= this.tickDue) this.tick(e, out);
        break;
      case 'dropped':
        this.dropped++;
        if (this.dropped - this.droppedLogged >= 1 && (this.droppedLogged === 0 || this.dropped % 1000 === 0)) {
          this.droppedLogged = this.dropped;
          out.push({
            kind: 'log',
            level: 'warn',
            fields: { from: e.from, bytes: e.bytes, dropped: this.dropped },
            msg: 'dropped a datagram that is not a heartbeat from the peer',
          });
        }
        break;
      case 'changed':
        // Read at once: a file that lost the peer's word gets it back now, not at the next safety read.
        this.lastCheckAt = e.mono;
        out.push({ kind: 'read' });
        break;
      case 'timer':
        if (e.timer === 'dead') this.checkDead(e, out);
        else if (e.timer === 'tick') this.tick(e, out);
        break;
      case 'file':
        if (e.damaged) out.push({ kind: 'alarm', id: 'file', text: `${e.damaged}: re-asserting the peer's word` });
        else out.push({ kind: 'alarm', id: 'file', text: null });
        if (e.status.RECEIVER_IN !== this.current || e.status.RECEIVER_STARTED_AT !== this.startedAt) {
          if (e.status.RECEIVER_IN !== this.current)
            out.push({
              kind: 'log',
              level: 'warn',
              fields: { file: e.status.RECEIVER_IN ?? 'missing', word: this.current, peer: this.c.peer.name },
              msg: "status file lost the peer's word: writing it again",
            });
          out.push({
            kind: 'write',
            patch: {
              RECEIVER_IN: this.current,
              RECEIVER_IN_SINCE: this.since,
              RECEIVER_SILENT_MS: this.silentMs,
              RECEIVER_STARTED_AT: this.startedAt,
              RECEIVER_AT: e.wall,
              RECEIVER_DROPPED: this.dropped,
            },
            alarmsKey: 'RECEIVER_ALARM', // with the damage alarm just set
          });
          this.lastStamp = e.mono;
        }
        this.stamp(e, out);
        break;
    }
    return out;
  }

  private setWord(w: Word | null, why: string, clock: Clock, out: ReceiverEffect[], silentMs?: number): void {
    if (w === this.current) return;
    this.silentMs = silentMs === undefined ? undefined : Math.round(silentMs);
    out.push({
      kind: 'log',
      level: 'info',
      fields: { from: this.current, to: w, peer: this.c.peer.name, why },
      msg: `peer ${this.c.peer.name}: ${this.current ?? 'null'} -> ${w ?? 'null'}`,
    });
    this.current = w;
    this.since = clock.wall;
    out.push(this.publishEffect());
    out.push({
      kind: 'write',
      patch: {
        RECEIVER_IN: w,
        RECEIVER_IN_SINCE: this.since,
        RECEIVER_AT: this.since,
        RECEIVER_SILENT_MS: this.silentMs,
      },
    });
  }

  private onStall(clock: Clock, late: number, out: ReceiverEffect[]): void {
    // We were frozen: what sits in the socket is old. Drop it, give the peer a
    // fresh DEADTIME to speak, and tell supervise.
    this.discardUntil = clock.mono + Math.max(10, Math.floor(this.c.HEARTBEAT_INT / 2));
    this.lastHeard = clock.mono;
    this.lastTickAt = clock.mono;
    this.paths.start(clock); // and every path a fresh DEADTIME: their silence was ours
    out.push({
      kind: 'log',
      level: 'warn',
      fields: { lateMs: Math.round(late) },
      msg: 'own stall detected: discarding queued heartbeats',
    });
    out.push({ kind: 'write', patch: { RECEIVER_STALL_AT: clock.wall } });
  }

  /** Precise dead time, re-armed by every heartbeat: silent DEADTIME after the last word, not a tick later. */
  private checkDead(clock: Clock, out: ReceiverEffect[]): void {
    // The dead timer may run before the tick after a freeze: that silence is ours.
    if (clock.mono - this.lastTickAt > this.c.DEADTIME) this.onStall(clock, clock.mono - this.lastTickAt, out);
    if (this.current === null) return;
    const silent = clock.mono - this.lastHeard;
    if (silent >= this.c.DEADTIME) {
      this.setWord(null, `no heartbeat for ${Math.round(silent)} ms (DEADTIME ${this.c.DEADTIME})`, clock, out, silent);
    } else {
      out.push({ kind: 'arm', timer: 'dead', at: this.lastHeard + this.c.DEADTIME + 1 });
    }
  }

  /** Our stamp's reader hears us on the bus (or no longer does): the stamp may rest (must not). */
  restStamps(resting: boolean): void {
    this.stampMs = stampPeriod(resting);
  }

  /**
   * The tick publishes our liveness on the bus, stamps the file now and then,
   * detects a stall, and re-asserts the peer's word when the file lost it
   * (corrupt, truncated, deleted: the word must not wait for the peer's next change).
   */
  private tick(clock: Clock, out: ReceiverEffect[]): void {
    const t = clock.mono;
    const late = Math.max(0, t - this.tickDue);
    this.tickDue = t + this.interval;
    out.push({ kind: 'arm', timer: 'tick', at: this.fallbackAt() });
    if (late > this.c.DEADTIME && t - this.lastTickAt > this.c.DEADTIME) this.onStall(clock, late, out);
    this.lastTickAt = t;
    this.checkDead(clock, out);
    out.push(...this.paths.check(clock, this.current !== null));
    out.push(this.publishEffect());
    if (t - this.lastCheckAt >= FILE_SAFETY_READ_MS) {
      this.lastCheckAt = t;
      out.push({ kind: 'read' }); // continues in 'file', then stamps
      return;
    }
    this.stamp(clock, out);
  }

  /** The tick's own timer: half an interval after it is due, for when no heartbeat carries it. */
  private fallbackAt(): number {
    return this.tickDue + tickFallbackMs(this.interval);
  }

  private stamp(clock: Clock, out: ReceiverEffect[]): void {
    if (clock.mono - this.lastStamp >= this.stampMs) {
      this.lastStamp = clock.mono;
      out.push({
        kind: 'write',
        patch: { RECEIVER_AT: clock.wall, RECEIVER_DROPPED: this.dropped },
        alarmsKey: 'RECEIVER_ALARM',
      });
    }
  }
}
