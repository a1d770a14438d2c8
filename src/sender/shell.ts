// sender: every HEARTBEAT_INT (and at once when the word changes) send the
// local word to the peer, from the local node's own address. The word comes
// from supervise over the local bus (the status file when the bus is quiet);
// a heartbeat never waits for, or depends on, a file write.
// This is the shell: the logic is in core.ts; here real events go in (timers,
// the file watch, the bus) and the core's effects are carried out.
import type { Config } from '../config/index.js';
import { runDir, varDir } from '../config/index.js';
import { timingOf } from '../config/timing.js';
import { StampRest } from '../daemon/bus.js';
import { runCore, shellPorts } from '../daemon/effects.js';
import { type Alarms, type LocalBus, type Logger, monotonic, overlay, type Watchdog } from '../daemon/index.js';
import type { Vitals } from '../daemon/vitals.js';
import { errorMessage } from '../errors.js';
import { configTable, createHeartbeatCodec, generationFile, nextBootGeneration } from '../heartbeat/index.js';
import type { Word } from '../heartbeat/word.js';
import { ResourceRunner } from '../resources/index.js';
import { daemonRecords, type ScriptRecords } from '../resources/orphans.js';
import { type Status, type StatusStore, watchStatus } from '../status-store/index.js';
import { StatusWriter } from '../status-store/writer.js';
import { woke } from '../wakeups.js';
import { announceDelay, SenderCore, type SenderSight } from './core.js';
import { openPaths } from './paths.js';
import { type SenderPorts, senderBinding } from './ports.js';

export { type WordOptions, wordToSend } from './core.js';

const REREAD_MS = 5000;

export interface SenderDeps {
  config: Config;
  log: Logger;
  store: StatusStore;
  bus?: LocalBus;
  alarms?: Alarms;
  watchdog?: Watchdog;
  runner?: ResourceRunner; // stops the resources when the sender fences
  records?: ScriptRecords; // var/run/scripts: the scripts it kills before it fences
  now?: () => number; // wall clock (status values, logs)
  mono?: () => number; // monotonic clock (timers, ages)
  vitals?: Vitals; // counters, lag, writes for supervise's metrics
}

