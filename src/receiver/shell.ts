// receiver: socket → decode → (from the peer?) → RECEIVER_IN; no valid heartbeat
// for DEADTIME → RECEIVER_IN null. Drains bursts and keeps only the newest word.
// This is the shell: the logic is in core.ts; here the socket's datagrams are
// decoded and fed in, and the core's effects are carried out.
import DgramAsPromised from 'dgram-as-promised';
import type { Config } from '../config/index.js';
import { varDir } from '../config/index.js';
import { STAMP_MS } from '../config/timing.js';
import { StampRest } from '../daemon/bus.js';
import { runCore, shellPorts } from '../daemon/effects.js';
import { type Alarms, type LocalBus, type Logger, monotonic, type Watchdog } from '../daemon/index.js';
import type { Vitals } from '../daemon/vitals.js';
import { errorMessage } from '../errors.js';
import {
  configTable,
  createHeartbeatCodec,
  DropLogLimiter,
  dropStatusPatch,
  type PeerState,
  peerGenerationFile,
  readPeerState,
  writePeerState,
} from '../heartbeat/index.js';
import { udpType } from '../ip.js';
import { type StatusStore, watchStatus } from '../status-store/index.js';
import { StatusWriter } from '../status-store/writer.js';
import { woke } from '../wakeups.js';
import { ReceiverCore } from './core.js';
import { PEER_CONFIG_ALARM, type PeerConfigChange, PeerConfigWatch } from './peer-config.js';
import { type ReceiverPorts, receiverBinding } from './ports.js';

export interface ReceiverDeps {
  config: Config;
  log: Logger;
  store: StatusStore;
  bus?: LocalBus;
  alarms?: Alarms;
  now?: () => number; // wall clock (status values, logs)
  mono?: () => number; // monotonic clock (timers, ages)
  vitals?: Vitals; // counters, lag, writes for supervise's metrics
  watchdog?: Watchdog; // the other daemons' pids (the stamp rests while supervise hears us on the bus)
}

