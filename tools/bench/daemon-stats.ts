// Run inside a lab node: ask each of its daemons over the local bus for its
// vitals (the wake-up counts of src/wakeups.ts as wake.<cause>, the loop's
// lag) and print them as JSON, by daemon.
import { queryDaemons } from '../../src/daemon/bus.js';

const runDir = process.argv[2];
if (!runDir) {
  process.stderr.write('usage: daemon-stats.js <INSTALLDIR/var/run>\n');
  process.exit(2);
}
const states = await queryDaemons(runDir, 1500);
const out: Record<string, Record<string, number>> = {};
for (const [d, s] of Object.entries(states)) out[d] = s?.stats ?? {};
process.stdout.write(`${JSON.stringify(out)}\n`);
