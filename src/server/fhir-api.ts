// The FHIR REST API under /fhir: transaction, read, vread, history, search, $validate, the
// IG v1 DocumentReference flows (create, PATCH), and /metadata. Registered as an encapsulated
// Fastify plugin so its body parsers, 404 and error handling stay out of the web UI.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { toOperationOutcome } from '../fhir/outcome/issue.js';
import type { CanonicalResource } from '../fhir/packages/registry.js';
import type { FhirResource, Repository, ResourceRecord } from '../storage/types.js';
import type { TdduiValidator } from '../tddui/validator.js';
import { ownerOf, ownerOfResource } from '../tddui/business-keys.js';
import { forbidden, type Access, type Authenticator, type Principal } from './auth.js';
import { buildCapabilityStatement, type SearchParamInfo } from './capability.js';
import { errorReply } from './errors.js';
import { negotiateFormat, registerBodyParsers, sendResource, type XmlCodec } from './format.js';
import { FhirHttpError, operationOutcome } from './outcome.js';
import { etag, httpDate, parseIfMatch, preferReturn, type PreferReturn } from './prefer.js';
import { historyBundle, parseHistory, parseSearch, queryPairs, searchsetBundle, fullUrl } from './search.js';
import { logDocumentSubmission } from './submission-log.js';
import { bundlePage, bundleSearchset, parseBundleSearch, submittedBundle } from './submitted-bundles.js';
import { isObject } from '../fhir/json.js';

/** What ingestTransaction (src/ingest) answers. */
export interface TransactionResult {
  status: number;
  body: FhirResource;
  submissionId?: string;
}

export interface FhirApiDeps {
  repo: Repository;
  validator: TdduiValidator;
  xml?: XmlCodec;
  transaction(bundle: unknown): Promise<TransactionResult>;
  applyJsonPatch(resource: FhirResource, ops: unknown): FhirResource;
  applyFhirPathPatch(resource: FhirResource, parameters: unknown): FhirResource;
  /** Resource types served by read / vread / history / search. */
  types: string[];
  /** Search parameters per type, and the common ones (`_id`, `_lastUpdated`…). */
  searchParams: Record<string, SearchParamInfo[]>;
  commonParams: SearchParamInfo[];
  softwareVersion: string;
  now?: () => Date;
  /** OAuth 2.0 bearer tokens (src/server/auth.ts): when absent, the API is open. */
  auth?: Authenticator;
}

/** Resource types that accept the v1 flows (create, PATCH). */
const WRITABLE_TYPES = new Set(['DocumentReference']);
const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;


