// Applies pending migrations in one transaction under a transaction-scoped advisory lock, so
// several servers starting together on one PostgreSQL apply each migration exactly once
// (the others wait on the lock, then find nothing left to do).
import type { Database } from './types.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';

/** Arbitrary constant key of the migration lock ("tddui" in ASCII). */
const MIGRATION_LOCK = 0x7464647569;

export async function migrate(db: Database, migrations: Migration[] = MIGRATIONS): Promise<string[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK]);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set((await tx.query<{ version: string }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      for (const sql of m.statements) await tx.query(sql);
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version]);
      applied.push(m.version);
    }
    return applied;
  });
}
