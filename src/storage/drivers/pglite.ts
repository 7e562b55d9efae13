// Embedded PostgreSQL (PGlite, WASM). One connection: a mutex serialises every statement and
// transaction so concurrent callers never interleave inside a transaction.
import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { TextArray, Utf8Text, type Database, type Queryable } from '../types.js';
import { Mutex } from './mutex.js';
import { lockFolder, type FolderLock } from './folder-lock.js';
import { eventLoopTurns, type EventLoopTurns } from './event-loop-turns.js';

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

function wrap(db: Pick<PGlite, 'query'>, turns: EventLoopTurns): Queryable {
  return {
    async query<R>(sql: string, params?: readonly unknown[]) {
      // A Utf8Text (D-328) as its string: PGlite runs in this process, decoding here costs the same;
      // a TextArray (D-332) as its plain array, which PGlite serialises as before.
      const values = params?.some((v) => v instanceof Utf8Text || v instanceof TextArray)
        ? params.map((v) => (v instanceof Utf8Text ? v.bytes.toString('utf8') : v instanceof TextArray ? v.values.map((x) => x ?? null) : v))
        : params;
      // The statement runs in this process: the event loop gets a turn now and then (D-330).
      const res = await turns.run(() => db.query<R>(sql, values as unknown[] | undefined));
      return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
    },
  };
}

/**
 * The folder and what it holds private to the user (0700 / 0600): the write-ahead log holds INS
 * numbers in clear. PGlite's file system layer (Emscripten NODEFS) chmods each file it creates
 * to 0666 whatever the umask, so the umask cannot help: the data folder itself is 0700 (nothing
 * inside is reachable by another user, whatever its mode), and the files are narrowed to 0600
 * when the folder is opened and closed.
 */
function makePrivate(dir: string): void {
  if (process.platform === 'win32') return;
  const walk = (d: string) => {
    chmodSync(d, 0o700);
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) chmodSync(p, 0o600);
    }
  };
  walk(dir);
}

export async function openPglite(opts: PgliteOptions): Promise<PgliteDatabase> {
  const inMemory = isMemoryDir(opts.dataDir);
  let lock: FolderLock | undefined;
  if (!inMemory) {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    // One process per folder (folder-lock.ts): refused before PGlite touches any file.
    lock = lockFolder(opts.dataDir);
  }
  let pg: PGlite;
  try {
    pg = await PGlite.create(inMemory ? 'memory://' : opts.dataDir, opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {});
  } catch (e) {
    lock?.release();
    throw e;
  }
  if (!inMemory) makePrivate(opts.dataDir);
  const mutex = new Mutex();
  const turns = eventLoopTurns();
  const base = wrap(pg, turns);
  let closed = false;
  return {
    kind: 'pglite',
    query: (sql, params) => mutex.run(() => base.query(sql, params)),
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return mutex.run(() => pg.transaction((tx) => fn(wrap(tx, turns))));
    },
    dumpDataDir: () => mutex.run(() => pg.dumpDataDir('gzip')),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await mutex.run(() => pg.close());
        if (!inMemory) makePrivate(opts.dataDir);
      } finally {
        lock?.release();
      }
    },
  };
}
