// The server's ids (D-339): UUIDs of version 7 whose first 48 bits are the time in milliseconds,
// so that ids made one after the other sort together in the (resource_type, id) B-trees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ID_PATTERN } from '../fhir/json.js';
import { newId } from './unit-of-work.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const millis = (id: string) => parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('newId: a version 7 UUID (RFC 9562) carrying the time it was made, and a FHIR id', () => {
  for (let n = 0; n < 5000; n++) {
    const before = Date.now();
    const id = newId();
    const after = Date.now();
    assert.match(id, V7);
    assert.match(id, ID_PATTERN);
    const t = millis(id);
    assert.ok(t >= before && t <= after, `${id}: ${t} not in [${before}, ${after}]`);
  }
});

test('newId: ids made later sort after earlier ones (byte order, as text in collation C and C.UTF-8)', async () => {
  let previous = newId();
  for (let n = 0; n < 20; n++) {
    await sleep(2);
    const id = newId();
    assert.ok(previous < id, `${previous} then ${id}`);
    previous = id;
  }
});

test('newId: 200,000 ids are distinct, and their 74 random bits vary (across refills of the random pool)', () => {
  const seen = new Set<string>();
  const bits = new Set<string>();
  for (let n = 0; n < 200_000; n++) {
    const id = newId();
    seen.add(id);
    if (n < 1000) bits.add(id.slice(15));
  }
  assert.equal(seen.size, 200_000);
  assert.equal(bits.size, 1000);
});
