/**
 * The notify hooks on two real nodes (network namespaces, the real
 * res/ipaddr, a real gateway): through a switchover (`off`), a gateway loss
 * and a host death, each node's hooks are called one at a time, in the order
 * of its transitions (PHA_SEQ grows by one; each state call starts from the
 * state the last one ended in), Active after the VIP is up, Standby after it
 * is gone; and the history lists each takeover with its timeline.
 *
 * Needs root; elsewhere it skips with a message, except with CI=true (fails).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createLab, type Lab, labSupport, type NodeName } from '../../tools/lab/index.js';
import { expectWithin } from '../helpers/wait.js';
import { NODES, Pair } from './helpers.js';

const support = await labSupport();
const CI = process.env.CI === 'true';
const skip = support.ok ? false : `network namespaces unavailable (${support.reason}); run as root for the lab tests`;
if (!support.ok && CI) test('lab prerequisites (CI=true: never skip)', () => assert.fail(support.reason));

const pair = new Pair();
let lab: Lab;

before(async () => {
  if (!support.ok) return;
  lab = await createLab();
  pair.lab = lab;
  pair.base = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-notify-lab-'));
});
after(async () => {
  if (!support.ok) return;
  await pair.stopAll();
  for (const n of NODES) if (lab.installs[n]) await pair.cli(n, ['stop']).catch(() => undefined);
  await lab.destroy();
  if (!process.env.PHA_KEEP) fs.rmSync(pair.base, { recursive: true, force: true });
});

// One line per call: PHA_SEQ, <new> <old>, and whether the VIP is on eth0 as the hook runs.
const HOOK = `#!/bin/sh
vip=no; ip -o address show dev eth0 | grep -q ' 198\\.18\\.0\\.100/' && vip=yes
echo "$PHA_SEQ $1 $2 vip=$vip" >> "$(dirname "$0")/../notify.log"
`;

interface Call {
  seq: number;
  now: string;
  old: string;
  vip: string;
}
const calls = (n: NodeName): Call[] => {
  const f = path.join(pair.dir(n), 'notify.log');
  if (!fs.existsSync(f)) return [];
  return fs
    .readFileSync(f, 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const [seq, now, old, vip] = l.split(' ');
      return { seq: Number(seq), now: now!, old: old!, vip: vip!.slice(4) };
    });
};
const told = (n: NodeName, now: string, old: string) => calls(n).some((c) => c.now === now && c.old === old);
const STATES = ['Active', 'Standby', 'FAILED'];

/** In order: PHA_SEQ grows by one, each state call starts where the last one ended, Active with the VIP, Standby without. */
function assertOrdered(n: NodeName): void {
  const cs = calls(n);
  const show = cs.map((c) => `${c.seq} ${c.now} ${c.old} vip=${c.vip}`).join(' | ');
  let state = 'UNKNOWN';
  for (const [i, c] of cs.entries()) {
    assert.equal(c.seq, cs[0]!.seq + i, `${n}: PHA_SEQ grows by one: ${show}`);
    if (!STATES.includes(c.now)) continue;
    assert.equal(c.old, state, `${n}: call #${c.seq} starts from the last state told: ${show}`);
    if (c.now === 'Active') assert.equal(c.vip, 'yes', `${n}: Active is told after the VIP is up: ${show}`);
    if (c.now === 'Standby' && c.old === 'Active')
      assert.equal(c.vip, 'no', `${n}: Standby is told after the VIP is gone: ${show}`);
    state = c.now;
  }
}

test('notify hooks in order on both nodes through off, a gateway loss and a host death', { skip }, async () => {
  await pair.install({ config: () => ({ NOTIFY: 'record' }) });
  for (const n of NODES) {
    fs.mkdirSync(path.join(pair.dir(n), 'res'), { recursive: true });
    fs.writeFileSync(path.join(pair.dir(n), 'res', 'record'), HOOK, { mode: 0o755 });
  }
  await pair.steadyPair();
  await expectWithin('lb1 told Active', () => told('lb1', 'Active', 'Standby'), 5000);
  await expectWithin('lb2 told Standby at its start', () => told('lb2', 'Standby', 'UNKNOWN'), 5000);

  // off on lb1: lb1 Standby (after its stop), lb2 Active (after its start).
  const off = await pair.cli('lb1', ['off']);
  assert.equal(off.code, 0, off.stdout + off.stderr);
  await pair.waitHolders(['lb2'], 5000);
  await expectWithin('lb1 told Standby', () => told('lb1', 'Standby', 'Active'), 5000);
  await expectWithin('lb2 told Active', () => told('lb2', 'Active', 'Standby'), 5000);
  assert.equal((await pair.cli('lb1', ['on'])).code, 0);

  // The gateway lost on lb2 (the holder): it releases, lb1 takes over; then back.
  await lab.faults.gatewayLoss('lb2');
  await pair.waitHolders(['lb1'], 15_000);
  await expectWithin(
    'lb2 told GATEWAY_LOST and Standby',
    () => told('lb2', 'GATEWAY_LOST', 'GATEWAY_OK') && told('lb2', 'Standby', 'Active'),
    5000,
  );
  await expectWithin('lb1 told Active again', () => calls('lb1').filter((c) => c.now === 'Active').length === 2, 5000);
  await lab.faults.gatewayRestore('lb2');
  await expectWithin('lb2 told GATEWAY_OK', () => told('lb2', 'GATEWAY_OK', 'GATEWAY_LOST'), 10_000);

  // Host death of lb1 (the holder): lb2 takes over and is told the peer is lost.
  await lab.faults.hostDeath('lb1');
  await pair.waitHolders(['lb2'], 5000);
  await expectWithin(
    'lb2 told PEER_LOST and Active',
    () => told('lb2', 'PEER_LOST', 'PEER_OK') && calls('lb2').filter((c) => c.now === 'Active').length === 2,
    5000,
  );

  for (const n of NODES) assertOrdered(n);
  // The takeover after the host death, in lb2's history: silent after about DEADTIME, then the start.
  const h = await pair.cli('lb2', ['history', '1', '--json']);
  const e = JSON.parse(h.stdout)[0];
  assert.equal(e.now, 'Active');
  assert.equal(e.timeline.cause, 'silent', h.stdout);
  assert.deepEqual(
    e.timeline.scripts.map((s: { name: string; op: string; ok: boolean }) => [s.name, s.op, s.ok]),
    [['ipaddr', 'start', true]],
  );
  await lab.faults.hostRevive('lb1');
});
