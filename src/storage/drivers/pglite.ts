// Embedded PostgreSQL (PGlite, WASM). One connection: a mutex serialises every statement and
// transaction so concurrent callers never interleave inside a transaction.
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable } from '../types.js';
import { Mutex } from './mutex.js';

export interface PgliteOptions {
  /** Folder of the database files, or `memory://` for an in-memory database. */
  dataDir: string;
  /** A data folder tarball (`dumpDataDir`) to start from instead of running initdb. */
  loadDataDir?: Blob;
}

/** The PGlite Database, with what the template cache needs. */
export interface PgliteDatabase extends Database {
  readonly kind: 'pglite';
  /** A tarball of the data folder (gzip), loadable by `openPglite({ loadDataDir })`. */
  dumpDataDir(): Promise<Blob>;
}

export function isMemoryDir(dataDir: string): boolean {
  return dataDir.startsWith('memory://');
}

function wrap(db: Pick<PGlite, 'query'>): Queryable {
  return {
    async query<R>(sql: string, params?: readonly unknown[]) {
      const res = await db.query<R>(sql, params as unknown[] | undefined);
      return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
    },
  };
}

export async function openPglite(opts: PgliteOptions): Promise<PgliteDatabase> {
  const inMemory = isMemoryDir(opts.dataDir);
  if (!inMemory) mkdirSync(opts.dataDir, { recursive: true });
  const pg = await PGlite.create(inMemory ? 'memory://' : opts.dataDir, opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {});
  const mutex = new Mutex();
  const base = wrap(pg);
  let closed = false;
  return {
    kind: 'pglite',
    query: (sql, params) => mutex.run(() => base.query(sql, params)),
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return mutex.run(() => pg.transaction((tx) => fn(wrap(tx))));
    },
    dumpDataDir: () => mutex.run(() => pg.dumpDataDir('gzip')),
    async close() {
      if (closed) return;
      closed = true;
      await mutex.run(() => pg.close());
    },
  };
}
