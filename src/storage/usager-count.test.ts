// The "Usagers" list's total and segment sizes from the counts the writes keep (usager_count,
// migration 0198, D-347): always equal to counting `usager_sort` — after creates, deletes, moves
// between facilities, a reindex, and the backfill of a database written before 0198 — on both
// databases; an unfiltered list no longer counts `usager_sort`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, forEachDriver, postgresUnavailable } from './testing.js';
import { migrate, MIGRATIONS, openDatabase, SqlRepository } from './index.js';
import { statements as m0198 } from './migrations/0198-usager-count.js';
import type { Database, Queryable } from './types.js';
import { listUsagers, USAGER_SORTS, type UsagerListQuery } from './usager-list.js';

const LOCAL = 'https://identifiant-medicosocial-localusager.esante.gouv.fr';

/** The counts kept, summed over the slots, against `usager_sort` counted: the rows that differ (none: equal). */
async function countsDiffer(db: Queryable): Promise<string[]> {
  const kept = await db.query<{ g: string }>(
    `SELECT concat_ws(' ', owner, finess, no_finess, no_name, no_local, no_birth, no_gender, sum(n)) AS g FROM usager_count
      GROUP BY owner, finess, no_finess, no_name, no_local, no_birth, no_gender HAVING sum(n) <> 0 ORDER BY 1`,
  );
  const counted = await db.query<{ g: string }>(
    `SELECT concat_ws(' ', owner, coalesce(finess, ''), finess IS NULL, name_key IS NULL, local_id IS NULL, birth_date IS NULL, gender IS NULL, count(*)) AS g
       FROM usager_sort GROUP BY owner, coalesce(finess, ''), finess IS NULL, name_key IS NULL, local_id IS NULL, birth_date IS NULL, gender IS NULL ORDER BY 1`,
  );
  const a = kept.rows.map((r) => r.g);
  const b = counted.rows.map((r) => r.g);
  return [...a.filter((x) => !b.includes(x)).map((x) => `kept ${x}`), ...b.filter((x) => !a.includes(x)).map((x) => `counted ${x}`)];
}

