import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, formatBytes, formatValue, formatClock, toSeconds } from '../src/lib/format.js';

test('formats', () => {
  assert.equal(formatDuration(3725), '1h 02m');
  assert.equal(formatDuration(65), '1m 05s');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatValue(0.0123456), '0.01235');
  assert.equal(formatValue(2e-6), '2.000e-6');
  assert.equal(formatClock(3723), '1:02:03');
  assert.equal(toSeconds(1700000000000), 1700000000);
  assert.equal(toSeconds('1970-01-01T00:01:00Z'), 60);
});
