// The FHIR RESTful interactions, independent of HTTP: create (and conditional create), update
// (update-as-create, conditional update), patch (instance and conditional), delete (instance and
// conditional), batch and transaction Bundles. Each one is a plan for the storage write path
// (Repository.execute); validation on write (the profile the serving IG's CapabilityStatement
// names, plus the IG module's rules) runs inside the plan on the final content, so nothing is
// half-stored when it fails.
import { BundleResolver, rewriteReferences, type EntryRef } from '../fhir/bundle/references.js';
import type { Engine, EngineSet } from '../fhir/engine.js';
import { isObject, isResource, ID_PATTERN, parseRelativeReference, type FhirResource, type Json } from '../fhir/json.js';
import { FhirError, HTTP_ERRORS } from '../fhir/outcome/http-errors.js';
import { hasErrors, sortAndDedupe, toOperationOutcome, type ValidationIssue } from '../fhir/outcome/issue.js';
import { operationOutcome } from '../fhir/outcome/outcome.js';
import { CODES } from '../fhir/outcome/codes.js';
import { applyFhirPathPatch, applyJsonPatch } from '../fhir/patch/index.js';
import type { OpResult, Queryable, ReadScope, Repository, ResourceRecord, SearchParam, WriteOp } from '../storage/types.js';
import { AccessControl } from './access.js';
import { declaredProfiles, EngineDispatch } from './engines.js';
import type { ComputedType, Finder, IgModule, WriteContext, WriteInteraction } from './modules.js';
import type { Served, ServedType } from './served.js';

/** The validator's findings on an extension it has no definition of (dropped for a module's own extensions). */
const OWN_EXTENSION_RULES = new Set([CODES.EXTENSION_NOT_FOUND.id, CODES.EXTENSION_UNKNOWN.id]);

export interface FhirServiceOptions {
  repo: Repository;
  engine: Engine;
  /** One engine per IG in use: each write is validated by the engine of the IG it claims (rest/engines.ts). */
  engines?: EngineSet;
  served: Served;
  /** IG modules, in priority order (the first that owns or serves a type handles its writes). */
  modules: IgModule[];
  /** Access rules beyond scopes and FINESS (rest/access.ts); none by default. */
  access?: AccessControl;
}

/** A check of the HTTP layer on what will be stored (e.g. the token's FINESS), before validation. */
export type Guard = (resource: FhirResource, current: ResourceRecord | undefined) => void;

/** The result of one write interaction, as the HTTP layer answers it. */
export interface WriteAnswer {
  status: number;
  outcome: 'created' | 'updated' | 'deleted' | 'unchanged';
  record?: ResourceRecord;
  /** Warnings of the validation (an OperationOutcome, or undefined when none). */
  issues: ValidationIssue[];
  /** The submission id when the IG module logged it. */
  submissionId?: string;
}

/**
 * Answers a GET entry of a batch or transaction (`Patient?name=x&_count=10`, `Patient/1`) as the
 * HTTP API answers that GET — search with paging links, `_include`, `_summary`, access checks —
 * so that an entry pages like the search it names. Without one, the service reads and searches
 * itself (first 100 matches, no links).
 */
export type EntryReader = (url: string) => Promise<{ status: number; body?: Json; headers?: Record<string, string | undefined> }>;

/** A patch body: JSON Patch operations or a FHIRPath Patch Parameters resource. */
export type PatchBody = { kind: 'json-patch'; operations: unknown[] } | { kind: 'fhirpath'; parameters: FhirResource };

/**
 * The writer's read scope (a token restricted to some organisations): its conditional writes see
 * only what it may read, and it cannot write by id what it may not read (storage WritePlan.scope).
 */
export interface WriterScope {
  scope?: ReadScope;
}

function scopeOf(options: WriterScope): { scope?: ReadScope } {
  return options.scope ? { scope: options.scope } : {};
}

/** Parses `a=1&b=2` criteria (conditional URLs, If-None-Exist) into search parameters. */
export function parseCriteria(query: string): SearchParam[] {
  const q = query.startsWith('?') ? query.slice(1) : query;
  const out: SearchParam[] = [];
  for (const [k, v] of new URLSearchParams(q)) {
    if (k === '_format' || k === '_pretty') continue;
    const colon = k.indexOf(':');
    const name = colon < 0 ? k : k.slice(0, colon);
    const values = splitComma(v);
    out.push(colon < 0 ? { name, values } : { name, modifier: k.slice(colon + 1), values });
  }
  if (out.length === 0) throw new FhirError(HTTP_ERRORS.CONDITIONAL_CRITERIA, { criteria: query, detail: 'no search parameter', detailFr: 'aucun paramètre de recherche' });
  return out;
}

