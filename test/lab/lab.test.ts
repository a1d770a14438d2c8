/**
 * The network-namespace lab itself: topology, host identity, faults, VIP
 * observation, install dirs, and removal on every exit path.
 *
 * Needs root and network namespaces. Elsewhere it skips with a message,
 * except with CI=true, where it fails instead.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  createLab,
  installNode,
  LAB_RUN_DIR,
  type Lab,
  labSupport,
  sampleHolders,
  sweepLeftovers,
  watchVip,
} from '../../tools/lab/index.js';
import { sleep, waitFor } from '../helpers/wait.js';

const support = await labSupport();
const CI = process.env.CI === 'true';
const skip = support.ok
  ? false
  : `network namespaces unavailable here (${support.reason}); run as root on Linux to test the lab`;

if (!support.ok) {
  if (CI) {
    test('lab prerequisites (CI=true: the lab tests never skip)', () => {
      assert.fail(`cannot build the lab: ${support.reason}`);
    });
  } else {
    test('lab prerequisites', { skip }, () => {});
  }
}

function leftovers(prefix: string): { ns: string[]; etc: string[]; pidFile: boolean } {
  const ls = (d: string): string[] => (existsSync(d) ? readdirSync(d) : []);
  return {
    ns: ls('/run/netns').filter((n) => n.startsWith(prefix)),
    etc: ls('/etc/netns').filter((n) => n.startsWith(prefix)),
    pidFile: existsSync(join(LAB_RUN_DIR, `${prefix}.pid`)),
  };
}

/** Process state letter from /proc, or null when gone (a zombie counts as gone). */
function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const st = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return st === 'Z' || st === 'X' ? null : st;
  } catch {
    return null;
  }
}

async function waitGone(pids: number[], ms = 2000): Promise<number[]> {
  const end = Date.now() + ms;
  for (;;) {
    const alive = pids.filter((p) => procState(p) !== null);
    if (alive.length === 0 || Date.now() > end) return alive;
    await sleep(20);
  }
}

/** Stand-in for bin/pha-cli.js: echoes what it got; `start` leaves a daemon holding stdout. (CommonJS: no package.json beside it.) */
const FAKE_CLI = `
const { spawn } = require('node:child_process');
let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  let daemon = 0;
  if (process.argv[2] === 'start') {
    const c = spawn('sleep', ['30'], { detached: true, stdio: ['ignore', 'inherit', 'inherit'] });
    daemon = c.pid;
    c.unref();
  }
  console.log(JSON.stringify({ argv: process.argv.slice(2), NODENAME: process.env.NODENAME,
    PHA_CONFIG: process.env.PHA_CONFIG, host: require('node:os').hostname(), input, ...(daemon ? { daemon } : {}) }));
});
`;

/** A positive ping may need a fresh ARP resolution: allow a retry. */
async function reaches(lab: Lab, from: Parameters<Lab['ping']>[0], to: string): Promise<boolean> {
  for (let i = 0; i < 3; i++) if (await lab.ping(from, to, 1)) return true;
  return false;
}

