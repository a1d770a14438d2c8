/**
 * The lab's own faults (lab.faults), grouped by kind: the network (a cable,
 * the heartbeat link, the gateway route), the host (death and revival, a
 * freeze, signals) and the resource (the VIP removed behind pha's back).
 * The faults of an operator's bad day on a running pha (var/, the status
 * file, one daemon, checks, a lossy cable) are faults-extra.ts.
 */

import { ip, ipOk, killPid, pidAlive, runArgv } from './exec.js';
import {
  type FaultTime,
  GW_IP,
  HB_PORTS,
  IP6,
  type LabFaults,
  NODE_NAMES,
  type NodeFaults,
  type NodeName,
  VIP_CIDR,
  VIP6_CIDR,
} from './types.js';

/** What the faults need of the lab. */
export interface FaultContext {
  nodes: Record<NodeName, { ns: string; port: string; keeperPid: number }>;
  switchNs: string;
  state: Record<NodeName, NodeFaults>;
  frozenPids: Record<NodeName, Set<number>>;
  assertLive(): void;
  signalNode(node: NodeName, signal: NodeJS.Signals): Promise<number[]>;
  pids(node: NodeName): Promise<number[]>;
  startKeeper(node: NodeName): Promise<void>;
  ipv6: boolean; // the lab has IPv6 (a revived node gets its IPv6 route back, loses VIP6)
}

export function labFaults(c: FaultContext): LabFaults {
  const timed = async (fn: () => Promise<void>): Promise<FaultTime> => {
    c.assertLive();
    const start = performance.now();
    await fn();
    return { start, end: performance.now() };
  };
  return { ...networkFaults(c, timed), ...hostFaults(c, timed), ...resourceFaults(c, timed) };
}

type Timed = (fn: () => Promise<void>) => Promise<FaultTime>;

/** The cable at the switch, the heartbeat link between the nodes, the route to the gateway. */
function networkFaults(c: FaultContext, timed: Timed) {
  const port = (node: NodeName, up: boolean) =>
    timed(async () => {
      await ip(['-n', c.switchNs, 'link', 'set', c.nodes[node].port, up ? 'up' : 'down']);
      c.state[node].linkDown = !up;
    });
  // Both bridge ports isolated: lb1 and lb2 cannot reach each other, both still reach gw and client.
  const isolate = (on: boolean) =>
    timed(async () => {
      const set = (n: NodeName) =>
        runOrThrow([
          'ip',
          'netns',
          'exec',
          c.switchNs,
          'bridge',
          'link',
          'set',
          'dev',
          c.nodes[n].port,
          'isolated',
          on ? 'on' : 'off',
        ]);
      await Promise.all(NODE_NAMES.map(set));
      for (const n of NODE_NAMES) c.state[n].isolated = on;
    });
  const hbPort = (node: NodeName, up: boolean) =>
    timed(async () => {
      await ip(['-n', c.switchNs, 'link', 'set', HB_PORTS[node], up ? 'up' : 'down']);
    });
  return {
    hbLinkDown: (node: NodeName) => hbPort(node, false),
    hbLinkUp: (node: NodeName) => hbPort(node, true),
    linkDown: (node: NodeName) => port(node, false),
    linkUp: (node: NodeName) => port(node, true),
    partition: () => isolate(true),
    heal: () => isolate(false),
    gatewayLoss: (node: NodeName) =>
      timed(async () => {
        await ip(['-n', c.nodes[node].ns, 'route', 'replace', 'blackhole', `${GW_IP}/32`]);
        c.state[node].gatewayLost = true;
      }),
    gatewayRestore: (node: NodeName) =>
      timed(async () => {
        await ipOk(['-n', c.nodes[node].ns, 'route', 'del', 'blackhole', `${GW_IP}/32`]);
        c.state[node].gatewayLost = false;
      }),
  };
}

/** The host: death (cable, every process, eth0) and revival, a freeze and a thaw, signals. */
function hostFaults(c: FaultContext, timed: Timed) {
  const signal = async (target: NodeName | number[], sig: NodeJS.Signals): Promise<number[]> => {
    if (!Array.isArray(target)) return c.signalNode(target, sig);
    for (const p of target) killPid(p, sig);
    return [];
  };
  return {
    hostDeath: (node: NodeName, pids: number[] = []) =>
      timed(async () => {
        const n = c.nodes[node];
        await ip(['-n', c.switchNs, 'link', 'set', n.port, 'down']);
        for (const p of pids) killPid(p, 'SIGKILL');
        await c.signalNode(node, 'SIGKILL');
        await ip(['-n', n.ns, 'link', 'set', 'eth0', 'down']);
        Object.assign(c.state[node], { dead: true, frozen: false });
        c.frozenPids[node].clear();
      }),
    hostRevive: (node: NodeName) =>
      timed(async () => {
        const n = c.nodes[node];
        await ipOk(['-n', n.ns, 'addr', 'del', VIP_CIDR, 'dev', 'eth0']);
        if (c.ipv6) await ipOk(['-n', n.ns, '-6', 'addr', 'del', VIP6_CIDR, 'dev', 'eth0']);
        await ip(['-n', n.ns, 'link', 'set', 'eth0', 'up']);
        await ip(['-n', c.switchNs, 'link', 'set', n.port, 'up']);
        await ip(['-n', n.ns, 'route', 'replace', 'default', 'via', GW_IP]);
        if (c.ipv6) await ip(['-n', n.ns, '-6', 'route', 'replace', 'default', 'via', IP6.gw, 'dev', 'eth0']);
        if (!n.keeperPid || !pidAlive(n.keeperPid)) await c.startKeeper(node);
        Object.assign(c.state[node], { dead: false, linkDown: false });
      }),
    freeze: (target: NodeName | number[]) =>
      timed(async () => {
        const hit = await signal(target, 'SIGSTOP');
        if (Array.isArray(target)) return;
        for (const p of hit) c.frozenPids[target].add(p);
        c.state[target].frozen = true;
      }),
    thaw: (target: NodeName | number[]) =>
      timed(async () => {
        if (Array.isArray(target)) {
          await signal(target, 'SIGCONT');
          return;
        }
        const pids = new Set([...c.frozenPids[target], ...(await c.pids(target))]);
        for (const p of pids) killPid(p, 'SIGCONT');
        c.frozenPids[target].clear();
        c.state[target].frozen = false;
      }),
    kill: (target: NodeName | number[], sig: NodeJS.Signals = 'SIGKILL') =>
      timed(async () => {
        await signal(target, sig);
      }),
  };
}

/** The resource: the VIP removed behind pha's back. */
function resourceFaults(c: FaultContext, timed: Timed) {
  return {
    vipRemove: (node: NodeName, cidr = VIP_CIDR) =>
      timed(async () => {
        await ip(['-n', c.nodes[node].ns, 'addr', 'del', cidr, 'dev', 'eth0']);
      }),
  };
}

async function runOrThrow(argv: string[]): Promise<void> {
  const r = await runArgv(argv, { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr.trim()}`);
}
