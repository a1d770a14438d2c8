/**
 * The etcd witness (WITNESS, rule 13) with a real etcd (Debian's etcd-server)
 * started by this file in the lab's third namespace ("client", 198.18.0.50),
 * tuned as the README asks (--election-timeout 500 --heartbeat-interval 50, so
 * a 1 s lease TTL), its data in a temporary directory removed on every exit
 * path. The cases: host death (lb2 takes over once lb1's lease ran out); a
 * full partition with the witness reachable from lb1 only (lb2 never takes
 * over: zero two-holder time over a 30 s cut); the witness killed under a
 * steady pair (no transition, the alarm on both nodes); the witness killed and
 * then the holder's host dying (nobody takes over: the documented price); the
 * witness unreachable at start (the pair starts, alarms, holds nothing until
 * it is back; then whoever gets the lock first).
 *
 * Needs root and etcd; elsewhere it skips with a message, except with CI=true (fails).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { ETCD_IP, etcdBinary, LAB_WITNESS, LAB_WITNESS_TTL, type LabEtcd, startLabEtcd } from '../../tools/lab/etcd.js';
import { createLab, type Lab, labSupport, type NodeName } from '../../tools/lab/index.js';
import { alarmsOf, NODES, Pair, sleep } from './helpers.js';

const support = await labSupport();
const CI = process.env.CI === 'true';
const skip = !support.ok
  ? `network namespaces unavailable (${support.reason}); run as root for the lab tests`
  : !etcdBinary()
    ? 'etcd not installed (apt-get install --no-install-recommends etcd-server)'
    : false;
if (skip && CI) test('lab and etcd prerequisites (CI=true: never skip)', () => assert.fail(String(skip)));

const pair = new Pair();
let lab: Lab;
let etcd: LabEtcd | null = null;
const cuts: Array<[NodeName, string]> = []; // blackhole routes to remove

/** Nothing reaches `to` from `from` (a blackhole route: the packets are dropped on the way out). */
async function cut(from: NodeName, to: string): Promise<void> {
  const r = await lab.run(from, 'ip', ['route', 'add', 'blackhole', `${to}/32`]);
  assert.equal(r.code, 0, r.stderr);
  cuts.push([from, to]);
}
async function healCuts(): Promise<void> {
  for (const [from, to] of cuts.splice(0)) await lab.run(from, 'ip', ['route', 'del', 'blackhole', `${to}/32`]);
}

before(async () => {
  if (skip) return;
  lab = await createLab();
  pair.lab = lab;
  pair.base = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-witness-lab-'));
});
after(async () => {
  if (skip) return;
  await pair.stopAll();
  await healCuts().catch(() => undefined);
  for (const n of NODES) if (lab.installs[n]) await pair.cli(n, ['stop']).catch(() => undefined);
  await etcd?.remove().catch(() => undefined);
  await lab.destroy();
  if (!process.env.PHA_KEEP) fs.rmSync(pair.base, { recursive: true, force: true });
});
afterEach(async () => {
  if (skip) return;
  await pair.stopAll();
  await healCuts().catch(() => undefined);
  for (const n of NODES) {
    if (lab.faultState(n).dead) await lab.faults.hostRevive(n);
    if (!lab.installs[n]) continue;
    await pair.cli(n, ['stop']);
    await pair.cli(n, ['res', 'stop']);
  }
  await etcd?.remove();
  etcd = null;
});

/** A fresh etcd and a steady pair with the witness: lb1 Active and holding the lock, lb2 Standby. */
async function steadyWithWitness(): Promise<void> {
  etcd = await startLabEtcd(lab);
  await pair.install({ config: () => ({ WITNESS: LAB_WITNESS, WITNESS_TTL: LAB_WITNESS_TTL }) });
  await pair.steadyPair();
  await waitKey('lb1', 'held', 5000);
  await waitKey('lb2', 'other:lb1', 5000);
}

async function waitKey(n: NodeName, want: string, timeoutMs: number): Promise<void> {
  const t0 = performance.now();
  while (pair.status(n).WITNESS !== want) {
    if (performance.now() - t0 > timeoutMs)
      assert.fail(`${n}: WITNESS=${want} expected within ${timeoutMs} ms: ${JSON.stringify(pair.status(n))}`);
    await sleep(50);
  }
}

async function waitAlarm(n: NodeName, re: RegExp, timeoutMs: number): Promise<string> {
  const t0 = performance.now();
  for (;;) {
    const s = await pair.stat(n);
    const a = alarmsOf(s.json).find((x) => re.test(x));
    if (a) return a;
    if (performance.now() - t0 > timeoutMs) assert.fail(`${n}: no alarm ${re} within ${timeoutMs} ms: ${s.raw}`);
    await sleep(200);
  }
}

