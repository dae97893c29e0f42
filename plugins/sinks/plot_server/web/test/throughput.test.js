import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Throughput, formatRate } from '../src/lib/throughput.js';

test('rates come from successive packets_out', () => {
  const t = new Throughput(1);
  t.update({ rows: { packets_out: 100, packets_in: 0 } }, 10);
  assert.equal(t.rate('rows'), null);
  t.update({ rows: { packets_out: 300, packets_in: 0 } }, 12);
  assert.equal(t.rate('rows').out, 100);
});

test('rates are smoothed and a counter that goes back starts over', () => {
  const t = new Throughput(0.5);
  t.update({ a: { packets_out: 0 } }, 0);
  t.update({ a: { packets_out: 100 } }, 1);
  t.update({ a: { packets_out: 300 } }, 2);
  assert.equal(t.rate('a').out, 150);
  t.update({ a: { packets_out: 10 } }, 3);
  assert.equal(t.rate('a').out, 75);
});

test('rates print short', () => {
  assert.equal(formatRate(1234.5), '1.23k');
  assert.equal(formatRate(12.34), '12.3');
  assert.equal(formatRate(null), '–');
});
