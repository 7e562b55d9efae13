// Index extraction (SearchParameterSet.extract) without its per-parameter garbage (D-335): the
// same rows as before — duplicates dropped in order, choice elements found among the element's
// own keys only, one parameter's values never leaking into the next one's rows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Json } from '../json.js';
import { baseParameterSet } from './parameters.js';

describe('index extraction', () => {
  const set = baseParameterSet();

  it('drops repeated values, keeping the first of each in order', () => {
    const ids = [['s', '1'], ['s', '1'], ['s', '2'], ['t', '1'], ['s', '2'], ['s', '1'], ['u', '3'], ['t', '1']];
    const patient = { resourceType: 'Patient', identifier: ids.map(([system, value]) => ({ system, value })) };
    const rows = set.extract(patient).tokens.filter((t) => t.param === 'identifier');
    assert.deepEqual(rows.map((t) => `${t.system}|${t.code}`), ['s|1', 's|2', 't|1', 'u|3']);
    // One value: one row; the same value under two parameters: a row each.
    const one = set.extract({ resourceType: 'Patient', identifier: [{ system: 's', value: '1' }], gender: 'female' });
    assert.deepEqual(one.tokens.filter((t) => t.param === 'identifier').length, 1);
    assert.deepEqual(one.tokens.filter((t) => t.param === 'gender').map((t) => t.code), ['female']);
  });

  it('finds a choice element (`effective` → `effectiveDateTime`) among own keys only', () => {
    const own = set.extract({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectiveDateTime: '2020-01-02' });
    assert.deepEqual(own.dates.filter((d) => d.param === 'date').map((d) => d.low), ['2020-01-02T00:00:00.000Z']);
    // An enumerable key of the prototype is not the resource's (for…in sees it; Object.keys did not).
    const inherited = Object.assign(Object.create({ effectiveDateTime: '2021-01-01' }) as Json, { resourceType: 'Observation', status: 'final', code: { text: 'x' } });
    assert.deepEqual(set.extract(inherited).dates.filter((d) => d.param === 'date'), []);
  });

  it('gives each parameter its own values only', () => {
    // `address-city` finds nothing, `address-postalcode` one value, `name` two; none borrows another's.
    const patient = { resourceType: 'Patient', address: [{ postalCode: '75001' }], name: [{ family: 'Durand', given: ['Anne'] }] };
    const rows = set.extract(patient);
    assert.deepEqual(rows.strings.filter((s) => s.param === 'address-city'), []);
    assert.deepEqual(rows.strings.filter((s) => s.param === 'address-postalcode').map((s) => s.exact), ['75001']);
    assert.deepEqual(rows.strings.filter((s) => s.param === 'family').map((s) => s.exact), ['Durand']);
    assert.deepEqual(rows.strings.filter((s) => s.param === 'given').map((s) => s.exact), ['Anne']);
  });
});
