/**
 * Fault scenarios on two real nodes (network namespaces, the real res/ipaddr,
 * a real gateway). The nodes are driven through pha-cli as an operator would;
 * the assertions are on the real world: who holds the VIP, what the client reaches.
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
  installNode,
  type Lab,
  labSupport,
  type NodeName,
  readDaemonPids,
  sampleHolders,
} from '../../tools/lab/index.js';
import type { HolderSampler } from '../../tools/lab/vip-watch.js';
import { sleep } from '../helpers/wait.js';

const support = await labSupport();
const CI = process.env.CI === 'true';
const skip = support.ok
  ? false
  : `network namespaces unavailable (${support.reason}); run as root on Linux for the scenario tests`;
if (!support.ok && CI) {
  test('scenario prerequisites (CI=true: never skip)', () => assert.fail(`cannot build the lab: ${support.reason}`));
}

let lab: Lab;
let base: string;
let seq = 0;

before(async () => {
  if (!support.ok) return;
  lab = await createLab();
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-scen-'));
});
after(async () => {
  if (!support.ok) return;
  await lab.destroy();
  if (!process.env.PHA_KEEP) fs.rmSync(base, { recursive: true, force: true });
});

/** Fresh install dirs (empty var/) for both nodes with these config overrides. */
async function install(
  over: Partial<Record<NodeName, Record<string, string | number | null>>> = {},
  common: Record<string, string | number | null> = {},
) {
  seq++;
  for (const n of ['lb1', 'lb2'] as NodeName[]) {
    await installNode(lab, n, {
      installDir: path.join(base, `${seq}-${n}`),
      config: { ...common, ...(over[n] ?? {}) },
    });
  }
}

const holders = () => lab.vipHolders({ effective: true });
async function waitHolders(want: NodeName[], timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const h = await holders();
    if (h.length === want.length && want.every((n) => h.includes(n))) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) assert.fail(`expected holders [${want}] within ${timeoutMs} ms, have [${h}]`);
    await sleep(20);
  }
}

async function cli(node: NodeName, args: string[] | { stdin: string }) {
  const r = await lab.cli(node, args, { timeoutMs: 60_000 });
  return r;
}
/** `stat --json`, or a failure that shows what pha-cli said instead. */
async function statJson(node: NodeName) {
  const r = await cli(node, ['stat', '--json']);
  try {
    return JSON.parse(r.stdout);
  } catch {
    assert.fail(
      `pha-cli stat --json on ${node}: exit ${r.code}, stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`,
    );
  }
}
function status(node: NodeName): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(path.join(lab.installs[node]!.dir, 'var', 'status.dat'), 'utf8'));
  } catch {
    return {};
  }
}

/** The steady pair: lb1 started first (piped shell), lb1 Active, lb2 joins Standby. */
async function steadyPair() {
  const r = await cli('lb1', { stdin: 'start\nq\n' });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  await waitHolders(['lb1'], 6000);
  const r2 = await cli('lb2', ['start']);
  assert.equal(r2.code, 0, r2.stdout + r2.stderr);
  // lb2 has heard lb1 (Standby)
  const t0 = Date.now();
  while (status('lb2').RECEIVER_IN !== 'ONLINE' || status('lb2').STATUS !== 'OFFLINE') {
    if (Date.now() - t0 > 5000) assert.fail(`lb2 did not come up Standby: ${JSON.stringify(status('lb2'))}`);
    await sleep(20);
  }
}

/** Samples effective holders (a dead, frozen or cut-off node is not a holder). */
async function watch(): Promise<HolderSampler> {
  return sampleHolders(lab, 5);
}
function effectiveChanges(s: HolderSampler) {
  return s.changes.map(
    (c) =>
      c.holders
        .filter((n) => {
          const f = lab.faultState(n);
          return !f.dead && !f.frozen && !f.linkDown;
        })
        .join('+') || 'none',
  );
}

afterEach(async () => {
  if (!support.ok) return;
  // Stop pha on both nodes and restore the lab, whatever the test did.
  for (const n of ['lb1', 'lb2'] as NodeName[]) {
    const f = lab.faultState(n);
    if (f.frozen) await lab.faults.thaw(n);
    if (f.dead || f.linkDown) await lab.faults.hostRevive(n);
    if (f.gatewayLost) await lab.faults.gatewayRestore(n);
  }
  if (lab.faultState('lb1').isolated || lab.faultState('lb2').isolated) await lab.faults.heal();
  for (const n of ['lb1', 'lb2'] as NodeName[]) {
    if (!lab.installs[n]) continue;
    await cli(n, ['stop']);
    await cli(n, ['res', 'stop']);
  }
});

