// sender: every HEARTBEAT_INT (and at once when the word changes) send the
// local word to the peer, from the local node's own address. The word comes
// from supervise over the local bus (the status file when the bus is quiet);
// a heartbeat never waits for, or depends on, a file write.
// This is the shell: the logic is in core.ts; here real events go in (timers,
// the file watch, the bus) and the core's effects are carried out.
import DgramAsPromised, { type SocketAsPromised } from 'dgram-as-promised';
import type { Config } from '../config/index.js';
import { monotonic, overlay, type Alarms, type LocalBus, type Logger, type Watchdog } from '../daemon/index.js';
import { carryCommon, ShellTimers, type Clock } from '../daemon/effects.js';
import { timingOf } from '../config/timing.js';
import { varDir } from '../config/index.js';
import { createHeartbeatCodec, generationFile, nextBootGeneration } from '../heartbeat/index.js';
import { ResourceRunner } from '../resources/index.js';
import { watchStatus, type Status, type StatusStore, type Word } from '../status-store/index.js';
import { StatusWriter } from '../status-store/writer.js';
import { errorMessage } from '../errors.js';
import { SenderCore, type SenderEffect, type SenderEvent, type SenderSight } from './core.js';

export { wordToSend, type WordOptions } from './core.js';

const REREAD_MS = 1000;

export interface SenderDeps {
  config: Config;
  log: Logger;
  store: StatusStore;
  bus?: LocalBus;
  alarms?: Alarms;
  watchdog?: Watchdog;
  now?: () => number; // wall clock (status values, logs)
  mono?: () => number; // monotonic clock (timers, ages)
}

export async function startSender({ config, log, store, bus, alarms, watchdog, now = Date.now, mono = monotonic }: SenderDeps) {
  const sock: SocketAsPromised = DgramAsPromised.createSocket('udp4');
  sock.socket.on('error', (e) => log.error({ err: errorMessage(e) }, 'socket error'));
  const from = config.local.addrs[0];
  // Bind to our own address so the peer's source-address check holds on hosts
  // with several addresses (127.0.0.1 / 127.0.0.2 included).
  await sock.bind(0, from);
  const peerAddr = config.peer.addrs[0]!;
  // With a key: a new boot generation, durable before the first frame goes out.
  const boot = config.auth ? nextBootGeneration(generationFile(varDir(config))) : null;
  if (boot?.problem) log.warn({ generation: boot.generation }, boot.problem);
  const codec = createHeartbeatCodec({
    auth: config.auth ? { keys: config.auth.keys, localNode: config.local.id, peerNode: config.peer.id, mode: config.auth.mode } : null,
    generation: boot?.generation,
  });
  if (config.auth) log.info({ generation: boot!.generation, keyId: config.auth.keys.signingId, mode: config.auth.mode }, 'authenticated heartbeat');
  const timing = timingOf(config);
  const fresh = timing.busFreshMs;
  const core = new SenderCore(config);
  const clock = (): Clock => ({ mono: mono(), wall: now() });
  let sent = 0;
  let sendErrors = 0;
  let stopped = false;

  const writer = new StatusWriter(store, (err) => {
    alarms?.set('store', err);
    if (err) log.error({ err }, 'status file not writable: heartbeats go on, state kept in memory');
    else log.info('status file writable again');
  });

  const send = async (word: Word) => {
    try {
      for (const d of codec.datagrams(word)) await sock.send(d, config.PORT, peerAddr);
      sent++;
    } catch (e) {
      sendErrors++;
      if (sendErrors === 1 || sendErrors % 100 === 0) log.warn({ peer: config.peer.name, err: errorMessage(e), sendErrors }, 'heartbeat send failed');
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

  // Effects in order; sends are queued on the socket in that order.
  let chain: Promise<void> = Promise.resolve();
  const carry = (effects: SenderEffect[]) => {
    for (const e of effects) {
      switch (e.kind) {
        case 'send':
          chain = chain.then(() => send(e.word));
          break;
        case 'write':
          writer.write(e.alarmsKey ? { ...e.patch, [e.alarmsKey]: alarms?.list().join('; ') || undefined } : e.patch);
          break;
        case 'publish':
          bus?.publish({ keys: e.keys, alarms: alarms?.list() ?? [] });
          break;
        case 'fence':
          void new ResourceRunner({ timeoutMs: timing.resTimeoutMs })
            .stopInReverse(config.resources)
            .then((results) => feed({ kind: 'fenced', results, ...clock() }))
            .catch((err) => log.error({ err: errorMessage(err) }, 'stopping the resources failed'));
          break;
        default:
          carryCommon(e, { timers, log, alarms });
      }
    }
  };
  const feed = (ev: SenderEvent) => {
    if (stopped) return;
    try {
      carry(core.handle(ev));
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'sender round failed');
    }
  };
  const timers = new ShellTimers(mono, (timer) => feed({ kind: 'timer', timer, sight: timer === 'tick' ? look(false) : undefined, ...clock() }));

  carry(core.start(clock(), look(true)));
  const watcher = watchStatus(store.file, () => feed({ kind: 'changed', reason: 'change', sight: look(true), ...clock() }));
  // Supervise's new word comes over the bus first: act on it at once.
  bus?.onHeardFrom('supervise', () => feed({ kind: 'changed', reason: 'bus', sight: look(false), ...clock() }));

  return {
    stats: () => ({ sent, sendErrors }),
    async stop() {
      stopped = true;
      const last = core.stop();
      timers.stop();
      watcher.close();
      await chain.catch(() => {});
      await sock.close().catch(() => {});
      for (const e of last) if (e.kind === 'write') writer.write(e.patch);
      await writer.flush(2000);
      writer.close();
    },
  };
}
