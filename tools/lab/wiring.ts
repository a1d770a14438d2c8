// The lab's network: a switch namespace with a bridge, each host a namespace
// with a veth to it, its address, a default route via the gateway, its own
// hosts file and no DNS (nothing leaves the lab).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ETC_NETNS_DIR } from './cleanup.js';
import { ip, runArgv } from './exec.js';
import { GW_IP, HOST_IPS, type LabHost, VIP } from './types.js';

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

/** Creates the namespaces `allNs` (the switch `switchNs` among them) and wires `hosts` to the switch. */
export async function wire(allNs: readonly string[], switchNs: string, hosts: readonly LabHost[]): Promise<void> {
  for (const ns of allNs) await ip(['netns', 'add', ns]);
  // No IPv6 chatter on the lab's links (best effort: the kernel may have no IPv6).
  await Promise.all(
    allNs.map((ns) =>
      runArgv(
        [
          'ip',
          'netns',
          'exec',
          ns,
          'sysctl',
          '-qw',
          'net.ipv6.conf.all.disable_ipv6=1',
          'net.ipv6.conf.default.disable_ipv6=1',
        ],
        { timeoutMs: 5000 },
      ),
    ),
  );
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
    }),
  );
}
