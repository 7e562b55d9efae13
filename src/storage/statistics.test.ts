// Statistics kept current: every so many versions written, a background look at the tables'
// figures, and VACUUM / ANALYZE of the tables that need it (the embedded database always;
// PostgreSQL only when autovacuum is off). D-298, D-310.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planPass, StatisticsKeeper, type TableFigures } from './statistics.js';
import { openRepository, type SqlRepository } from './index.js';
import { createTestDatabase, forEachDriver, postgresUnavailable } from './testing.js';
import type { Database, Repository } from './types.js';

/**
 * The tables' figures (pg_stat_user_tables) include every write made so far: a backend publishes
 * its counts at the end of a statement at most once a second, so wait a second and run a
 * statement on every connection of the pool (PostgreSQL) or on the one connection (PGlite).
 */
async function statsCurrent(repo: Repository): Promise<void> {
  await new Promise((r) => setTimeout(r, 1100));
  await Promise.all(Array.from({ length: repo.db.kind === 'postgres' ? 10 : 1 }, () => repo.db.query('SELECT pg_sleep(0.02)')));
}

/** vacuum_count and analyze_count of a table. */
async function counts(repo: Repository, table: string): Promise<{ vacuums: number; analyses: number }> {
  const r = await repo.db.query<{ v: string; a: string }>(`SELECT vacuum_count AS v, analyze_count AS a FROM pg_stat_user_tables WHERE relid = to_regclass($1)`, [table]);
  return { vacuums: Number(r.rows[0]!.v), analyses: Number(r.rows[0]!.a) };
}

const basics = (n: number, tag: string) => ({
  ops: Array.from({ length: n }, (_, i) => ({ method: 'create' as const, resourceType: 'Basic', resource: { resourceType: 'Basic', code: { text: `${tag}${i}` } } })),
});

/** A look forced now: past any threshold of versions written. */
const LOOK = 1_000_000_000;

/**
 * A look (a pass before D-310) on figures that include every write so far. (VACUUM removes the dead
 * rows no transaction of the same database can see: the cluster's other databases do not hold it back.)
 */
async function lookNow(repo: Repository, keeper: StatisticsKeeper): Promise<void> {
  await statsCurrent(repo);
  keeper.noteWrites(LOOK);
  await keeper.idle();
}

/** A clean start for one table: no dead rows, just analysed. */
async function settle(repo: Repository, table: string): Promise<void> {
  await repo.db.query(`VACUUM (ANALYZE) ${table}`);
}

