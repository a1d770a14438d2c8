// pha-cli's own arguments: help and version need no config; every command that
// needs one names the file it tried, why that one, and how to name another.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chooseConfig, configHint, parseCliArgs, usageText } from '../../src/cli/args.js';
import { DEFAULT_CONFIG } from '../../src/paths.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CLI = path.join(ROOT, 'bin', 'pha-cli.js');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

test('the config comes from --config, else $PHA_CONFIG, else the default', () => {
  assert.deepEqual(chooseConfig('/a', { PHA_CONFIG: '/b' }), { file: '/a', source: 'option' });
  assert.deepEqual(chooseConfig(undefined, { PHA_CONFIG: '/b' }), { file: '/b', source: 'env' });
  assert.deepEqual(chooseConfig(undefined, {}), { file: DEFAULT_CONFIG, source: 'default' });
  assert.deepEqual(chooseConfig(undefined, { PHA_CONFIG: '' }), { file: DEFAULT_CONFIG, source: 'default' });
});

test('help and version are recognised before any config is read', () => {
  for (const a of [
    ['--help'],
    ['-h'],
    ['help'],
    ['h'],
    ['?'],
    ['HELP'],
    ['--config', '/x', 'help'],
    ['-c', '/x', '--help'],
  ]) {
    assert.equal(parseCliArgs(a, {}).kind, 'help', a.join(' '));
  }
  for (const a of [['-V'], ['--version'], ['--config', '/x', '--version']])
    assert.deepEqual(parseCliArgs(a, {}), { kind: 'version' }, a.join(' '));
});

test('commands and their options pass through; --config only before the command', () => {
  assert.deepEqual(parseCliArgs(['--config', '/x', 'stat', '--json'], {}), {
    kind: 'run',
    config: { file: '/x', source: 'option' },
    command: ['stat', '--json'],
  });
  assert.deepEqual(parseCliArgs(['--config=/y', 'off', '--force'], {}), {
    kind: 'run',
    config: { file: '/y', source: 'option' },
    command: ['off', '--force'],
  });
  assert.deepEqual(parseCliArgs([], { PHA_CONFIG: '/e' }), {
    kind: 'run',
    config: { file: '/e', source: 'env' },
    command: [],
  });
  const r = parseCliArgs(['res', 'start', '--config', '/x'], {});
  assert.equal(r.kind, 'run');
  assert.deepEqual(r.kind === 'run' && r.command, ['res', 'start', '--config', '/x']);
});

test('--config without a FILE is a usage error', () => {
  for (const a of [['--config'], ['-c'], ['--config='], ['--config', '']])
    assert.equal(parseCliArgs(a, {}).kind, 'usage-error', a.join(' '));
});

test('the help text and the config hint say where the config comes from', () => {
  const u = usageText({ file: '/e/config', source: 'env' }, '/e/config');
  assert.match(u, /^usage: pha-cli \[--config FILE\]/);
  assert.ok(u.includes('now: /e/config (from $PHA_CONFIG)'), u);
  assert.match(u, /res start \[name\]/);
  const h = configHint({ file: DEFAULT_CONFIG, source: 'default' }, DEFAULT_CONFIG);
  assert.ok(
    h.includes(DEFAULT_CONFIG) &&
      h.includes('neither --config nor $PHA_CONFIG') &&
      h.includes('--config FILE') &&
      h.includes('PHA_CONFIG=FILE'),
    h,
  );
});

// ---- the real launcher, with no config file anywhere it looks ----

function runCli(args: string[], env: NodeJS.ProcessEnv) {
  const e: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete e.NODENAME;
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: e, cwd: os.tmpdir(), timeout: 15_000 });
}

test('pha-cli --help, -h, help, -V, --version: exit 0 without a config file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-cli-args-'));
  try {
    const missing = path.join(dir, 'no', 'config');
    for (const a of [['--help'], ['-h'], ['help'], ['--config', missing, 'help']]) {
      const r = runCli(a, { PHA_CONFIG: missing });
      assert.equal(r.status, 0, `${a.join(' ')}: exit ${r.status}; stderr: ${r.stderr}`);
      assert.match(r.stdout, /^usage: pha-cli/, a.join(' '));
      assert.match(r.stdout, /quit\|exit\|q/);
      assert.ok(r.stdout.includes(`now: ${missing}`), r.stdout);
      assert.equal(r.stderr, '');
    }
    for (const a of [['-V'], ['--version']]) {
      const r = runCli(a, { PHA_CONFIG: missing });
      assert.equal(r.status, 0, `${a.join(' ')}: exit ${r.status}; stderr: ${r.stderr}`);
      assert.equal(r.stdout, `pha-cli (pha) ${VERSION}\n`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a command without its config file: exit 2, names the file, its source and how to name another', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-cli-args-'));
  try {
    const missing = path.join(dir, 'no', 'config');
    const viaEnv = runCli(['stat'], { PHA_CONFIG: missing });
    assert.equal(viaEnv.status, 2, viaEnv.stderr);
    assert.equal(viaEnv.stdout, '');
    assert.ok(viaEnv.stderr.includes(`config file: ${missing} (from $PHA_CONFIG)`), viaEnv.stderr);
    assert.ok(viaEnv.stderr.includes('--config FILE') && viaEnv.stderr.includes('PHA_CONFIG=FILE'), viaEnv.stderr);
    assert.doesNotMatch(viaEnv.stderr, /^\s+at /m, 'stack trace printed');

    const viaOption = runCli(['--config', missing], { PHA_CONFIG: undefined }); // the shell needs a config too
    assert.equal(viaOption.status, 2, viaOption.stderr);
    assert.ok(viaOption.stderr.includes(`config file: ${missing} (given with --config)`), viaOption.stderr);

    const noValue = runCli(['--config'], {});
    assert.equal(noValue.status, 2);
    assert.match(noValue.stderr, /--config needs a FILE/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
