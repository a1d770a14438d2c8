// A second holder seen (split.ts): an answer for a resource this node holds
// is a split brain (alarm, log, SPLIT_BRAIN, a transition), over when the
// probes find it alone; an answer for what it does not hold is the peer at
// work. And the prober (checks.ts) reading real scripts' exit codes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ResourceRunner } from '../../src/resources/index.js';
import { Prober } from '../../src/supervise/checks.js';
import type { SuperviseEffect } from '../../src/supervise/events.js';
import { Held } from '../../src/supervise/held.js';
import { SplitWatch } from '../../src/supervise/split.js';
import { Teller } from '../../src/supervise/teller.js';

const c = {
  resources: [
    { name: 'ipaddr', script: '/x' },
    { name: 'web', script: '/y' },
  ],
  GW: '',
  CHECK_TIMEOUT: 2000,
  DEADTIME: 1000,
  SUPERVISE_INT: 2000,
  peer: { name: 'lb2' },
};

function setup(up: string[]) {
  const held = new Held(c);
  held.checked(
    c.resources.map((r) => ({ name: r.name, ok: up.includes(r.name) })),
    true,
    [],
  );
  return { held, teller: new Teller(c, { deadtime: 1000 }), split: new SplitWatch(2000, 1000) };
}
const of = <K extends SuperviseEffect['kind']>(out: SuperviseEffect[], kind: K) =>
  out.filter((e): e is Extract<SuperviseEffect, { kind: K }> => e.kind === kind);

