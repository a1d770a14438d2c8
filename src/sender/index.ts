// sender: every HEARTBEAT_INT (and at once when the word changes) send the
// local word to the peer, from the local node's own address. The word comes
// from supervise over the local bus (the status file when the bus is quiet);
// a heartbeat never waits for, or depends on, a file write.
import DgramAsPromised, { type SocketAsPromised } from 'dgram-as-promised';
import type { Config } from '../config/index.js';
import { lagTimer, overlay, type Alarms, type LocalBus, type Logger, type Watchdog } from '../daemon/index.js';
import { busFreshMs, busIntervalMs } from '../daemon/bus.js';
import { varDir } from '../config/index.js';
import { createHeartbeatCodec, generationFile, nextBootGeneration } from '../heartbeat/index.js';
import { ResourceRunner } from '../resources/index.js';
import { watchStatus, type Status, type StatusStore, type Word } from '../status-store/index.js';
import { StatusWriter } from '../status-store/writer.js';
import { errorMessage } from '../errors.js';
import { SENDER_STAMP_MS } from '../status-store/stamps.js';

const REREAD_MS = 1000;

export interface SenderDeps {
  config: Config;
  log: Logger;
  store: StatusStore;
  bus?: LocalBus;
  alarms?: Alarms;
  watchdog?: Watchdog;
  now?: () => number;
}

export interface WordOptions {
  superviseAlive: boolean;
  stalledAt: number | null; // our start or our last stall
  paused: boolean; // "off" pause still running (decided from the time, not from a write)
  fenced: boolean; // we stopped the resources ourselves: supervise was gone too long
}

/** What to send, or null to stay silent. Pure, so the rules can be tested. */
export function wordToSend(s: Status, o: WordOptions): { word: Word | null; why: string } {
  if (o.paused) return { word: null, why: 'paused (off)' };
  if (o.fenced) return { word: 'OFFLINE', why: 'supervise is gone: resources stopped by the sender, released to the peer' };
  if (!o.superviseAlive) return { word: 'PROGRESS', why: 'supervise not running: peer must wait while it is restarted' };
  if (s.SENDER_MUTE === 1) return { word: null, why: 'muted: own gateway check failing' };
  // After our own start or stall, say PROGRESS until supervise has decided again.
  if (o.stalledAt !== null && (s.DECIDED_AT ?? 0) < o.stalledAt) return { word: 'PROGRESS', why: 'waiting for a decision of supervise (after our start or stall)' };
  if (!s.STATUS) return { word: 'PROGRESS', why: 'no STATUS yet' };
  return { word: s.STATUS, why: 'STATUS' };
}

/** How long supervise may be gone before the sender stops the resources itself. */
export function superviseLostMs(c: Pick<Config, 'SUPERVISE_INT' | 'DEADTIME' | 'CHECK_TIMEOUT'>): number {
  return Math.max(5000, 2 * c.SUPERVISE_INT + c.CHECK_TIMEOUT + c.DEADTIME);
}

