// The heartbeat paths as the receiver hears them (HB_PATHS): when each last
// carried a valid datagram from the peer, how many came and how many frames it
// lost. A path silent for DEADTIME while another still carries the peer is an
// alarm, never a failover: the peer is silent only when all paths are.
// Pure: time comes in with each call.
import type { HbPath } from '../config/index.js';
import type { Clock } from '../daemon/effects.js';

/** Weight of one heartbeat in the recent loss (about the last 50 heartbeats: 10 s at 200 ms). */
const LOSS_WEIGHT = 0.02;

export interface PathAlarm {
  kind: 'alarm';
  id: string;
  text: string | null;
}
export interface PathLog {
  kind: 'log';
  level: 'warn' | 'info';
  fields: Record<string, unknown>;
  msg: string;
}

interface PathState {
  lastMono: number;
  lastWall: number; // 0: never
  heard: number;
  lost: number;
  loss: number; // recent share of frames lost, 0..1 (frames only: plain words carry no sequence)
  silentSince: number | null; // wall: the alarm is up
}

export class PathWatch {
  private readonly s: PathState[];

  constructor(
    private readonly paths: readonly HbPath[],
    private readonly deadtime: number,
  ) {
    this.s = paths.map(() => ({ lastMono: 0, lastWall: 0, heard: 0, lost: 0, loss: 0, silentSince: null }));
  }

  /** Every path gets one DEADTIME to speak after the start. */
  start(clock: Clock): void {
    for (const p of this.s) p.lastMono = clock.mono;
  }

  /** A valid datagram from the peer on `path`; `lost` frames were skipped on it since its previous one. */
  heard(path: number, clock: Clock, lost = 0): (PathAlarm | PathLog)[] {
    const p = this.s[path];
    if (!p) return [];
    p.lastMono = clock.mono;
    p.lastWall = clock.wall;
    p.heard++;
    p.lost += lost;
    p.loss = (1 - (1 - p.loss) * (1 - LOSS_WEIGHT) ** lost) * (1 - LOSS_WEIGHT);
    if (p.silentSince === null) return [];
    p.silentSince = null;
    return [
      { kind: 'alarm', id: this.alarmId(path), text: null },
      {
        kind: 'log',
        level: 'info',
        fields: { path: path + 1, ...this.paths[path] },
        msg: `heartbeat path ${this.name(path)} carries the peer again`,
      },
    ];
  }

  /**
   * Alarms for paths silent DEADTIME while the peer is heard on another;
   * `peerHeard` false (all silent, or the peer paused by off) clears them: that
   * is the peer's silence, not a path's.
   */
  check(clock: Clock, peerHeard: boolean): (PathAlarm | PathLog)[] {
    const out: (PathAlarm | PathLog)[] = [];
    if (this.s.length < 2) return out;
    for (const [i, p] of this.s.entries()) {
      const down = peerHeard && clock.mono - p.lastMono >= this.deadtime;
      if (down && p.silentSince === null) {
        p.silentSince = clock.wall - Math.round(clock.mono - p.lastMono);
        const up = this.s.filter((q) => q.silentSince === null).length;
        const text =
          `heartbeat path ${this.name(i)} silent since ${new Date(p.silentSince).toISOString()}: ` +
          `the peer is heard on ${up} of ${this.s.length} paths (a failover needs all silent)`;
        out.push({ kind: 'alarm', id: this.alarmId(i), text });
        out.push({ kind: 'log', level: 'warn', fields: { path: i + 1, ...this.paths[i] }, msg: text });
      } else if (!down && p.silentSince !== null && !peerHeard) {
        p.silentSince = null;
        out.push({ kind: 'alarm', id: this.alarmId(i), text: null });
      }
    }
    return out;
  }

  /** For the bus (pha-cli stat, /metrics): per path, 1-based, when last heard (wall), counts, recent loss. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [i, p] of this.s.entries()) {
      const n = i + 1;
      out[`path${n}HeardAt`] = p.lastWall;
      out[`path${n}Heard`] = p.heard;
      out[`path${n}Lost`] = p.lost;
      out[`path${n}LossPct`] = Math.round(p.loss * 1000) / 10;
    }
    return out;
  }

  private name(i: number): string {
    const p = this.paths[i]!;
    return `${i + 1} (${p.peer} → ${p.local})`;
  }

  private alarmId(i: number): string {
    return `path${i + 1}`;
  }
}