/** The client reaches the VIP (three tries: a changed ARP entry may need one). */
async function clientReachesVip(): Promise<boolean> {
  for (let i = 0; i < 3; i++) if (await lab.ping('client', lab.vip, 1)) return true;
  return false;
}

test('cold start of one node, then the other: lb1 Active, lb2 joins Standby, the client reaches the VIP', {
  skip,
}, async () => {
  await install();
  const s0 = await cli('lb1', ['stat', '--json']);
  assert.equal(s0.code, 3, 'stat before start: not running (LSB 3)');
  await steadyPair();
  const w = await watch();
  await sleep(3000);
  await w.stop();
  assert.deepEqual(effectiveChanges(w), ['lb1'], 'no transition after lb2 joined');
  assert.ok(await clientReachesVip());
  const st1 = await statJson('lb1');
  const st2 = await statJson('lb2');
  assert.equal(st1.state, 'Active');
  assert.equal(st2.state, 'Standby');
  assert.equal(st1.status.RES_ipaddr, 'UP');
  assert.equal(st2.status.RES_ipaddr, 'DOWN');
  const shell = await cli('lb2', { stdin: 'stat\nq\n' });
  assert.match(shell.stdout, /\[lb2:Standby\] > /, 'the prompt tells the truth');
});

test('both started at once: exactly one holder (lb1) and no flap', { skip }, async () => {
  await install();
  const w = await watch();
  const [a, b] = await Promise.all([cli('lb1', ['start']), cli('lb2', ['start'])]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  await sleep(8000);
  await w.stop();
  assert.deepEqual(effectiveChanges(w), ['none', 'lb1'], 'one takeover, by the first in NODES, and nothing after');
});

test('host death of the holder: lb2 takes the VIP and the client reaches it', { skip }, async () => {
  await install();
  await steadyPair();
  await lab.faults.hostDeath('lb1');
  await waitHolders(['lb2'], 4000);
  assert.ok(await clientReachesVip(), 'the client reaches the VIP on lb2 (gratuitous ARP)');
});

test('freeze of the holder and thaw: lb2 takes over, the thawed lb1 yields, no flap', { skip }, async () => {
  await install();
  await steadyPair();
  const w = await watch();
  await lab.faults.freeze('lb1');
  await waitHolders(['lb2'], 4000);
  await sleep(1500);
  await lab.faults.thaw('lb1');
  await sleep(4000);
  await w.stop();
  const all = await lab.vipHolders();
  assert.deepEqual(all, ['lb2'], 'the thawed node released the VIP');
  const ch = effectiveChanges(w);
  const firstLb2 = ch.indexOf('lb2');
  assert.ok(firstLb2 > 0, `lb2 took over: ${ch}`);
  assert.ok(
    ch.slice(firstLb2).every((c) => c.includes('lb2')),
    `lb2 never lost the VIP after taking it: ${ch}`,
  );
  assert.equal(ch[ch.length - 1], 'lb2');
  assert.equal(status('lb1').STATUS, 'OFFLINE');
});

/** A resource script `res/<name>` in both nodes' next install dirs; returns its RES_ line's file argument. */
function installScript(name: string, body: string): Record<string, string> {
  for (const n of ['lb1', 'lb2'] as NodeName[]) {
    const dir = path.join(base, `${seq + 1}-${n}`, 'res');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, name), `#!/bin/sh\ncase $1 in ${body} *) exit 2;; esac\n`, { mode: 0o755 });
  }
  return { [`RES_${name}`]: path.join(base, `${name}-${seq + 1}.up`) };
}

/** A resource whose stop takes 300 ms: `off` must wait for it, not guess (the exit code follows the answer). */
const installSlowStop = () =>
  installScript('slowstop', 'start) touch "$2";; stop) sleep 0.3; rm -f "$2";; check) [ -f "$2" ];;');

