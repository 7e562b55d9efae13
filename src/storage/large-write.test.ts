// A large write does not hold the event loop while its statements are prepared (issue 21): it
// goes in statements of WRITE_CHUNK versions, whose contents, index rows and pg's array literals
// are built a slice at a time (the same bytes); the derived tables are refreshed for all of them.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { arrayLiteral, LARGE_ARRAY, prepareLarge } from './drivers/postgres.js';
import { openRepository } from './index.js';
import { createTestDatabase, forEachDriver, postgresUnavailable } from './testing.js';
import { indexTables, stamp, WRITE_CHUNK, writeVersions, type VersionToWrite } from './writer.js';

const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue: (v: unknown) => unknown };

test('prepareLarge: a long array becomes the very text pg would send for it; short ones and other values are untouched', async () => {
  const odd = ['a"b', 'c\\d', '{x,y}', 'é€😀', '', 'NULL', ' sp ', '\n'];
  const long = Array.from({ length: LARGE_ARRAY * 2 + 7 }, (_, i) => (i % 97 === 0 ? null : i % 5 === 0 ? i : i % 7 === 0 ? i % 2 === 0 : odd[i % odd.length]!));
  const short = ['x', 'y'];
  const params = [long, short, 'text', 3, null, Buffer.from('z'), long.map(String)];
  const out = (await prepareLarge(params))!;
  assert.equal(out[0], prepareValue(long));
  assert.equal(out[6], prepareValue(long.map(String)));
  assert.equal(out[1], short);
  assert.deepEqual(out.slice(2, 6), params.slice(2, 6));
  const few = [short, 'q'];
  assert.equal(await prepareLarge(few), few, 'small parameter sets are passed as they are');
});

test('arrayLiteral: the very text pg makes of a flat array (D-317); other arrays left to pg', () => {
  const odd = ['a"b', 'c\\d', '\\"', '"\\', '{x,y}', 'é€😀', '', 'NULL', ' sp ', '\n', JSON.stringify({ a: 'q"\\z', b: [1, null] })];
  let seed = 11;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  const any = (): unknown => [null, undefined, rand(1000) - 500, 0.25, true, false, 12n, odd[rand(odd.length)], Array.from({ length: rand(6) }, () => '\\"ab"'[rand(5)]).join('')][rand(9)];
  for (let t = 0; t < 500; t++) {
    const a = Array.from({ length: rand(12) }, any);
    assert.equal(arrayLiteral(a), prepareValue(a), JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
  }
  assert.equal(arrayLiteral([]), prepareValue([]));
  for (const other of [[['x']], [Buffer.from('z')], [new Date(0)], [{ a: 1 }]]) assert.equal(arrayLiteral(other), undefined);
});

/** Observations with many index rows and little content: what the preparation costs is extraction. */
function observations(n: number): VersionToWrite[] {
  const now = new Date().toISOString();
  return Array.from({ length: n }, (_, i) => {
    const id = `lw-${i}`;
    const resource = {
      resourceType: 'Observation',
      status: 'final',
      identifier: Array.from({ length: 30 }, (_, k) => ({ system: `urn:lw:${k}`, value: `v-${i}-${k}` })),
      code: { coding: Array.from({ length: 10 }, (_, k) => ({ system: 'http://loinc.org', code: `${k}-${i % 50}` })), text: `Mesure ${i}` },
      subject: { reference: `Patient/p-${i % 100}` },
      effectiveDateTime: '2026-01-05T10:00:00Z',
      valueQuantity: { value: i, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' },
    };
    return { resourceType: 'Observation', id, versionId: 1, lastUpdated: now, owner: '480787529', existed: false, resource: stamp(resource, id, 1, now) };
  });
}

test('PostgreSQL: a large write never blocks the event loop for what preparing its statement costs in one go', async (t) => {
  const why = await postgresUnavailable();
  if (why) return t.skip(why);
  const { url, drop } = await createTestDatabase();
  const repo = await openRepository({ url });
  try {
    const items = observations(4 * WRITE_CHUNK);
    // The anchor, in this run: the preparation the write used to do in one block (contents,
    // index rows, pg's literals of every array), here done in one block on purpose.
    let anchor = Infinity;
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      const contents = items.map((x) => JSON.stringify(x.resource));
      const arrays = indexTables(repo.searchParams, items).flatMap((x) => x.arrays);
      for (const a of [contents, ...arrays]) prepareValue(a);
      anchor = Math.min(anchor, performance.now() - t0);
    }
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    await repo.db.transaction((tx) => writeVersions(tx, repo.searchParams, items));
    h.disable();
    const longest = h.max / 1e6;
    t.diagnostic(`${items.length} versions: longest event-loop block ${longest.toFixed(1)} ms; the preparation in one block ${anchor.toFixed(1)} ms`);
    // Before (one synchronous preparation inside the write) the longest block was the anchor or more.
    assert.ok(longest < anchor / 2, `longest block ${longest.toFixed(1)} ms, preparation in one block ${anchor.toFixed(1)} ms`);
    // And the same rows were written.
    const n = await repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM search_token WHERE resource_type = 'Observation' AND param = 'identifier'`);
    assert.equal(n.rows[0]!.n, items.length * 30);
    const c = await repo.db.query<{ content: unknown }>(`SELECT content FROM resource WHERE resource_type = 'Observation' AND id = 'lw-7'`);
    assert.deepEqual(c.rows[0]!.content, items[7]!.resource);
  } finally {
    await repo.close();
    await drop();
  }
});

forEachDriver('a write of more versions than one statement holds', (getRepo) => {
  test('every version, index row and derived row is written; the refresh covers the first statement\'s versions too', async () => {
    const repo = getRepo();
    const now = new Date().toISOString();
    const n = WRITE_CHUNK + 1;
    const items: VersionToWrite[] = Array.from({ length: n }, (_, i) => {
      const id = `lwp-${i}`;
      const resource = { resourceType: 'Patient', name: [{ family: `Famille${i}`, given: ['Jo'] }], identifier: [{ system: 'urn:lw', value: `p${i}` }] };
      return { resourceType: 'Patient', id, versionId: 1, lastUpdated: now, owner: '480787529', existed: false, resource: stamp(resource, id, 1, now) };
    });
    await repo.db.transaction((tx) =>
      writeVersions(tx, repo.searchParams, items, { owner: '480787529', rows: [{ resourceType: 'Patient', system: 'urn:lw', value: 'p0', id: 'lwp-0' }] }),
    );
    const count = async (sql: string) => Number((await repo.db.query<{ n: number }>(sql)).rows[0]!.n);
    assert.equal(await count(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient' AND id LIKE 'lwp-%'`), n);
    assert.equal(await count(`SELECT count(*)::int AS n FROM search_token WHERE resource_type = 'Patient' AND id LIKE 'lwp-%' AND param = 'identifier'`), n);
    await repo.drainDerived();
    assert.equal(await count(`SELECT count(*)::int AS n FROM usager_sort WHERE id LIKE 'lwp-%'`), n, 'the derived rows of every statement (their keys left by each, D-356)');
    assert.equal(await count(`SELECT count(*)::int AS n FROM business_key WHERE id = 'lwp-0'`), 1);
  });
});
