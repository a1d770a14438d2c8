// A rolling upgrade across the config announcement (issue 21, item 4): a keyed
// pair with one node on the previous pha release and the other on this one
// (the old one holding, then the old one standing by). The old node must drop
// the new node's announcements as 'not-a-heartbeat' and nothing else may
// happen. The previous release is built here from the repository's history
// (git archive PREVIOUS_RELEASE, this checkout's node_modules, tsc: ~15 s);
// PHA_OLD_CLI may name another build's bin/pha-cli.js instead. Without git
// history (an unpacked tarball) it skips and says why.

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateKey, writeKeyFile } from '../../src/heartbeat/index.js';
import { cli, holds, makePair, type PairNode, waitFor, watchHolders } from './pair-helpers.js';

/** The last release before the config announcement. */
const PREVIOUS_RELEASE = 'f92aea0';
// dist/test/integration → the package root
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The previous release built in a temporary directory: its bin/pha-cli.js, or why not. */
function buildPrevious(): { cli: string; dir: string } | { why: string } {
  const run = (cmd: string, args: string[], cwd: string) =>
    spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  if (run('git', ['cat-file', '-e', `${PREVIOUS_RELEASE}^{commit}`], ROOT).status !== 0)
    return { why: `no git history with ${PREVIOUS_RELEASE} here (set PHA_OLD_CLI to a build of the previous release)` };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-previous-'));
  // go-w: pha refuses scripts that others can write (tar keeps the archive's modes).
  const tar = run(
    'sh',
    ['-c', `git -C "$0" archive ${PREVIOUS_RELEASE} | tar -x -C "$1" && chmod -R go-w "$1"`, ROOT, dir],
    ROOT,
  );
  if (tar.status !== 0) return { why: `git archive ${PREVIOUS_RELEASE}: ${tar.stderr.trim()}` };
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const tsc = run(
    process.execPath,
    [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
    dir,
  );
  if (tsc.status !== 0) return { why: `tsc of ${PREVIOUS_RELEASE}: ${(tsc.stdout + tsc.stderr).trim().slice(0, 500)}` };
  return { cli: path.join(dir, 'bin', 'pha-cli.js'), dir };
}

const built = process.env.PHA_OLD_CLI ? { cli: process.env.PHA_OLD_CLI, dir: '' } : buildPrevious();
const OLD_CLI = 'cli' in built ? built.cli : undefined;
const skip = 'why' in built ? built.why : false;
after(() => {
  if ('dir' in built && built.dir) fs.rmSync(built.dir, { recursive: true, force: true });
});

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
