// The records of running scripts (src/resources/orphans.ts): the pure verdict,
// damaged and stale records, pid reuse, and the sweep killing real process
// groups; the runner writing and removing a record around a call.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ResourceRunner } from '../../src/resources/index.js';
import { judge, parseRecord, procStart, type ScriptRecord, ScriptRecords } from '../../src/resources/orphans.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** Wait for `pred`; fail saying what when it never holds (expectWithin lets a false yes/no probe pass). */
async function expectWithin(what: string, pred: () => boolean, ms: number): Promise<void> {
  assert.ok(await waitFor(pred, ms), `timed out after ${ms} ms waiting for: ${what}`);
}

const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-orphans-'));
after(() => fs.rmSync(DIR, { recursive: true, force: true }));
let n = 0;
const freshDir = () => path.join(DIR, `r${n++}`);

const rec = (o: Partial<ScriptRecord> = {}): ScriptRecord => ({
  owner: 'supervise',
  ownerPid: 1000,
  ownerStart: 50,
  pgid: 2000,
  start: 70,
  resource: 'vip',
  action: 'start',
  at: 0,
  ...o,
});

describe('judge', () => {
  it('a script whose leader is gone or started at another time is stale (its pgid may name another group now)', () => {
    assert.equal(judge(rec(), { leaderStart: null, ownerStart: 50 }, 1), 'stale');
    assert.equal(judge(rec(), { leaderStart: 71, ownerStart: null }, 1), 'stale');
  });
  it('an owner that is gone, or whose pid now names a later process, leaves an orphan', () => {
    assert.equal(judge(rec(), { leaderStart: 70, ownerStart: null }, 1), 'orphan');
    assert.equal(judge(rec(), { leaderStart: 70, ownerStart: 99 }, 1), 'orphan');
    // Our own pid, but an earlier process's record: an orphan all the same.
    assert.equal(judge(rec(), { leaderStart: 70, ownerStart: 51 }, 1000), 'orphan');
  });
  it('a running owner: own, or foreign', () => {
    assert.equal(judge(rec(), { leaderStart: 70, ownerStart: 50 }, 1000), 'own');
    assert.equal(judge(rec(), { leaderStart: 70, ownerStart: 50 }, 1001), 'foreign');
  });
});

describe('parseRecord', () => {
  it('says what is wrong with a damaged record, never throws', () => {
    assert.deepEqual(parseRecord('{"owner":'), { problem: 'not JSON' });
    assert.deepEqual(parseRecord('7'), { problem: 'not an object' });
    assert.match((parseRecord(JSON.stringify({ ...rec(), start: 'x' })) as { problem: string }).problem, /start/);
    // pgid 1 would be kill(-1): every process we may signal.
    assert.match((parseRecord(JSON.stringify(rec({ pgid: 1 }))) as { problem: string }).problem, /pgid 1/);
    assert.deepEqual(parseRecord(JSON.stringify(rec())), rec());
  });
});

