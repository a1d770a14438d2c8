// The sender's logic, sans-I/O: what to send to the peer, and when. Events in
// (a timer fired, the status changed, the fence finished), effects out (send
// a word, arm a timer, write keys, publish on the bus, stop the resources,
// log). The shell (shell.ts) reads the file and the bus into a `SenderSight`,
// encodes and sends the datagrams, and runs the timers; the simulator
// (tools/sim) drives this very class in virtual time.

import { STAMP_MS, stampPeriod, type Timing, type TimingInput, timingOf } from '../config/timing.js';
import { Cadence } from '../daemon/cadence.js';
import type { Clock, CommonEffect } from '../daemon/effects.js';
import type { Word } from '../heartbeat/word.js';
import type { Status } from '../status-store/index.js';

export type SenderConfig = TimingInput & {
  peer: { name: string };
  resources: readonly { name: string }[];
};

/** What the shell sees for the sender: the file with the others' fresh bus states over it, and supervise's liveness. */
export interface SenderSight {
  view: Status;
  supervisePid: boolean | undefined; // the watchdog's last pid check (false: gone)
  superviseOnBus: boolean; // heard on the bus lately
  superviseEverOnBus: boolean; // heard on the bus at some time (then its silence means something)
  superviseStarting?: boolean; // a watchdog is starting it, or just did: not gone, not yet heard
}

export type SenderReason = 'tick' | 'change' | 'bus';

/** The sender's timers: the heartbeat tick, and its liveness on the local bus. */
/** The sender's one timer: the heartbeat tick (the bus repeat rides on it). */
export type SenderTimer = 'tick';

export type SenderEvent =
  | ({ kind: 'timer'; timer: SenderTimer; sight?: SenderSight } & Clock) // 'tick' needs the sight
  | ({ kind: 'changed'; reason: Exclude<SenderReason, 'tick'>; sight: SenderSight } & Clock)
  | ({ kind: 'fenced'; results: readonly { name: string; ok: boolean }[] } & Clock);

// fence: stop all resources (reverse order), answer with 'fenced'
export type SenderEffect = CommonEffect<SenderTimer> | { kind: 'send'; word: Word } | { kind: 'fence' };

export interface WordOptions {
  superviseAlive: boolean;
  stalledAt: number | null; // our start or our last stall (wall ms)
  paused: boolean; // "off" pause still running (decided from the time, not from a write)
  fenced: boolean; // we stopped the resources ourselves: supervise was gone too long
}

/** What to send, or null to stay silent. Pure, so the rules can be tested. */
export function wordToSend(s: Status, o: WordOptions): { word: Word | null; why: string } {
  if (o.paused) return { word: null, why: 'paused (off)' };
  if (o.fenced)
    return { word: 'OFFLINE', why: 'supervise is gone: resources stopped by the sender, released to the peer' };
  if (!o.superviseAlive)
    return { word: 'PROGRESS', why: 'supervise not running: peer must wait while it is restarted' };
  if (s.SENDER_MUTE === 1) return { word: null, why: 'muted: own gateway check failing' };
  // After our own start or stall, say PROGRESS until supervise has decided again.
  if (o.stalledAt !== null && (s.DECIDED_AT ?? 0) < o.stalledAt)
    return { word: 'PROGRESS', why: 'waiting for a decision of supervise (after our start or stall)' };
  if (!s.STATUS) return { word: 'PROGRESS', why: 'no STATUS yet' };
  return { word: s.STATUS, why: 'STATUS' };
}

/** The config announcement's cadence: every 5 s (it is no heartbeat; a change of config needs a restart anyway). */
export const ANNOUNCE_EVERY_MS = 5000;
/** The first few a second apart, so that a peer whose receiver starts just after us hears one soon. */
export const ANNOUNCE_FIRST = 3;

/** How long after the `sent`-th announcement (1, 2, …) the next one goes out. Pure, for the tests. */
export function announceDelay(sent: number): number {
  return sent < ANNOUNCE_FIRST ? 1000 : ANNOUNCE_EVERY_MS;
}

export class SenderCore {
  private readonly t: Timing;
  private startedAt = 0; // wall
  private lastWord: Word | null | undefined;
  private lastPaused = false;
  // Until supervise has decided after our start (or after our own stall), the
  // STATUS in the file may be an earlier run's: say PROGRESS meanwhile. (wall)
  private stalledAt: number | null = null;
  private superviseGoneSince: number | null = null; // mono
  private lastLiveStatus: Status['STATUS'] | undefined; // supervise's STATUS when it was last alive
  private fenced = false;
  private fencing = false;
  private fenceRetryAt = -Infinity; // mono: after a fence whose stop failed
  private lastStamp = -Infinity; // mono
  private tickDue = 0; // mono: when the tick timer was meant to fire

  private readonly busRepeat: Cadence;
  private stampMs = STAMP_MS;

  constructor(private readonly c: SenderConfig) {
    this.t = timingOf(c);
    this.busRepeat = new Cadence(this.t.busIntervalMs);
  }

