// The dependency table of docs/architecture.md, enforced: every relative import of a source
// file (tests excepted: they may use any folder's helpers) must go to its own folder or to a
// folder its row allows. A new dependency is a decision: change the table here and in the doc.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from './testing/paths.js';

/** Folder under src/ -> the folders it may import (besides itself). Mirrors docs/architecture.md. */
export const ALLOWED: Record<string, string[]> = {
  fhir: [],
  tddui: ['fhir'],
  storage: ['fhir', 'tddui'],
  rest: ['fhir', 'storage'],
  ingest: ['fhir', 'tddui', 'storage', 'rest'],
  coordination: ['fhir', 'tddui', 'storage', 'rest'],
  notification: ['fhir', 'storage', 'rest'],
  server: ['fhir', 'tddui', 'storage', 'rest', 'ingest', 'coordination', 'notification', 'ui'],
  ui: ['fhir', 'tddui', 'storage', 'coordination', 'notification', 'server'],
  producer: ['fhir', 'tddui'],
  cli: ['fhir', 'tddui', 'storage', 'rest', 'ingest', 'coordination', 'notification', 'server', 'ui', 'producer'],
  testing: [],
  '.': ['fhir', 'tddui', 'storage', 'rest', 'ingest', 'coordination', 'notification', 'server', 'ui', 'producer', 'cli'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

const SRC = join(REPO_ROOT, 'src');

function folderOf(file: string): string {
  const rel = relative(SRC, file).split(/[\\/]/);
  return rel.length === 1 ? '.' : rel[0]!;
}

/** Relative import specifiers of a TypeScript file (static imports, re-exports, dynamic imports). */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/g)) out.push(m[1]!);
  for (const m of text.matchAll(/import\(\s*'(\.[^']+)'\s*\)/g)) out.push(m[1]!);
  return out;
}

test('imports follow the dependency table of docs/architecture.md', () => {
  const violations: string[] = [];
  for (const file of files(SRC)) {
    // Tests and their helpers (suites, fixtures, seeders under testing/) may use any folder.
    if (file.endsWith('.test.ts') || /(^|[\\/])(testing|test-support|[a-z-]*suite)(\.ts|[\\/])/.test(relative(SRC, file))) continue;
    const from = folderOf(file);
    const allowed = ALLOWED[from];
    assert.ok(allowed, `src/${from}/ is not in the dependency table`);
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(SRC)) continue;
      const to = folderOf(target.replace(/\.js$/, '.ts'));
      // src/testing/ only locates the repository and the shared data: anyone may use it.
      if (to !== from && to !== 'testing' && !allowed.includes(to)) violations.push(`${relative(REPO_ROOT, file)} imports ${to}/ (${spec})`);
    }
  }
  assert.deepEqual(violations, []);
});

test('the import check sees violations (fhir/ importing storage/ would be one)', () => {
  assert.deepEqual(importsOf(`import { x } from '../../storage/types.js';\nexport { y } from './y.js';\nconst z = await import('../server/app.js');`), [
    '../../storage/types.js',
    './y.js',
    '../server/app.js',
  ]);
  assert.ok(!ALLOWED.fhir!.includes('storage') && !ALLOWED.fhir!.includes('server') && !ALLOWED.fhir!.includes('tddui'));
  assert.ok(!ALLOWED.storage!.includes('server') && !ALLOWED.rest!.includes('server') && !ALLOWED.rest!.includes('tddui'));
});

test('docs/architecture.md states the same table', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'architecture.md'), 'utf8');
  for (const [folder, deps] of Object.entries(ALLOWED)) {
    if (folder === '.' || folder === 'testing') continue;
    const row = doc.split('\n').find((l) => l.startsWith(`| \`src/${folder}/\``));
    assert.ok(row, `docs/architecture.md has a row for src/${folder}/`);
    const cell = row.split('|').at(-2)!;
    for (const d of deps) assert.ok(cell.includes(`${d}/`), `src/${folder}/ row names ${d}/`);
  }
});
