// The history partitioned by month (migration 0170): partitions ahead, rows in the month they
// were superseded, the default partition emptied into a new month, detaching, the conversion of
// an existing history — on both drivers.
import assert from 'node:assert/strict';
import { it, test } from 'node:test';
import { detachHistoryBefore, ensureHistoryPartitions, historyPartitions, HISTORY_MONTHS_AHEAD, MIGRATIONS, migrate, openDatabase, SqlRepository } from './index.js';
import { forEachDriver } from './testing.js';
import type { Queryable } from './types.js';

const partitionOf = async (db: Queryable, id: string, version: number) =>
  (await db.query<{ p: string }>(`SELECT tableoid::regclass::text AS p FROM resource_history WHERE resource_type = 'Basic' AND id = $1 AND version_id = $2`, [id, version])).rows.map((r) => r.p);

const month = (d: Date) => `resource_history_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`;

await forEachDriver('history partitioned by month', (getRepo) => {
  it('has this month and the next ones; a replaced version goes to the month it was replaced in', async () => {
    const repo = getRepo();
    const parts = await historyPartitions(repo.db);
    const now = new Date();
    const names = parts.map((p) => p.name);
    for (let k = 0; k <= HISTORY_MONTHS_AHEAD; k++) assert.ok(names.includes(month(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + k, 15)))), `${names}`);
    assert.equal(names.at(-1), 'resource_history_default');
    const current = parts.find((p) => p.name === month(now))!;
    assert.equal(current.from, new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString());
    assert.equal(current.to, new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString());

    const v1 = await repo.create({ resourceType: 'Basic', code: { text: 'un' } });
    const v2 = await repo.update({ ...v1.resource, id: v1.id, code: { text: 'deux' } } as never);
    await repo.update({ ...v2.resource, id: v1.id, code: { text: 'trois' } } as never);
    assert.deepEqual(await partitionOf(repo.db, v1.id, 1), [month(now)]);
    assert.deepEqual(await partitionOf(repo.db, v1.id, 2), [month(now)]);
    assert.equal(((await repo.vread('Basic', v1.id, 1)).resource as unknown as { code: { text: string } }).code.text, 'un');
    const h = await repo.history({ resourceType: 'Basic', id: v1.id, count: 10, offset: 0 });
    assert.deepEqual(h.entries.map((e) => e.versionId), [3, 2, 1]);
    // Creating what exists does nothing.
    assert.equal(await ensureHistoryPartitions(repo.db), 0);
  });

  it('moves what the default partition took into the month created for it; detaches past months', async () => {
    const repo = getRepo();
    const row = (id: string, v: number, superseded: string) =>
      repo.db.query(
        `INSERT INTO resource_history (resource_type, id, version_id, last_updated, content, superseded_at) VALUES ('Basic', $1, $2, $3, $4::jsonb, $3)`,
        [id, v, superseded, JSON.stringify({ resourceType: 'Basic', id, meta: { versionId: String(v), lastUpdated: superseded } })],
      );
    await row('old-1', 1, '2020-01-15T10:00:00.000Z');
    await row('old-1', 2, '2020-02-03T10:00:00.000Z');
    assert.deepEqual(await partitionOf(repo.db, 'old-1', 1), ['resource_history_default']);
    assert.equal(await ensureHistoryPartitions(repo.db, new Date('2020-01-31T23:59:59Z'), 1), 2);
    assert.deepEqual(await partitionOf(repo.db, 'old-1', 1), ['resource_history_y2020m01']);
    assert.deepEqual(await partitionOf(repo.db, 'old-1', 2), ['resource_history_y2020m02']);
    assert.equal((await repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource_history_default`)).rows[0]!.n, 0);
    assert.equal((await repo.vread('Basic', 'old-1', 1)).versionId, 1);

    // Archiving: the months ending on or before 1 February 2020 are detached, no other.
    assert.deepEqual(await detachHistoryBefore(repo.db, new Date('2020-02-01T00:00:00Z')), ['resource_history_y2020m01']);
    await assert.rejects(repo.vread('Basic', 'old-1', 1), (e: { status?: number }) => e.status === 404);
    assert.equal((await repo.vread('Basic', 'old-1', 2)).versionId, 2);
    // The detached month is a plain table, ready for pg_dump.
    assert.equal((await repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource_history_y2020m01`)).rows[0]!.n, 1);
    assert.ok(!(await historyPartitions(repo.db)).some((p) => p.name === 'resource_history_y2020m01'));
    // The current months are never detached by an earlier date.
    assert.deepEqual(await detachHistoryBefore(repo.db, new Date('2020-02-01T00:00:00Z')), []);
  });
});

test('migration 0170 converts an existing history: each version in the month it was replaced', async () => {
  const db = await openDatabase({ dataDir: 'memory://' });
  // Opened as a bare database to migrate it part way; the repository over it is what closes it (D-337).
  const repo = new SqlRepository(db);
  try {
    const before = MIGRATIONS.findIndex((m) => m.version === '0170-history-partitions');
    await migrate(db, MIGRATIONS.slice(0, before));
    const put = (table: string, v: number, t: string) =>
      db.query(`INSERT INTO ${table} (resource_type, id, version_id, last_updated, content) VALUES ('Basic', 'b', $1, $2, $3::jsonb)`, [v, t, JSON.stringify({ resourceType: 'Basic', id: 'b', meta: { versionId: String(v), lastUpdated: t } })]);
    await put('resource_history', 1, '2023-11-20T08:00:00.000Z');
    await put('resource_history', 2, '2024-01-31T23:30:00.000Z');
    await put('resource', 3, '2024-03-01T00:00:00.000Z');
    await migrate(db);
    const rows = await db.query<{ v: number; s: Date; p: string }>(`SELECT version_id AS v, superseded_at AS s, tableoid::regclass::text AS p FROM resource_history ORDER BY 1`);
    assert.deepEqual(
      rows.rows.map((r) => [Number(r.v), new Date(r.s).toISOString(), r.p]),
      [
        [1, '2024-01-31T23:30:00.000Z', 'resource_history_y2024m01'],
        [2, '2024-03-01T00:00:00.000Z', 'resource_history_y2024m03'],
      ],
    );
    const h = await repo.history({ resourceType: 'Basic', id: 'b', count: 10, offset: 0 });
    assert.deepEqual(h.entries.map((e) => e.versionId), [3, 2, 1]);
    assert.equal((await repo.vread('Basic', 'b', 1)).lastUpdated, '2023-11-20T08:00:00.000Z');
  } finally {
    await repo.close();
  }
});
