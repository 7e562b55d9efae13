// Re-indexing when the set of search parameters changes (a package adds a SearchParameter):
// the fingerprint in index_state says which set wrote the rows; reindex() rebuilds them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SearchParameterSet } from '../fhir/search/parameters.js';
import { indexIsCurrent } from './reindex.js';
import { forEachDriver } from './testing.js';

const CUSTOM = {
  resourceType: 'SearchParameter',
  url: 'https://example.org/SearchParameter/patient-birthplace-city',
  code: 'birthplace-city',
  base: ['Patient'],
  type: 'string',
  // Not a plain path: compiled with the fhirpath library.
  expression: "extension('http://hl7.org/fhir/StructureDefinition/patient-birthPlace').value.ofType(Address).city.first()",
};

await forEachDriver('re-indexing', (getRepo) => {
  test('a SearchParameter added later: not indexed, then found after reindex; the fingerprint records it', async () => {
    const repo = getRepo();
    const base = new SearchParameterSet();
    repo.useSearchParams(base);
    const p = await repo.create({
      resourceType: 'Patient',
      extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueAddress: { city: 'Quimper' } }],
    });
    const withCustom = new SearchParameterSet([{ resource: CUSTOM, source: 'example' }]);
    assert.notEqual(withCustom.fingerprint, base.fingerprint);
    assert.ok(withCustom.get('Patient', 'birthplace-city')?.evaluate, 'compiled with fhirpath');
    repo.useSearchParams(withCustom);
    const q = () => ({ resourceType: 'Patient', params: [{ name: 'birthplace-city', values: ['quim'] }], count: 10, offset: 0 });
    assert.deepEqual((await repo.search(q())).matches.map((m) => m.id), [], 'rows written before the parameter existed');
    assert.equal(await indexIsCurrent(repo.db, withCustom), false);
    const r = await repo.reindex({ batchSize: 7 });
    assert.ok(r.resources >= 1);
    assert.deepEqual((await repo.search(q())).matches.map((m) => m.id), [p.id]);
    assert.equal(await indexIsCurrent(repo.db, withCustom), true);
    assert.equal((await repo.indexState())?.fingerprint, withCustom.fingerprint);
    // History is untouched by re-indexing (no new version).
    assert.equal((await repo.read('Patient', p.id)).versionId, 1);
    repo.useSearchParams(base);
  });
});

/** An IG's own composite: the Encounter's type with its start (a date SearchParameter of the same IG) and its status. */
const START = {
  resourceType: 'SearchParameter',
  url: 'https://example.org/SearchParameter/encounter-start',
  code: 'start',
  base: ['Encounter'],
  type: 'date',
  expression: 'Encounter.period.start',
};
const TYPE_START = {
  resourceType: 'SearchParameter',
  url: 'https://example.org/SearchParameter/encounter-type-start',
  code: 'type-start-status',
  base: ['Encounter'],
  type: 'composite',
  expression: 'Encounter',
  component: [
    { definition: 'http://hl7.org/fhir/SearchParameter/clinical-type', expression: 'type' },
    { definition: 'https://example.org/SearchParameter/encounter-start', expression: 'period.start' },
    // Not a path: FHIRPath with %resource.
    { definition: 'http://hl7.org/fhir/SearchParameter/Encounter-status', expression: '%resource.status' },
  ],
};

await forEachDriver('an IG composite', (getRepo) => {
  test('a composite SearchParameter of a package: compiled from its components (the IG\'s and the base ones), indexed by reindex, searched', async () => {
    const repo = getRepo();
    const base = new SearchParameterSet();
    repo.useSearchParams(base);
    const enc = (code: string, start: string) => repo.create({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, type: [{ coding: [{ system: 'urn:t', code }] }], period: { start } });
    const sej = await enc('SEJ', '2024-03-01T10:00:00Z');
    await enc('SEJ', '2019-03-01T10:00:00Z');
    await enc('CONS', '2024-03-01T10:00:00Z');
    const set = new SearchParameterSet([{ resource: START, source: 'example' }, { resource: TYPE_START, source: 'example' }]);
    const def = set.get('Encounter', 'type-start-status');
    assert.deepEqual(def?.components?.map((c) => [c.type, c.paths ? 'path' : 'fhirpath']), [['token', 'path'], ['date', 'path'], ['token', 'fhirpath']]);
    assert.deepEqual(set.unsupported, []);
    repo.useSearchParams(set);
    const q = (v: string) => repo.search({ resourceType: 'Encounter', params: [{ name: 'type-start-status', values: [v] }], count: 10, offset: 0 });
    await repo.reindex();
    assert.deepEqual((await q('urn:t|SEJ$ge2024-01-01$finished')).matches.map((m) => m.id), [sej.id]);
    assert.deepEqual((await q('SEJ$ge2024-01-01$cancelled')).matches.map((m) => m.id), []);
    assert.deepEqual((await q('CONS$lt2024-01-01$finished')).matches.map((m) => m.id), []);
    assert.equal((await q('SEJ$2019$finished')).matches.length, 1);
    repo.useSearchParams(base);
  });
});