test('host death with the witness: lb2 takes over once lb1 is silent and its lease has run out', {
  skip,
  timeout: 120_000,
}, async () => {
  await steadyWithWitness();
  const w = await pair.watch();
  const t = await lab.faults.hostDeath('lb1');
  await pair.waitHolders(['lb2'], 10_000);
  await sleep(100);
  const fromDeath = w.changes.find((c) => c.holders.includes('lb2'))!.t - t.start;
  await waitKey('lb2', 'held', 2000);
  assert.equal(pair.twoHolderMs(w), 0);
  assert.match(String(pair.status('lb2').REASON ?? ''), /witness|peer/);
  console.log(`# witness host death: VIP on lb2 ${Math.round(fromDeath)} ms after lb1 died (TTL ${LAB_WITNESS_TTL} s)`);
});

test('full partition, the witness reachable from lb1 only: lb2 never takes over (30 s)', {
  skip,
  timeout: 120_000,
}, async () => {
  await steadyWithWitness();
  const w = await pair.watch();
  await cut('lb1', '198.18.0.12');
  await cut('lb2', '198.18.0.11');
  await cut('lb2', ETCD_IP);
  const alarm = await waitAlarm('lb2', /witness unreachable/, 10_000);
  await sleep(30_000);
  const during = pair.effectiveChanges(w);
  assert.deepEqual(during, ['lb1'], `holders during the cut: ${during.join(' → ')}`);
  assert.equal(pair.twoHolderMs(w), 0);
  assert.equal(pair.status('lb1').WITNESS, 'held');
  assert.match(String(pair.status('lb2').REASON), /witness is unreachable/);
  await healCuts();
  await sleep(3000);
  assert.deepEqual(pair.effectiveChanges(w), ['lb1']);
  console.log(`# witness partition: lb1 alone for 30 s, lb2's alarm: ${alarm}`);
});

test('the witness killed under a steady pair: no transition, the alarm on both nodes', {
  skip,
  timeout: 120_000,
}, async () => {
  await steadyWithWitness();
  const w = await pair.watch();
  await etcd!.kill();
  const a1 = await waitAlarm('lb1', /witness unreachable/, 10_000);
  const a2 = await waitAlarm('lb2', /witness unreachable/, 10_000);
  await sleep(5000);
  assert.deepEqual(pair.effectiveChanges(w), ['lb1']);
  assert.equal(pair.status('lb1').WITNESS, 'unreachable');
  assert.equal(pair.status('lb1').STATUS, 'ONLINE');
  console.log(`# witness killed: lb1 "${a1}", lb2 "${a2}"`);
});

test('the witness killed, then the holder dies: nobody takes over (the documented price)', {
  skip,
  timeout: 120_000,
}, async () => {
  await steadyWithWitness();
  await etcd!.kill();
  await waitAlarm('lb2', /witness unreachable/, 10_000);
  const w = await pair.watch();
  await lab.faults.hostDeath('lb1');
  await sleep(10_000);
  assert.deepEqual(
    pair.effectiveChanges(w).filter((h) => h !== 'lb1'),
    ['none'],
    pair.effectiveChanges(w).join(' → '),
  );
  assert.match(String(pair.status('lb2').REASON), /witness is unreachable/);
  assert.ok(alarmsOf((await pair.stat('lb2')).json).some((a) => /witness unreachable/.test(a)));
});

test('the witness unreachable at start: the pair starts anyway, alarms and holds nothing; the witness back: one takes over', {
  skip,
  timeout: 120_000,
}, async () => {
  await pair.install({ config: () => ({ WITNESS: LAB_WITNESS, WITNESS_TTL: LAB_WITNESS_TTL }) });
  const w = await pair.watch();
  for (const n of NODES) {
    const r = await pair.cli(n, ['start']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }
  await waitAlarm('lb1', /witness unreachable/, 10_000);
  await waitAlarm('lb2', /witness unreachable/, 10_000);
  await sleep(3000);
  assert.deepEqual(pair.effectiveChanges(w), ['none']);
  assert.match(String(pair.status('lb1').REASON), /witness is unreachable/);
  etcd = await startLabEtcd(lab);
  // Both waited past their both-OFFLINE turn: whoever gets the lock first holds (rule 13 e).
  const t0 = performance.now();
  while ((await pair.holders()).length !== 1) {
    if (performance.now() - t0 > 15_000) assert.fail(`no single holder 15 s after etcd came up`);
    await sleep(50);
  }
  const [holder] = await pair.holders();
  await waitKey(holder!, 'held', 5000);
  await sleep(2000);
  assert.deepEqual(pair.effectiveChanges(w), ['none', holder]);
  assert.equal(pair.twoHolderMs(w), 0);
});
