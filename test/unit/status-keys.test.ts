// The status key table: every key survives sanitize(), a bad value is dropped
// with a message naming the key, `stat` shows every time key readably, and the
// Status type derived from the table stays precise (checked by the compiler).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatStat } from '../../src/cli/stat.js';
import type { Config } from '../../src/config/index.js';
import { keyRow, STATUS_KEYS, type Status, sanitize, TIME_KEYS } from '../../src/status-store/index.js';
import { describeType, type KeyRow, validValue } from '../../src/status-store/keys.js';

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5, 600);
const ROWS = Object.entries(STATUS_KEYS) as [string, KeyRow][];

/** A concrete key name for a row ('RES_<name>' → 'RES_vip'). */
const keyName = (k: string, r: KeyRow) => (r.prefix !== undefined ? `${r.prefix}vip` : k);

/** Every value a row must accept. */
function goodValues(r: KeyRow): unknown[] {
  switch (r.type) {
    case 'word-or-null':
      return ['ONLINE', 'OFFLINE', 'PROGRESS', null];
    case 'bit':
      return [0, 1];
    case 'bit-or-null':
      return [0, 1, null];
    case 'count':
      return [0, 17];
    case 'time':
      return [NOW];
    case 'time-or-null':
      return [NOW, null];
    case 'string':
      return ['', 'a reason'];
    case 'string-or-null':
      return ['an alarm', null];
    case 'enum':
      return [...(r.values ?? [])];
  }
}

/** Values a row must refuse. */
function badValues(r: KeyRow): unknown[] {
  const common = [{}, [], true, 'ONLINE!', 'nonsense'];
  switch (r.type) {
    case 'word-or-null':
      return [...common, 'online', 1, 'UP'];
    case 'bit':
      return [...common, 2, null, '1', 0.5];
    case 'bit-or-null':
      return [...common, 2, '0'];
    case 'count':
    case 'time':
      return [...common, null, '12', 'x'];
    case 'time-or-null':
      return [...common, '12'];
    case 'string':
      return [{}, [], true, 5, null];
    case 'string-or-null':
      return [{}, [], true, 5];
    case 'enum':
      return [...common, null, 1, `${(r.values ?? [])[0]!.toLowerCase()}?`];
  }
}

test('every key of the table round-trips through sanitize with each of its valid values', () => {
  for (const [k, r] of ROWS) {
    for (const v of goodValues(r)) {
      const name = keyName(k, r);
      const problems: string[] = [];
      const out = sanitize(JSON.parse(JSON.stringify({ [name]: v })), problems);
      assert.deepEqual(problems, [], `${name} = ${JSON.stringify(v)}`);
      assert.deepEqual(out, { [name]: v }, `${name} = ${JSON.stringify(v)}`);
      assert.equal(validValue(r, v), true);
    }
  }
});

test('a full status with every key at once is kept as it is', () => {
  const full: Record<string, unknown> = {};
  for (const [k, r] of ROWS) full[keyName(k, r)] = goodValues(r)[0];
  const problems: string[] = [];
  assert.deepEqual(sanitize(full, problems), full);
  assert.deepEqual(problems, []);
});

test('a bad value is dropped with a message naming the key and what it expects; the other keys stay', () => {
  for (const [k, r] of ROWS) {
    for (const v of badValues(r)) {
      const name = keyName(k, r);
      const problems: string[] = [];
      const other = name === 'CLI' ? 'SUPERVISE' : 'CLI';
      const out = sanitize({ [name]: v, [other]: 1 }, problems);
      assert.deepEqual(out, { [other]: 1 }, `${name} = ${JSON.stringify(v)} must be dropped`);
      assert.equal(problems.length, 1, `${name} = ${JSON.stringify(v)}`);
      assert.match(
        problems[0]!,
        new RegExp(
          `^key ${name} has an invalid value .*\\(expected ${describeType(r).replace(/[|()]/g, '\\$&')}\\): dropped$`,
        ),
      );
    }
  }
});

test("keys not in the table: a number is kept (a newer version's time or counter), anything else dropped and named", () => {
  const problems: string[] = [];
  assert.deepEqual(sanitize({ NEW_COUNTER: 3, NEW_TEXT: 'x' }, problems), { NEW_COUNTER: 3 });
  assert.deepEqual(problems, ['unknown key NEW_TEXT with a non-number value "x": dropped']);
  const p2: string[] = [];
  assert.deepEqual(sanitize([1, 2], p2), {});
  assert.deepEqual(p2, ['content is not a JSON object']);
});

