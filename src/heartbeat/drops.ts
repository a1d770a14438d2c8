// Why a datagram was not taken as the peer's heartbeat, counted per reason, and
// a limiter so that no reason is logged more than once a minute.

export const DROP_REASONS = [
  'not-from-peer',
  'not-a-heartbeat',
  'bad-mac',
  'unknown-key',
  'wrong-node',
  'replay',
  'old-generation',
  'plain-refused',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];
export type DropCounters = Record<DropReason, number>;

export function newDropCounters(): DropCounters {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as DropCounters;
}

export function totalDrops(c: DropCounters): number {
  return DROP_REASONS.reduce((n, r) => n + c[r], 0);
}

/** Status key of each reason's counter: 'bad-mac' → 'RECEIVER_DROP_BAD_MAC' (a number, like every new key). */
const DROP_STATUS_KEYS = Object.fromEntries(
  DROP_REASONS.map((r) => [r, `RECEIVER_DROP_${r.toUpperCase().replace(/-/g, '_')}`]),
) as Record<DropReason, `RECEIVER_DROP_${string}`>;

export function dropStatusKey(reason: DropReason): `RECEIVER_DROP_${string}` {
  return DROP_STATUS_KEYS[reason];
}

/** The counters as status keys, plus the total in the existing RECEIVER_DROPPED. */
export function dropStatusPatch(c: DropCounters): Record<string, number> {
  const out: Record<string, number> = { RECEIVER_DROPPED: totalDrops(c) };
  for (const r of DROP_REASONS) out[dropStatusKey(r)] = c[r];
  return out;
}

/** What one drop means to the operator (the log line). */
export const DROP_MEANING: Record<DropReason, string> = {
  'not-from-peer': "datagrams from an address that is not the peer's",
  'not-a-heartbeat': "datagrams from the peer's address that are neither a heartbeat word nor a frame",
  'bad-mac': 'frames whose HMAC does not verify (forged or damaged, or the peer has a different key with the same id)',
  'unknown-key': 'frames signed with a key id that is not in our key file (a rotation half done?)',
  'wrong-node':
    "authenticated frames that do not name the peer's node index (our own frames reflected, or NODES in a different order on the peer)",
  replay:
    'authenticated frames not newer than the newest accepted on the same heartbeat path, or than what an earlier run took (replayed or reordered)',
  'old-generation':
    'authenticated frames of an older sender generation than the newest accepted (replayed; ' +
    'or the peer lost var/auth-generation and its clock is behind: remove var/auth-peer-generation here)',
  'plain-refused':
    'plain heartbeat words refused because AUTH_MODE=enforce (the peer runs without a key, or someone forges)',
};

/**
 * Rate limit of drop logs: at most one line per reason per `intervalMs`, which
 * carries how many drops of that reason came since the last line. Time comes in
 * from the caller (monotonic ms), so this is pure and testable.
 */
export class DropLogLimiter {
  private readonly last = new Map<DropReason, { at: number; count: number }>();
  constructor(private readonly intervalMs = 60_000) {}

  /** Call on every drop: the count to log now, or null to stay quiet. */
  note(
    reason: DropReason,
    now: number,
    total: number,
  ): { reason: DropReason; since: number; total: number; meaning: string } | null {
    const l = this.last.get(reason);
    if (l && now - l.at < this.intervalMs) return null;
    const since = total - (l?.count ?? 0);
    this.last.set(reason, { at: now, count: total });
    return { reason, since, total, meaning: DROP_MEANING[reason] };
  }

  /** For a periodic tick: lines for reasons with drops not yet logged whose interval has passed. */
  due(now: number, counters: DropCounters): { reason: DropReason; since: number; total: number; meaning: string }[] {
    const out = [];
    for (const [reason, l] of this.last) {
      if (counters[reason] > l.count && now - l.at >= this.intervalMs)
        out.push(this.note(reason, now, counters[reason])!);
    }
    return out;
  }
}
