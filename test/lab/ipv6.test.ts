/**
 * IPv6 end to end on the lab (2001:db8::/64 on the same bridges, never routed
 * out): an IPv6 VIP (res/ipaddr: nodad, unsolicited neighbour advertisements
 * by pha-ndp), a heartbeat over IPv6 only (HB_PATHS), an IPv6 gateway (ICMPv6
 * echo). The pair's scenarios: cold start, host death (the client reaches the
 * VIP on the new holder at once: its neighbour cache was told, not timed
 * out), off, a partition and its heal, the VIP removed behind pha's back; and
 * a dual-stack pair whose IPv4 and IPv6 VIPs move together.
 *
 * Needs root; elsewhere it skips with a message, except with CI=true (fails).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import {
  createLab,
  findPhaRoot,
  IP6,
  type Lab,
  labSupport,
  type NodeName,
  VIP,
  VIP_CIDR,
  VIP6,
  VIP6_CIDR,
} from '../../tools/lab/index.js';
import { NODES, Pair, sleep } from './helpers.js';

const support = await labSupport();
const CI = process.env.CI === 'true';
const skip = support.ok ? false : `network namespaces unavailable (${support.reason}); run as root for the lab tests`;
if (!support.ok && CI) test('lab prerequisites (CI=true: never skip)', () => assert.fail(support.reason));

/**
 * How soon after the new holder added the VIP the client must reach it. The
 * bound a stale cache would break is NUD's: 5 s in DELAY, then probes. The
 * advertisement comes from a Node process res/ipaddr starts (measured in the
 * diagnostic); 1 s leaves room for a slow, loaded machine.
 */
const REACH_WITHIN_MS = 1000;

const V6_CONFIG = {
  GW: IP6.gw,
  HB_PATHS: `lb1:${IP6.lb1} lb2:${IP6.lb2}`,
  RES_ipaddr: `${VIP6_CIDR} eth0`,
};

const pair = new Pair();
let lab: Lab;

before(async () => {
  if (!support.ok) return;
  lab = await createLab({ ipv6: true });
  pair.lab = lab;
  pair.base = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-ipv6-lab-'));
});
after(async () => {
  if (!support.ok) return;
  await pair.stopAll();
  for (const n of NODES) if (lab.installs[n]) await pair.cli(n, ['stop']).catch(() => undefined);
  await lab.destroy();
  if (!process.env.PHA_KEEP) fs.rmSync(pair.base, { recursive: true, force: true });
});
afterEach(async () => {
  if (!support.ok) return;
  await pair.stopAll();
  await lab.faults.heal().catch(() => undefined);
  for (const n of NODES) if (lab.faultState(n).dead) await lab.faults.hostRevive(n);
  for (const n of NODES) {
    if (!lab.installs[n]) continue;
    await pair.cli(n, ['stop']);
    await pair.cli(n, ['res', 'stop']);
  }
});

async function mac(n: NodeName): Promise<string> {
  const r = await lab.run(n, 'cat', ['/sys/class/net/eth0/address']);
  return r.stdout.trim().toLowerCase();
}

/** The client's neighbour entry for the VIP: its MAC, or '' when it has none. */
async function clientSees(vip: string): Promise<string> {
  const r = await lab.run('client', 'ip', ['-6', 'neigh', 'show', vip, 'dev', 'eth0']);
  return /lladdr (\S+)/.exec(r.stdout)?.[1]?.toLowerCase() ?? '';
}

/** Ping the VIP from the client until it answers; ms it took, or a failure after `withinMs`. */
async function clientReaches(vip: string, withinMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    // A short wait: a ping sent before the advertisement arrived goes to the old MAC and is lost.
    const r = await lab.run('client', 'ping', ['-6', '-n', '-c1', '-W0.05', vip], { timeoutMs: 3000 });
    if (r.code === 0) return performance.now() - t0;
    if (performance.now() - t0 > withinMs) assert.fail(`the client did not reach ${vip} within ${withinMs} ms`);
  }
}

/** Nodes holding `vip`, polled every 20 ms until `want` holds; the sets seen on the way. */
async function holdersUntil(want: NodeName[], timeoutMs: number, vip = VIP6): Promise<{ ms: number; seen: string[] }> {
  const t0 = performance.now();
  const seen: string[] = [];
  for (;;) {
    const h = await lab.vipHolders({ effective: true, vip });
    const k = h.join('+') || 'none';
    if (seen.at(-1) !== k) seen.push(k);
    if (h.length === want.length && want.every((n) => h.includes(n))) return { ms: performance.now() - t0, seen };
    if (performance.now() - t0 > timeoutMs)
      assert.fail(`expected [${want}] to hold ${vip} within ${timeoutMs} ms; saw ${seen.join(' → ')}`);
    await sleep(20);
  }
}

