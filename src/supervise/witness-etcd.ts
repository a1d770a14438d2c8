// The witness port on a real etcd (WITNESS; rule 13). The etcd3 client (grpc)
// is loaded only when WITNESS is set: it is heavy, and the daemons' memory is
// a goal. One lease per supervise, kept alive by our own keepaliveOnce every
// HEARTBEAT_INT (the client's automatic keepalive would hide when the last
// one went out, which is what the core's "surely ours until" counts from).
// Every request has a deadline: a witness that does not answer is
// unreachable, never a hung decision.
import fs from 'node:fs';
import type { Etcd3, IOptions, Lease } from 'etcd3';
import type { WitnessConfig } from '../config/index.js';
import { errorMessage } from '../errors.js';
import type { WitnessOp, WitnessResult } from './events.js';

export interface WitnessClient {
  ask(op: WitnessOp): Promise<WitnessResult>;
  close(): void;
}

/** The etcd3 client's options: hosts, TLS, user and password (read now, never kept in the config). */
async function optionsOf(w: WitnessConfig, timeoutMs: number): Promise<IOptions> {
  const { handleWhen, noop, retry } = await import('cockatiel');
  const { isRecoverableError } = await import('etcd3');
  const o: IOptions = {
    hosts: [...w.hosts],
    dialTimeout: timeoutMs,
    defaultCallOptions: () => ({ deadline: Date.now() + timeoutMs }),
    // Our own cadence retries every HEARTBEAT_INT. The client's default
    // circuit breaker would refuse every call for 5 s after three failures
    // (a witness back in a second would look gone for five): none. A failed
    // call goes on to the next host at once.
    faultHandling: {
      host: () => noop,
      global: w.hosts.length > 1 ? retry(handleWhen(isRecoverableError), { maxAttempts: w.hosts.length - 1 }) : noop,
    },
  };
  if (w.tls)
    o.credentials = {
      rootCertificate: w.ca ? fs.readFileSync(w.ca) : Buffer.alloc(0),
      ...(w.cert ? { certChain: fs.readFileSync(w.cert), privateKey: fs.readFileSync(w.key) } : {}),
    };
  if (w.user) o.auth = { username: w.user, password: fs.readFileSync(w.passwordFile, 'utf8').trim() };
  return o;
}

/** grpc's "14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED …. Resolution note: " → the cause. */
function shortError(e: unknown): string {
  const m = errorMessage(e);
  const last = /Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/.exec(m);
  return (last?.[1] ?? m).trim();
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * The client, or one that answers every request "unreachable" with the reason
 * (a file that cannot be read now, a client that cannot be built): supervise
 * starts anyway, with the alarm.
 */
export async function connectWitness(w: WitnessConfig, me: string, timeoutMs: number): Promise<WitnessClient> {
  try {
    const { Etcd3, EtcdLeaseInvalidError: invalid } = await import('etcd3');
    EtcdLeaseInvalidError = invalid;
    const client = new Etcd3(await optionsOf(w, timeoutMs));
    return new EtcdWitness(client, w, me, timeoutMs);
  } catch (e) {
    const error = `cannot use the witness: ${errorMessage(e)}`;
    return { ask: async () => ({ holder: null, ours: false, error }), close() {} };
  }
}

type Client = Etcd3;
/** etcd3's error class, once the module is loaded (lazily). */
let EtcdLeaseInvalidError: typeof import('etcd3').EtcdLeaseInvalidError;

class EtcdWitness implements WitnessClient {
  private lease: Lease | null = null;
  private readonly key: string;

  constructor(
    private readonly client: Client,
    private readonly w: WitnessConfig,
    private readonly me: string,
    private readonly timeoutMs: number,
  ) {
    this.key = `${w.prefix}holder`;
  }

  async ask(op: WitnessOp): Promise<WitnessResult> {
    try {
      return await within(this.run(op), this.timeoutMs, `witness ${op}`);
    } catch (e) {
      // A lease that failed (not granted, expired, unknown) is dropped: the
      // next acquire grants a new one.
      if (op !== 'look') this.dropLease();
      return { holder: null, ours: false, error: shortError(e) };
    }
  }

  private dropLease(): void {
    const l = this.lease;
    this.lease = null;
    l?.release();
  }

  private async run(op: WitnessOp): Promise<WitnessResult> {
    if (op === 'look') return this.read(null);
    if (op === 'release') return this.release();
    // Acquire, or keep: a live lease first (granted, or kept alive now).
    let id: string;
    if (this.lease === null) {
      this.lease = this.client.lease(this.w.ttl, { autoKeepAlive: false });
      id = await this.lease.grant();
    } else {
      id = await this.lease.grant();
      try {
        await this.lease.keepaliveOnce();
      } catch (e) {
        // Our lease ran out in etcd (we could not keep it alive in time): a
        // new one now, not an "unreachable" answer for a witness that answered.
        if (!(e instanceof EtcdLeaseInvalidError)) throw e;
        this.lease.release();
        this.lease = this.client.lease(this.w.ttl, { autoKeepAlive: false });
        id = await this.lease.grant();
      }
    }
    const r = await this.client
      .if(this.key, 'Create', '==', 0)
      .then(this.client.put(this.key).value(this.me).lease(id))
      .else(this.client.get(this.key))
      .commit();
    if (r.succeeded) return { holder: this.me, ours: true };
    const kv = r.responses[0]?.response_range?.kvs?.[0];
    const holder = kv ? kv.value.toString() : null;
    if (kv && holder === this.me && String(kv.lease) !== id) {
      // Our own name on another lease: a supervise of this node before us.
      // Bind it to ours (only if it is still that one).
      const t = await this.client
        .if(this.key, 'Value', '==', this.me)
        .and(this.key, 'Lease', '==', String(kv.lease))
        .then(this.client.put(this.key).value(this.me).lease(id))
        .commit();
      if (t.succeeded) return { holder: this.me, ours: true };
      return this.read(id);
    }
    return { holder, ours: holder === this.me && !!kv && String(kv.lease) === id };
  }

  private async read(id: string | null): Promise<WitnessResult> {
    const r = await this.client.if(this.key, 'Create', '>', 0).then(this.client.get(this.key)).commit();
    const kv = r.responses[0]?.response_range?.kvs?.[0];
    const holder = kv ? kv.value.toString() : null;
    return { holder, ours: id !== null && holder === this.me && String(kv?.lease) === id };
  }

  /** Delete the key if it names us, revoke our lease: the peer can take at once. */
  private async release(): Promise<WitnessResult> {
    await this.client.if(this.key, 'Value', '==', this.me).then(this.client.delete().key(this.key)).commit();
    const l = this.lease;
    this.lease = null;
    await l?.revoke();
    return this.read(null);
  }

  close(): void {
    this.dropLease();
    this.client.close();
  }
}
