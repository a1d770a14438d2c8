// A supervise-like owner for orphans.test.ts: runs one resource call through
// the real runner with the real records (owner "supervise"), says "running
// <pgid>" once the record is written, then waits to be killed.
import fs from 'node:fs';
import { ResourceRunner } from '../../src/resources/index.js';
import { ScriptRecords } from '../../src/resources/orphans.js';

const [dir, script, action, ...args] = process.argv.slice(2);
if (!dir || !script || !action) {
  process.stderr.write('usage: orphan-owner.js RECORDS_DIR SCRIPT ACTION [ARGS…]\n');
  process.exit(2);
}
const records = new ScriptRecords(dir, 'supervise');
const runner = new ResourceRunner({ timeoutMs: 60_000, records });
void runner.run({ name: 'test', script, args }, action as 'start');
// The record is written synchronously right after the spawn.
const timer = setInterval(() => {
  const pgid = fs.existsSync(dir) ? fs.readdirSync(dir)[0] : undefined;
  if (pgid) {
    process.stdout.write(`running ${pgid}\n`);
    clearInterval(timer);
  }
}, 10);
setInterval(() => {}, 60_000);