/** `http://host:port/fhir` as the client reached it. */
export function baseUrlOf(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}/fhir`;
}

export async function fhirApi(app: FastifyInstance, deps: FhirApiDeps): Promise<void> {
  const { repo, validator, xml } = deps;
  const now = deps.now ?? (() => new Date());
  const served = new Set(deps.types);
  const startedAt = now().toISOString();
  const capabilityByBase = new Map<string, FhirResource>();

  registerBodyParsers(app, xml);

  // Response format first, so that even a rejection comes in the format asked for.
  app.addHook('onRequest', async (req) => {
    req.fhirFormat = 'json';
    req.fhirFormat = negotiateFormat((req.query ?? {}) as Record<string, unknown>, req.headers.accept, xml !== undefined);
  });

  app.setErrorHandler((err, req, reply) => errorReply(err, req, reply, xml));

  // Every request but /metadata (which says how to authenticate) carries a valid token.
  const principals = new WeakMap<FastifyRequest, Principal>();
  const auth = deps.auth;
  if (auth) {
    app.addHook('onRequest', async (req) => {
      if (req.method === 'GET' && req.url.split('?')[0]!.replace(/\/+$/, '') === '/fhir/metadata') return;
      const principal = await auth.authenticate(req.headers.authorization);
      principals.set(req, principal);
      req.log.info({ client: principal.subject }, 'authenticated');
    });
  }
  /** 403 unless the token grants `access` on every type (a no-op when the API is open). */
  const requireAccess = (req: FastifyRequest, access: Access, ...types: string[]): void => {
    const p = principals.get(req);
    if (!auth || !p) return;
    for (const type of types) {
      if (type === '*' ? p.canAll(access) : p.can(type, access)) continue;
      const what = type === '*' ? 'every resource type' : type;
      const scope = `system/${type}.${access}`;
      throw forbidden(`The token does not allow ${access === 'read' ? 'reading' : 'writing'} ${what} (scope ${scope} needed)`, `Le jeton ne permet pas ${access === 'read' ? 'la lecture' : 'l\u2019écriture'} de ${type === '*' ? 'toutes les ressources' : type} (portée ${scope} nécessaire)`);
    }
  };
  /** 403 unless the data belong to an ESSMS whose FINESS the token names. */
  const requireFiness = (req: FastifyRequest, finess: string | undefined): void => {
    const p = principals.get(req);
    if (!auth || !p) return;
    if (finess === undefined) {
      throw forbidden(
        'The data name no ESSMS (no Organization idNatSt, no 3+FINESS local identifier): the server cannot tell whether this client may send them',
        'Les données ne désignent aucun ESSMS (ni idNatSt d\u2019Organization, ni identifiant local 3+FINESS) : le serveur ne peut pas savoir si ce client peut les envoyer',
      );
    }
    if (!p.finess.has(finess)) {
      const allowed = p.finess.size ? [...p.finess].join(', ') : 'none';
      throw forbidden(
        `This client may send data for FINESS ${allowed}, not for FINESS ${finess}`,
        `Ce client peut envoyer des données pour le(s) FINESS ${allowed === 'none' ? 'aucun' : allowed}, pas pour le FINESS ${finess}`,
      );
    }
  };

  app.setNotFoundHandler((req) => {
    const path = req.url.split('?')[0]!;
    const segments = path.replace(/^\/fhir\/?/, '').split('/').filter((x) => x !== '').map(safeDecode);
    const allowed = allowedMethods(segments, served, validator);
    if (allowed === 'unknown-type') throw unknownType(segments[0] ?? '', validator);
    if (segments[0] === 'Bundle' && !allowed?.length) throw bundleOnlyReadSearch(req);
    if (allowed?.length) throw notAllowed(req, allowed);
    throw new FhirHttpError(404, 'not-found', `Unknown FHIR endpoint: ${req.method} ${path}`, {
      text: `Point d'accès FHIR inconnu : ${req.method} ${path}`,
    });
  });

  const send = (reply: FastifyReply, status: number, resource: object, headers?: Record<string, string>) =>
    sendResource(reply, status, resource, xml, headers);

  /** 404 for a type not served — or 405 when the path is an endpoint with other methods (`GET /fhir/$validate`). */
  const checkType = (type: string, req: FastifyRequest): void => {
    if (served.has(type)) return;
    const segments = req.url.split('?')[0]!.replace(/^\/fhir\/?/, '').split('/').filter((x) => x !== '').map(safeDecode);
    const allowed = allowedMethods(segments, served, validator);
    if (Array.isArray(allowed) && allowed.length) throw notAllowed(req, allowed);
    if (type === 'Bundle') throw bundleOnlyReadSearch(req);
    throw unknownType(type, validator);
  };

  const versionHeaders = (rec: ResourceRecord, base?: string): Record<string, string> => {
    const h: Record<string, string> = { etag: etag(rec.versionId), 'last-modified': httpDate(rec.lastUpdated) };
    if (base) h.location = `${fullUrl(base, rec)}/_history/${rec.versionId}`;
    return h;
  };

  // --- capability -----------------------------------------------------------------------
  app.get('/metadata', async (req, reply) => {
    const base = baseUrlOf(req);
    let cs = capabilityByBase.get(base);
    if (!cs) {
      cs = buildCapabilityStatement({
        validator,
        types: deps.types,
        searchParams: deps.searchParams,
        commonParams: deps.commonParams,
        baseUrl: base,
        softwareVersion: deps.softwareVersion,
        date: startedAt,
        xml: xml !== undefined,
        oauth: auth !== undefined,
      });
      if (capabilityByBase.size < 16) capabilityByBase.set(base, cs);
    }
    return send(reply, 200, cs);
  });

  // --- transaction ----------------------------------------------------------------------
  app.post('/', async (req, reply) => {
    const sent = requireResourceBody(req);
    if (auth && sent.resourceType === 'Bundle') {
      const entries = Array.isArray(sent.entry) ? sent.entry : [];
      const types = new Set(entries.map((e) => (isObject(e) && isObject(e.resource) && typeof e.resource.resourceType === 'string' ? e.resource.resourceType : '')).filter((t) => t !== ''));
      requireAccess(req, 'write', ...types);
      requireFiness(req, ownerOf(sent));
    } else requireAccess(req, 'write', '*');
    const result = await deps.transaction(req.body);
    const prefer = preferReturn(req.headers.prefer);
    let body = result.body;
    if (result.status < 300 && body.resourceType === 'Bundle') {
      body = await applyPreferToTransaction(absoluteFullUrls(body, baseUrlOf(req)), prefer, repo);
    }
    const headers: Record<string, string> = {};
    if (result.submissionId) headers['x-tddui-submission'] = result.submissionId;
    return send(reply, result.status, body, headers);
  });

  // --- $validate ------------------------------------------------------------------------
  const validateHandler = async (req: FastifyRequest, reply: FastifyReply, type?: string) => {
    requireResourceBody(req);
    const { resource, profile } = validateInput(req.body, (req.query as Record<string, unknown>).profile);
    if (type !== undefined) {
      if (!isResourceType(type, validator)) throw unknownType(type, validator);
      if (resource.resourceType !== type) {
        throw new FhirHttpError(400, 'invalid', `The resource to validate is a ${String(resource.resourceType)}, not a ${type}`, {
          text: `La ressource à valider est de type ${String(resource.resourceType)} et non ${type}`,
        });
      }
    }
    if (profile !== undefined && !validator.resolveProfile(profile)) {
      throw new FhirHttpError(400, 'not-found', `Unknown profile: ${profile}`, { text: `Profil inconnu : ${profile}`, expression: 'profile' });
    }
    const outcome = validator.validateToOutcome(resource, profile ? { profile } : {});
    return send(reply, 200, outcome);
  };
  app.post('/$validate', (req, reply) => validateHandler(req, reply));
  app.post<{ Params: { type: string } }>('/:type/$validate', (req, reply) => validateHandler(req, reply, req.params.type));

  // --- history --------------------------------------------------------------------------
  const historyHandler = async (req: FastifyRequest, reply: FastifyReply, type?: string, id?: string) => {
    const pairs = queryPairs(req.url);
    const q = parseHistory(type, id, pairs);
    const h = await repo.history(q);
    if (id !== undefined && h.entries.length === 0 && q.offset === 0 && q.since === undefined) await repo.read(type!, id); // 404 when unknown
    const base = baseUrlOf(req);
    const pageUrl = [base, type, id, '_history'].filter((x) => x !== undefined).join('/');
    return send(reply, 200, historyBundle(base, h, { pageUrl, pairs, count: q.count, offset: q.offset, pageSize: h.entries.length }, now()));
  };
  app.get('/_history', (req, reply) => {
    requireAccess(req, 'read', '*');
    return historyHandler(req, reply);
  });
  app.get<{ Params: { type: string } }>('/:type/_history', async (req, reply) => {
    checkType(req.params.type, req);
    requireAccess(req, 'read', req.params.type);
    return historyHandler(req, reply, req.params.type);
  });
  app.get<{ Params: { type: string; id: string } }>('/:type/:id/_history', async (req, reply) => {
    checkType(req.params.type, req);
    checkId(req.params.type, req.params.id, req.method);
    requireAccess(req, 'read', req.params.type);
    return historyHandler(req, reply, req.params.type, req.params.id);
  });

  // --- submitted Bundles (read-only, from the submission log) ---------------------------
  app.get<{ Params: { id: string } }>('/Bundle/:id', async (req, reply) => {
    const { id } = req.params;
    if (id === '_history') throw bundleOnlyReadSearch(req);
    checkId('Bundle', id, req.method);
    requireAccess(req, 'read', 'Bundle');
    const sub = await repo.getSubmission(id);
    const bundle = sub ? submittedBundle(sub) : undefined;
    if (!sub || !bundle) {
      const what = sub ? ` (submission ${id} is a ${isObject(sub.bundle) ? String(sub.bundle.resourceType) : 'body that is not a resource'}, not a Bundle)` : '';
      const whatFr = sub ? ` (l'envoi ${id} est de type ${isObject(sub.bundle) ? String(sub.bundle.resourceType) : 'inconnu'}, pas un Bundle)` : '';
      throw new FhirHttpError(404, 'not-found', `Bundle/${id} does not exist${what}`, { text: `Bundle/${id} n'existe pas${whatFr}` });
    }
    const headers = { etag: etag(1), 'last-modified': httpDate(sub.receivedAt) };
    if (notModified(req, 1)) return reply.code(304).headers(headers).send();
    return send(reply, 200, bundle, headers);
  });
  const bundleSearchHandler = async (req: FastifyRequest, reply: FastifyReply) => {
    requireAccess(req, 'read', 'Bundle');
    const pairs = searchPairs(req);
    const q = parseBundleSearch(pairs);
    const page = await bundlePage(repo, q);
    return send(reply, 200, bundleSearchset(baseUrlOf(req), pairs, q, page, now()));
  };
  app.get('/Bundle', bundleSearchHandler);
  app.post('/Bundle/_search', bundleSearchHandler);

  // --- read / vread ---------------------------------------------------------------------
  app.get<{ Params: { type: string; id: string } }>('/:type/:id', async (req, reply) => {
    const { type, id } = req.params;
    checkType(type, req);
    checkId(type, id, req.method);
    requireAccess(req, 'read', type);
    const rec = await repo.read(type, id);
    if (notModified(req, rec.versionId)) {
      return reply.code(304).headers(versionHeaders(rec)).send();
    }
    return send(reply, 200, rec.resource, versionHeaders(rec));
  });
  app.get<{ Params: { type: string; id: string; vid: string } }>('/:type/:id/_history/:vid', async (req, reply) => {
    const { type, id, vid } = req.params;
    checkType(type, req);
    checkId(type, id, req.method);
    requireAccess(req, 'read', type);
    if (!/^\d{1,9}$/.test(vid)) {
      throw new FhirHttpError(404, 'not-found', `${type}/${id} has no version "${vid}"`, { text: `${type}/${id} n'a pas de version « ${vid} »` });
    }
    const rec = await repo.vread(type, id, Number(vid));
    return send(reply, 200, rec.resource, versionHeaders(rec));
  });

  // --- search ---------------------------------------------------------------------------
  const searchHandler = async (req: FastifyRequest, reply: FastifyReply, type: string) => {
    checkType(type, req);
    const pairs = searchPairs(req);
    const query = parseSearch(type, pairs);
    // The types asked for are checked first; an `_include` without a target type, by what it found.
    requireAccess(req, 'read', type, ...(query.revinclude ?? []).map((i) => i.sourceType), ...(query.include ?? []).flatMap((i) => (i.targetType ? [i.targetType] : [])));
    const result = await repo.search(query);
    requireAccess(req, 'read', ...new Set(result.included.map((r) => r.resourceType)));
    const base = baseUrlOf(req);
    const bundle = searchsetBundle(base, result, { pageUrl: `${base}/${type}`, pairs, count: query.count, offset: query.offset, pageSize: result.matches.length }, now());
    return send(reply, 200, bundle);
  };
  app.get<{ Params: { type: string } }>('/:type', (req, reply) => searchHandler(req, reply, req.params.type));
  app.post<{ Params: { type: string } }>('/:type/_search', (req, reply) => searchHandler(req, reply, req.params.type));

  // --- v1 flow 1: create a DocumentReference --------------------------------------------
  app.post<{ Params: { type: string } }>('/:type', async (req, reply) => {
    const { type } = req.params;
    checkType(type, req);
    if (!WRITABLE_TYPES.has(type)) throw methodNotAllowed(req, type, ['GET']);
    const resource = requireResourceBody(req);
    requireAccess(req, 'write', type);
    if (auth) requireFiness(req, ownerOfResource(resource));
    const receivedAt = now().toISOString();
    // Every create that carries a resource is logged (accepted or rejected), like transactions.
    const rejectLogged = async (status: number, outcome: FhirResource, headers: Record<string, string> = {}) => {
      const submissionId = await logDocumentSubmission(repo, req, resource, { status, outcome }, receivedAt);
      return send(reply, status, outcome, submissionId ? { ...headers, 'x-tddui-submission': submissionId } : headers);
    };
    if (resource.resourceType !== type) {
      const e = new FhirHttpError(400, 'invalid', `The body is a ${String(resource.resourceType)}, not a ${type}`, {
        text: `Le corps de la requête est de type ${String(resource.resourceType)} et non ${type}`,
      });
      return rejectLogged(400, e.toOutcome());
    }
    // The server assigns id and version (FHIR create ignores what the client sent).
    const toStore = withoutServerFields(resource);
    const report = validator.validate(toStore);
    const outcome = toOperationOutcome(report.issues) as unknown as FhirResource;
    if (!report.valid) return rejectLogged(422, outcome);
    const rec = await repo.create(toStore);
    // A document whose masterIdentifier is already stored (same organisation) is a resend:
    // the repository stores a new version of it, answered 200 as an update would be.
    const status = rec.versionId > 1 ? 200 : 201;
    const headers = versionHeaders(rec, baseUrlOf(req));
    const submissionId = await logDocumentSubmission(repo, req, resource, { status, outcome, stored: rec }, receivedAt);
    if (submissionId) headers['x-tddui-submission'] = submissionId;
    return sendWritten(reply, status, rec, preferReturn(req.headers.prefer), outcome, headers);
  });

  // --- v1 flow 3: PATCH a DocumentReference ---------------------------------------------
  app.patch<{ Params: { type: string; id: string } }>('/:type/:id', async (req, reply) => {
    const { type, id } = req.params;
    checkType(type, req);
    if (!WRITABLE_TYPES.has(type)) throw methodNotAllowed(req, type, ['GET']);
    checkId(type, id, req.method);
    requireAccess(req, 'write', type);
    const ifMatch = parseIfMatch(req.headers['if-match']);
    const apply = patchFunction(req, deps);
    // Without If-Match the client asked for no locking: a concurrent write is retried on the new version.
    for (let attempt = 0; ; attempt++) {
      const current = await repo.read(type, id);
      // The document must be the client's, before and after the patch.
      if (auth) requireFiness(req, ownerOfResource(current.resource));
      if (ifMatch !== undefined && ifMatch !== current.versionId) {
        throw new FhirHttpError(412, 'conflict', `Version mismatch: If-Match ${etag(ifMatch)} but ${type}/${id} is at ${etag(current.versionId)}`, {
          text: `Conflit de version : If-Match ${etag(ifMatch)} alors que ${type}/${id} est à la version ${etag(current.versionId)}`,
        });
      }
      const patched = apply(structuredClone(current.resource));
      if (!isObject(patched) || patched.resourceType !== type || patched.id !== id) {
        throw new FhirHttpError(422, 'processing', 'A patch must not change the resource type or id', {
          text: 'Un patch ne doit modifier ni le type ni l\u2019identifiant (id) de la ressource',
        });
      }
      // IG v1, description_flux_3: application-level changes of a PATCH are limited to `content`.
      const changed = changedOutsideContent(current.resource, patched);
      if (changed.length) return send(reply, 422, contentOnlyOutcome(type, changed));
      if (auth) requireFiness(req, ownerOfResource(patched));
      const toStore = withoutServerFields(patched) as FhirResource & { id: string };
      toStore.id = id;
      const report = validator.validate(toStore);
      const outcome = validator.validateToOutcome(toStore);
      if (!report.valid) return send(reply, 422, outcome);
      try {
        const rec = await repo.update(toStore, { ifMatch: current.versionId });
        return sendWritten(reply, 200, rec, preferReturn(req.headers.prefer), outcome, versionHeaders(rec));
      } catch (e) {
        if (ifMatch === undefined && attempt < 3 && (e as { status?: number }).status === 412) continue;
        throw e;
      }
    }
  });

  async function sendWritten(
    reply: FastifyReply,
    status: number,
    rec: ResourceRecord,
    prefer: PreferReturn | undefined,
    outcome: FhirResource | object,
    headers: Record<string, string>,
  ) {
    if (prefer === 'minimal') {
      for (const [k, v] of Object.entries(headers)) reply.header(k, v);
      return reply.code(status).send();
    }
    if (prefer === 'OperationOutcome') return send(reply, status, outcome, headers);
    return send(reply, status, rec.resource, headers);
  }
}

