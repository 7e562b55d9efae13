// A bare `value` in an invariant on a primitive element reads the primitive itself, as in the
// HL7 validator's FHIRPath engine: CDS's and CdL's `req-met` (`value='POST' or value='PUT'` on
// Bundle.entry.request.method) failed on every transaction Bundle before.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvariantCompiler } from './invariants.js';

const REQ_MET = { key: 'req-met', expression: "value='POST' or value='PUT'", human: 'POST or PUT', severity: 'error' as const, bestPractice: false };

test("`value` on a primitive element is the element's value (req-met of CDS / CdL)", () => {
  const inv = new InvariantCompiler().compile(REQ_MET, 'Bundle.entry.request.method')!;
  const bundle = { resourceType: 'Bundle', type: 'transaction' };
  assert.equal(inv.run('POST', bundle, bundle).ok, true);
  assert.equal(inv.run('PUT', bundle, bundle).ok, true);
  assert.equal(inv.run('DELETE', bundle, bundle).ok, false);
  assert.equal(inv.run('GET', bundle, bundle).ok, false);
});

test('`x.value` and `value` on a complex element keep their meaning', () => {
  const c = new InvariantCompiler();
  const q = c.compile({ key: 'q-1', expression: 'value.exists() implies unit.exists()', human: 'q', severity: 'error', bestPractice: false }, 'Quantity')!;
  assert.equal(q.run({ value: 3, unit: 'mg' }, {}, {}).ok, true);
  assert.equal(q.run({ value: 3 }, {}, {}).ok, false);
  const ident = c.compile({ key: 'i-1', expression: "identifier.value.startsWith('A')", human: 'i', severity: 'error', bestPractice: false }, 'Patient')!;
  assert.equal(ident.run({ identifier: [{ value: 'A1' }] }, {}, {}).ok, true);
  assert.equal(ident.run({ identifier: [{ value: 'B1' }] }, {}, {}).ok, false);
});
