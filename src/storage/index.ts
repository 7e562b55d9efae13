// Storage entry point: open the database (PostgreSQL or embedded PGlite), migrate, return the Repository.
import { openPglite } from './drivers/pglite.js';
import { openPostgres } from './drivers/postgres.js';
import { SqlRepository } from './repository.js';
// The one dependency of storage on the TDDUI layer: the default business keys of plain creates.
import { TDDUI_KEY_POLICY } from '../tddui/business-keys.js';
import type { Database, OpenDatabaseOptions, Repository } from './types.js';

export * from './types.js';
export { SqlRepository, newId } from './repository.js';
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
  return openPglite({ dataDir: opts.dataDir ?? DEFAULT_DATA_DIR });
}

/**
 * Opens the database from `opts.url` (postgres://) or the embedded PGlite at `opts.dataDir`
 * (`memory://` = in-memory; default ./.tddui-data), applies pending migrations, returns the
 * Repository. `repo.db.close()` closes it.
 */
export async function openRepository(opts: OpenDatabaseOptions = {}): Promise<Repository> {
  const db = await openDatabase(opts);
  const repo = new SqlRepository(db, opts.keys ?? TDDUI_KEY_POLICY);
  try {
    await repo.migrate();
  } catch (err) {
    await db.close();
    throw err;
  }
  return repo;
}
