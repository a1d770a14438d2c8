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
import { sleep, waitFor } from '../helpers/wait.js';

/** Wait for `pred`; fail saying what when it never holds (expectWithin lets a false yes/no probe pass). */
async function expectWithin(what: string, pred: () => boolean, ms: number): Promise<void> {
  assert.ok(await waitFor(pred, ms), `timed out after ${ms} ms waiting for: ${what}`);
}

import { cli, makePair } from './pair-helpers.js';

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

/** Is any process of group `pgid` still running? (A killed one nobody reaped yet is a zombie: dead.) */
function groupAlive(pgid: number): boolean {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X') return true;
    } catch {
      /* gone meanwhile */
    }
  }
  return false;
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
      // Its record removed (the new supervise's own checks may be recorded by now).
      assert.ok(!fs.readdirSync(scriptsDir(runDir(config))).includes(String(o.pgid)));
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

  it('real daemons: supervise killed -9 in the middle of a slow start; the restarted one kills the orphan', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-orphans-'));
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));
    const trail = path.join(tmp, 'trail');
    // Only node a runs: after its grace it takes over and starts "slow", which
    // says "begin <pid>", takes 4 s, then says "done <pid>".
    const p = makePair({ RES_slow: trail, DEADTIME: '500', HEARTBEAT_INT: '100' });
    after(() => p.cleanup());
    fs.mkdirSync(path.join(p.a.dir, 'res'));
    fs.writeFileSync(
      path.join(p.a.dir, 'res', 'slow'),
      '#!/bin/sh\ncase "$1" in\n  start) echo "begin $$ at $(date +%s.%N)" >> "$2"; sleep 4; echo "done $$ at $(date +%s.%N)" >> "$2" ;;\n  check) grep -q done "$2" 2>/dev/null ;;\nesac\nexit $?\n',
      { mode: 0o755 },
    );
    assert.equal((await cli(p.a, ['start'])).code, 0);
    const dir = path.join(p.a.dir, 'var', 'run', 'scripts');
    // The slow start's record (not the quick "test" start before it): its file is named by the pgid.
    let pgid = 0;
    const slowStart = () => {
      try {
        for (const f of fs.readdirSync(dir)) {
          const r = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
          if (r.resource === 'slow' && r.action === 'start') pgid = Number(f);
        }
      } catch {
        /* not yet, or a record removed while we read */
      }
      return pgid > 0;
    };
    await expectWithin('the slow start running', slowStart, 15_000);
    const sup = Number(fs.readFileSync(path.join(p.a.dir, 'var', 'run', 'supervise'), 'utf8'));
    process.kill(sup, 'SIGKILL');
    after(() => {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        /* gone */
      }
    });
    // The restart takes about 0.5 s; the script would end on its own 4 s after it began.
    await expectWithin('the orphan killed by the restarted supervise', () => !groupAlive(pgid), 2000);
    await sleep(4500);
    const lines = fs.readFileSync(trail, 'utf8');
    assert.match(lines, new RegExp(`^begin ${pgid} `, 'm'));
    assert.doesNotMatch(lines, new RegExp(`^done ${pgid} `, 'm'), 'the orphaned start completed');
    const st = JSON.parse((await cli(p.a, ['stat', '--json'])).stdout);
    assert.ok(
      st.alarms.some((a: string) =>
        /killed a script left running by another process: res slow start of supervise/.test(a),
      ),
      `alarm in stat: ${st.alarms}`,
    );
  });
});
