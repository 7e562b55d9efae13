// Test support (used by tests of storage, ingest and the server): run a suite on both drivers,
// the embedded PGlite (in memory) and a real PostgreSQL with its own throw-away database.
import { randomBytes } from 'node:crypto';
import { after, before, describe } from 'node:test';
import pg from 'pg';
import { openRepository } from './index.js';
import type { Queryable, Repository } from './types.js';

/** Admin connection used to create/drop test databases (`TDDUI_TEST_PG_URL` overrides it). */
export const TEST_PG_ADMIN_URL = process.env.TDDUI_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<string | undefined> | undefined;

/** undefined when PostgreSQL answers, else the reason it does not. */
export function postgresUnavailable(): Promise<string | undefined> {
  reachable ??= (async () => {
    const c = new pg.Client({ connectionString: TEST_PG_ADMIN_URL, connectionTimeoutMillis: 15_000 }); // a loaded 2-core machine took > 3 s to connect: the suites were skipped
    try {
      await c.connect();
      await c.query('SELECT 1');
      return undefined;
    } catch (err) {
      return (err as Error).message;
    } finally {
      await c.end().catch(() => undefined);
    }
  })();
  return reachable;
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = '/' + name;
  return u.toString();
}

/** Creates a fresh database `tddui_t_<random>`; returns its URL and a drop function. */
export async function createTestDatabase(options: { adminUrl?: string; prefix?: string } = {}): Promise<{ url: string; drop: () => Promise<void> }> {
  const adminUrl = options.adminUrl ?? TEST_PG_ADMIN_URL;
  const name = `${options.prefix ?? 'tddui_t'}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(adminUrl, name),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export type DriverName = 'pglite' | 'postgres';

/**
 * Declares `suite` once per driver, each with its own fresh repository (`getRepo()`).
 * PostgreSQL unreachable: the suite fails under CI=true, else it is skipped with the reason.
 */
export async function forEachDriver(title: string, suite: (getRepo: () => Repository, driver: DriverName) => void): Promise<void> {
  const pgDown = await postgresUnavailable();
  for (const driver of ['pglite', 'postgres'] as DriverName[]) {
    const skip = driver === 'postgres' && pgDown && process.env.CI !== 'true' ? `PostgreSQL unreachable at ${TEST_PG_ADMIN_URL}: ${pgDown}` : false;
    describe(`${title} [${driver}]`, { skip }, () => {
      let repo: Repository | undefined;
      let drop: (() => Promise<void>) | undefined;
      before(async () => {
        if (driver === 'postgres') {
          if (pgDown) throw new Error(`PostgreSQL unreachable at ${TEST_PG_ADMIN_URL} (CI=true: failing): ${pgDown}`);
          const db = await createTestDatabase();
          drop = db.drop;
          repo = await openRepository({ url: db.url });
        } else {
          repo = await openRepository({ dataDir: 'memory://' });
        }
      });
      after(async () => {
        await repo?.close();
        await drop?.();
      });
      suite(() => {
        if (!repo) throw new Error('repository not opened');
        return repo;
      }, driver);
    });
  }
}

/** Row count and content checksum of every table: "the database is unchanged" in tests. */
export async function databaseFingerprint(repo: Repository, exclude: string[] = []): Promise<Record<string, string>> {
  // The derived refresh of what was written, done first (D-356): otherwise a drain running in the
  // background between two fingerprints would show as a change made by what they bracket.
  await repo.drainDerived();
  const tables = (
    await repo.db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
    )
  ).rows.map((r) => r.table_name);
  const out: Record<string, string> = {};
  for (const t of tables) {
    if (exclude.includes(t)) continue;
    const r = await repo.db.query<{ n: number; h: string | null }>(
      `SELECT count(*)::int AS n, md5(string_agg(md5(x::text), ',' ORDER BY md5(x::text))) AS h FROM ${t} x`,
    );
    out[t] = `${r.rows[0].n}:${r.rows[0].h ?? ''}`;
  }
  return out;
}

/**
 * Waits until every transaction that began before this call has ended, in the whole cluster:
 * the readers' horizon (`pg_snapshot_xmin`) counts the transactions of every database, so on a
 * PostgreSQL shared with other work (parallel test files, a benchmark) what was just committed
 * shows only once those end. Not waiting made these tests fail whenever the cluster was busy.
 */
export async function horizonPassed(db: Queryable): Promise<void> {
  const x = (await db.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows[0]!.x;
  for (let i = 0; i < 1800; i++) {
    const r = await db.query<{ ok: boolean }>('SELECT pg_snapshot_xmin(pg_current_snapshot()) > $1::text::xid8 AS ok', [x]);
    if (r.rows[0]!.ok) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('the horizon did not pass in 180 s: a transaction of the cluster stayed open');
}
