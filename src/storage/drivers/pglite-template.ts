// In-memory PGlite databases start from a cached, already initialised (and migrated) data
// folder instead of running initdb + migrations each time: ~1.5–3.6 s per open (10–15 s on a
// loaded machine), paid many times by test suites. The first open in a process builds the
// template — that very database is handed to its caller, so it costs nothing extra but the
// dump — and keeps it in memory; it is also written under `node_modules/.cache/tddui/` so
// that the next processes (node --test runs each test file in its own) load it directly.
//
// The key covers the PGlite version and the full text of the migrations, so any change to
// either builds a new template. A cache file that cannot be loaded is discarded and rebuilt.
// `TDDUI_PGLITE_TEMPLATE=off` disables the cache; `TDDUI_PGLITE_CACHE_DIR` moves the folder.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Migration } from '../migrations/index.js';
import type { Database } from '../types.js';
import { openPglite, type PgliteDatabase } from './pglite.js';

/** The package folder of PGlite (its version is part of the key; node_modules is beside it). */
function pglitePackageDir(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
    const marker = `${sep}node_modules${sep}@electric-sql${sep}pglite${sep}`;
    const at = entry.lastIndexOf(marker);
    return at < 0 ? undefined : entry.slice(0, at + marker.length - 1);
  } catch {
    return undefined;
  }
}

const PKG_DIR = pglitePackageDir();

function pgliteVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(PKG_DIR ?? '', 'package.json'), 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    return '?';
  }
}

function cacheDir(): string | undefined {
  if (process.env.TDDUI_PGLITE_CACHE_DIR) return process.env.TDDUI_PGLITE_CACHE_DIR;
  // <project>/node_modules/@electric-sql/pglite -> <project>/node_modules/.cache/tddui
  return PKG_DIR ? join(dirname(dirname(PKG_DIR)), '.cache', 'tddui') : undefined;
}

/** Key of a template: PGlite version + every migration's version and statements. */
export function templateKey(migrations: readonly Migration[]): string {
  const h = createHash('sha256').update(pgliteVersion());
  for (const m of migrations) h.update(`\u0000${m.version}\u0000${m.statements.join('\u0001')}`);
  return h.digest('hex').slice(0, 24);
}

const templates = new Map<string, Promise<Blob>>();

/** Forgets the templates held in memory (tests of the cache files). */
export function forgetTemplates(): void {
  templates.clear();
}

/** The cache file of a template, when there is a cache folder. */
export function templateFile(migrations: readonly Migration[]): string | undefined {
  const dir = cacheDir();
  return dir ? join(dir, `pglite-${templateKey(migrations)}.tar.gz`) : undefined;
}

/**
 * The in-memory form of a template: the plain tar (typed as such, so PGlite untars it without
 * trying gzip first). Decompressed once per process; each open then only untars (~0.15 s less).
 */
function plainTar(gzipped: Uint8Array): Blob {
  return new Blob([gunzipSync(gzipped)], { type: 'application/x-tar' });
}

function readCached(file: string): Blob | undefined {
  try {
    return existsSync(file) ? plainTar(readFileSync(file)) : undefined;
  } catch {
    return undefined; // unreadable or not gzip: rebuilt below
  }
}

function writeCached(file: string, gzipped: Uint8Array): void {
  try {
    // Atomic: concurrent processes may write the same template; readers never see half a file.
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, gzipped);
    renameSync(tmp, file);
  } catch {
    // A read-only install only loses the cross-process cache.
  }
}

/**
 * A new in-memory PGlite with `migrations` applied (an empty list: a blank database, as
 * initdb leaves it), from the template when there is one. `migrate` applies the migrations
 * when the template is built.
 */
export async function openMemoryPglite(
  migrations: readonly Migration[],
  migrate: (db: Database, migrations: Migration[]) => Promise<unknown>,
): Promise<PgliteDatabase> {
  if (process.env.TDDUI_PGLITE_TEMPLATE === 'off') {
    const db = await openPglite({ dataDir: 'memory://' });
    if (migrations.length) await migrate(db, [...migrations]);
    return db;
  }
  const key = templateKey(migrations);
  const file = templateFile(migrations);
  let template = templates.get(key);
  if (!template) {
    const fromDisk = file ? readCached(file) : undefined;
    if (fromDisk) {
      template = Promise.resolve(fromDisk);
      templates.set(key, template);
    } else {
      // Build it: a fresh database, migrated, dumped — and given to this caller.
      let done!: (b: Blob) => void;
      let failed!: (e: unknown) => void;
      template = new Promise<Blob>((res, rej) => ((done = res), (failed = rej)));
      template.catch(() => undefined);
      templates.set(key, template);
      try {
        const db = await openPglite({ dataDir: 'memory://' });
        if (migrations.length) await migrate(db, [...migrations]);
        const gzipped = new Uint8Array(await (await db.dumpDataDir()).arrayBuffer());
        done(plainTar(gzipped));
        if (file) writeCached(file, gzipped);
        return db;
      } catch (err) {
        templates.delete(key);
        failed(err);
        throw err;
      }
    }
  }
  let blob: Blob;
  try {
    blob = await template;
  } catch {
    // The build failed in another caller: build again (its error, if any, is thrown here).
    return openMemoryPglite(migrations, migrate);
  }
  try {
    return await openPglite({ dataDir: 'memory://', loadDataDir: blob });
  } catch (err) {
    // A damaged or foreign cache file: forget it and build the template again.
    if (templates.get(key) !== template) throw err;
    templates.delete(key);
    if (file) rmSync(file, { force: true });
    return openMemoryPglite(migrations, migrate);
  }
}