async function installV6(extra: Record<string, string> = {}): Promise<void> {
  pair.vip = VIP6;
  await pair.install({ config: () => ({ ...V6_CONFIG, ...extra }) });
}

test('IPv6: cold start, host death (the client follows the VIP at once), the heartbeat and the gateway on IPv6', {
  skip,
}, async (t) => {
  await installV6();
  await pair.steadyPair(); // lb1 first, holds; lb2 joins Standby, hearing ONLINE over IPv6
  assert.equal(pair.status('lb1').GW_OK, 1, 'the IPv6 gateway answers (ICMPv6 echo)');
  assert.equal(pair.status('lb2').RECEIVER_IN, 'ONLINE');
  assert.ok(
    (await lab.run('lb1', 'ip', ['-6', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout.includes(
      `${VIP6}/64 scope global nodad`,
    ),
  );
  await clientReaches(VIP6, 3000);
  assert.equal(await clientSees(VIP6), await mac('lb1'));

  const t0 = performance.now();
  await lab.faults.hostDeath('lb1');
  const took = await holdersUntil(['lb2'], 8000);
  const failoverMs = performance.now() - t0;
  const reach = await clientReaches(VIP6, REACH_WITHIN_MS);
  assert.equal(await clientSees(VIP6), await mac('lb2'), "the client's cache has lb2's MAC");
  t.diagnostic(
    `host death over IPv6: lb2 holds the VIP ${Math.round(failoverMs)} ms after the fault (${took.seen.join(' → ')}); the client reached it ${Math.round(reach)} ms after that`,
  );
  assert.deepEqual(took.seen.slice(-1), ['lb2']);
  assert.ok(!took.seen.includes('lb1+lb2'), `never two holders: ${took.seen.join(' → ')}`);
});

test('IPv6: off hands over at once; a partition makes two holders and its heal leaves lb1; a removed VIP comes back', {
  skip,
}, async () => {
  await installV6();
  await pair.steadyPair();

  // off on lb1: lb2 takes over at once.
  assert.equal((await pair.cli('lb1', ['off'])).code, 0);
  await holdersUntil(['lb2'], 5000);
  assert.equal((await pair.cli('lb1', ['on'])).code, 0);
  await sleep(1500);
  assert.deepEqual(await pair.holders(), ['lb2'], 'on: lb1 stands by, lb2 keeps');

  // The partition: both hold (as over IPv4); the heal: the first in NODES keeps.
  await lab.faults.partition();
  await holdersUntil(['lb1', 'lb2'], 8000);
  await lab.faults.heal();
  await holdersUntil(['lb1'], 8000);

  // The VIP removed behind pha's back: lb1 starts it again at its next round (a local restart).
  await lab.faults.vipRemove('lb1', VIP6_CIDR);
  const back = await holdersUntil(['lb1'], 8000);
  assert.ok(back.seen.includes('none'), `the VIP was gone for a moment: ${back.seen.join(' → ')}`);
  await clientReaches(VIP6, 3000);
});

test('dual stack: an IPv4 and an IPv6 VIP move together at a host death', { skip }, async () => {
  // Two resources of one script: the second under its own name (a link to res/ipaddr).
  pair.vip = VIP6;
  await pair.install({
    config: (_n, dir) => {
      fs.mkdirSync(path.join(dir, 'res'), { recursive: true, mode: 0o755 });
      const link = path.join(dir, 'res', 'vip6');
      if (!fs.existsSync(link)) fs.symlinkSync(path.join(findPhaRoot(), 'res', 'ipaddr'), link);
      return { GW: IP6.gw, RES_ipaddr: `${VIP_CIDR} eth0`, RES_vip6: `${VIP6_CIDR} eth0` };
    },
  });
  await pair.steadyPair();
  assert.deepEqual(await lab.vipHolders({ effective: true, vip: VIP }), ['lb1']);
  await lab.faults.hostDeath('lb1');
  const v4 = holdersUntil(['lb2'], 8000, VIP);
  const v6 = holdersUntil(['lb2'], 8000, VIP6);
  const [a, b] = await Promise.all([v4, v6]);
  assert.ok(
    Math.abs(a.ms - b.ms) < 500,
    `both moved together (IPv4 after ${Math.round(a.ms)} ms, IPv6 ${Math.round(b.ms)} ms)`,
  );
  await clientReaches(VIP6, REACH_WITHIN_MS);
  assert.ok(await lab.ping('client', VIP), 'the IPv4 VIP answers too');
});
