import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseModelSeries, thinSnapshots, addSnapshot, heatmapGrid, columnSpans, viridis, intensity, classColor,
  regionAlpha, axisTitle, boundarySummary, canvasRow, gradientRows, logDomain, logPosition, shortNumber,
} from '../src/lib/model.js';

test('model series names parse, parameters may hold dots and slashes', () => {
  assert.deepEqual(parseModelSeries('train:model/0.linear.weight/grad/abs_mean'),
    { node: 'train', parameter: '0.linear.weight', of: 'grad', stat: 'abs_mean' });
  assert.deepEqual(parseModelSeries('model/enc/conv1/weight/std'), { node: '', parameter: 'enc/conv1', of: 'weight', stat: 'std' });
  assert.equal(parseModelSeries('train:train/loss'), null);
  assert.equal(parseModelSeries('train:model/x/bias/mean'), null);
});

test('snapshots are thinned to every other one, keeping the newest', () => {
  const list = Array.from({ length: 11 }, (_, i) => ({ step: i }));
  assert.deepEqual(thinSnapshots(list, 10).map((s) => s.step), [0, 2, 4, 6, 8, 10]);
  const even = Array.from({ length: 12 }, (_, i) => ({ step: i }));
  assert.deepEqual(thinSnapshots(even, 10).map((s) => s.step), [0, 2, 4, 6, 8, 10, 11]);
  assert.equal(thinSnapshots(list, 20), list);
});

test('live snapshots are appended in step order, a repeat replaces, an older one is dropped', () => {
  let list = [{ step: 0 }, { step: 10 }];
  list = addSnapshot(list, { step: 20, v: 1 });
  list = addSnapshot(list, { step: 20, v: 2 });
  list = addSnapshot(list, { step: 5 });
  assert.deepEqual(list, [{ step: 0 }, { step: 10 }, { step: 20, v: 2 }]);
  for (let s = 30; s < 100; s += 10) list = addSnapshot(list, { step: s }, 6);
  assert.ok(list.length <= 7);
  assert.equal(list[list.length - 1].step, 90);
});

test('histograms of different ranges go onto one value axis, counts conserved', () => {
  const g = heatmapGrid([
    { step: 0, lo: 0, hi: 1, counts: [4, 0, 0, 4] },
    { step: 10, lo: 0, hi: 2, counts: [2, 6] },
  ], 8, 0);
  assert.equal(g.lo, 0);
  assert.equal(g.hi, 2);
  assert.deepEqual(g.steps, [0, 10]);
  // [0, 1] over rows 0..3: bin 0 -> row 0, bin 3 -> row 3.
  assert.deepEqual([...g.columns[0]], [4, 0, 0, 4, 0, 0, 0, 0]);
  // [0, 2], two bins of 4 rows each.
  assert.deepEqual([...g.columns[1]], [0.5, 0.5, 0.5, 0.5, 1.5, 1.5, 1.5, 1.5]);
  assert.equal(g.max[0], 4);
  const total = (col) => col.reduce((a, b) => a + b, 0);
  assert.equal(total(g.columns[1]), 8);
  assert.equal(g.clipped, false);
});

test('an outlying range does not squeeze the others: its counts pile up at the edges', () => {
  const snaps = Array.from({ length: 20 }, (_, i) => ({ step: i, lo: -1, hi: 1, counts: [1, 3, 3, 1] }));
  snaps.push({ step: 20, lo: -100, hi: 100, counts: [5, 0, 0, 5] });
  const g = heatmapGrid(snaps, 4);
  assert.equal(g.lo, -1);
  assert.equal(g.hi, 1);
  assert.equal(g.clipped, true);
  assert.deepEqual([...g.columns[0]], [1, 3, 3, 1]);
  assert.deepEqual([...g.columns[20]], [5, 0, 0, 5]);
  const all = heatmapGrid(snaps, 4, 0);
  assert.equal(all.hi, 100);
});

