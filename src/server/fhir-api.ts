// The FHIR REST API under /fhir, over HTTP: read, vread, history, search, create, update,
// patch, delete (instance and conditional), batch / transaction, $validate, /metadata and the
// submitted Bundles. The interactions themselves are src/rest/service.ts (one write path into
// storage); this file maps HTTP to them: routes, headers (If-Match, If-None-Match,
// If-Modified-Since, If-None-Exist, Prefer), formats, authorisation. Registered as an
// encapsulated Fastify plugin so its body parsers, 404 and error handling stay out of the web UI.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isObject, ID_PATTERN, type FhirResource, type Json } from '../fhir/json.js';
import { toOperationOutcome, type ValidationIssue } from '../fhir/outcome/issue.js';
import { findUnstorableText, findUnstorableTextIn, storableCopy, unstorableError } from '../fhir/text.js';
import { absoluteFullUrl } from '../fhir/bundle/references.js';
import type { CanonicalResource } from '../fhir/packages/registry.js';
import { SummaryDefinitions, selectElements, summarize } from '../fhir/summary.js';
import type { IgModule } from '../rest/modules.js';
import { conditionalReferences, parseCriteria, type FhirService, type PatchBody, type WriteAnswer } from '../rest/service.js';
import type { Interaction } from '../rest/served.js';
import type { Repository, ResourceRecord } from '../storage/types.js';
import type { TdduiValidator } from '../tddui/validator.js';
import { finessMentions, ownerOf, ownerOfResource } from '../tddui/business-keys.js';
import { typesInBundle, typesTouched } from './scopes.js';
import { readScope, requireUnrestricted, type Actor } from '../rest/access.js';
import type { ReadScope } from '../storage/scope.js';
import { circleProposals } from '../coordination/proposals.js';
import { conceptLabel } from '../ui/labels.js';
import { chosenVersions, usagerPpa } from '../ui/pages/projet-versions.js';
import { diffVersions } from '../ui/ppa-versions.js';
import { agendaRoutes } from './agenda-routes.js';
import { noteActor, noteBody } from './audit.js';
import { forbidden, type Access, type Authenticator, type Principal } from './auth.js';
import { buildCapabilityStatement } from './capability.js';
import { errorReply, toFhirError } from './errors.js';
import { CONTENT_TYPE, DeferredBody, FHIR_JSON_RESOURCE, isPretty, parseJsonBody, parseXmlBody, negotiateFormat, registerBodyParsers, sendResource, wantsRawBinary, type XmlCodec } from './format.js';
import { validateInput } from './validate-input.js';
import { leadingText, rebuildPieces, UnreadableBody, type ReadTransaction, type ValidationPool } from './validation-pool.js';
import { checkValueLimits, type Limits } from './limits.js';
import { FhirError, HTTP_ERRORS, operationOutcome } from './outcome.js';
import { etag, httpDate, parseIfMatch, preferReturn, type PreferReturn } from './prefer.js';
import { historyBundle, parseHistory, parseSearch, queryPairs, searchsetBundle, fullUrl, type Shaping } from './search.js';
import { bundlePage, bundleSearchset, parseBundleSearch, submittedBundle } from './submitted-bundles.js';

export interface FhirApiDeps {
  repo: Repository;
  /** The TDDUI validator ($validate, profile names). */
  validator: TdduiValidator;
  /** The interactions over the write path. */
  service: FhirService;
  xml?: XmlCodec;
  softwareVersion: string;
  now?: () => Date;
  /** OAuth 2.0 bearer tokens (src/server/auth.ts): when absent, the API is open. */
  auth?: Authenticator;
  /** The public base URL links are built from (BuildOptions.publicUrl). */
  publicUrl?: string;
  /** Behind a trusted proxy: the forwarded host is trusted for links (BuildOptions.trustProxy). */
  trustProxy?: boolean;
  /** Validation off the event loop (BuildOptions.validationPool). */
  validationPool?: ValidationPool;
  /** The entries, array and string limits of a body (checked here on a body left to a worker that could not read it after all). */
  valueLimits?: Pick<Limits, 'bundleEntries' | 'arrayLength' | 'stringLength'>;
}

/** A `$validate` body larger than this is not parsed on the main thread when a validation worker can read it. */
export const DEFER_VALIDATE_BYTES = 256 * 1024;
/** A transaction body larger than this is read and checked by a validation worker, never parsed here when refused (D-286). */
export const DEFER_TRANSACTION_BYTES = 256 * 1024;
/** Bodies over this many bytes are read by a validation worker (when one is ready): see BodyParserOptions.parseElsewhere. */
export const PARSE_ELSEWHERE_BYTES = 256 * 1024;

/**
 * GET entries of a batch or transaction answered by the GET routes themselves (an injected
 * request with the client's Host, Authorization and Accept-Language): the same search, paging
 * links, `_summary` and access checks as a plain GET.
 */
function entryReader(app: FastifyInstance, req: FastifyRequest) {
  return async (url: string) => {
    const headers: Record<string, string> = { accept: 'application/fhir+json' };
    for (const h of ['host', 'authorization', 'accept-language', 'x-forwarded-proto', 'x-forwarded-host']) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const res = await app.inject({ method: 'GET', url: `${app.prefix}/${url}`, headers });
    const type = String(res.headers['content-type'] ?? '');
    const body = /json/.test(type) && res.body ? (JSON.parse(res.body) as Json) : undefined;
    const etag = res.headers.etag;
    const lastModified = res.headers['last-modified'];
    return { status: res.statusCode, ...(body ? { body } : {}), headers: { etag: typeof etag === 'string' ? etag : undefined, 'last-modified': typeof lastModified === 'string' ? lastModified : undefined } };
  };
}

const linkPolicies = new WeakMap<FastifyInstance, { publicUrl?: string; trustProxy: boolean }>();

/**
 * `http://host:port/fhir`: from the configured public URL; else from the Host the client used
 * when it names this machine (localhost, loopback, the address the request came in on); else
 * from that address. Any other Host (a client's choice) never reaches a link.
 */
export function baseUrlOf(req: FastifyRequest): string {
  const policy = linkPolicies.get(req.server);
  if (policy?.publicUrl) return `${policy.publicUrl}/fhir`;
  // Behind a trusted proxy (--trust-proxy) the forwarded host is the proxy's word.
  if (policy?.trustProxy) return `${req.protocol}://${req.host}/fhir`;
  const host = req.host;
  const local = req.socket?.localAddress;
  const port = req.socket?.localPort;
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  if (name === 'localhost' || /^127\./.test(name) || name === '::1' || (local !== undefined && name === local.replace(/^::ffff:/, ''))) return `${req.protocol}://${host}/fhir`;
  if (local === undefined) return `${req.protocol}://localhost/fhir`;
  const addr = local.replace(/^::ffff:/, '');
  return `${req.protocol}://${addr.includes(':') ? `[${addr}]` : addr}:${port}/fhir`;
}

type Target = { id: string } | { criteria: string };

/** Bytes of each write of a large serialised answer (sendJsonBytes). */
const SEND_SLICE = 256 * 1024;

function* slices(buf: Buffer): Generator<Buffer> {
  for (let at = 0; at < buf.length; at += SEND_SLICE) yield buf.subarray(at, at + SEND_SLICE);
}

/** Characters kept of an unreadable transaction body in the submission log. */
const UNREADABLE_KEPT = 64 * 1024;

