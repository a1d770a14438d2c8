// npm run demo: what it does when the namespace lab's tools are missing — one
// decision over (platform, root, what is missing, --install-tools, apt-get).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { installLine, type LabPlanInput, type MissingTool, missingLabTools, planLab } from '../../tools/lab/prereq.js';

const PING: MissingTool = { tool: 'ping', pkg: 'iputils-ping', why: 'not installed' };
const ARPING: MissingTool = { tool: 'arping', pkg: 'iputils-arping', why: 'not installed' };
const IP: MissingTool = { tool: 'ip', pkg: 'iproute2', why: 'not installed' };
const base: LabPlanInput = { platform: 'linux', root: true, missing: [], installTools: false, apt: true };

test('root with every tool: the lab', () => {
  assert.deepEqual(planLab(base), { action: 'lab', say: [] });
  assert.equal(
    planLab({ ...base, installTools: true }).action,
    'lab',
    '--install-tools installs nothing when nothing is missing',
  );
});

test('root without ping and arping: names the packages and the one command, falls back, offers --install-tools', () => {
  const p = planLab({ ...base, missing: [PING, ARPING] });
  assert.equal(p.action, 'loopback');
  const text = p.say.join('\n');
  assert.match(text, /ping \(not installed; package iputils-ping\)/);
  assert.match(text, /arping \(not installed; package iputils-arping\)/);
  assert.ok(text.includes('apt-get update && apt-get install -y iputils-ping iputils-arping'), text);
  assert.ok(text.includes('npm run demo -- --install-tools'), text);
  assert.equal(p.action === 'loopback' && p.reason, 'missing ping, arping');
});

test('root with --install-tools and apt-get: installs exactly the missing packages, then the lab', () => {
  const p = planLab({ ...base, missing: [IP, PING, ARPING], installTools: true });
  assert.equal(p.action, 'install');
  assert.ok(p.action === 'install');
  assert.deepEqual(p.packages, ['iproute2', 'iputils-ping', 'iputils-arping']);
  assert.deepEqual(p.commands, [
    ['apt-get', 'update'],
    ['apt-get', 'install', '-y', 'iproute2', 'iputils-ping', 'iputils-arping'],
  ]);
});

test('--install-tools without apt-get: says what to install by hand, falls back', () => {
  const p = planLab({ ...base, missing: [PING], installTools: true, apt: false });
  assert.equal(p.action, 'loopback');
  assert.match(p.say.join('\n'), /needs apt-get .*install iputils-ping/s);
});

test('not root: the loopback pair; says to run as root and, if tools are missing, what to install', () => {
  const none = planLab({ ...base, root: false });
  assert.equal(none.action, 'loopback');
  assert.equal(none.action === 'loopback' && none.reason, 'not root');
  assert.deepEqual(none.say, ['The network-namespace lab needs root: sudo npm run demo']);
  const some = planLab({ ...base, root: false, missing: [ARPING], installTools: true });
  assert.equal(some.action, 'loopback', '--install-tools does nothing without root');
  assert.ok(some.say.join('\n').includes(installLine(['iputils-arping'])));
});

test('not Linux: the loopback pair, nothing to install', () => {
  const p = planLab({ ...base, platform: 'darwin', missing: [IP] });
  assert.equal(p.action, 'loopback');
  assert.deepEqual(p.say, []);
});

test('one package per tool, once (unshare and nsenter are both util-linux)', () => {
  const p = planLab({
    ...base,
    installTools: true,
    missing: [
      { tool: 'unshare', pkg: 'util-linux', why: 'not installed' },
      { tool: 'nsenter', pkg: 'util-linux', why: 'not installed' },
    ],
  });
  assert.ok(p.action === 'install');
  assert.deepEqual(p.packages, ['util-linux']);
});

test('the probe: an absent tool is not installed, another implementation is not the iputils one', async () => {
  const missing = await missingLabTools([
    { tool: 'sh', pkg: 'dash', probe: ['sh', '-c', 'echo sh here'] },
    { tool: 'nope', pkg: 'nope-pkg', probe: ['pha-no-such-tool-here', '-V'] },
    {
      tool: 'arping',
      pkg: 'iputils-arping',
      probe: ['sh', '-c', 'echo "ARPing 2.21, by Thomas Habets"'],
      mustMatch: /iputils/,
    },
    {
      tool: 'arping',
      pkg: 'iputils-arping',
      probe: ['sh', '-c', 'echo "arping from iputils 20221126" >&2'],
      mustMatch: /iputils/,
    },
  ]);
  assert.deepEqual(missing, [
    { tool: 'nope', pkg: 'nope-pkg', why: 'not installed' },
    { tool: 'arping', pkg: 'iputils-arping', why: 'not the iputils one' },
  ]);
});
