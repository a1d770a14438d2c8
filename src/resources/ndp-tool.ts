// pha-ndp: what res/ipaddr needs for an IPv6 address that arping does for
// IPv4, on a raw ICMPv6 socket (raw-socket, already built for the gateway
// ping; needs root or CAP_NET_RAW):
//
//   pha-ndp advertise <ipv6> <dev>   unsolicited neighbour advertisements:
//                                    3 at once, 3 again after a second
//   pha-ndp probe <ipv6> <dev>       who else answers for <ipv6>? A neighbour
//                                    solicitation, one second for answers
//
// Exit: 0 done / nobody else answers; 1 another host answers (its MACs on
// stdout, "answered by 02:…"); 2 usage; 3 cannot (no raw socket, no device).
import net from 'node:net';
import { advertise, probe } from './ndp-socket.js';

function usage(): never {
  process.stderr.write('usage: pha-ndp advertise|probe <ipv6> <dev>   (e.g. pha-ndp advertise 2001:db8::100 eth0)\n');
  process.exit(2);
}

async function main(argv: string[]): Promise<number> {
  const [action, ip, dev] = argv;
  if (argv.length !== 3 || (action !== 'advertise' && action !== 'probe')) usage();
  if (!net.isIPv6(ip!) || ip!.includes('%')) {
    process.stderr.write(`pha-ndp: invalid address '${ip}': expected an IPv6 address without a zone\n`);
    return 2;
  }
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(dev!)) {
    process.stderr.write(`pha-ndp: invalid device name '${dev}'\n`);
    return 2;
  }
  try {
    if (action === 'advertise') return await advertise(ip!, dev!);
    const others = await probe(ip!, dev!);
    if (others.length === 0) return 0;
    process.stdout.write(`answered by ${others.join(' ')}\n`);
    return 1;
  } catch (e) {
    process.stderr.write(`pha-ndp: cannot ${action}: ${(e as Error).message}\n`);
    return 3;
  }
}

process.exitCode = await main(process.argv.slice(2));
