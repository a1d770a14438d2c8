// receiver: socket → decode → (from the peer?) → RECEIVER_IN; no valid heartbeat
// for DEADTIME → RECEIVER_IN null. Drains bursts and keeps only the newest word.
import DgramAsPromised from 'dgram-as-promised';
import type { Config } from '../config/index.js';
import { lagTimer, type Alarms, type Logger, type LocalBus } from '../daemon/index.js';
import { busIntervalMs } from '../daemon/bus.js';
import { StatusWriter } from '../status-store/writer.js';
import { varDir } from '../config/index.js';
import { createHeartbeatCodec, DropLogLimiter, dropStatusPatch, peerGenerationFile, readPeerState, writePeerState, type PeerState } from '../heartbeat/index.js';
import type { Status, StatusStore, Word } from '../status-store/index.js';
import { errorMessage } from '../errors.js';

import { RECEIVER_STAMP_MS } from '../status-store/stamps.js';

export interface ReceiverDeps {
  config: Config;
  log: Logger;
  store: StatusStore;
  bus?: LocalBus;
  alarms?: Alarms;
  now?: () => number;
}

export async function startReceiver({ config, log, store, bus, alarms, now = Date.now }: ReceiverDeps) {
  const sock = DgramAsPromised.createSocket({ type: 'udp4', reuseAddr: false });
  sock.socket.on('error', (e) => log.error({ err: errorMessage(e) }, 'socket error'));
  const bindAddr = config.BIND || config.local.addrs[0]!;
  await sock.bind(config.PORT, bindAddr);
  const startedAt = now();

  // Heartbeat codec: plain words without AUTHKEY; with it, frames judged against
  // the peer's newest accepted (generation, sequence), persisted in var/.
  const peerFile = peerGenerationFile(varDir(config));
  const loaded = config.auth ? readPeerState(peerFile) : { state: null };
  if (loaded.problem) log.warn(loaded.problem);
  let persisted: PeerState | null = loaded.state;
  const persist = (st: PeerState, durable: boolean) => {
    try {
      writePeerState(peerFile, st, durable);
      persisted = st;
    } catch (e) {
      log.error({ err: errorMessage(e) }, `cannot store the peer's generation in ${peerFile}`);
    }
  };
  const codec = createHeartbeatCodec({
    auth: config.auth ? { keys: config.auth.keys, localNode: config.local.id, peerNode: config.peer.id, mode: config.auth.mode } : null,
    peerState: loaded.state,
    onPeerState: persist,
  });
  // A checkpoint of the sequence (no fsync): after a receiver crash at most the
  // frames since the last one could be replayed once (docs/wire-format-auth.md).
  const checkpoint = () => {
    const st = codec.peerState;
    if (st && (!persisted || st.generation !== persisted.generation || st.sequence !== persisted.sequence)) persist(st, false);
  };
  const limiter = new DropLogLimiter();
  const logDrops = (l: ReturnType<DropLogLimiter['note']>, extra: object = {}) => {
    if (l) log.warn({ reason: l.reason, count: l.since, total: l.total, ...extra }, `dropped ${l.since} datagram(s) (${l.reason}): ${l.meaning}`);
  };
  const counters = () => ({ ...dropStatusPatch(codec.drops), RECEIVER_PLAIN_ACCEPTED: codec.plainAccepted });

  // A word left in the file from an earlier run is old news: start from null.
  let current: Word | null = null;
  let lastHeard = startedAt; // the peer gets one DEADTIME to speak after start
  let pending: Word | null = null; // newest word of the burst being drained
  let drainScheduled = false;
  let discardUntil = 0;
  let since = startedAt;
  // File writes never hold up the word: supervise hears it on the bus at once,
  // the file follows (and is retried while it cannot be written).
  const writer = new StatusWriter(store, (err) => {
    alarms?.set('store', err);
    if (err) log.error({ err }, 'status file not writable: the peer\'s word goes to supervise over the local bus only');
    else log.info('status file writable again');
    publish();
  });
  const write = (patch: Partial<Status>) => writer.write(patch);
  // On the bus, liveness is the message's arrival; no time stamp in the state.
  const ownKeys = (): Partial<Status> => ({ RECEIVER_IN: current, RECEIVER_IN_SINCE: since, RECEIVER_STARTED_AT: startedAt });
  const publish = () => bus?.publish({ keys: ownKeys(), alarms: alarms?.list() ?? [] });

  const setWord = (w: Word | null, why: string) => {
    if (w === current) return;
    log.info({ from: current, to: w, peer: config.peer.name, why }, `peer ${config.peer.name}: ${current ?? 'null'} -> ${w ?? 'null'}`);
    current = w;
    since = now();
    publish();
    write({ RECEIVER_IN: w, RECEIVER_IN_SINCE: since, RECEIVER_AT: since });
  };

  sock.socket.on('message', (msg, rinfo) => {
    const t = now();
    const r = codec.accept(msg, rinfo.address, config.peer.addrs);
    if (!r.ok) {
      logDrops(limiter.note(r.reason, t, codec.drops[r.reason]), { from: `${rinfo.address}:${rinfo.port}`, bytes: msg.length });
      return;
    }
    const word = r.word;
    // A message after a silence of our own loop: we were frozen (the tick has not run yet).
    if (t - lastTickAt > config.DEADTIME) onStall(t, t - lastTickAt);
    if (t < discardUntil) return; // backlog from before our own stall: stale news (fix 13)
    lastHeard = t;
    armDead();
    pending = word;
    // Coalesce a burst (all datagrams already queued) into its newest word.
    if (!drainScheduled) {
      drainScheduled = true;
      setImmediate(() => {
        drainScheduled = false;
        if (pending) setWord(pending, 'heartbeat');
        pending = null;
      });
    }
  });

  // Precise dead-time timer, re-armed by every heartbeat: the peer is declared
  // silent DEADTIME after its last word, not up to a tick later.
  let deadTimer: NodeJS.Timeout | undefined;
  function armDead() {
    if (deadTimer) clearTimeout(deadTimer);
    deadTimer = setTimeout(checkDead, config.DEADTIME + 1);
  }
  let lastTickAt = now();
  function onStall(t: number, late: number) {
    // We were frozen: what sits in the socket is old. Drop it, give the peer a
    // fresh DEADTIME to speak, and tell supervise.
    discardUntil = t + Math.max(10, Math.floor(config.HEARTBEAT_INT / 2));
    lastHeard = t;
    lastTickAt = t;
    log.warn({ lateMs: late }, 'own stall detected: discarding queued heartbeats');
    write({ RECEIVER_STALL_AT: t });
  }
  function checkDead() {
    const t = now();
    // The dead timer may run before the tick after a freeze: that silence is ours.
    if (t - lastTickAt > config.DEADTIME) onStall(t, t - lastTickAt);
    if (current === null) return;
    const silent = t - lastHeard;
    if (silent >= config.DEADTIME) {
      setWord(null, `no heartbeat for ${silent} ms (DEADTIME ${config.DEADTIME})`);
    } else {
      // A timer may fire a millisecond early by Date.now(): wait for the rest,
      // not for the next tick (up to 500 ms late).
      if (deadTimer) clearTimeout(deadTimer);
      deadTimer = setTimeout(checkDead, config.DEADTIME - silent + 1);
    }
  }

  let lastStamp = 0;
  let lastCheckAt = 0;
  // The tick publishes our liveness on the bus, stamps the file now and then,
  // detects a stall, and re-asserts the peer's word when the file lost it
  // (corrupt, truncated, deleted: the word must not wait for the peer's next change).
  const timer = lagTimer(busIntervalMs(config.DEADTIME), (late) => {
    const t = now();
    if (late > config.DEADTIME && t - lastTickAt > config.DEADTIME) onStall(t, late);
    lastTickAt = t;
    checkDead();
    publish();
    if (t - lastCheckAt >= 500) {
      lastCheckAt = t;
      const s = store.read();
      if (store.damaged) alarms?.set('file', `${store.damaged}: re-asserting the peer's word`);
      else alarms?.set('file', null);
      if (s.RECEIVER_IN !== current || s.RECEIVER_STARTED_AT !== startedAt) {
        if (s.RECEIVER_IN !== current) log.warn({ file: s.RECEIVER_IN ?? 'missing', word: current, peer: config.peer.name }, 'status file lost the peer\'s word: writing it again');
        write({ RECEIVER_IN: current, RECEIVER_IN_SINCE: since, RECEIVER_STARTED_AT: startedAt, RECEIVER_AT: t, ...counters() });
        lastStamp = t;
      }
    }
    if (t - lastStamp >= RECEIVER_STAMP_MS) {
      lastStamp = t;
      write({ RECEIVER_AT: t, ...counters(), RECEIVER_ALARM: alarms?.list().join('; ') || undefined });
      checkpoint();
      for (const l of limiter.due(t, codec.drops)) logDrops(l);
    }
  });

  publish();
  write({ RECEIVER_STARTED_AT: startedAt, RECEIVER_AT: startedAt, RECEIVER_IN: current, RECEIVER_IN_SINCE: startedAt, ...counters() });
  await writer.flush(2000);
  log.info({ bind: `${bindAddr}:${config.PORT}`, peer: config.peer }, 'listening for heartbeats');

  return {
    async stop() {
      timer.stop();
      if (deadTimer) clearTimeout(deadTimer);
      await sock.close().catch(() => {});
      checkpoint();
      writer.write({ RECEIVER_IN: null, RECEIVER_AT: undefined });
      await writer.flush(2000);
      writer.close();
    },
  };
}
