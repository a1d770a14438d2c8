// supervise: the periodic round (checks) and the event-driven reaction to the
// peer's word; turns decide()'s plain-data actions into I/O.
import path from 'node:path';
import type { Config, ResourceDef } from '../config/index.js';
import { lagTimer, overlay, type Alarms, type LocalBus, type Logger, type Watchdog } from '../daemon/index.js';
import { busFreshMs, busIntervalMs } from '../daemon/bus.js';
import { StatusWriter } from '../status-store/writer.js';
import { GatewayMonitor } from './gateway.js';
import { errorMessage } from '../errors.js';
import { ResourceRunner, type RunResult } from '../resources/index.js';
import { watchStatus, type Status, type StatusStore, type Word } from '../status-store/index.js';
import { RECEIVER_STAMP_MS, SENDER_STAMP_MS, SUPERVISE_STAMP_MS } from '../status-store/stamps.js';
import { decide, initialMemory, progressBound, type Decision, type Observation, type Timing } from './decide.js';
import { createPinger, hasDefaultRoute, type Pinger } from './checks.js';


export interface SuperviseDeps {
  config: Config;
  log: Logger;
  store: StatusStore;
  now?: () => number;
  pinger?: Pinger | null; // null: no gateway check
  runner?: ResourceRunner;
  bus?: LocalBus;
  alarms?: Alarms;
  watchdog?: Watchdog;
}

export function timingFrom(c: Config): Timing {
  const resTimeoutMs = c.RES_TIMEOUT * 1000;
  return {
    heartbeatInt: c.HEARTBEAT_INT,
    deadtime: c.DEADTIME,
    superviseInt: c.SUPERVISE_INT,
    gwFails: c.GW_FAILS,
    resRestarts: c.RES_RESTARTS,
    progressBoundMs: progressBound(c.resources.length, resTimeoutMs, c.RES_RESTARTS, c.DEADTIME),
    failHolddownMs: c.FAIL_HOLDDOWN * 1000,
    offPauseMs: c.OFF_PAUSE * 1000,
  };
}

/** The keys whose change makes supervise decide at once. */
function triggerKey(s: Status): string {
  return [s.RECEIVER_IN, s.RECEIVER_IN_SINCE, s.OFF_REQUEST, s.FAILED_UNTIL, s.SENDER_PAUSE_UNTIL, s.RECEIVER_STARTED_AT, s.SENDER_STARTED_AT].join('|');
}

