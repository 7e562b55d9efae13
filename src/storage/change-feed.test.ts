// The change feed as one row per writing statement (D-355, migration 0202), read version by
// version with exactly the contract of one row per version: every version, in order, resumable
// from any cursor handed out — one a page cut inside a write (`tx.seq.n`), one handed out before
// the migration (`tx.seq` of a `change_feed` row: clients and `agenda_sync` hold such) — with no
// loss and no duplicate; a transaction that commits late is not skipped (PostgreSQL).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { changeCursor, changeCursorText, changeFeedInsert, parseChangeCursor, readChanges, type Change, type ChangeCursor } from './changes.js';
import { openDatabase, openRepository } from './index.js';
import { migrate } from './migrate.js';
import { MIGRATIONS } from './migrations/index.js';
import { createTestDatabase, forEachDriver, horizonPassed, postgresUnavailable } from './testing.js';
import type { Queryable, Repository } from './types.js';
import type { WriteOp } from './unit-of-work.js';

const label = (c: Change) => `${c.resourceType}/${c.id}/${c.versionId}${c.deleted ? '-' : ''}`;

/** The feed from `from` to its end, `page` at a time, each cursor going through its text form as a client's would. */
async function readAll(db: Queryable, from: ChangeCursor | undefined, page: number): Promise<{ versions: string[]; cursors: string[] }> {
  const versions: string[] = [];
  const cursors: string[] = [];
  let cursor = from;
  for (let guard = 0; guard < 10_000; guard++) {
    const changes = await readChanges(db, cursor, page);
    assert.ok(changes.length <= page, `limit ${page} honoured`);
    if (changes.length === 0) return { versions, cursors };
    versions.push(...changes.map(label));
    const text = changeCursorText(changeCursor(changes.at(-1)!));
    cursors.push(text);
    cursor = parseChangeCursor(text);
    assert.ok(cursor, text);
  }
  throw new Error('the feed did not end');
}

const basics = (tag: string, n: number, text = ''): WriteOp[] =>
  Array.from({ length: n }, (_, i) => ({ method: 'update', createOnUpdate: true, resourceType: 'Basic', id: `${tag}${i}`, resource: { resourceType: 'Basic', code: { text: `${tag}${i}${text}` } } }));

await forEachDriver('change feed, one row per write (D-355)', (getRepo, driver) => {
  test('a write is one row; every page size gives every version once, in order, also when the limit cuts a write', async () => {
    const repo = getRepo();
    await horizonPassed(repo.db);
    const before = (await readAll(repo.db, undefined, 1000)).versions.length;
    const rowsBefore = Number((await repo.db.query<{ n: number }>('SELECT count(*)::int AS n FROM change_write')).rows[0]!.n);
    await repo.execute({ ops: basics('a', 5) });
    await repo.execute({ ops: [...basics('a', 2, ' changed'), { method: 'delete', resourceType: 'Basic', id: 'a4' }] });
    await repo.execute({ ops: basics('b', 1) });
    await repo.execute({ ops: basics('c', 4) });
    await horizonPassed(repo.db);
    const rows = await repo.db.query<{ n: number }>('SELECT cardinality(ids) AS n FROM change_write ORDER BY tx, seq');
    assert.deepEqual(rows.rows.slice(rowsBefore).map((r) => Number(r.n)), [5, 3, 1, 4], 'one row per write, its versions in it');
    const expected = [
      ...['a0', 'a1', 'a2', 'a3', 'a4'].map((id) => `Basic/${id}/1`),
      'Basic/a0/2', 'Basic/a1/2', 'Basic/a4/2-',
      'Basic/b0/1',
      ...['c0', 'c1', 'c2', 'c3'].map((id) => `Basic/${id}/1`),
    ];
    const whole = await readAll(repo.db, undefined, 1000);
    assert.deepEqual(whole.versions.slice(before), expected);
    for (const page of [1, 2, 3, 4, 7]) {
      const paged = await readAll(repo.db, undefined, page);
      assert.deepEqual(paged.versions, whole.versions, `pages of ${page}`);
      // Cut inside a row: the cursor says how far (three parts); at a row's end, the old form.
      if (page === 2) assert.ok(paged.cursors.some((c) => /^\d+\.\d+\.\d+$/.test(c)) && paged.cursors.some((c) => /^\d+\.\d+$/.test(c)), paged.cursors.join(' '));
      // Resuming from every cursor of the run gives the rest, nothing lost or repeated.
      let seen = 0;
      for (const c of paged.cursors) {
        seen += Math.min(page, paged.versions.length - seen);
        assert.deepEqual((await readAll(repo.db, parseChangeCursor(c), 1000)).versions, whole.versions.slice(seen), `resumed from ${c}`);
      }
    }
    // A cursor whose row has been read whole, in either form, resumes after the row.
    const cut = (await readChanges(repo.db, undefined, before + 5)).at(-1)!;
    assert.equal(changeCursorText(changeCursor(cut)), `${cut.tx}.${cut.seq}`, 'the first write read whole: the two-part form');
    assert.deepEqual((await readChanges(repo.db, { tx: cut.tx, seq: cut.seq, n: 4 }, 2)).map(label), ['Basic/a4/1', 'Basic/a0/2']);
    assert.deepEqual((await readChanges(repo.db, { tx: cut.tx, seq: cut.seq }, 1)).map(label), ['Basic/a0/2']);
    assert.equal(parseChangeCursor('1.2.0'), undefined);
    assert.equal(parseChangeCursor('1.2.3.4'), undefined);
    assert.deepEqual(parseChangeCursor('12.34.5'), { tx: '12', seq: 34, n: 5 });
    assert.deepEqual(parseChangeCursor('12.34'), { tx: '12', seq: 34 });
  });

  if (driver === 'postgres') {
    test('an earlier transaction committing later is not skipped, nor its versions after a cut', async () => {
      const repo = getRepo();
      await horizonPassed(repo.db);
      const start = (await readChanges(repo.db, undefined, 1000)).at(-1);
      const cursor = start ? changeCursor(start) : undefined;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let written!: () => void;
      const wrote = new Promise<void>((r) => (written = r));
      // A: takes its transaction id first, records three versions as the write path does, waits.
      const a = repo.db.transaction(async (tx) => {
        await tx.query('SELECT pg_current_xact_id()');
        const params: unknown[] = [];
        const versions = ['late0', 'late1', 'late2'].map((id) => ({ resourceType: 'Basic', id, versionId: 1, lastUpdated: new Date().toISOString(), owner: '', existed: false, resource: { resourceType: 'Basic' } }));
        await tx.query(changeFeedInsert(versions, (v) => (params.push(v), `$${params.length}`)), params);
        written();
        await gate;
      });
      await wrote;
      try {
        // B: a later transaction, committed first.
        await repo.execute({ ops: basics('early', 2) });
        assert.deepEqual((await readChanges(repo.db, cursor, 100)).map(label), [], 'B waits behind the running A');
      } finally {
        release(); // else A stays open, and the horizon with it, when the assertion fails
        await a;
      }
      await horizonPassed(repo.db);
      const first = await readChanges(repo.db, cursor, 2);
      assert.deepEqual(first.map(label), ['Basic/late0/1', 'Basic/late1/1']);
      const rest = await readChanges(repo.db, parseChangeCursor(changeCursorText(changeCursor(first.at(-1)!))), 100);
      assert.deepEqual(rest.map(label), ['Basic/late2/1', 'Basic/early0/1', 'Basic/early1/1']);
    });
  }
});

