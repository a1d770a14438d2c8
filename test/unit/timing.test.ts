// Every interval derived from the config, one formula each (docs/daemons.md, "Derived intervals").
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUS_HEARD_AGAIN_MS, progressBound, type TimingInput, timingOf } from '../../src/config/timing.js';
import { DEFAULT_TIMING } from '../helpers/timing.js';

const base: TimingInput = { ...DEFAULT_TIMING, resources: [{}, {}] };
const t = (o: Partial<TimingInput> = {}) => timingOf({ ...base, ...o });

describe('timingOf', () => {
  it('passes the configured intervals through, in ms', () => {
    const x = t();
    assert.equal(x.heartbeatInt, 200);
    assert.equal(x.deadtime, 1000);
    assert.equal(x.superviseInt, 2000);
    assert.equal(x.gwFails, 6);
    assert.equal(x.resRestarts, 2);
    assert.equal(x.resTimeoutMs, 30_000);
    assert.equal(x.failHolddownMs, 300_000);
    assert.equal(x.offPauseMs, 30_000);
  });
  it('bus interval: DEADTIME/2 within [20, 1000] ms; fresh: three intervals + 100 ms', () => {
    assert.equal(t({ DEADTIME: 1000 }).busIntervalMs, 500);
    assert.equal(t({ DEADTIME: 30 }).busIntervalMs, 20);
    assert.equal(t({ DEADTIME: 5000 }).busIntervalMs, 1000);
    assert.equal(t({ DEADTIME: 1000 }).busFreshMs, 1600);
    assert.equal(t({ DEADTIME: 200 }).busFreshMs, 400);
    assert.equal(BUS_HEARD_AGAIN_MS, 1600);
  });
  it('watchdog poll: DEADTIME/2 within [50, 500] ms', () => {
    assert.equal(t({ DEADTIME: 1000 }).watchdogPollMs, 500);
    assert.equal(t({ DEADTIME: 200 }).watchdogPollMs, 100);
    assert.equal(t({ DEADTIME: 80 }).watchdogPollMs, 50);
    assert.equal(t({ DEADTIME: 5000 }).watchdogPollMs, 500);
  });
  it("supervise's ticker: DEADTIME/2, at most 500 ms; its stamp at least every 2 s or SUPERVISE_INT", () => {
    assert.equal(t({ DEADTIME: 200 }).superviseTickerMs, 100);
    assert.equal(t({ DEADTIME: 3000 }).superviseTickerMs, 500);
    assert.equal(t({ SUPERVISE_INT: 2000 }).superviseStampMs, 2000);
    assert.equal(t({ SUPERVISE_INT: 500 }).superviseStampMs, 500);
  });
  it('supervise stale after 3 rounds + DEADTIME; lost (the sender fences) after 2 rounds + a check + DEADTIME, at least 5 s', () => {
    assert.equal(t().superviseStaleMs, 7000);
    assert.equal(t().superviseLostMs, 7000);
    assert.equal(t({ SUPERVISE_INT: 500, CHECK_TIMEOUT: 500, DEADTIME: 200 }).superviseLostMs, 5000);
  });
  it("rule 7's PROGRESS bound: every start timed out on every restart, plus DEADTIME", () => {
    assert.equal(t().progressBoundMs, 2 * 30_000 * 3 + 1000);
    assert.equal(t({ resources: [] }).progressBoundMs, 30_000 * 3 + 1000);
    assert.equal(progressBound(1, 1000, 0, 200), 1200);
  });
  it('a clean stop waits for a running script at most 3 s (or RES_TIMEOUT)', () => {
    assert.equal(t().settleMs, 3000);
    assert.equal(t({ RES_TIMEOUT: 1 }).settleMs, 1000);
  });
});
