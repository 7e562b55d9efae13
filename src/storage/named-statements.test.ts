// The write statement as a named prepared statement (D-331): prepared once per connection, reused
// by every write of its shape, and still writing exactly what each write carries — whatever shapes
// come in between, on the same connections.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_NAMED, openPostgres, statementName } from './drivers/postgres.js';
import { openRepository } from './index.js';
import { createTestDatabase, postgresUnavailable } from './testing.js';
import type { Queryable, Repository } from './types.js';
import { stamp, writeVersions, type VersionToWrite } from './writer.js';

const OWNER = '480787529';

function version(resource: Record<string, unknown> & { resourceType: string }, id: string, versionId = 1, existed = false): VersionToWrite {
  const now = new Date(Date.UTC(2026, 0, 1, 0, 0, versionId)).toISOString();
  return { resourceType: resource.resourceType, id, versionId, lastUpdated: now, owner: OWNER, existed, resource: stamp(resource, id, versionId, now) };
}
const patient = (id: string, family: string, ident: string) => version({ resourceType: 'Patient', name: [{ family }], identifier: [{ system: 'urn:ns', value: ident }], gender: 'female' }, id);
const observation = (id: string, subject: string, code: string) =>
  version({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code }] }, subject: { reference: `Patient/${subject}` }, effectiveDateTime: '2026-01-02' }, id);

/** The statements prepared on the connection of a transaction (pg_prepared_statements is per session). */
async function prepared(tx: Queryable): Promise<{ name: string; statement: string }[]> {
  return (await tx.query<{ name: string; statement: string }>(`SELECT name, statement FROM pg_prepared_statements`)).rows;
}

async function ids(repo: Repository, sql: string, params: unknown[]): Promise<string[]> {
  return (await repo.db.query<{ id: string }>(sql, params)).rows.map((r) => r.id).sort();
}

test('PostgreSQL: a write statement is prepared once per connection and reused; writes of other shapes in between keep their own rows', async (t) => {
  const why = await postgresUnavailable();
  if (why) return t.skip(why);
  const { url, drop } = await createTestDatabase();
  const repo = await openRepository({ url });
  try {
    const write = (items: VersionToWrite[]) => repo.db.transaction((tx) => writeVersions(tx, repo.searchParams, items, { owner: OWNER, rows: items.map((x, i) => ({ resourceType: x.resourceType, system: 'urn:key', value: `${x.id}-${i}`, id: x.id })) }));
    // Shape A (a Patient and an Observation), B (a Patient alone), A again with other data, B again.
    await write([patient('na-p1', 'Alpha', 'i1'), observation('na-o1', 'na-p1', '1111-1')]);
    await write([patient('na-p2', 'Beta', 'i2')]);
    await write([patient('na-p3', 'Gamma', 'i3'), observation('na-o3', 'na-p3', '3333-3')]);
    await write([patient('na-p4', 'Delta', 'i4')]);
    // Each write's own rows, and only them.
    assert.deepEqual(await ids(repo, `SELECT id FROM search_string WHERE resource_type = 'Patient' AND param = 'family' AND value = ANY($1::text[])`, [['alpha', 'beta', 'gamma', 'delta']]), ['na-p1', 'na-p2', 'na-p3', 'na-p4']);
    assert.deepEqual(await ids(repo, `SELECT id FROM search_token WHERE resource_type = 'Observation' AND param = 'code' AND code = $1`, ['3333-3']), ['na-o3']);
    assert.deepEqual(await ids(repo, `SELECT id FROM search_reference WHERE resource_type = 'Observation' AND param = 'subject' AND target_id = $1`, ['na-p3']), ['na-o3']);
    assert.deepEqual(await ids(repo, `SELECT id FROM business_key WHERE value LIKE 'na-%'`, []), ['na-o1', 'na-o3', 'na-p1', 'na-p2', 'na-p3', 'na-p4']);
    const content = await repo.db.query<{ content: { name: { family: string }[] } }>(`SELECT content FROM resource WHERE resource_type = 'Patient' AND id = 'na-p4'`);
    assert.equal(content.rows[0]!.content.name[0]!.family, 'Delta');
    await repo.drainDerived();
    assert.deepEqual(await ids(repo, `SELECT id FROM usager_sort WHERE id LIKE 'na-%'`, []), ['na-p1', 'na-p2', 'na-p3', 'na-p4'], 'each write left its keys to refresh (D-356), all refreshed');
    // A new version of na-p1 (its earlier rows replaced: a plan per call, not named) and then shape B again.
    const p1 = version({ resourceType: 'Patient', name: [{ family: 'Omega' }], identifier: [{ system: 'urn:ns', value: 'i1' }], gender: 'female' }, 'na-p1', 2, true);
    await write([p1]);
    await write([patient('na-p5', 'Epsilon', 'i5')]);
    assert.deepEqual(await ids(repo, `SELECT id FROM search_string WHERE resource_type = 'Patient' AND param = 'family' AND value = ANY($1::text[])`, [['alpha', 'omega', 'epsilon']]), ['na-p1', 'na-p5']);
    assert.equal((await repo.db.query(`SELECT 1 FROM resource_history WHERE id = 'na-p1' AND version_id = 1`)).rowCount, 1);
    // The writes' statements are prepared on the connections that ran them: two shapes of new
    // versions, named; the write replacing a version is not.
    const seen = await Promise.all(Array.from({ length: 3 }, () => repo.db.transaction(prepared)));
    const writes = new Set(seen.flat().filter((s) => /^WITH /.test(s.statement)).map((s) => s.name));
    assert.ok(writes.size >= 2, `named write statements: ${[...writes].join(', ') || 'none'}`);
    assert.ok(seen.flat().every((s) => !/\bresource_history\b/.test(s.statement)), 'a write that copies versions to the history is not prepared');
  } finally {
    await repo.close();
    await drop();
  }
});