/** The query's parameters, plus the form body of a `POST …/_search` (any other body is a 415). */
function searchPairs(req: FastifyRequest): [string, string][] {
  const pairs = queryPairs(req.url);
  if (req.method === 'POST') {
    if (req.body instanceof URLSearchParams) pairs.push(...req.body);
    else if (req.body !== undefined && req.body !== null && req.body !== '') {
      throw new FhirHttpError(415, 'not-supported', 'POST _search takes application/x-www-form-urlencoded parameters', {
        text: 'POST _search attend des paramètres application/x-www-form-urlencoded',
      });
    }
  }
  return pairs;
}

/** Whether `If-None-Match` names the current version (the answer is then a 304). */
function notModified(req: FastifyRequest, versionId: number): boolean {
  const inm = req.headers['if-none-match'];
  return !!inm && inm.split(',').some((t) => t.trim() === etag(versionId));
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function notAllowed(req: FastifyRequest, allowed: string[]): FhirHttpError {
  const path = req.url.split('?')[0]!;
  return new FhirHttpError(405, 'not-supported', `${req.method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`, {
    text: `La méthode ${req.method} n'est pas permise sur ${path} (permises : ${allowed.join(', ')})`,
    headers: { allow: allowed.join(', ') },
  });
}

function patchFunction(req: FastifyRequest, deps: FhirApiDeps): (r: FhirResource) => FhirResource {
  const body = req.body;
  if (req.fhirBodyKind === 'json-patch') {
    if (!Array.isArray(body)) {
      throw new FhirHttpError(400, 'structure', 'A JSON Patch body must be an array of operations', { text: 'Un corps JSON Patch doit être un tableau d\u2019opérations' });
    }
    return (r) => deps.applyJsonPatch(r, body);
  }
  if (req.fhirBodyKind === 'json' || req.fhirBodyKind === 'xml') {
    if (!isObject(body) || body.resourceType !== 'Parameters') {
      throw new FhirHttpError(400, 'structure', 'A FHIRPath Patch body must be a Parameters resource (or send application/json-patch+json)', {
        text: 'Un corps FHIRPath Patch doit être une ressource Parameters (ou envoyer application/json-patch+json)',
      });
    }
    return (r) => deps.applyFhirPathPatch(r, body);
  }
  throw new FhirHttpError(415, 'not-supported', 'PATCH takes application/json-patch+json (JSON Patch) or a FHIRPath Patch Parameters resource', {
    text: 'PATCH attend application/json-patch+json (JSON Patch) ou une ressource Parameters (FHIRPath Patch)',
  });
}

/** The body as a FHIR resource (an object with a resourceType), or a 400. */
function requireResourceBody(req: FastifyRequest): FhirResource {
  const body = req.body;
  if (req.fhirBodyKind !== 'json' && req.fhirBodyKind !== 'xml') {
    if (body === undefined || body === null) {
      throw new FhirHttpError(400, 'structure', 'The request has no body (expected a FHIR resource in application/fhir+json or application/fhir+xml)', {
        text: 'La requête n\u2019a pas de corps (ressource FHIR attendue en application/fhir+json ou application/fhir+xml)',
      });
    }
    throw new FhirHttpError(415, 'not-supported', 'Expected a FHIR resource in application/fhir+json or application/fhir+xml', {
      text: 'Ressource FHIR attendue en application/fhir+json ou application/fhir+xml',
    });
  }
  if (!isObject(body) || typeof body.resourceType !== 'string') {
    throw new FhirHttpError(400, 'structure', 'The body is not a FHIR resource (a JSON object with a resourceType)', {
      text: 'Le corps n\u2019est pas une ressource FHIR (objet JSON avec resourceType)',
    });
  }
  return body as FhirResource;
}

function validateInput(body: unknown, queryProfile: unknown): { resource: FhirResource; profile?: string } {
  const b = body as FhirResource;
  let resource = b;
  let profile = typeof queryProfile === 'string' && queryProfile !== '' ? queryProfile : undefined;
  if (b.resourceType === 'Parameters' && Array.isArray(b.parameter)) {
    const params = b.parameter as Record<string, unknown>[];
    const res = params.find((p) => p.name === 'resource');
    if (res) {
      if (!isObject(res.resource) || typeof res.resource.resourceType !== 'string') {
        throw new FhirHttpError(400, 'structure', 'The "resource" parameter must carry a resource', {
          text: 'Le paramètre « resource » doit contenir une ressource',
          expression: 'Parameters.parameter.resource',
        });
      }
      resource = res.resource as FhirResource;
      const p = params.find((x) => x.name === 'profile');
      const v = p?.valueUri ?? p?.valueCanonical ?? p?.valueString;
      if (typeof v === 'string' && v !== '') profile = v;
      const mode = params.find((x) => x.name === 'mode');
      const m = mode?.valueCode ?? mode?.valueString;
      if (m !== undefined && m !== 'create' && m !== 'update') {
        throw new FhirHttpError(400, 'not-supported', `$validate mode "${String(m)}" is not supported (create or update)`, {
          text: `Le mode « ${String(m)} » de $validate n'est pas pris en charge (create ou update)`,
        });
      }
    }
  }
  return profile ? { resource, profile } : { resource };
}

/** Stable rule id of the v1 flow 3 restriction (PATCH changes only `content`). */
export const PATCH_CONTENT_ONLY_RULE = 'tddui-v1-patch-content-only';
/** Elements a v1 PATCH may change: the document itself, and meta (managed by the server). */
const PATCHABLE = new Set(['content', 'meta', 'resourceType', 'id']);

/** JSON equality, independent of key order (a patch may rebuild an object). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (!isObject(a) || !isObject(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameJson(a[k], b[k]));
}

/** Top-level elements other than `content` / `meta` that differ between the stored and the patched resource. */
export function changedOutsideContent(stored: FhirResource, patched: FhirResource): string[] {
  const keys = new Set([...Object.keys(stored), ...Object.keys(patched)]);
  // `_status` (a primitive's id/extensions) belongs to `status`.
  const names = [...keys].filter((k) => !PATCHABLE.has(k.replace(/^_/, '')) && !sameJson(stored[k], patched[k])).map((k) => k.replace(/^_/, ''));
  return [...new Set(names)].sort();
}

function contentOnlyOutcome(type: string, changed: string[]): FhirResource {
  return toOperationOutcome(
    changed.map((name) => ({
      severity: 'error' as const,
      code: 'business-rule' as const,
      rule: PATCH_CONTENT_ONLY_RULE,
      message: `A PATCH of a ${type} (TDDUI v1 flow 3) may only change content (the document); it changes ${type}.${name}`,
      messageFr: `Un PATCH de ${type} (flux 3 de TDDUI v1) ne peut modifier que content (le document) ; celui-ci modifie ${type}.${name}`,
      expression: `${type}.${name}`,
      source: 'TDDUI v1 (1.1.0), description_flux_3',
    })),
  ) as unknown as FhirResource;
}

function withoutServerFields(resource: FhirResource): FhirResource {
  const copy: FhirResource = { ...resource };
  delete copy.id;
  if (isObject(copy.meta)) {
    const meta = { ...copy.meta };
    delete meta.versionId;
    delete meta.lastUpdated;
    if (Object.keys(meta).length) copy.meta = meta;
    else delete copy.meta;
  }
  return copy;
}

function checkId(type: string, id: string, method?: string): void {
  if (!ID_PATTERN.test(id)) {
    // `GET /fhir/Task/_search`, `PATCH /fhir/DocumentReference/_history`: an endpoint, not an id.
    if (method && (id === '_search' || id === '$validate' || id === '_history')) {
      const allowed = id === '_history' ? ['GET'] : ['POST'];
      throw new FhirHttpError(405, 'not-supported', `${method} is not allowed on ${type}/${id} (allowed: ${allowed.join(', ')})`, {
        text: `La méthode ${method} n'est pas permise sur ${type}/${id} (permises : ${allowed.join(', ')})`,
        headers: { allow: allowed.join(', ') },
      });
    }
    throw new FhirHttpError(404, 'not-found', `${type}/${id} does not exist (not a valid FHIR id)`, {
      text: `${type}/${id} n'existe pas (identifiant FHIR invalide)`,
    });
  }
}

function isResourceType(type: string, validator: TdduiValidator): boolean {
  const sd = validator.engine.registry.resolve<CanonicalResource & { kind?: string; derivation?: string; type?: string }>(
    `http://hl7.org/fhir/StructureDefinition/${type}`,
    'StructureDefinition',
  );
  return sd?.kind === 'resource' && sd.derivation !== 'constraint' && sd.type === type;
}

function unknownType(type: string, validator: TdduiValidator): FhirHttpError {
  if (isResourceType(type, validator)) {
    return new FhirHttpError(404, 'not-supported', `Resource type ${type} is not served by this server (see /fhir/metadata)`, {
      text: `Le type de ressource ${type} n'est pas servi par ce serveur (voir /fhir/metadata)`,
    });
  }
  return new FhirHttpError(404, 'not-found', `Unknown resource type: ${type}`, { text: `Type de ressource inconnu : ${type}` });
}

function bundleOnlyReadSearch(req: FastifyRequest): FhirHttpError {
  const path = req.url.split('?')[0]!;
  return new FhirHttpError(404, 'not-supported', `${req.method} ${path}: submitted Bundles support only read (GET /fhir/Bundle/{id}) and search (GET /fhir/Bundle)`, {
    text: `${req.method} ${path} : les Bundles reçus ne permettent que la lecture (GET /fhir/Bundle/{id}) et la recherche (GET /fhir/Bundle)`,
  });
}

function methodNotAllowed(req: FastifyRequest, type: string, allowed: string[]): FhirHttpError {
  return new FhirHttpError(405, 'not-supported', `${req.method} is not allowed on ${type} (only DocumentReference accepts create and PATCH; send data as a transaction Bundle to POST /fhir)`, {
    text: `La méthode ${req.method} n'est pas permise sur ${type} (seul DocumentReference accepte création et PATCH ; envoyer les données en Bundle transaction sur POST /fhir)`,
    headers: { allow: allowed.join(', ') },
  });
}

/** Methods the API has for a path shape (segments after /fhir), for 405 answers. */
function allowedMethods(seg: string[], served: Set<string>, validator: TdduiValidator): string[] | 'unknown-type' | undefined {
  if (seg.length === 0) return ['POST'];
  if (seg.length === 1 && seg[0] === 'metadata') return ['GET'];
  if (seg.length === 1 && seg[0] === '_history') return ['GET'];
  if (seg.length === 1 && seg[0] === '$validate') return ['POST'];
  const type = seg[0]!;
  if (!/^[A-Z][A-Za-z]+$/.test(type)) return undefined;
  // Submitted Bundles: read and search only (no history, no writes).
  if (type === 'Bundle') {
    if (seg.length === 1) return ['GET'];
    if (seg.length === 2 && (seg[1] === '_search' || seg[1] === '$validate')) return ['POST'];
    if (seg.length === 2 && seg[1] !== '_history') return ['GET'];
    return [];
  }
  if (!served.has(type)) return seg[1] === '$validate' && isResourceType(type, validator) ? ['POST'] : 'unknown-type';
  const writable = WRITABLE_TYPES.has(type);
  if (seg.length === 1) return writable ? ['GET', 'POST'] : ['GET'];
  if (seg.length === 2 && seg[1] === '_search') return ['POST'];
  if (seg.length === 2 && seg[1] === '$validate') return ['POST'];
  if (seg.length === 2 && seg[1] === '_history') return ['GET'];
  if (seg.length === 2) return writable ? ['GET', 'PATCH'] : ['GET'];
  if (seg.length === 3 && seg[2] === '_history') return ['GET'];
  if (seg.length === 4 && seg[2] === '_history') return ['GET'];
  return undefined;
}

/** Entry fullUrls of a transaction-response as absolute URLs (Bundle.entry.fullUrl is absolute in FHIR). */
function absoluteFullUrls(bundle: FhirResource, base: string): FhirResource {
  if (!Array.isArray(bundle.entry)) return bundle;
  const entry = (bundle.entry as Record<string, unknown>[]).map((e) =>
    typeof e.fullUrl === 'string' && /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(e.fullUrl) ? { ...e, fullUrl: `${base}/${e.fullUrl}` } : e,
  );
  return { ...bundle, entry };
}

/**
 * Prefer on a transaction applies to each entry: `representation` adds the stored resource,
 * `OperationOutcome` adds a per-entry outcome, `minimal` keeps only the response.
 */
async function applyPreferToTransaction(bundle: FhirResource, prefer: PreferReturn | undefined, repo: Repository): Promise<FhirResource> {
  if (!prefer || !Array.isArray(bundle.entry)) return bundle;
  const entries = bundle.entry as Record<string, unknown>[];
  const out = await Promise.all(
    entries.map(async (e) => {
      const copy = { ...e };
      const response = isObject(copy.response) ? { ...copy.response } : undefined;
      if (prefer === 'minimal') {
        delete copy.resource;
        return copy;
      }
      if (prefer === 'OperationOutcome') {
        delete copy.resource;
        if (response && !response.outcome) {
          response.outcome = operationOutcome({
            severity: 'information',
            code: 'informational',
            diagnostics: `Stored as ${String(response.location ?? '')}`,
            text: `Enregistré : ${String(response.location ?? '')}`,
          });
          copy.response = response;
        }
        return copy;
      }
      if (!copy.resource && typeof response?.location === 'string') {
        const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})\/_history\/(\d+)$/.exec(response.location);
        if (m) copy.resource = (await repo.vread(m[1]!, m[2]!, Number(m[3]))).resource;
      }
      return copy;
    }),
  );
  return { ...bundle, entry: out };
}
