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
    // Next step: 100 + 0.5 x the rows analysed (every written table counted).
    await write(60);
    await keeper.idle();
    assert.equal(keeper.analyses, 1, 'the threshold grew with the data');
  });
});