function splitComma(v: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\' && (v[i + 1] === ',' || v[i + 1] === '\\')) {
      cur += v[++i];
      continue;
    }
    if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

export function applyPatch(resource: FhirResource, body: PatchBody): FhirResource {
  return body.kind === 'json-patch'
    ? (applyJsonPatch(resource, body.operations as never) as FhirResource)
    : (applyFhirPathPatch(resource, body.parameters as never) as FhirResource);
}

export class FhirService {
  readonly repo: Repository;
  readonly engine: Engine;
  readonly served: Served;
  readonly modules: IgModule[];
  /** Which engine validates a resource: the one of the IG its meta.profile claims. */
  readonly dispatch: EngineDispatch;
  /** The access-rule seam every read, search, include, history and write path asks (rest/access.ts). */
  readonly access: AccessControl;

  constructor(opts: FhirServiceOptions) {
    this.repo = opts.repo;
    this.engine = opts.engine;
    this.dispatch = new EngineDispatch(opts.engine, opts.engines);
    this.access = opts.access ?? new AccessControl();
    this.served = opts.served;
    this.modules = opts.modules;
  }

  servedType(type: string): ServedType | undefined {
    return this.served.types.get(type);
  }

  /** The module-computed type (GAP Slots), if `type` is one: reads and searches answer from it. */
  computed(type: string): ComputedType | undefined {
    for (const m of this.modules) {
      const c = m.computed?.[type];
      if (c) return c;
    }
    return undefined;
  }

  /** Whether `interaction` is offered on `type` (405 otherwise). */
  requireInteraction(type: string, interaction: WriteInteraction): ServedType {
    const t = this.served.types.get(type);
    if (!t || !t.interactions.has(interaction)) throw new FhirError(HTTP_ERRORS.INTERACTION_NOT_SERVED, { interaction, type });
    return t;
  }

  /**
   * The module that handles a write: the one that owns the resource, else the IG its
   * meta.profile claims, else the IG of the enclosing Bundle (`context`), else the first IG
   * serving the type with that interaction.
   */
  moduleFor(type: string, resource: FhirResource | undefined, interaction: WriteInteraction = 'create', context?: string): { module?: IgModule; ig?: string; profile?: string } {
    const t = this.served.types.get(type);
    const owner = resource ? this.modules.find((m) => m.owns?.(resource) && t?.byIg.get(m.name)?.has(interaction)) : undefined;
    const offers = (i: string | undefined) => (i && t?.byIg.get(i)?.has(interaction) ? i : undefined);
    const claimed = resource ? this.claimedIgs(resource).find(offers) : undefined;
    const ig = owner?.name ?? claimed ?? offers(context) ?? t?.igs.find((i) => t.byIg.get(i)?.has(interaction)) ?? t?.igs[0];
    const profile = t?.profiles.find((p) => p.ig === ig)?.profile;
    const module = owner ?? this.modules.find((m) => m.name === ig);
    return { ...(module ? { module } : {}), ...(ig ? { ig } : {}), ...(profile ? { profile } : {}) };
  }

  /**
   * The IGs in use (package names) a resource claims: those whose own profiles it declares; for a
   * dependency's profile pinned to a version (`fr-core-patient|2.0.1`), those depending on that
   * version. An unpinned dependency profile claims no IG (the context or the serving IG decides).
   */
  claimedIgs(resource: FhirResource): string[] {
    const out: string[] = [];
    const roots = this.dispatch.set?.engines ?? [];
    const add = (name: string) => out.includes(name) || out.push(name);
    for (const { url } of declaredProfiles(resource)) {
      const defining = this.dispatch.packagesDefining(url);
      const own = roots.filter((e) => e.ig && defining.includes(e.ig));
      if (own.length) own.forEach((e) => add(e.ig!.name));
      else if (url.includes('|')) for (const e of roots) if (e.ig && defining.some((p) => e.registry.packages.includes(p))) add(e.ig.name);
    }
    return out;
  }