test('quantiles', async () => {
  const { quantile } = await import('../src/lib/model.js');
  assert.equal(quantile([3, 1, 2], 0.5), 2);
  assert.equal(quantile([0, 10], 0.25), 2.5);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

test('a histogram of equal values (lo == hi) fills one row and the axis gets some room', () => {
  const g = heatmapGrid([{ step: 0, lo: 0, hi: 0, counts: [10] }], 10);
  assert.ok(g.lo < 0 && g.hi > 0);
  assert.equal(g.columns[0].reduce((a, b) => a + b, 0), 10);
  assert.equal(heatmapGrid([], 10), null);
});

test('heat-map columns follow the steps and fill the width', () => {
  assert.deepEqual(columnSpans([0, 10, 20], 300), [[0, 100], [100, 200], [200, 300]]);
  assert.deepEqual(columnSpans([5], 80), [[0, 80]]);
  const spans = columnSpans([0, 10, 40], 100);
  assert.equal(spans[2][1], 100);
  assert.equal(spans[1][0], spans[0][1]);
});

test('colours: viridis ends, intensity, class colours, region opacity', () => {
  assert.deepEqual(viridis(0), [68, 1, 84]);
  assert.deepEqual(viridis(1), [253, 231, 37]);
  assert.deepEqual(viridis(-3), viridis(0));
  assert.equal(intensity(0, 10), 0);
  assert.equal(intensity(10, 10), 1);
  assert.ok(intensity(1, 1000) > 0.1);
  assert.equal(intensity(1, 0), 0);
  assert.equal(classColor(0), '#4e79a7');
  assert.notEqual(classColor(10), classColor(0));
  assert.match(classColor(13), /^#[0-9a-f]{6}$/);
  assert.ok(regionAlpha(1, 10) > regionAlpha(0.1, 10));
  assert.equal(regionAlpha(0.1, 10), 0.12);
});

test('boundary axis titles, summary and rows', () => {
  assert.equal(axisTitle('pca', [0.43, 0.2149], 0), 'PC1 (43%)');
  assert.equal(axisTitle('pca', [0.43, 0.2149], 1), 'PC2 (21%)');
  assert.equal(axisTitle('pca', null, 1), 'PC2');
  assert.equal(axisTitle('input', null, 0), 'input 1');
  assert.deepEqual(boundarySummary({ labels: [0, 1, 2, 2], predictions: [0, 1, 1, 2] }), { points: 4, correct: 3, wrong: 1, accuracy: 0.75 });
  assert.equal(boundarySummary({ labels: [], predictions: [] }).accuracy, null);
  assert.equal(canvasRow(0, 50), 49);
});

test('gradient flow rows come in the model order with abs_mean and norm', () => {
  const latest = new Map([
    ['train:model/1.linear.weight/grad/abs_mean', 0.002],
    ['train:model/0.linear.weight/grad/abs_mean', 0.01],
    ['train:model/0.linear.weight/grad/norm', 1.5],
    ['train:model/0.linear.weight/weight/norm', 9],
    ['train:train/loss', 0.3],
  ]);
  const rows = gradientRows(latest, ['0.linear.weight', '1.linear.weight']);
  assert.deepEqual(rows.map((r) => r.parameter), ['0.linear.weight', '1.linear.weight']);
  assert.equal(rows[0].absMean, 0.01);
  assert.equal(rows[0].norm, 1.5);
  assert.equal(rows[1].norm, null);
});

test('log axis: whole decades, positions, short labels', () => {
  assert.deepEqual(logDomain([0.002, 1.5, 0, -1]), { min: 0.001, max: 10, ticks: [0.001, 0.01, 0.1, 1, 10] });
  assert.deepEqual(logDomain([1]).ticks, [1, 10]);
  assert.equal(logDomain([0, null]), null);
  assert.equal(logPosition(0.1, 0.01, 1), 0.5);
  assert.equal(logPosition(0, 0.01, 1), 0);
  assert.equal(shortNumber(0.000123), '1.2e-4');
  assert.equal(shortNumber(0.5), '0.5');
  assert.equal(shortNumber(12345), '1.2e4');
  assert.equal(shortNumber(null), '–');
});

test('round ticks, opaque blending, colour parsing', async () => {
  const { niceTicks, over, parseColor } = await import('../src/lib/model.js');
  assert.deepEqual(niceTicks(-2.7, 2.9, 5), [-2, 0, 2]);
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(-0.013, 0.012, 5), [-0.01, -0.005, 0, 0.005, 0.01]);
  assert.deepEqual(niceTicks(3, 3), [3]);
  assert.deepEqual(over([255, 0, 0], [255, 255, 255], 0.5), [255, 128, 128]);
  assert.deepEqual(parseColor('#0f1218'), [15, 18, 24]);
  assert.deepEqual(parseColor('rgb(1, 2, 3)'), [1, 2, 3]);
  assert.equal(parseColor('red'), null);
});
