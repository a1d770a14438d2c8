// Run inside a lab node: the physical floor of a handover on this machine,
// under the same load as the rows beside it. One `ip address add` through a
// bash script, spawned from Node as supervise spawns a resource script: the
// time from the spawn to the script's exit, `n` times (each address deleted
// again, untimed). Prints the times (ms) as JSON.
import { spawn, spawnSync } from 'node:child_process';

const [cidr, dev, count] = process.argv.slice(2);
if (!cidr || !dev) {
  process.stderr.write('usage: ip-add-time.js <ip/cidr> <dev> [n]\n');
  process.exit(2);
}
const times: number[] = [];
for (let i = 0; i < Number(count ?? 20); i++) {
  const t0 = performance.now();
  const code = await new Promise<number | null>((resolve) => {
    const c = spawn('bash', ['-c', `ip address add ${cidr} dev ${dev}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.on('exit', resolve);
  });
  times.push(performance.now() - t0);
  spawnSync('ip', ['address', 'del', cidr, 'dev', dev]);
  if (code !== 0) {
    process.stderr.write(`ip address add ${cidr} dev ${dev} exited ${code}\n`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 50 + Math.random() * 50));
}
process.stdout.write(`${JSON.stringify(times)}\n`);