export async function startSender({ config, log, store, bus, alarms, watchdog, now = Date.now }: SenderDeps) {
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
  const fresh = busFreshMs(config.DEADTIME);
  const superviseStaleMs = 3 * config.SUPERVISE_INT + config.DEADTIME;
  const lostMs = superviseLostMs(config);
  const startedAt = now();
  let lastWord: Word | null | undefined;
  let lastPaused = false;
  // Until supervise has decided after our start (or after our own stall), the
  // STATUS in the file may be an earlier run's: say PROGRESS meanwhile.
  let stalledAt: number | null = startedAt;
  let superviseGoneSince: number | null = null;
  let fenced = false;
  let fencing = false;
  let sent = 0;
  let sendErrors = 0;

  const writer = new StatusWriter(store, (err) => {
    alarms?.set('store', err);
    if (err) log.error({ err }, 'status file not writable: heartbeats go on, state kept in memory');
    else log.info('status file writable again');
  });
  const publish = () => bus?.publish({ keys: { SENDER_STARTED_AT: startedAt }, alarms: alarms?.list() ?? [] });
  // Tell supervise we (re)started: it decides at once, so we need not wait a round.
  publish();
  writer.write({ SENDER_STARTED_AT: startedAt, SENDER_AT: startedAt });

  const send = async (word: Word) => {
    try {
      for (const d of codec.datagrams(word)) await sock.send(d, config.PORT, peerAddr);
      sent++;
    } catch (e) {
      sendErrors++;
      if (sendErrors === 1 || sendErrors % 100 === 0) log.warn({ peer: config.peer.name, err: errorMessage(e), sendErrors }, 'heartbeat send failed');
    }
  };

  /** Supervise is gone for good: nobody manages what this node holds. Stop it and release. */
  const fence = async (s: Status) => {
    fencing = true;
    const held = config.resources.filter((r) => s[`RES_${r.name}`] === 'UP').map((r) => r.name);
    log.error({ peer: config.peer.name, lostMs, resources: held }, `supervise gone for ${lostMs} ms: stopping the resources and releasing them to the peer`);
    alarms?.set('fence', `supervise gone: the sender stopped the resources and released them to ${config.peer.name}`);
    const runner = new ResourceRunner({ timeoutMs: config.RES_TIMEOUT * 1000 });
    const results = await runner.stopInReverse(config.resources);
    const patch: Record<string, unknown> = { STATUS: 'OFFLINE', REASON: 'supervise gone: resources stopped by the sender' };
    for (const r of results) patch[`RES_${r.name}`] = r.ok ? 'DOWN' : 'UP';
    writer.write(patch);
    fenced = true;
    fencing = false;
  };

  type Reason = 'tick' | 'change' | 'bus';
  let rerun: Reason | null = null;
  let busy = false;
  let cached: Status | undefined;
  let cachedAt = 0;
  let lastStamp = 0;
  const tick = async (reason: Reason): Promise<void> => {
    if (busy) {
      // Look again right after; a periodic tick must not shrink to a change-only pass.
      if (rerun !== 'tick') rerun = reason;
      return;
    }
    busy = true;
    try {
      const t = now();
      // The directory watch tells us of every change; the periodic re-read is only
      // a safety net (each read is four syscalls, five times a second otherwise).
      if (reason === 'change' || cached === undefined || t - cachedAt >= REREAD_MS) {
        cached = store.read();
        cachedAt = t;
      }
      const s = bus ? overlay(cached, bus, fresh, 'sender') : cached;
      // Alive: its process runs, and it speaks on the bus or stamps the file
      // (either may fail alone: a full disk, a bus that did not start).
      const spoke = bus?.fresh('supervise', fresh) !== undefined || (!bus?.everHeard('supervise') && s.SUPERVISE_AT !== undefined && Date.now() - s.SUPERVISE_AT <= superviseStaleMs);
      const superviseAlive = watchdog?.isAlive('supervise') !== false && spoke;
      if (superviseAlive) {
        superviseGoneSince = null;
        if (fenced && (s.DECIDED_AT ?? 0) > t - fresh) {
          fenced = false; // supervise is back and deciding: its word counts again
          alarms?.set('fence', null);
        }
      } else if (stalledAt === null || t - stalledAt > fresh) {
        superviseGoneSince ??= t;
        if (!fenced && !fencing && t - superviseGoneSince >= lostMs && s.STATUS !== 'OFFLINE') void fence(s);
      }
      const pauseUntil = s.SENDER_RUN === 0 ? (s.SENDER_PAUSE_UNTIL ?? 0) : 0;
      const paused = pauseUntil > t;
      if (s.SENDER_RUN === 0 && !paused) {
        // The pause is over by the clock, whether or not this write lands.
        if (lastPaused) log.info({ peer: config.peer.name }, 'heartbeat pause over: sending again');
        writer.write({ SENDER_RUN: 1, SENDER_PAUSE_UNTIL: undefined });
      }
      const { word, why } = wordToSend(s, { superviseAlive, stalledAt, paused, fenced });
      if (stalledAt !== null && (s.DECIDED_AT ?? 0) >= stalledAt) stalledAt = null;
      if (paused && !lastPaused && lastWord) {
        // Going quiet (off): the final word (the release) goes out twice, as UDP may drop one.
        const final = s.STATUS ?? 'OFFLINE';
        await send(final);
        await send(final);
        log.info({ word: final, peer: config.peer.name }, 'heartbeat paused after the final word');
      }
      lastPaused = paused;
      const changed = word !== lastWord;
      if (changed) log.info({ word, why, peer: config.peer.name, reason }, word ? `sending ${word} to ${config.peer.name}` : `not sending: ${why}`);
      lastWord = word;
      // A file change sends only a changed word; the periodic tick always sends.
      if (word && (reason === 'tick' || changed)) await send(word);
      // Stamps after the send, in the background: a slow or failing write never delays a heartbeat.
      if (t - lastStamp >= SENDER_STAMP_MS) {
        lastStamp = t;
        writer.write({ SENDER_AT: t, ...(s.SENDER_RUN === undefined ? { SENDER_RUN: 1 } : {}), SENDER_ALARM: alarms?.list().join('; ') || undefined });
      }
    } catch (e) {
      log.error({ err: errorMessage(e) }, 'sender round failed');
    } finally {
      busy = false;
    }
    if (rerun) {
      const again = rerun;
      rerun = null;
      await tick(again);
    }
  };

  const timer = lagTimer(config.HEARTBEAT_INT, (late) => {
    if (late > config.DEADTIME) {
      stalledAt = now();
      superviseGoneSince = null;
      log.warn({ lateMs: late }, 'own stall detected: sending PROGRESS until supervise decides again');
    }
    void tick('tick');
  });
  const watcher = watchStatus(store.file, () => void tick('change'));
  // Supervise's new word comes over the bus first: act on it at once.
  bus?.onHeardFrom('supervise', () => void tick('bus'));
  const publisher = setInterval(publish, busIntervalMs(config.DEADTIME));
  void tick('tick');

  return {
    stats: () => ({ sent, sendErrors }),
    async stop() {
      timer.stop();
      clearInterval(publisher);
      watcher.close();
      await sock.close().catch(() => {});
      writer.write({ SENDER_RUN: 0, SENDER_AT: undefined });
      await writer.flush(2000);
      writer.close();
    },
  };
}