export async function startSupervise(deps: SuperviseDeps) {
  const { config, log, store, bus, alarms, watchdog } = deps;
  const fresh = busFreshMs(config.DEADTIME);
  const now = deps.now ?? Date.now;
  const timing = timingFrom(config);
  const runner =
    deps.runner ??
    new ResourceRunner({
      timeoutMs: config.RES_TIMEOUT * 1000,
      onResult: (r) => logResult(log, r),
    });
  let pinger: Pinger | null = null;
  let pingerError: string | null = null;
  if (deps.pinger !== undefined) pinger = deps.pinger;
  else if (config.GW) {
    try {
      pinger = createPinger(config.PINGTIMEOUT * 1000);
    } catch (e) {
      pingerError = errorMessage(e);
      log.error({ gw: config.GW }, pingerError);
    }
  }

  const startedAt = now();
  let memory = initialMemory();
  const up = new Map<string, boolean>(config.resources.map((r) => [r.name, false]));
  let gwFailStreak = 0;
  let routeOk = true;
  let stalledAt: number | null = null;
  let lastTickAt = now();
  let lastReason = '';
  let lastTrigger = '';
  let busy = false;
  let again = false;
  let pendingChecks = false;
  let checkedOnce = false;
  let stopped = false;
  let roundTimer: NodeJS.Timeout | undefined;
  let wakeTimer: NodeJS.Timeout | undefined;

  const resPatch = (): Partial<Status> => {
    const p: Record<string, 'UP' | 'DOWN'> = {};
    for (const r of config.resources) p[`RES_${r.name}`] = up.get(r.name) ? 'UP' : 'DOWN';
    return p as Partial<Status>;
  };
  const allUp = () => config.resources.length > 0 && config.resources.every((r) => up.get(r.name));

  // The gateway on its own cadence: a hung resource check never delays it, and
  // a change of its verdict is decided on at once.
  const gateway = config.GW && pinger ? new GatewayMonitor(config.GW, pinger, now, (g, prev) => {
    gwFailStreak = g.failStreak;
    if (g.failStreak > 0 && prev === 0) log.debug({ gw: config.GW, error: g.error }, `gateway ${config.GW}: no answer`);
    if (g.failStreak === timing.gwFails) log.warn({ gw: config.GW, failed: g.failStreak, error: g.error }, `gateway ${config.GW} lost: ${g.failStreak} pings in a row without an answer`);
    if (g.failStreak === 0 && prev >= timing.gwFails) log.info({ gw: config.GW, failed: prev }, `gateway ${config.GW} answers again`);
    if (g.failStreak === timing.gwFails || (g.failStreak === 0 && prev >= timing.gwFails)) void cycle(false);
  }) : null;
  if (config.GW && !pinger) gwFailStreak = timing.gwFails; // no ICMP socket: the gateway check fails, loudly

  async function runChecks(): Promise<void> {
    // Each check has its own timeout (CHECK_TIMEOUT): a hung one counts as DOWN
    // and holds the round up no longer than that.
    const results = await runner.checkAll(config.resources, config.CHECK_TIMEOUT);
    for (const r of results) {
      const was = up.get(r.name);
      up.set(r.name, r.ok);
      if (was !== r.ok) log.info({ resource: r.name, state: r.ok ? 'UP' : 'DOWN', output: r.output || undefined, error: r.error }, `resource ${r.name} is ${r.ok ? 'UP' : 'DOWN'}${r.timedOut ? ' (check timed out)' : ''}`);
      alarms?.set(`check:${r.name}`, r.timedOut ? `check of ${r.name} timed out after ${config.CHECK_TIMEOUT} ms (counted as DOWN)` : null);
    }
    const r = config.GW ? hasDefaultRoute() : true;
    if (r !== routeOk) log.warn({ routeOk: r }, r ? 'default route is back' : 'no default route');
    routeOk = r;
  }

  /** The others' live state: the bus where it is fresh, else the file. */
  function view(file: Status): Status {
    const s = writer.over(file);
    return bus ? overlay(s, bus, fresh, 'supervise') : s;
  }
  const alive = (d: 'sender' | 'receiver', s: Status, stampKey: 'SENDER_AT' | 'RECEIVER_AT', stampMs: number): boolean => {
    // Started together by pha-cli: one not seen yet is starting, not dead.
    if (watchdog && !watchdog.everSeen(d) && now() - startedAt < 2 * config.DEADTIME) return true;
    if (watchdog?.isAlive(d) === false) return false;
    if (bus?.fresh(d, fresh)) return true;
    // Right after our own stall the bus is silent because we were: not a death.
    if (stalledAt !== null && now() - stalledAt < fresh) return true;
    // Heard on the bus before and silent now: hung or dead (its file stamp may be seconds old).
    if (bus?.everHeard(d)) return false;
    const at = s[stampKey];
    return at !== undefined && Date.now() - at < Math.max(3 * stampMs, 3 * config.DEADTIME);
  };

  function observe(s: Status): Observation {
    const t = now();
    return {
      now: t,
      rank: config.local.id,
      resources: config.resources.map((r) => ({ name: r.name, up: up.get(r.name) ?? false })),
      gwConfigured: config.GW !== '',
      gwFailStreak,
      routeOk,
      peer: s.RECEIVER_IN ?? null,
      peerSince: s.RECEIVER_IN_SINCE ?? t,
      // A missing RECEIVER_IN (a damaged file) is unknown, never "silent".
      receiverFresh: s.RECEIVER_IN !== undefined && alive('receiver', s, 'RECEIVER_AT', RECEIVER_STAMP_MS),
      senderAlive: alive('sender', s, 'SENDER_AT', SENDER_STAMP_MS),
      startedAt: Math.max(startedAt, s.RECEIVER_STARTED_AT ?? 0),
      stalledAt,
      offRequest: s.OFF_REQUEST ? { force: s.OFF_FORCE === 1 } : null,
      pauseUntil: s.SENDER_RUN === 0 ? (s.SENDER_PAUSE_UNTIL ?? 0) : 0,
      failedUntil: s.FAILED_UNTIL ?? 0,
    };
  }

  let lastWriteAt = 0;
  const stampMs = Math.min(SUPERVISE_STAMP_MS, config.SUPERVISE_INT);
  // What we last decided, told to the sender over the bus at once; the file
  // follows in the background and is retried while it cannot be written.
  let published: Partial<Status> = {};
  const writer = new StatusWriter(store, (err) => {
    alarms?.set('store', err);
    if (err) log.error({ err }, 'status file not writable: deciding and acting all the same, state kept in memory');
    else log.info('status file writable again');
  });
  const BUS_KEYS = ['STATUS', 'SENDER_MUTE', 'DECIDED_AT', 'GW_OK', 'ROUTE_OK', 'REASON', 'ALARM'] as const;
  const publish = () => bus?.publish({ keys: published, alarms: alarms?.list() ?? [] });
  function write(patch: Partial<Status>): void {
    const p = patch as Record<string, unknown>;
    const next: Record<string, unknown> = { ...published };
    for (const k of Object.keys(p)) if ((BUS_KEYS as readonly string[]).includes(k) || k.startsWith('RES_')) next[k] = p[k];
    published = next as Partial<Status>;
    publish();
    writer.write({ ...patch, SUPERVISE_ALARM: alarms?.list().join('; ') || undefined });
    lastWriteAt = now();
  }

  const byName = (names: string[]): ResourceDef[] => config.resources.filter((r) => names.includes(r.name));

  async function act(d: Decision, s: Status, senderStartedAt: number): Promise<void> {
    const common: Partial<Status> = {
      SUPERVISE: 1,
      SUPERVISE_AT: now(),
      DECIDED_AT: now(),
      SENDER_MUTE: d.mute ? 1 : 0,
      GW_OK: config.GW ? (gwFailStreak < timing.gwFails ? 1 : 0) : null,
      ROUTE_OK: routeOk ? 1 : 0,
      REASON: d.reason,
      ALARM: d.alarm,
    };
    const offReq = d.consumeOff ? (s.OFF_REQUEST ?? 0) : null;
    if (offReq !== null) {
      // Consumed now; answered now only when nothing is done (refused or not
      // Active). A release is answered after the stop, with its outcome.
      Object.assign(common, { OFF_REQUEST: null, OFF_FORCE: undefined });
      if (d.op === 'none') Object.assign(common, { OFF_ANSWER: d.reason, OFF_RESULT: 'refused', OFF_ANSWERED: offReq });
    }
    if (d.failedUntil !== null) common.FAILED_UNTIL = d.failedUntil;
    if (d.op === 'none') {
      const patch: Partial<Status> = { ...common, ...resPatch(), STATUS: d.word };
      // An unchanged decision is not written again (each write wakes the other
      // daemons); the liveness stamp still goes out every stamp interval.
      if (changes(patch, s) || (published.DECIDED_AT ?? s.DECIDED_AT ?? 0) < Math.max(senderStartedAt, stalledAt ?? 0) || now() - lastWriteAt >= stampMs) {
        write(patch);
      }
      if (d.garp) await garp();
      return;
    }
    // PROGRESS while we start or stop, so the peer waits (and the sender sends it at once).
    write({ ...common, ...resPatch(), STATUS: 'PROGRESS' });
    let results: RunResult[];
    if (d.op === 'stop') {
      results = await runner.stopInReverse(config.resources);
      for (const r of results) up.set(r.name, !r.ok);
    } else {
      results = await runner.startInOrder(byName(d.names));
      for (const r of results) up.set(r.name, r.ok);
    }
    const failed = results.filter((r) => !r.ok);
    const word: Word = allUp() ? 'ONLINE' : 'OFFLINE';
    log[failed.length ? 'warn' : 'info'](
      { op: d.op, resources: d.names, failed: failed.map((r) => r.name), status: word, peer: config.peer.name },
      `${d.op} ${failed.length ? 'failed for ' + failed.map((r) => r.name).join(', ') : 'done'}: STATUS ${word}`,
    );
    const final: Partial<Status> = { ...resPatch(), STATUS: word, SUPERVISE_AT: now(), DECIDED_AT: now() };
    if (d.pauseUntil !== null) {
      // The release is the final word the sender sends before the pause (fix 5).
      final.SENDER_RUN = 0;
      final.SENDER_PAUSE_UNTIL = d.pauseUntil;
    }
    if (offReq !== null) {
      const ok = failed.length === 0;
      Object.assign(final, {
        OFF_ANSWER: ok ? d.reason : `off: stopping ${failed.map((r) => r.name).join(', ')} failed; the heartbeat is paused all the same, check 'res list'`,
        OFF_RESULT: ok ? 'released' : 'failed',
        OFF_ANSWERED: offReq,
      });
    }
    write(final);
  }

  async function garp(): Promise<void> {
    for (const r of config.resources) {
      if (path.basename(r.script) === 'ipaddr') await runner.run(r, 'garp');
    }
  }

  async function decideAndAct(): Promise<void> {
    // A decision that runs after a freeze before the ticker did must know of the stall
    // (else it would publish the old word as new, and the sender would send it).
    const late = now() - lastTickAt - tickMs;
    if (late > config.DEADTIME && (stalledAt === null || now() - stalledAt > config.DEADTIME)) {
      stalledAt = now();
      log.warn({ lateMs: late }, 'own stall detected: yielding to an ONLINE peer, no decision on old news');
    }
    const file = store.read();
    alarms?.set('file', store.damaged ? `${store.damaged}: supervise writes its keys again` : null);
    const s = view(file);
    lastTrigger = triggerKey(s);
    const obs = observe(s);
    const d = decide(obs, timing, memory);
    memory = d.memory;
    if (d.op !== 'none' || d.reason !== lastReason) {
      log[d.op === 'none' ? 'info' : 'warn'](
        { decision: d.op, resources: d.names.length ? d.names : undefined, peer: config.peer.name, peerWord: obs.peer, gwFailStreak, reason: d.reason },
        `decision: ${d.op === 'none' ? 'no action' : d.op + ' ' + d.names.join(',')} — ${d.reason}`,
      );
      lastReason = d.reason;
    }
    // A restarted sender (heard on the bus first) waits for a decision newer than its start.
    await act(d, writer.over(file), s.SENDER_STARTED_AT ?? 0);
    if (d.op !== 'none') again = true; // settle: decide again on the op's results
    if (wakeTimer) clearTimeout(wakeTimer);
    wakeTimer = undefined;
    if (d.wakeAt !== null && !stopped) {
      wakeTimer = setTimeout(() => void cycle(false), Math.max(1, d.wakeAt - now() + 1));
    }
  }

  /** One serialized pass: optional checks, then decide and act. Re-runs while triggers came in. */
  async function cycle(withChecks: boolean): Promise<void> {
    if (stopped) return;
    if (busy) {
      pendingChecks ||= withChecks;
      again = true;
      return;
    }
    busy = true;
    try {
      // No decision on resource states we have not checked yet (a restarted
      // supervise would otherwise see its held resources as DOWN).
      let checks = withChecks || !checkedOnce;
      do {
        again = false;
        checks ||= pendingChecks;
        pendingChecks = false;
        if (checks) {
          await runChecks();
          checkedOnce = true;
        }
        checks = false;
        await decideAndAct();
      } while (again && !stopped);
    } catch (e) {
      log.error({ err: errorMessage(e) }, 'supervise pass failed; next round tries again');
    } finally {
      busy = false;
    }
  }

  const scheduleRound = () => {
    if (stopped) return;
    const begun = now();
    void cycle(true).finally(() => {
      if (stopped) return;
      roundTimer = setTimeout(scheduleRound, Math.max(0, begun + config.SUPERVISE_INT - now()));
    });
  };

  const watcher = watchStatus(store.file, () => {
    const s = view(store.read());
    if (triggerKey(s) !== lastTrigger) void cycle(false);
  });
  // The peer's new word (and a restarted sender or receiver) comes over the bus first.
  const onBus = () => {
    const s = view(store.read());
    if (triggerKey(s) !== lastTrigger) void cycle(false);
  };
  bus?.onHeardFrom('receiver', onBus);
  bus?.onHeardFrom('sender', onBus);
  const publisher = setInterval(publish, busIntervalMs(config.DEADTIME));
  let lastStampTry = 0;
  // The ticker detects our own stall and stamps liveness; DEADTIME/2 resolution is enough.
  const tickMs = Math.min(500, Math.floor(config.DEADTIME / 2));
  const ticker = lagTimer(tickMs, (late) => {
    const t = now();
    lastTickAt = t;
    if (late > config.DEADTIME && (stalledAt === null || t - stalledAt > config.DEADTIME)) {
      stalledAt = t;
      log.warn({ lateMs: late }, 'own stall detected: yielding to an ONLINE peer, no decision on old news');
      void cycle(false);
    }
    if (t - lastWriteAt >= stampMs && t - lastStampTry >= stampMs) {
      lastStampTry = t;
      write({ SUPERVISE_AT: t, SUPERVISE: 1 });
    }
  });

  write({ SUPERVISE: 1, SUPERVISE_AT: startedAt, STATUS: null });
  await writer.flush(2000);
  gateway?.start(config.GW_INT);
  log.info({ resources: config.resources.map((r) => `${r.name} ${r.args.join(' ')}`), gw: config.GW || null, rank: config.local.id, timing }, 'supervise running');
  scheduleRound();

  return {
    async stop() {
      stopped = true;
      ticker.stop();
      watcher.close();
      if (roundTimer) clearTimeout(roundTimer);
      if (wakeTimer) clearTimeout(wakeTimer);
      clearInterval(publisher);
      gateway?.stop();
      pinger?.close();
      writer.write({ SUPERVISE: 0, STATUS: null, SUPERVISE_AT: undefined, SENDER_MUTE: undefined });
      await writer.flush(2000);
      writer.close();
    },
  };
}

/** Does applying `patch` change anything but the time stamps? */
function changes(patch: Partial<Status>, cur: Status): boolean {
  const c = cur as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'SUPERVISE_AT' || k === 'DECIDED_AT') continue;
    if (v === undefined ? k in c : c[k] !== v) return true;
  }
  return false;
}

function logResult(log: Logger, r: RunResult): void {
  if (r.action === 'check' && r.ok) return; // the round's UP checks are the quiet case
  const fields = { resource: r.name, action: r.action, ok: r.ok, code: r.code, ms: r.durationMs, output: r.output || undefined, error: r.error };
  if (r.ok) log.info(fields, `res ${r.name} ${r.action}: ok`);
  else if (r.action === 'check') log.debug(fields, `res ${r.name} check: DOWN`);
  else log.warn(fields, `res ${r.name} ${r.action} failed${r.error ? ': ' + r.error : ` (exit ${r.code})`}`);
}
