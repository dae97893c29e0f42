import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seriesTable, isStepFunction } from '../src/lib/chartdata.js';

const byStep = (step) => step;

test('a table keeps x ascending, the last of equal x, and gaps for non-finite values', () => {
  const [xs, ys] = seriesTable({ steps: [1, 2, 2, 1, 3, 4], values: [1, 2, 3, 9, NaN, 4], times: null }, byStep);
  assert.deepEqual(xs, [1, 2, 3, 4]);
  assert.deepEqual(ys, [1, 3, null, 4]);
});

test('points without an x are left out; log scale makes values <= 0 gaps', () => {
  const xOf = (step) => (step === 2 ? null : step * 10);
  const [xs, ys] = seriesTable({ steps: [1, 2, 3], values: [0, 5, 2], times: null }, xOf, { log: true });
  assert.deepEqual(xs, [10, 30]);
  assert.deepEqual(ys, [null, 2]);
});

test('smoothing applies to curves, not to step functions such as lr', () => {
  const data = { steps: [1, 2, 3], values: [0, 10, 0], times: null };
  const smoothed = seriesTable(data, byStep, { amount: 0.5, mode: 'ema' }, 'train/loss')[2];
  assert.notDeepEqual(smoothed, [0, 10, 0]);
  assert.deepEqual(seriesTable(data, byStep, { amount: 0.5 }, 'lr')[2], [0, 10, 0]);
  assert.ok(isStepFunction('best/val/accuracy'));
  assert.ok(!isStepFunction('val/accuracy'));
});

test('times reach xOf when the points have them', () => {
  const seen = [];
  seriesTable({ steps: [1, 2], values: [1, 1], times: [100, null] }, (s, t) => { seen.push(t); return s; });
  assert.deepEqual(seen, [100, null]);
});
