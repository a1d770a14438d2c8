// Does the peer run the same config as we do (issue 21, item 4)? What the
// receiver makes of the peer's config announcements: a state for the status
// file (RECEIVER_PEER_CONFIG) and an alarm while they differ. Never a decision:
// supervise does not read it, and an announcement is no heartbeat.
// Pure: the time comes in from the caller (monotonic ms).
import { type ConfigDiff, describeDiff, sameConfig } from '../heartbeat/announce.js';

export type PeerConfigState = 'same' | 'differs' | 'unknown';

/** The peer announces every ANNOUNCE_EVERY_MS; six missed in a row and we no longer claim to know. */
export const PEER_CONFIG_STALE_MS = 30_000;

/** The alarm's id in the receiver's Alarms. */
export const PEER_CONFIG_ALARM = 'peer-config';

export interface PeerConfigChange {
  state: PeerConfigState;
  alarm: string | null; // the alarm now (null: none)
  level: 'info' | 'warn';
  msg: string;
}

export class PeerConfigWatch {
  private current: PeerConfigState = 'unknown';
  private text: string | null = null;
  private heardAt = -Infinity;

  constructor(
    private readonly peer: string,
    private readonly local: string,
    private readonly staleMs = PEER_CONFIG_STALE_MS,
  ) {}

  get state(): PeerConfigState {
    return this.current;
  }

  get alarm(): string | null {
    return this.text;
  }

  /** An announcement taken from the peer: the change to report, or null when nothing changed. */
  heard(diff: ConfigDiff, mono: number): PeerConfigChange | null {
    this.heardAt = mono;
    const text = describeDiff(diff, this.peer, this.local);
    const state: PeerConfigState = sameConfig(diff) ? 'same' : 'differs';
    if (state === this.current && text === this.text) return null;
    const was = this.current;
    this.current = state;
    this.text = text;
    if (text) return { state, alarm: text, level: 'warn', msg: text };
    return {
      state,
      alarm: null,
      level: 'info',
      msg:
        was === 'differs'
          ? `${this.peer} runs the same config again`
          : `${this.peer} runs the same config (NODES, PORT, HEARTBEAT_INT, DEADTIME, resources)`,
    };
  }

  /** On the receiver's stamp: no announcement for staleMs → unknown, and no alarm we can no longer back. */
  tick(mono: number): PeerConfigChange | null {
    if (this.current === 'unknown' || mono - this.heardAt < this.staleMs) return null;
    this.current = 'unknown';
    this.text = null;
    return {
      state: 'unknown',
      alarm: null,
      level: 'info',
      msg: `no config announcement from ${this.peer} for ${Math.round(this.staleMs / 1000)} s: whether it runs the same config is unknown`,
    };
  }
}
