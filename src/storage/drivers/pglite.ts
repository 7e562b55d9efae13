// Embedded PostgreSQL (PGlite, WASM). One connection: a mutex serialises every statement and
// transaction so concurrent callers never interleave inside a transaction.
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable } from '../types.js';
import { Mutex } from './mutex.js';

export interface PgliteOptions {
  /** Folder of the database files, or `memory://` for an in-memory database. */
  dataDir: string;
}

function wrap(db: Pick<PGlite, 'query'>): Queryable {
  return {
    async query<R>(sql: string, params?: readonly unknown[]) {
      const res = await db.query<R>(sql, params as unknown[] | undefined);
      return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
    },
  };
}

export async function openPglite(opts: PgliteOptions): Promise<Database> {
  const inMemory = opts.dataDir === 'memory://' || opts.dataDir.startsWith('memory://');
  if (!inMemory) mkdirSync(opts.dataDir, { recursive: true });
  const pg = await PGlite.create(inMemory ? 'memory://' : opts.dataDir);
  const mutex = new Mutex();
  const base = wrap(pg);
  let closed = false;
  return {
    kind: 'pglite',
    query: (sql, params) => mutex.run(() => base.query(sql, params)),
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return mutex.run(() => pg.transaction((tx) => fn(wrap(tx))));
    },
    async close() {
      if (closed) return;
      closed = true;
      await mutex.run(() => pg.close());
    },
  };
}
