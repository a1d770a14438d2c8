// METRICS on a real loopback pair, scraped by a real Prometheus: the numbers
// move as they should across a host death (the takeover counted once, on the
// survivor, its duration the timeline's), the text passes promtool's lint,
// and an address already in use stops `pha-cli start` with a config error.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { startPrometheus } from '../helpers/prometheus.js';
import { expectWithin } from '../helpers/wait.js';
import { cli, holds, killNode, makePair, type PairNode } from './pair-helpers.js';

const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;
async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const p = portOf(s);
  await new Promise((r) => s.close(r));
  return p;
}

test('metrics: a real Prometheus sees the takeover counted once, on the survivor, timed as its timeline', async () => {
  const port = await freePort();
  const p = makePair();
  const target = (n: PairNode) => `${n.name}:${port}`;
  for (const n of [p.a, p.b]) fs.appendFileSync(n.config, `METRICS=${target(n)}\n`);
  const prom = await startPrometheus([target(p.a), target(p.b)]);
  /** One series' value per node (by its scrape target). */
  const q = async (query: string, n: PairNode) => (await prom.query(query)).get(target(n));
  try {
    assert.equal((await cli(p.a, ['start'])).code, 0);
    await expectWithin('a holds', () => holds(p.a), 6000);
    assert.equal((await cli(p.b, ['start'])).code, 0);
    await expectWithin(
      'prometheus sees a Active and b Standby, heartbeats both ways',
      async () =>
        (await q('pha_node_state{state="Active"}', p.a)) === 1 &&
        (await q('pha_node_state{state="Standby"}', p.b)) === 1 &&
        ((await q('pha_heartbeats_received_total', p.b)) ?? 0) > 0 &&
        ((await q('pha_heartbeats_sent_total', p.a)) ?? 0) > 0,
      10_000,
    );
    assert.equal(await q('pha_peer_word{word="ONLINE"}', p.b), 1);
    assert.equal(await q('pha_resource_up{resource="test"}', p.a), 1);
    assert.equal(await q('pha_build_info', p.a), 1);
    for (const d of ['sender', 'receiver', 'supervise'])
      assert.ok(((await q(`pha_resident_memory_bytes{daemon="${d}"}`, p.b)) ?? 0) > 10e6, `${d}'s memory is told`);
    assert.equal(await q('sum by (instance) (pha_failovers_total)', p.b), undefined, 'b has not taken over yet');
    const aBefore = await q('sum by (instance) (pha_failovers_total)', p.a);
    assert.equal(aBefore, 1, "a's own takeover at its start (alone: nobody heard)");

    await killNode(p.a);
    fs.rmSync(p.a.held);
    await expectWithin('b takes over', () => holds(p.b), 6000);
    await expectWithin(
      'prometheus sees b Active with one takeover (cause silent)',
      async () =>
        (await q('pha_node_state{state="Active"}', p.b)) === 1 &&
        (await q('pha_failovers_total{cause="silent"}', p.b)) === 1,
      6000,
    );
    assert.equal(await q('sum by (instance) (pha_failovers_total)', p.b), 1, 'counted once');
    assert.equal(await q('pha_failover_seconds_count{phase="total"}', p.b), 1);
    assert.equal(await q('pha_peer_word{word="SILENT"}', p.b), 1);
    // a is gone: its series are stale; its last scrape still has the one takeover.
    const aLast = await q('sum by (instance) (last_over_time(pha_failovers_total[1m]))', p.a);
    assert.equal(aLast, aBefore, "a's count did not move");
    // The histogram's total is the timeline's, within 10 %.
    const h = JSON.parse((await cli(p.b, ['history', '1', '--json'])).stdout)[0];
    const sum = (await q('pha_failover_seconds_sum{phase="total"}', p.b))!;
    assert.ok(
      Math.abs(sum * 1000 - h.timeline.totalMs) <= 0.1 * h.timeline.totalMs,
      `histogram ${sum} s, timeline ${h.timeline.totalMs} ms`,
    );
    assert.ok(
      Math.abs((await q('pha_failover_seconds_sum{phase="detect"}', p.b))! * 1000 - h.timeline.detectMs) < 1,
      'the detection phase is the receiver’s measure',
    );
    const text = await (await fetch(`http://${target(p.b)}/metrics`)).text();
    assert.match(text, /^# TYPE pha_failover_seconds histogram$/m);
    const notFound = await fetch(`http://${target(p.b)}/`);
    assert.equal(notFound.status, 404);
  } finally {
    await prom.stop();
    await p.cleanup();
  }
});

test('metrics: an address in use stops the start with a config error naming the line; nothing runs', async () => {
  const busy = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => busy.once('listening', r));
  const p = makePair();
  try {
    fs.appendFileSync(p.a.config, `METRICS=127.0.0.1:${portOf(busy)}\n`);
    const line = fs.readFileSync(p.a.config, 'utf8').trim().split('\n').length;
    const r = await cli(p.a, ['start']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`config:${line}: METRICS=127\\.0\\.0\\.1:\\d+: .*the address is in use`));
    assert.match((await cli(p.a, ['stat'])).stdout, /supervise:\s+0\n/, 'nothing was started');
    // Malformed: every command says so (exit 2, the line).
    fs.appendFileSync(p.a.config, 'METRICS=localhost\n');
    const bad = await cli(p.a, ['stat']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /config:\d+: METRICS=localhost: expected <address>:<port>/);
  } finally {
    busy.close();
    await p.cleanup();
  }
});
