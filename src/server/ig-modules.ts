// The IG modules of a server (src/rest/modules.ts), in priority order — TDDUI, the coordination
// volets in use, NdE, then the caller's — and what they serve, composed here once for the server
// (app.ts) and for its validation workers, which validate a volet's resource (`$validate` of a
// CdL, CDS, GAP or PDSm resource) with the same modules and engines (validation-worker.ts).
import type { FhirResource } from '../fhir/json.js';
import type { ConformanceRegistry } from '../fhir/packages/registry.js';
import { SearchParameterSet, type SearchParameterResource } from '../fhir/search/parameters.js';
import { coordinationModules } from '../coordination/modules.js';
import { tdduiModule, type TdduiModuleOptions } from '../ingest/tddui-module.js';
import { ndeModule } from '../notification/nde-module.js';
import { NDE_PACKAGE } from '../notification/settings.js';
import type { IgModule } from '../rest/modules.js';
import { addServed, primaryPackages, servedFromCapabilities, type Served } from '../rest/served.js';
import { FhirService } from '../rest/service.js';
import type { Repository } from '../storage/types.js';
import type { TdduiValidator } from '../tddui/validator.js';

/**
 * The search parameters of a server: base R4 plus every SearchParameter of the loaded packages
 * (the IGs and their dependencies), compiled once.
 */
export function searchParametersOf(registry: ConformanceRegistry): SearchParameterSet {
  const sources = registry.all('SearchParameter').map((sp) => ({
    resource: sp as unknown as SearchParameterResource,
    source: registry.packages.find((p) => p.canonical && sp.url?.startsWith(p.canonical + '/'))?.name ?? 'package',
  }));
  // Dependencies first, then the IGs the server was started with: theirs win on a code clash.
  const primary = new Set(primaryPackages(registry).map((p) => p.name));
  sources.sort((a, b) => Number(primary.has(a.source)) - Number(primary.has(b.source)));
  return new SearchParameterSet(sources);
}

export interface IgModulesOptions {
  repo: Repository;
  validator: TdduiValidator;
  /** The server's interactions service, known once built (PDSm stores through it, validates with its engines). */
  service: () => FhirService;
  log?: TdduiModuleOptions['log'];
  offload?: TdduiModuleOptions['offload'];
  /** The caller's own modules, after the IGs' (startServer's `modules`). */
  extra?: IgModule[];
}

/** The modules of the IGs in use, in priority order. */
export function igModules(o: IgModulesOptions): IgModule[] {
  const ndeInUse = (o.validator.set?.engines ?? []).some((e) => e.ig?.name === NDE_PACKAGE);
  return [
    tdduiModule({ repo: o.repo, validator: o.validator, ...(o.log ? { log: o.log } : {}), ...(o.offload ? { offload: o.offload } : {}) }),
    ...coordinationModules(o.validator.set, o.repo, { service: o.service }),
    ...(ndeInUse ? [ndeModule()] : []),
    ...(o.extra ?? []),
  ];
}

/** What is served: the loaded IGs' server CapabilityStatements, and the modules'. */
export function servedBy(registry: ConformanceRegistry, params: SearchParameterSet, modules: IgModule[]): Served {
  const served = servedFromCapabilities(registry, params);
  for (const m of modules) if (m.served) addServed(served, m.name, m.served());
  return served;
}

/**
 * The service of a validation worker: the server's modules, engines and served types, to
 * validate (FhirService.validateAsCreate) — never to store: its repository refuses any use.
 */
export function validationService(validator: TdduiValidator): FhirService {
  const repo = noRepository();
  let service: FhirService | undefined;
  const modules = igModules({ repo, validator, service: () => service! });
  const served = servedBy(validator.core.registry, searchParametersOf(validator.core.registry), modules);
  service = new FhirService({ repo, engine: validator.core, ...(validator.set ? { engines: validator.set } : {}), served, modules });
  return service;
}

/** A repository that refuses any use: a validation worker's. */
function noRepository(): Repository {
  return new Proxy({} as Repository, {
    get: (_target, key) =>
      key === 'then'
        ? undefined
        : () => {
            throw new Error(`a validation worker has no repository (${String(key)})`);
          },
  });
}

/**
 * The modules of the IGs in use (not the caller's `extra`), and those that process their own
 * transaction Bundles, in priority order: what a validation worker can tell of what it reads.
 */
export function moduleNames(validator: TdduiValidator): { all: string[]; bundles: string[] } {
  const modules = igModules({ repo: noRepository(), validator, service: () => { throw new Error('no service'); } });
  return { all: modules.map((m) => m.name), bundles: modules.filter((m) => m.bundle).map((m) => m.name) };
}

/** A resource's declared profiles (its `meta.profile`), as a stub other threads can compare. */
export function claimsOf(resource: FhirResource): string[] {
  const meta = resource.meta as { profile?: unknown } | undefined;
  return Array.isArray(meta?.profile) ? meta.profile.filter((p): p is string => typeof p === 'string') : [];
}
