// The repository's background work fails in the background: the server logs it (issue 19's
// leftover of D-356 — a background drain's error was dropped, and only the next reader of the
// derived tables saw it, as its own failure).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { createTestDatabase, postgresUnavailable } from '../storage/testing.js';
import { SHARED_FHIR } from '../testing/paths.js';
import { startServer, type RunningServer } from './app.js';
import { http, readExample } from './test-support.js';

interface LogLine { level: number; msg: string; task?: string; err?: { message?: string } }

async function until<T>(what: string, probe: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * A server on `driver` (a fresh PostgreSQL database, or the embedded one in memory) whose log
 * lines are collected; `run` gets it and the lines; everything closed and dropped after. Skips
 * when PostgreSQL is unavailable.
 */
async function withLoggedServer(driver: 'pglite' | 'postgres', t: TestContext, run: (s: RunningServer, lines: LogLine[]) => Promise<void>): Promise<void> {
  let database: { url: string; drop: () => Promise<void> } | undefined;
  if (driver === 'postgres') {
    const why = await postgresUnavailable();
    if (why) return t.skip(`PostgreSQL unavailable: ${why}`);
    database = await createTestDatabase({ prefix: 'tddui_t_bgerr' });
  }
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  try {
    const s = await startServer({ port: 0, ...(database ? { database: database.url } : { dataDir: 'memory://' }), packages: [SHARED_FHIR], logLevel: 'info', logDestination: sink, validationWorkers: 0 });
    try {
      await run(s, lines);
    } finally {
      await s.close();
    }
  } finally {
    await database?.drop();
  }
}

describe('background work: its errors are logged', () => {
  for (const driver of ['pglite', 'postgres'] as const) {
    it(`a failing background drain of the derived tables is logged (task derived-refresh, level error), its keys stay pending and the next drain takes them (${driver})`, (t) =>
      withLoggedServer(driver, t, async (s, lines) => {
        // The drain's function is gone: the write (which only records its keys) succeeds, the
        // background drain 200 ms later fails.
        await s.repo.db.query('ALTER FUNCTION derived_refresh(text[], text[], boolean) RENAME TO derived_refresh_gone');
        const sent = await http(`${s.url}/fhir`, { body: readExample('Bundle-tddui-pp-pa-bundle-example.json') });
        assert.equal(sent.status, 200, sent.text);
        const logged = await until('the drain error in the log', () => lines.find((l) => l.task === 'derived-refresh'));
        assert.equal(logged.level, 50);
        assert.match(logged.msg, /derived tables failed/);
        assert.match(logged.err?.message ?? '', /derived_refresh/);
        const pending = await s.repo.db.query<{ n: number }>('SELECT count(*)::int AS n FROM derived_pending');
        assert.ok(pending.rows[0]!.n > 0, 'the keys stay pending');
        // Repaired: the next drain refreshes them (the usager is in the list's sort keys).
        await s.repo.db.query('ALTER FUNCTION derived_refresh_gone(text[], text[], boolean) RENAME TO derived_refresh');
        assert.ok((await s.repo.drainDerived()) > 0);
        const left = await s.repo.db.query<{ n: number }>('SELECT count(*)::int AS n FROM derived_pending');
        assert.equal(left.rows[0]!.n, 0);
        const sorted = await s.repo.db.query<{ n: number }>('SELECT count(*)::int AS n FROM usager_sort');
        assert.equal(sorted.rows[0]!.n, 1);
      }));

    it(`a failing statistics pass is logged (task statistics, level error) (${driver})`, (t) =>
      withLoggedServer(driver, t, async (s, lines) => {
        const db = s.repo.db;
        // (A PostgreSQL with autovacuum on gets no pass from the server: nothing to fail.)
        const av = await db.query<{ on: string }>(`SELECT current_setting('autovacuum') AS on`);
        if (driver === 'postgres' && av.rows[0]!.on === 'on') return t.skip('autovacuum is on: the server runs no statistics pass');
        // Every statement of a pass fails (the keeper reads the tables' figures, then VACUUM/ANALYZE).
        const query = db.query.bind(db);
        db.query = ((sql: string, params?: unknown[]) => (/pg_stat_user_tables|pg_class|VACUUM|ANALYZE/.test(sql) ? Promise.reject(new Error('statistics pass refused here')) : query(sql, params))) as typeof db.query;
        const keeper = (s.repo as unknown as { statistics: { look(): Promise<void> } }).statistics;
        await keeper.look();
        db.query = query;
        const logged = await until('the pass error in the log', () => lines.find((l) => l.task === 'statistics'));
        assert.equal(logged.level, 50);
        assert.match(logged.msg, /statistics pass failed/);
        assert.equal(logged.err?.message, 'statistics pass refused here');
      }));
  }
});
