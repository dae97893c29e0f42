import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toCSV, seriesRows, seriesCSV, seriesJSON, fileName } from '../src/lib/csv.js';

test('CSV quotes what needs quoting and keeps numbers exact', () => {
  const csv = toCSV(['a', 'b'], [[0.1 + 0.2, 'x,y'], [NaN, 'say "hi"'], [null, Infinity]]);
  assert.equal(csv, 'a,b\n0.30000000000000004,"x,y"\nNaN,"say ""hi"""\n,Infinity\n');
});

test('a series joins its step and time answers', () => {
  const rows = seriesRows([[1, 0.5], [2, 0.4]], [[100.5, 0.5], [101.5, 0.4]]);
  assert.equal(seriesCSV(rows), 'step,time,value\n1,100.5,0.5\n2,101.5,0.4\n');
  const noTime = seriesRows([[1, 0.5]], [[100, 0.5], [101, 0.4]]);
  assert.equal(noTime[0].time, null);
  const json = JSON.parse(seriesJSON('train:lr', rows));
  assert.equal(json.name, 'train:lr');
  assert.deepEqual(json.points[1], { step: 2, time: 101.5, value: 0.4 });
  assert.equal(JSON.parse(seriesJSON('n', seriesRows([[1, NaN]], null))).points[0].value, 'NaN');
});

test('file names are safe', () => {
  assert.equal(fileName('train:val/loss', 'csv'), 'train_val_loss.csv');
});
