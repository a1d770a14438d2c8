// The lab's names, addresses and interfaces: what lab.ts builds, and what the
// lab's faults (lab-faults.ts, faults-extra.ts) and installs (install.ts) use.
import type { ChildProcess, StdioOptions } from 'node:child_process';
import type { RunOptions, RunResult } from './exec.js';

export type NodeName = 'lb1' | 'lb2';
export type HostName = NodeName | 'gw' | 'client';
export const NODE_NAMES: readonly NodeName[] = ['lb1', 'lb2'];

export const LAB_SUBNET = '198.18.0.0/24';
export const GW_IP = '198.18.0.1';
export const VIP = '198.18.0.100';
export const VIP_CIDR = '198.18.0.100/24';
export const HOST_IPS: Readonly<Record<HostName, string>> = {
  gw: GW_IP,
  lb1: '198.18.0.11',
  lb2: '198.18.0.12',
  client: '198.18.0.50',
};

/**
 * A second bridge (br1) for the heartbeat only: each node's eth1. With
 * HB_PATHS it is a second path; alone (HB_PATHS on it only) a dedicated
 * heartbeat link whose cut leaves the LAN on br0 intact.
 */
export const HB_IPS: Readonly<Record<NodeName, string>> = { lb1: '198.18.1.11', lb2: '198.18.1.12' };
export const HB_PREFIX_LEN = 24;

/**
 * The lab's IPv6 (createLab({ ipv6: true })): the documentation prefix on the
 * same bridges, never routed out. The heartbeat bridge gets 2001:db8:1::/64.
 */
export const IP6: Readonly<Record<HostName, string>> = {
  gw: '2001:db8::1',
  lb1: '2001:db8::11',
  lb2: '2001:db8::12',
  client: '2001:db8::50',
};
export const HB_IP6: Readonly<Record<NodeName, string>> = { lb1: '2001:db8:1::11', lb2: '2001:db8:1::12' };
export const VIP6 = '2001:db8::100';
export const VIP6_CIDR = '2001:db8::100/64';
export const HB_PORTS: Readonly<Record<NodeName, string>> = { lb1: 'h-lb1', lb2: 'h-lb2' };

/** pha installed on a lab node (install.ts makes it). */
export interface NodeInstall {
  readonly node: NodeName;
  readonly dir: string;
  readonly configPath: string;
  readonly phaRoot: string;
  readonly cliPath: string;
  /** True when the lab made the dir (and removes it on destroy). */
  readonly ownedDir: boolean;
  /** The config written, in file order. */
  readonly config: ReadonlyArray<readonly [string, string]>;
}

export interface LabHost {
  readonly name: HostName;
  /** Network namespace name (`ip netns list`). */
  readonly ns: string;
  readonly ip: string;
  /** Interface inside the host's namespace. */
  readonly dev: 'eth0';
  /** Bridge port (in the switch namespace) the host's cable plugs into. */
  readonly port: string;
}

export interface LabNode extends LabHost {
  readonly name: NodeName;
  /** Pid of the process holding the node's UTS namespace (host name); 0 while none. */
  readonly keeperPid: number;
}

export type HostRef = HostName | LabHost;

export interface NodeFaults {
  dead: boolean;
  frozen: boolean;
  linkDown: boolean;
  gatewayLost: boolean;
  isolated: boolean;
}

/** performance.now() right before the fault's first action and after its last. */
export interface FaultTime {
  start: number;
  end: number;
}

export interface LabSpawnOptions {
  env?: Record<string, string | undefined>;
  /** Default ['ignore', 'pipe', 'pipe']. */
  stdio?: StdioOptions;
}

