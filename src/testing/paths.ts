// Test-time locations: the repository root and the shared FHIR packages beside it (../shared/fhir).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tddui') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root (package.json "tddui") not found');
    dir = up;
  }
}

export const REPO_ROOT = findRoot();
export const SHARED_FHIR = process.env.TDDUI_SHARED_FHIR ?? join(REPO_ROOT, '..', 'shared', 'fhir');
export const TDDUI_PACKAGE_DIR = join(SHARED_FHIR, 'ans.fhir.fr.tddui', 'package');
export const EXAMPLES_DIR = join(TDDUI_PACKAGE_DIR, 'example');
