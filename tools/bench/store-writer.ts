/**
 * Child process of the status-store benchmark:
 *   node store-writer.js <status file> <updates> <writer id> <start at (Date.now ms)>
 * Waits until the start time (so all writers begin together), does the
 * updates one after another through StatusStore.update (lock, read, atomic
 * write, unlock) and prints {"lat":[ms…],"errors":n} on stdout.
 */
import { StatusStore } from '../../src/status-store/index.js';
import { sleep } from '../../src/wait.js';

async function main(): Promise<void> {
  const [file, countS, idS, atS] = process.argv.slice(2);
  if (!file || !countS || !idS || !atS) {
    process.stderr.write('usage: store-writer <file> <updates> <id> <startAt>\n');
    process.exit(2);
  }
  const store = new StatusStore({ file });
  const count = Number(countS);
  const key = `BENCH_W${idS}`;
  const wait = Number(atS) - Date.now();
  if (wait > 0) await sleep(wait);
  const lat: number[] = [];
  let errors = 0;
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    try {
      await store.update({ [key]: i, [`${key}_AT`]: Date.now() });
      lat.push(performance.now() - t);
    } catch {
      errors++;
    }
  }
  process.stdout.write(`${JSON.stringify({ lat, errors })}\n`);
}

void main();
