#!/usr/bin/env node
// The `prepare` script: compiles with tsc unless dist/ is already up to date.
//
// Why: the first `npx tddui serve` in a checkout installs the checkout into npm's npx cache,
// which runs `prepare` again, silently; a full tsc took 40–80 s on the shared 2-core machine,
// during which nothing was printed and no tddui process existed yet. When every source file
// has its compiled file, newer than it and than tsconfig.json, there is nothing to compile.
//
// Plain JavaScript (ESM) because it runs before anything is compiled.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIRS = ['src', 'bench', 'scripts'];

function* sources(dir) {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield p;
  }
}

/** The first reason to compile, or undefined when dist/ is up to date. */
function staleReason() {
  const config = statSync(join(root, 'tsconfig.json')).mtimeMs;
  let n = 0;
  for (const d of DIRS) {
    for (const src of sources(join(root, d))) {
      const out = join(root, 'dist', relative(root, src)).replace(/\.ts$/, '.js');
      if (!existsSync(out)) return `${relative(root, out)} is missing`;
      const built = statSync(out).mtimeMs;
      if (built < statSync(src).mtimeMs) return `${relative(root, src)} changed`;
      if (built < config) return 'tsconfig.json changed';
      n++;
    }
  }
  return n === 0 ? 'no compiled file' : undefined;
}

const why = process.env.TDDUI_FORCE_BUILD ? 'TDDUI_FORCE_BUILD is set' : staleReason();
if (!why) {
  process.stdout.write('tddui: dist/ is up to date, nothing to compile\n');
  process.exit(0);
}
process.stdout.write(`tddui: compiling (${why})…\n`);
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
// tsc is incremental (dist/.tsbuildinfo): it re-emits only what changed since its last build,
// so it would not re-create a compiled file deleted by hand. Forget that state when one is missing.
if (why.endsWith(' is missing')) rmSync(join(root, 'dist', '.tsbuildinfo'), { force: true });
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
process.exit(r.status ?? 1);