  /**
   * Validation of a write: the module's, else the engine of the IG the resource claims (its
   * meta.profile; else the serving IG's) against the declared profiles and the one the serving
   * IG's CapabilityStatement names; plus the module's rules.
   */
  validate(resource: FhirResource, ctx: WriteContext, module: IgModule | undefined): ValidationIssue[] {
    let issues: ValidationIssue[];
    if (module?.validate) issues = module.validate(resource, ctx);
    else {
      const prefer = [ctx.ig, ctx.context].filter((x): x is string => !!x);
      const claim = this.dispatch.claim(resource, prefer, ctx.profile ? [ctx.profile] : []);
      const profiles = ctx.profile && claim.engine.profiles.get(ctx.profile) ? [ctx.profile] : undefined;
      issues = claim.engine.validator.validate(resource, profiles ? { profiles } : {});
    }
    // Extensions a module defines and checks itself (its rules) are not "unknown" to the core.
    const own = this.modules.flatMap((m) => m.ownExtensions ?? []);
    if (own.length) issues = issues.filter((i) => !(OWN_EXTENSION_RULES.has(i.rule ?? '') && own.some((url) => i.message.includes(url))));
    if (module?.rules) issues = [...issues, ...module.rules(resource, ctx)];
    return sortAndDedupe(issues);
  }

  /**
   * `$validate` of a resource that claims (meta.profile) an IG in use whose module does not
   * validate by itself (a volet): the checks a create would make, in that IG's engine. Undefined
   * when the resource is not such an IG's (the TDDUI validator answers), or names an unknown profile.
   */
  validateAsCreate(resource: FhirResource): ValidationIssue[] | undefined {
    const type = String(resource.resourceType);
    const { module, ig, profile } = this.moduleFor(type, resource, 'create');
    // IGs whose module validates by itself (TDDUI: its versions, profile choice and rules) answer alone.
    const own = new Set(this.modules.filter((m) => m.validate).map((m) => m.name));
    if (module?.validate || this.modules.some((m) => m.validate && m.owns?.(resource)) || !this.claimedIgs(resource).some((ig) => !own.has(ig))) return undefined;
    try {
      return this.validate(resource, { interaction: 'create', type, ...(profile ? { profile } : {}), ...(ig ? { ig } : {}) }, module);
    } catch (e) {
      if (e instanceof FhirError) return undefined;
      throw e;
    }
  }

  /**
   * The check of a write op. `scope.find` is set by the plan's resolve hook (the transaction's
   * own search): a module's `verify` rules, which need stored data, run with it.
   */
  private checker(ctx: Omit<WriteContext, 'current'>, module: IgModule | undefined, sink: ValidationIssue[], prefix?: string, guard?: Guard, scope?: FindScope) {
    return async (resource: FhirResource, current: ResourceRecord | undefined, tx: Queryable): Promise<void> => {
      guard?.(resource, current);
      const full: WriteContext = { ...ctx, ...(current ? { current } : {}) };
      let issues = this.validate(resource, full, module);
      if (module?.verify && scope?.find) issues = sortAndDedupe([...issues, ...(await module.verify(resource, full, scope.find))]);
      // `Patient.identifier` of entry 1 is `Bundle.entry[1].resource.identifier`.
      const at = (e: string) => (e === ctx.type ? prefix! : e.startsWith(`${ctx.type}.`) ? `${prefix}${e.slice(ctx.type.length)}` : `${prefix}.${e}`);
      const shown = prefix ? issues.map((i) => ({ ...i, expression: at(i.expression) })) : issues;
      if (hasErrors(issues)) {
        throw new FhirError(HTTP_ERRORS.VALIDATION_FAILED, { type: ctx.type, profile: ctx.profile ?? `the ${ctx.type} definition` }, { outcome: toOperationOutcome(shown) as unknown as FhirResource });
      }
      sink.push(...shown);
      // Checks against other stored data, in the write's transaction (GAP: no double booking).
      if (module?.inTransaction) await module.inTransaction(resource, { ...ctx, ...(current ? { current } : {}) }, tx);
    };
  }

  /**
   * A create's implicit If-None-Exist: the resource's identity across flows, when its module
   * gives one (the usager already known is found, not duplicated); its content is still checked.
   */
  private withIdentity(op: WriteOp, module: IgModule | undefined): void {
    const criteria = op.resource ? module?.identity?.(op.resource) : undefined;
    if (!criteria) return;
    op.ifNoneExist = parseCriteria(criteria);
    op.checkWhenFound = true;
  }

  private keysOf(module: IgModule | undefined, resource: FhirResource): Pick<WriteOp, 'keys' | 'owner'> {
    const k = module?.businessKeys?.(resource);
    if (!k) return {};
    return { keys: k.keys, ...(k.owner !== undefined ? { owner: k.owner } : {}) };
  }

