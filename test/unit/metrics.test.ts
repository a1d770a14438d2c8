// The metrics' registry on its own: every metric supervise serves is listed in
// the README (its meaning), the text passes promtool's lint, and a takeover's
// timeline lands in the histogram by phase (the counters mirrored from the
// other daemons survive their restart).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { VitalsSnapshot } from '../../src/daemon/vitals.js';
import type { Status } from '../../src/status-store/index.js';
import type { HistoryEntry } from '../../src/supervise/history.js';
import { buildRegistry, type MetricsSource } from '../../src/supervise/metrics.js';
import { promtool } from '../helpers/prometheus.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function source(vitals: Record<string, VitalsSnapshot>): MetricsSource {
  return {
    node: 'lb1',
    peer: 'lb2',
    version: '1.0.0',
    resources: ['ipaddr'],
    paths: 1,
    gw: '198.18.0.1',
    status: () => ({ STATUS: 'ONLINE', RECEIVER_IN: null, RES_ipaddr: 'UP', GW_OK: 1, RECEIVER_DROP_BAD_MAC: 3 }),
    vitals: (d) => vitals[d],
    alarms: () => 1,
  };
}

const takeover: HistoryEntry = {
  seq: 3,
  at: 1000,
  event: 'state',
  now: 'Active',
  old: 'Standby',
  reason: 'no heartbeat from the peer: taking over',
  timeline: {
    cause: 'silent',
    label: 'no heartbeat from the peer',
    beganAt: 0,
    detectMs: 1002,
    decideMs: 4,
    scripts: [{ name: 'ipaddr', op: 'start', atMs: 1, ms: 38, code: 0, ok: true }],
    totalMs: 1045,
  },
};

describe('metrics', () => {
  it('every metric is in the README; the text passes promtool check metrics', async () => {
    const { registry, metrics } = await buildRegistry(source({ sender: { sent: 5 }, receiver: { heard: 4 } }));
    metrics.transition(takeover);
    metrics.pinged(true, 0.4);
    metrics.checked([{ name: 'ipaddr', ms: 12 }]);
    metrics.hookCall('record', 'timeout');
    const text = await registry.metrics();
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    assert.ok(names.length >= 20, names.join(' '));
    for (const n of names) assert.ok(readme.includes(`\`${n}`), `${n} is not in the README's metrics table`);
    const lint = promtool(['check', 'metrics'], text);
    assert.equal(lint.code, 0, lint.out);
  });

  it("a takeover lands in the histogram by phase; another daemon's counter survives its restart", async () => {
    const vitals: Record<string, VitalsSnapshot> = { sender: { sent: 10 } };
    const { registry, metrics } = await buildRegistry(source(vitals));
    /** A series' value: a histogram's `_sum`/`_count` by their own names. */
    const value = async (name: string, labels: Record<string, string> = {}) => {
      for (const m of await registry.getMetricsAsJSON())
        for (const x of m.values as { metricName?: string; labels: Record<string, unknown>; value: number }[])
          if ((x.metricName ?? m.name) === name && Object.entries(labels).every(([k, l]) => x.labels[k] === l))
            return x.value;
      return undefined;
    };
    metrics.transition(takeover);
    metrics.transition({ ...takeover, old: 'UNKNOWN', reason: 'startup' });
    assert.equal(await value('pha_failovers_total', { cause: 'silent' }), 1, 'the start-up state is no takeover');
    assert.equal(await value('pha_failover_seconds_sum', { phase: 'total' }), 1.045);
    assert.equal(await value('pha_failover_seconds_sum', { phase: 'detect' }), 1.002);
    assert.equal(await value('pha_failover_seconds_sum', { phase: 'resources' }), 0.038);
    metrics.hooksDone({
      ...takeover,
      timeline: { ...takeover.timeline!, hooks: { firstMs: 5, doneMs: 9, failed: 0 } },
    });
    assert.equal(await value('pha_last_failover_seconds', { phase: 'hooks' }), 0.009);
    assert.equal(await value('pha_heartbeats_sent_total'), 10);
    vitals.sender = { sent: 14 };
    assert.equal(await value('pha_heartbeats_sent_total'), 14);
    vitals.sender = { sent: 3 }; // restarted: counts from 0 again
    assert.equal(await value('pha_heartbeats_sent_total'), 17);
    assert.equal(await value('pha_node_state', { state: 'Active' }), 1);
    assert.equal(await value('pha_heartbeats_dropped_total', { reason: 'bad-mac' }), 3, "the receiver's own counter");
    assert.equal(await value('pha_peer_word', { word: 'SILENT' }), 1);
  });
});

describe('pha_peer_config_mismatch', () => {
  it("follows the receiver's RECEIVER_PEER_CONFIG: 1 differs, else 0 (also after the receiver stopped)", async () => {
    let st: Status = {};
    const { registry } = await buildRegistry({ ...source({}), status: () => st });
    const value = async () => {
      const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'pha_peer_config_mismatch')!;
      return m.values.map((v) => v.value);
    };
    for (const [state, want] of [
      ['differs', 1],
      ['same', 0],
      ['unknown', 0],
      ['differs', 1],
    ] as const) {
      st = { RECEIVER_PEER_CONFIG: state };
      assert.deepEqual(await value(), [want], state);
    }
    st = {};
    assert.deepEqual(await value(), [0], 'the receiver stopped (key removed): no stale 1');
  });

  it('the gateway: a series labelled by its address with GW, none without (no alert on a node that pings nothing)', async () => {
    const gw = async (src: MetricsSource) => {
      const { registry } = await buildRegistry(src);
      const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'pha_gateway_ok');
      return (m?.values ?? []).map((v) => [v.labels.gw, v.value]);
    };
    assert.deepEqual(await gw(source({})), [['198.18.0.1', 1]]);
    assert.deepEqual(await gw({ ...source({}), gw: '' }), []);
  });
});
