/**
 * A real etcd (Debian's etcd-server) in the lab's third namespace ("client",
 * 198.18.0.50) for the witness (WITNESS): one member, its data in a temporary
 * directory removed on every exit path, tuned as the README asks
 * (--election-timeout 500 --heartbeat-interval 50: a 1 s lease TTL). The lab
 * test (test/lab/witness.test.ts) and the bench (host-death-witness) share it.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HOST_IPS, type Lab } from './types.js';

export const ETCD_IP = HOST_IPS.client;
/** The WITNESS value for the lab's etcd. */
export const LAB_WITNESS = `etcd://${ETCD_IP}:2379`;
/** The shortest TTL the tuned etcd grants. */
export const LAB_WITNESS_TTL = 1;

export const etcdBinary = (): string | undefined =>
  ['/usr/bin/etcd', '/usr/local/bin/etcd'].find((p) => fs.existsSync(p));

export interface LabEtcd {
  /** Kill it (SIGKILL: a witness that dies) and wait for its exit; the data stays until remove(). */
  kill(): Promise<void>;
  /** kill(), then its data directory removed. */
  remove(): Promise<void>;
}

const live = new Set<{ child: ChildProcess; dir: string }>();
process.on('exit', () => {
  for (const e of live) {
    if (e.child.pid && e.child.exitCode === null) {
      try {
        process.kill(e.child.pid, 'SIGKILL');
      } catch {}
    }
    fs.rmSync(e.dir, { recursive: true, force: true });
  }
});

/** Start etcd in the lab and wait until it answers /health (at most 20 s). */
export async function startLabEtcd(lab: Lab): Promise<LabEtcd> {
  const bin = etcdBinary();
  if (!bin) throw new Error('etcd not installed (apt-get install --no-install-recommends etcd-server)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-witness-etcd-'));
  const client = `http://${ETCD_IP}:2379`;
  const peer = `http://${ETCD_IP}:2380`;
  const child = lab.spawn('client', bin, [
    '--name=witness',
    `--data-dir=${dir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=witness=${peer}`,
    '--election-timeout=500',
    '--heartbeat-interval=50',
    '--log-level=error',
  ]);
  const entry = { child, dir };
  live.add(entry);
  const kill = async () => {
    if (!child.pid || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    process.kill(child.pid, 'SIGKILL');
    await gone;
  };
  const remove = async () => {
    await kill();
    fs.rmSync(dir, { recursive: true, force: true });
    live.delete(entry);
  };
  // etcd's /health from inside the lab (etcd-server has no etcdctl).
  const probe = `fetch('${client}/health').then((r) => r.text()).then((t) => process.exit(/"health":"true"/.test(t) ? 0 : 1), () => process.exit(1))`;
  const t0 = performance.now();
  for (;;) {
    const r = await lab.run('client', process.execPath, ['-e', probe], { timeoutMs: 5000 });
    if (r.code === 0) return { kill, remove };
    if (performance.now() - t0 > 20_000 || child.exitCode !== null) {
      await remove();
      throw new Error(`etcd did not start in the lab: ${r.stdout}${r.stderr}`);
    }
    await new Promise((res) => setTimeout(res, 200));
  }
}