  // --- single-resource interactions ----------------------------------------------------

  async create(type: string, resource: FhirResource, options: { ifNoneExist?: string; guard?: Guard } & WriterScope = {}): Promise<WriteAnswer> {
    this.requireInteraction(type, 'create');
    if (resource.resourceType !== type) throw new FhirError(HTTP_ERRORS.BODY_TYPE_MISMATCH, { found: String(resource.resourceType), type });
    // An IG that processes its own creates (PDSm ITI-105).
    const taker = options.ifNoneExist === undefined ? this.modules.find((m) => m.create?.claims(resource)) : undefined;
    if (taker?.create) return taker.create.handle(resource, options.guard ? { guard: options.guard } : {});
    const { module, profile, ig } = this.moduleFor(type, resource);
    const issues: ValidationIssue[] = [];
    const toStore = withoutServerFields(resource);
    const scope = findScope();
    const op: WriteOp = {
      method: 'create',
      resourceType: type,
      resource: toStore,
      check: this.checker({ interaction: 'create', type, ...(profile ? { profile } : {}), ...(ig ? { ig } : {}) }, module, issues, undefined, options.guard, scope),
      ...this.keysOf(module, toStore),
    };
    if (options.ifNoneExist) op.ifNoneExist = parseCriteria(options.ifNoneExist);
    else this.withIdentity(op, module);
    const [r] = await this.repo.execute({ ops: [op], resolve: scope.capture, ...scopeOf(options) });
    return answer(r!, issues);
  }

  async update(type: string, target: { id: string } | { criteria: string }, resource: FhirResource, options: { ifMatch?: number; guard?: Guard } & WriterScope = {}): Promise<WriteAnswer> {
    const served = this.requireInteraction(type, 'update');
    if (resource.resourceType !== type) throw new FhirError(HTTP_ERRORS.BODY_TYPE_MISMATCH, { found: String(resource.resourceType), type });
    if ('id' in target) {
      if (resource.id === undefined) throw new FhirError(HTTP_ERRORS.BODY_ID_MISSING, { id: target.id });
      if (resource.id !== target.id) throw new FhirError(HTTP_ERRORS.BODY_ID_MISMATCH, { found: String(resource.id), id: target.id });
    }
    const { module, profile, ig } = this.moduleFor(type, resource, 'update');
    const issues: ValidationIssue[] = [];
    const scope = findScope();
    const op: WriteOp = {
      method: 'update',
      resourceType: type,
      resource: withoutVersionMeta(resource),
      createOnUpdate: served.updateCreate,
      check: this.checker({ interaction: 'update', type, ...(profile ? { profile } : {}), ...(ig ? { ig } : {}) }, module, issues, undefined, options.guard, scope),
      ...this.keysOf(module, resource),
    };
    if ('id' in target) op.id = target.id;
    else op.criteria = parseCriteria(target.criteria);
    if (options.ifMatch !== undefined) op.ifMatch = options.ifMatch;
    if ('id' in target && !served.updateCreate) {
      // Without update-as-create an unknown id is a 405 rather than storage's 404 (FHIR http#upsert).
      const exists = await this.repo.read(type, target.id, scopeOf(options)).then(
        () => true,
        (e) => (e instanceof FhirError && e.status === 410 ? true : e instanceof FhirError && e.status === 404 ? false : Promise.reject(e)),
      );
      if (!exists) throw new FhirError(HTTP_ERRORS.CREATE_ON_UPDATE, { type, id: target.id });
    }
    const [r] = await this.repo.execute({ ops: [op], resolve: scope.capture, ...scopeOf(options) });
    return answer(r!, issues);
  }

  async patch(type: string, target: { id: string } | { criteria: string }, body: PatchBody, options: { ifMatch?: number; guard?: Guard } & WriterScope = {}): Promise<WriteAnswer> {
    this.requireInteraction(type, 'patch');
    const issues: ValidationIssue[] = [];
    let chosen: ReturnType<FhirService['moduleFor']> = {};
    const scope = findScope();
    const op: WriteOp = {
      method: 'patch',
      resourceType: type,
      patch: (current) => {
        const patched = applyPatch(current, body);
        chosen = this.moduleFor(type, patched, 'patch');
        return withoutVersionMeta(patched);
      },
      check: (resource, current, tx) =>
        this.checker({ interaction: 'patch', type, ...(chosen.profile ? { profile: chosen.profile } : {}), ...(chosen.ig ? { ig: chosen.ig } : {}) }, chosen.module, issues, undefined, options.guard, scope)(resource, current, tx),
    };
    if ('id' in target) op.id = target.id;
    else op.criteria = parseCriteria(target.criteria);
    if (options.ifMatch !== undefined) op.ifMatch = options.ifMatch;
    const [r] = await this.repo.execute({ ops: [op], resolve: scope.capture, ...scopeOf(options) });
    return answer(r!, issues);
  }

