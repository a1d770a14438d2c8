// The lab's network: a switch namespace with a bridge, each host a namespace
// with a veth to it, its address, a default route via the gateway, its own
// hosts file and no DNS (nothing leaves the lab).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ETC_NETNS_DIR } from './cleanup.js';
import { ip, runArgv } from './exec.js';
import {
  GW_IP,
  HB_IP6,
  HB_IPS,
  HB_PORTS,
  HB_PREFIX_LEN,
  HOST_IPS,
  IP6,
  type LabHost,
  NODE_NAMES,
  type NodeName,
  VIP,
} from './types.js';

function hostsFile(): string {
  return [
    '# pha lab',
    '127.0.0.1\tlocalhost',
    `${HOST_IPS.gw}\tgw`,
    `${HOST_IPS.lb1}\tlb1`,
    `${HOST_IPS.lb2}\tlb2`,
    `${HOST_IPS.client}\tclient`,
    `${VIP}\tvip`,
    '',
  ].join('\n');
}

const sysctl = (ns: string, settings: string[]) =>
  runArgv(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', ...settings], { timeoutMs: 5000 });

/**
 * Creates the namespaces `allNs` (the switch `switchNs` among them) and wires
 * `hosts` to the switch; with `ipv6`, the IPv6 addresses as well.
 */
export async function wire(
  allNs: readonly string[],
  switchNs: string,
  hosts: readonly LabHost[],
  ipv6 = false,
): Promise<void> {
  for (const ns of allNs) await ip(['netns', 'add', ns]);
  // IPv4 only: no IPv6 chatter on the lab's links (best effort: the kernel may have no IPv6).
  // IPv6: no duplicate address detection, so every address (link-local too) is usable at once.
  // keep_addr_on_down: a node's own addresses survive a dead host's eth0 going down, as IPv4's do.
  const v6 = ipv6
    ? [
        'net.ipv6.conf.all.disable_ipv6=0',
        'net.ipv6.conf.default.disable_ipv6=0',
        'net.ipv6.conf.all.accept_dad=0',
        'net.ipv6.conf.all.keep_addr_on_down=1',
        'net.ipv6.conf.default.keep_addr_on_down=1',
      ]
    : ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];
  await Promise.all(allNs.map((ns) => sysctl(ns, ipv6 ? [...v6, 'net.ipv6.conf.default.accept_dad=0'] : v6)));
  const sw = switchNs;
  await ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
  await ip(['-n', sw, 'link', 'set', 'br0', 'up']);
  await ip(['-n', sw, 'link', 'set', 'lo', 'up']);
  await Promise.all(
    hosts.map(async (h) => {
      mkdirSync(join(ETC_NETNS_DIR, h.ns), { recursive: true });
      writeFileSync(join(ETC_NETNS_DIR, h.ns, 'hosts'), hostsFile());
      // No nameserver line: the resolver asks 127.0.0.1 inside the namespace; nothing leaves the lab.
      writeFileSync(join(ETC_NETNS_DIR, h.ns, 'resolv.conf'), '# pha lab: no DNS\n');
      await ip(['-n', sw, 'link', 'add', h.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns]);
      await ip(['-n', sw, 'link', 'set', h.port, 'master', 'br0']);
      await ip(['-n', sw, 'link', 'set', h.port, 'up']);
      await ip(['-n', h.ns, 'link', 'set', 'lo', 'up']);
      await ip(['-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0']);
      await ip(['-n', h.ns, 'link', 'set', 'eth0', 'up']);
      if (h.name !== 'gw') await ip(['-n', h.ns, 'route', 'add', 'default', 'via', GW_IP]);
      if (ipv6) await wire6(h.ns, 'eth0', IP6[h.name], h.name !== 'gw');
    }),
  );
  await wireHeartbeatBridge(sw, hosts, ipv6);
}

/** An interface's IPv6 address (nodad), and the default route via the lab's gateway. */
async function wire6(ns: string, dev: string, addr: string, route: boolean): Promise<void> {
  await sysctl(ns, [`net.ipv6.conf.${dev}.disable_ipv6=0`, `net.ipv6.conf.${dev}.accept_dad=0`]);
  await ip(['-n', ns, '-6', 'addr', 'add', `${addr}/64`, 'dev', dev, 'nodad']);
  if (route) await ip(['-n', ns, '-6', 'route', 'add', 'default', 'via', IP6.gw, 'dev', dev]);
}

/** br1: the nodes' eth1 only (no gateway, no client): a link for the heartbeat alone. */
async function wireHeartbeatBridge(sw: string, hosts: readonly LabHost[], ipv6: boolean): Promise<void> {
  await ip(['-n', sw, 'link', 'add', 'br1', 'type', 'bridge']);
  await ip(['-n', sw, 'link', 'set', 'br1', 'up']);
  const nodes = hosts.filter((h): h is LabHost & { name: NodeName } => NODE_NAMES.includes(h.name as NodeName));
  await Promise.all(
    nodes.map(async (h) => {
      const port = HB_PORTS[h.name];
      await ip(['-n', sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', h.ns]);
      await ip(['-n', sw, 'link', 'set', port, 'master', 'br1']);
      await ip(['-n', sw, 'link', 'set', port, 'up']);
      await ip(['-n', h.ns, 'addr', 'add', `${HB_IPS[h.name]}/${HB_PREFIX_LEN}`, 'dev', 'eth1']);
      await ip(['-n', h.ns, 'link', 'set', 'eth1', 'up']);
      if (ipv6) await wire6(h.ns, 'eth1', HB_IP6[h.name], false);
    }),
  );
}
