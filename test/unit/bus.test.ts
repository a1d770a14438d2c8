// The local bus on real loopback sockets: a repeat of the same state goes to
// the daemon that reads its sender's liveness only, a change to all; a
// daemon's file stamp may rest only while its readers are heard from the
// processes that run now.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUS_READERS, type DaemonName, LocalBus, StampRest, stampsMayRest } from '../../src/daemon/bus.js';
import { Vitals } from '../../src/daemon/vitals.js';

async function threeBuses(fn: (b: Record<DaemonName, LocalBus>, heard: Record<DaemonName, string[]>) => Promise<void>) {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-bus-'));
  const heard: Record<DaemonName, string[]> = { sender: [], receiver: [], supervise: [] };
  const b = {} as Record<DaemonName, LocalBus>;
  for (const d of ['sender', 'receiver', 'supervise'] as const) {
    b[d] = new LocalBus({ runDir, name: d, now: () => performance.now(), onHeard: (from) => heard[d].push(from) });
    await b[d].start();
    assert.equal(b[d].problem, null);
  }
  try {
    await fn(b, heard);
  } finally {
    for (const x of Object.values(b)) x.close();
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

const clear = (h: Record<DaemonName, string[]>) => {
  for (const d of Object.keys(h) as DaemonName[]) h[d] = [];
};

test('bus: a repeat goes only to the liveness reader of its sender, a change to every daemon', async () => {
  await threeBuses(async (b, heard) => {
    b.sender.publish({ keys: { SENDER_STARTED_AT: 1 }, alarms: [] });
    await sleep(50);
    assert.deepEqual([heard.receiver, heard.supervise], [['sender'], ['sender']], 'the first message: to all');
    clear(heard);
    b.sender.publish({ keys: { SENDER_STARTED_AT: 1 }, alarms: [] });
    await sleep(50);
    assert.deepEqual([heard.receiver, heard.supervise], [[], ['sender']], 'a repeat: to supervise only');
    clear(heard);
    b.sender.publish({ keys: { SENDER_STARTED_AT: 1 }, alarms: ['var/ not writable'] });
    await sleep(50);
    assert.deepEqual([heard.receiver, heard.supervise], [['sender'], ['sender']], 'a change: to all');
    clear(heard);
    b.supervise.publish({ keys: { STATUS: 'ONLINE' }, alarms: [] });
    b.supervise.publish({ keys: { STATUS: 'ONLINE' }, alarms: [] });
    b.receiver.publish({ keys: { RECEIVER_IN: 'OFFLINE' }, alarms: [] });
    b.receiver.publish({ keys: { RECEIVER_IN: 'OFFLINE' }, alarms: [] });
    await sleep(50);
    assert.deepEqual(
      heard.sender.sort(),
      ['receiver', 'supervise', 'supervise'],
      "the sender reads supervise's repeats",
    );
    assert.deepEqual(heard.receiver, ['supervise'], "the receiver reads nobody's");
    assert.deepEqual(BUS_READERS.receiver, ['supervise']);
  });
});

test('bus: a file stamp rests only while every reader is heard from the process that runs now', async () => {
  await threeBuses(async (b) => {
    const pid = process.pid;
    assert.equal(
      stampsMayRest('sender', b.sender, () => pid),
      false,
      'supervise not heard yet',
    );
    b.supervise.publish({ keys: { STATUS: 'ONLINE' }, alarms: [] });
    await sleep(50);
    assert.equal(
      stampsMayRest('sender', b.sender, () => pid),
      true,
    );
    assert.equal(
      stampsMayRest('receiver', b.receiver, () => pid),
      true,
      'a change reaches the receiver too',
    );
    assert.equal(
      stampsMayRest('sender', b.sender, () => pid + 1),
      false,
      'a new supervise not heard yet',
    );
    assert.equal(
      stampsMayRest('sender', b.sender, () => undefined),
      false,
      'supervise dead',
    );
    assert.equal(
      stampsMayRest('supervise', b.supervise, () => pid),
      false,
      'the sender not heard yet',
    );
    assert.equal(
      stampsMayRest('sender', undefined, () => pid),
      false,
      'no bus at all',
    );
  });
});

test('bus: something new riding on the stamp (an alarm, a drop count) keeps it busy until a stamp wrote it', async () => {
  await threeBuses(async (b) => {
    const pid = process.pid;
    b.supervise.publish({ keys: { STATUS: 'ONLINE' }, alarms: [] });
    await sleep(50);
    let alarms: string[] = [];
    const rest = new StampRest(
      'sender',
      b.sender,
      () => pid,
      () => alarms,
    );
    assert.equal(rest.mayRest(), false, 'nothing written yet');
    rest.wrote();
    assert.equal(rest.mayRest(), true);
    alarms = ['status file not writable'];
    assert.equal(rest.mayRest(), false, 'a new alarm: busy');
    rest.wrote();
    assert.equal(rest.mayRest(), true, 'written: resting again');
  });
});

test("bus: a daemon's vitals ride to supervise at most once a second, and supervise keeps the last", async () => {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-bus-'));
  let t = 1000; // one clock for both: the bus's own (monotonic ms)
  const vitals = new Vitals(() => t);
  const sender = new LocalBus({ runDir, name: 'sender', now: () => t, vitals });
  const supervise = new LocalBus({ runDir, name: 'supervise', now: () => t });
  await sender.start();
  await supervise.start();
  const sent = () => supervise.lastHeard('sender')?.state.stats?.sent;
  try {
    vitals.count('sent');
    sender.publish({ keys: { SENDER_STARTED_AT: 1 }, alarms: [] });
    await sleep(50);
    assert.equal(sent(), 1);
    vitals.count('sent');
    t += 500;
    sender.publish({ keys: { SENDER_STARTED_AT: 1 }, alarms: [] });
    await sleep(50);
    assert.equal(sent(), 1, 'half a second later: the message has no vitals, the last are kept');
    t += 600;
    sender.publish({ keys: { SENDER_STARTED_AT: 1 }, alarms: [] });
    await sleep(50);
    assert.equal(sent(), 2, 'a second after the last: the vitals again');
  } finally {
    sender.close();
    supervise.close();
    fs.rmSync(runDir, { recursive: true, force: true });
  }
});
