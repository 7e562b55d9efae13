// The package cache: a second load reads the cache file and gives the same resources (parsed on
// first use, same object throughout); a changed file gives another key, so a stale cache is never
// read; a truncated cache file is rewritten.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { packageDir } from '../../testing/paths.js';
import { loadPackages } from './loader.js';
import { readCache, writeCache } from './resource-cache.js';

const tmp = mkdtempSync(join(tmpdir(), 'tddui-resource-cache-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('cache file: the header is parsed, the body on first read; the same object throughout', () => {
  const file = join(tmp, 'x.bin');
  const sd = { resourceType: 'StructureDefinition', url: 'http://x/sd', version: '1', type: 'Patient', snapshot: { element: [{ id: 'Patient', path: 'Patient' }] }, description: 'é ü 中' };
  writeCache(file, [sd, { resourceType: 'ValueSet', url: 'http://x/vs' }]);
  const [r, vs] = readCache(file);
  assert.equal(r!.url, 'http://x/sd');
  const snapshot = r!.snapshot as { element: unknown[] };
  assert.deepEqual(snapshot.element, sd.snapshot.element);
  assert.equal(r!.snapshot, snapshot, 'parsed once, then a plain value');
  assert.equal(r!.description, 'é ü 中');
  assert.deepEqual(JSON.parse(JSON.stringify(r)), sd);
  assert.deepEqual(structuredClone(r), sd);
  r!.description = 'changed';
  assert.equal(r!.description, 'changed');
  assert.deepEqual({ ...vs }, { resourceType: 'ValueSet', url: 'http://x/vs' });
  truncateSync(file, 100);
  assert.throws(() => readCache(file), /truncated|JSON/);
});

test('a package folder: the second load reads its cache file with the same content; an edited file is read afresh', async () => {
  const cache = join(tmp, 'cache');
  const pkg = join(tmp, 'annuaire');
  cpSync(join(packageDir('ans.fhir.fr.annuaire', '1.1.0'), '..'), pkg, { recursive: true });
  const before = process.env.TDDUI_CACHE_DIR;
  process.env.TDDUI_CACHE_DIR = cache;
  try {
    const load = () => loadPackages({ paths: [pkg], useCache: false, core: false });
    const dump = (reg: Awaited<ReturnType<typeof load>>) => JSON.stringify(reg.store.packages.map((p) => [p.name, p.resourceCount, ...[...reg.store.resourcesOf(p)].flat().map((r) => JSON.stringify(r))]));
    const first = await load();
    const files = readdirSync(join(cache, 'packages'));
    assert.equal(files.length, 1);
    const second = await load();
    assert.equal(dump(second), dump(first));
    // Edit one StructureDefinition: another key, the new content is what is loaded.
    const sdFile = readdirSync(join(pkg, 'package')).find((f) => f.startsWith('StructureDefinition-'))!;
    const sd = JSON.parse(readFileSync(join(pkg, 'package', sdFile), 'utf8'));
    sd.description = 'édité pour le test';
    writeFileSync(join(pkg, 'package', sdFile), JSON.stringify(sd));
    const third = await load();
    assert.equal(readdirSync(join(cache, 'packages')).length, 2);
    const edited = third.resolve<{ resourceType: string; description?: string }>(sd.url, 'StructureDefinition');
    assert.equal(edited?.description, 'édité pour le test');
    // A truncated cache file is rewritten, and the load still gives the package.
    for (const f of readdirSync(join(cache, 'packages'))) truncateSync(join(cache, 'packages', f), 10);
    assert.equal(dump(await load()), dump(third));
  } finally {
    if (before === undefined) delete process.env.TDDUI_CACHE_DIR;
    else process.env.TDDUI_CACHE_DIR = before;
  }
});