await forEachDriver('StatisticsKeeper', (getRepo, driver) => {
  const autovacuumOn = async (repo: Repository) =>
    driver === 'postgres' && (await repo.db.query<{ autovacuum: string }>('SHOW autovacuum')).rows[0]!.autovacuum === 'on';
  // Options given through a variable: the tests also compile against the keeper before D-310
  // (minRows, fraction), on which the last two fail.
  const options = { lookEvery: 50, minRows: 100, fraction: 0.5 };

  test('past the threshold the written tables are analysed in the background, once per growth step', async () => {
    const repo = getRepo();
    const reltuples = async () => Number((await repo.db.query<{ n: number }>(`SELECT reltuples::float8 AS n FROM pg_class WHERE relname = 'resource'`)).rows[0]!.n);
    const keeper = new StatisticsKeeper(repo.db, options);
    const write = async (n: number) => {
      const results = await repo.execute(basics(n, 'b'));
      await statsCurrent(repo);
      keeper.noteWrites(results.length);
      await keeper.idle();
    };
    await write(60);
    assert.equal(keeper.analyses, 0, 'below the threshold');
    await write(60);
    if (await autovacuumOn(repo)) {
      assert.equal(keeper.analyses, 0, 'autovacuum does it');
      return;
    }
    assert.equal(keeper.analyses, 1);
    assert.ok((await reltuples()) >= 120, 'statistics know the rows');
    // Next step: 100 + a share of the rows the table held at its last ANALYZE.
    await write(60);
    assert.equal(keeper.analyses, 1, 'the threshold grew with the data');
  });

  test('stop() (shutdown, D-325): the pass in flight ends before it resolves; no pass starts after it', async () => {
    const repo = getRepo();
    const keeper = new StatisticsKeeper(repo.db, { lookEvery: 1 });
    await keeper.look(); // the mode is known: noteWrites starts a pass at once
    const looked = keeper.looks;
    keeper.lastPlan = undefined;
    keeper.noteWrites(10);
    await keeper.stop();
    if (driver === 'pglite') {
      assert.equal(keeper.looks, looked + 1, 'a pass was in flight');
      assert.ok(keeper.lastPlan, 'it ended (its plan made) before stop() resolved');
    }
    const stopped = keeper.looks;
    keeper.noteWrites(1_000_000);
    await keeper.idle();
    await keeper.look();
    assert.equal(keeper.looks, stopped, 'no pass after stop()');
  });

  test('a pass also VACUUMs: the dead rows of updates and of the derived tables are reclaimed, the derived tables analysed', async () => {
    const repo = getRepo();
    if (await autovacuumOn(repo)) return; // autovacuum's job
    const keeper = new StatisticsKeeper(repo.db, options);
    const [p] = await repo.execute({ ops: [{ method: 'create', resourceType: 'Patient', resource: { resourceType: 'Patient', identifier: [{ system: 'https://identifiant-medicosocial-localusager.esante.gouv.fr', value: '3480787529/1' }], name: [{ family: 'Durand' }] } }] });
    const id = p!.record!.id;
    // 150 updates: each deletes and re-inserts the Patient's index rows and its usagers-list row.
    // (One look after them: a look in between could vacuum a table at 100 dead rows and leave the
    // last ones, under the threshold, as D-310 means it to.)
    for (let i = 0; i < 150; i++) {
      await repo.execute({ ops: [{ method: 'update', resourceType: 'Patient', id, resource: { resourceType: 'Patient', id, identifier: [{ system: 'https://identifiant-medicosocial-localusager.esante.gouv.fr', value: '3480787529/1' }], name: [{ family: `Durand${i}` }] } }] });
      await repo.drainDerived(); // (each update refreshed on its own, as spaced writes are: D-356)
    }
    await lookNow(repo, keeper);
    // VACUUM reclaimed the dead rows: every page of the churned tables is all-visible again (ANALYZE alone never sets the visibility map).
    for (const t of ['search_string', 'usager_sort']) {
      const r = await repo.db.query<{ all_visible: boolean }>(
        `SELECT relallvisible >= relpages AND relpages > 0 AS all_visible FROM pg_class WHERE relname = $1`,
        [t],
      );
      assert.equal(r.rows[0]?.all_visible, true, `${t}: vacuumed (every page all-visible)`);
    }
    const analysed = await repo.db.query<{ n: string }>(`SELECT count(*) AS n FROM pg_class WHERE relname = 'usager_sort' AND reltuples >= 0`);
    assert.equal(Number(analysed.rows[0]!.n), 1, 'usager_sort analysed (reltuples known)');
  });

  test('a table that did not change is left alone; one that only grew is analysed once it doubled, never vacuumed', async () => {
    const repo = getRepo();
    if (await autovacuumOn(repo)) return;
    const keeper = new StatisticsKeeper(repo.db, options);
    // Whatever the earlier tests left: one look first, and resource without dead rows.
    await settle(repo, 'resource');
    await lookNow(repo, keeper);
    const rows = async () => Number((await repo.db.query<{ n: number }>(`SELECT reltuples::float8 AS n FROM pg_class WHERE relname = 'resource'`)).rows[0]!.n);
    const before = { resource: await counts(repo, 'resource'), submission: await counts(repo, 'submission'), pilotage_part: await counts(repo, 'pilotage_part') };
    // Half the rows again: inserts only, under the doubling.
    const half = Math.ceil((await rows()) / 2);
    await repo.execute(basics(half, 'h'));
    await lookNow(repo, keeper);
    assert.deepEqual(await counts(repo, 'resource'), before.resource, 'resource grew by half: neither vacuumed nor analysed');
    // Past the doubling (100 + the rows at the last ANALYZE).
    await repo.execute(basics(Math.ceil(await rows()) + 100, 'd'));
    await lookNow(repo, keeper);
    const after = await counts(repo, 'resource');
    assert.equal(after.analyses, before.resource.analyses + 1, 'resource analysed once it doubled');
    assert.equal(after.vacuums, before.resource.vacuums, 'inserts only: no VACUUM');
    assert.deepEqual(await counts(repo, 'submission'), before.submission, 'submission: not written, left alone');
    assert.deepEqual(await counts(repo, 'pilotage_part'), before.pilotage_part, 'pilotage_part: not written, left alone');
  });

  test('dead rows under minRows + 20 % of a table are left; over it the table is vacuumed and analysed', async () => {
    const repo = getRepo();
    if (await autovacuumOn(repo)) return;
    const keeper = new StatisticsKeeper(repo.db, options);
    const system = 'https://identifiant-medicosocial-localusager.esante.gouv.fr';
    const [p] = await repo.execute({ ops: [{ method: 'create', resourceType: 'Patient', resource: { resourceType: 'Patient', identifier: [{ system, value: '3480787529/2' }], name: [{ family: 'Martin' }] } }] });
    const id = p!.record!.id;
    const update = async (n: number, tag: string) => {
      for (let i = 0; i < n; i++) {
        await repo.execute({ ops: [{ method: 'update', resourceType: 'Patient', id, resource: { resourceType: 'Patient', id, identifier: [{ system, value: '3480787529/2' }], name: [{ family: `Martin${tag}${i}` }] } }] });
        await repo.drainDerived(); // (each update refreshed on its own, as spaced writes are: D-356)
      }
      await lookNow(repo, keeper);
    };
    await update(1, 'a'); // whatever the earlier tests left: one look first, and usager_sort clean
    await settle(repo, 'usager_sort');
    const before = await counts(repo, 'usager_sort');
    const live = Number((await repo.db.query<{ n: string }>('SELECT count(*) AS n FROM usager_sort')).rows[0]!.n);
    // usager_sort: one row per usager, one dead row per update of a usager.
    await update(10, 'b');
    assert.deepEqual(await counts(repo, 'usager_sort'), before, `10 dead rows in ${live} live: left`);
    await update(100 + Math.ceil(0.2 * live), 'c');
    const after = await counts(repo, 'usager_sort');
    assert.equal(after.vacuums, before.vacuums + 1, 'over the share: vacuumed');
    assert.equal(after.analyses, before.analyses + 1, 'and analysed');
  });
});