  async delete(type: string, target: { id: string } | { criteria: string }, options: { ifMatch?: number } & WriterScope = {}): Promise<WriteAnswer> {
    this.requireInteraction(type, 'delete');
    const op: WriteOp = { method: 'delete', resourceType: type };
    if ('id' in target) op.id = target.id;
    else op.criteria = parseCriteria(target.criteria);
    if (options.ifMatch !== undefined) op.ifMatch = options.ifMatch;
    const [r] = await this.repo.execute({ ops: [op], ...scopeOf(options) });
    return answer(r!, []);
  }

  /**
   * The search parameters the IGs in use require on `type` (PDSm ITI-67: patient and status):
   * a 400 naming what is missing.
   */
  requireSearchParams(type: string, params: readonly SearchParam[]): void {
    for (const m of this.modules) {
      const r = m.searchRequires?.(type, params);
      if (r && r.missing.length) throw new FhirError(HTTP_ERRORS.SEARCH_REQUIRED, { transaction: r.transaction, names: r.missing.join(', ') });
    }
  }

  // --- batch and transaction -----------------------------------------------------------

  /** A transaction (all or nothing) or a batch (each entry on its own) Bundle. */
  async bundle(bundle: Json, options: { read?: EntryReader } & WriterScope = {}): Promise<FhirResource> {
    if (bundle.resourceType !== 'Bundle') throw new FhirError(HTTP_ERRORS.NOT_A_BUNDLE);
    if (bundle.type !== 'transaction' && bundle.type !== 'batch') {
      throw new FhirError(HTTP_ERRORS.BUNDLE_TYPE, { expected: '"transaction" or "batch"', found: JSON.stringify(bundle.type ?? null) }, { expression: 'Bundle.type' });
    }
    // The Bundle's own profiles (e.g. cds-bundle-transaction-creation), by the engine of the IG
    // it claims; that IG is the context of its entries (their FR Core profiles are its FR Core's).
    const claim = this.dispatch.claim(bundle as FhirResource);
    const bundleIssues = claim.profiles.length ? claim.engine.validator.validate(bundle, { profiles: claim.profiles }) : [];
    if (hasErrors(bundleIssues)) {
      throw new FhirError(HTTP_ERRORS.VALIDATION_FAILED, { type: 'Bundle', profile: claim.profiles.join(', ') }, { outcome: toOperationOutcome(bundleIssues) as unknown as FhirResource });
    }
    const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
    const context = claim.profiles.length ? claim.ig : undefined;
    return bundle.type === 'transaction' ? this.transaction(entries, context, options.read, options.scope) : this.batch(entries, context, options.read, options.scope);
  }

  private async batch(entries: unknown[], context?: string, read?: EntryReader, writer?: ReadScope): Promise<FhirResource> {
    const out: Json[] = [];
    for (let i = 0; i < entries.length; i++) {
      try {
        const parsed = this.parseEntry(entries[i], i);
        if (parsed.read) {
          out.push(await this.readEntry(parsed.read, read));
          continue;
        }
        const issues: ValidationIssue[] = [];
        const scope = findScope();
        const op = this.entryOp(parsed, i, issues, context, scope);
        const [r] = await this.repo.execute({ ops: [op], resolve: scope.capture, ...(writer ? { scope: writer } : {}) });
        out.push(responseEntry(r!, issues));
      } catch (e) {
        if (!(e instanceof FhirError)) throw e;
        out.push({ response: { status: String(e.status), outcome: e.toOutcome() } });
      }
    }
    return { resourceType: 'Bundle', type: 'batch-response', entry: out };
  }

