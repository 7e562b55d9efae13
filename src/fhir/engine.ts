// Assembles the FHIR machinery: packages -> registry views -> profiles -> terminology -> validator.
//
// One Engine validates in the context of one IG: its registry is the view of the loaded
// packages from that IG (the IG and its dependency closure, each canonical meaning what it
// means there). An EngineSet holds one Engine per IG in use, all over one PackageStore, so a
// server can load several IGs (TDDUI 2.2.0 and 2.3.0, CDS 2.0.1 on FR Core 2.1.0, CdL 3.0.1 on
// FR Core 2.0.1...) and validate each resource in the context of the right one. The compiled
// profiles are shared by the engines of a set (a package used by two IGs is compiled once).
import { loadPackages, type LoadOptions } from './packages/loader.js';
import { ConformanceRegistry, packageId, type PackageInfo, type PackageStore, type VersionSubstitution } from './packages/registry.js';
import { ProfileCache, Profiles } from './profiles/profiles.js';
import type { BaseSupplements, StructureDefinition } from './profiles/snapshot.js';
import { Terminology } from './terminology/terminology.js';
import { Validator } from './validation/validator.js';

export interface Engine {
  /** The IG whose context this engine validates in (root of its view); undefined for a view of every root. */
  ig?: PackageInfo;
  registry: ConformanceRegistry;
  profiles: Profiles;
  terminology: Terminology;
  validator: Validator;
  /** Milliseconds spent loading packages and compiling profiles (of the whole set). */
  startupMs: { load: number; compile: number };
}

export interface EngineSet {
  store: PackageStore;
  /** The view from every IG in use (first IG first): what an unversioned canonical means when no IG is chosen. */
  registry: ConformanceRegistry;
  /** One engine per IG in use, in the order asked for. */
  engines: Engine[];
  /**
   * One engine over the view from every IG in use (the first IG's meaning first): for what is
   * not tied to one IG (what a server serves, its search parameters, a resource of any IG).
   * What a resource's profile refers to is resolved in that profile's own package either way.
   */
  all: Engine;
  startupMs: { load: number; compile: number };
  /** The engine of an IG given as `name#version` or `name` (first of that name). */
  engineFor(ig: string): Engine | undefined;
  /**
   * The engine validating in the context of one loaded package: an IG in use's own engine, else
   * one over the view from that package (built on first use, then kept; profiles compiled as
   * they are used, shared with the other engines).
   */
  engineForPackage(pkg: PackageInfo): Engine;
  /** Load-time facts to tell the user once: dependencies served by another version, missing packages. */
  loadNotes(): string[];
}

export interface EngineOptions extends LoadOptions {
  /**
   * Compile every profile up front (default true); a function chooses per IG (e.g. the TDDUI
   * versions up front, a volet's profiles on first use).
   */
  precompile?: boolean | ((ig: PackageInfo | undefined) => boolean);
  /** Known elements of base profiles that may be missing (see BaseSupplements). */
  supplements?: BaseSupplements;
  /**
   * Canonical bases of IGs whose package is loaded in full (not a partial copy): an extension
   * or profile URL under `<base>/StructureDefinition/` that no loaded package defines does not
   * exist — an error — rather than being "not loaded" (a warning). Ignored for a base that no
   * loaded package has as its canonical.
   */
  completeCanonicals?: string[];
}

function buildEngine(registry: ConformanceRegistry, cache: ProfileCache, options: EngineOptions, ig?: PackageInfo): Engine {
  const profiles = new Profiles(registry, options.supplements, cache);
  const terminology = new Terminology(registry);
  const loaded = new Set(registry.packages.map((p) => p.canonical));
  const completeCanonicals = (options.completeCanonicals ?? []).filter((c) => loaded.has(c));
  const validator = new Validator({ profiles, terminology, completeCanonicals });
  return { ig, registry, profiles, terminology, validator, startupMs: { load: 0, compile: 0 } };
}

/** Loads the IGs in use (`options.igs`, or the packages `paths` name) and builds one engine per IG. */
export async function createEngines(options: EngineOptions): Promise<EngineSet> {
  const t0 = performance.now();
  const registry = await loadPackages(options);
  const t1 = performance.now();
  const store = registry.store;
  const cache = new ProfileCache(registry, options.supplements);
  const roots = registry.roots.length ? registry.roots : [undefined];
  const engines = roots.map((root) => buildEngine(root ? store.scopeOf(root) : registry, cache, options, root));
  const all = engines.length > 1 ? buildEngine(registry, cache, options, undefined) : engines[0]!;
  const precompile = options.precompile ?? true;
  for (const e of engines) if (typeof precompile === 'function' ? precompile(e.ig) : precompile) e.profiles.compileAll();
  const t2 = performance.now();
  const startupMs = { load: t1 - t0, compile: t2 - t1 };
  for (const e of [...engines, all]) e.startupMs = startupMs;
  const byPackage = new Map<PackageInfo, Engine>();
  return {
    store,
    registry,
    engines,
    all,
    startupMs,
    engineFor(ig: string) {
      const [name, version] = ig.split('#');
      return engines.find((e) => e.ig?.name === name && (version === undefined || e.ig.version === version));
    },
    engineForPackage(pkg: PackageInfo) {
      const own = engines.find((e) => e.ig === pkg);
      if (own) return own;
      let e = byPackage.get(pkg);
      if (!e) {
        e = buildEngine(store.scopeOf(pkg), cache, options, pkg);
        e.startupMs = startupMs;
        byPackage.set(pkg, e);
      }
      return e;
    },
    loadNotes: () => describeLoad(registry),
  };
}

/**
 * One engine over every IG given (canonicals resolved from the first IG first): for a single
 * IG, or a tool that does not need to tell IGs apart.
 */
export async function createEngine(options: EngineOptions): Promise<Engine> {
  const t0 = performance.now();
  const registry = await loadPackages(options);
  const t1 = performance.now();
  const engine = buildEngine(registry, new ProfileCache(registry, options.supplements), options, registry.roots[0]);
  if (options.precompile !== false) engine.profiles.compileAll();
  engine.startupMs = { load: t1 - t0, compile: performance.now() - t1 };
  return engine;
}

/** Human-readable load notes (English): substitutions and missing dependencies of a view. */
/** Resolves a profile given as canonical URL (optionally `|version`), `StructureDefinition/<id>`, id or name. */
export function resolveProfile(engine: Engine, p: string): string | undefined {
  if (engine.profiles.get(p)) return p;
  const id = p.replace(/^StructureDefinition\//, '');
  for (const sd of engine.registry.all<StructureDefinition>('StructureDefinition')) {
    if (sd.id === id || sd.name === id) return sd.url;
  }
  return undefined;
}

export function describeLoad(registry: ConformanceRegistry): string[] {
  const out: string[] = [];
  for (const s of registry.substitutions.filter((x: VersionSubstitution) => x.kind === 'package')) {
    out.push(`${s.subject}#${s.requested} (required by ${s.requiredBy}) is not in the package cache: ${s.subject}#${s.used} is used instead`);
  }
  for (const m of registry.missingPackages()) out.push(`${m.name}#${m.version} (required by ${m.requiredBy}) is not in the package cache: what it defines is not checked`);
  return out;
}

export { packageId };