/** Every list the counts size (unfiltered, by organisation, scoped; every sort, both ways): total and rows as `usager_sort` has them. */
async function listsAgree(db: Queryable): Promise<void> {
  const finesses = (await db.query<{ f: string }>(`SELECT DISTINCT finess AS f FROM usager_sort WHERE finess IS NOT NULL`)).rows.map((r) => r.f);
  const owners = (await db.query<{ o: string }>(`SELECT DISTINCT owner AS o FROM usager_sort`)).rows.map((r) => r.o);
  const cases: [Partial<UsagerListQuery>, string, unknown[]][] = [
    [{}, 'true', []],
    ...finesses.map((f): [Partial<UsagerListQuery>, string, unknown[]] => [{ finess: f }, 'finess = $1', [f]]),
    ...owners.map((o): [Partial<UsagerListQuery>, string, unknown[]] => [{ scope: { finess: [o], departements: [] } }, 'owner = $1', [o]]),
    [{ scope: { finess: [], departements: ['29'] } }, `length(owner) = 9 AND left(owner, 2) = '29'`, []],
    [{ scope: { finess: [owners[0]!], departements: [] }, finess: finesses[0]! }, 'owner = $1 AND finess = $2', [owners[0], finesses[0]]],
  ];
  for (const [q, where, params] of cases) {
    const n = Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM usager_sort WHERE ${where}`, params)).rows[0]!.n);
    for (const sort of USAGER_SORTS) {
      for (const descending of [false, true]) {
        const all = await listUsagers(db, { ...q, sort, descending, count: 1000, offset: 0 });
        assert.equal(all.total, n, `${JSON.stringify(q)} ${sort} ${descending}: total`);
        assert.equal(new Set(all.ids).size, n, `${JSON.stringify(q)} ${sort} ${descending}: rows`);
        // The segments' sizes place each page: pages of 2 are the whole list, in order.
        const paged: string[] = [];
        for (let offset = 0; offset < n; offset += 2) paged.push(...(await listUsagers(db, { ...q, sort, descending, count: 2, offset })).ids);
        assert.deepEqual(paged, all.ids, `${JSON.stringify(q)} ${sort} ${descending}: pages`);
      }
    }
  }
}

/** A usager of facility `finess` (none: no local identifier; `odd`: an identifier not FINESS-shaped). */
function patient(n: number, finess: string | undefined, extra: Record<string, unknown> = {}): Record<string, unknown> & { resourceType: string } {
  return {
    resourceType: 'Patient',
    ...(finess === undefined ? {} : { identifier: [{ system: LOCAL, value: finess === 'odd' ? `X-${n}` : `3${finess}/${n}` }] }),
    name: [{ use: 'official', family: `NOM${n}`, given: [`Prénom${n}`] }],
    ...(n % 3 ? { gender: n % 2 ? 'female' : 'male' } : {}),
    ...(n % 4 ? { birthDate: `19${30 + n}-01-02` } : {}),
    ...extra,
  };
}

await forEachDriver('Usagers list: the counts kept equal counting usager_sort', (getRepo, driver) => {
  const made: { id: string; n: number; finess: string | undefined; owner: string }[] = [];
  const check = async (what: string) => {
    // (The writes refreshed first: the drain, D-356.)
    await getRepo().drainDerived();
    const db = getRepo().db;
    assert.deepEqual(await countsDiffer(db), [], what);
    await listsAgree(db);
  };

  test('after creates (owners, facilities, absent keys)', async () => {
    const repo = getRepo();
    const plan: [string | undefined, string][] = [
      ['293178687', '293178687'], ['293178687', '293178687'], ['480787529', '293178687'], ['480787529', '480787529'],
      [undefined, '480787529'], ['odd', '293178687'], ['596395145', '596395145'], ['596395145', ''], [undefined, ''], ['293178687', '480787529'],
    ];
    for (const [i, [finess, owner]] of plan.entries()) {
      const r = await repo.create(patient(i + 1, finess), { owner });
      made.push({ id: r.id, n: i + 1, finess, owner });
    }
    await repo.drainDerived();
    assert.ok(Number((await repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM usager_count`)).rows[0]!.n) > 0);
    await check('after creates');
  });

  test('after deletes', async () => {
    const repo = getRepo();
    for (const m of [made[1]!, made[4]!, made[7]!]) await repo.delete('Patient', m.id);
    await check('after deletes');
  });

  test('after moves between facilities, and a key becoming absent or present', async () => {
    const repo = getRepo();
    const move = async (m: (typeof made)[number], finess: string | undefined, extra: Record<string, unknown> = {}, drop?: string) => {
      const next: Record<string, unknown> & { resourceType: string; id: string } = { ...patient(m.n, finess, extra), id: m.id };
      if (drop) delete next[drop];
      await repo.update(next);
      m.finess = finess;
    };
    await move(made[0]!, '480787529', {}, 'birthDate');
    await move(made[2]!, undefined);
    await move(made[8]!, '596395145', { birthDate: '1999-09-09', gender: 'other' });
    await move(made[5]!, '293178687');
    // Rewritten without changing its groups (the refresh deletes and inserts its row): the counts as they were.
    const before = await getRepo().db.query<{ g: string }>(`SELECT concat_ws(' ', owner, finess, slot, n) AS g FROM usager_count ORDER BY 1`);
    const r = await repo.read('Patient', made[3]!.id);
    await repo.update({ ...(r.resource as Record<string, unknown> & { resourceType: string }), id: made[3]!.id, name: [{ use: 'official', family: 'AUTRE', given: ['Nom'] }] });
    assert.deepEqual((await getRepo().db.query<{ g: string }>(`SELECT concat_ws(' ', owner, finess, slot, n) AS g FROM usager_count ORDER BY 1`)).rows, before.rows);
    await check('after moves');
  });

  test('after UPDATEs of usager_sort itself (the refresh deletes and inserts; any other writer is counted too)', async () => {
    const db = getRepo().db;
    await db.query(`UPDATE usager_sort SET finess = NULL, local_id = NULL, gender = NULL WHERE id = $1`, [made[0]!.id]);
    await db.query(`UPDATE usager_sort SET owner = 'elsewhere', birth_date = '1900-01-01' WHERE id = $1`, [made[5]!.id]);
    assert.deepEqual(await countsDiffer(db), [], 'after updates that move rows between groups');
    const rows = `SELECT concat_ws(' ', owner, finess, slot, n, xmin) AS g FROM usager_count ORDER BY 1`;
    const before = (await db.query<{ g: string }>(rows)).rows;
    await db.query(`UPDATE usager_sort SET name_key = 'zz', last_updated = now() WHERE id = $1`, [made[3]!.id]);
    assert.deepEqual((await db.query<{ g: string }>(rows)).rows, before, 'an UPDATE that changes no group writes no count row');
    await check('after updates');
  });

  test('after a reindex', async () => {
    await getRepo().reindex({ batchSize: 3 });
    await check('after a reindex');
  });

  test('after the backfill of 0198, from usager_sort', async () => {
    const db = getRepo().db;
    await db.transaction(async (tx) => {
      await tx.query(`DELETE FROM usager_count`);
      await tx.query(m0198[m0198.length - 1]!);
    });
    await check('after the backfill');
  });

  test('an unfiltered list, scoped or by organisation, counts no usager_sort row: its counts are read from usager_count', async () => {
    const db = getRepo().db;
    const seen: [string, readonly unknown[] | undefined][] = [];
    const spy = { query: (sql: string, params?: readonly unknown[]) => (seen.push([sql, params]), db.query(sql, params)) } as Queryable;
    for (const q of [{}, { finess: '293178687' }, { scope: { finess: ['293178687'], departements: ['48'] } }] as Partial<UsagerListQuery>[]) {
      for (const sort of USAGER_SORTS) await listUsagers(spy, { ...q, sort, count: 2, offset: 0 });
    }
    const counts = seen.filter(([sql]) => /count\(|sum\(/.test(sql));
    assert.equal(counts.length, USAGER_SORTS.length * 3, 'one count per list');
    for (const [sql, params] of counts) {
      assert.doesNotMatch(sql, /usager_sort/, sql);
      const plan = (await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params)).rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.match(plan, /usager_count/, plan);
      assert.doesNotMatch(plan, /usager_sort/, plan);
    }
    // Filtered by name or identifier: the rows the filter selects are counted, as before.
    seen.length = 0;
    await listUsagers(spy, { words: ['nom1'], count: 2, offset: 0 });
    assert.ok(seen.some(([sql]) => /count\(\*\).*FROM usager_sort/s.test(sql)));
  });

  if (driver === 'postgres') {
    test('two writes of one facility in flight: neither waits on the other\'s count row (slots, as pilotage_count)', async () => {
      const db = getRepo().db as Database;
      const row = (id: string) => [id, 'x', '293178687', `3293178687/${id}`, null, null, new Date().toISOString(), '293178687'];
      const insert = `INSERT INTO usager_sort (id, name_key, finess, local_id, birth_date, gender, last_updated, owner) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`;
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let first!: () => void;
      const inserted = new Promise<void>((r) => (first = r));
      const a = db.transaction(async (tx) => {
        await tx.query(insert, row('slot-a'));
        first();
        await held;
        throw new Error('rollback');
      });
      await inserted;
      try {
        await db.transaction(async (tx) => {
          await tx.query(`SET LOCAL lock_timeout = '3s'`);
          await tx.query(insert, row('slot-b'));
          await tx.query(`DELETE FROM usager_sort WHERE id = 'slot-b'`);
        });
      } finally {
        release();
        await assert.rejects(a, /rollback/);
      }
      assert.deepEqual(await countsDiffer(db), []);
    });
  }
});