  /** Our stamp's readers hear us on the bus (or no longer do): the stamp may rest (must not). */
  restStamps(resting: boolean): void {
    this.stampMs = stampPeriod(resting);
  }

  private publishEffect(): SenderEffect {
    return { kind: 'publish', keys: { SENDER_STARTED_AT: this.startedAt } };
  }

  /** Started: tell supervise at once (it decides then, so we need not wait a round), then the first tick. */
  start(clock: Clock, sight: SenderSight): SenderEffect[] {
    this.startedAt = clock.wall;
    this.stalledAt = clock.wall;
    const out: SenderEffect[] = [
      this.publishEffect(),
      { kind: 'write', patch: { SENDER_STARTED_AT: clock.wall, SENDER_AT: clock.wall } },
    ];
    this.tickDue = clock.mono + this.c.HEARTBEAT_INT;
    out.push({ kind: 'arm', timer: 'tick', at: this.tickDue });
    this.busRepeat.done(clock.mono);
    this.round('tick', clock, sight, out);
    return out;
  }

  handle(e: SenderEvent): SenderEffect[] {
    const out: SenderEffect[] = [];
    switch (e.kind) {
      case 'timer':
        if (e.timer === 'tick' && e.sight) {
          this.detectStall(e, out);
          this.tickDue = e.mono + this.c.HEARTBEAT_INT;
          out.push({ kind: 'arm', timer: 'tick', at: this.tickDue });
          if (this.busRepeat.due(e.mono)) out.push(this.publishEffect());
          this.round('tick', e, e.sight, out);
        }
        break;
      case 'changed':
        // After a freeze the queued bus messages and file events may run before
        // the tick: they are old news, so the stall is noticed here too (fix 13).
        this.detectStall(e, out);
        this.round(e.reason, e, e.sight, out);
        break;
      case 'fenced': {
        this.fencing = false;
        const failed = e.results.filter((r) => !r.ok).map((r) => r.name);
        const patch: Record<string, unknown> = {};
        for (const r of e.results) patch[`RES_${r.name}`] = r.ok ? 'DOWN' : 'UP';
        if (failed.length) {
          // A stop that failed (or hung to RES_TIMEOUT) leaves what it could not
          // stop held: releasing it would make two holders. Keep saying PROGRESS
          // (the peer waits, up to its PROGRESS bound) and try again.
          this.fenceRetryAt = e.mono + this.c.SUPERVISE_INT;
          Object.assign(patch, {
            REASON: `supervise gone: the sender could not stop ${failed.join(', ')}; trying again`,
          });
          out.push({
            kind: 'log',
            level: 'error',
            fields: { peer: this.c.peer.name, failed },
            msg: `supervise gone: stopping ${failed.join(', ')} failed: still holding, not released to the peer; trying again in ${this.c.SUPERVISE_INT} ms`,
          });
          out.push({
            kind: 'alarm',
            id: 'fence',
            text: `supervise gone: the sender could not stop ${failed.join(', ')}; it holds them, keeps ${this.c.peer.name} waiting (PROGRESS) and tries again`,
          });
        } else {
          Object.assign(patch, { STATUS: 'OFFLINE', REASON: 'supervise gone: resources stopped by the sender' });
          out.push({
            kind: 'log',
            level: 'warn',
            fields: { peer: this.c.peer.name },
            msg: `supervise gone: resources stopped, released to ${this.c.peer.name} (OFFLINE)`,
          });
          out.push({
            kind: 'alarm',
            id: 'fence',
            text: `supervise gone: the sender stopped the resources and released them to ${this.c.peer.name}`,
          });
          this.fenced = true;
        }
        // The alarm goes in the same write as the REASON it explains, not at the next stamp (up to STAMP_MS later).
        out.push({ kind: 'write', patch: patch as Partial<Status>, alarmsKey: 'SENDER_ALARM' });
        break;
      }
    }
    return out;
  }

  /**
   * Our loop ran late by more than DEADTIME (frozen, swapped, SIGSTOPped):
   * say PROGRESS until supervise has decided again, and tell supervise so, as
   * after a restart (SENDER_STARTED_AT), or it may have no reason to decide.
   */
  private detectStall(clock: Clock, out: SenderEffect[]): void {
    const late = clock.mono - this.tickDue;
    if (late <= this.c.DEADTIME) return;
    this.tickDue = clock.mono; // noticed once, whichever event comes first
    this.stalledAt = clock.wall;
    this.startedAt = clock.wall;
    this.superviseGoneSince = null;
    out.push({
      kind: 'log',
      level: 'warn',
      fields: { lateMs: Math.round(late) },
      msg: 'own stall detected: sending PROGRESS until supervise decides again',
    });
    out.push(this.publishEffect(), { kind: 'write', patch: { SENDER_STARTED_AT: clock.wall } });
  }

  /** Clean stop: the keys a stopped sender leaves. */
  stop(): SenderEffect[] {
    return [
      { kind: 'cancel', timer: 'tick' },
      { kind: 'write', patch: { SENDER_RUN: 0, SENDER_AT: undefined } },
    ];
  }

