// The etcd witness in virtual time (WITNESS, rule 13): one key, leases with a
// TTL, and who can reach it. The same three requests the real port makes
// (src/supervise/witness-etcd.ts), with etcd's semantics as pha relies on
// them: a lease lives TTL from its grant or last keepalive as etcd received
// it; the key bound to a lease goes with it; a put "if absent" is atomic.
// A request from a node that cannot reach etcd (witness down, or cut from that
// node) is answered "unreachable" after the port's own deadline.
import type { WitnessOp, WitnessResult } from '../../src/supervise/events.js';
import { witnessTimeoutMs } from '../../src/supervise/witness.js';
import { Prng } from './prng.js';

export class SimWitness {
  down = false;
  /** Unreachable from node 1, node 2. */
  readonly cut: [boolean, boolean] = [false, false];
  private key: { holder: string; lease: number } | null = null;
  private readonly leases = new Map<number, number>(); // lease → expires at (virtual ms)
  private nextLease = 1;
  private readonly rng: Prng;
  readonly timeoutMs: number;

  constructor(
    readonly ttlMs: number,
    seed: number,
  ) {
    this.rng = new Prng(seed).fork(13);
    this.timeoutMs = witnessTimeoutMs(ttlMs / 1000);
  }

  /** Reachable from node i (0, 1) now. */
  reachable(i: number): boolean {
    return !this.down && !this.cut[i];
  }

  /** One way to etcd or back, in ms. */
  hop(): number {
    return this.rng.between(0.2, 3);
  }

  /** Leases (and the key bound to one) that ran out by `now`. */
  private expire(now: number): void {
    for (const [id, until] of this.leases) if (until <= now) this.leases.delete(id);
    if (this.key && !this.leases.has(this.key.lease)) this.key = null;
  }

  /** What etcd does with one request from `me`, whose lease (or none) is `lease`, at `now`; the new lease id. */
  apply(
    op: WitnessOp,
    me: string,
    lease: number | undefined,
    now: number,
  ): { result: WitnessResult; lease: number | undefined } {
    this.expire(now);
    if (op === 'look') return { result: { holder: this.key?.holder ?? null, ours: false }, lease };
    if (op === 'release') {
      if (this.key?.holder === me) this.key = null;
      if (lease !== undefined) this.leases.delete(lease);
      return { result: { holder: this.key?.holder ?? null, ours: false }, lease: undefined };
    }
    // acquire: keep our lease alive (a new one when it ran out), put the key if absent or ours.
    let id = lease;
    if (id === undefined || !this.leases.has(id)) id = this.nextLease++;
    this.leases.set(id, now + this.ttlMs);
    if (this.key === null || this.key.holder === me) this.key = { holder: me, lease: id };
    return { result: { holder: this.key.holder, ours: this.key.holder === me && this.key.lease === id }, lease: id };
  }
}