/**
 * A database holding a feed written before migration 0202 (one row per version, several
 * transactions of several versions): every cursor `tx.seq` a client could hold resumes exactly
 * after its version once the database is migrated and written again, by this version (a row per
 * write) and by a server of the previous version still running (a row per version).
 */
async function oldCursorsAcrossTheMigration(open: () => Promise<{ db: () => Promise<import('./types.js').Database>; repo: () => Promise<Repository>; done: () => Promise<void> }>): Promise<void> {
  const env = await open();
  try {
    const db = await env.db();
    await migrate(db, MIGRATIONS.filter((m) => m.version < '0202'));
    const oldWrite = async (q: Queryable, ids: string[]) => {
      for (const id of ids) await q.query(`INSERT INTO change_feed (resource_type, id, version_id, last_updated, deleted) VALUES ('Basic', $1, 1, now(), false)`, [id]);
    };
    for (const ids of [['o0', 'o1', 'o2'], ['o3'], ['o4', 'o5']]) await db.transaction((tx) => oldWrite(tx, ids));
    const held = (await db.query<{ c: string }>(`SELECT tx::text || '.' || seq AS c FROM change_feed ORDER BY tx, seq`)).rows.map((r) => r.c);
    assert.equal(held.length, 6);
    await db.query(`INSERT INTO agenda_sync (name, cursor, updated) VALUES ('usager-agenda', $1, now())`, [held[1]]);
    await db.close();

    const repo = await env.repo(); // migrates 0202 and the rest
    try {
      await repo.execute({ ops: basics('n', 3) });
      await repo.db.transaction((tx) => oldWrite(tx, ['r0', 'r1'])); // a server of the previous version, during a rolling upgrade
      await repo.execute({ ops: basics('m', 2) });
      await horizonPassed(repo.db);
      const all = (await readAll(repo.db, undefined, 1000)).versions;
      assert.deepEqual(all, ['o0', 'o1', 'o2', 'o3', 'o4', 'o5', 'n0', 'n1', 'n2', 'r0', 'r1', 'm0', 'm1'].map((id) => `Basic/${id}/1`));
      for (const [i, c] of held.entries()) {
        for (const page of [1, 2, 1000]) assert.deepEqual((await readAll(repo.db, parseChangeCursor(c), page)).versions, all.slice(i + 1), `old cursor ${c}, pages of ${page}`);
      }
      const stored = (await repo.db.query<{ cursor: string }>(`SELECT cursor FROM agenda_sync WHERE name = 'usager-agenda'`)).rows[0]!.cursor;
      assert.deepEqual((await readAll(repo.db, parseChangeCursor(stored), 500)).versions, all.slice(2), 'the agenda sync resumes from its stored cursor');
      assert.equal(Number((await repo.db.query<{ n: number }>('SELECT count(*)::int AS n FROM change_write')).rows[0]!.n), 2, 'new writes: a row each');
    } finally {
      await repo.close();
    }
  } finally {
    await env.done();
  }
}

describe('migration 0202: cursors handed out before it', () => {
  test('embedded database', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tddui-0202-'));
    await oldCursorsAcrossTheMigration(async () => ({
      db: () => openDatabase({ dataDir: dir }),
      repo: () => openRepository({ dataDir: dir }),
      done: () => rm(dir, { recursive: true, force: true }),
    }));
  });
  test('PostgreSQL', async (t) => {
    const why = await postgresUnavailable();
    if (why && process.env.CI !== 'true') return t.skip(why);
    const { url, drop } = await createTestDatabase();
    await oldCursorsAcrossTheMigration(async () => ({ db: () => openDatabase({ url }), repo: () => openRepository({ url }), done: drop }));
  });
});
