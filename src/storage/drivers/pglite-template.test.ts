// The cached data folder of in-memory PGlite databases: transparent to callers (independent
// databases, migrations applied or not as asked), rebuilt when its file is damaged.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openDatabase, openRepository } from '../index.js';
import { migrate } from '../migrate.js';
import { MIGRATIONS, type Migration } from '../migrations/index.js';
import { forgetTemplates, openMemoryPglite, templateFile, templateKey } from './pglite-template.js';

test('in-memory repositories from the template are migrated and independent of each other', async () => {
  const a = await openRepository({ dataDir: 'memory://' });
  const b = await openRepository({ dataDir: 'memory://' });
  try {
    for (const r of [a, b]) {
      const v = await r.db.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(v.rows.map((x) => x.version), MIGRATIONS.map((m) => m.version));
    }
    const p = await a.create({ resourceType: 'Patient', name: [{ family: 'Seul' }] });
    assert.equal((await a.read('Patient', p.id)).id, p.id);
    await assert.rejects(b.read('Patient', p.id), /not known/);
    const n = await b.db.query<{ n: number }>('SELECT count(*)::int AS n FROM resource');
    assert.equal(Number(n.rows[0].n), 0, 'the template holds no data');
  } finally {
    await a.close();
    await b.close();
  }
  // openDatabase (no migrations) stays blank.
  const blank = await openDatabase({ dataDir: 'memory://' });
  try {
    const t = await blank.query<{ n: number }>(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`);
    assert.equal(Number(t.rows[0].n), 0);
  } finally {
    await blank.close();
  }
});

test('the template key follows the migrations; a damaged cache file is rebuilt, a good one is loaded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tddui-template-'));
  const saved = process.env.TDDUI_PGLITE_CACHE_DIR;
  const switchedOff = process.env.TDDUI_PGLITE_TEMPLATE;
  process.env.TDDUI_PGLITE_CACHE_DIR = dir;
  delete process.env.TDDUI_PGLITE_TEMPLATE; // this test is about the cache itself
  try {
    const extra: Migration = { version: '9999-test', statements: [`CREATE TABLE template_probe (n integer)`, `INSERT INTO template_probe VALUES (42)`] };
    const list = [...MIGRATIONS, extra];
    assert.notEqual(templateKey(list), templateKey(MIGRATIONS));
    assert.notEqual(templateKey(list), templateKey([...MIGRATIONS, { ...extra, statements: [extra.statements[0]] }]), 'statements count, not only versions');
    const file = templateFile(list)!;
    writeFileSync(file, 'not a tarball');
    const probe = async () => {
      const db = await openMemoryPglite(list, migrate);
      try {
        return Number((await db.query<{ n: number }>('SELECT n FROM template_probe')).rows[0].n);
      } finally {
        await db.close();
      }
    };
    assert.equal(await probe(), 42, 'built despite the damaged file');
    const written = readFileSync(file);
    assert.deepEqual([...written.subarray(0, 2)], [0x1f, 0x8b], 'rewritten as gzip');
    // A new process (simulated: nothing in memory) loads the file: no migration runs.
    forgetTemplates();
    let migrated = false;
    const db = await openMemoryPglite(list, async (d, m) => ((migrated = true), migrate(d, m)));
    try {
      assert.equal(migrated, false);
      assert.equal(Number((await db.query<{ n: number }>('SELECT n FROM template_probe')).rows[0].n), 42);
    } finally {
      await db.close();
    }
    assert.ok(existsSync(file));
  } finally {
    if (saved === undefined) delete process.env.TDDUI_PGLITE_CACHE_DIR;
    else process.env.TDDUI_PGLITE_CACHE_DIR = saved;
    if (switchedOff !== undefined) process.env.TDDUI_PGLITE_TEMPLATE = switchedOff;
    rmSync(dir, { recursive: true, force: true });
  }
});