export async function fhirApi(app: FastifyInstance, deps: FhirApiDeps): Promise<void> {
  const { repo, validator, xml, service } = deps;
  const now = deps.now ?? (() => new Date());
  const served = service.served.types;
  const startedAt = now().toISOString();
  const capabilityByBase = new Map<string, FhirResource>();
  const summaries = new SummaryDefinitions();

  const pool = deps.validationPool;
  const isValidate = (req: FastifyRequest) => req.method === 'POST' && req.url.split('?')[0]!.endsWith('$validate');
  const isTransaction = (req: FastifyRequest) => req.method === 'POST' && req.url.split('?')[0]!.replace(/\/+$/, '') === '/fhir';
  // (The workers tell which module claims a Bundle: only when they know every module that may.)
  const workersKnowBundles = () => service.modules.every((m) => !m.bundle || pool!.bundleModules.includes(m.name));
  registerBodyParsers(app, xml, {
    // A large `$validate` body: read by a worker, never parsed here. A large transaction: read and
    // checked by a worker, the tree built here only to be stored (D-286). A small transaction's text: for its worker.
    defer: (req, bytes) =>
      pool !== undefined && pool.ready && ((bytes > DEFER_VALIDATE_BYTES && isValidate(req)) || (bytes > DEFER_TRANSACTION_BYTES && isTransaction(req) && workersKnowBundles())),
    // A transaction's JSON bytes: for its worker, and the submission log's text of the Bundle (D-315).
    // A JSON `$validate`'s: whether the resource need be walked for unstorable text (D-346).
    keepBytes: (req, format) => isTransaction(req) || (format === 'json' && isValidate(req)),
    // Any other large body: read (checked, parsed, XML converted) by a worker; the tree is rebuilt here in slices.
    parseElsewhere: (_req, bytes, format, keepJson) => (pool !== undefined && pool.ready && bytes.length > PARSE_ELSEWHERE_BYTES ? pool.parseBody(bytes, format, { keepJson }) : undefined),
  });
  linkPolicies.set(app, { ...(deps.publicUrl ? { publicUrl: deps.publicUrl.replace(/\/+$/, '') } : {}), trustProxy: deps.trustProxy === true });

  // Response format first, so that even a rejection comes in the format asked for.
  app.addHook('onRequest', async (req) => {
    req.fhirFormat = 'json';
    const query = (req.query ?? {}) as Record<string, unknown>;
    // A Binary's bytes (ITI-68): errors still come as JSON OperationOutcomes.
    if (wantsRawBinary(req.method, req.url, query, req.headers.accept)) req.fhirRawBinary = true;
    else req.fhirFormat = negotiateFormat(query, req.headers.accept, xml !== undefined);
  });

  app.setErrorHandler(async (err, req, reply) => {
    // A transaction whose body could not be read (not JSON, not FHIR XML, empty) is kept in the
    // submission log too, as unreadable (issue 20): a receiver sees that a vendor sends garbage.
    if (req.fhirUnreadableBody !== undefined && req.method === 'POST' && req.url.split('?')[0]!.replace(/\/+$/, '') === '/fhir') await logUnreadable(req, err);
    return errorReply(err, req, reply, xml);
  });

  /** Logs an unreadable transaction body: its text (bounded, storable) and the reason. Never fails the answer. */
  const logUnreadable = async (req: FastifyRequest, err: unknown): Promise<void> => {
    const known = toFhirError(err, req);
    if (!known || known.status >= 500) return;
    try {
      const client = clientOf(req);
      const text = req.fhirUnreadableBody!;
      await repo.recordSubmission({
        receivedAt: now().toISOString(),
        usagers: [],
        resourceCount: 0,
        outcome: 'rejected',
        httpStatus: known.status,
        errorCount: 1,
        warningCount: 0,
        // The raw text, cut at 64 KiB, NUL and lone surrogates replaced: what the database can
        // store, wrapped in an object (a JSON string alone would read back as JSON text).
        bundle: { unreadableBody: storableCopy(text.length > UNREADABLE_KEPT ? text.slice(0, UNREADABLE_KEPT) : text) },
        report: storableCopy(known.toOutcome()),
        ...(client !== undefined ? { client } : {}),
      });
    } catch (e) {
      req.log.error({ err: { code: (e as { code?: unknown }).code, name: (e as Error).name } }, 'the unreadable submission could not be logged');
    }
  };

  // Every request but /metadata (which says how to authenticate) carries a valid token.
  const principals = new WeakMap<FastifyRequest, Principal>();
  const auth = deps.auth;
  if (auth) {
    app.addHook('onRequest', async (req) => {
      if (req.method === 'GET' && req.url.split('?')[0]!.replace(/\/+$/, '') === '/fhir/metadata') return;
      const principal = await auth.authenticate(req.headers.authorization);
      principals.set(req, principal);
      noteActor(req, principal);
      req.tdduiClient = principal.subject;
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
  const requireFiness = (req: FastifyRequest, finess: string | undefined, expression?: string): void => {
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
      req.log.warn({ client: p.label, finess, expression }, 'write refused: FINESS not granted to the client');
      throw forbidden(
        `This client may send data for FINESS ${allowed}, not for FINESS ${finess}${expression ? ` (named at ${expression})` : ''}`,
        `Ce client peut envoyer des données ${p.finess.size === 0 ? 'pour aucun FINESS' : p.finess.size === 1 ? `pour le FINESS ${allowed}` : `pour les FINESS ${allowed}`}, pas pour le FINESS ${finess}${expression ? ` (nommé en ${expression})` : ''}`,
        expression,
      );
    }
  };
  /**
   * The writer's binding, in the data too (issue 21): the data's ESSMS, and every FINESS its
   * Organizations and business identifiers name (finessMentions), must be the client's — so a
   * client cannot file objects under another facility's identifiers by prepending its own
   * Organization.
   */
  const requireFinessOfData = (req: FastifyRequest, owner: string | undefined, data: unknown): void => {
    requireFiness(req, owner);
    for (const m of finessMentions(data)) requireFiness(req, m.finess, m.expression);
  };
  /** The client as the submission log records it (undefined on an open server). */
  const clientOf = (req: FastifyRequest): string | undefined => principals.get(req)?.label;
  /** The FINESS guard of writes (the resource, before and after a change, must be the client's). */
  const finessGuard = (req: FastifyRequest) =>
    auth
      ? (resource: FhirResource, current: ResourceRecord | undefined) => {
          if (current) requireFiness(req, ownerOfResource(current.resource));
          requireFinessOfData(req, ownerOfResource(resource), resource);
        }
      : undefined;

  // The access-rule seam (src/rest/access.ts): the circle of care for persons' tokens, and
  // whatever rule is registered later; asked on every read, search, include, history and write.
  const access = service.access;
  const actorOf = (req: FastifyRequest): Actor | undefined => {
    const p = principals.get(req);
    return p ? { subject: p.subject, ...(p.fhirUser ? { fhirUser: p.fhirUser } : {}), ...(p.readScope ? { scope: p.readScope } : {}) } : undefined;
  };
  /** The organisations and territories the request's token may read (undefined: not restricted; src/rest/access.ts). */
  const scopeOf = (req: FastifyRequest): ReadScope | undefined => readScope(actorOf(req));
  const scoped = (req: FastifyRequest): { scope?: ReadScope } => {
    const scope = scopeOf(req);
    return scope ? { scope } : {};
  };
  /** A generated type (Slots computed from the agendas) has no owner: refused to a restricted token. */
  const computedFor = (req: FastifyRequest, type: string) => {
    const computed = service.computed(type);
    if (computed) requireUnrestricted(actorOf(req), { en: `Reading ${type} (generated from the agendas)`, fr: `La lecture de ${type} (généré à partir des agendas)` });
    return computed;
  };
  /** The FINESS rule applies unless an access rule governs the type for this actor (a person on the circle's data). */
  const finessApplies = (req: FastifyRequest, type: string): boolean => !!auth && !access.governs(actorOf(req), type);
  /** A write may not move a governed resource to another usager than the one checked (sync, inside the plan). */
  const sameSubjectGuard = (req: FastifyRequest, type: string, checked: FhirResource | undefined) => {
    const actor = actorOf(req);
    if (!access.governs(actor, type)) return finessGuard(req);
    return (resource: FhirResource, current: ResourceRecord | undefined): void => {
      const before = JSON.stringify(subjectOf(checked ?? current?.resource));
      if (JSON.stringify(subjectOf(resource)) !== before) {
        throw forbidden('This write changes the usager the resource is about, which the access check did not cover', 'Cette écriture change l’usager concerné par la ressource, ce que le contrôle d’accès n’a pas couvert');
      }
    };
  };

  app.setNotFoundHandler((req) => {
    const path = req.url.split('?')[0]!;
    const segments = path.replace(/^\/fhir\/?/, '').split('/').filter((x) => x !== '').map(safeDecode);
    const allowed = allowedMethods(segments, served, validator);
    if (allowed === 'unknown-type') throw unknownType(segments[0] ?? '', validator);
    if (segments[0] === 'Bundle' && !allowed?.length) throw bundleOnlyReadSearch(req);
    if (allowed?.length) throw notAllowed(req, allowed);
    throw new FhirError(HTTP_ERRORS.UNKNOWN_ENDPOINT, { method: req.method, path });
  });

  const send = (reply: FastifyReply, status: number, resource: object, headers?: Record<string, string>) => {
    noteBody(reply.request, resource); // the audit trail reads the Patients concerned from it
    return sendResource(reply, status, resource, xml, headers);
  };

  /**
   * A resource serialised elsewhere (a validation worker), as UTF-8 JSON: sent as it is when JSON
   * is asked for, else parsed and answered in the format asked (XML, pretty JSON).
   */
  const sendJsonBytes = (reply: FastifyReply, status: number, bytes: Uint8Array, headers: Record<string, string> = {}) => {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (reply.request.fhirFormat !== 'json' || isPretty(reply.request)) return send(reply, status, JSON.parse(buf.toString('utf8')) as object, headers);
    for (const [k, v] of Object.entries(headers)) reply.header(k, v);
    // A large answer (a 40 MB Bundle's refusal: 44 MiB) goes out in slices: the socket takes each
    // when it has drained the last, instead of one write the kernel copies for a quarter second.
    if (buf.length > 4 * SEND_SLICE) return reply.code(status).type(CONTENT_TYPE.json).header('content-length', String(buf.length)).send(Readable.from(slices(buf), { objectMode: false }));
    return reply.code(status).type(CONTENT_TYPE.json).send(buf);
  };

  /** 404 for a type not served — or 405 when the path is an endpoint with other methods (`GET /fhir/$validate`). */
  const checkType = (type: string, req: FastifyRequest, interaction?: Interaction): void => {
    const t = served.get(type);
    if (t && (!interaction || t.interactions.has(interaction))) return;
    const segments = req.url.split('?')[0]!.replace(/^\/fhir\/?/, '').split('/').filter((x) => x !== '').map(safeDecode);
    const allowed = allowedMethods(segments, served, validator);
    if (Array.isArray(allowed) && allowed.length) throw notAllowed(req, allowed);
    if (type === 'Bundle') throw bundleOnlyReadSearch(req);
    if (t && interaction) throw new FhirError(HTTP_ERRORS.INTERACTION_NOT_SERVED, { interaction, type });
    throw unknownType(type, validator);
  };

  /** How many other IGs offer a write interaction (an IG alone takes every Bundle). */
  const writersOtherThan = (ig: string): number => {
    const writers = new Set<string>();
    for (const t of served.values()) {
      for (const [other, set] of t.byIg) if (other !== ig && ['create', 'update', 'patch', 'delete'].some((i) => set.has(i as Interaction))) writers.add(other);
    }
    return writers.size;
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
        registry: validator.core.registry,
        served: service.served,
        params: repo.searchParams,
        baseUrl: base,
        softwareVersion: deps.softwareVersion,
        date: startedAt,
        xml: xml !== undefined,
        oauth: auth !== undefined,
        transactionModules: service.modules.filter((m) => m.bundle).map((m) => m.name),
        computed: (type: string) => service.computed(type),
        operations: service.modules.flatMap((m) => m.operations ?? []),
      });
      if (capabilityByBase.size < 16) capabilityByBase.set(base, cs);
    }
    return send(reply, 200, cs);
  });

  /** The first characters of a body that could not be read (what logUnreadable keeps), decoded without decoding it all. */
  const unreadableText = (bytes: Buffer): string => leadingText(bytes, UNREADABLE_KEPT);

  /**
   * A transaction body left to a worker (D-286): read, limit-checked and — when an IG that checks
   * its own Bundles claims it (TDDUI) — checked there, refusal included; see ReadBundle.
   * `undefined`: no worker ready any more.
   */
  const readTransaction = async (req: FastifyRequest, body: DeferredBody, at: Date, treeOnRefusal: boolean): Promise<ReadTransaction | undefined> => {
    const alone = Object.fromEntries(service.modules.filter((m) => m.bundle).map((m) => [m.name, writersOtherThan(m.name) === 0]));
    // The bytes move to the worker (no copy here) unless an access rule may need them read again (mayReadAgain).
    const move = !mayReadAgain(req);
    try {
      return await pool!.readTransaction(body.bytes, body.format, { now: at, alone, mentions: auth !== undefined && principals.has(req), treeOnRefusal, move, unreadableChars: UNREADABLE_KEPT });
    } catch (e) {
      if (!(e instanceof UnreadableBody)) throw e;
      req.fhirUnreadableBody = e.text;
      throw e.error;
    }
  };
  /** Whether an access rule governs some type for this request's token: its per-entry checks may need the entries (a second read). */
  const mayReadAgain = (req: FastifyRequest): boolean => auth !== undefined && principals.has(req) && access.rules.length > 0;
  /** A transaction body left to a worker, read here after all (no worker ready any more): the body parser's answers. */
  const readHere = (req: FastifyRequest, body: DeferredBody): unknown => {
    let value: unknown;
    try {
      value = body.format === 'json' ? parseJsonBody(body.bytes.toString('utf8'), FHIR_JSON_RESOURCE) : parseXmlBody(body.bytes.toString('utf8'), xml!);
    } catch (e) {
      req.fhirUnreadableBody = unreadableText(body.bytes);
      throw e;
    }
    if (body.format === 'json') req.fhirBodyBytes = body.bytes;
    if (isObject(value) && deps.valueLimits) checkValueLimits(value, deps.valueLimits, typeof value.resourceType === 'string' ? value.resourceType : 'body');
    return value;
  };

  // --- transaction / batch --------------------------------------------------------------
  app.post('/', async (req, reply) => {
    let read: ReadTransaction | undefined;
    const at = new Date();
    if (req.body instanceof DeferredBody) {
      const deferred = req.body;
      read = await readTransaction(req, deferred, at, false);
      // A token whose access rules govern a type the entries write: those checks read the entries.
      if (read && !read.pieces && auth && read.writeTypes.some((t) => access.governs(actorOf(req), t))) read = await readTransaction(req, deferred, at, true);
      if (read === undefined) req.body = readHere(req, deferred);
      else if (read.resourceType === undefined) throw new FhirError(HTTP_ERRORS.BODY_NOT_RESOURCE);
      // The tree, rebuilt from the worker's pieces a slice per turn of the event loop — or, refused, only its stub.
      else req.body = read.pieces ? await rebuildPieces(read.pieces) : read.stub;
      // (The JSON bytes, back from the worker with the tree: the submission log's text, D-315.)
      if (read?.bytes) req.fhirBodyBytes = Buffer.from(read.bytes.buffer, read.bytes.byteOffset, read.bytes.byteLength);
    }
    const sent = requireResourceBody(req);
    // (A refused Bundle read by a worker: no entries here — the worker's summary stands for them.)
    const entries = read && !read.pieces ? [] : Array.isArray(sent.entry) ? sent.entry : [];
    if (auth && sent.resourceType === 'Bundle') {
      const types = read ? new Set(read.types) : new Set(entries.map((e) => (isObject(e) && isObject(e.resource) && typeof e.resource.resourceType === 'string' ? e.resource.resourceType : '')).filter((t) => t !== ''));
      requireAccess(req, 'write', ...types);
      const actor = actorOf(req);
      if ([...types].some((t) => !access.governs(actor, t))) {
        if (read) {
          requireFiness(req, read.owner);
          for (const m of read.mentions ?? []) requireFiness(req, m.finess, m.expression);
        } else requireFinessOfData(req, ownerOf(sent), sent);
      }
      await requireBundleWrites(req, entries);
    } else requireAccess(req, 'write', '*');
    const prefer = preferReturn(req.headers.prefer);
    // An IG that takes its own Bundles (TDDUI: flow 1, submissions logged) — alone, it takes them all.
    const claimer = read
      ? service.modules.find((m) => m.bundle && m.name === read.claimer)
      : service.modules.find((m) => m.bundle?.claims(sent, { alone: writersOtherThan(m.name) === 0 }));
    if (claimer?.bundle) {
      // (The IG's pipeline refuses unstorable text itself, and logs the refusal.)
      const client = clientOf(req);
      const bytes = req.fhirBodyBytes;
      const result = await claimer.bundle.handle(sent, {
        ...(client !== undefined ? { client } : {}),
        ...(bytes !== undefined ? { bytes } : {}),
        ...(read?.checked ? { checked: read.checked, at } : {}),
      });
      const headers: Record<string, string> = {};
      if (result.submissionId) headers['x-tddui-submission'] = result.submissionId;
      // A refusal serialised by a validation worker: its bytes as they are (in JSON), never walked here.
      if (result.bytes) return sendJsonBytes(reply, result.status, result.bytes, headers);
      let body = result.body;
      // An accepted Bundle's answer as plain JSON: its text from the parts the log's copy was made
      // of (the same text as serialising the Bundle with absolute fullUrls, D-336).
      if (result.json && result.status < 300 && !prefer && req.fhirFormat === 'json' && !isPretty(req)) {
        noteBody(req, body);
        return sendJsonBytes(reply, result.status, Buffer.from(result.json(baseUrlOf(req))), headers);
      }
      if (result.status < 300 && body.resourceType === 'Bundle') body = await applyPreferToTransaction(absoluteFullUrls(body, baseUrlOf(req)), prefer, repo);
      return send(reply, result.status, body, headers);
    }
    requireStorableText(sent);
    requireBundleConditionalReads(req, entries);
    const body = await service.bundle(sent, { read: entryReader(app, req), ...scoped(req) });
    return send(reply, 200, await applyPreferToTransaction(absoluteFullUrls(body, baseUrlOf(req)), prefer, repo));
  });

  /**
   * A conditional write (If-None-Exist, `Type?criteria` update / patch / delete, a conditional
   * reference) answers according to what its criteria match — and a conditional create that
   * matches returns the stored resource: it is a read of the target type and of every type its
   * criteria touch (chains, `_has`), so it needs their read scopes (D-281), as the same search would.
   */
  const requireConditionalRead = (req: FastifyRequest, type: string, criteria: string): void => {
    if (!auth) return;
    const touched = new Set<string>([type]);
    for (const p of parseCriteria(criteria)) for (const t of typesTouched(type, p.modifier ? `${p.name}:${p.modifier}` : p.name, repo.searchParams)) touched.add(t);
    requireAccess(req, 'read', ...touched);
  };

  /** The conditional parts of a transaction or batch (entries and references), each a read (requireConditionalRead). */
  function requireBundleConditionalReads(req: FastifyRequest, entries: unknown[]): void {
    if (!auth) return;
    for (const e of entries) {
      if (!isObject(e)) continue;
      if (isObject(e.request)) {
        const url = typeof e.request.url === 'string' ? e.request.url.replace(/^\//, '') : '';
        const q = url.indexOf('?');
        const method = String(e.request.method ?? '');
        if (q > 0 && method !== 'GET' && method !== 'HEAD') requireConditionalRead(req, url.slice(0, q), url.slice(q + 1));
        const type = isObject(e.resource) && typeof e.resource.resourceType === 'string' ? e.resource.resourceType : url.split(/[/?]/)[0] ?? '';
        if (typeof e.request.ifNoneExist === 'string' && e.request.ifNoneExist && type) requireConditionalRead(req, type, e.request.ifNoneExist);
      }
      if (isObject(e.resource)) {
        for (const ref of conditionalReferences(e.resource)) requireConditionalRead(req, ref.type, ref.criteria);
      }
    }
  }

  /** Each entry of a transaction or batch that an access rule governs, checked as its own write. */
  async function requireBundleWrites(req: FastifyRequest, entries: unknown[]): Promise<void> {
    for (const e of entries) {
      if (!isObject(e) || !isObject(e.request)) continue;
      const url = typeof e.request.url === 'string' ? e.request.url.replace(/^\//, '') : '';
      const [path, query] = url.split('?') as [string, string | undefined];
      const [type, id] = path.split('/');
      const method = String(e.request.method ?? '');
      if (!type || method === 'GET' || method === 'HEAD') continue;
      const resource = isObject(e.resource) && typeof e.resource.resourceType === 'string' ? (e.resource as FhirResource) : undefined;
      if (method === 'POST') await access.requireWrite(actorOf(req), type, resource, undefined);
      else await requireGovernedWrite(req, type, query !== undefined || !id ? { criteria: query ?? '' } : { id }, method === 'PATCH' ? undefined : resource);
    }
  }

  // --- $validate ------------------------------------------------------------------------
  const validateHandler = async (req: FastifyRequest, reply: FastifyReply, type?: string) => {
    if (req.body instanceof DeferredBody) {
      if (type !== undefined && !isResourceType(type, validator)) throw unknownType(type, validator);
      const queryProfile = (req.query as Record<string, unknown>).profile;
      const bytes = req.body.bytes;
      const format = req.body.format;
      // The bytes move to the worker (no copy here) when it knows every module of this server: its
      // answer then stands, and they are not needed here again.
      const move = service.modules.every((m) => pool!.modules.includes(m.name));
      const done = await pool!.validateText(bytes, { format, move, ...(typeof queryProfile === 'string' && queryProfile !== '' ? { profile: queryProfile } : {}), ...(type !== undefined ? { type } : {}) });
      // A volet's resource is validated by its IG's engine and module rules, in the worker too;
      // whether it is one is asked here as well (of its type and profiles only): a module of
      // this server's own (startServer's `modules`) that the worker lacks would say otherwise.
      const stub = { resourceType: done?.resourceType ?? '', meta: { profile: done?.claims ?? [] } } as FhirResource;
      // (Moved: the worker knows every module here, and read the whole resource — its answer stands.)
      if (done && (done.profile !== undefined || move || done.volet === (service.validateAsCreate(stub) !== undefined))) return sendJsonBytes(reply, 200, done.outcome);
      // No worker ready any more, or the worker and this thread disagree: read here after all (by a worker when one is ready).
      // (The bytes are still here: moved ones are the worker's answer, returned above.)
      if (format === 'json') req.fhirBodyBytes = bytes;
      const read = await pool!.parseBody(bytes, format);
      req.body = read ? read.value : format === 'json' ? parseJsonBody(bytes.toString('utf8'), FHIR_JSON_RESOURCE) : parseXmlBody(bytes.toString('utf8'), xml!);
    }
    requireResourceBody(req);
    const { resource, profile } = validateInput(req.body, (req.query as Record<string, unknown>).profile);
    if (type !== undefined) {
      if (!isResourceType(type, validator)) throw unknownType(type, validator);
      if (resource.resourceType !== type) throw new FhirError(HTTP_ERRORS.VALIDATE_TYPE, { found: String(resource.resourceType), type });
    }
    if (profile !== undefined && !validator.resolveProfile(profile)) {
      throw new FhirError(HTTP_ERRORS.VALIDATE_PROFILE, { profile }, { expression: 'profile' });
    }
    // A volet's resource (its meta.profile claims an IG in use other than TDDUI): that IG's engine.
    const volet = profile === undefined ? service.validateAsCreate(resource) : undefined;
    const outcome = volet ? toOperationOutcome(volet) : validator.validateToOutcome(resource, profile ? { profile } : {});
    // Text no write would store (NUL, lone surrogates): said first, as errors. Walked for only
    // when the JSON bytes hold an escape that could make some (D-346).
    const unstorable = findUnstorableTextIn(resource, String(resource.resourceType), req.fhirBodyKind === 'json' ? req.fhirBodyBytes : undefined);
    if (unstorable.length) {
      const issues = unstorable.flatMap((u) => (unstorableError(u).toOutcome() as unknown as { issue: unknown[] }).issue);
      (outcome as { issue: unknown[] }).issue = [...issues, ...((outcome as { issue?: unknown[] }).issue ?? [])];
    }
    return send(reply, 200, outcome);
  };
  app.post('/$validate', (req, reply) => validateHandler(req, reply));
  app.post<{ Params: { type: string } }>('/:type/$validate', (req, reply) => validateHandler(req, reply, req.params.type));

  // --- history --------------------------------------------------------------------------
  const historyHandler = async (req: FastifyRequest, reply: FastifyReply, type?: string, id?: string) => {
    const pairs = queryPairs(req.url);
    const q = parseHistory(type, id, pairs);
    const actor = actorOf(req);
    if (actor?.scope) q.scope = actor.scope;
    if (id === undefined) access.requireHistory(actor, type);
    const h = await repo.history(q);
    // An instance's history: every version the actor may not read refuses it (tombstones say nothing).
    if (id !== undefined && access.governs(actor, type!)) for (const e of h.entries) if (!e.deleted) await access.requireRead(actor, e.resource);
    if (id !== undefined && h.entries.length === 0 && q.offset === 0 && q.since === undefined) await repo.read(type!, id, scoped(req)); // 404 when unknown
    const base = baseUrlOf(req);
    const pageUrl = [base, type, id, '_history'].filter((x) => x !== undefined).join('/');
    return send(reply, 200, historyBundle(base, h, { pageUrl, pairs, count: q.count, offset: q.offset, pageSize: h.entries.length }, now()));
  };
  app.get('/_history', (req, reply) => {
    requireAccess(req, 'read', '*');
    return historyHandler(req, reply);
  });
  app.get<{ Params: { type: string } }>('/:type/_history', async (req, reply) => {
    checkType(req.params.type, req, 'history-type');
    requireAccess(req, 'read', req.params.type);
    return historyHandler(req, reply, req.params.type);
  });
  app.get<{ Params: { type: string; id: string } }>('/:type/:id/_history', async (req, reply) => {
    checkType(req.params.type, req, 'history-instance');
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
    const sub = await repo.getSubmission(id, scoped(req));
    const bundle = sub ? submittedBundle(sub) : undefined;
    if (!sub || !bundle) {
      const what = sub ? ` (submission ${id} is a ${isObject(sub.bundle) ? String(sub.bundle.resourceType) : 'body that is not a resource'}, not a Bundle)` : '';
      const whatFr = sub ? ` (l'envoi ${id} est de type ${isObject(sub.bundle) ? String(sub.bundle.resourceType) : 'inconnu'}, pas un Bundle)` : '';
      throw new FhirError(HTTP_ERRORS.SUBMISSION_NOT_BUNDLE, { id, detail: what, detailFr: whatFr });
    }
    // A submitted Bundle holds every type it carries: reading it needs each type's read scope.
    requireAccess(req, 'read', ...typesInBundle(bundle));
    const headers = { etag: etag(1), 'last-modified': httpDate(sub.receivedAt) };
    if (notModified(req, 1)) return reply.code(304).headers(headers).send();
    return send(reply, 200, bundle, headers);
  });
  const bundleSearchHandler = async (req: FastifyRequest, reply: FastifyReply) => {
    // The list of submitted Bundles spans every type they hold, and its total counts Bundles off
    // the page too (`_count=0`): read on every type (`*.read`), like the system history (D-190).
    requireAccess(req, 'read', 'Bundle', '*');
    const pairs = searchPairs(req);
    const q = parseBundleSearch(pairs);
    const page = await bundlePage(repo, q, scopeOf(req));
    return send(reply, 200, bundleSearchset(baseUrlOf(req), pairs, q, page, now()));
  };
  app.get('/Bundle', bundleSearchHandler);
  app.post('/Bundle/_search', bundleSearchHandler);

  // --- circle of care proposals (coordination/proposals.ts): read-only, nothing is written ---
  // --- the PPA over time (ui/ppa-versions.ts): versions and the diff between two ----------
  const PPA_TYPES = ['CarePlan', 'Goal', 'ServiceRequest', 'Task', 'Consent'];
  const ppaOf = async (req: FastifyRequest, id: string) => {
    checkId('Patient', id, req.method);
    requireAccess(req, 'read', 'Patient', ...PPA_TYPES);
    // A restricted token reads the PPA of an usager of its organisations only.
    if (scopeOf(req)) await repo.read('Patient', id, scoped(req));
    const found = await usagerPpa(repo, id);
    if (!found) await repo.read('Patient', id); // 404 / 410
    return found!;
  };
  app.get<{ Params: { id: string } }>('/Patient/:id/$ppa-versions', async (req, reply) => {
    const { history } = await ppaOf(req, req.params.id);
    return send(reply, 200, {
      resourceType: 'Parameters',
      parameter: history.versions.map((v) => ({
        name: 'version',
        part: [
          { name: 'number', valueInteger: v.number },
          { name: 'instant', valueInstant: v.instant },
          ...v.plans.map((p) => ({ name: 'carePlan', valueReference: { reference: p.key, ...(p.title ? { display: p.title } : {}) } })),
          { name: 'validated', valueBoolean: v.validated },
          ...(v.validatedOn ? [{ name: 'validatedOn', valueDateTime: v.validatedOn }] : []),
          { name: 'changedElements', valueInteger: v.changed.length },
        ],
      })),
    });
  });
  app.get<{ Params: { id: string }; Querystring: { from?: string; to?: string } }>('/Patient/:id/$ppa-diff', async (req, reply) => {
    const { history, actors } = await ppaOf(req, req.params.id);
    const q = req.query ?? {};
    const bad = (name: string, v: string) => new FhirError(HTTP_ERRORS.SEARCH_BAD_VALUE, { detail: `${name}=${v}: not a version of this usager's projet personnalisé (1..${history.versions.length})`, detailFr: `${name}=${v} : pas une version du projet personnalisé de cet usager (1..${history.versions.length})` }, { expression: name });
    for (const [k, v] of Object.entries({ from: q.from, to: q.to })) if (v !== undefined && !(/^\d{1,6}$/.test(v) && Number(v) >= 1 && Number(v) <= history.versions.length)) throw bad(k, v);
    const choice = chosenVersions(history, { ...(q.from !== undefined ? { de: q.from } : {}), ...(q.to !== undefined ? { a: q.to } : {}) });
    if (!choice) throw bad('to', String(history.versions.length));
    const changes = diffVersions(history, choice.from, choice.to, { actors, concept: (cc) => conceptLabel(validator, cc) });
    return send(reply, 200, {
      resourceType: 'Parameters',
      parameter: [
        { name: 'from', valueInteger: choice.from },
        { name: 'to', valueInteger: choice.to },
        ...changes.map((c) => ({
          name: 'change',
          part: [
            { name: 'element', valueCode: c.element },
            { name: 'change', valueCode: c.change },
            { name: 'reference', valueReference: { reference: c.key, display: c.title } },
            ...(c.before !== undefined ? [{ name: 'before', valueString: c.before }] : []),
            ...(c.after !== undefined ? [{ name: 'after', valueString: c.after }] : []),
            { name: 'text', valueString: c.text },
          ],
        })),
      ],
    });
  });

  app.get<{ Params: { id: string } }>('/Patient/:id/$circle-proposals', async (req, reply) => {
    const { id } = req.params;
    checkId('Patient', id, req.method);
    requireAccess(req, 'read', 'CareTeam');
    await repo.read('Patient', id, scoped(req)); // 404 / 410 for an unknown usager (or one out of the token's scope)
    // Who may read the usager's circle may see who could join it.
    await access.requireRead(actorOf(req), { resourceType: 'CareTeam', subject: { reference: `Patient/${id}` } });
    const proposals = await circleProposals(repo, id, now());
    return send(reply, 200, {
      resourceType: 'Parameters',
      parameter: proposals.map((p) => ({
        name: 'proposal',
        part: [
          { name: 'member', valueReference: { reference: p.member, display: p.display } },
          { name: 'role', valueString: p.role },
          ...(p.start ? [{ name: 'start', valueDate: p.start }] : []),
          { name: 'source', valueString: p.source },
        ],
      })),
    });
  });

  // --- agenda operations (GAP loaded): $find, $book, $respond (agenda-routes.ts) ---------
  agendaRoutes(app, {
    service,
    send,
    sendWrite: (req, reply, a) => sendWrite(req, reply, a),
    requireAccess,
    actorOf,
    baseUrl: baseUrlOf,
  });

  // --- read / vread ---------------------------------------------------------------------
  app.get<{ Params: { type: string; id: string } }>('/:type/:id', async (req, reply) => {
    const { type, id } = req.params;
    checkType(type, req, 'read');
    checkId(type, id, req.method);
    requireAccess(req, 'read', type);
    const computed = computedFor(req, type);
    const rec = computed ? await computed.read(id) : await repo.read(type, id, scoped(req));
    await access.requireRead(actorOf(req), rec.resource);
    if (notModified(req, rec.versionId) || notModifiedSince(req, rec.lastUpdated)) {
      return reply.code(304).headers(versionHeaders(rec)).send();
    }
    if (req.fhirRawBinary) return sendBinaryBytes(reply, rec.resource, versionHeaders(rec));
    return send(reply, 200, shapeOne(req, rec.resource), versionHeaders(rec));
  });
  app.get<{ Params: { type: string; id: string; vid: string } }>('/:type/:id/_history/:vid', async (req, reply) => {
    const { type, id, vid } = req.params;
    checkType(type, req, 'vread');
    checkId(type, id, req.method);
    requireAccess(req, 'read', type);
    if (!/^\d{1,9}$/.test(vid)) throw new FhirError(HTTP_ERRORS.VERSION_NOT_FOUND, { type, id, version: vid });
    const computed = computedFor(req, type);
    const rec = computed ? await computed.read(id) : await repo.vread(type, id, Number(vid), scoped(req));
    if (computed && rec.versionId !== Number(vid)) throw new FhirError(HTTP_ERRORS.VERSION_NOT_FOUND, { type, id, version: vid });
    if (!rec.deleted) await access.requireRead(actorOf(req), rec.resource);
    if (req.fhirRawBinary && !rec.deleted) return sendBinaryBytes(reply, rec.resource, versionHeaders(rec));
    return send(reply, 200, rec.resource, versionHeaders(rec));
  });

  /** `_summary` / `_elements` of a read. */
  const shapeOne = (req: FastifyRequest, r: FhirResource): FhirResource => {
    const shaping: Shaping = {};
    const pairs = queryPairs(req.url).filter(([k]) => k === '_summary' || k === '_elements');
    if (pairs.length) parseSearch(r.resourceType, pairs, shaping);
    return shaper(shaping)(r);
  };
  const shaper = (shaping: Shaping) => (r: FhirResource): FhirResource => {
    if (shaping.elements?.length) return selectElements(r, shaping.elements, summaries);
    if (shaping.summary) return summarize(r, shaping.summary, summaries);
    return r;
  };

  // --- search ---------------------------------------------------------------------------
  const searchHandler = async (req: FastifyRequest, reply: FastifyReply, type: string) => {
    checkType(type, req, 'search-type');
    const pairs = searchPairs(req);
    const shaping: Shaping = {};
    const query = parseSearch(type, pairs, shaping);
    service.requireSearchParams(type, query.params);
    // Chains and reverse chains filter by other types' data (an oracle on them, totals included).
    requireAccess(req, 'read', ...new Set(query.params.flatMap((p) => [...typesTouched(type, p.modifier ? `${p.name}:${p.modifier}` : p.name, repo.searchParams)])));
    query.handling = preferHandling(req.headers.prefer);
    // The types asked for are checked first; an `_include` without a target type, by what it found.
    requireAccess(req, 'read', type, ...(query.revinclude ?? []).map((i) => i.sourceType), ...(query.include ?? []).flatMap((i) => (i.targetType ? [i.targetType] : [])));
    // Restricted before it runs: the total counts only what the actor may read.
    query.params.push(...(await access.searchRestriction(actorOf(req), type)));
    // The token's organisations: matches, total, chains, `_has` and includes (src/storage/scope.ts).
    const scope = scopeOf(req);
    if (scope) query.scope = scope;
    const computed = computedFor(req, type);
    const result = computed ? await computed.search(query) : await repo.search(query);
    result.included = await access.readable(actorOf(req), result.included);
    requireAccess(req, 'read', ...new Set(result.included.map((r) => r.resourceType)));
    const base = baseUrlOf(req);
    const bundle = searchsetBundle(base, result, { pageUrl: `${base}/${type}`, pairs, count: query.count, offset: query.offset, pageSize: result.matches.length }, now(), shaper(shaping));
    return send(reply, 200, bundle);
  };
  app.get<{ Params: { type: string } }>('/:type', (req, reply) => searchHandler(req, reply, req.params.type));
  app.post<{ Params: { type: string } }>('/:type/_search', (req, reply) => searchHandler(req, reply, req.params.type));

  // --- writes ---------------------------------------------------------------------------
  /** The answer of a write: status, version headers, and the body `Prefer: return` asks for. */
  const sendWrite = async (req: FastifyRequest, reply: FastifyReply, a: WriteAnswer, extra: Record<string, string> = {}) => {
    const headers: Record<string, string> = { ...extra };
    if (a.record) Object.assign(headers, versionHeaders(a.record, a.outcome === 'created' || a.outcome === 'updated' ? baseUrlOf(req) : undefined));
    if (a.outcome === 'deleted' || (a.outcome === 'unchanged' && !a.record)) {
      // Delete (or a conditional delete that matched nothing): 204 with nothing, or an OperationOutcome if asked.
      if (preferReturn(req.headers.prefer) === 'OperationOutcome') {
        const what = a.outcome === 'deleted' ? 'Deleted' : 'Nothing to delete';
        return send(reply, 200, operationOutcome({ severity: 'information', code: 'informational', diagnostics: what, text: a.outcome === 'deleted' ? 'Supprimé' : 'Rien à supprimer' }), headers);
      }
      for (const [k, v] of Object.entries(headers)) reply.header(k, v);
      return reply.code(204).send();
    }
    const outcome = toOperationOutcome(a.issues as ValidationIssue[]) as unknown as FhirResource;
    return sendWritten(reply, a.status, a.record!, preferReturn(req.headers.prefer), outcome, headers);
  };

  /** The target of an instance or conditional (`Type?criteria`) write. */
  const targetOf = (req: FastifyRequest, type: string, id?: string): Target => {
    if (id !== undefined) {
      checkId(type, id, req.method);
      return { id };
    }
    const q = req.url.indexOf('?');
    const criteria = q < 0 ? '' : req.url.slice(q + 1).split('&').filter((p) => !/^_(format|pretty)=/.test(p)).join('&');
    if (!criteria) throw notAllowed(req, allowedFor(type, 1));
    return { criteria };
  };

  /**
   * The access rules on a change of `Type/id` (the stored version and the new content) for an
   * actor they govern; conditional changes are not open to them (the match is not known before
   * the plan runs). Returns the stored content checked.
   */
  const requireGovernedWrite = async (req: FastifyRequest, type: string, target: Target, resource: FhirResource | undefined): Promise<FhirResource | undefined> => {
    const actor = actorOf(req);
    if (!access.governs(actor, type)) return undefined;
    if (!('id' in target)) {
      throw forbidden(`Conditional writes of ${type} are not open to a person’s token: name the resource (${type}/id)`, `Les écritures conditionnelles de ${type} ne sont pas ouvertes au jeton d’une personne : désignez la ressource (${type}/id)`);
    }
    const current = await repo.read(type, target.id).then((r) => r.resource, () => undefined);
    await access.requireWrite(actor, type, resource, current);
    return current;
  };

  // create (and conditional create: If-None-Exist)
  app.post<{ Params: { type: string } }>('/:type', async (req, reply) => {
    const { type } = req.params;
    checkType(type, req, 'create');
    const resource = requireResourceBody(req);
    requireAccess(req, 'write', type);
    if (finessApplies(req, type)) requireFinessOfData(req, ownerOfResource(resource), resource);
    await access.requireWrite(actorOf(req), type, resource, undefined);
    const receivedAt = now().toISOString();
    const { module } = service.moduleFor(type, resource);
    // An IG that logs its creates (TDDUI v1 documents) is told of every outcome.
    const logged = async (status: number, outcome: FhirResource, stored?: ResourceRecord): Promise<Record<string, string>> => {
      const client = clientOf(req);
      const id = await logCreate(module, { submitted: resource, status, outcome, receivedAt, ...(stored ? { stored } : {}), ...(client !== undefined ? { client } : {}) });
      return id ? { 'x-tddui-submission': id } : {};
    };
    let a: WriteAnswer;
    try {
      requireStorableText(resource);
      const ifNoneExist = header(req, 'if-none-exist');
      if (ifNoneExist) requireConditionalRead(req, type, ifNoneExist);
      const guard = sameSubjectGuard(req, type, resource);
      a = await service.create(type, resource, { ...(ifNoneExist ? { ifNoneExist } : {}), ...(guard ? { guard } : {}), ...scoped(req) });
    } catch (e) {
      if (e instanceof FhirError && e.status < 500 && module?.onCreate && e.status !== 403) {
        const outcome = e.toOutcome();
        return send(reply, e.status, outcome, { ...e.headers, ...(await logged(e.status, outcome)) });
      }
      throw e;
    }
    const extra = a.record && a.outcome !== 'unchanged' ? await logged(a.status, toOperationOutcome(a.issues) as unknown as FhirResource, a.record) : {};
    return sendWrite(req, reply, a, extra);
  });

  // update (PUT Type/id: update-as-create where the IG allows it; PUT Type?criteria: conditional update)
  const updateHandler = async (req: FastifyRequest, reply: FastifyReply, type: string, id?: string) => {
    checkType(type, req, 'update');
    const target = targetOf(req, type, id);
    const resource = requireResourceBody(req);
    requireAccess(req, 'write', type);
    requireStorableText(resource);
    if ('criteria' in target) requireConditionalRead(req, type, target.criteria);
    await requireGovernedWrite(req, type, target, resource);
    const ifMatch = parseIfMatch(header(req, 'if-match'));
    const guard = sameSubjectGuard(req, type, resource);
    const a = await service.update(type, target, resource, { ...(ifMatch !== undefined ? { ifMatch } : {}), ...(guard ? { guard } : {}), ...scoped(req) });
    return sendWrite(req, reply, a);
  };
  app.put<{ Params: { type: string; id: string } }>('/:type/:id', (req, reply) => updateHandler(req, reply, req.params.type, req.params.id));
  app.put<{ Params: { type: string } }>('/:type', (req, reply) => updateHandler(req, reply, req.params.type));

  // patch (JSON Patch or FHIRPath Patch; instance or conditional)
  const patchHandler = async (req: FastifyRequest, reply: FastifyReply, type: string, id?: string) => {
    checkType(type, req, 'patch');
    const target = targetOf(req, type, id);
    requireAccess(req, 'write', type);
    const ifMatch = parseIfMatch(header(req, 'if-match'));
    const body = patchBody(req);
    requireStorableText(req.body, req.fhirBodyKind === 'json-patch' ? 'patch' : 'Parameters');
    if ('criteria' in target) requireConditionalRead(req, type, target.criteria);
    const current = await requireGovernedWrite(req, type, target, undefined);
    const guard = sameSubjectGuard(req, type, current);
    const a = await service.patch(type, target, body, { ...(ifMatch !== undefined ? { ifMatch } : {}), ...(guard ? { guard } : {}), ...scoped(req) });
    return sendWrite(req, reply, a);
  };
  app.patch<{ Params: { type: string; id: string } }>('/:type/:id', (req, reply) => patchHandler(req, reply, req.params.type, req.params.id));
  app.patch<{ Params: { type: string } }>('/:type', (req, reply) => patchHandler(req, reply, req.params.type));

  // delete (a tombstone version; instance or conditional)
  const deleteHandler = async (req: FastifyRequest, reply: FastifyReply, type: string, id?: string) => {
    checkType(type, req, 'delete');
    const target = targetOf(req, type, id);
    requireAccess(req, 'write', type);
    if (finessApplies(req, type) && 'id' in target) {
      // (read in the writer's scope: what it may not read is "not found" below, not a 403 that
      // would confirm the id exists)
      const current = await repo.read(type, target.id, scoped(req)).catch(() => undefined);
      if (current) requireFiness(req, ownerOfResource(current.resource));
    }
    if ('criteria' in target) requireConditionalRead(req, type, target.criteria);
    await requireGovernedWrite(req, type, target, undefined);
    const ifMatch = parseIfMatch(header(req, 'if-match'));
    const a = await service.delete(type, target, { ...(ifMatch !== undefined ? { ifMatch } : {}), ...scoped(req) });
    return sendWrite(req, reply, a);
  };
  app.delete<{ Params: { type: string; id: string } }>('/:type/:id', (req, reply) => deleteHandler(req, reply, req.params.type, req.params.id));
  app.delete<{ Params: { type: string } }>('/:type', (req, reply) => deleteHandler(req, reply, req.params.type));

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

  /** Methods the API offers on a path shape (segments after /fhir), for 405 answers. */
  function allowedFor(type: string, depth: number): string[] {
    const t = served.get(type);
    if (!t) return [];
    const out: string[] = [];
    if (depth === 1) {
      out.push('GET');
      if (t.interactions.has('create')) out.push('POST');
      if (t.interactions.has('update')) out.push('PUT');
      if (t.interactions.has('patch')) out.push('PATCH');
      if (t.interactions.has('delete')) out.push('DELETE');
    } else {
      out.push('GET');
      if (t.interactions.has('update')) out.push('PUT');
      if (t.interactions.has('patch')) out.push('PATCH');
      if (t.interactions.has('delete')) out.push('DELETE');
    }
    return out;
  }
}

async function logCreate(module: IgModule | undefined, e: Parameters<NonNullable<IgModule['onCreate']>>[0]): Promise<string | undefined> {
  return module?.onCreate ? module.onCreate(e) : undefined;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const h = req.headers[name];
  return Array.isArray(h) ? h[0] : h;
}

/** `Prefer: handling=strict|lenient` (FHIR search.html#errors; lenient by default). */
export function preferHandling(h: string | string[] | undefined): 'strict' | 'lenient' {
  const values = Array.isArray(h) ? h : h ? [h] : [];
  for (const v of values) {
    for (const part of v.split(/[,;]/)) {
      const m = /^\s*handling\s*=\s*"?([A-Za-z]+)"?\s*$/.exec(part);
      if (!m) continue;
      if (m[1] === 'strict' || m[1] === 'lenient') return m[1];
      throw new FhirError(HTTP_ERRORS.PREFER_HANDLING, { value: m[1]! });
    }
  }
  return 'lenient';
}

/** The query's parameters, plus the form body of a `POST …/_search` (any other body is a 415). */
function searchPairs(req: FastifyRequest): [string, string][] {
  const pairs = queryPairs(req.url);
  if (req.method === 'POST') {
    if (req.body instanceof URLSearchParams) pairs.push(...req.body);
    else if (req.body !== undefined && req.body !== null && req.body !== '') throw new FhirError(HTTP_ERRORS.SEARCH_FORM);
  }
  return pairs;
}

/** Whether `If-None-Match` names the current version (the answer is then a 304). */
function notModified(req: FastifyRequest, versionId: number): boolean {
  const inm = req.headers['if-none-match'];
  return !!inm && inm.split(',').some((t) => t.trim() === etag(versionId) || t.trim() === '*');
}

/** `If-Modified-Since`: not changed since (HTTP dates have second precision). */
function notModifiedSince(req: FastifyRequest, lastUpdated: string): boolean {
  const ims = req.headers['if-modified-since'];
  if (!ims) return false;
  const since = Date.parse(ims);
  return !Number.isNaN(since) && Math.floor(Date.parse(lastUpdated) / 1000) * 1000 <= since;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function notAllowed(req: FastifyRequest, allowed: string[]): FhirError {
  const path = req.url.split('?')[0]!;
  return new FhirError(HTTP_ERRORS.METHOD_NOT_ALLOWED, { method: req.method, path, allowed: allowed.join(', ') }, { headers: { allow: allowed.join(', ') } });
}

function patchBody(req: FastifyRequest): PatchBody {
  const body = req.body;
  if (req.fhirBodyKind === 'json-patch') {
    if (!Array.isArray(body)) throw new FhirError(HTTP_ERRORS.PATCH_BODY, { kind: 'JSON Patch', expected: 'an array of operations', expectedFr: 'un tableau d\u2019opérations' });
    return { kind: 'json-patch', operations: body };
  }
  if (req.fhirBodyKind === 'json' || req.fhirBodyKind === 'xml') {
    if (!isObject(body) || body.resourceType !== 'Parameters') {
      throw new FhirError(HTTP_ERRORS.PATCH_BODY, {
        kind: 'FHIRPath Patch',
        expected: 'a Parameters resource (or send application/json-patch+json)',
        expectedFr: 'une ressource Parameters (ou envoyer application/json-patch+json)',
      });
    }
    return { kind: 'fhirpath', parameters: body as FhirResource };
  }
  throw new FhirError(HTTP_ERRORS.PATCH_MEDIA_TYPE);
}

/** The body as a FHIR resource (an object with a resourceType), or a 400. */
/** 422 at the first string the database could not store (NUL, lone surrogate): nothing is written. */
function requireStorableText(data: unknown, root?: string): void {
  const rootPath = root ?? (isObject(data) && typeof data.resourceType === 'string' ? data.resourceType : '');
  const [first] = findUnstorableText(data, rootPath, 1);
  if (first) throw unstorableError(first);
}

function requireResourceBody(req: FastifyRequest): FhirResource {
  const body = req.body;
  if (req.fhirBodyKind !== 'json' && req.fhirBodyKind !== 'xml') {
    if (body === undefined || body === null) throw new FhirError(HTTP_ERRORS.BODY_MISSING);
    throw new FhirError(HTTP_ERRORS.BODY_MEDIA_TYPE);
  }
  if (!isObject(body) || typeof body.resourceType !== 'string') throw new FhirError(HTTP_ERRORS.BODY_NOT_RESOURCE);
  return body as FhirResource;
}

function checkId(type: string, id: string, method?: string): void {
  if (!ID_PATTERN.test(id)) {
    // `GET /fhir/Task/_search`, `PATCH /fhir/DocumentReference/_history`: an endpoint, not an id.
    if (method && (id === '_search' || id === '$validate' || id === '_history')) {
      const allowed = id === '_history' ? ['GET'] : ['POST'];
      throw new FhirError(HTTP_ERRORS.METHOD_NOT_ALLOWED, { method, path: `${type}/${id}`, allowed: allowed.join(', ') }, { headers: { allow: allowed.join(', ') } });
    }
    throw new FhirError(HTTP_ERRORS.BAD_ID_IN_PATH, { type, id });
  }
}

function isResourceType(type: string, validator: TdduiValidator): boolean {
  const sd = validator.core.registry.resolve<CanonicalResource & { kind?: string; derivation?: string; type?: string }>(
    `http://hl7.org/fhir/StructureDefinition/${type}`,
    'StructureDefinition',
  );
  return sd?.kind === 'resource' && sd.derivation !== 'constraint' && sd.type === type;
}

function unknownType(type: string, validator: TdduiValidator): FhirError {
  if (isResourceType(type, validator)) return new FhirError(HTTP_ERRORS.TYPE_NOT_SERVED, { type });
  return new FhirError(HTTP_ERRORS.UNKNOWN_TYPE, { type });
}

/**
 * A Binary's bytes with its contentType (ITI-68). Never rendered by a browser as this site's
 * page: no sniffing, a sandboxing CSP, and the file offered for download unless it is a PDF or
 * an image.
 */
function sendBinaryBytes(reply: FastifyReply, binary: FhirResource, headers: Record<string, string>): FastifyReply {
  const contentType = typeof binary.contentType === 'string' && /^[\w.+-]+\/[\w.+-]+$/.test(binary.contentType) ? binary.contentType : 'application/octet-stream';
  const bytes = typeof binary.data === 'string' ? Buffer.from(binary.data, 'base64') : Buffer.alloc(0);
  const inline = contentType === 'application/pdf' || /^image\/(png|jpeg|gif)$/.test(contentType);
  return reply
    .code(200)
    .headers(headers)
    .header('content-type', contentType)
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "sandbox; default-src 'none'")
    .header('content-disposition', inline ? 'inline' : 'attachment')
    .send(bytes);
}

function bundleOnlyReadSearch(req: FastifyRequest): FhirError {
  return new FhirError(HTTP_ERRORS.BUNDLE_READ_ONLY, { method: req.method, path: req.url.split('?')[0]!, id: '{id}' });
}

/** Methods the API has for a path shape (segments after /fhir), for 405 answers. */
function allowedMethods(
  seg: string[],
  served: ReadonlyMap<string, { interactions: Set<Interaction>; byIg: Map<string, Set<Interaction>> }>,
  validator: TdduiValidator,
): string[] | 'unknown-type' | undefined {
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
  const t = served.get(type);
  if (!t) return seg[1] === '$validate' && isResourceType(type, validator) ? ['POST'] : 'unknown-type';
  const has = (i: Interaction) => t.interactions.has(i);
  if (seg.length === 1) return ['GET', ...(has('create') ? ['POST'] : []), ...(has('update') ? ['PUT'] : []), ...(has('patch') ? ['PATCH'] : []), ...(has('delete') ? ['DELETE'] : [])];
  if (seg.length === 2 && seg[1] === '_search') return ['POST'];
  if (seg.length === 2 && seg[1] === '$validate') return ['POST'];
  if (seg.length === 2 && seg[1] === '_history') return ['GET'];
  if (seg.length === 2) return ['GET', ...(has('update') ? ['PUT'] : []), ...(has('patch') ? ['PATCH'] : []), ...(has('delete') ? ['DELETE'] : [])];
  if (seg.length === 3 && seg[2] === '_history') return ['GET'];
  if (seg.length === 4 && seg[2] === '_history') return ['GET'];
  return undefined;
}

/** Entry fullUrls of a transaction-response as absolute URLs (Bundle.entry.fullUrl is absolute in FHIR). */
function absoluteFullUrls(bundle: FhirResource, base: string): FhirResource {
  if (!Array.isArray(bundle.entry)) return bundle;
  const entry = (bundle.entry as Record<string, unknown>[]).map((e) =>
    typeof e.fullUrl === 'string' ? { ...e, fullUrl: absoluteFullUrl(e.fullUrl, base) } : e,
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

// The v1 PATCH rule now lives with the TDDUI module; re-exported for the callers that name it here.
export { PATCH_CONTENT_ONLY_RULE, changedOutsideContent } from '../ingest/tddui-module.js';

/** The usager reference a governed resource is about (Consent.patient, else subject). */
function subjectOf(r: FhirResource | undefined): unknown {
  if (!r) return undefined;
  return r.resourceType === 'Consent' ? r.patient : r.subject;
}