export async function startSender({
  config,
  log,
  store,
  bus,
  alarms,
  watchdog,
  runner: given,
  records = daemonRecords(runDir(config), 'sender', log, alarms),
  now = Date.now,
  mono = monotonic,
  vitals,
}: SenderDeps) {
  const out = await openPaths(config, log, vitals);
  // With a key: a new boot generation, durable before the first frame goes out.
  const boot = config.auth ? nextBootGeneration(generationFile(varDir(config))) : null;
  if (boot?.problem) log.warn({ generation: boot.generation }, boot.problem);
  const codec = createHeartbeatCodec({
    auth: config.auth
      ? { keys: config.auth.keys, localNode: config.local.id, peerNode: config.peer.id, mode: config.auth.mode }
      : null,
    generation: boot?.generation,
    configTable: configTable(config),
  });
  if (config.auth)
    log.info(
      { generation: boot!.generation, keyId: config.auth.keys.signingId, mode: config.auth.mode },
      'authenticated heartbeat',
    );
  const timing = timingOf(config);
  const fresh = timing.busFreshMs;
  const core = new SenderCore(config);
  const runner = given ?? new ResourceRunner({ timeoutMs: timing.resTimeoutMs, records });
  let sent = 0;
  let sendErrors = 0;

  const writer = new StatusWriter(store, (err) => {
    alarms?.set('store', err);
    if (err) log.error({ err }, 'status file not writable: heartbeats go on, state kept in memory');
    else log.info('status file writable again');
  });
  writer.onWritten = (ms) => vitals?.wrote(ms);

  // The same datagrams on every path (one sequence number: the receiver takes the first copy).
  const send = async (word: Word) => {
    woke('heartbeat.out');
    if (await out.send(codec.datagrams(word))) {
      sent++;
      vitals?.count('sent');
    } else {
      sendErrors++; // on no path at all
      vitals?.count('sendErrors');
    }
  };

  // The file is read on a change, else at most every REREAD_MS (the directory
  // watch tells us of every change; the re-read is only a safety net).
  let cached: Status | undefined;
  let cachedAt = -Infinity;
  const look = (reread: boolean): SenderSight => {
    const t = mono();
    if (reread || cached === undefined || t - cachedAt >= REREAD_MS) {
      cached = store.read();
      cachedAt = t;
    }
    return {
      view: bus ? overlay(cached, bus, fresh, 'sender') : cached,
      supervisePid: watchdog?.isAlive('supervise'),
      superviseOnBus: bus?.fresh('supervise', fresh) !== undefined,
      superviseEverOnBus: bus?.everHeard('supervise') ?? false,
      superviseStarting: watchdog?.starting('supervise', fresh) ?? false,
    };
  };

  // Sends are queued on the socket in the order the core asked for them.
  let chain: Promise<void> = Promise.resolve();
  const stamps = new StampRest(
    'sender',
    bus,
    (d) => watchdog?.pidOf(d),
    () => alarms?.list(),
    (resting) => core.restStamps(resting),
  );
  const common = shellPorts({ mono, now, log, alarms, late: (ms) => vitals?.late(ms) });
  const ports: SenderPorts = {
    ...common,
    sight: look,
    send: (word) => {
      chain = chain.then(() => send(word));
    },
    write: (patch) => {
      writer.write(patch);
      if (patch.SENDER_AT !== undefined) stamps.wrote();
      else stamps.check();
    },
    publish: (keys) => {
      bus?.publish({ keys, alarms: alarms?.list() ?? [] });
      stamps.check(); // a new alarm: the next stamp writes it within STAMP_MS
    },
    fence: (reply) => {
      // Every script not ours first (a dead supervise's orphan, a frozen one's
      // start): none may bring a resource up after the stops below.
      records.sweep({ foreign: true });
      void runner.stopInReverse(config.resources).then(reply.ok, reply.fail);
    },
  };
  const run = runCore(core, senderBinding(config.resources), ports);

  // The config announcement (with a key only, docs/wire-format-auth.md §9): its
  // own timer and datagram, on the heartbeats' chain so the sockets' sends keep their order.
  let announced = 0;
  const announce = () => {
    common.timers.arm('announce', mono() + announceDelay(++announced), announce);
    let d: Buffer | null;
    try {
      d = codec.announcement();
    } catch (e) {
      // Not expected (the config is checked at load); the heartbeat must not die of it.
      if (announced === 1) log.error({ err: errorMessage(e) }, 'cannot make the config announcement');
      return;
    }
    if (!d) return;
    // On every path, like the heartbeat (the receiver takes an exact copy as the same announcement);
    // a failed send is the heartbeat's to report, the next announcement comes in seconds.
    chain = chain.then(() => out.send([d]).then(() => undefined));
  };
  if (config.auth) announce();

  run.carry(core.start(ports.clock(), look(true)));
  const watcher = watchStatus(store.file, () =>
    run.feed({ kind: 'changed', reason: 'change', sight: look(true), ...ports.clock() }),
  );
  // Supervise's new word comes over the bus first: act on it at once.
  bus?.onHeardFrom('supervise', () =>
    run.feed({ kind: 'changed', reason: 'bus', sight: look(false), ...ports.clock() }),
  );

  return {
    stats: () => ({ sent, sendErrors }),
    async stop() {
      run.stop();
      const last = core.stop();
      common.timers.stop();
      watcher.close();
      await chain.catch(() => {});
      await out.close();
      for (const e of last) if (e.kind === 'write') writer.write(e.patch);
      await writer.flush(2000);
      writer.close();
    },
  };
}
