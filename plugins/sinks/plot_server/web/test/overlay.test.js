import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PastRun, pastRuns, seriesToFetch, overlayDash, MAX_OVERLAYS, runLabel } from '../src/lib/overlay.js';

const runs = [
  { id: 'c', name: 'digits', start_time: 300 },
  { id: 'b', name: 'iris', start_time: 200 },
  { id: 'a', name: 'digits', start_time: 100 },
];

test('the live run is never offered as a past one; a pipeline name narrows the list', () => {
  assert.deepEqual(pastRuns(runs, 'c').map((r) => r.id), ['b', 'a']);
  assert.deepEqual(pastRuns(runs, 'c', 'digits').map((r) => r.id), ['a']);
  assert.deepEqual(pastRuns(undefined, 'c'), []);
});

test('a past run fetches its curves, the live ones first, and its trainer epochs for the clock', () => {
  const past = ['train:val/accuracy', 'train:train/loss', 'train:epoch', 'train:val/confusion/a/b', 'train:model/fc.weight/grad/norm',
    'train:telemetry/drops', 'other:x'];
  const live = ['train:train/loss', 'train:lr'];
  assert.deepEqual(seriesToFetch(past, live, 'train'), ['train:train/loss', 'train:val/accuracy', 'other:x', 'train:epoch']);
  assert.deepEqual(seriesToFetch(past, live, '', 2), ['train:train/loss', 'train:val/accuracy']);
});

test('past points map onto step, epoch and time since that run began', () => {
  const r = new PastRun({ id: 'a', start_time: 1000 }, 0);
  r.add('train:epoch', [[0, 0, 1000], [100, 1, 1010], [200, 2, 1020]], 'train');
  r.add('train:train/loss', [[50, 0.9, 1005], [150, 0.5, 1015]], 'train');
  assert.ok(r.has('train:train/loss'));
  assert.equal(r.xOf(150, 1015, 'step'), 150);
  assert.equal(r.xOf(150, 1015, 'epoch'), 1.5);
  assert.equal(r.xOf(150, 1015, 'time'), 15);
  // A point without its own time takes the clock's.
  assert.equal(r.xOf(150, null, 'time'), 15);
  assert.deepEqual(r.series.get('train:train/loss').values, [0.9, 0.5]);
});

test('each overlay has a dash of its own, and labels read as a date and time', () => {
  const dashes = Array.from({ length: MAX_OVERLAYS }, (_, i) => JSON.stringify(overlayDash(i)));
  assert.equal(new Set(dashes).size, MAX_OVERLAYS);
  assert.match(runLabel({ start_time: 1796300000 }), /^\d\d-\d\d \d\d:\d\d$/);
});
