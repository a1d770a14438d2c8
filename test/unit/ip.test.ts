// IP literals of both families (canonical text, bytes) and the neighbour
// discovery packets res/ipaddr's pha-ndp sends for an IPv6 address.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { familyOf, ip6Bytes, ip6Text, ipLiteral, isLinkLocal6, udpType } from '../../src/ip.js';
import { naFor, solicitation, solicitedNode, unsolicitedNa } from '../../src/resources/ndp.js';

test('IPv6 literals: canonical text (RFC 5952), bytes both ways, zones kept; anything else is no literal', () => {
  const cases: [string, string][] = [
    ['2001:DB8:0:0::100', '2001:db8::100'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::1%eth0', 'fe80::1%eth0'],
    ['2001:db8:1:0:0:1:0:0', '2001:db8:1::1:0:0'],
    ['::ffff:198.18.0.1', '::ffff:c612:1'],
    ['198.18.0.1', '198.18.0.1'],
  ];
  for (const [given, canon] of cases) assert.equal(ipLiteral(given), canon, given);
  for (const bad of ['lb1', '2001:db8::1::2', '198.18.0.256', '', 'fe80::1%', '1:2:3:4:5:6:7:8:9'])
    assert.equal(ipLiteral(bad), null, bad);
  assert.equal(ip6Text(ip6Bytes('2001:db8::100')), '2001:db8::100');
  assert.equal(ip6Bytes('2001:db8::100').toString('hex'), '20010db8000000000000000000000100');
  assert.deepEqual(
    [familyOf('198.18.0.1'), familyOf('2001:db8::1'), udpType('::'), udpType('0.0.0.0')],
    [4, 6, 'udp6', 'udp4'],
  );
  assert.deepEqual(
    [isLinkLocal6('fe80::1'), isLinkLocal6('febf::1%eth0'), isLinkLocal6('2001:db8::1')],
    [true, true, false],
  );
});

test('neighbour discovery: an unsolicited NA (Override, target MAC), a solicitation and the answer read back', () => {
  const na = unsolicitedNa('2001:db8::100', '02:00:00:00:00:0a');
  assert.equal(na.length, 32);
  assert.equal(na[0], 136, 'type NA');
  assert.equal(na[4], 0x20, 'Override set, Solicited and Router clear');
  assert.equal(na.subarray(8, 24).toString('hex'), '20010db8000000000000000000000100');
  assert.deepEqual([...na.subarray(24, 32)], [2, 1, 2, 0, 0, 0, 0, 0x0a], 'target link-layer option');
  assert.deepEqual(naFor(na, '2001:db8::100'), { mac: '02:00:00:00:00:0A', solicited: false });
  assert.equal(naFor(na, '2001:db8::101'), null, 'another target');
  const ns = solicitation('2001:db8::100', '02:00:00:00:00:0b');
  assert.deepEqual([ns[0], ns[24]], [135, 1], 'NS with a source link-layer option');
  assert.equal(naFor(ns, '2001:db8::100'), null, 'a solicitation is no answer');
  assert.equal(solicitedNode('2001:db8::abc:1234'), 'ff02::1:ffbc:1234');
  // Malformed answers never throw or loop: a zero-length option, a short message.
  const zero = Buffer.from(na);
  zero[25] = 0;
  assert.deepEqual(naFor(zero, '2001:db8::100'), { mac: null, solicited: false });
  assert.equal(naFor(na.subarray(0, 20), '2001:db8::100'), null);
});

test('address resources: res/ipaddr by its real name (a link res/vip6 → ipaddr too), with address, device and family', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { addressResources } = await import('../../src/resources/vip.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-vip-'));
  try {
    const ipaddr = path.join(dir, 'ipaddr');
    fs.writeFileSync(ipaddr, '#!/bin/sh\n', { mode: 0o755 });
    fs.symlinkSync(ipaddr, path.join(dir, 'vip6'));
    fs.writeFileSync(path.join(dir, 'service'), '#!/bin/sh\n', { mode: 0o755 });
    const res = [
      { name: 'ipaddr', args: ['198.18.0.100/24', 'eth0'], script: ipaddr },
      { name: 'vip6', args: ['2001:db8::100/64', 'eth0'], script: path.join(dir, 'vip6') },
      { name: 'service', args: ['nginx'], script: path.join(dir, 'service') },
    ];
    assert.deepEqual(addressResources(res), [
      { name: 'ipaddr', ip: '198.18.0.100', dev: 'eth0', family: 4 },
      { name: 'vip6', ip: '2001:db8::100', dev: 'eth0', family: 6 },
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
