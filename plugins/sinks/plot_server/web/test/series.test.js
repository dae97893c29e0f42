import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Series, mergeRange, Clock, interpolate, thinIndices } from '../src/lib/series.js';

test('live points the history covered are dropped', () => {
  const s = new Series('train:train/loss');
  s.addLive([[10, 0, 1.0, 0.9, 1], [20, 0, 2.0, 0.8, 2], [30, 0, 3.0, 0.7, 3]]); // before history
  s.setHistory([[10, 0.9], [20, 0.8]], 2);
  assert.deepEqual(s.steps, [10, 20, 30]);
  assert.deepEqual(s.values, [0.9, 0.8, 0.7]);
  s.addLive([[30, 0, 3.0, 0.7, 3], [40, 0, 4.0, 0.6, 4]]); // a repeat, then a new one
  assert.deepEqual(s.steps, [10, 20, 30, 40]);
  assert.equal(s.lastValue(), 0.6);
});

test('points out of order land in step order', () => {
  const s = new Series('x');
  s.setHistory([], 0);
  s.addLive([[10, 0, 0, 1, 1], [30, 0, 0, 3, 2], [20, 0, 0, 2, 3]]);
  assert.deepEqual(s.steps, [10, 20, 30]);
  assert.deepEqual(s.values, [1, 2, 3]);
});

test('a finer answer replaces the points of its range only', () => {
  const r = mergeRange([0, 10, 20, 30, 40], [0, 1, 2, 3, 4], [[10, 1], [15, 1.5], [20, 2], [25, 2.5]], 10, 25);
  assert.deepEqual(r.steps, [0, 10, 15, 20, 25, 30, 40]);
  assert.deepEqual(r.values, [0, 1, 1.5, 2, 2.5, 3, 4]);
});

test('the clock interpolates epochs and times between anchors', () => {
  const c = new Clock();
  c.addEpoch(100, 1);
  c.addEpoch(200, 2);
  assert.equal(c.epochAt(50), 0.5);
  assert.equal(c.epochAt(250), 2.5); // the last epoch's pace goes on
  assert.equal(c.stepAtEpoch(1.5), 150);
  c.addTime(0, 1000);
  c.addTime(100, 1010);
  assert.equal(c.timeAt(50), 1005);
  assert.equal(c.stepAtTime(1010), 100);
});

test('interpolation with one or no anchor', () => {
  assert.equal(interpolate([], 3), null);
  assert.equal(interpolate([[1, 7]], 3), 7);
});

test('thinning keeps each bucket\'s first, min, max and last point', () => {
  assert.deepEqual(thinIndices([5, 1, 9, 4, 3, 3, 3, 3], 0, 8, 8), [0, 1, 2, 7]);
  assert.deepEqual(thinIndices([1, 2], 0, 2, 8), [0, 1]);
});

test('a series past its page limit thins its older half and keeps the spike', () => {
  const s = new Series('x', 100);
  s.setHistory([], 0);
  const pts = [];
  for (let i = 1; i <= 101; i++) pts.push([i, 0, i, i === 7 ? 1000 : 1, i]);
  s.addLive(pts);
  assert.ok(s.length < 101 && s.length >= 50);
  assert.ok(s.values.includes(1000));
  assert.equal(s.steps[s.length - 1], 101);
  for (let i = 1; i < s.length; i++) assert.ok(s.steps[i] > s.steps[i - 1]);
});
