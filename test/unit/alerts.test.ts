// The alerting rules shipped in etc/: promtool accepts them, promtool's rule
// tests (test/fixtures/pha-alerts.test.yml) fire them as meant, every metric
// a rule uses is one supervise serves, and every runbook entry exists.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildRegistry } from '../../src/supervise/metrics.js';
import { promtool } from '../helpers/prometheus.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const RULES = path.join(ROOT, 'etc', 'pha-alerts.yml');

describe('alerting rules (etc/pha-alerts.yml)', () => {
  const text = fs.readFileSync(RULES, 'utf8');

  it('promtool check rules accepts them; promtool test rules fires them as meant', () => {
    const check = promtool(['check', 'rules', RULES]);
    assert.equal(check.code, 0, check.out);
    assert.match(check.out, /SUCCESS: 13 rules found/);
    const t = promtool(['test', 'rules', path.join(ROOT, 'test', 'fixtures', 'pha-alerts.test.yml')]);
    assert.equal(t.code, 0, t.out);
  });

  it('every metric a rule uses is served, every rule has a runbook entry', async () => {
    const { registry } = await buildRegistry({
      node: 'a',
      peer: 'b',
      version: '0',
      resources: [],
      paths: 1,
      gw: '198.18.0.1',
      status: () => ({}),
      vitals: () => undefined,
      alarms: () => 0,
    });
    const served = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    const used = [...text.matchAll(/expr: (.*)/g)].flatMap((m) =>
      [...m[1]!.matchAll(/\bpha_[a-z_]+/g)].map((x) => x[0]),
    );
    assert.ok(used.length >= 9);
    for (const u of used) {
      const base = u.replace(/_(sum|count|bucket)$/, '');
      assert.ok(served.has(u) || served.has(base), `${u} is used by a rule but not served`);
    }
    const runbook = fs.readFileSync(path.join(ROOT, 'docs', 'runbook.md'), 'utf8');
    const headings = new Set([...runbook.matchAll(/^## (\w+)$/gm)].map((m) => m[1]!.toLowerCase()));
    const alerts = [...text.matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
    const urls = [...text.matchAll(/runbook_url: "docs\/runbook\.md#(\w+)"/g)].map((m) => m[1]!);
    assert.deepEqual(
      urls,
      alerts.map((a) => a.toLowerCase()),
      'each rule points at its own entry',
    );
    for (const a of urls) assert.ok(headings.has(a), `docs/runbook.md has no entry for ${a}`);
  });
});