test('off: handover to lb2 with no instant of two holders; lb1 stays Standby; exit 0 after a slow stop', {
  skip,
}, async () => {
  const slow = installSlowStop();
  await install({
    lb1: { ...slow, RES_slowstop: `${slow.RES_slowstop}.lb1` },
    lb2: { ...slow, RES_slowstop: `${slow.RES_slowstop}.lb2` },
  });
  await steadyPair();
  const w = await watch();
  const r = await cli('lb1', ['off']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /releasing the resources/);
  assert.equal(status('lb1').OFF_RESULT, 'released');
  assert.equal(fs.existsSync(`${slow.RES_slowstop}.lb1`), false, 'the slow resource was stopped before off returned');
  await waitHolders(['lb2'], 3000);
  await sleep(1000);
  await w.stop();
  const ch = effectiveChanges(w);
  assert.ok(!ch.includes('lb1+lb2'), `never two holders: ${ch}`);
  assert.deepEqual(
    ch,
    ['lb1', 'none', 'lb2'].filter((x) => ch.includes(x)),
    `clean handover: ${ch}`,
  );
  assert.ok(await clientReachesVip());
  const st = await statJson('lb1');
  assert.equal(st.state, 'Standby');
  // on a Standby, off says so
  const again = await cli('lb1', ['off']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /Active node only/);
});

/** A resource whose next stop hangs (until RES_TIMEOUT kills it) while `<file>.hang` exists; the stop after it works. */
const installHangStop = () =>
  installScript(
    'hangstop',
    'start) touch "$2";; stop) if [ -f "$2.hang" ]; then rm -f "$2.hang"; sleep 30; fi; rm -f "$2";; check) [ -f "$2" ];;',
  );

test('off whose stop hangs to RES_TIMEOUT: exit 1, lb2 takes over, lb1 stops the hung resource again once lb2 is ONLINE; the VIP never on both', {
  skip,
}, async () => {
  const h = installHangStop();
  const f1 = `${h.RES_hangstop}.lb1`;
  await install({ lb1: { RES_hangstop: f1 }, lb2: { RES_hangstop: `${h.RES_hangstop}.lb2` } }, { RES_TIMEOUT: 2 });
  await steadyPair();
  assert.ok(fs.existsSync(f1), 'lb1 holds hangstop');
  fs.writeFileSync(`${f1}.hang`, '');
  const w = await watch();
  const r = await cli('lb1', ['off']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /stopping hangstop failed/);
  const st = status('lb1');
  assert.equal(st.OFF_RESULT, 'failed');
  // The VIP was stopped (reverse order: after hangstop): lb1 said OFFLINE, a release, and paused.
  assert.equal(st.STATUS, 'OFFLINE');
  assert.equal(st.SENDER_RUN, 0);
  await waitHolders(['lb2'], 5000);
  // lb1 tries the stop again once lb2 is ONLINE (its next round, after a check): this time it works.
  // Until then it holds hangstop beside lb2: a stop that hung cannot be helped.
  const t0 = Date.now();
  while (fs.existsSync(f1) && Date.now() - t0 < 15_000) await sleep(50);
  assert.equal(fs.existsSync(f1), false, 'lb1 stopped hangstop at its next try');
  assert.ok(fs.existsSync(`${h.RES_hangstop}.lb2`), 'lb2 holds hangstop');
  await sleep(1000);
  await w.stop();
  const ch = effectiveChanges(w);
  assert.ok(!ch.includes('lb1+lb2'), `the VIP never on both: ${ch}`);
  assert.equal(ch[ch.length - 1], 'lb2');
  assert.equal((await statJson('lb1')).state, 'Standby');
});

test('partition and heal: both hold during the cut; after heal one holder, lb1, within a round, then stable', {
  skip,
}, async () => {
  await install();
  await steadyPair();
  assert.ok(await clientReachesVip()); // the client has an ARP entry for the VIP
  await lab.faults.partition();
  await waitHolders(['lb1', 'lb2'], 5000); // split brain while cut off from each other
  await sleep(2500); // lb2's gratuitous ARPs (3 in 2 s) move the client to lb2
  const w = await watch();
  await lab.faults.heal();
  await waitHolders(['lb1'], 2000); // within one round (SUPERVISE_INT 1000) and then some
  await sleep(3000);
  await w.stop();
  const ch = effectiveChanges(w);
  assert.deepEqual(ch, ['lb1+lb2', 'lb1'], `no gap and no flap after heal: ${ch}`);
  // lb2 announced itself during the cut; lb1 re-announced after the heal.
  const mac = (await lab.run('lb1', 'cat', ['/sys/class/net/eth0/address'])).stdout.trim();
  const neigh = (await lab.run('client', 'ip', ['neigh', 'show', lab.vip])).stdout;
  assert.ok(neigh.includes(mac), `the client's ARP entry for the VIP points to lb1 (${mac}): ${neigh.trim()}`);
  assert.ok(await clientReachesVip());
});

