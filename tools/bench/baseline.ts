// Same-run baselines: what this machine, under this run's load, takes for the
// one step a handover cannot avoid. Every failover row carries it
// (extra.baselineIpAddMs), so a row from a slower machine reads against its own floor.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../lab/index.js';
import { type Summary, summarize } from './stats.js';
import { errText, fmtMs, say } from './util.js';

/** The VIP's device in the lab, and an address of the lab's range that nothing else uses. */
const PROBE_CIDR = '198.18.0.199/32';

/** `n` times one `ip address add` through bash, spawned from Node in lb1 (tools/bench/ip-add-time.ts). */
export async function ipAddBaseline(lab: Lab, n: number): Promise<Summary | null> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'ip-add-time.js');
  try {
    const r = await lab.run('lb1', process.execPath, [script, PROBE_CIDR, 'eth0', String(n)]);
    const times = JSON.parse(r.stdout) as number[];
    const s = summarize(times);
    say(
      `  same-run floor: one \`ip address add\` through bash, ${n}×: median ${fmtMs(s.median)} ms, p95 ${fmtMs(s.p95)} ms`,
    );
    return s;
  } catch (e) {
    say(`  same-run floor not measured: ${errText(e)}`);
    return null;
  }
}
