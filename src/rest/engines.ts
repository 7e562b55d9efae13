// Which engine validates a written resource: the one of the IG it claims. The volets pin
// different dependency versions (CdL 3.0.1 on FR Core 2.0.1 and Annuaire 1.0.1, CDS 2.0.1 and
// TDDUI 2.3.0 on FR Core 2.1.0): one engine over every IG would give an unversioned
// `fr-core-patient` one meaning for all of them. Each `meta.profile` canonical is traced to the
// package that defines it (its `|version` pin chooses among versions); the engine is that IG's
// when the package is an IG in use, else the engine of an IG in use whose dependencies include
// that very package (the one the caller prefers first: the IG of the enclosing Bundle, the IG
// serving the type), else an engine over the view from the package itself, built on first use.
// A declared profile that no loaded package defines cannot be checked: the write is refused with
// an OperationOutcome naming it and the IGs the server loaded.
import type { Engine, EngineSet } from '../fhir/engine.js';
import { isObject, type FhirResource } from '../fhir/json.js';
import { FhirError, HTTP_ERRORS } from '../fhir/outcome/http-errors.js';
import { packageId, type PackageInfo } from '../fhir/packages/registry.js';
import { pickVersion, versionMatches } from '../fhir/packages/versions.js';

export interface Claim {
  /** The engine that validates the resource. */
  engine: Engine;
  /** The IG in use (package name) whose context it is, when the engine is an IG's. */
  ig?: string;
  /** `name#version` of the package whose view validates. */
  context: string;
  /** The declared profiles, each as the engine resolves it (`url|version` kept). */
  profiles: string[];
}

export class EngineDispatch {
  constructor(
    /** The engine used when a resource claims nothing (one over every IG in use). */
    readonly fallback: Engine,
    readonly set?: EngineSet,
  ) {}

  /** The engines of the IGs in use. */
  private get roots(): Engine[] {
    return this.set?.engines ?? [this.fallback];
  }

  /** Packages that define the StructureDefinition `canonical` (`url` or `url|version`), newest first. */
  packagesDefining(canonical: string): PackageInfo[] {
    const store = this.fallback.registry.store;
    const bar = canonical.indexOf('|');
    const url = bar < 0 ? canonical : canonical.slice(0, bar);
    const sds = (store.byUrl.get(url) ?? []).filter((r) => r.resourceType === 'StructureDefinition');
    let chosen = sds;
    if (bar >= 0) {
      const version = canonical.slice(bar + 1);
      chosen = sds.filter((r) => r.version === version || versionMatches(r.version, version));
      if (chosen.length === 0) {
        // Not that version: the nearest loaded one, as canonical resolution does (it warns).
        const pick = pickVersion(version, sds.map((r) => r.version).filter((v): v is string => !!v));
        chosen = sds.filter((r) => r.version === pick?.version);
      }
    }
    const out: PackageInfo[] = [];
    for (const r of chosen) {
      const p = store.packageOf(r);
      if (p && !out.includes(p)) out.push(p);
    }
    return out;
  }

  /** The engine for a package: its IG's, else a preferred IG's whose view holds it, else its own view. */
  engineForPackage(pkg: PackageInfo, prefer: readonly string[] = []): Engine {
    const roots = this.roots;
    const own = roots.find((e) => e.ig === pkg);
    if (own) return own;
    const holding = roots.filter((e) => e.registry.packages.includes(pkg));
    for (const name of prefer) {
      const e = holding.find((x) => x.ig?.name === name);
      if (e) return e;
    }
    if (holding[0]) return holding[0];
    return this.set ? this.set.engineForPackage(pkg) : this.fallback;
  }

  /**
   * The engine of the IG a resource claims by its `meta.profile` (and `extra` profiles, such as
   * the one the serving IG requires); `prefer`: IG names to choose first when a profile belongs
   * to a dependency several IGs share. Throws a 422 for a declared profile no package defines.
   */
  claim(resource: FhirResource, prefer: readonly string[] = [], extra: readonly string[] = []): Claim {
    const declared = declaredProfiles(resource);
    const unknown = declared.filter((d) => this.packagesDefining(d.url).length === 0);
    if (unknown.length) {
      const loaded = (this.set?.engines ?? [this.fallback]).map((e) => (e.ig ? packageId(e.ig) : 'R4')).join(', ');
      throw new FhirError(
        HTTP_ERRORS.PROFILE_NOT_LOADED,
        { profile: unknown.map((u) => u.url).join(', '), type: String(resource.resourceType), loaded },
        { expression: `${resource.resourceType}.meta.profile[${unknown[0]!.index}]` },
      );
    }
    // The first declared profile that belongs to an IG in use decides; else the first declared.
    const candidates = [...declared.map((d) => d.url), ...extra];
    let pkg: PackageInfo | undefined;
    for (const url of candidates) {
      const defining = this.packagesDefining(url);
      const root = defining.find((p) => this.roots.some((e) => e.ig === p));
      if (root) {
        pkg = root;
        break;
      }
      if (!pkg && defining.length) {
        // A dependency's profile (FR Core, Annuaire): the version a preferred IG depends on.
        pkg = preferredVersion(defining, this.roots, prefer);
      }
    }
    const engine = pkg ? this.engineForPackage(pkg, prefer) : (prefer.map((n) => this.roots.find((e) => e.ig?.name === n)).find(Boolean) ?? this.fallback);
    const profiles = [...new Set([...declared.map((d) => d.url), ...extra.filter((p) => engine.profiles.get(p))])];
    return { engine, ...(engine.ig ? { ig: engine.ig.name } : {}), context: engine.ig ? packageId(engine.ig) : 'R4', profiles };
  }
}

/** Among versions of one dependency, the one a preferred IG in use depends on (else the newest). */
function preferredVersion(defining: PackageInfo[], roots: Engine[], prefer: readonly string[]): PackageInfo {
  for (const name of prefer) {
    const root = roots.find((e) => e.ig?.name === name);
    const hit = root && defining.find((p) => root.registry.packages.includes(p));
    if (hit) return hit;
  }
  return defining.find((p) => roots.some((e) => e.registry.packages.includes(p))) ?? defining[0]!;
}

/** `meta.profile` strings with their index. */
export function declaredProfiles(resource: unknown): { url: string; index: number }[] {
  if (!isObject(resource) || !isObject(resource.meta) || !Array.isArray(resource.meta.profile)) return [];
  const out: { url: string; index: number }[] = [];
  resource.meta.profile.forEach((p, index) => {
    if (typeof p === 'string' && p) out.push({ url: p, index });
  });
  return out;
}
