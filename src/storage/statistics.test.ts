// Statistics kept current: past the growth threshold, a background ANALYZE of the written tables
// (the embedded database always; PostgreSQL only when autovacuum is off).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatisticsKeeper } from './statistics.js';
import { forEachDriver } from './testing.js';

await forEachDriver('StatisticsKeeper', (getRepo, driver) => {
  test('past the threshold the written tables are analysed in the background, once per growth step', async () => {
    const repo = getRepo();
    const reltuples = async () => Number((await repo.db.query<{ n: number }>(`SELECT reltuples::float8 AS n FROM pg_class WHERE relname = 'resource'`)).rows[0]!.n);
    const autovacuum = driver === 'pglite' ? 'off' : (await repo.db.query<{ autovacuum: string }>('SHOW autovacuum')).rows[0]!.autovacuum;
    const keeper = new StatisticsKeeper(repo.db, { minRows: 100, fraction: 0.5 });
    const write = async (n: number) => {
      const results = await repo.execute({ ops: Array.from({ length: n }, (_, i) => ({ method: 'create' as const, resourceType: 'Basic', resource: { resourceType: 'Basic', code: { text: `b${i}` } } })) });
      keeper.noteWrites(results.length);
    };
    await write(60);
    await keeper.idle();
    assert.equal(keeper.analyses, 0, 'below the threshold');
    await write(60);
    await keeper.idle();
    if (autovacuum === 'on') {
      assert.equal(keeper.analyses, 0, 'autovacuum does it');
      return;
    }
    assert.equal(keeper.analyses, 1);
    assert.ok((await reltuples()) >= 120, 'statistics know the rows');
    // Next step: 100 + 0.5 x the resources stored.
    await write(60);
    await keeper.idle();
    assert.equal(keeper.analyses, 1, 'the threshold grew with the data');
  });

  test('a pass also VACUUMs: the dead rows of updates and of the derived tables are reclaimed, the derived tables analysed', async () => {
    const repo = getRepo();
    const autovacuum = driver === 'pglite' ? 'off' : (await repo.db.query<{ autovacuum: string }>('SHOW autovacuum')).rows[0]!.autovacuum;
    if (autovacuum === 'on') return; // autovacuum's job
    const keeper = new StatisticsKeeper(repo.db, { minRows: 100, fraction: 0.5 });
    const [p] = await repo.execute({ ops: [{ method: 'create', resourceType: 'Patient', resource: { resourceType: 'Patient', identifier: [{ system: 'https://identifiant-medicosocial-localusager.esante.gouv.fr', value: '3480787529/1' }], name: [{ family: 'Durand' }] } }] });
    const id = p!.record!.id;
    // 150 updates: each deletes and re-inserts the Patient's index rows and its usagers-list row.
    for (let i = 0; i < 150; i++) {
      const r = await repo.execute({ ops: [{ method: 'update', resourceType: 'Patient', id, resource: { resourceType: 'Patient', id, identifier: [{ system: 'https://identifiant-medicosocial-localusager.esante.gouv.fr', value: '3480787529/1' }], name: [{ family: `Durand${i}` }] } }] });
      keeper.noteWrites(r.length);
    }
    await keeper.idle();
    assert.ok(keeper.analyses >= 1, 'past the threshold');
    // One more pass after the last update (the threshold's own passes came before it).
    keeper.noteWrites(1_000_000);
    await keeper.idle();
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
});
