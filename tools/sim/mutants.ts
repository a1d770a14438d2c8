// Broken rules, on purpose: the simulation must catch each one within the CI
// seed budget (test/sim/sim.test.ts). Each wraps the real decide() and breaks
// exactly one rule.

import type { DecideFn } from '../../src/supervise/core.js';
import { decide } from '../../src/supervise/decide.js';

export const MUTANTS: Record<string, { about: string; decide: DecideFn }> = {
  'rank-inverted': {
    about: 'rule 5 inverted: when both are ONLINE the second in NODES keeps',
    decide: (o, t, m) => decide(o.peer === 'ONLINE' ? { ...o, rank: o.rank === 1 ? 2 : 1 } : o, t, m),
  },
  'release-ignored': {
    about: 'rule 4 removed: a peer going ONLINE -> OFFLINE is not a release (the both-OFFLINE wait applies)',
    decide: (o, t, m) =>
      decide(o, t, o.peer === 'OFFLINE' && m.lastSettledPeer === 'ONLINE' ? { ...m, lastSettledPeer: 'OFFLINE' } : m),
  },
  'no-startup-grace': {
    about: 'rule 3 removed: a peer not heard yet after start counts as silent at once',
    decide: (o, t, m) => decide({ ...o, startedAt: -1e15 }, t, m),
  },
  'peer-word-unknown-as-silent': {
    about: 'rules 9/11 removed: a dead receiver or a status file that lost RECEIVER_IN counts as a silent peer',
    decide: (o, t, m) => decide({ ...o, receiverFresh: true }, t, m),
  },
  'sender-liveness-ignored': {
    about: 'rule 9 (sender) removed: a node whose heartbeat is not going out keeps by rank',
    decide: (o, t, m) => decide({ ...o, senderAlive: true }, t, m),
  },
};
