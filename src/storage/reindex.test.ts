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