  private round(reason: SenderReason, clock: Clock, sight: SenderSight, out: SenderEffect[]): void {
    const { mono, wall } = clock;
    const s = sight.view;
    // Alive: its process runs, and it speaks on the bus or stamps the file
    // (either may fail alone: a full disk, a bus that did not start).
    const spoke =
      sight.superviseOnBus ||
      (!sight.superviseEverOnBus && s.SUPERVISE_AT !== undefined && wall - s.SUPERVISE_AT <= this.t.superviseStaleMs);
    const superviseAlive = sight.supervisePid !== false && spoke;
    if (superviseAlive) {
      this.lastLiveStatus = s.STATUS;
      this.superviseGoneSince = null;
      if ((this.fenced || this.fenceRetryAt > -Infinity) && (s.DECIDED_AT ?? 0) > wall - this.t.busFreshMs) {
        this.fenced = false; // supervise is back and deciding: its word counts again
        this.fenceRetryAt = -Infinity;
        out.push({ kind: 'alarm', id: 'fence', text: null });
      }
    } else if (this.stalledAt === null || wall - this.stalledAt > this.t.busFreshMs) {
      this.superviseGoneSince ??= mono;
      // Never while a new supervise is starting: its start scripts and our
      // stops would interleave.
      // Its last word as heard live counts too: with var/ unwritable the file
      // may still say OFFLINE while it had taken over. So does a
      // resource the file says is UP: the operator's res start on a Standby
      // whose supervise died before it checked.
      const upInFile = (r: { name: string }) => s[`RES_${r.name}`] === 'UP';
      const mayHold =
        s.STATUS !== 'OFFLINE' ||
        (this.lastLiveStatus != null && this.lastLiveStatus !== 'OFFLINE') ||
        this.c.resources.some(upInFile);
      if (
        !this.fenced &&
        !this.fencing &&
        !sight.superviseStarting &&
        mono - this.superviseGoneSince >= this.t.superviseLostMs &&
        mono >= this.fenceRetryAt &&
        mayHold
      ) {
        // Supervise is gone for good: nobody manages what this node holds. Stop it and release.
        this.fencing = true;
        const held = this.c.resources.filter(upInFile).map((r) => r.name);
        out.push({
          kind: 'log',
          level: 'error',
          fields: { peer: this.c.peer.name, lostMs: this.t.superviseLostMs, resources: held },
          msg: `supervise gone for ${this.t.superviseLostMs} ms: stopping the resources and releasing them to the peer`,
        });
        // A retry keeps the alarm that says the last stop failed (it says "tries again"):
        // flipping it back and forth every SUPERVISE_INT would hide it from a stamp.
        if (this.fenceRetryAt === -Infinity)
          out.push({
            kind: 'alarm',
            id: 'fence',
            text: `supervise gone: the sender is stopping the resources to release them to ${this.c.peer.name}`,
          });
        out.push({ kind: 'fence' });
      }
    }
    const pauseUntil = s.SENDER_RUN === 0 ? (s.SENDER_PAUSE_UNTIL ?? 0) : 0;
    const paused = pauseUntil > wall;
    if (s.SENDER_RUN === 0 && !paused) {
      // The pause is over by the clock, whether or not this write lands.
      if (this.lastPaused)
        out.push({
          kind: 'log',
          level: 'info',
          fields: { peer: this.c.peer.name },
          msg: 'heartbeat pause over: sending again',
        });
      out.push({ kind: 'write', patch: { SENDER_RUN: 1, SENDER_PAUSE_UNTIL: undefined } });
    }
    const { word, why } = wordToSend(s, { superviseAlive, stalledAt: this.stalledAt, paused, fenced: this.fenced });
    if (this.stalledAt !== null && (s.DECIDED_AT ?? 0) >= this.stalledAt) this.stalledAt = null;
    if (paused && !this.lastPaused && this.lastWord) {
      // Going quiet (off): the final word (the release) goes out twice, as UDP may drop one.
      const final = s.STATUS ?? 'OFFLINE';
      out.push({ kind: 'send', word: final }, { kind: 'send', word: final });
      out.push({
        kind: 'log',
        level: 'info',
        fields: { word: final, peer: this.c.peer.name },
        msg: 'heartbeat paused after the final word',
      });
    }
    this.lastPaused = paused;
    const changed = word !== this.lastWord;
    if (changed)
      out.push({
        kind: 'log',
        level: 'info',
        fields: { word, why, peer: this.c.peer.name, reason },
        msg: word ? `sending ${word} to ${this.c.peer.name}` : `not sending: ${why}`,
      });
    this.lastWord = word;
    // A file change sends only a changed word; the periodic tick always sends.
    if (word && (reason === 'tick' || changed)) out.push({ kind: 'send', word });
    // Stamps after the send, in the background: a slow or failing write never delays a heartbeat.
    if (mono - this.lastStamp >= this.stampMs) {
      this.lastStamp = mono;
      out.push({
        kind: 'write',
        patch: { SENDER_AT: wall, ...(s.SENDER_RUN === undefined ? { SENDER_RUN: 1 } : {}) },
        alarmsKey: 'SENDER_ALARM',
      });
    }
  }
}