  private async transaction(entries: unknown[], context?: string, read?: EntryReader, writer?: ReadScope): Promise<FhirResource> {
    const parsed = entries.map((e, i) => this.parseEntry(e, i));
    // Processing order (FHIR http#trules): DELETE, POST, PUT/PATCH, then GET; answers in entry order.
    const rank: Record<string, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 };
    const writes = parsed.filter((p) => !p.read).sort((a, b) => rank[a.method]! - rank[b.method]! || a.index - b.index);
    const seen = new Map<string, number>();
    for (const p of writes) {
      if (p.method === 'POST' || !p.id) continue;
      const k = `${p.type}/${p.id}`;
      if (seen.has(k)) throw new FhirError(HTTP_ERRORS.ENTRY_DUPLICATE_TARGET, { first: seen.get(k)!, second: p.index, target: k });
      seen.set(k, p.index);
    }
    const issuesOf = new Map<number, ValidationIssue[]>();
    const scope = findScope();
    const ops = writes.map((p) => {
      const issues: ValidationIssue[] = [];
      issuesOf.set(p.index, issues);
      return this.entryOp(p, p.index, issues, context, scope);
    });
    const resolver = new BundleResolver(
      writes.map((p, k): EntryRef => ({ index: k, ...(p.fullUrl ? { fullUrl: p.fullUrl } : {}), resourceType: p.type, ...(p.resource?.id ? { localId: String(p.resource.id) } : {}) })),
    );
    const results = await this.repo.execute({
      ...(writer ? { scope: writer } : {}),
      ops,
      resolve: async (rc) => {
        scope.find = rc.match;
        const serverRef = (k: number) => {
          const t = rc.targets[k] ?? rc.found[k];
          return t ? `${t.resourceType}/${t.id}` : undefined;
        };
        for (let k = 0; k < writes.length; k++) {
          const content = rc.resourceOf(k);
          if (!content) continue;
          let fixed = rewriteReferences(content, k, resolver, serverRef) as FhirResource;
          fixed = (await resolveConditionalReferences(fixed, rc.match, writes[k]!.index)) as FhirResource;
          rc.setResource(k, fixed);
        }
      },
    });
    const byIndex = new Map<number, Json>();
    results.forEach((r, k) => byIndex.set(writes[k]!.index, responseEntry(r, issuesOf.get(writes[k]!.index) ?? [])));
    for (const p of parsed) if (p.read) byIndex.set(p.index, await this.readEntry(p.read, read));
    return { resourceType: 'Bundle', type: 'transaction-response', entry: parsed.map((p) => byIndex.get(p.index)!) };
  }

  private async readEntry(url: string, read?: EntryReader): Promise<Json> {
    if (read) {
      const r = await read(url);
      const response: Json = { status: STATUS_TEXT[r.status] ?? String(r.status) };
      if (r.status >= 400) return { response: { ...response, ...(r.body ? { outcome: r.body } : {}) } };
      if (r.headers?.etag) response.etag = r.headers.etag;
      if (r.headers?.['last-modified']) response.lastModified = new Date(r.headers['last-modified']).toISOString();
      return { ...(r.body ? { resource: r.body } : {}), response };
    }
    const [path, query] = url.split('?') as [string, string | undefined];
    const seg = path.split('/').filter(Boolean);
    if (seg.length === 2) {
      const rec = await this.repo.read(seg[0]!, seg[1]!);
      return { resource: rec.resource, response: { status: '200 OK', etag: `W/"${rec.versionId}"`, lastModified: rec.lastUpdated } };
    }
    const res = await this.repo.search({ resourceType: seg[0], params: query ? parseCriteria(query) : [], count: 100, offset: 0, handling: 'lenient' });
    return {
      resource: { resourceType: 'Bundle', type: 'searchset', total: res.total, entry: res.matches.map((m) => ({ resource: m.resource, search: { mode: 'match' } })) },
      response: { status: '200 OK' },
    };
  }

  private parseEntry(e: unknown, index: number): ParsedEntry {
    const bad = (en: string, fr: string) => new FhirError(HTTP_ERRORS.ENTRY_INVALID, { index, detail: en, detailFr: fr }, { expression: `Bundle.entry[${index}]` });
    if (!isObject(e) || !isObject(e.request)) throw bad('no request', 'pas de request');
    const method = String(e.request.method ?? '');
    const url = typeof e.request.url === 'string' ? e.request.url.replace(/^\//, '') : '';
    if (!url) throw bad('no request.url', 'pas de request.url');
    if (method === 'GET' || method === 'HEAD') return { index, method, type: '', read: url };
    const [path, query] = url.split('?') as [string, string | undefined];
    const seg = path.split('/').filter(Boolean);
    const type = seg[0] ?? '';
    const p: ParsedEntry = { index, method, type };
    if (typeof e.fullUrl === 'string') p.fullUrl = e.fullUrl;
    if (isResource(e.resource)) p.resource = e.resource;
    if (method === 'POST') {
      // `POST Type/id` (a CdL example) is read as a create of Type: the server assigns the id.
      if (!p.resource) throw bad('a POST needs a resource', 'un POST demande une ressource');
      if (p.resource.resourceType !== type) throw bad(`request.url names ${type}, the resource is a ${p.resource.resourceType}`, `request.url désigne ${type}, la ressource est de type ${p.resource.resourceType}`);
      if (typeof e.request.ifNoneExist === 'string' && e.request.ifNoneExist) p.ifNoneExist = e.request.ifNoneExist;
    } else if (method === 'PUT' || method === 'DELETE' || method === 'PATCH') {
      if (query !== undefined) p.criteria = query;
      else if (seg.length === 2 && ID_PATTERN.test(seg[1]!)) p.id = seg[1]!;
      else throw bad(`${method} needs Type/id or Type?criteria`, `${method} demande Type/id ou Type?critères`);
      if (method !== 'DELETE' && !p.resource) throw bad(`a ${method} needs a resource`, `un ${method} demande une ressource`);
    } else throw bad(`unsupported method "${method}"`, `méthode « ${method} » non prise en charge`);
    if (typeof e.request.ifMatch === 'string') {
      const m = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(e.request.ifMatch);
      if (!m) throw new FhirError(HTTP_ERRORS.IF_MATCH_SYNTAX, { header: e.request.ifMatch }, { expression: `Bundle.entry[${index}].request.ifMatch` });
      p.ifMatch = Number(m[1]);
    }
    return p;
  }

  private entryOp(p: ParsedEntry, index: number, issues: ValidationIssue[], context?: string, scope?: FindScope): WriteOp {
    const prefix = `Bundle.entry[${index}].resource`;
    const interaction: WriteInteraction = p.method === 'POST' ? 'create' : p.method === 'PUT' ? 'update' : p.method === 'PATCH' ? 'patch' : 'delete';
    const served = this.requireInteraction(p.type, interaction);
    // A PATCH entry's body is a Parameters or Binary: the IG is the Bundle's (the patched resource is checked as its own).
    const { module, profile, ig } = this.moduleFor(p.type, interaction === 'patch' ? undefined : p.resource, interaction, context);
    const ctx = { interaction, type: p.type, ...(profile ? { profile } : {}), ...(ig ? { ig } : {}), ...(context ? { context } : {}) };
    const op: WriteOp = { method: interaction, resourceType: p.type };
    if (p.id) op.id = p.id;
    if (p.criteria) op.criteria = parseCriteria(p.criteria);
    if (p.ifMatch !== undefined) op.ifMatch = p.ifMatch;
    if (interaction === 'create' || interaction === 'update') {
      op.resource = interaction === 'create' ? withoutServerFields(p.resource!) : withoutVersionMeta(p.resource!);
      op.check = this.checker(ctx, module, issues, prefix, undefined, scope);
      Object.assign(op, this.keysOf(module, op.resource));
      if (interaction === 'update') {
        op.createOnUpdate = served.updateCreate;
        if (p.id && p.resource!.id !== undefined && p.resource!.id !== p.id) throw new FhirError(HTTP_ERRORS.BODY_ID_MISMATCH, { found: String(p.resource!.id), id: p.id });
      }
      if (p.ifNoneExist) op.ifNoneExist = parseCriteria(p.ifNoneExist);
      else if (interaction === 'create') this.withIdentity(op, module);
    } else if (interaction === 'patch') {
      const r = p.resource!;
      const body: PatchBody =
        r.resourceType === 'Parameters'
          ? { kind: 'fhirpath', parameters: r }
          : r.resourceType === 'Binary' && typeof r.data === 'string'
            ? { kind: 'json-patch', operations: JSON.parse(Buffer.from(r.data, 'base64').toString('utf8')) as unknown[] }
            : (() => {
                throw new FhirError(HTTP_ERRORS.PATCH_MEDIA_TYPE);
              })();
      op.patch = (current) => withoutVersionMeta(applyPatch(current, body));
      op.check = this.checker(ctx, module, issues, prefix, undefined, scope);
    }
    return op;
  }
}

