// sender: every HEARTBEAT_INT (and at once when STATUS changes) send the local
// word to the peer, from the local node's own address.
import DgramAsPromised, { type SocketAsPromised } from 'dgram-as-promised';
import type { Config } from '../config/index.js';
import { lagTimer, type Logger } from '../daemon/index.js';
import { encodeHeartbeat } from '../heartbeat/index.js';
import { watchStatus, type Status, type StatusStore, type Word } from '../status-store/index.js';
import { errorMessage } from '../errors.js';

import { SENDER_STAMP_MS } from '../status-store/stamps.js';
const REREAD_MS = 1000;

export interface SenderDeps {
  config: Config;
  log: Logger;
  store: StatusStore;
  now?: () => number;
}

/** What to send, or null to stay silent. Pure, so the rules can be tested. */
export function wordToSend(
  s: Status,
  now: number,
  opts: { superviseStaleMs: number; stalledAt: number | null }, // stalledAt: our start or our last stall
): { word: Word | null; why: string } {
  if (s.SENDER_RUN === 0) return { word: null, why: 'paused (off)' };
  if (s.SENDER_MUTE === 1) return { word: null, why: 'muted: own gateway check failing' };
  if (s.SUPERVISE_AT === undefined || now - s.SUPERVISE_AT > opts.superviseStaleMs) {
    return { word: 'PROGRESS', why: 'supervise not running: peer must wait' };
  }
  // After our own stall, say PROGRESS until supervise has decided again.
  // (SUPERVISE_AT is only a liveness stamp; DECIDED_AT comes with a decision.)
  if (opts.stalledAt !== null && (s.DECIDED_AT ?? 0) < opts.stalledAt) return { word: 'PROGRESS', why: 'waiting for a decision of supervise (after our start or stall)' };
  if (!s.STATUS) return { word: 'PROGRESS', why: 'no STATUS yet' };
  return { word: s.STATUS, why: 'STATUS' };
}

export async function startSender({ config, log, store, now = Date.now }: SenderDeps) {
  const sock: SocketAsPromised = DgramAsPromised.createSocket('udp4');
  sock.socket.on('error', (e) => log.error({ err: errorMessage(e) }, 'socket error'));
  const from = config.local.addrs[0];
  // Bind to our own address so the peer's source-address check holds on hosts
  // with several addresses (127.0.0.1 / 127.0.0.2 included).
  await sock.bind(0, from);
  const peerAddr = config.peer.addrs[0]!;
  const superviseStaleMs = 3 * config.SUPERVISE_INT + config.DEADTIME;
  let lastWord: Word | null | undefined;
  let lastRun: number | undefined;
  // Until supervise has decided after our start (or after our own stall), the
  // STATUS in the file may be an earlier run's: say PROGRESS meanwhile.
  let stalledAt: number | null = now();
  // Tell supervise we (re)started: it decides at once, so we need not wait a round.
  await store.update({ SENDER_STARTED_AT: stalledAt, SENDER_AT: stalledAt });
  let lastStamp = 0;
  let sending = false;
  let sent = 0;
  let sendErrors = 0;

  const send = async (word: Word) => {
    try {
      await sock.send(encodeHeartbeat(word), config.PORT, peerAddr);
      sent++;
    } catch (e) {
      sendErrors++;
      if (sendErrors === 1 || sendErrors % 100 === 0) log.warn({ peer: config.peer.name, err: errorMessage(e), sendErrors }, 'heartbeat send failed');
    }
  };

  let rerun: 'tick' | 'change' | null = null;
  let cached: Status | undefined;
  let cachedAt = 0;
  const tick = async (reason: 'tick' | 'change'): Promise<void> => {
    if (sending) {
      // Look again right after; a periodic tick must not shrink to a change-only pass.
      if (rerun !== 'tick') rerun = reason;
      return;
    }
    sending = true;
    try {
      const t = now();
      // The directory watch tells us of every change; the periodic re-read is only
      // a safety net (each read is four syscalls, five times a second otherwise).
      if (reason === 'change' || cached === undefined || t - cachedAt >= REREAD_MS) {
        cached = store.read();
        cachedAt = t;
      }
      let s: Status = cached;
      const pauseOver = s.SENDER_RUN === 0 && (s.SENDER_PAUSE_UNTIL ?? 0) <= t;
      if (pauseOver || t - lastStamp >= SENDER_STAMP_MS) {
        s = await store.update((cur) => {
          const p: Partial<Status> = { SENDER_AT: t };
          if (cur.SENDER_RUN === 0 && (cur.SENDER_PAUSE_UNTIL ?? 0) <= t) {
            p.SENDER_RUN = 1;
            p.SENDER_PAUSE_UNTIL = undefined;
          }
          if (cur.SENDER_RUN === undefined) p.SENDER_RUN = 1;
          return p;
        });
        cached = s;
        cachedAt = t;
        if (pauseOver) log.info({ peer: config.peer.name }, 'heartbeat pause over: sending again');
        lastStamp = t;
      }
      const { word, why } = wordToSend(s, t, { superviseStaleMs, stalledAt });
      if (stalledAt !== null && (s.DECIDED_AT ?? 0) >= stalledAt) stalledAt = null;
      const run = s.SENDER_RUN ?? 1;
      if (run === 0 && lastRun === 1 && lastWord) {
        // Going quiet (off): the final word (the release) goes out twice, as UDP may drop one.
        const final = s.STATUS ?? 'OFFLINE';
        await send(final);
        await send(final);
        log.info({ word: final, peer: config.peer.name }, 'heartbeat paused after the final word');
      }
      const changed = word !== lastWord;
      if (changed) log.info({ word, why, peer: config.peer.name, reason }, word ? `sending ${word} to ${config.peer.name}` : `not sending: ${why}`);
      lastWord = word;
      lastRun = run;
      // A file change sends only a changed word; the periodic tick always sends.
      if (word && (reason === 'tick' || changed)) await send(word);
    } catch (e) {
      log.error({ err: errorMessage(e) }, 'sender round failed');
    } finally {
      sending = false;
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
      log.warn({ lateMs: late }, 'own stall detected: sending PROGRESS until supervise decides again');
    }
    void tick('tick');
  });
  const watcher = watchStatus(store.file, () => void tick('change'));
  void tick('tick');

  return {
    stats: () => ({ sent, sendErrors }),
    async stop() {
      timer.stop();
      watcher.close();
      await sock.close().catch(() => {});
      await store.update({ SENDER_RUN: 0, SENDER_AT: undefined }).catch(() => {});
    },
  };
}
