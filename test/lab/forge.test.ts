// The lab's forger (tools/lab/forge.ts): the datagrams it builds and the
// addresses it refuses. Pure: no root, no sockets.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildDatagram, forgeableAddress, inetChecksum } from '../../tools/lab/forge.js';

test('forge: IPv4 and UDP checksums verify; fields in place', () => {
  for (const payload of [Buffer.from('ONLINE'), Buffer.from('OFFLINE'), Buffer.alloc(0), Buffer.from('PHA\x01')]) {
    const d = buildDatagram('198.18.0.11', '198.18.0.12', 4711, 4712, payload, 0x1234);
    assert.equal(d.length, 28 + payload.length);
    assert.equal(d[0], 0x45);
    assert.equal(d.readUInt16BE(2), d.length);
    assert.equal(d[9], 17);
    assert.equal(inetChecksum(d.subarray(0, 20)), 0, 'IP header checksum verifies');
    const pseudo = Buffer.from([198, 18, 0, 11, 198, 18, 0, 12, 0, 17, 0, 8 + payload.length]);
    assert.equal(inetChecksum(pseudo, d.subarray(20)), 0, 'UDP checksum verifies');
    assert.equal(d.readUInt16BE(20), 4711);
    assert.equal(d.readUInt16BE(22), 4712);
    assert.deepEqual(d.subarray(28), payload);
  }
});

test('forge: only host addresses of the lab /24 are forgeable', () => {
  for (const a of ['198.18.0.11', '198.18.0.12', '198.18.0.50', '198.18.0.1', '198.18.0.254'])
    assert.ok(forgeableAddress(a), a);
  for (const a of [
    '198.18.0.0',
    '198.18.0.255',
    '198.18.1.11',
    '198.19.0.11',
    '10.0.0.1',
    '192.0.2.1',
    '127.0.0.1',
    '255.255.255.255',
    '224.0.0.18',
    'lb1',
    '198.18.0.256',
    '',
  ])
    assert.ok(!forgeableAddress(a), a);
});