describe('network-namespace lab', { skip: !support.ok, timeout: 60_000 }, () => {
  let lab: Lab;
  before(async () => {
    lab = await createLab();
  });
  after(async () => {
    await lab?.destroy();
  });

  it('puts lb1, lb2, gw and client on one bridge with a default route via gw', async () => {
    assert.match(lab.prefix, /^pha[0-9a-f]{6}-$/);
    assert.ok(await reaches(lab, 'lb1', 'gw'), 'lb1 -> gw');
    assert.ok(await reaches(lab, 'lb1', 'lb2'), 'lb1 -> lb2');
    assert.ok(await reaches(lab, 'lb2', 'gw'), 'lb2 -> gw');
    assert.ok(await reaches(lab, 'client', 'gw'), 'client -> gw');
    const route = await lab.run('lb1', 'ip', ['-4', 'route', 'show', 'default']);
    assert.match(route.stdout, /default via 198\.18\.0\.1 dev eth0/);
    const addr = await lab.run('client', 'ip', ['-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    assert.match(addr.stdout, /inet 198\.18\.0\.50\/24/);
  });

  it('gives each node its own host name, NODENAME and /etc/hosts', async () => {
    for (const node of ['lb1', 'lb2'] as const) {
      const r = await lab.run(node, 'sh', ['-c', 'hostname; echo "$NODENAME"; getent hosts lb1 lb2 gw']);
      assert.equal(r.code, 0, r.stderr);
      const [name, env, ...hosts] = r.stdout.trim().split('\n');
      assert.equal(name, node);
      assert.equal(env, node);
      assert.deepEqual(
        hosts.map((l) => l.split(/\s+/).slice(0, 2).join(' ')),
        ['198.18.0.11 lb1', '198.18.0.12 lb2', '198.18.0.1 gw'],
      );
    }
    // The machine's own name is untouched, and the node name also shows through nsenter directly.
    assert.notEqual(hostname(), 'lb1');
    const viaNsenter = await lab.run('lb2', 'nsenter', [`--uts=/proc/${lab.nodes.lb2.keeperPid}/ns/uts`, 'hostname']);
    assert.equal(viaNsenter.stdout.trim(), 'lb2');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell variable, expanded by sh
    assert.equal((await lab.run('gw', 'sh', ['-c', 'echo "${NODENAME:-none}"'])).stdout.trim(), 'none');
  });

  it('partition cuts lb1 <-> lb2 only; heal restores it', async () => {
    await lab.faults.partition();
    const [a, b, c, d, e, f] = await Promise.all([
      lab.ping('lb1', 'lb2'),
      lab.ping('lb2', 'lb1'),
      lab.ping('lb1', 'gw'),
      lab.ping('lb2', 'gw'),
      lab.ping('lb1', 'client'),
      lab.ping('lb2', 'client'),
    ]);
    assert.deepEqual({ a, b, c, d, e, f }, { a: false, b: false, c: true, d: true, e: true, f: true });
    assert.equal(lab.faultState('lb1').isolated, true);
    await lab.faults.heal();
    assert.ok(await reaches(lab, 'lb1', 'lb2'), 'lb1 -> lb2 after heal');
    assert.ok(await reaches(lab, 'lb2', 'lb1'), 'lb2 -> lb1 after heal');
  });

  it("gateway loss makes the node's ping fail at once; restore brings it back", async () => {
    await lab.faults.gatewayLoss('lb1');
    const t0 = performance.now();
    const lost = await lab.ping('lb1', 'gw', 1);
    const ms = performance.now() - t0;
    assert.equal(lost, false);
    assert.ok(ms < 1000, `ping failed after ${ms.toFixed(0)} ms`);
    assert.ok(await lab.ping('lb2', 'gw'), 'lb2 keeps its gateway');
    assert.ok(await lab.ping('lb1', 'lb2'), 'lb1 still reaches lb2');
    await lab.faults.gatewayRestore('lb1');
    assert.ok(await reaches(lab, 'lb1', 'gw'), 'lb1 -> gw after restore');
  });

  it('sees who holds the VIP (query, monitor and sampler); the client reaches it', async () => {
    const watch = await watchVip(lab);
    const sampler = await sampleHolders(lab, 5);
    try {
      assert.deepEqual(await lab.vipHolders(), []);
      assert.deepEqual(watch.holders(), []);
      const add = await lab.run('lb1', 'ip', ['addr', 'add', '198.18.0.100/24', 'dev', 'eth0']);
      assert.equal(add.code, 0, add.stderr);
      assert.deepEqual(await lab.vipHolders(), ['lb1']);
      assert.ok(await reaches(lab, 'client', lab.vip), 'client -> VIP');
      assert.ok(await waitFor(() => watch.holders().join() === 'lb1', 2000), 'monitor saw the add');
      assert.ok(await waitFor(() => sampler.holders().join() === 'lb1', 2000), 'sampler saw the add');
      assert.equal(watch.events.at(-1)?.kind, 'add');
      assert.equal(watch.events.at(-1)?.node, 'lb1');

      const removed = await lab.faults.vipRemove('lb1');
      assert.ok(await waitFor(() => watch.holders().length === 0, 2000), 'monitor saw the delete');
      const del = watch.events.at(-1)!;
      assert.equal(del.kind, 'del');
      assert.ok(del.t >= removed.start, 'event stamped after the fault started');
      assert.ok(await waitFor(() => sampler.holders().length === 0, 2000), 'sampler saw the delete');
      assert.ok(sampler.count > 3);
      assert.deepEqual(
        watch.changes.map((c) => c.holders.join()),
        ['', 'lb1', ''],
      );
    } finally {
      await watch.stop();
      await sampler.stop();
    }
  });

  it('freezes, kills and revives a node; tooling and host name survive', async (t) => {
    const watch = await watchVip(lab);
    const sampler = await sampleHolders(lab, 5);
    t.after(async () => {
      await watch.stop();
      await sampler.stop();
    });
    await lab.run('lb2', 'ip', ['addr', 'add', '198.18.0.100/24', 'dev', 'eth0']);
    const sleeper = lab.spawn('lb2', 'sleep', ['1000'], { stdio: 'ignore' });
    const pid = sleeper.pid!;
    assert.ok(await waitFor(async () => (await lab.pids('lb2')).includes(pid), 2000), 'sleeper is in lb2');
    await lab.faults.freeze('lb2');
    assert.equal(procState(pid), 'T');
    assert.deepEqual(await lab.vipHolders({ effective: true }), []);
    await lab.faults.thaw('lb2');
    assert.notEqual(procState(pid), 'T');
    assert.deepEqual(await lab.vipHolders({ effective: true }), ['lb2']);

    const keeper = lab.nodes.lb2.keeperPid;
    await lab.faults.hostDeath('lb2');
    assert.deepEqual(await waitGone([pid]), [], 'processes in lb2 are SIGKILLed');
    assert.notEqual(procState(keeper), null, 'the host name keeper is lab tooling and stays');
    assert.equal(lab.faultState('lb2').dead, true);
    assert.deepEqual(await lab.vipHolders(), ['lb2'], 'a dead node keeps its address');
    assert.deepEqual(await lab.vipHolders({ effective: true }), []);
    assert.equal(await lab.ping('lb1', 'lb2'), false);

    const samples = sampler.count;
    await lab.faults.hostRevive('lb2');
    assert.deepEqual(await lab.vipHolders(), [], 'a revived node comes up without the VIP');
    // The observers are lab tooling: neither the freeze nor the death of lb2 touched them.
    assert.ok(await waitFor(() => watch.holders().length === 0 && sampler.holders().length === 0, 2000));
    assert.deepEqual(
      watch.events.filter((e) => e.node === 'lb2').map((e) => e.kind),
      ['add', 'del'],
    );
    assert.ok(sampler.count > samples, 'the sampler kept sampling');
    assert.ok(await reaches(lab, 'lb1', 'lb2'), 'lb1 -> lb2 after revive');
    assert.ok(await reaches(lab, 'lb2', 'gw'), 'lb2 -> gw after revive (default route back)');
    assert.equal((await lab.run('lb2', 'hostname')).stdout.trim(), 'lb2');
  });

  it('writes an install dir for pha and refuses cli() without one', async () => {
    const inst = await installNode(lab, 'lb2', {
      config: { HEARTBEAT_INT: 50, DEADTIME: 200, PORT: 4712, DAEMON: null },
    });
    const text = readFileSync(inst.configPath, 'utf8');
    const lines = text.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(lines, [
      `INSTALLDIR=${inst.dir}`,
      `LOGPATH=${inst.dir}/var/log`,
      'PINGTIMEOUT=0.5',
      'PORT=4712',
      'SUPERVISE_INT=1000',
      'NODES=lb1 lb2',
      'NODENAME=lb2',
      'GW=198.18.0.1',
      'RES_ipaddr=198.18.0.100/24 eth0',
      'HEARTBEAT_INT=50',
      'DEADTIME=200',
    ]);
    assert.ok(existsSync(join(inst.dir, 'var', 'run')));
    assert.ok(inst.cliPath.endsWith('/bin/pha-cli.js'));
    assert.equal(lab.installs.lb2, inst);
    assert.throws(() => lab.cli('lb1', ['stat']), /installNode/);

    // cli() with a stand-in pha-cli (the real one is tested by the scenario tests).
    const fakeRoot = mkdtempSync(join(tmpdir(), 'phafake-'));
    try {
      mkdirSync(join(fakeRoot, 'bin'));
      writeFileSync(join(fakeRoot, 'bin', 'pha-cli.js'), FAKE_CLI);
      const fake = await installNode(lab, 'lb2', { phaRoot: fakeRoot });
      const one = await lab.cli('lb2', ['stat', '--json']);
      assert.equal(one.code, 0, one.stderr);
      assert.deepEqual(JSON.parse(one.stdout), {
        argv: ['stat', '--json'],
        NODENAME: 'lb2',
        PHA_CONFIG: fake.configPath,
        host: 'lb2',
        input: '',
      });
      const piped = await lab.cli('lb2', { stdin: 'start\nq\n' });
      assert.equal(JSON.parse(piped.stdout).input, 'start\nq\n');
      // A daemon that keeps the inherited stdout open does not make cli() wait for it.
      const started = await lab.cli('lb2', ['start'], { timeoutMs: 5000 });
      assert.equal(started.code, 0);
      assert.equal(started.timedOut, false);
      assert.ok(started.ms < 2000, `cli start took ${started.ms.toFixed(0)} ms`);
      const daemon = Number(JSON.parse(started.stdout).daemon);
      assert.ok((await lab.pids('lb2')).includes(daemon), 'the daemon runs inside lb2 (destroy kills it)');
    } finally {
      rmSync(fakeRoot, { recursive: true, force: true });
    }
    await assert.rejects(lab.ping('lb1', '10.0.0.1'), /only 198\.18\.0\.0\/15/);
  });

  it('destroy() removes every namespace, /etc/netns dir, pid file and owned install dir', async () => {
    const keepers = [lab.nodes.lb1.keeperPid, lab.nodes.lb2.keeperPid];
    const dir = lab.installs.lb2!.dir;
    await lab.destroy();
    await lab.destroy(); // idempotent
    assert.deepEqual(leftovers(lab.prefix), { ns: [], etc: [], pidFile: false });
    const list = await new Promise<string>((resolve) => {
      const c = spawn('ip', ['netns', 'list'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      c.on('close', () => resolve(out));
    });
    assert.ok(!list.includes(lab.prefix), list);
    assert.equal(existsSync(dir), false);
    assert.deepEqual(await waitGone(keepers), []);
    await assert.rejects(lab.run('lb1', 'true'), /destroyed/);
  });
});

describe('lab cleanup on exit paths', { skip: !support.ok, timeout: 60_000 }, () => {
  const childScript = fileURLToPath(new URL('./lab-child.js', import.meta.url));
  interface ChildInfo {
    prefix: string;
    namespaces: string[];
    pids: number[];
    installDir: string;
  }

  async function startChild(): Promise<{
    info: ChildInfo;
    child: ReturnType<typeof spawn>;
    exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  }> {
    const child = spawn(process.execPath, [childScript], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const info = await new Promise<ChildInfo>((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error('child did not build its lab in 20 s')), 20_000);
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const nl = buf.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          resolve(JSON.parse(buf.slice(0, nl)) as ChildInfo);
        }
      });
      void exited.then((r) => {
        clearTimeout(timer);
        reject(new Error(`child exited early: ${JSON.stringify(r)}`));
      });
    });
    return { info, child, exited };
  }

  it('SIGINT: the child removes its lab and dies by the signal', async () => {
    const { info, child, exited } = await startChild();
    assert.equal(leftovers(info.prefix).ns.length, 5);
    assert.ok(existsSync(info.installDir));
    child.kill('SIGINT');
    const r = await exited;
    assert.ok(r.signal === 'SIGINT' || r.code === 130, `exit ${JSON.stringify(r)}`);
    assert.deepEqual(leftovers(info.prefix), { ns: [], etc: [], pidFile: false });
    assert.equal(existsSync(info.installDir), false);
    assert.deepEqual(await waitGone(info.pids), [], 'keepers and spawned processes are gone');
  });

  it('SIGTERM: the same', async () => {
    const { info, child, exited } = await startChild();
    child.kill('SIGTERM');
    const r = await exited;
    assert.ok(r.signal === 'SIGTERM' || r.code === 143, `exit ${JSON.stringify(r)}`);
    assert.deepEqual(leftovers(info.prefix), { ns: [], etc: [], pidFile: false });
    assert.deepEqual(await waitGone(info.pids), []);
  });

  it('SIGKILL: the leftovers are removed by sweepLeftovers()', async () => {
    const { info, child, exited } = await startChild();
    child.kill('SIGKILL');
    await exited;
    const before = leftovers(info.prefix);
    assert.equal(before.ns.length, 5, 'a SIGKILLed run cannot clean up');
    assert.equal(before.pidFile, true);
    assert.ok(
      info.pids.every((p) => procState(p) !== null),
      'its keepers and processes outlive it',
    );
    const swept = await sweepLeftovers();
    assert.ok(swept.includes(info.prefix), `swept ${JSON.stringify(swept)}`);
    assert.deepEqual(leftovers(info.prefix), { ns: [], etc: [], pidFile: false });
    assert.equal(existsSync(info.installDir), false);
    assert.deepEqual(await waitGone(info.pids), []);
  });
});
