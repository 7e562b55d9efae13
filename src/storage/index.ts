// Storage entry point: open the database (PostgreSQL or embedded PGlite), migrate, return the Repository.
import { isMemoryDir, openPglite } from './drivers/pglite.js';
import { openMemoryPglite } from './drivers/pglite-template.js';
import { migrate } from './migrate.js';
import { MIGRATIONS } from './migrations/index.js';
import { openPostgres } from './drivers/postgres.js';
import { SqlRepository } from './repository.js';
// The one dependency of storage on the TDDUI layer: the default business keys of plain creates.
import { TDDUI_KEY_POLICY } from '../tddui/business-keys.js';
import type { Database, OpenDatabaseOptions, Repository } from './types.js';

export * from './types.js';
export { SqlRepository, newId } from './repository.js';
export { indexIsCurrent, recordIndexState } from './reindex.js';
export { RETRY_CODES } from './unit-of-work.js';
export { migrate } from './migrate.js';
export { MIGRATIONS } from './migrations/index.js';

/** Default folder of the embedded database, relative to the working directory. */
export const DEFAULT_DATA_DIR = './.tddui-data';

/** Opens the driver only (no migration). */
export async function openDatabase(opts: OpenDatabaseOptions = {}): Promise<Database> {
  if (opts.url) {
    if (!/^postgres(ql)?:\/\//.test(opts.url)) throw new Error(`Unsupported database URL "${opts.url}" (expected postgres://…)`);
    return openPostgres({ url: opts.url });
  }
  const dataDir = opts.dataDir ?? DEFAULT_DATA_DIR;
  // In memory: a copy of a cached blank data folder (no initdb; src/storage/drivers/pglite-template.ts).
  if (isMemoryDir(dataDir)) return openMemoryPglite([], migrate);
  return openPglite({ dataDir });
}

/**
 * Opens the database from `opts.url` (postgres://) or the embedded PGlite at `opts.dataDir`
 * (`memory://` = in-memory; default ./.tddui-data), applies pending migrations, returns the
 * Repository. `repo.db.close()` closes it.
 */
export async function openRepository(opts: OpenDatabaseOptions = {}): Promise<Repository> {
  // In memory: a copy of a cached migrated data folder, so the migrate() below finds nothing to do.
  const db = !opts.url && isMemoryDir(opts.dataDir ?? DEFAULT_DATA_DIR) ? await openMemoryPglite(MIGRATIONS, migrate) : await openDatabase(opts);
  const repo = new SqlRepository(db, opts.keys ?? TDDUI_KEY_POLICY, opts.searchParams, opts.versionUnchanged ?? false);
  try {
    await repo.migrate();
  } catch (err) {
    await db.close();
    throw err;
  }
  return repo;
}