/** Where a plan's resolve hook leaves the transaction's own search, for the checks that run after it. */
interface FindScope {
  find?: Finder;
  capture?: (rc: { match: Finder }) => void;
}

function findScope(): FindScope & { capture: (rc: { match: Finder }) => void } {
  const scope: FindScope = {};
  const capture = (rc: { match: Finder }) => {
    scope.find = rc.match;
  };
  scope.capture = capture;
  return scope as FindScope & { capture: typeof capture };
}

interface ParsedEntry {
  index: number;
  method: string;
  type: string;
  fullUrl?: string;
  resource?: FhirResource;
  id?: string;
  criteria?: string;
  ifNoneExist?: string;
  ifMatch?: number;
  /** GET entries: the URL read after the writes. */
  read?: string;
}

function answer(r: OpResult, issues: ValidationIssue[]): WriteAnswer {
  const a: WriteAnswer = { status: r.status, outcome: r.outcome, issues };
  if (r.record) a.record = r.record;
  return a;
}

const STATUS_TEXT: Record<number, string> = { 200: '200 OK', 201: '201 Created', 204: '204 No Content' };

function responseEntry(r: OpResult, issues: ValidationIssue[]): Json {
  const response: Json = { status: STATUS_TEXT[r.status] ?? String(r.status) };
  if (r.record) {
    response.location = `${r.resourceType}/${r.id}/_history/${r.record.versionId}`;
    response.etag = `W/"${r.record.versionId}"`;
    response.lastModified = r.record.lastUpdated;
  }
  const warnings = issues.filter((i) => i.severity === 'warning');
  if (warnings.length) response.outcome = toOperationOutcome(warnings);
  const e: Json = { response };
  if (r.id) e.fullUrl = `${r.resourceType}/${r.id}`;
  return e;
}

