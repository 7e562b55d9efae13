// The "Usagers" list query on both drivers: the name shown (usage name, else birth name) is the
// sort key, accents and case do not change the order, filters by words, identifier and
// organisation, every sortable column, paging without overlap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDriver } from './testing.js';
import { readAggregates } from './indicators.js';
import { listUsagers, usagerOrganisations, USAGER_SORTS, type UsagerListQuery } from './usager-list.js';

const LOCAL = 'https://identifiant-medicosocial-localusager.esante.gouv.fr';

interface Person {
  key: string;
  official: [string, string];
  usual?: string;
  gender: string;
  birthDate?: string;
  local: string;
}

const PEOPLE: Person[] = [
  // Sorted by her usage name BLANCHARD, not by her birth name JOLY.
  { key: 'blanchard', official: ['JOLY', 'Jeanne'], usual: 'BLANCHARD', gender: 'female', birthDate: '1953-09-22', local: '3293178687/1' },
  { key: 'eloise', official: ['ÉLOI', 'Zoé'], gender: 'female', birthDate: '1930-03-19', local: '3293178687/2' },
  { key: 'dupont', official: ['DUPONT', 'Jean'], gender: 'male', birthDate: '1947-04-03', local: '3480787529/3' },
  { key: 'martin', official: ['Martin', 'Yves'], gender: 'male', local: '3596395145/4' },
  { key: 'coeur', official: ['Cœur', 'Anne'], usual: 'ABEL', gender: 'other', birthDate: '2001-01-01', local: '3596395145/5' },
];

await forEachDriver('Usagers list', (getRepo) => {
  const ids: Record<string, string> = {};

  test('stores the usagers', async () => {
    const repo = getRepo();
    for (const p of PEOPLE) {
      const name: Record<string, unknown>[] = [{ use: 'official', family: p.official[0], given: [p.official[1]] }];
      if (p.usual) name.push({ use: 'usual', family: p.usual });
      const r = await repo.create({ resourceType: 'Patient', identifier: [{ system: LOCAL, value: p.local }], name, gender: p.gender, ...(p.birthDate ? { birthDate: p.birthDate } : {}) });
      ids[r.id] = p.key;
    }
  });

  // (Where the derived tables are current: the writes drained first, D-356.)
  const run = async (q: Partial<UsagerListQuery>) => readAggregates(await getRepo().derivedReader(), (db) => listUsagers(db, { count: 25, offset: 0, ...q }));
  const keys = async (q: Partial<UsagerListQuery>) => (await run(q)).ids.map((id) => ids[id]);

  test('sorted by the name shown: usage name first, accents and case ignored', async () => {
    // ABEL (usage of Cœur), BLANCHARD (usage of JOLY), DUPONT, ÉLOI (as E), Martin.
    assert.deepEqual(await keys({}), ['coeur', 'blanchard', 'dupont', 'eloise', 'martin']);
    assert.deepEqual(await keys({ descending: true }), ['martin', 'eloise', 'dupont', 'blanchard', 'coeur']);
  });

  test('every column sorts, both ways, nulls last', async () => {
    assert.deepEqual(await keys({ sort: 'naissance' }), ['eloise', 'dupont', 'blanchard', 'coeur', 'martin']);
    assert.deepEqual(await keys({ sort: 'naissance', descending: true }), ['coeur', 'blanchard', 'dupont', 'eloise', 'martin']);
    assert.deepEqual(await keys({ sort: 'identifiant' }), ['blanchard', 'eloise', 'dupont', 'martin', 'coeur']);
    assert.deepEqual((await keys({ sort: 'sexe' })).slice(0, 2).sort(), ['blanchard', 'eloise']);
    const names = new Map([
      ['293178687', 'SSIAD de Brest'],
      ['480787529', 'Les Chênes Verts'],
    ]);
    // By the organisation's name (lower case, no accents), its FINESS when it has none (digits
    // before letters); ties by id.
    const byOrg = await keys({ sort: 'organisation', organisationNames: names });
    assert.deepEqual([byOrg.slice(0, 2).sort(), byOrg[2], byOrg.slice(3).sort()], [['coeur', 'martin'], 'dupont', ['blanchard', 'eloise']]);
    for (const sort of USAGER_SORTS) for (const descending of [false, true]) assert.equal((await run({ sort, descending })).ids.length, 5, `${sort} ${descending}`);
  });

  test('filters: name words, identifier, organisation; the total counts the filtered list', async () => {
    assert.deepEqual(await keys({ words: ['jean'] }), ['blanchard', 'dupont']);
    assert.deepEqual(await keys({ words: ['blanchard'] }), ['blanchard']);
    assert.deepEqual(await keys({ identifier: '3480787529/3' }), ['dupont']);
    const org = await run({ finess: '596395145' });
    assert.equal(org.total, 2);
    assert.deepEqual(org.ids.map((id) => ids[id]), ['coeur', 'martin']);
    assert.equal((await run({ finess: '59639514' })).total, 0);
    assert.equal((await run({ finess: '5963951%' })).total, 0);
  });

  test('the organisations of the usagers, from their local identifiers', async () => {
    assert.deepEqual(await usagerOrganisations(await getRepo().derivedReader()), ['293178687', '480787529', '596395145']);
  });

  test('pages of 2, read from the start or from the end of the index, give the whole list in order, for every sort', async () => {
    const names = new Map([['293178687', 'SSIAD de Brest']]);
    for (const sort of USAGER_SORTS) {
      for (const descending of [false, true]) {
        const whole = (await run({ sort, descending, organisationNames: names })).ids;
        const paged: string[] = [];
        for (let offset = 0; offset < 5; offset += 2) paged.push(...(await run({ sort, descending, organisationNames: names, count: 2, offset })).ids);
        assert.deepEqual(paged, whole, `${sort} ${descending}`);
      }
    }
  });

  test('pages do not overlap; a page past the end is empty with the total', async () => {
    const a = await run({ count: 2, offset: 0 });
    const b = await run({ count: 2, offset: 2 });
    const c = await run({ count: 2, offset: 4 });
    assert.equal(new Set([...a.ids, ...b.ids, ...c.ids]).size, 5);
    const past = await run({ count: 2, offset: 40 });
    assert.deepEqual(past, { total: 5, ids: [] });
  });
});