export interface LabFaults {
  /** Cable pulled at the switch, SIGKILL of `pids` and of every process in the node's namespace (lab tooling excepted), then eth0 down (routes go). */
  hostDeath(node: NodeName, pids?: number[]): Promise<FaultTime>;
  /** Undo hostDeath as a reboot would: VIP removed, eth0 and port up, default route back, host name keeper restarted. Starts no pha. */
  hostRevive(node: NodeName): Promise<FaultTime>;
  /** Switch port of the node down (the node keeps its addresses and routes). */
  linkDown(node: NodeName): Promise<FaultTime>;
  linkUp(node: NodeName): Promise<FaultTime>;
  /** The node's port on the heartbeat bridge (br1, eth1) down or up: the LAN on br0 stays. */
  hbLinkDown(node: NodeName): Promise<FaultTime>;
  hbLinkUp(node: NodeName): Promise<FaultTime>;
  /** Cut lb1 <-> lb2 only (both bridge ports isolated): both still reach gw and client. */
  partition(): Promise<FaultTime>;
  heal(): Promise<FaultTime>;
  /** Blackhole route to the gateway in the node: its pings fail at once. */
  gatewayLoss(node: NodeName): Promise<FaultTime>;
  gatewayRestore(node: NodeName): Promise<FaultTime>;
  /** SIGSTOP the given pids, or every process in the node's namespace (lab tooling excepted). */
  freeze(target: NodeName | number[]): Promise<FaultTime>;
  /** SIGCONT what freeze() stopped (for a node: everything in its namespace). */
  thaw(target: NodeName | number[]): Promise<FaultTime>;
  /** Send a signal (default SIGKILL) to the given pids or to every process in the node's namespace (lab tooling excepted). */
  kill(target: NodeName | number[], signal?: NodeJS.Signals): Promise<FaultTime>;
  /** Remove the VIP from the node's eth0 by hand (resource failure). */
  vipRemove(node: NodeName, cidr?: string): Promise<FaultTime>;
}

export interface Lab {
  readonly prefix: string;
  readonly nodes: { readonly lb1: LabNode; readonly lb2: LabNode };
  readonly gw: LabHost;
  readonly client: LabHost;
  /** Namespace holding the bridge `br0`. */
  readonly switchNs: string;
  readonly vip: string;
  readonly vipCidr: string;
  readonly destroyed: boolean;
  /** Install dirs written by installNode(). */
  readonly installs: Partial<Record<NodeName, NodeInstall>>;
  readonly faults: LabFaults;

  host(ref: HostRef): LabHost;
  /** Current fault flags of a node (as injected through `faults`). */
  faultState(node: NodeName): Readonly<NodeFaults>;
  /** The argv that runs `cmd args` inside the host (for callers that spawn themselves). */
  argv(host: HostRef, cmd: string, args?: string[]): string[];
  /** Run a command inside the host; never rejects (see RunResult.code). */
  run(host: HostRef, cmd: string, args?: string[], opts?: RunOptions): Promise<RunResult>;
  /** Start a long-running command inside the host in its own process group; killed (group, SIGKILL) on destroy and by node faults. */
  spawn(host: HostRef, cmd: string, args?: string[], opts?: LabSpawnOptions): ChildProcess;
  /**
   * Track a process the caller spawned itself (killed on destroy). With
   * infra: true it is lab tooling (a monitor, a sampler) that node faults
   * (hostDeath, freeze, kill of a node) spare.
   */
  adopt(child: ChildProcess, opts?: { infra?: boolean }): ChildProcess;
  /** One ICMP echo (`ping -c1 -W<s>`); target must be a lab host or an address in 198.18.0.0/15. */
  ping(from: HostRef, to: HostRef | string, timeoutS?: number): Promise<boolean>;
  /** Pids in the host's namespace (lab tooling excluded unless includeInfra). */
  pids(host: HostRef, includeInfra?: boolean): Promise<number[]>;
  /**
   * Nodes with the VIP on eth0 (default the IPv4 VIP; `vip`: another, e.g.
   * VIP6). effective: leave out nodes that are dead, frozen or whose link is
   * down (they hold nothing for a client).
   */
  vipHolders(opts?: { effective?: boolean; vip?: string }): Promise<NodeName[]>;
  /**
   * Run pha-cli on the node as an operator would:
   * `ip netns exec <ns> env NODENAME=<node> PHA_CONFIG=<dir>/etc/config node <phaRoot>/bin/pha-cli.js <args…>`
   * or with {stdin} the commands piped in. Needs installNode() first.
   */
  cli(node: NodeName, input: string[] | { stdin: string }, opts?: RunOptions): Promise<RunResult>;
  /** Remove everything (idempotent). */
  destroy(): Promise<void>;
  /** Synchronous variant for exit handlers. */
  destroySync(): void;
}

export interface CreateLabOptions {
  /** Name prefix of the namespaces; default "pha" + 6 random hex digits + "-". */
  prefix?: string;
  /** Sweep leftovers of crashed earlier runs first (default true). */
  sweep?: boolean;
  /** IPv6 on the lab's links too (IP6, HB_IP6; no DAD, so addresses work at once); default off: IPv4 only. */
  ipv6?: boolean;
}
