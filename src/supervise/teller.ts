// What supervise's core tells of its decisions: each decision that changed
// something (as data, for the log), and the transitions: what changed
// (transitions.ts), a state change with the timeline of the decision before
// it (timeline.ts), out as one `notify` effect each, in order. Pure.

import type { Timing } from '../config/timing.js';
import type { Clock, OpResult } from '../daemon/effects.js';
import type { Decision, Observation } from './decide.js';
import type { SuperviseConfig, SuperviseEffect, SuperviseSight } from './events.js';
import { TimelineClock } from './timeline.js';
import { type Transition, Transitions } from './transitions.js';

export class Teller {
  private readonly transitions = new Transitions();
  private readonly timeline = new TimelineClock();
  private lastReason = '';

  constructor(
    private readonly c: Pick<SuperviseConfig, 'DEADTIME' | 'SUPERVISE_INT' | 'CHECK_TIMEOUT' | 'peer'>,
    private readonly timing: Pick<Timing, 'deadtime'>,
  ) {}

  /**
   * A decision was made on `sight`: its record when it changed something (or
   * its reason), the timeline's start, the peer lost or back as it saw it
   * (not during the start-up grace: not heard yet is not lost).
   */
  decision(
    d: Decision,
    obs: Observation,
    sight: SuperviseSight,
    gwFailStreak: number,
    clock: Clock,
    out: SuperviseEffect[],
  ): void {
    const recentMs = this.c.DEADTIME + this.c.SUPERVISE_INT + this.c.CHECK_TIMEOUT;
    this.timeline.decided(d, sight.view, sight.own.OFF_REQUEST ?? null, clock, recentMs);
    const peer = this.c.peer.name;
    if (d.op !== 'none' || d.reason !== this.lastReason) {
      const { op, names, reason } = d;
      out.push({ kind: 'decision', op, names, reason, peer, peerWord: obs.peer, gwFailStreak });
      this.lastReason = d.reason;
    }
    if (obs.receiverFresh && obs.now >= obs.startedAt + this.timing.deadtime) {
      const why = obs.peer !== null ? `${peer} is heard again (${obs.peer})` : `no heartbeat from ${peer}`;
      this.peer(obs.peer !== null, why, clock, out);
    }
  }

  /** The decision's scripts ended. */
  acted(op: 'start' | 'stop', results: readonly OpResult[], clock: Clock): void {
    this.timeline.acted(op, results, clock);
  }

  /** This node now says `status` (PROGRESS keeps the last state). */
  state(
    status: string | null | undefined,
    failed: boolean,
    reason: string,
    clock: Clock,
    out: SuperviseEffect[],
  ): void {
    this.tell(this.transitions.stateIs(status, failed, reason, clock.wall), clock, out);
  }

  gateway(lost: boolean, reason: string, clock: Clock, out: SuperviseEffect[]): void {
    this.tell(this.transitions.gatewayIs(lost, reason, clock.wall), clock, out);
  }

  split(seen: boolean, reason: string, clock: Clock, out: SuperviseEffect[]): void {
    this.tell(this.transitions.splitIs(seen, reason, clock.wall), clock, out);
  }

  peer(heard: boolean, reason: string, clock: Clock, out: SuperviseEffect[]): void {
    this.tell(this.transitions.peerIs(heard, reason, clock.wall), clock, out);
  }

  /** A state change carries the timeline of the decision before it. */
  private tell(t: Transition | undefined, clock: Clock, out: SuperviseEffect[]): void {
    if (!t) return;
    const timeline = t.event === 'state' ? this.timeline.told(t.reason, clock) : undefined;
    out.push({ kind: 'notify', transition: { ...t, mono: clock.mono, timeline } });
  }
}
