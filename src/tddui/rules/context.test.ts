// Reference lookup of the business rules (context.ts): the per-id candidate search must answer
// exactly as the plain key table it replaces (later keys replacing earlier equal ones), including
// on colliding fullUrls, ids, types and fullUrl prefixes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildContext, flatTable, identifiersOf, type Item } from './context.js';

/** A small deterministic generator (xorshift), so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

test('reference lookup answers as the key table, on colliding keys', () => {
  const types = ['Patient', 'Encounter', 'P', 'patient', 'https://a.fr/Patient', 'Patient/x'];
  const ids = ['1', '2', 'p1', '', 'Patient', 'a.b'];
  const urls = [
    undefined, '', 'urn:uuid:1', 'Patient/1', 'https://a.fr/Patient/1', 'https://a.fr/fhir/Encounter/2', 'http://a.fr/P/p1',
    'https://a.fr/Patient/', 'https://a.fr/x1/1', 'https://a.fr/Patient/1/', 'https://a\n.fr/Patient/1', 'https://a.fr/Encounter/p1',
  ];
  const pick = <T>(r: () => number, xs: T[]) => xs[Math.floor(r() * xs.length)];
  let checked = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const r = rng(seed);
    const n = 1 + Math.floor(r() * 6);
    const entry = Array.from({ length: n }, () => {
      const resource: Record<string, unknown> = { resourceType: pick(r, types) };
      if (r() < 0.9) resource.id = pick(r, ids);
      const fullUrl = pick(r, urls);
      return fullUrl === undefined ? { resource } : { fullUrl, resource };
    });
    const ctx = buildContext({ resourceType: 'Bundle', entry }, new Date(0));
    const table = flatTable(ctx.items);
    const refs = new Set<string>([...table.keys(), 'Patient/1', 'https://a.fr/Patient/1', '1', '/1', 'https://a.fr/Encounter/p1', 'x']);
    for (const ref of refs) {
      // Twice: the second answer comes from the cache.
      for (let k = 0; k < 2; k++) {
        const got: Item | undefined = ctx.resolve({ reference: ref });
        assert.equal(got, table.get(ref), `seed ${seed}, reference ${JSON.stringify(ref)}`);
        checked++;
      }
    }
  }
  assert.ok(checked > 3000);
});

test('item and identifier locations are the FHIRPath of the entry resource', () => {
  const ctx = buildContext(
    { resourceType: 'Bundle', entry: [{ resource: 'x' }, { fullUrl: 'urn:uuid:1', resource: { resourceType: 'Patient', identifier: [{ value: 'a' }, 1, { system: 's' }] } }] },
    new Date(0),
  );
  const [item] = ctx.items;
  assert.equal(item.path, 'Bundle.entry[1].resource');
  assert.equal(item.entryPath, 'Bundle.entry[1]');
  assert.deepEqual(
    identifiersOf(item).map((i) => [i.system, i.value, i.path, i.valuePath]),
    [
      [undefined, 'a', 'Bundle.entry[1].resource.identifier[0]', 'Bundle.entry[1].resource.identifier[0].value'],
      ['s', undefined, 'Bundle.entry[1].resource.identifier[2]', 'Bundle.entry[1].resource.identifier[2].value'],
    ],
  );
  assert.equal(identifiersOf(item), identifiersOf(item), 'computed once');
  const single = buildContext({ resourceType: 'DocumentReference', identifier: { value: 'x' } }, new Date(0)).items[0];
  assert.equal(single.path, 'DocumentReference');
  assert.deepEqual(identifiersOf(single).map((i) => i.valuePath), ['DocumentReference.identifier.value']);
});
