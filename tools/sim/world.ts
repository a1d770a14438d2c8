// The simulated pair: two nodes, each running the daemons' own cores
// (src/sender/core.ts, src/receiver/core.ts, src/supervise/core.ts) in virtual
// time, over a simulated status store, local bus, network, resources and
// gateway. Everything random comes from the seeded PRNG, so a seed replays.
// What the real shells do (<daemon>/shell.ts, daemon/bus.ts, daemon/watchdog.ts,
// status-store/writer.ts) is modelled here as closely as it matters for the
// protocol: the cores are the very code the daemons run. World is the top
// layer (model.ts lists them): the operator's commands (pha-cli).
import type { Status } from '../../src/status-store/index.js';
import { DAEMON_NAMES, type Proc, type SimNode } from './model.js';
import { SimProcesses } from './processes.js';

export * from './model.js';

export class World extends SimProcesses {
  /** pha-cli's own store.update(): a fresh process, so a damaged file is read as {}. */
  cliWrite(node: SimNode, patch: Record<string, unknown>): boolean {
    const ok = this.storeWrite(node, patch, undefined, null);
    this.log(node, 'cli', `${ok ? 'wrote' : 'could not write'} ${JSON.stringify(patch)}`);
    return ok;
  }

  /** pha-cli off: checks the live view first, like the CLI. Returns whether the request was written. */
  off(node: SimNode, force: boolean): boolean {
    const sup = node.procs.supervise;
    if (!sup) return false;
    const r = this.read(sup).status;
    const live = {
      ...r,
      ...(sup.alive ? lastPublished(sup) : {}),
      ...(node.procs.receiver ? receiverKeys(this, node) : {}),
    };
    if (live.STATUS !== 'ONLINE') {
      this.log(node, 'cli', `off refused by the CLI: STATUS ${live.STATUS ?? 'none'}`);
      return false;
    }
    if (!live.RECEIVER_IN && !force) {
      this.log(node, 'cli', 'off refused by the CLI: no heartbeat from the peer');
      return false;
    }
    return this.cliWrite(node, { OFF_REQUEST: this.wall, OFF_FORCE: force ? 1 : 0 });
  }

  on(node: SimNode): void {
    this.cliWrite(node, { SENDER_RUN: 1, SENDER_PAUSE_UNTIL: undefined, FAILED_UNTIL: undefined, OFF_REQUEST: null });
  }

  resStart(node: SimNode): void {
    this.log(node, 'cli', 'res start');
    this.startSome(node, [...this.resources], (results) => {
      const patch: Record<string, unknown> = { FAILED_UNTIL: undefined };
      for (const r of results) patch[`RES_${r.name}`] = r.ok ? 'UP' : 'DOWN';
      this.cliWrite(node, patch);
    });
  }

  resStop(node: SimNode): void {
    this.log(node, 'cli', 'res stop');
    this.hooks.stopping?.(node, 'supervise', 'operator: res stop');
    this.stopAll(node, (results) => {
      const patch: Record<string, unknown> = {};
      for (const r of results) patch[`RES_${r.name}`] = r.ok ? 'DOWN' : 'UP';
      this.cliWrite(node, patch);
    });
  }

  /** What an earlier run left (pha-cli stop leaves the resources up, and its keys in the file). */
  leftover(node: SimNode): void {
    for (const r of node.res.keys()) node.res.set(r, true);
    const file: Record<string, unknown> = {
      STATUS: null,
      SUPERVISE: 0,
      SENDER_RUN: 0,
      RECEIVER_IN: null,
      DECIDED_AT: this.wall - 60_000,
      RECEIVER_STARTED_AT: this.wall - 600_000,
      SENDER_STARTED_AT: this.wall - 600_000,
    };
    for (const r of node.res.keys()) file[`RES_${r}`] = 'UP';
    node.file = file as Status;
    this.hooks.held?.(node);
  }

  holds(node: SimNode): boolean {
    for (const v of node.res.values()) if (v) return true;
    return false;
  }

  allUp(node: SimNode): boolean {
    for (const v of node.res.values()) if (!v) return false;
    return node.res.size > 0;
  }

  running(node: SimNode): boolean {
    return DAEMON_NAMES.every((d) => node.procs[d] && !node.procs[d]!.frozen);
  }
}

/** What supervise last told the bus (its live STATUS), as pha-cli's live view sees it. */
function lastPublished(sup: Proc): Partial<Status> {
  return sup.node.pub.get('supervise')?.keys ?? {};
}
function receiverKeys(_w: World, node: SimNode): Partial<Status> {
  return node.pub.get('receiver')?.keys ?? {};
}