export async function startReceiver({
  config,
  log,
  store,
  bus,
  alarms,
  now = Date.now,
  mono = monotonic,
  vitals,
  watchdog,
}: ReceiverDeps) {
  // One socket per heartbeat path, bound to this node's address on it; with
  // BIND one socket for all, the path told by the peer's source address.
  const binds = config.BIND ? [config.BIND] : config.paths.map((p) => p.local);
  const socks = binds.map((b) => DgramAsPromised.createSocket({ type: udpType(b), reuseAddr: false }));
  for (const [i, sock] of socks.entries())
    sock.socket.on('error', (e) => log.error({ err: errorMessage(e), path: i + 1 }, 'socket error'));
  try {
    for (const [i, sock] of socks.entries()) await sock.bind(config.PORT, binds[i]);
  } catch (e) {
    for (const sock of socks) await sock.close().catch(() => {});
    throw e;
  }
  const core = new ReceiverCore(config);
  vitals?.provide(() => core.paths.snapshot());

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
    auth: config.auth
      ? { keys: config.auth.keys, localNode: config.local.id, peerNode: config.peer.id, mode: config.auth.mode }
      : null,
    peerState: loaded.state,
    onPeerState: persist,
    configTable: configTable(config),
  });
  // The peer's config announcements (with a key only): an alarm while its config differs from ours.
  const peerConfig = new PeerConfigWatch(config.peer.name, config.local.name);
  const peerConfigChanged = (c: PeerConfigChange | null) => {
    if (!c) return;
    alarms?.set(PEER_CONFIG_ALARM, c.alarm);
    log[c.level]({ peer: config.peer.name, peerConfig: c.state }, c.msg);
  };
  // A checkpoint of the sequence (no fsync): after a receiver crash at most the
  // frames since the last one could be replayed once (docs/wire-format-auth.md).
  let checkpointAt = -Infinity;
  const checkpoint = () => {
    const st = codec.peerState;
    if (st && (!persisted || st.generation !== persisted.generation || st.sequence !== persisted.sequence))
      persist(st, false);
  };
  const limiter = new DropLogLimiter();
  const logDrops = (l: ReturnType<DropLogLimiter['note']>, extra: object = {}) => {
    if (l)
      log.warn(
        { reason: l.reason, count: l.since, total: l.total, ...extra },
        `dropped ${l.since} datagram(s) (${l.reason}): ${l.meaning}`,
      );
  };
  const counters = () => ({ ...dropStatusPatch(codec.drops), RECEIVER_PLAIN_ACCEPTED: codec.plainAccepted });

  // File writes never hold up the word: supervise hears it on the bus at once,
  // the file follows (and is retried while it cannot be written).
  const writer = new StatusWriter(store, (err) => {
    alarms?.set('store', err);
    if (err) log.error({ err }, "status file not writable: the peer's word goes to supervise over the local bus only");
    else log.info('status file writable again');
    run.carry(core.republish());
  });
  writer.onWritten = (ms) => vitals?.wrote(ms);

  const stamps = new StampRest(
    'receiver',
    bus,
    (d) => watchdog?.pidOf(d),
    () => [alarms?.list(), counters(), peerConfig.state, core.dropped],
    (resting) => core.restStamps(resting),
  );
  const common = shellPorts({ mono, now, log, alarms, late: (ms) => vitals?.late(ms) });
  const ports: ReceiverPorts = {
    ...common,
    write: (patch) => {
      // The drop counters by reason ride on the stamp; so do the sequence checkpoint and the drop log.
      if (patch.RECEIVER_AT === undefined) return writer.write(patch);
      peerConfigChanged(peerConfig.tick(mono()));
      writer.write({ ...patch, ...counters(), RECEIVER_PEER_CONFIG: peerConfig.state });
      for (const l of limiter.due(now(), codec.drops)) logDrops(l);
      stamps.wrote();
    },
    publish: (keys) => {
      bus?.publish({ keys, alarms: alarms?.list() ?? [] });
      stamps.check(); // new drops or alarms: the next stamp writes them within STAMP_MS
    },
    // After the datagrams already queued in the socket.
    drain: (done) => void setImmediate(done),
    read: () => ({ status: store.read(), damaged: store.damaged }),
  };
  const run = runCore(core, receiverBinding, ports);

  const pathOf = (sock: number, from: string) => {
    const i = config.paths.findIndex((p) => p.peer === from);
    return i >= 0 ? i : sock;
  };
  const onMessage = (sock: number) => (msg: Buffer, rinfo: { address: string; port: number }) => {
    woke('heartbeat.in');
    // A config announcement is judged on its own and never counts as a heartbeat.
    const a = codec.acceptAnnouncement(msg, rinfo.address, config.peer.addrs);
    if (a?.ok) return peerConfigChanged(peerConfig.heard(a.diff, mono()));
    const path = pathOf(sock, rinfo.address);
    const r = a ?? codec.accept(msg, rinfo.address, config.peer.addrs, path);
    if (!r.ok) {
      logDrops(limiter.note(r.reason, now(), codec.drops[r.reason]), {
        from: `${rinfo.address}:${rinfo.port}`,
        bytes: msg.length,
      });
      run.feed({ kind: 'dropped', from: `${rinfo.address}:${rinfo.port}`, bytes: msg.length, ...ports.clock() });
      return;
    }
    if (!r.fresh) {
      run.feed({ kind: 'copy', path, lost: r.lost, ...ports.clock() });
      return;
    }
    vitals?.count('heard');
    // The sequence checkpoint every STAMP_MS, on a heartbeat (no wake-up of its own; the file stamp may rest).
    if (mono() - checkpointAt >= STAMP_MS) {
      checkpointAt = mono();
      checkpoint();
    }
    vitals?.set('heardAt', Date.now()); // pha-cli watch: the heartbeat's age
    run.feed({ kind: 'word', word: r.word, path, lost: r.lost, ...ports.clock() });
  };
  for (const [i, sock] of socks.entries()) sock.socket.on('message', onMessage(i));
  const watcher = watchStatus(store.file, () => run.feed({ kind: 'changed', ...ports.clock() }));

  run.carry(core.start(ports.clock()));
  await writer.flush(2000);
  log.info(
    { bind: binds.map((b) => `${b}:${config.PORT}`), peer: config.peer, paths: config.paths.length },
    'listening for heartbeats',
  );

  return {
    async stop() {
      watcher.close();
      run.stop();
      const last = core.stop();
      common.timers.stop();
      for (const sock of socks) await sock.close().catch(() => {});
      checkpoint();
      for (const e of last) if (e.kind === 'write') writer.write(e.patch);
      writer.write({ RECEIVER_PEER_CONFIG: undefined });
      await writer.flush(2000);
      writer.close();
    },
  };
}