test('the table is well formed: enum rows list values, pattern rows match no named key', () => {
  for (const [k, r] of ROWS) {
    assert.match(k, /^[A-Z][A-Z0-9_]*(<name>)?$/, k);
    assert.equal(r.type === 'enum', (r.values?.length ?? 0) > 0, `${k}: values exactly for enum rows`);
    assert.ok(r.doc.length > 0 && !r.doc.includes('\n'), `${k}: doc is one line`);
    if (r.prefix !== undefined) {
      assert.equal(k, `${r.prefix}<name>`, `${k}: a pattern row is named <prefix><name>`);
      for (const [other, o] of ROWS)
        if (o.prefix === undefined) assert.ok(!other.startsWith(r.prefix), `${other} would be taken for a ${k} key`);
    }
    assert.equal(keyRow(keyName(k, r)), r, k);
  }
  assert.equal(keyRow('NO_SUCH_KEY'), undefined);
});

test('the time keys are exactly the rows of a time type, DECIDED_AT and SENDER_STARTED_AT included', () => {
  const times = ROWS.filter(([, r]) => r.type === 'time' || r.type === 'time-or-null').map(([k]) => k);
  assert.deepEqual([...TIME_KEYS].sort(), times.sort());
  for (const k of ['DECIDED_AT', 'SENDER_STARTED_AT', 'OFF_REQUEST', 'OFF_ANSWERED', 'FAILED_UNTIL'])
    assert.ok(TIME_KEYS.has(k), k);
});

test('stat prints every time key as a readable time, other numbers as they are', () => {
  const s: Record<string, unknown> = {};
  for (const [k, r] of ROWS) s[keyName(k, r)] = goodValues(r)[0];
  for (const k of TIME_KEYS) s[k] = NOW - 2500;
  const config = { peer: { name: 'lb2' }, paths: [{ local: '198.18.0.11', peer: '198.18.0.12' }] } as unknown as Config;
  const pids = { sender: { pid: 11 }, receiver: { pid: 12 }, supervise: { pid: 13 } };
  const out = formatStat(s as Status, pids, config, NOW);
  const iso = new Date(NOW - 2500).toISOString();
  for (const k of TIME_KEYS) {
    assert.ok(out.includes(`'${k}' => '${iso} (2.5 s ago)'`), `${k} is not shown readably:\n${out}`);
  }
  assert.ok(out.includes(`'RECEIVER_DROPPED' => 0`), out);
  assert.ok(out.includes(`'SENDER_RUN' => 0`), out);
  assert.ok(out.includes(`'STATUS' => 'ONLINE'`), out);
  assert.doesNotMatch(out, new RegExp(`=> ${NOW - 2500}\\b`), 'no time key printed as a raw number');
});

// Compile-time checks: the Status type derived from the table is precise.
// (A wrong @ts-expect-error fails the build, so these cannot silently rot.)
test('the Status type refuses what the table refuses (checked by tsc)', () => {
  const ok: Status = {
    STATUS: 'ONLINE',
    RES_vip: 'UP',
    OFF_RESULT: 'released',
    GW_OK: null,
    OFF_REQUEST: null,
    DECIDED_AT: NOW,
  };
  // @ts-expect-error not a word
  const badWord: Status = { STATUS: 'UP' };
  // @ts-expect-error RES_<name> is UP or DOWN
  const badRes: Status = { RES_vip: 'ONLINE' };
  // @ts-expect-error not a key of the table
  const unknownKey: Status = { NO_SUCH_KEY: 1 };
  // @ts-expect-error a bit is 0 or 1
  const badBit: Status = { SENDER_RUN: 2 };
  // @ts-expect-error not one of the enum's values
  const badEnum: Status = { OFF_RESULT: 'maybe' };
  // @ts-expect-error a time is a number
  const badTime: Status = { DECIDED_AT: '2026-01-01' };
  const word: 'ONLINE' | 'OFFLINE' | 'PROGRESS' | null | undefined = ok.STATUS;
  const res: 'UP' | 'DOWN' | undefined = ok.RES_other;
  assert.ok([badWord, badRes, unknownKey, badBit, badEnum, badTime].every((x) => typeof x === 'object'));
  assert.equal(word, 'ONLINE');
  assert.equal(res, undefined);
});