test('gateway loss on the holder: lb2 takes over, lb1 yields', { skip }, async () => {
  await install();
  await steadyPair();
  await lab.faults.gatewayLoss('lb1');
  await waitHolders(['lb2'], 6000);
  await sleep(2000);
  assert.deepEqual(await holders(), ['lb2'], 'stays on lb2');
  const st = await statJson('lb1');
  assert.equal(st.status.GW_OK, 0);
  // Having yielded, lb1 is a Standby: it keeps sending (its peer must not think it gone).
  assert.equal(st.status.SENDER_MUTE, 0);
  assert.ok(
    st.alarms.some((a: string) => /gateway/.test(a)),
    `alarm: ${st.alarms}`,
  );
  assert.equal(status('lb2').RECEIVER_IN, 'OFFLINE', 'lb2 still hears lb1');
});

test('gateway loss on both nodes: the holder keeps the VIP, nobody grabs it', { skip }, async () => {
  await install();
  await steadyPair();
  const w = await watch();
  await lab.faults.gatewayLoss('lb1');
  await lab.faults.gatewayLoss('lb2');
  await sleep(6000);
  await w.stop();
  assert.deepEqual(effectiveChanges(w), ['lb1'], 'no transition');
  assert.equal(status('lb1').SENDER_MUTE, 1, 'the holder is muted');
  assert.equal(status('lb2').SENDER_MUTE, 0, 'the Standby keeps sending, and takes nothing over');
});

test('resource failure: a VIP removed by hand is restored on the same node within a round', { skip }, async () => {
  await install();
  await steadyPair();
  const w = await watch();
  await lab.faults.vipRemove('lb1');
  await waitHolders(['lb1'], 2500);
  await sleep(1500);
  await w.stop();
  const ch = effectiveChanges(w);
  assert.ok(!ch.some((c) => c.includes('lb2')), `never moved to lb2: ${ch}`);
});

test('a resource whose start keeps failing: restarted locally, then handed over; lb1 is FAILED', { skip }, async () => {
  const flagDir = path.join(base, `flag-${seq + 1}`);
  fs.mkdirSync(flagDir);
  // lb1's second resource lives in flagDir; when it goes, the file can be neither found nor created.
  await install({
    lb1: { RES_test: path.join(flagDir, 'held') },
    lb2: { RES_test: path.join(base, `lb2-held-${seq + 1}`) },
  });
  await steadyPair();
  fs.rmSync(flagDir, { recursive: true });
  await waitHolders(['lb2'], 10_000);
  await sleep(1000);
  assert.deepEqual(await holders(), ['lb2']);
  const st = await cli('lb1', ['stat']);
  assert.match(st.stdout, /FAILED/);
});

test('the documented safe shutdown (stop, res stop on the holder): the peer takes over', { skip }, async () => {
  await install();
  await steadyPair();
  const r = await cli('lb1', { stdin: 'stop\nres stop\nq\n' });
  assert.match(r.stdout, /WARNING: resources still UP on this node: ipaddr/);
  await waitHolders(['lb2'], 4000);
  assert.ok(await clientReachesVip());
});

test('daemon crash: supervise killed on the holder — the VIP stays, the peer waits; the node restarts it by itself', {
  skip,
}, async () => {
  await install();
  await steadyPair();
  const pids = await readDaemonPids(lab.installs.lb1!);
  const w = await watch();
  await lab.faults.kill([pids.supervise]);
  await sleep(4000);
  const st = await statJson('lb1');
  assert.ok(
    st.pids.supervise > 0 && st.pids.supervise !== pids.supervise,
    `supervise restarted with a new pid: ${JSON.stringify(st.pids)}`,
  );
  assert.ok(
    st.alarms.some((a: string) => /supervise died and was restarted/.test(a)),
    `alarm: ${st.alarms}`,
  );
  await sleep(1000);
  await w.stop();
  assert.deepEqual(effectiveChanges(w), ['lb1'], 'the VIP never moved');
  assert.equal(status('lb2').RECEIVER_IN, 'ONLINE');
});
