// status.dat shared by several real processes: no lost update under the lock,
// readers never see a half-written file, a corrupt file is replaced, and a lock
// holder killed with SIGKILL delays the others but never fails them.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type Status, StatusStore } from '../../src/status-store/index.js';
import { sleep } from '../helpers/wait.js';

const count = (s: Status): number | undefined => (s as Record<string, unknown>).COUNT as number | undefined;

// The compiled store, by absolute file URL, so the workers (plain .mjs in a temp
// dir) load the same code as this test in any checkout.
const STORE_URL = new URL('../../src/status-store/index.js', import.meta.url).href;

let DIR: string;
before(() => {
  DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-store-'));
  fs.writeFileSync(
    path.join(DIR, 'updater.mjs'),
    `import { StatusStore } from ${JSON.stringify(STORE_URL)};
const [file, id, n] = process.argv.slice(2);
const store = new StatusStore({ file });
const key = 'C_' + id;
for (let i = 0; i < Number(n); i++) {
  await store.update((cur) => ({ [key]: (cur[key] ?? 0) + 1, COUNT: (cur.COUNT ?? 0) + 1 }));
}
`,
  );
  fs.writeFileSync(
    path.join(DIR, 'reader.mjs'),
    `import fs from 'node:fs';
import { StatusStore } from ${JSON.stringify(STORE_URL)};
const [file, stopFile] = process.argv.slice(2);
const problems = [];
const store = new StatusStore({ file, onProblem: (m) => problems.push(m) });
let reads = 0;
while (!fs.existsSync(stopFile)) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') continue;
    throw e;
  }
  try {
    const v = JSON.parse(text);
    if (typeof v !== 'object' || v === null) throw new Error('not an object');
  } catch (e) {
    process.stderr.write('invalid JSON seen: ' + JSON.stringify(text) + '\\n');
    process.exit(3);
  }
  store.read();
  if (problems.length) {
    process.stderr.write('store.read() reported: ' + problems.join('; ') + '\\n');
    process.exit(4);
  }
  reads++;
}
process.stdout.write(String(reads));
`,
  );
  fs.writeFileSync(
    path.join(DIR, 'holder.mjs'),
    `import { StatusStore } from ${JSON.stringify(STORE_URL)};
const [file] = process.argv.slice(2);
const store = new StatusStore({ file });
await store.update(() => {
  process.stdout.write('LOCKED\\n');
  // hold the lock, frozen: no lock refresh either
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10000);
  return { HOLDER_DONE: 1 };
});
`,
  );
});
after(() => fs.rmSync(DIR, { recursive: true, force: true }));

function node(script: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [path.join(DIR, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

function done(
  c: ChildProcess,
  timeoutMs = 25000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    c.stdout!.on('data', (b) => (out += b));
    c.stderr!.on('data', (b) => (err += b));
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`worker ${c.pid} did not finish in ${timeoutMs} ms; err: ${err}`));
    }, timeoutMs);
    c.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, out, err });
    });
  });
}

test('4 processes × 200 updates: no lost update; a reader never sees invalid JSON', async () => {
  const file = path.join(DIR, 'multi', 'var', 'status.dat');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const stopFile = path.join(DIR, 'multi', 'stop');
  const reader = node('reader.mjs', [file, stopFile]);
  const readerDone = done(reader);
  const workers = [1, 2, 3, 4].map((id) => done(node('updater.mjs', [file, String(id), '200'])));
  const results = await Promise.all(workers);
  fs.writeFileSync(stopFile, '');
  const r = await readerDone;
  for (const w of results) assert.equal(w.code, 0, `updater failed: ${w.err}`);
  assert.equal(r.code, 0, `reader: ${r.err}`);
  assert.ok(Number(r.out) > 50, `the reader read only ${r.out} times`);

  const s = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal(s.COUNT, 800);
  for (const id of [1, 2, 3, 4]) assert.equal(s[`C_${id}`], 200, `C_${id}`);
  // no temp files or lock left behind
  assert.deepEqual(fs.readdirSync(path.dirname(file)).sort(), ['status.dat']);
});

test('a corrupt file reads as {} with a problem reported, and the next update replaces it', async () => {
  const file = path.join(DIR, 'corrupt', 'status.dat');
  const problems: string[] = [];
  const store = new StatusStore({ file, onProblem: (m) => problems.push(m) });
  fs.writeFileSync(file, 'garbage{');
  assert.deepEqual(store.read(), {});
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /corrupt/);
  assert.ok(problems[0]!.includes(file));

  const written = await store.update({ STATUS: 'ONLINE', COUNT: 1 });
  assert.deepEqual(written, { STATUS: 'ONLINE', COUNT: 1 });
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { STATUS: 'ONLINE', COUNT: 1 });
  problems.length = 0;
  assert.deepEqual(store.read(), { STATUS: 'ONLINE', COUNT: 1 });
  assert.deepEqual(problems, []);

  // valid JSON with wrongly typed values: those keys are dropped and reported
  fs.writeFileSync(file, JSON.stringify({ STATUS: 'MAYBE', RES_x: 'UP', SENDER_RUN: 1, COUNT: 'three' }));
  assert.deepEqual(store.read(), { RES_x: 'UP', SENDER_RUN: 1 });
  assert.equal(problems.length, 2, problems.join('\n'));
  // a JSON array or number is not a status
  problems.length = 0;
  fs.writeFileSync(file, '[1,2]');
  assert.deepEqual(store.read(), {});
  assert.equal(problems.length, 1);
});

test('update: undefined deletes a key; a missing file is empty', async () => {
  const file = path.join(DIR, 'del', 'status.dat');
  const store = new StatusStore({ file });
  assert.deepEqual(store.read(), {});
  await store.update({ STATUS: 'OFFLINE', SENDER_RUN: 1 });
  await store.update({ SENDER_RUN: undefined });
  assert.deepEqual(store.read(), { STATUS: 'OFFLINE' });
  await store.update(() => undefined);
  assert.deepEqual(store.read(), { STATUS: 'OFFLINE' });
});

test("a lock holder killed with SIGKILL delays another process's update by at most ~4 s, never fails it", async () => {
  const file = path.join(DIR, 'killed', 'status.dat');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const holder = node('holder.mjs', [file]);
  const holderDone = done(holder);
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error('holder never took the lock')), 10000);
    holder.stdout!.on('data', (b) => {
      buf += b;
      if (buf.includes('LOCKED')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  assert.ok(fs.existsSync(`${file}.lock`), 'the lock is not <file>.lock');
  await sleep(300);
  holder.kill('SIGKILL');
  const h = await holderDone;
  assert.equal(h.signal, 'SIGKILL');

  const problems: string[] = [];
  const store = new StatusStore({ file, onProblem: (m) => problems.push(m) });
  const t0 = Date.now();
  const s = await store.update((cur) => ({ COUNT: (count(cur) ?? 0) + 1 }));
  const took = Date.now() - t0;
  assert.equal(count(s), 1);
  assert.ok(took < 4000, `update waited ${took} ms for the dead holder's lock`);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { COUNT: 1 }, 'the killed holder must not have written');
  // and the lock works normally again
  await store.update((cur) => ({ COUNT: (count(cur) ?? 0) + 1 }));
  assert.equal(count(store.read()), 2);
});
