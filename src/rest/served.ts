// What the server serves, derived from the loaded IGs: the resource types, interactions,
// profiles and search parameters of their server CapabilityStatements (rest.mode `server`: the
// volets' Gestionnaire statements, kind `requirements`), plus what IG modules declare themselves
// (TDDUI's Consommateur is a `client` statement: its module says what it serves).
//
// Only the packages the server was started with count, not their dependencies (FR Core,
// Annuaire, IHE MHD ship server statements of their own that nobody asked this server to play).
import type { CanonicalResource, ConformanceRegistry, PackageInfo } from '../fhir/packages/registry.js';
import type { SearchParameterSet } from '../fhir/search/parameters.js';

export type Interaction = 'read' | 'vread' | 'search-type' | 'history-instance' | 'history-type' | 'create' | 'update' | 'patch' | 'delete';

export const READ_INTERACTIONS: readonly Interaction[] = ['read', 'vread', 'search-type', 'history-instance', 'history-type'];

export interface ServedType {
  type: string;
  /** The IGs (package names) that serve it, in load order. */
  igs: string[];
  interactions: Set<Interaction>;
  /** The interactions each IG offers on it. */
  byIg: Map<string, Set<Interaction>>;
  /** Profiles a written resource is validated against, per IG (the statement's profile, else its first supportedProfile). */
  profiles: { ig: string; profile: string }[];
  supportedProfiles: string[];
  /** Update of an unknown id creates it. */
  updateCreate: boolean;
  /** Search parameters named by the statements: name -> definition URL. */
  searchParams: Map<string, string | undefined>;
  searchInclude: Set<string>;
  searchRevInclude: Set<string>;
  /** Statements (canonical|version) that list it. */
  statements: string[];
  documentation: string[];
}

export interface ServedStatement {
  url: string;
  version?: string;
  ig: string;
  /** Whole-system interactions (transaction, batch). */
  system: Set<string>;
}

export interface Served {
  types: Map<string, ServedType>;
  statements: ServedStatement[];
  /** Why some statement search parameters are not offered (not loaded, not indexable…). */
  notOffered: { type: string; name: string; definition?: string; reason: string }[];
}

interface CsResource {
  type: string;
  profile?: string;
  supportedProfile?: string[];
  documentation?: string;
  interaction?: { code: string }[];
  updateCreate?: boolean;
  searchParam?: { name: string; definition?: string; type?: string }[];
  searchInclude?: string[];
  searchRevInclude?: string[];
}

interface CapabilityStatement extends CanonicalResource {
  kind?: string;
  rest?: { mode?: string; resource?: CsResource[]; interaction?: { code: string }[] }[];
}

const WRITE_CODES = new Set<Interaction>(['create', 'update', 'patch', 'delete']);

/** Packages the server was started with: loaded, and not a dependency of another loaded package. */
export function primaryPackages(registry: ConformanceRegistry): PackageInfo[] {
  const deps = new Set(registry.packages.flatMap((p) => Object.keys(p.dependencies)));
  return registry.packages.filter((p) => !deps.has(p.name) && p.name !== 'hl7.fhir.r4.core' && !p.location.startsWith('npm:'));
}

function packageOf(url: string, packages: PackageInfo[]): PackageInfo | undefined {
  return packages.find((p) => p.canonical && url.startsWith(p.canonical + '/'));
}

export function emptyServedType(type: string): ServedType {
  return {
    type,
    igs: [],
    interactions: new Set(),
    byIg: new Map(),
    profiles: [],
    supportedProfiles: [],
    updateCreate: false,
    searchParams: new Map(),
    searchInclude: new Set(),
    searchRevInclude: new Set(),
    statements: [],
    documentation: [],
  };
}

/**
 * The served types of the server CapabilityStatements of the primary packages; `params` gets
 * the statements' search parameter names as aliases of their definitions.
 */
