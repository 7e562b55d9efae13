// Test-time locations: the repository root and the FHIR package cache beside it
// (../shared/fhir-packages, laid out as ~/.fhir/packages: `<id>#<version>/package/`).
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
/** The FHIR package cache the tests load from. */
export const SHARED_FHIR = process.env.TDDUI_SHARED_FHIR ?? join(REPO_ROOT, '..', 'shared', 'fhir-packages');
/** The folder of one package version in the cache (`<id>#<version>/package`). */
export const packageDir = (id: string, version: string): string => join(SHARED_FHIR, `${id}#${version}`, 'package');
export const TDDUI_VERSIONS = ['2.2.0', '2.3.0'] as const;
export const tdduiPackageDir = (version: string): string => packageDir('ans.fhir.fr.tddui', version);
export const tdduiExamplesDir = (version: string): string => join(tdduiPackageDir(version), 'example');
/** TDDUI 2.2.0, the version most tests and mutations were written on. */
export const TDDUI_PACKAGE_DIR = tdduiPackageDir('2.2.0');
export const EXAMPLES_DIR = join(TDDUI_PACKAGE_DIR, 'example');