/** A sleeping process leading its own group (a script that runs). */
function leader(): ChildProcess {
  const c = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  after(() => {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  return c;
}
const exited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;

describe('procStart', () => {
  it('a zombie (killed, nobody reaped it yet) has no start time: a dead owner, an ended script', async () => {
    // sh backgrounds a short sleep, then becomes a long one that never reaps it.
    const c = spawn('sh', ['-c', 'sleep 1 & echo $!; exec sleep 8'], { stdio: ['ignore', 'pipe', 'ignore'] });
    after(() => c.kill('SIGKILL'));
    let out = '';
    c.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    await expectWithin('the pid of the short sleep', () => /\d+\n/.test(out), 2000);
    const zombie = Number(out.trim());
    assert.notEqual(procStart(zombie), null, 'running: it has a start time');
    await expectWithin('the zombie', () => fs.readFileSync(`/proc/${zombie}/stat`, 'latin1').includes(') Z '), 3000);
    assert.equal(procStart(zombie), null);
    assert.equal(typeof procStart(process.pid), 'number');
    assert.equal(procStart(2 ** 22 + 1), null, 'no such process');
  });
});

describe('ScriptRecords.sweep', () => {
  const logs: string[] = [];
  const events: string[] = [];
  const records = (dir: string, self = process.pid) =>
    new ScriptRecords(
      dir,
      'supervise',
      (level, msg) => logs.push(`${level}: ${msg}`),
      (t) => events.push(t),
      Date.now,
      self,
    );
  const write = (dir: string, name: string, text: string) => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  };

  it('a damaged or unreadable record is one clear log line and removed; nothing is killed', () => {
    const dir = freshDir();
    write(dir, '4242', 'garbage');
    fs.mkdirSync(path.join(dir, '4343')); // not a file at all: EISDIR
    write(dir, '4444', JSON.stringify(rec({ pgid: 4545 }))); // the name says another group
    logs.length = 0;
    const out = records(dir).sweep({ foreign: true });
    assert.deepEqual(
      out.map((e) => e.verdict),
      ['damaged', 'damaged', 'damaged'],
    );
    assert.equal(logs.length, 3, logs.join('\n'));
    for (const l of logs) assert.match(l, /^warn: damaged script record .* removed, nothing killed$/);
    assert.match(logs[0]!, /4242 \(not JSON\)/);
    assert.match(logs[1]!, /4343 \(EISDIR/);
    assert.ok(!fs.existsSync(path.join(dir, '4242')));
  });

  it('kills the group of an orphan whose owner pid was reused (same pid, other start time), and says so', async () => {
    const dir = freshDir();
    const c = leader();
    await expectWithin('the leader', () => procStart(c.pid!) !== null, 2000);
    // Owner: this very pid, but not this process (its start time differs).
    const r = rec({
      ownerPid: process.pid,
      ownerStart: procStart(process.pid)! - 1,
      pgid: c.pid!,
      start: procStart(c.pid!)!,
    });
    write(dir, String(c.pid), JSON.stringify(r));
    logs.length = 0;
    events.length = 0;
    const out = records(dir).sweep({ foreign: false });
    assert.equal(out[0]?.verdict, 'orphan');
    await expectWithin('the orphan killed', () => exited(c), 2000);
    assert.equal(c.signalCode, 'SIGKILL');
    assert.match(
      logs.join('\n'),
      new RegExp(`warn: killed res vip start of supervise \\(pid ${process.pid}, dead\\): pgid ${c.pid}`),
    );
    assert.match(events.join('\n'), /killed a script left running by another process: res vip start of supervise/);
    assert.ok(!fs.existsSync(path.join(dir, String(c.pid))));
  });

  it('a stale record (its pgid now leads another process) is removed and nothing killed', async () => {
    const dir = freshDir();
    const c = leader();
    await expectWithin('the leader', () => procStart(c.pid!) !== null, 2000);
    write(dir, String(c.pid), JSON.stringify(rec({ pgid: c.pid!, start: procStart(c.pid!)! - 1 })));
    const out = records(dir).sweep({ foreign: true });
    assert.equal(out[0]?.verdict, 'stale');
    await sleep(100);
    assert.ok(!exited(c), 'an unrelated group with a reused pgid must not be killed');
    assert.ok(!fs.existsSync(path.join(dir, String(c.pid))));
  });

  it("a live owner's script: supervise leaves it, the fencing sender kills it (but not a notify hook)", async () => {
    const dir = freshDir();
    const owner = leader(); // a live process that is not us
    const script = leader();
    const hook = leader();
    await expectWithin('the processes', () => [owner, script, hook].every((c) => procStart(c.pid!) !== null), 2000);
    const base = { ownerPid: owner.pid!, ownerStart: procStart(owner.pid!)! };
    write(dir, String(script.pid), JSON.stringify(rec({ ...base, pgid: script.pid!, start: procStart(script.pid!)! })));
    const h = rec({ ...base, pgid: hook.pid!, start: procStart(hook.pid!)!, action: 'notify' });
    write(dir, String(hook.pid), JSON.stringify(h));
    assert.deepEqual(
      records(dir)
        .sweep({ foreign: false })
        .map((e) => e.verdict),
      ['foreign', 'foreign'],
    );
    await sleep(100);
    assert.ok(!exited(script) && !exited(hook));
    const out = records(dir).sweep({ foreign: true });
    assert.deepEqual(out.map((e) => [e.verdict, 'killed' in e && e.killed]).sort(), [
      ['foreign', false],
      ['foreign', true],
    ]);
    await expectWithin('the script killed', () => exited(script), 2000);
    await sleep(100);
    assert.ok(!exited(hook), 'a live owner’s hook is spared');
    assert.ok(!exited(owner));
  });

  it('no records directory: nothing to do, no log line', () => {
    logs.length = 0;
    assert.deepEqual(records(freshDir()).sweep({ foreign: true }), []);
    assert.deepEqual(logs, []);
  });
});

describe('the runner records its calls', () => {
  it('a record while the script runs, none after; an unwritable directory is one error line and the call still runs', async () => {
    const dir = freshDir();
    const script = path.join(DIR, 'slow');
    fs.writeFileSync(script, '#!/bin/sh\nsleep 0.5\n', { mode: 0o755 });
    const logs: string[] = [];
    const runner = new ResourceRunner({
      timeoutMs: 5000,
      records: new ScriptRecords(dir, 'supervise', (l, m) => logs.push(`${l}: ${m}`)),
    });
    const p = runner.run({ name: 'svc', script, args: [] }, 'start');
    await expectWithin('the record', () => fs.existsSync(dir) && fs.readdirSync(dir).length === 1, 2000);
    const r = parseRecord(fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]!), 'utf8')) as ScriptRecord;
    assert.equal(r.owner, 'supervise');
    assert.equal(r.ownerPid, process.pid);
    assert.equal(r.ownerStart, procStart(process.pid));
    assert.equal(r.resource, 'svc');
    assert.equal(r.action, 'start');
    assert.equal(r.start, procStart(r.pgid));
    assert.equal((await p).ok, true);
    assert.deepEqual(fs.readdirSync(dir), []);

    const blocked = path.join(DIR, 'a-file');
    fs.writeFileSync(blocked, '');
    const broken = new ResourceRunner({
      timeoutMs: 5000,
      records: new ScriptRecords(path.join(blocked, 'scripts'), 'supervise', (l, m) => logs.push(`${l}: ${m}`)),
    });
    const svc = { name: 'svc', script, args: [] };
    const [a, b] = await Promise.all([broken.run(svc, 'start'), broken.run(svc, 'stop')]);
    assert.ok(a.ok && b.ok);
    assert.equal(logs.filter((l) => l.startsWith('error: cannot record running scripts')).length, 1, logs.join('\n'));
  });
});
