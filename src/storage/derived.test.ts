// The derived refresh after the writes (D-356, derived.ts): what a drain takes, in how many
// transactions, and what a reader of the derived tables gets. The figures themselves are compared
// with the full computation by refresh-sections, pilotage-counts and usager-count tests; a replica
// by server/read-replicas.test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DRAIN_ROWS, drainIn, hasPendingDerived } from './derived.js';
import type { SqlRepository } from './repository.js';
import { forEachDriver } from './testing.js';
import type { FhirResource, Queryable, Repository } from './types.js';

const LOCAL = 'https://identifiant-medicosocial-localusager.esante.gouv.fr';
const patient = (tag: string, family = tag): FhirResource => ({ resourceType: 'Patient', identifier: [{ system: LOCAL, value: `3480787529/${tag}` }], name: [{ family }] });

const count = async (q: Queryable, sql: string, params: unknown[] = []) => Number((await q.query<{ n: number }>(sql, params)).rows[0]!.n);

/** Transactions the repository's database opens while `fn` runs. */
async function transactionsDuring(repo: Repository, fn: () => Promise<unknown>): Promise<number> {
  const db = repo.db;
  const transaction = db.transaction;
  let n = 0;
  (db as { transaction: typeof db.transaction }).transaction = ((f: (tx: Queryable) => Promise<unknown>) => (n++, transaction.call(db, f))) as typeof db.transaction;
  try {
    await fn();
  } finally {
    (db as { transaction: typeof db.transaction }).transaction = transaction;
  }
  return n;
}

await forEachDriver('the derived refresh after the writes (D-356)', (getRepo) => {
  test('a backlog drains in transactions of DRAIN_ROWS pending rows, each key once', async (t) => {
    const repo = getRepo();
    (repo as SqlRepository).derived.setBackground(false);
    t.after(() => (repo as SqlRepository).derived.setBackground(true));
    await repo.drainDerived();
    const ids: string[] = [];
    for (let i = 0; i < DRAIN_ROWS + 37; i++) {
      ids.push((await repo.create(patient(`b${i}`))).id);
      // The first usager written again at once: its key in two pending rows of one drain transaction.
      if (i === 0) await repo.update({ ...patient('b0', 'Renamed'), id: ids[0]! });
    }
    const rows = await count(repo.db, 'SELECT count(*)::int AS n FROM derived_pending');
    assert.equal(rows, DRAIN_ROWS + 38, 'one pending row per write');
    assert.equal(await count(repo.db, 'SELECT count(*)::int AS n FROM usager_sort WHERE id = ANY($1::text[])', [ids]), 0, 'nothing refreshed before the drain');
    let keys = 0;
    const transactions = await transactionsDuring(repo, async () => (keys = await repo.drainDerived()));
    assert.equal(transactions, 2, `${rows} pending rows: ${DRAIN_ROWS} in the first transaction, the rest in the second`);
    assert.equal(keys, ids.length, 'the key written twice refreshed once');
    assert.equal(await hasPendingDerived(repo.db), false);
    assert.equal(await count(repo.db, 'SELECT count(*)::int AS n FROM usager_sort WHERE id = ANY($1::text[])', [ids]), ids.length);
    const renamed = await repo.db.query<{ name_key: string }>('SELECT name_key FROM usager_sort WHERE id = $1', [ids[0]]);
    assert.equal(renamed.rows[0]!.name_key, 'renamed', 'its last version');
    // Nothing pending: a drain opens no transaction.
    assert.equal(await transactionsDuring(repo, () => repo.drainDerived()), 0);
  });

  test('a drain takes the rows pending when it began, not those written after', async (t) => {
    const repo = getRepo();
    (repo as SqlRepository).derived.setBackground(false);
    t.after(() => (repo as SqlRepository).derived.setBackground(true));
    await repo.drainDerived();
    const before = [(await repo.create(patient('m1'))).id, (await repo.create(patient('m2'))).id];
    const mark = (await repo.db.query<{ m: string }>('SELECT max(seq)::text AS m FROM derived_pending')).rows[0]!.m;
    const later = (await repo.create(patient('m3'))).id;
    const taken = await repo.db.transaction((tx) => drainIn(tx, mark));
    assert.deepEqual(taken, { rows: 2, keys: 2 });
    assert.equal(await count(repo.db, 'SELECT count(*)::int AS n FROM usager_sort WHERE id = ANY($1::text[])', [before]), 2);
    assert.equal(await count(repo.db, 'SELECT count(*)::int AS n FROM usager_sort WHERE id = $1', [later]), 0, 'written after the mark: left pending');
    assert.equal(await count(repo.db, 'SELECT count(*)::int AS n FROM derived_pending'), 1);
    await repo.drainDerived();
    assert.equal(await count(repo.db, 'SELECT count(*)::int AS n FROM usager_sort WHERE id = $1', [later]), 1);
  });

  test('a reader of the derived tables finds every write refreshed; the background drain runs after a write', async () => {
    const repo = getRepo();
    await repo.drainDerived();
    const id = (await repo.create(patient('r1'))).id;
    // Without replicas the reader is the primary, drained first when keys are pending.
    const db = await repo.derivedReader();
    assert.equal(db, repo.db);
    assert.equal(await count(db, 'SELECT count(*)::int AS n FROM usager_sort WHERE id = $1', [id]), 1);
    // The background drain (200 ms after a write): no reader needed.
    const other = (await repo.create(patient('r2'))).id;
    for (let i = 0; i < 100 && (await hasPendingDerived(repo.db)); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await hasPendingDerived(repo.db), false, 'drained in the background');
    assert.equal(await count(repo.db, 'SELECT count(*)::int AS n FROM usager_sort WHERE id = $1', [other]), 1);
  });
});