test('planPass: each table from its own figures', () => {
  const rule = { minRows: 1000, churnFraction: 0.2, growthFraction: 1.0, freezeMaxAge: 200_000_000 };
  const t = (table: string, f: Partial<TableFigures>): TableFigures => ({ table, rows: 10_000, modified: 0, dead: 0, xidAge: 1000, ...f });
  const plan = planPass(
    [
      t('unchanged', {}),
      t('never_analysed_small', { rows: -1, modified: 999 }),
      t('never_analysed', { rows: -1, modified: 1000 }),
      t('grew_by_half', { modified: 5000 }),
      t('doubled', { modified: 11_000 }),
      t('churned_a_fifth', { modified: 3000, dead: 3000 }), // 1,000 + 20 % = 3,000 modified, and dead
      t('churned_little', { modified: 2999, dead: 2999 }),
      t('dead_over_share_few_modified', { modified: 10, dead: 3000 }),
      t('old_xids', { xidAge: 200_000_001 }),
      t('old_xids_modified', { xidAge: 200_000_001, modified: 5 }),
    ],
    rule,
  );
  assert.deepEqual(plan, {
    vacuumAnalyze: ['churned_a_fifth', 'dead_over_share_few_modified', 'old_xids_modified'],
    vacuum: ['old_xids'],
    analyze: ['never_analysed', 'doubled'],
  });
});

// The shutdown order of every holder of a repository (server, CLI, benchmarks): its background
// work, then the database (D-325). Before D-337 the CLI and the benchmarks called `db.close()`
// alone, under a statistics pass in flight (on PostgreSQL its next query met "Cannot use a pool
// after calling end on the pool").
for (const driver of ['pglite', 'postgres'] as const) {
  test(`Repository.close() (D-337) [${driver}]: the statistics pass in flight ends before the database closes; no query after`, async (t) => {
    if (driver === 'postgres' && (await postgresUnavailable())) return t.skip('PostgreSQL unreachable');
    const pgdb = driver === 'postgres' ? await createTestDatabase() : undefined;
    try {
      const repo = (await openRepository(pgdb ? { url: pgdb.url } : { dataDir: 'memory://' })) as SqlRepository;
      // The database seen from outside: queries in flight when it closes, and any after.
      const db = repo.db as { -readonly [K in keyof Database]: Database[K] };
      let started = 0;
      let inFlight = 0;
      let closed = false;
      let inFlightAtClose = -1;
      const late: string[] = [];
      const query = db.query.bind(db);
      db.query = (async (sql: string, params?: readonly unknown[]) => {
        if (closed) late.push(sql);
        inFlight++;
        try {
          // The pass's first query held 50 ms: the pass is surely in flight when close() is called.
          if (++started === 1) await new Promise((r) => setTimeout(r, 50));
          return await query(sql, params);
        } finally {
          inFlight--;
        }
      }) as Database['query'];
      const close = db.close.bind(db);
      db.close = () => {
        inFlightAtClose = inFlight;
        closed = true;
        return close();
      };
      // A pass in flight (what 1,000 versions written start), its first query running.
      void repo.statistics.look();
      while (started === 0) await new Promise((r) => setImmediate(r));
      await repo.close();
      assert.equal(inFlightAtClose, 0, 'no query of the pass in flight as the database closed');
      assert.deepEqual(late, [], 'no query after the database closed');
      assert.ok(repo.statistics.looks >= 1, 'the pass ran');
    } finally {
      await pgdb?.drop();
    }
  });
}
