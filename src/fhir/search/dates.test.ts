import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dateRange, periodRange } from './dates.js';

test('dateRange: the range covered by each precision', () => {
  assert.deepEqual(dateRange('2024'), { low: '2024-01-01T00:00:00.000Z', high: '2024-12-31T23:59:59.999Z' });
  assert.deepEqual(dateRange('2024-02'), { low: '2024-02-01T00:00:00.000Z', high: '2024-02-29T23:59:59.999Z' });
  assert.deepEqual(dateRange('2023-02-28'), { low: '2023-02-28T00:00:00.000Z', high: '2023-02-28T23:59:59.999Z' });
  assert.deepEqual(dateRange('2024-03-05T10:00'), { low: '2024-03-05T10:00:00.000Z', high: '2024-03-05T10:00:59.999Z' });
  assert.deepEqual(dateRange('2024-03-05T10:00:30+01:00'), { low: '2024-03-05T09:00:30.000Z', high: '2024-03-05T09:00:30.999Z' });
  assert.deepEqual(dateRange('2024-03-05T10:00:30.123Z'), { low: '2024-03-05T10:00:30.123Z', high: '2024-03-05T10:00:30.123Z' });
  assert.deepEqual(dateRange('2024-03-05T10:00:30.1Z'), { low: '2024-03-05T10:00:30.100Z', high: '2024-03-05T10:00:30.199Z' });
});

test('dateRange: invalid literals are refused, not rolled over', () => {
  for (const v of ['2023-02-30', '2024-13', '24-01-01', '2024-01-01T25:00', 'hier', '', '2024-1-1']) {
    assert.equal(dateRange(v), undefined, v);
  }
});

test('periodRange: open ends are infinite', () => {
  assert.deepEqual(periodRange('2024-01-10', undefined), { low: '2024-01-10T00:00:00.000Z', high: 'infinity' });
  assert.deepEqual(periodRange(undefined, '2024-01'), { low: '-infinity', high: '2024-01-31T23:59:59.999Z' });
  assert.equal(periodRange(undefined, undefined), undefined);
  assert.equal(periodRange('bad', undefined), undefined);
});
