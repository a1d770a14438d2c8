// The transitions of this node that the notify hooks are told of, in order:
// its state (Active, Standby, FAILED), its gateway (lost, back), its peer
// (lost, back) and a second holder (seen, over). Pure: supervise reports what it wrote and saw, this says what
// changed. The first state after a start is reported as `<state> UNKNOWN
// startup`, so a listener that missed events while pha was down learns the
// present.
import type { Timeline } from './timeline.js';

export type NodeState = 'Active' | 'Standby' | 'FAILED';
export type NotifyEvent = 'state' | 'gateway' | 'peer' | 'split';

/** One transition, as the notify hooks get it (`<new> <old> <reason>`). */
export interface Transition {
  event: NotifyEvent;
  now: string;
  old: string;
  reason: string;
  wall: number; // when it happened (ms since the epoch)
  mono?: number; // … on supervise's monotonic clock (the hooks' times count from it)
  timeline?: Timeline; // a state change: what led to it, and how long each step took
}

export class Transitions {
  private state: NodeState | 'UNKNOWN' = 'UNKNOWN';
  private gateway: 'GATEWAY_OK' | 'GATEWAY_LOST' = 'GATEWAY_OK';
  private peer: 'PEER_OK' | 'PEER_LOST' | 'UNKNOWN' = 'UNKNOWN';
  private split: 'SPLIT_BRAIN' | 'SPLIT_BRAIN_OVER' = 'SPLIT_BRAIN_OVER';

  /** What this node now says it is (a STATUS it wrote; PROGRESS is no state: it keeps the last). */
  stateIs(status: string | null | undefined, failed: boolean, reason: string, wall: number): Transition | undefined {
    if (status !== 'ONLINE' && status !== 'OFFLINE') return undefined;
    const now: NodeState = status === 'ONLINE' ? 'Active' : failed ? 'FAILED' : 'Standby';
    if (now === this.state) return undefined;
    const old = this.state;
    this.state = now;
    return { event: 'state', now, old, reason: old === 'UNKNOWN' ? 'startup' : reason, wall };
  }

  /** The gateway check turned lost or back. */
  gatewayIs(lost: boolean, reason: string, wall: number): Transition | undefined {
    const now = lost ? 'GATEWAY_LOST' : 'GATEWAY_OK';
    if (now === this.gateway) return undefined;
    const old = this.gateway;
    this.gateway = now;
    return { event: 'gateway', now, old, reason, wall };
  }

  /** Another host answers (or no longer) for what this node holds. */
  splitIs(seen: boolean, reason: string, wall: number): Transition | undefined {
    const now = seen ? 'SPLIT_BRAIN' : 'SPLIT_BRAIN_OVER';
    if (now === this.split) return undefined;
    const old = this.split;
    this.split = now;
    return { event: 'split', now, old, reason, wall };
  }

  /** The peer heard (or silent) as a decision saw it; the first word after a start only sets where we begin. */
  peerIs(heard: boolean, reason: string, wall: number): Transition | undefined {
    const now = heard ? 'PEER_OK' : 'PEER_LOST';
    if (now === this.peer) return undefined;
    const old = this.peer;
    this.peer = now;
    return old === 'UNKNOWN' ? undefined : { event: 'peer', now, old, reason, wall };
  }
}
