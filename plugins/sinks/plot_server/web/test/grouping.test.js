import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupSeries, groupOf, splitName, seriesLabel, isModel } from '../src/lib/grouping.js';

test('names split at the first colon', () => {
  assert.deepEqual(splitName('train:val/loss'), { node: 'train', metric: 'val/loss' });
  assert.deepEqual(splitName('lr'), { node: '', metric: 'lr' });
});

test('losses, accuracies, rates, lr and samples/s get their charts', () => {
  const groups = groupSeries([
    'train:val/loss', 'train:train/loss', 'train:test/loss', 'train:lr', 'train:samples_per_s',
    'train:train/accuracy', 'train:val/accuracy', 'train:val/fpr', 'train:val/fnr', 'train:val/f1',
    'train:grad_norm', 'train:weights/fc1/mean', 'train:weights/fc2/mean',
    'train:val/confusion/0/1', 'train:val/f1/yes',
  ]);
  const byKey = Object.fromEntries(groups.map((g) => [g.key, g.names]));
  assert.deepEqual(byKey.loss, ['train:train/loss', 'train:val/loss', 'train:test/loss']);
  assert.deepEqual(byKey.accuracy, ['train:train/accuracy', 'train:val/accuracy']);
  assert.deepEqual(byKey.rates, ['train:val/f1', 'train:val/fnr', 'train:val/fpr']);
  assert.deepEqual(byKey.lr, ['train:lr']);
  assert.deepEqual(byKey.samples_per_s, ['train:samples_per_s']);
  assert.deepEqual(byKey['p:weights'], ['train:weights/fc1/mean', 'train:weights/fc2/mean']);
  assert.deepEqual(byKey['class:f1'], ['train:val/f1/yes']);
  assert.ok(!Object.values(byKey).flat().some((n) => n.includes('confusion')));
  assert.equal(groups[0].key, 'loss');
  assert.equal(groups[1].key, 'accuracy');
});

test('best/ metrics go on the chart of the metric they track; progress is left out', () => {
  assert.equal(groupOf('best/val/accuracy').key, 'accuracy');
  assert.equal(groupOf('best/custom/thing').key, 'p:best');
  const groups = groupSeries(['train:epoch', 'train:progress', 'train:eta_s', 'train:epochs', 'train:val/accuracy', 'train:best/val/accuracy']);
  assert.deepEqual(groups.map((g) => g.key), ['accuracy']);
  assert.deepEqual(groups[0].names, ['train:val/accuracy', 'train:best/val/accuracy']);
});

test('labels name the node only when several nodes report', () => {
  assert.equal(seriesLabel('train:val/loss', false), 'val/loss');
  assert.equal(seriesLabel('train:val/loss', true), 'train:val/loss');
});

test('model/P/... statistics are left to the model views', () => {
  assert.ok(isModel('model/0.linear.weight/grad/abs_mean'));
  assert.ok(!isModel('train/loss'));
  const groups = groupSeries(['train:train/loss', 'train:model/0.linear.weight/grad/norm', 'train:model/0.linear.bias/weight/mean']);
  assert.deepEqual(groups.map((g) => g.key), ['loss']);
});
