// What every daemon shares: config from --config/PHA_CONFIG, detach, pid file,
// logger, signals, and the clean stop.
import fs from 'node:fs';
import os from 'node:os';
import { type Config, configPathFrom, loadConfig, runDir, statusFile } from '../config/index.js';
import { timingOf } from '../config/timing.js';
import { ConfigError, EXIT, errorMessage, exitCodeOf, PhaError } from '../errors.js';
import { StatusStore } from '../status-store/index.js';
import { Alarms } from './alarms.js';
import { LocalBus } from './bus.js';
import { createLogger, type Logger, rateLimited } from './logger.js';
import { type Claim, claimPid, DAEMONS, type DaemonName, removePid } from './pidfile.js';
import { spawnDaemon } from './spawn.js';
import { Vitals } from './vitals.js';
import { markDown, Watchdog } from './watchdog.js';

export { Alarms } from './alarms.js';
export { type BusState, LocalBus, overlay } from './bus.js';
export { createLogger, type Logger, rateLimited } from './logger.js';
export * from './pidfile.js';
export { markDown, Watchdog } from './watchdog.js';

export interface DaemonContext {
  config: Config;
  log: Logger;
  store: StatusStore;
  /** Live state to and from the node's other daemons (loopback; no disk). */
  bus: LocalBus;
  /** This daemon's alarms (published on the bus and in the status file). */
  alarms: Alarms;
  /** Pid liveness of the node's other daemons (and their restart). */
  watchdog: Watchdog;
  /** What it tells supervise's metrics of itself (counters, lag, memory, writes), over the bus. */
  vitals: Vitals;
}

/** Monotonic milliseconds: timers and ages inside a process never follow an NTP step. */
export const monotonic = (): number => performance.now();

export interface RunningDaemon {
  /** Stop timers and sockets and reset this daemon's status keys. */
  stop(): Promise<void>;
}

import { DETACHED_ENV } from './env.js';

export { DETACHED_ENV } from './env.js';

function argValue(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

export async function runDaemon(
  name: DaemonName,
  setup: (ctx: DaemonContext) => Promise<RunningDaemon>,
): Promise<void> {
  // A detached daemon's stdout/stderr is its log file: on a full disk a write
  // there emits 'error', which unhandled would end the process. Never.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  const argv = process.argv.slice(2);
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(
      `usage: pha-${name} [--config FILE] [--foreground]\n` +
        '  config: --config, else $PHA_CONFIG, else /opt/pha/etc/config\n' +
        `  normally started by pha-cli (start / ${name.slice(0, 2)}_sta)\n`,
    );
    return;
  }
  const configFile = configPathFrom(argValue(argv, '--config'));
  let config: Config;
  try {
    config = await loadConfig(configFile);
  } catch (e) {
    exitWith(name, e, e instanceof ConfigError ? 'bad config:\n' : '');
  }
  const foreground = argv.includes('--foreground') || !config.DAEMON;
  const detached = process.env[DETACHED_ENV] === '1';
  if (!foreground && !detached) {
    // Started by hand with DAEMON=1: start it detached the way pha-cli does, and report.
    const r = await spawnDaemon(config, name);
    if (r.ok) return void process.stdout.write(`pha-${name}: started (pid ${r.pid})\n`);
    process.stderr.write(`pha-${name}: ${r.reason}\n`);
    process.exit(r.alreadyRunning ? EXIT.alreadyRunning : EXIT.failed);
  }
  const rdir = runDir(config);
  await claimOrExit(name, rdir, configFile);

  const { log, reopen, alarms } = daemonLog(
    name,
    config,
    foreground && !detached ? undefined : `${config.LOGPATH}.${name}`,
  );
  const store = new StatusStore({
    file: statusFile(config),
    onProblem: rateLimited(log),
    // Seen and repaired within milliseconds, it must still reach the operator.
    onDamaged: (what) => alarms.event(`${what}: kept the last good state, ${name} wrote its keys again`),
  });
  if (config.NICE !== 0) renice(config.NICE, log);
  // Started means meant to run: clear an earlier "stopped on purpose" mark.
  markDown(rdir, name, false);
  const vitals = new Vitals(monotonic);
  const bus = new LocalBus({ runDir: rdir, name, now: monotonic, vitals });
  await bus.start();
  if (bus.problem) {
    alarms.set('bus', bus.problem);
    log.error(bus.problem);
  }
  const watchdog = startWatchdog(name, config, configFile, bus, log, alarms);

  let daemon: RunningDaemon | undefined;
  onSignals(name, log, reopen, async (why) => {
    // Stopped on purpose: the other daemons must not bring it back.
    if (why !== 'uncaughtException') {
      markDown(rdir, name, true);
      bus.sayBye();
    }
    watchdog.stop();
    try {
      await daemon?.stop();
    } catch (e) {
      log.error({ err: errorMessage(e) }, 'error while stopping');
    }
    bus.close();
    removePid(rdir, name);
  });

  try {
    daemon = await setup({ config, log, store, bus, alarms, watchdog, vitals });
    log.info({ pid: process.pid, config: configFile, local: config.local, peer: config.peer }, `${name} started`);
  } catch (e) {
    const err = new PhaError('PHA_ERR_DAEMON', `pha-${name}`, errorMessage(e));
    log.fatal({ err: errorMessage(e) }, err.message);
    removePid(rdir, name);
    exitWith(name, err);
  }
}

