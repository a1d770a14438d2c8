/**
 * Two heartbeat paths (HB_PATHS) on two real bridges: the LAN (br0, eth0) and
 * a heartbeat link (br1, eth1). One path cut, either one: no transition, an
 * alarm on both nodes naming the path, `stat` showing each path; healed: the
 * alarm goes. Both paths cut with the nodes apart: lb2 takes over as with one
 * path, and lb1 keeps the resources after the heal.
 *
 * Needs root; elsewhere it skips with a message, except with CI=true (fails).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { type ExtraFaults, extraFaults } from '../../tools/lab/faults-extra.js';
import { createLab, HB_IPS, HOST_IPS, type Lab, labSupport, type NodeName } from '../../tools/lab/index.js';
import { expectWithin } from '../helpers/wait.js';
import { alarmsOf, NODES, Pair, sleep } from './helpers.js';

const support = await labSupport();
const CI = process.env.CI === 'true';
const skip = support.ok ? false : `network namespaces unavailable (${support.reason}); run as root for the lab tests`;
if (!support.ok && CI) test('lab prerequisites (CI=true: never skip)', () => assert.fail(support.reason));

const HB_PORT = 4711; // the lab's PORT (tools/lab/install.ts)
/** DEADTIME (1 s) and a bus tick, with room for a slow, loaded machine. */
const SEEN_WITHIN_MS = 10_000;
/** How long nothing may move after a single path is cut. */
const QUIET_MS = 4000;

const HB_PATHS = `lb1:${HOST_IPS.lb1},${HB_IPS.lb1} lb2:${HOST_IPS.lb2},${HB_IPS.lb2}`;

const pair = new Pair();
let lab: Lab;
let xf: ExtraFaults;
const hbDown = new Set<NodeName>();

before(async () => {
  if (!support.ok) return;
  lab = await createLab();
  xf = extraFaults(lab);
  pair.lab = lab;
  pair.base = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-paths-lab-'));
});
after(async () => {
  if (!support.ok) return;
  await pair.stopAll();
  await xf.restoreAll().catch(() => undefined);
  for (const n of NODES) if (lab.installs[n]) await pair.cli(n, ['stop']).catch(() => undefined);
  await lab.destroy();
  if (!process.env.PHA_KEEP) fs.rmSync(pair.base, { recursive: true, force: true });
});
afterEach(async () => {
  if (!support.ok) return;
  await pair.stopAll();
  await xf.restoreAll().catch(() => undefined);
  await lab.faults.heal().catch(() => undefined);
  for (const n of hbDown) await lab.faults.hbLinkUp(n);
  hbDown.clear();
  for (const n of NODES) {
    if (!lab.installs[n]) continue;
    await pair.cli(n, ['stop']);
    await pair.cli(n, ['res', 'stop']);
  }
});

const pathAlarms = async (n: NodeName) => alarmsOf((await pair.stat(n)).json).filter((a) => /heartbeat path/.test(a));

/** Both nodes show an alarm for path `p` (1-based), or none when `p` is null. */
async function pathAlarmOnBoth(p: number | null): Promise<void> {
  for (const n of NODES) {
    let last: string[] = [];
    await expectWithin(
      () => `${n}: path alarm ${p ?? 'none'}: ${JSON.stringify(last)}`,
      async () => {
        last = await pathAlarms(n);
        return p === null
          ? last.length === 0
          : last.length === 1 &&
              new RegExp(`^heartbeat path ${p} .* silent since .*heard on 1 of 2 paths`).test(last[0]!);
      },
      SEEN_WITHIN_MS,
    );
  }
}

test('two paths: either one cut is an alarm on both nodes and no transition; both cut with the nodes apart is a failover', {
  skip,
}, async (t) => {
  await pair.install({ config: () => ({ HB_PATHS }) });
  await pair.steadyPair();
  await pathAlarmOnBoth(null);
  const stat = await pair.cli('lb2', ['stat']);
  assert.match(stat.stdout, new RegExp(`heartbeat path 1 ${HOST_IPS.lb1} → ${HOST_IPS.lb2}: heard \\d+\\.\\d s ago`));
  assert.match(stat.stdout, new RegExp(`heartbeat path 2 ${HB_IPS.lb1} → ${HB_IPS.lb2}: heard \\d+\\.\\d s ago`));
  const sampler = await pair.watch();

  // Path 2 (the heartbeat bridge) cut.
  const cut2 = performance.now();
  await lab.faults.hbLinkDown('lb1');
  hbDown.add('lb1');
  await pathAlarmOnBoth(2);
  const seen2 = performance.now() - cut2;
  await sleep(QUIET_MS);
  assert.deepEqual(sampler.changes.map((c) => c.holders.join('+')).slice(1), [], 'nothing moves: path 1 carries');
  assert.deepEqual(await pair.holders(), ['lb1']);
  assert.equal(pair.status('lb2').RECEIVER_IN, 'ONLINE');
  await lab.faults.hbLinkUp('lb1');
  hbDown.delete('lb1');
  await pathAlarmOnBoth(null);

  // Path 1 (the LAN) drops the heartbeat, as a firewall would; path 2 carries.
  for (const n of NODES) await xf.dropHeartbeat(n, HB_PORT);
  await pathAlarmOnBoth(1);
  await sleep(QUIET_MS);
  assert.deepEqual(sampler.changes.map((c) => c.holders.join('+')).slice(1), [], 'nothing moves: path 2 carries');
  for (const n of NODES) await xf.passHeartbeat(n);
  await pathAlarmOnBoth(null);

  // Both paths cut, the nodes apart (the LAN's ports isolated, the heartbeat link down): as with one path.
  const cutAll = performance.now();
  await lab.faults.partition();
  await lab.faults.hbLinkDown('lb1');
  hbDown.add('lb1');
  const took = await pair.waitHolders(['lb1', 'lb2'], 8000);
  t.diagnostic(
    `one path cut: alarm on both nodes within ${Math.round(seen2)} ms; both cut: lb2 took over ${Math.round(performance.now() - cutAll)} ms after the cut (waited ${Math.round(took)} ms)`,
  );
  assert.deepEqual(await pathAlarms('lb2'), [], 'all paths silent is the peer silent, not a path alarm');
  await lab.faults.heal();
  await lab.faults.hbLinkUp('lb1');
  hbDown.delete('lb1');
  await pair.waitHolders(['lb1'], 8000);
});