export function servedFromCapabilities(registry: ConformanceRegistry, params: SearchParameterSet): Served {
  const primary = primaryPackages(registry);
  const out: Served = { types: new Map(), statements: [], notOffered: [] };
  for (const cs of registry.all<CapabilityStatement>('CapabilityStatement')) {
    const pkg = cs.url ? packageOf(cs.url, primary) : undefined;
    if (!pkg) continue;
    const server = (cs.rest ?? []).filter((r) => r.mode === 'server');
    if (server.length === 0) continue;
    const statement: ServedStatement = { url: cs.url!, ig: pkg.name, system: new Set() };
    if (cs.version) statement.version = cs.version;
    for (const rest of server) {
      for (const i of rest.interaction ?? []) statement.system.add(i.code);
      for (const r of rest.resource ?? []) {
        if (!r.type || r.type === 'Bundle') continue; // a Bundle listed for its profile: the transaction itself
        let t = out.types.get(r.type);
        if (!t) out.types.set(r.type, (t = emptyServedType(r.type)));
        if (!t.igs.includes(pkg.name)) t.igs.push(pkg.name);
        const own: Set<Interaction> = t.byIg.get(pkg.name) ?? new Set<Interaction>();
        t.byIg.set(pkg.name, own);
        for (const code of READ_INTERACTIONS) (t.interactions.add(code), own.add(code));
        const codes = new Set((r.interaction ?? []).map((i) => i.code as Interaction));
        for (const c of codes) if (WRITE_CODES.has(c)) (t.interactions.add(c), own.add(c));
        // Update-as-create where the statement says so, or, when it says nothing, where it offers create too.
        if (r.updateCreate === true || (r.updateCreate === undefined && codes.has('create') && codes.has('update'))) t.updateCreate = true;
        const profile = r.profile ?? r.supportedProfile?.[0];
        if (profile && !t.profiles.some((p) => p.ig === pkg.name)) t.profiles.push({ ig: pkg.name, profile });
        for (const p of r.supportedProfile ?? []) if (!t.supportedProfiles.includes(p)) t.supportedProfiles.push(p);
        for (const sp of r.searchParam ?? []) {
          if (!sp.name) continue;
          const reason = sp.definition ? params.alias(r.type, sp.name, sp.definition) : params.get(r.type, sp.name) ? undefined : 'no definition';
          if (reason) out.notOffered.push({ type: r.type, name: sp.name, ...(sp.definition ? { definition: sp.definition } : {}), reason });
          else t.searchParams.set(sp.name, sp.definition);
        }
        for (const i of r.searchInclude ?? []) t.searchInclude.add(i);
        for (const i of r.searchRevInclude ?? []) t.searchRevInclude.add(i);
        t.statements.push(cs.url + (cs.version ? `|${cs.version}` : ''));
        if (r.documentation) t.documentation.push(r.documentation);
      }
    }
    out.statements.push(statement);
  }
  return out;
}

/** Merges a module's own served types (TDDUI) into `served`. */
export function addServed(served: Served, ig: string, types: { type: string; interactions: Interaction[]; profile?: string; supportedProfiles?: string[]; documentation?: string; updateCreate?: boolean }[]): void {
  for (const x of types) {
    let t = served.types.get(x.type);
    if (!t) served.types.set(x.type, (t = emptyServedType(x.type)));
    if (!t.igs.includes(ig)) t.igs.push(ig);
    const own: Set<Interaction> = t.byIg.get(ig) ?? new Set<Interaction>();
    t.byIg.set(ig, own);
    for (const i of x.interactions) (t.interactions.add(i), own.add(i));
    if (x.profile && !t.profiles.some((p) => p.ig === ig)) t.profiles.push({ ig, profile: x.profile });
    for (const p of x.supportedProfiles ?? []) if (!t.supportedProfiles.includes(p)) t.supportedProfiles.push(p);
    if (x.documentation) t.documentation.push(x.documentation);
    if (x.updateCreate) t.updateCreate = true;
  }
}