/**
 * NICE for every thread of this process (Linux keeps a priority per thread;
 * threads started later inherit the main thread's). A priority that cannot be
 * set is a warning: the daemon runs all the same.
 */
function renice(nice: number, log: Logger): void {
  let tids: string[];
  try {
    tids = fs.readdirSync('/proc/self/task');
  } catch {
    tids = ['0'];
  }
  try {
    for (const tid of tids) os.setPriority(Number(tid), nice);
    log.info({ nice, threads: tids.length }, `scheduling priority set: nice ${nice}`);
  } catch (e) {
    log.warn(
      { nice, err: errorMessage(e) },
      `cannot set NICE=${nice} (needs root or CAP_SYS_NICE): running at the priority it was started with`,
    );
  }
}

/** Say why on stderr and exit with the catalogue's code. */
function exitWith(name: DaemonName, e: unknown, prefix = ''): never {
  const msg = errorMessage(e);
  process.stderr.write(msg.startsWith('pha-') ? `${msg}\n` : `pha-${name}: ${prefix}${msg}\n`);
  process.exit(exitCodeOf(e));
}

/** Exactly one instance: the pid file is ours, or somebody else's that runs (then we exit). */
async function claimOrExit(name: DaemonName, rdir: string, configFile: string): Promise<void> {
  let claim: Claim;
  try {
    claim = await claimPid(rdir, name, configFile);
  } catch (e) {
    exitWith(name, e, 'cannot create its pid file: ');
  }
  if (!claim.ok) exitWith(name, new PhaError('PHA_ERR_ALREADY_RUNNING', claim.holder));
}

/** The daemon's logger (a file, or stderr in the foreground) and its alarms, which a failing log file raises. */
function daemonLog(name: DaemonName, config: Config, logFile: string | undefined) {
  // Config warnings reach the operator's terminal too when the log is a file.
  if (logFile) for (const w of config.warnings) process.stderr.write(`pha-${name}: ${w}\n`);
  const { log, reopen, dest } = createLogger({ name, node: config.local.name, debug: config.DEBUG, file: logFile });
  for (const w of config.warnings) log.warn(w);
  const alarms = new Alarms();
  if (dest) {
    dest.onProblem = (m) => {
      alarms.set('log', m);
      // The log is what failed: say it where systemd's journal or a terminal sees it.
      try {
        process.stderr.write(`pha-${name}: ${m ?? 'log file writable again'}\n`);
      } catch {
        /* no stderr either */
      }
    };
  }
  return { log, reopen, alarms };
}

/** Watch the node's other daemons (pid, lifeline, bus) and restart one that died. */
function startWatchdog(
  name: DaemonName,
  config: Config,
  configFile: string,
  bus: LocalBus,
  log: Logger,
  alarms: Alarms,
): Watchdog {
  const watchdog = new Watchdog({
    self: name,
    runDir: runDir(config),
    configFile,
    now: monotonic,
    managedBySystemd: !!process.env.INVOCATION_ID,
    spawn: async (d) => {
      const r = await spawnDaemon(config, d).catch((e: Error) => ({
        ok: false as const,
        reason: e.message,
        alreadyRunning: undefined,
      }));
      // Another starter won the race: it runs, which is what we wanted.
      return r.ok ? { pid: r.pid } : r.alreadyRunning ? { pid: r.alreadyRunning } : { error: r.reason };
    },
    onEvent: (e) => {
      if (e.kind === 'died')
        log.error(
          { daemon: e.daemon, pid: e.pid },
          `${e.daemon} (pid ${e.pid}) died${e.restarter ? ': restarting it' : ''}`,
        );
      else if (e.kind === 'restarted') {
        log.warn({ daemon: e.daemon, pid: e.pid, ms: e.ms }, `${e.daemon} restarted (pid ${e.pid}, ${e.ms} ms)`);
        alarms.event(`${e.daemon} died and was restarted by ${name} (new pid ${e.pid})`);
      } else {
        log.error({ daemon: e.daemon, err: e.error }, `${e.daemon} could not be restarted: ${e.error}`);
        alarms.event(`${e.daemon} is dead and could not be restarted: ${e.error}`);
      }
    },
  });
  watchdog.check(); // learn the others' pids now: one that dies later is restarted
  // A daemon that starts after us is learned when it first speaks on the bus
  // (not half a second later at the next poll: it might die before that).
  for (const d of DAEMONS as readonly DaemonName[]) if (d !== name) bus.onHeardFrom(d, () => watchdog.check());
  bus.onBye((d) => watchdog.stoppedOnPurpose(d));
  // The lifelines tell of a death at once; the poll is the safety net.
  watchdog.start(timingOf(config).watchdogPollMs);
  return watchdog;
}

/** SIGINT/SIGTERM stop cleanly, SIGHUP reopens the log; an uncaught exception stops (and is restarted). */
function onSignals(name: DaemonName, log: Logger, reopen: () => void, stop: (why: string) => Promise<void>): void {
  let stopping = false;
  const shutdown = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, `${name} stopping`);
    await stop(why);
    log.info(`${name} stopped`);
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('SIGHUP', () => {
    reopen();
    log.info('log file reopened (SIGHUP)');
  });
  process.on('uncaughtException', (err) => {
    log.fatal({ err: err.stack ?? String(err) }, 'uncaught exception');
    void shutdown('uncaughtException', 1);
  });
  process.on('unhandledRejection', (err) => {
    // A failed promise on the hot path must not kill the node's HA.
    log.error({ err: errorMessage(err) }, 'unhandled rejection (ignored, daemon keeps running)');
  });
}
