// A second holder, seen while it lasts, and resolved by rank. supervise
// probes each resource whose script knows `probe` (res/ipaddr: an ARP probe
// from 0.0.0.0, RFC 5227) on a cadence of its own beside the passes, so a
// probe never delays a decision: once a round, every DEADTIME while the peer
// is silent (a cut heartbeat path is when a second holder appears), and at
// once after a start. An answer from another host for a resource this node
// holds is a split brain: an alarm, a log line naming who answered,
// SPLIT_BRAIN in the status (stat, the metric) and a transition for the
// hooks; it is over when a probe finds this node alone again (or it no
// longer holds). A probe asked before this node started a resource cannot
// tell for it: its answer may be the old holder's before it let go (a
// switchover, a release), so it is no second holder; nor can one answered
// while this node stops what it holds (the peer taking over, as asked). That another host answers at all is forgotten only after
// two probes in a row found nobody: one may miss an answer. The rules read what the probes saw (decide.ts, rule 12):
// the second in NODES releases and takes nothing while another host answers.
// Pure.
import type { Clock } from '../daemon/effects.js';
import type { Status } from '../status-store/index.js';
import type { Observation } from './decide.js';
import type { ProbeResult, SuperviseEffect } from './events.js';
import type { Held } from './held.js';
import type { Teller } from './teller.js';

/** What the probes saw, as the rules read it. */
export type Seen = Pick<Observation, 'split' | 'otherAnswers'>;

export class SplitWatch {
  /** Resource → who else answers for it, while this node holds it. */
  private now = new Map<string, string>();
  private splitSince: number | null = null; // wall
  private confirmed = false; // a probe has seen it last a DEADTIME (rule 12 may act)
  private other: { at: number; text: string } | null = null; // the last probe that found another host answering
  private silent = false;
  /** Probes in a row that found nobody: one may miss an answer (a lost frame), so "nobody answers" takes two. */
  private otherMisses = 0;
  /** Resource → when our last start of it ended (mono): a probe asked before then cannot tell for it. */
  private startedAt = new Map<string, number>();

  constructor(
    private readonly roundMs: number,
    private readonly deadtime: number,
  ) {}

  /** The probe timer: probe now, and again a round later (a DEADTIME later while the peer is silent). */
  tick(clock: Clock): SuperviseEffect[] {
    return [
      { kind: 'probe', sentAt: clock.mono },
      { kind: 'arm', timer: 'probe', at: clock.mono + (this.silent ? this.deadtime : this.roundMs) },
    ];
  }

  /** The peer silent or heard, as a decision saw it: the moment it goes silent, a probe half a DEADTIME later. */
  peer(silent: boolean, clock: Clock): SuperviseEffect[] {
    const began = silent && !this.silent;
    this.silent = silent;
    return began ? [{ kind: 'arm', timer: 'probe', at: clock.mono + this.deadtime / 2 }] : [];
  }

  /** A start of `names` ran: probe at once (did we just become a second holder?). */
  started(names: readonly string[], clock: Clock): SuperviseEffect[] {
    for (const n of names) this.startedAt.set(n, clock.mono);
    return [{ kind: 'arm', timer: 'probe', at: clock.mono }];
  }

  seen(): Seen {
    const text = [...this.now].map(([name, by]) => `${name} answered by ${by}`).join('; ');
    return {
      split: this.splitSince === null ? null : { since: this.splitSince, text },
      otherAnswers: this.other,
    };
  }

  /** The probes' answers; `changed`: what the rules read changed; `patch`: the status, when what is split changed. */
  probed(
    results: readonly ProbeResult[],
    sentAt: number,
    stopping: boolean,
    held: Held,
    teller: Teller,
    clock: Clock,
    out: SuperviseEffect[],
  ): { changed: boolean; patch: Partial<Status> | null } {
    const up = new Set(
      held
        .list()
        .filter((r) => r.up)
        .map((r) => r.name),
    );
    const next = new Map<string, string>();
    const answered: string[] = [];
    for (const r of results) {
      out.push({ kind: 'alarm', id: `probe:${r.name}`, text: r.error ? `probe of ${r.name}: ${r.error}` : null });
      if (r.answered === true) answered.push(`${r.name} answered by ${r.by || 'another host'}`);
      // Asked before we started it, or answered while we stop it: cannot tell for it.
      const moot = stopping || sentAt < (this.startedAt.get(r.name) ?? -Infinity);
      if (r.answered === true && up.has(r.name) && !moot) next.set(r.name, r.by || 'another host');
      // Cannot tell this time: what was seen stands (a probe that found nobody ends it: the other yielded).
      else if ((r.answered === null || moot) && up.has(r.name) && this.now.has(r.name))
        next.set(r.name, this.now.get(r.name)!);
    }
    const before = this.seen();
    if (answered.length) {
      this.other = { at: clock.wall, text: answered.join('; ') };
      this.otherMisses = 0;
    } else if (results.some((r) => r.answered === false) && ++this.otherMisses >= 2) this.other = null;
    const text = [...next].map(([name, by]) => `${name} answered by ${by}`).join('; ');
    const was = before.split?.text ?? '';
    this.now = next;
    this.splitSince = next.size === 0 ? null : (this.splitSince ?? clock.wall);
    const lasting = this.splitSince !== null && clock.wall - this.splitSince >= this.deadtime;
    const changed =
      (before.otherAnswers === null) !== (this.other === null) ||
      (was === '') !== (text === '') ||
      lasting !== this.confirmed;
    this.confirmed = lasting;
    if (text === was) return { changed, patch: null };
    if (text) {
      out.push({
        kind: 'log',
        level: 'error',
        fields: { split: Object.fromEntries(next) },
        msg: `split brain: this node holds ${[...next.keys()].join(', ')} and another host answers for it too (${text})`,
      });
      out.push({ kind: 'alarm', id: 'split', text: `split brain: ${text} while this node holds it` });
      // A second look a DEADTIME later: a node that yields (its gateway lost) is gone by then; one that keeps is not.
      out.push({ kind: 'arm', timer: 'probe', at: clock.mono + this.deadtime });
    } else {
      out.push({
        kind: 'log',
        level: 'warn',
        fields: {},
        msg: 'split brain over: no other host answers for what this node holds',
      });
      out.push({ kind: 'alarm', id: 'split', text: null });
    }
    teller.split(text !== '', text ? `split brain: ${text}` : 'no other host answers any more', clock, out);
    return { changed: true, patch: { SPLIT_BRAIN: text || undefined } };
  }
}
