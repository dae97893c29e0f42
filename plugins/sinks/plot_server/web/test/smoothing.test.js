import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emaDebiased, movingAverage, windowFromSlider } from '../src/lib/smoothing.js';

test('debiased EMA starts at the first value, not pulled towards 0', () => {
  const out = emaDebiased([10, 10, 10], 0.9);
  for (const v of out) assert.ok(Math.abs(v - 10) < 1e-9);
});

test('debiased EMA matches TensorBoard on a step', () => {
  // TensorBoard: last = last*w + (1-w)*y; value = last / (1 - w^n)
  const out = emaDebiased([0, 1], 0.5);
  assert.equal(out[0], 0);
  assert.ok(Math.abs(out[1] - 0.5 / 0.75) < 1e-12);
});

test('weight 0 leaves the values', () => {
  assert.deepEqual(emaDebiased([1, 5, 2], 0), [1, 5, 2]);
});

test('non-finite values pass through without breaking the average', () => {
  const out = emaDebiased([1, NaN, 1, null], 0.6);
  assert.ok(Number.isNaN(out[1]));
  assert.equal(out[3], null);
  assert.ok(Math.abs(out[2] - 1) < 1e-12);
});

test('moving average over a trailing window', () => {
  assert.deepEqual(movingAverage([1, 2, 3, 4, 5], 2), [1, 1.5, 2.5, 3.5, 4.5]);
  assert.deepEqual(movingAverage([2, 4], 10), [2, 3]);
  const out = movingAverage([1, Infinity, 3], 2);
  assert.equal(out[1], Infinity);
  assert.equal(out[2], 2);
});

test('slider maps to a window of 1..100', () => {
  assert.equal(windowFromSlider(0), 1);
  assert.equal(windowFromSlider(1), 100);
});
