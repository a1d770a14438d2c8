// Who restarts a dead daemon, and when: pure, so the rules can be tested and
// the simulator can follow them.
//   supervise restarts sender and receiver; sender restarts supervise;
//   the second watcher steps in when the first is dead too, when the first
//   is a newer instance than the death (it never saw the daemon run, so it
//   will not restart it), and when the daemon has stayed dead for
//   BACKUP_AFTER_MS whatever the reason.
import type { DaemonName } from './pidfile.js';

export const WATCHERS: Record<DaemonName, DaemonName[]> = {
  sender: ['supervise', 'receiver'],
  receiver: ['supervise', 'sender'],
  supervise: ['sender', 'receiver'],
};

/**
 * The backup steps in anyway once a daemon has stayed dead this long (the
 * first watcher's back-off is at most 5 s, a spawn waits at most 5 s): the
 * first may have started just before the death without seeing it run.
 */
export const BACKUP_AFTER_MS = 10_000;

/** The wait after the n-th failed restart in a row: 0.5 s doubling, at most 5 s. */
export function restartBackoffMs(n: number): number {
  return Math.min(5000, 500 * 2 ** (n - 1));
}

export interface DeadDaemon {
  self: DaemonName; // the watcher
  dead: DaemonName;
  deadFor: number; // ms since this watcher saw it dead
  firstWatcherKnows: () => boolean; // its first watcher runs and is the instance that saw it die (asked only of the second)
}

/** Is `self` the one to restart `dead` now? */
export function restarts(x: DeadDaemon): boolean {
  const rank = WATCHERS[x.dead].indexOf(x.self);
  if (rank < 0) return false;
  return rank === 0 || x.deadFor >= BACKUP_AFTER_MS || !x.firstWatcherKnows();
}
