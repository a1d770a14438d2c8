// A rolling upgrade across the config announcement (issue 21, item 4): a keyed
// pair with one node on the previous pha release and the other on this one
// (the old one holding, then the old one standing by). The old node must drop
// the new node's announcements as 'not-a-heartbeat' and nothing else may
// happen. Needs a build of the previous release, so it is
// skipped unless PHA_OLD_CLI names its bin/pha-cli.js, e.g.:
//   mkdir /tmp/pha-old && git archive f92aea0 | tar -x -C /tmp/pha-old
//   ln -s "$PWD/node_modules" /tmp/pha-old/node_modules
//   (cd /tmp/pha-old && npx tsc -p tsconfig.json) && chmod -R go-w /tmp/pha-old
//   PHA_OLD_CLI=/tmp/pha-old/bin/pha-cli.js node --test dist/test/integration/rolling-upgrade.test.js

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { generateKey, writeKeyFile } from '../../src/heartbeat/index.js';
import { cli, holds, makePair, type PairNode, waitFor, watchHolders } from './pair-helpers.js';

const OLD_CLI = process.env.PHA_OLD_CLI;
const skip = OLD_CLI ? false : "set PHA_OLD_CLI to the previous release's bin/pha-cli.js";

function statusOf(n: PairNode): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(path.join(n.dir, 'var', 'status.dat'), 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function oldCli(n: PairNode, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PHA_CONFIG: n.config };
    delete env.NODENAME;
    execFile(process.execPath, [OLD_CLI!, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

for (const oldOne of ['holder', 'standby'] as const) {
  test(`old ${oldOne}, new ${oldOne === 'holder' ? 'standby' : 'holder'}, both keyed: the announcements are dropped as not-a-heartbeat, nothing moves`, {
    skip,
  }, async () => {
    const p = makePair({ AUTHKEY: 'etc/authkey' });
    const key = generateKey();
    // a is started first and holds; the old release runs on `old`.
    const [old, fresh] = oldOne === 'holder' ? [p.a, p.b] : [p.b, p.a];
    const start = (n: PairNode) =>
      n === old ? oldCli(n, ['start']) : cli(n, ['start']).then((r) => ({ code: r.code, out: r.stdout + r.stderr }));
    try {
      for (const n of [p.a, p.b]) writeKeyFile(path.join(n.dir, 'etc', 'authkey'), [{ id: 1, key }]);
      const a = await start(p.a);
      assert.equal(a.code, 0, a.out);
      assert.ok(await waitFor(() => holds(p.a), 5000));
      const b = await start(p.b);
      assert.equal(b.code, 0, b.out);
      assert.ok(await waitFor(() => statusOf(p.b).RECEIVER_IN === 'ONLINE', 5000));
      const w = await watchHolders(p, 15_000, 20);
      assert.equal(w.changes, 0, 'no holder change');
      assert.ok(holds(p.a) && !holds(p.b));
      const so = statusOf(old);
      const sf = statusOf(fresh);
      assert.ok(
        so.RECEIVER_IN === 'ONLINE' || so.RECEIVER_IN === 'OFFLINE',
        `the old node hears the new one: ${so.RECEIVER_IN}`,
      );
      assert.ok(Number(so.RECEIVER_DROP_NOT_A_HEARTBEAT) >= 3, `old node: ${JSON.stringify(so)}`);
      assert.equal(so.RECEIVER_DROPPED, so.RECEIVER_DROP_NOT_A_HEARTBEAT, 'no other drop on the old node');
      assert.ok(sf.RECEIVER_IN === 'ONLINE' || sf.RECEIVER_IN === 'OFFLINE');
      assert.equal(sf.RECEIVER_DROPPED, 0);
      assert.equal(sf.RECEIVER_PEER_CONFIG, 'unknown', 'the old node announces nothing');
      assert.doesNotMatch(String(sf.RECEIVER_ALARM ?? ''), /config/);
    } finally {
      await oldCli(old, ['stop']);
      await p.cleanup();
    }
  });
}
