// Storage entry point: open the database (PostgreSQL or embedded PGlite), migrate, return the Repository.
import { isMemoryDir, openPglite } from './drivers/pglite.js';
import { openMemoryPglite } from './drivers/pglite-template.js';
import { migrate } from './migrate.js';
import { MIGRATIONS } from './migrations/index.js';
import { openPostgres } from './drivers/postgres.js';
import { SqlRepository } from './repository.js';
import { ReadReplicas } from './read-replicas.js';
import { ensureHistoryPartitions } from './history-partitions.js';
// The one dependency of storage on the TDDUI layer: the default business keys of plain creates.
import { TDDUI_KEY_POLICY } from '../tddui/business-keys.js';
import type { Database, OpenDatabaseOptions, Repository } from './types.js';

export * from './types.js';
export { SqlRepository, newId } from './repository.js';
export { drainDerived, hasPendingDerived } from './derived.js';
export { indexIsCurrent, recordIndexState } from './reindex.js';
export { RETRY_CODES } from './unit-of-work.js';
export { migrate } from './migrate.js';
export { ensureHistoryPartitions, detachHistoryBefore, historyPartitions, HISTORY_MONTHS_AHEAD, type HistoryPartition } from './history-partitions.js';
export { ReadReplicas, runInReadContext, type ReadContext, type ReadReplicaOptions, type ReplicaStatus } from './read-replicas.js';
export { MIGRATIONS } from './migrations/index.js';

/** Default folder of the embedded database, relative to the working directory. */
export const DEFAULT_DATA_DIR = './.tddui-data';

/** Opens the driver only (no migration). */
export async function openDatabase(opts: OpenDatabaseOptions = {}): Promise<Database> {
  if (opts.url) {
    if (!/^postgres(ql)?:\/\//.test(opts.url)) throw new Error(`Unsupported database URL "${opts.url}" (expected postgres://…)`);
    return openPostgres({ url: opts.url, ...(opts.namedStatements === false ? { namedStatements: false } : {}) });
  }
  const dataDir = opts.dataDir ?? DEFAULT_DATA_DIR;
  // In memory: a copy of a cached blank data folder (no initdb; src/storage/drivers/pglite-template.ts).
  if (isMemoryDir(dataDir)) return openMemoryPglite([], migrate);
  return openPglite({ dataDir });
}

/**
 * Opens the database from `opts.url` (postgres://) or the embedded PGlite at `opts.dataDir`
 * (`memory://` = in-memory; default ./.tddui-data), applies pending migrations, returns the
 * Repository. `repo.close()` closes it (its background work first, then the database).
 */
export async function openRepository(opts: OpenDatabaseOptions = {}): Promise<Repository> {
  if (opts.readUrls?.length && !opts.url) throw new Error('read replicas need a PostgreSQL primary (--database postgres://…): the embedded database has no replicas');
  // In memory: a copy of a cached migrated data folder, so the migrate() below finds nothing to do.
  const db = !opts.url && isMemoryDir(opts.dataDir ?? DEFAULT_DATA_DIR) ? await openMemoryPglite(MIGRATIONS, migrate) : await openDatabase(opts);
  let replicas: ReadReplicas | undefined;
  // Closing the repository's database closes the replicas' pools too.
  const primary: Database = opts.readUrls?.length
    ? { kind: db.kind, query: (sql, params, options) => db.query(sql, params, options), transaction: (fn) => db.transaction(fn), close: async () => (await replicas?.close(), db.close()) }
    : db;
  const repo = new SqlRepository(primary, opts.keys ?? TDDUI_KEY_POLICY, opts.searchParams, opts.versionUnchanged ?? false);
  try {
    await repo.migrate();
    // This month's history partition and the next ones (the server also checks daily).
    await ensureHistoryPartitions(db);
    // Keys a previous run left pending (stopped between a write and its drain, D-356): refreshed soon.
    repo.derived.noteWrite();
    if (opts.readUrls?.length) {
      replicas = new ReadReplicas(db, opts.readUrls, opts.replicaOptions);
      await replicas.start();
      repo.useReplicas(replicas);
    }
  } catch (err) {
    await primary.close();
    throw err;
  }
  return repo;
}
