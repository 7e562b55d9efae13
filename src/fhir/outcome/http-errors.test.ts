import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allHttpErrors, FhirError, HTTP_ERRORS } from './http-errors.js';

test('the HTTP error catalogue: unique stable ids, a status, English and French with matching placeholders', () => {
  const all = allHttpErrors();
  assert.equal(new Set(all.map((e) => e.id)).size, all.length);
  for (const e of all) {
    assert.match(e.id, /^http-[a-z-]+$/);
    assert.ok(e.status >= 400 && e.status < 600, e.id);
    assert.ok(e.en && e.fr && e.summary, e.id);
    const names = (t: string) => [...t.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!.replace(/Fr$/, '')).sort();
    // The French text names what the English does (it may leave out an untranslated technical detail).
    const en = new Set(names(e.en));
    for (const n of names(e.fr)) assert.ok(en.has(n), `${e.id}: {${n}}`);
  }
});

test('FhirError: the message from the catalogue, matched by class, as an OperationOutcome', () => {
  const e = new FhirError(HTTP_ERRORS.NOT_FOUND, { type: 'Patient', id: 'x' }, { expression: 'Patient' });
  assert.ok(e instanceof FhirError && e instanceof Error);
  assert.equal(e.status, 404);
  assert.equal(e.message, 'Patient/x is not known');
  assert.equal(e.text, 'Patient/x est inconnu');
  const oo = e.toOutcome() as unknown as { issue: { code: string; details: { coding: { code: string }[]; text: string }; expression: string[] }[] };
  assert.equal(oo.issue[0]!.code, 'not-found');
  assert.equal(oo.issue[0]!.details.coding[0]!.code, 'http-not-found');
  assert.deepEqual(oo.issue[0]!.expression, ['Patient']);
});
