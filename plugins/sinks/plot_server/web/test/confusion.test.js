import { test } from 'node:test';
import assert from 'node:assert/strict';
import { confusionMatrices, parseConfusionName } from '../src/lib/confusion.js';

test('confusion names parse', () => {
  assert.deepEqual(parseConfusionName('train:val/confusion/yes/no'), { split: 'val', truth: 'yes', predicted: 'no' });
  assert.equal(parseConfusionName('train:val/loss'), null);
});

test('matrices come from the latest counts, classes in numeric order', () => {
  const latest = new Map([
    ['train:val/confusion/10/10', 5], ['train:val/confusion/10/2', 1],
    ['train:val/confusion/2/2', 7], ['train:val/confusion/2/10', 0],
    ['train:test/confusion/a/a', 3],
  ]);
  const m = confusionMatrices(latest);
  assert.deepEqual(m.val.classes, ['2', '10']);
  assert.deepEqual(m.val.counts, [[7, 0], [1, 5]]);
  assert.equal(m.val.total, 13);
  assert.equal(m.val.correct, 12);
  assert.deepEqual(m.test.classes, ['a']);
});