/** `Type?criteria` references inside a transaction entry: resolved by search (exactly one match). */
/** A conditional reference (`Patient?identifier=…`, FHIR http#trules), as found in a transaction's resources. */
const CONDITIONAL_REFERENCE = /^[A-Z][A-Za-z]+\?/;

/** The conditional references of a resource: their type and criteria (the reads they imply). */
export function conditionalReferences(resource: unknown, out: { type: string; criteria: string }[] = []): { type: string; criteria: string }[] {
  if (Array.isArray(resource)) for (const x of resource) conditionalReferences(x, out);
  else if (isObject(resource)) {
    for (const [k, v] of Object.entries(resource)) {
      if (k === 'reference' && typeof v === 'string' && CONDITIONAL_REFERENCE.test(v)) {
        const q = v.indexOf('?');
        out.push({ type: v.slice(0, q), criteria: v.slice(q + 1) });
      } else if (typeof v === 'object' && v !== null) conditionalReferences(v, out);
    }
  }
  return out;
}

async function resolveConditionalReferences(resource: unknown, match: (type: string, c: SearchParam[]) => Promise<string[]>, index: number): Promise<unknown> {
  if (Array.isArray(resource)) return Promise.all(resource.map((x) => resolveConditionalReferences(x, match, index)));
  if (!isObject(resource)) return resource;
  const out: Json = {};
  for (const [k, v] of Object.entries(resource)) {
    if (k === 'reference' && typeof v === 'string' && CONDITIONAL_REFERENCE.test(v)) {
      const q = v.indexOf('?');
      const type = v.slice(0, q);
      const ids = await match(type, parseCriteria(v.slice(q + 1)));
      if (ids.length !== 1) throw new FhirError(HTTP_ERRORS.REFERENCE_UNRESOLVED, { reference: v, count: ids.length === 0 ? 0 : 'several' }, { expression: `Bundle.entry[${index}]` });
      out[k] = `${type}/${ids[0]}`;
    } else out[k] = await resolveConditionalReferences(v, match, index);
  }
  return out;
}

/** The resource without id and version meta (a create: the server assigns them). */
export function withoutServerFields(resource: FhirResource): FhirResource {
  const copy = withoutVersionMeta(resource);
  delete copy.id;
  return copy;
}

/** The resource without meta.versionId / meta.lastUpdated (the server sets them). */
export function withoutVersionMeta(resource: FhirResource): FhirResource {
  const copy: FhirResource = { ...resource };
  if (isObject(copy.meta)) {
    const meta = { ...copy.meta };
    delete meta.versionId;
    delete meta.lastUpdated;
    if (Object.keys(meta).length) copy.meta = meta;
    else delete copy.meta;
  }
  return copy;
}

export { operationOutcome, parseRelativeReference };
