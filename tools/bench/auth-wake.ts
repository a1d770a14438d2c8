/**
 * Child process of the `--auth` section: the codec as an idle daemon runs it.
 *   node auth-wake.js plain|key <intervalMs> <seconds>
 * Wakes every interval, encodes one heartbeat and accepts it (a node's sender
 * signs one frame and its receiver verifies one per interval), and prints
 * {"wakes":n,"cpuUsPerWake":x} — CPU from process.cpuUsage after 25 warm-up
 * wakes. In a process that sleeps between wakes, caches are cold and the
 * per-frame cost is far above a tight loop's.
 */
import { createHeartbeatCodec, generateKey, KeyRing } from '../../src/heartbeat/index.js';

const [mode, intervalS, secondsS] = process.argv.slice(2);
const interval = Number(intervalS ?? 200);
const seconds = Number(secondsS ?? 20);
if ((mode !== 'plain' && mode !== 'key') || !(interval > 0) || !(seconds > 0)) {
  process.stderr.write('usage: auth-wake plain|key <intervalMs> <seconds>\n');
  process.exit(2);
}
const ring = new KeyRing('bench', [{ id: 1, key: generateKey() }]);
const tx =
  mode === 'plain'
    ? createHeartbeatCodec()
    : createHeartbeatCodec({ auth: { keys: ring, localNode: 1, peerNode: 2, mode: 'enforce' }, generation: 1 });
const rx =
  mode === 'plain'
    ? createHeartbeatCodec()
    : createHeartbeatCodec({ auth: { keys: ring, localNode: 2, peerNode: 1, mode: 'enforce' }, onPeerState: () => {} });
const peer = '198.18.0.11';
let n = 0;
let warm = false;
let t0 = 0;
let c0 = process.cpuUsage();
const timer = setInterval(() => {
  const msg = tx.encode(n & 1 ? 'ONLINE' : 'OFFLINE');
  if (!rx.accept(msg, peer, [peer]).ok) {
    process.stderr.write('auth-wake: a datagram was refused\n');
    process.exit(1);
  }
  n++;
  if (!warm && n === 25) {
    warm = true;
    n = 0;
    t0 = Date.now();
    c0 = process.cpuUsage();
  } else if (warm && Date.now() - t0 >= seconds * 1000) {
    clearInterval(timer);
    const c = process.cpuUsage(c0);
    process.stdout.write(`${JSON.stringify({ wakes: n, cpuUsPerWake: (c.user + c.system) / n })}\n`);
  }
}, interval);
