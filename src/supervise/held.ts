// What this node holds, as far as supervise knows: the resources' states from
// the last check, start or stop, and the default route.
import type { OpResult } from '../daemon/effects.js';
import type { Status } from '../status-store/index.js';
import type { CheckResult, SuperviseConfig, SuperviseEffect } from './events.js';

export class Held {
  private readonly up = new Map<string, boolean>();
  routeOk = true;
  checkedOnce = false;
  private lastResKey = ''; // RES_ keys as last seen in the view

  constructor(private readonly c: Pick<SuperviseConfig, 'resources' | 'GW' | 'CHECK_TIMEOUT'>) {
    for (const r of c.resources) this.up.set(r.name, false);
  }

  /** Each check has its own timeout (CHECK_TIMEOUT): a hung one counts as DOWN. */
  checked(results: readonly CheckResult[], routeOk: boolean, out: SuperviseEffect[]): void {
    for (const r of results) {
      const was = this.up.get(r.name);
      this.up.set(r.name, r.ok);
      if (was !== r.ok)
        out.push({
          kind: 'log',
          level: 'info',
          fields: { resource: r.name, state: r.ok ? 'UP' : 'DOWN', output: r.output || undefined, error: r.error },
          msg: `resource ${r.name} is ${r.ok ? 'UP' : 'DOWN'}${r.timedOut ? ' (check timed out)' : ''}`,
        });
      out.push({
        kind: 'alarm',
        id: `check:${r.name}`,
        text: r.timedOut ? `check of ${r.name} timed out after ${this.c.CHECK_TIMEOUT} ms (counted as DOWN)` : null,
      });
    }
    if (this.c.GW) {
      if (routeOk !== this.routeOk)
        out.push({
          kind: 'log',
          level: 'warn',
          fields: { routeOk },
          msg: routeOk ? 'default route is back' : 'no default route',
        });
      this.routeOk = routeOk;
    }
    this.checkedOnce = true;
  }

  /** What a start (ok: up) or a stop (ok: down) did. */
  acted(op: 'none' | 'start' | 'stop' | 'restart', results: readonly OpResult[]): void {
    for (const r of results) this.up.set(r.name, op === 'stop' ? !r.ok : r.ok);
  }

  list(): { name: string; up: boolean }[] {
    return this.c.resources.map((r) => ({ name: r.name, up: this.up.get(r.name) ?? false }));
  }

  allUp(): boolean {
    return this.c.resources.length > 0 && this.c.resources.every((r) => this.up.get(r.name));
  }

  patch(): Partial<Status> {
    const p: Record<string, 'UP' | 'DOWN'> = {};
    for (const r of this.c.resources) p[`RES_${r.name}`] = this.up.get(r.name) ? 'UP' : 'DOWN';
    return p as Partial<Status>;
  }

  /**
   * Somebody else wrote RES_ keys that disagree with what we know (the
   * operator's res start/stop): check now, never write our old states over
   * theirs (the sender's fence reads them).
   */
  changedByOthers(view: Status): boolean {
    const key = this.c.resources.map((r) => view[`RES_${r.name}`] ?? '').join('|');
    if (key === this.lastResKey) return false;
    this.lastResKey = key;
    return (
      this.checkedOnce &&
      this.c.resources.some(
        (r) =>
          view[`RES_${r.name}`] !== undefined && (view[`RES_${r.name}`] === 'UP') !== (this.up.get(r.name) ?? false),
      )
    );
  }
}