test('PostgreSQL: namedStatements false (tddui serve --no-named-statements) prepares nothing; a reused statement runs again with other values', async (t) => {
  const why = await postgresUnavailable();
  if (why) return t.skip(why);
  const { url, drop } = await createTestDatabase();
  const repo = await openRepository({ url, namedStatements: false });
  try {
    await repo.db.transaction(async (tx) => {
      await writeVersions(tx, repo.searchParams, [patient('nn-p1', 'Zeta', 'z1')]);
      await writeVersions(tx, repo.searchParams, [patient('nn-p2', 'Eta', 'z2')]);
      assert.deepEqual(await prepared(tx), []);
    });
    assert.deepEqual(await ids(repo, `SELECT id FROM resource WHERE id LIKE 'nn-%'`, []), ['nn-p1', 'nn-p2']);
  } finally {
    await repo.close();
  }
  const db = await openPostgres({ url, max: 1 });
  try {
    await db.transaction(async (tx) => {
      const r = await tx.query<{ x: number }>('SELECT $1::int + 1 AS x', [1], { reuse: true });
      assert.equal(r.rows[0]!.x, 2);
      assert.deepEqual(await prepared(tx), [], 'not at its first use');
      assert.equal((await tx.query<{ x: number }>('SELECT $1::int + 1 AS x', [41], { reuse: true })).rows[0]!.x, 42);
      assert.deepEqual((await prepared(tx)).map((s) => s.statement), ['SELECT $1::int + 1 AS x']);
      assert.equal((await tx.query<{ x: number }>('SELECT $1::int + 1 AS x', [9], { reuse: true })).rows[0]!.x, 10, 'the prepared statement reused with other values');
    });
  } finally {
    await db.close();
    await drop();
  }
});

test('statementName: none at a text\'s first use, then one name per text, the same each time; none past MAX_NAMED texts', () => {
  assert.equal(statementName('SELECT 1 -- a'), undefined, 'a text seen once is not named');
  const a = statementName('SELECT 1 -- a');
  assert.ok(a);
  assert.equal(statementName('SELECT 1 -- a'), a);
  assert.equal(statementName('SELECT 1 -- b'), undefined);
  assert.notEqual(statementName('SELECT 1 -- b'), a);
  for (let i = 0; i < MAX_NAMED; i++) statementName(`SELECT ${i} -- fill`), statementName(`SELECT ${i} -- fill`);
  statementName('SELECT 1 -- past the cap');
  assert.equal(statementName('SELECT 1 -- past the cap'), undefined);
  assert.equal(statementName('SELECT 1 -- a'), a, 'a text named before the cap keeps its name');
});