describe('split watch', () => {
  it('an answer for what this node holds: split brain, told once; over when the probes find it alone', () => {
    const { held, teller, split } = setup(['ipaddr']);
    const clock = { mono: 10, wall: 1000 };
    let out: SuperviseEffect[] = [];
    const { patch, changed } = split.probed(
      [{ name: 'ipaddr', answered: true, by: '02:00:00:00:00:01' }],
      0,
      false,
      held,
      teller,
      clock,
      out,
    );
    assert.deepEqual(patch, { SPLIT_BRAIN: 'ipaddr answered by 02:00:00:00:00:01' });
    assert.ok(changed, 'the rules are asked again');
    assert.deepEqual(split.seen().split, { since: 1000, text: 'ipaddr answered by 02:00:00:00:00:01' });
    assert.ok(
      out.some((e) => e.kind === 'arm' && e.timer === 'probe' && e.at === 10 + 1000),
      'a second look a DEADTIME later',
    );
    assert.match(
      of(out, 'alarm').find((a) => a.id === 'split')!.text!,
      /split brain: ipaddr answered by 02:00:00:00:00:01/,
    );
    assert.match(of(out, 'log')[0]!.msg, /split brain: this node holds ipaddr and another host answers/);
    const t = of(out, 'notify')[0]!.transition;
    assert.deepEqual([t.event, t.now, t.old], ['split', 'SPLIT_BRAIN', 'SPLIT_BRAIN_OVER']);
    out = [];
    // The same again: nothing new to tell. A probe that cannot tell keeps what was seen.
    const again = { mono: 1010, wall: 2000 };
    const same = [{ name: 'ipaddr', answered: true, by: '02:00:00:00:00:01' }];
    assert.equal(split.probed(same, 1000, false, held, teller, again, out).patch, null);
    assert.equal(split.seen().split?.since, 1000, 'since the first answer');
    const boom = [{ name: 'ipaddr', answered: null, error: 'arping: boom' }];
    assert.equal(split.probed(boom, 1000, false, held, teller, again, out).patch, null);
    assert.equal(
      of(out, 'alarm')
        .filter((a) => a.id === 'probe:ipaddr')
        .at(-1)?.text,
      'probe of ipaddr: arping: boom',
    );
    assert.equal(of(out, 'notify').length, 0);
    out = [];
    const alone = [{ name: 'ipaddr', answered: false }];
    assert.deepEqual(split.probed(alone, 1000, false, held, teller, clock, out).patch, { SPLIT_BRAIN: undefined });
    assert.ok(split.seen().otherAnswers, 'one probe may miss an answer: that another host answers stands');
    split.probed(alone, 1000, false, held, teller, clock, out);
    assert.deepEqual(split.seen(), { split: null, otherAnswers: null }, 'two probes that found nobody');
    assert.equal(of(out, 'alarm').find((a) => a.id === 'split')!.text, null);
    assert.equal(of(out, 'notify')[0]!.transition.now, 'SPLIT_BRAIN_OVER');
  });

  it('an answer for what this node does not hold is the peer at work: nothing', () => {
    const { held, teller, split } = setup(['web']);
    const out: SuperviseEffect[] = [];
    const r = split.probed(
      [{ name: 'ipaddr', answered: true, by: 'aa' }],
      0,
      false,
      held,
      teller,
      { mono: 1, wall: 5 },
      out,
    );
    assert.equal(r.patch, null);
    assert.equal(of(out, 'notify').length, 0);
    assert.deepEqual(split.seen().otherAnswers, { at: 5, text: 'ipaddr answered by aa' }, 'but the rules know');
  });

  it('a probe asked before this node started the resource cannot tell for it: the old holder before it let go is no second holder', () => {
    // A switchover: the probe went out while lb2 still held ipaddr (it answered), the
    // release and our start came while it waited (an IPv6 probe waits its whole second).
    const { held, teller, split } = setup(['ipaddr', 'web']);
    let out: SuperviseEffect[] = [];
    split.started(['ipaddr'], { mono: 500, wall: 5500 });
    const old = [
      { name: 'ipaddr', answered: true, by: '02:00:00:00:00:02' },
      { name: 'web', answered: true, by: '02:00:00:00:00:02' },
    ];
    const r = split.probed(old, 400, false, held, teller, { mono: 1400, wall: 6400 }, out);
    assert.deepEqual(
      r.patch,
      { SPLIT_BRAIN: 'web answered by 02:00:00:00:00:02' },
      'web was held all along: it counts',
    );
    assert.equal(split.seen().split?.text, 'web answered by 02:00:00:00:00:02');
    // The next probe, asked after the start: an answer for ipaddr now is a second holder.
    out = [];
    const now = split.probed(old.slice(0, 1), 600, false, held, teller, { mono: 1600, wall: 6600 }, out);
    assert.deepEqual(now.patch, { SPLIT_BRAIN: 'ipaddr answered by 02:00:00:00:00:02' });
    // One seen already stands through a probe asked before a restart of it (cannot tell), as through an error.
    split.started(['ipaddr'], { mono: 2000, wall: 7000 });
    assert.equal(
      split.probed([{ name: 'ipaddr', answered: false }], 1900, false, held, teller, { mono: 2100, wall: 7100 }, out)
        .patch,
      null,
    );
  });

  it('an answer while this node stops what it holds is the takeover it asked for: no split brain; one seen stands', () => {
    const { held, teller, split } = setup(['ipaddr']);
    const out: SuperviseEffect[] = [];
    const answered = [{ name: 'ipaddr', answered: true, by: '02:00:00:00:00:02' }];
    assert.equal(split.probed(answered, 100, true, held, teller, { mono: 1100, wall: 2100 }, out).patch, null);
    assert.equal(split.seen().split, null);
    assert.equal(of(out, 'notify').length, 0);
    split.probed(answered, 1200, false, held, teller, { mono: 1300, wall: 2300 }, out);
    assert.equal(split.probed(answered, 1400, true, held, teller, { mono: 1500, wall: 2500 }, out).patch, null);
    assert.equal(split.seen().split?.since, 2300, 'seen before the stop: it stands until a probe finds nobody');
  });

  it('probes on a cadence of its own: a round; a DEADTIME while the peer is silent; at once after a start', () => {
    const { split } = setup([]);
    const clock = { mono: 100, wall: 0 };
    assert.deepEqual(split.tick(clock), [
      { kind: 'probe', sentAt: 100 },
      { kind: 'arm', timer: 'probe', at: 2100 },
    ]);
    assert.deepEqual(
      split.peer(true, clock),
      [{ kind: 'arm', timer: 'probe', at: 600 }],
      'half a DEADTIME after the silence',
    );
    assert.deepEqual(split.peer(true, clock), [], 'once');
    assert.deepEqual(split.tick(clock)[1], { kind: 'arm', timer: 'probe', at: 1100 });
    assert.deepEqual(split.started(['ipaddr'], clock), [{ kind: 'arm', timer: 'probe', at: 100 }]);
    split.peer(false, clock);
    assert.deepEqual(split.tick(clock)[1], { kind: 'arm', timer: 'probe', at: 2100 });
  });
});

describe('prober (real scripts)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pha-probe-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const script = (name: string, body: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, `#!/bin/sh\n[ "$1" = probe ] || exit 0\n${body}\n`, { mode: 0o755 });
    return { name, script: p, args: ['198.18.0.100/24', 'eth0'] };
  };
  it('reads 0, 1 with "answered by", 2, 1 without it, 3; a script without a probe is not asked again', async () => {
    const logs: string[] = [];
    const res = [
      script('alone', 'exit 0'),
      script('other', 'echo "answered by 02:00:00:00:00:09"; exit 1'),
      script('none', 'echo usage >&2; exit 2'),
      script('plain1', 'exit 1'),
      script('broken', 'echo "cannot open socket" >&2; exit 3'),
    ];
    const p = new Prober(new ResourceRunner({ timeoutMs: 2000 }), res, 2000, (m) => logs.push(m));
    const r = await p.probe();
    assert.deepEqual(
      r.map((x) => [x.name, x.answered, x.by ?? x.error ?? null]),
      [
        ['alone', false, null],
        ['other', true, '02:00:00:00:00:09'],
        ['none', null, null],
        ['plain1', null, null],
        ['broken', null, 'cannot open socket'],
      ],
    );
    assert.equal(logs.length, 2, logs.join(' | '));
    assert.deepEqual(
      (await p.probe()).map((x) => x.name),
      ['alone', 'other', 'broken'],
      'the scripts without a probe are not asked again',
    );
  });
});
