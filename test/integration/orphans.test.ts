// A script orphaned by a killed supervise (issue 21): a supervise-like owner
// process starts a slow start script through the real runner and records, and
// is killed -9 (or frozen); the next supervise's start, or the fencing sender,
// kills the script's process group before the script could bring anything up
// (it would touch a file after a few seconds).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { buildConfig, type Config, parseConfigText, runDir } from '../../src/config/index.js';
import { Alarms } from '../../src/daemon/alarms.js';
import { scriptsDir } from '../../src/resources/orphans.js';
import { startSender } from '../../src/sender/shell.js';
import { StatusStore } from '../../src/status-store/index.js';
import { startSupervise } from '../../src/supervise/shell.js';
import { expectWithin, sleep } from '../helpers/wait.js';

const OWNER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'orphan-owner.js');

async function setup(delayS: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-orphans-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const marker = path.join(dir, 'came-up');
  // start orphan: the owner's call (slow, then "brings the resource up"); the daemons' own calls are quick.
  const script = path.join(dir, 'slowres');
  fs.writeFileSync(
    script,
    `#!/bin/sh\ncase "$1 $2" in\n  "start orphan") sleep ${delayS}; touch ${marker} ;;\n  check*) exit 1 ;;\nesac\nexit 0\n`,
    { mode: 0o755 },
  );
  const file = path.join(dir, 'etc', 'config');
  const text = `INSTALLDIR=${dir}\nNODES=127.0.0.1 127.0.0.2\nNODENAME=127.0.0.1\nPORT=47981\nHEARTBEAT_INT=50\nDEADTIME=200\nSUPERVISE_INT=300\nRES_TIMEOUT=20\nRES_RESTARTS=0\nRES_test=${script}\n`;
  const config: Config = await buildConfig(parseConfigText(text, file), { env: {} });
  fs.mkdirSync(runDir(config), { recursive: true });
  const store = new StatusStore({ file: path.join(dir, 'var', 'status.dat'), onProblem: () => {} });
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => void logs.push(JSON.parse(l).msg) });
  return { config, store, logs, log, marker, script };
}

/** The owner process and the pgid of the script it runs (once recorded). */
async function owner(config: Config, script: string): Promise<{ proc: ChildProcess; pgid: number }> {
  const proc = spawn(process.execPath, [OWNER, scriptsDir(runDir(config)), script, 'start', 'orphan'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  after(() => {
    try {
      proc.kill('SIGKILL');
    } catch {
      /* gone */
    }
  });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  await expectWithin('the owner running its script', () => /running \d+/.test(out), 5000);
  const pgid = Number(/running (\d+)/.exec(out)![1]);
  after(() => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  return { proc, pgid };
}

/** Is any process of group `pgid` left? */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('orphaned resource scripts', () => {
  it('the next supervise kills the start script of a supervise killed -9, before it decides anything', async () => {
    const { config, store, logs, log, marker, script } = await setup(3);
    const o = await owner(config, script);
    o.proc.kill('SIGKILL');
    await expectWithin('the owner dead', () => o.proc.signalCode !== null, 2000);
    assert.ok(groupAlive(o.pgid), 'the orphan runs on unsupervised');
    const alarms = new Alarms();
    const sup = await startSupervise({ config, log, store, alarms, pinger: null });
    try {
      await expectWithin('the orphan killed', () => !groupAlive(o.pgid), 1000);
      assert.ok(
        logs.some((m) =>
          new RegExp(`^killed res test start of supervise \\(pid ${o.proc.pid}, dead\\): pgid ${o.pgid}`).test(m),
        ),
        logs.join('\n'),
      );
      assert.match(alarms.list().join('\n'), /killed a script left running by another process: res test start/);
      assert.deepEqual(fs.readdirSync(scriptsDir(runDir(config))), []);
    } finally {
      await sup.stop();
    }
    // Past the time the script would have brought the resource up.
    await sleep(3500);
    assert.ok(!fs.existsSync(marker), 'the orphaned start completed');
  });

  it('the fencing sender kills a frozen supervise’s start script before it stops the resources', async () => {
    // The sender fences 5 s after supervise is gone; the script would be done at 8 s.
    const { config, store, logs, log, marker, script } = await setup(8);
    await store.update({
      STATUS: 'ONLINE',
      SUPERVISE: 1,
      SUPERVISE_AT: Date.now() - 60_000,
      DECIDED_AT: Date.now() - 60_000,
      RES_test: 'UP',
    });
    const o = await owner(config, script);
    const t0 = Date.now();
    o.proc.kill('SIGSTOP'); // frozen, not dead: its script is still its own
    const sender = await startSender({ config, log, store, alarms: new Alarms() });
    try {
      await expectWithin('the fence', () => logs.some((m) => /stopping the resources|fence/i.test(m)), 9000);
      await expectWithin('the script killed', () => !groupAlive(o.pgid), 2000);
      assert.ok(
        logs.some((m) =>
          new RegExp(`^killed res test start of supervise \\(pid ${o.proc.pid}\\): pgid ${o.pgid}`).test(m),
        ),
        logs.join('\n'),
      );
    } finally {
      await sender.stop();
    }
    await sleep(Math.max(0, t0 + 9000 - Date.now()));
    assert.ok(!fs.existsSync(marker), 'the frozen supervise’s start completed after the fence');
  });
});