// A database written before 0198: the migration counts what usager_sort holds.
test('migration 0198 backfills the counts of a database written before it (both databases)', async (t) => {
  // Written by today's code, which also needs the tables of later migrations that 0198 does not
  // depend on: the change feed's `change_write` (0202), which every write statement fills.
  // And `derived_pending` (0203), where the writes leave their keys: refreshed below by the
  // `derived_refresh` of that schema (two arguments), as a server of then did in each write.
  const before = MIGRATIONS.filter((m) => m.version < '0198' || m.version.startsWith('0202') || m.version.startsWith('0203'));
  assert.ok(before.length < MIGRATIONS.length);
  const pgDown = await postgresUnavailable();
  for (const driver of ['pglite', 'postgres'] as const) {
    if (driver === 'postgres' && pgDown) {
      if (process.env.CI === 'true') assert.fail(`PostgreSQL unreachable under CI=true: ${pgDown}`);
      t.diagnostic(`PostgreSQL unreachable: ${pgDown}`);
      continue;
    }
    const pg = driver === 'postgres' ? await createTestDatabase() : undefined;
    const db = await openDatabase(pg ? { url: pg.url } : { dataDir: 'memory://' });
    const repo = new SqlRepository(db);
    repo.derived.setBackground(false);
    try {
      await migrate(db, before);
      for (let i = 1; i <= 12; i++) await repo.create(patient(i, i % 5 === 0 ? undefined : ['293178687', '480787529', 'odd'][i % 3]), { owner: i % 2 ? '293178687' : '480787529' });
      await db.query(`SELECT derived_refresh(k.t, k.i) FROM (SELECT array_agg(u.t) AS t, array_agg(u.i) AS i FROM derived_pending p, unnest(p.types, p.ids) AS u(t, i)) k`);
      await db.query(`DELETE FROM derived_pending`);
      assert.equal((await db.query(`SELECT 1 FROM usager_sort`)).rows.length, 12);
      assert.equal((await db.query(`SELECT 1 FROM pg_class WHERE relname = 'usager_count'`)).rows.length, 0);
      await migrate(db);
      assert.deepEqual(await countsDiffer(db), [], driver);
      await listsAgree(db);
      await repo.create(patient(13, '293178687'), { owner: '293178687' });
      assert.equal(await repo.drainDerived(), 1);
      assert.deepEqual(await countsDiffer(db), [], `${driver}, then a write`);
    } finally {
      await repo.close();
      await pg?.drop();
    }
  }
});
