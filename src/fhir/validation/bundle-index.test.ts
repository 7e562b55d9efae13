// Unit tests of reference resolution inside a Bundle (fullUrl, relative Type/id against the
// entry's fullUrl base, _history, caching per entry).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BundleIndex } from './bundle-index.js';

const bundle = {
  resourceType: 'Bundle',
  entry: [
    { fullUrl: 'https://a.example/fhir/Patient/p1', resource: { resourceType: 'Patient', id: 'p1' } },
    { fullUrl: 'https://b.example/fhir/Patient/p1', resource: { resourceType: 'Patient', id: 'p1' } },
    { fullUrl: 'urn:uuid:0b0c2c4e-1111-4222-8333-444455556666', resource: { resourceType: 'Encounter', id: 'e1' } },
    { fullUrl: 'https://a.example/fhir/Observation/o1', resource: { resourceType: 'Observation', id: 'o1', contained: [] } },
    { resource: { resourceType: 'Organization', id: 'org' } },
    'not an entry',
  ],
};

test('fullUrl, urn:uuid, _history, and relative references against the referring entry base', () => {
  const idx = BundleIndex.build(bundle, 'Bundle');
  const fromA = idx.entryAt('Bundle.entry[3].resource.subject');
  assert.equal(fromA?.path, 'Bundle.entry[3].resource');
  assert.equal(idx.resolve('urn:uuid:0b0c2c4e-1111-4222-8333-444455556666')?.path, 'Bundle.entry[2].resource');
  assert.equal(idx.resolve('https://b.example/fhir/Patient/p1')?.path, 'Bundle.entry[1].resource');
  assert.equal(idx.resolve('https://b.example/fhir/Patient/p1/_history/3')?.path, 'Bundle.entry[1].resource');
  // Relative: resolved against the base of the referring entry (a.example), not the first match.
  assert.equal(idx.resolve('Patient/p1', fromA)?.path, 'Bundle.entry[0].resource');
  assert.equal(idx.resolve('Patient/p1', idx.entryAt('Bundle.entry[1].resource'))?.path, 'Bundle.entry[1].resource');
  assert.equal(idx.resolve('Patient/p1/_history/2', 'Bundle.entry[3].resource')?.path, 'Bundle.entry[0].resource');
  // No base (urn:uuid entry): the entries' own type/id.
  assert.equal(idx.resolve('Organization/org', idx.entryAt('Bundle.entry[2].resource'))?.path, 'Bundle.entry[4].resource');
  assert.equal(idx.resolve('Patient/nope', fromA), undefined);
  assert.equal(idx.resolve('urn:uuid:00000000-0000-4000-8000-000000000000'), undefined);
  // Cached answers stay the same (hits and misses).
  for (let i = 0; i < 3; i++) {
    assert.equal(idx.resolve('Patient/p1', fromA)?.path, 'Bundle.entry[0].resource');
    assert.equal(idx.resolve('Patient/nope', fromA), undefined);
  }
  assert.equal(idx.entryOf(bundle.entry[3] as never), undefined, 'an entry is not its resource');
  assert.equal(idx.entryOf((bundle.entry[3] as { resource: object }).resource)?.path, 'Bundle.entry[3].resource');
  assert.equal(idx.pathOf((bundle.entry[0] as { resource: object }).resource), 'Bundle.entry[0].resource');
  assert.equal(idx.size, 6);
});

test('fullUrl bases: Type/id at the end of an http(s) URL', () => {
  const base = (fullUrl: string) => BundleIndex.build({ entry: [{ fullUrl, resource: { resourceType: 'Patient' } }] }, 'Bundle').entryAt('Bundle.entry[0]')?.base;
  const re = /^(https?:\/\/.*)\/[A-Z][A-Za-z]+\/[^/]+$/;
  for (const u of [
    'https://x.fr/fhir/Patient/1', 'http://x/Patient/1', 'https://x.fr/Patient/', 'https://Patient/1', 'https:///Patient/1',
    'https://x.fr/fhir/patient/1', 'https://x.fr/a/b/Encounter/e-1.2', 'urn:uuid:1', 'ftp://x/Patient/1', 'https://x.fr/P4tient/1',
    'https://x.fr//Patient/1', 'http://x/Patient/1/2',
  ]) {
    assert.equal(base(u), re.exec(u)?.[1], u);
  }
});

test('relative references against a base: the per-base index answers as a lookup of `<base>/<reference>`', () => {
  const fullUrls = [
    'https://a.example/fhir/Patient/p1', 'https://a.example/fhir/Patient/p1', 'https://a.example/fhir/Encounter/e.1',
    'https://a.example/fhir/x/Patient/p1', 'https://a.example/Patient/p1', 'http://a.example/fhir/Patient/p1',
    'https://a.example/fhir/patient/p2', 'https://a.example/fhir/P/p3', 'https://a.example/fhir/Pa/p3/x', 'urn:uuid:0b0c2c4e-1111-4222-8333-444455556666',
  ];
  const b = { entry: fullUrls.map((fullUrl, i) => ({ fullUrl, resource: { resourceType: 'Patient', id: `r${i}` } })) };
  const refs = ['Patient/p1', 'Encounter/e.1', 'x/Patient/p1', 'fhir/Patient/p1', 'patient/p2', 'P/p3', 'Pa/p3/x', 'Patient/', '/Patient/p1', 'Pa/p3', 'Patient/r9', 'Patient/r0'];
  for (const [i, from] of fullUrls.entries()) {
    const idx = BundleIndex.build(b, 'Bundle');
    const entry = idx.entryAt(`Bundle.entry[${i}]`);
    for (const ref of refs) {
      // Expected: the first entry whose fullUrl is `<base>/<ref>`, else the first `Type/id`.
      const base = entry?.base;
      const byUrl = base === undefined ? -1 : fullUrls.indexOf(`${base}/${ref}`);
      const byTypeId = b.entry.findIndex((e) => `Patient/${e.resource.id}` === ref);
      const want = byUrl >= 0 ? byUrl : byTypeId;
      assert.equal(idx.resolve(ref, entry)?.path, want >= 0 ? `Bundle.entry[${want}].resource` : undefined, `${ref} from ${from}`);
    }
  }
});

test('versions of one resource sharing a fullUrl: listed together, a lone entry is not (D-163)', () => {
  const idx = BundleIndex.build(
    {
      resourceType: 'Bundle',
      type: 'document',
      entry: [
        { fullUrl: 'http://example.org/Composition/c', resource: { resourceType: 'Composition', id: 'c' } },
        { fullUrl: 'http://example.org/Observation/o', resource: { resourceType: 'Observation', id: 'o', meta: { versionId: '1' } } },
        { fullUrl: 'http://example.org/Observation/o', resource: { resourceType: 'Observation', id: 'o', meta: { versionId: '2' } } },
      ],
    },
    'Bundle',
  );
  const from = idx.entryAt('Bundle.entry[0].resource');
  const hit = idx.resolve('Observation/o', from);
  assert.ok(hit);
  assert.deepEqual(idx.sharingFullUrl(hit)?.map((t) => t.path), ['Bundle.entry[1].resource', 'Bundle.entry[2].resource']);
  assert.equal(idx.sharingFullUrl(from!), undefined);
});
