// The receiving server: Fastify with the FHIR API under /fhir, /healthz, and the web UI.
// buildServer() assembles an app around an open repository and a validator (tests, embedding);
// startServer() opens both, listens, and returns a handle whose close() shuts down gracefully.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { resolve as resolvePath } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { Transform } from 'node:stream';
import { pino, type Logger } from 'pino';
import { jsonToXml, xmlToJson } from '../fhir/xml/index.js';
import type { FhirResource } from '../fhir/json.js';
import { hasUnstorableText } from '../fhir/text.js';
import { CircleAccess } from '../coordination/circle-access.js';
import { DEFAULT_REVIEW_MONTHS, raiseDueReviewEvents } from '../coordination/ppa-reviews.js';
import { agendaFeedRoutes } from './agenda-routes.js';
import { GAP_PACKAGE } from '../coordination/agenda/gap-module.js';
import type { UsagerAgendaSync } from '../coordination/agenda/usager-agenda.js';
import type { AgendaStore } from '../coordination/agenda/store.js';
import { AccessControl } from '../rest/access.js';
import { guardOf, type IgModule } from '../rest/modules.js';
import { eventSourceOf } from '../rest/events.js';
import { NotificationService, type NotificationOptions } from '../notification/service.js';
import { NDE_PACKAGE } from '../notification/settings.js';
import { changeFeedRoutes, notificationRoutes } from './notifications.js';
import { FhirService } from '../rest/service.js';
import { ensureHistoryPartitions, indexIsCurrent, openRepository } from '../storage/index.js';
import type { Repository } from '../storage/types.js';
import { TdduiValidator } from '../tddui/validator.js';
import { registerUi } from '../ui/index.js';
import { AuditTrail, registerAudit } from './audit.js';
import { auditEventRoutes } from './audit-event.js';
import { bulkExportRoutes, ExportRunner, type BulkExportOptions } from './bulk-export.js';
import { Authenticator, type AuthOptions } from './auth.js';
import { errorReply } from './errors.js';
import { fhirApi } from './fhir-api.js';
import { igModules, searchParametersOf, servedBy } from './ig-modules.js';
import type { XmlCodec } from './format.js';
import { FhirError, HTTP_ERRORS } from './outcome.js';
import { applyConnectionLimits, bytesText, checkValueLimits, isWrite, limitsOf, type Limits } from './limits.js';
import { DeferredBody } from './format.js';
import { ValidationPool } from './validation-pool.js';
import { installReadRouting } from './read-routing.js';
import { PeriodicJob } from './periodic.js';

/** 50 MiB: a Bundle may carry several base64 PDFs or CDA documents. */
export const BODY_LIMIT = 50 * 1024 * 1024;

export interface BuildOptions {
  repo: Repository;
  validator: TdduiValidator;
  /** Fastify logger option: false (default), true, pino options, or a pino logger. */
  logger?: boolean | object;
  /**
   * Behind a reverse proxy (TLS termination): take the scheme and host of the links from
   * X-Forwarded-Proto / X-Forwarded-Host. Off by default, where these headers are not trusted.
   */
  trustProxy?: boolean;
  /** OAuth 2.0 bearer tokens on the FHIR API and the UI (see src/server/auth.ts); open when absent. */
  auth?: Authenticator;
  /**
   * The yearly review of the projet personnalisé (coordination/ppa-reviews.ts, D-126): months
   * after the usager's accord when it falls due (default 12), and how often the server raises
   * the `pp-review-due` events (default every hour; the first check one interval after start).
   */
  ppaReview?: { months?: number; intervalMs?: number };
  /** How often the rejected submissions' documents are swept (retention, quota; D-85); default every minute (tests shorten it). */
  rejectedSweepMs?: number;
  /** More IG modules (volet rules, bundle handlers), after TDDUI's. */
  modules?: IgModule[];
  /** The audit trail of accesses to health data (server/audit.ts; default on — off only to measure its cost). */
  audit?: boolean;
  /** FHIR Bulk Data `$export` (server/bulk-export.ts): folder of the files (default ./.tddui-exports), how long they are kept. */
  bulkExport?: Partial<BulkExportOptions>;
  /** Limits on bodies, values, connections and request rates (src/server/limits.ts; defaults there). */
  limits?: Partial<Limits>;
  /**
   * Event notifications (NdE, src/notification/): delivery settings (SMTP server, SMS gateway,
   * retries, the circle restriction…). Active when the NdE IG is in use; `false` turns the
   * delivery worker off (subscriptions are still served and events still recorded).
   */
  notifications?: NotificationOptions | false;
  /**
   * The server's public base URL (`https://tddui.example.fr`): links (fullUrl, paging,
   * Location) are built from it. Without it, from the Host header only when it names this
   * machine (localhost, a loopback address, the address the request came in on), else from
   * that address — never from any Host a client sends.
   */
  publicUrl?: string;
  /**
   * Validation off the event loop (src/server/validation-pool.ts): transaction Bundles and large
   * `$validate` bodies are validated by its workers. The server closes it when it closes.
   */
  validationPool?: ValidationPool;
}

const require = createRequire(import.meta.url);
const SOFTWARE_VERSION = (require('../../../package.json') as { version: string }).version;

const XML: XmlCodec = { toXml: (r) => jsonToXml(r), fromXml: (x) => xmlToJson(x) as FhirResource };

export { searchParametersOf } from './ig-modules.js';

/** Query parameters whose values say nothing about a person, and may be logged. */
const LOGGABLE_PARAMS = new Set(['_count', '_offset', '_format', '_pretty', '_sort', '_total', '_summary', '_include', '_revinclude', '_since']);

/**
 * The URL as logged: search values (names, INS, birth dates…) are health data and stay out of
 * the logs; parameter names and paging are kept for diagnosis.
 */
export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const kept = url
    .slice(q + 1)
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const eq = pair.indexOf('=');
      const key = eq < 0 ? pair : pair.slice(0, eq);
      const name = decodeURIComponentSafe(key).split(':')[0]!;
      return LOGGABLE_PARAMS.has(name) || eq < 0 ? pair : `${key}=*`;
    });
  return `${url.slice(0, q)}?${kept.join('&')}`;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const LOG_SERIALIZERS = {
  req(req: { method?: string; url?: string; host?: string; ip?: string }) {
    return { method: req.method, url: loggableUrl(req.url ?? ''), host: req.host, remoteAddress: req.ip };
  },
};

/** What makes a request URL unusable (a NUL, undecodable bytes, a lone surrogate), or undefined. */
export function urlProblem(url: string): { what: string; whatFr: string } | undefined {
  if (!url.includes('%')) return url.includes('\u0000') ? { what: 'a NUL character', whatFr: 'un caractère NUL' } : undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(url);
  } catch {
    return { what: 'a percent-encoding that is not UTF-8 text', whatFr: 'un encodage (%) qui n\u2019est pas du texte UTF-8' };
  }
  if (decoded.includes('\u0000')) return { what: 'a NUL character (%00)', whatFr: 'un caractère NUL (%00)' };
  if (hasUnstorableText(decoded)) return { what: 'a lone UTF-16 surrogate', whatFr: 'un demi-caractère UTF-16 isolé' };
  return undefined;
}

/**
 * The CSP of an HTML answer that sets none: the UI's own policy (scripts and styles of this
 * origin only, no framing). Root hooks run before the UI's, so it is the same text.
 */
const DEFAULT_CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** The body limit of a request's route. */
function bodyLimitOf(req: FastifyRequest, limits: Limits): { limit: number; what: string; whatFr: string } {
  const path = req.url.split('?')[0]!.replace(/\/+$/, '');
  if (path === '/fhir' && req.method === 'POST') return { limit: limits.transactionBody, what: 'a transaction or batch Bundle', whatFr: 'un Bundle de transaction ou de lot' };
  if (path.endsWith('$validate') || path === '/valider') return { limit: limits.validateBody, what: 'a validation', whatFr: 'une validation' };
  return { limit: limits.writeBody, what: `${req.method} ${path}`, whatFr: `${req.method} ${path}` };
}

/**
 * The rate class of a request: a write; an expensive read (a search, history, a UI page); or
 * undefined (reads by id, /metadata, /healthz, static assets), not limited.
 */
function rateClass(req: FastifyRequest): 'write' | 'read' | undefined {
  const path = req.url.split('?')[0]!.replace(/\/+$/, '');
  if (path === '/healthz' || path === '/fhir/metadata' || path.startsWith('/ui/')) return undefined;
  if (isWrite(req.raw)) return req.method === 'POST' && (path.endsWith('/_search') || path.endsWith('$validate') || path === '/valider') ? 'read' : 'write';
  if (req.method !== 'GET' && req.method !== 'HEAD') return undefined;
  if (!path.startsWith('/fhir')) return 'read';
  const segments = path.slice(5).split('/').filter(Boolean);
  // Type/id and Type/id/_history/v are cheap; searches and histories are not.
  if (segments.length === 2 && !segments[1]!.startsWith('_') && !segments[1]!.startsWith('$')) return undefined;
  if (segments.length === 4 && segments[2] === '_history') return undefined;
  return 'read';
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated client (token subject), set by the FHIR API's authentication; the rate-limit key. */
    tdduiClient?: string;
  }
}

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:\-]{1,128}$/;

/** The request id: a client-supplied `x-request-id` kept when it is a short token, else a new UUID. */
export function requestId(req: { headers: Record<string, string | string[] | undefined> }): string {
  const h = req.headers['x-request-id'];
  return typeof h === 'string' && CLIENT_REQUEST_ID.test(h) ? h : randomUUID();
}

function isPinoLogger(v: unknown): v is Logger {
  return typeof v === 'object' && v !== null && typeof (v as Logger).child === 'function' && typeof (v as Logger).info === 'function';
}

const services = new WeakMap<FastifyInstance, FhirService>();
const notifiers = new WeakMap<FastifyInstance, NotificationService>();

/** The notification service of a built server, when NdE is in use. */
export function notificationsOf(app: FastifyInstance): NotificationService | undefined {
  return notifiers.get(app);
}

/** The interactions service of a built server (what it serves, its modules). */
export function serviceOf(app: FastifyInstance): FhirService {
  const s = services.get(app);
  if (!s) throw new Error('not a server built by buildServer');
  return s;
}

export async function buildServer(opts: BuildOptions): Promise<FastifyInstance> {
  const { repo, validator } = opts;
  const limits = limitsOf(opts.limits);
  const serverOptions: FastifyServerOptions = {
    // The largest of the per-route limits (checked below, before the body is read).
    bodyLimit: Math.max(limits.transactionBody, limits.validateBody, limits.writeBody),
    // Slow clients are dropped (408 / closed): whole request, headers, idle keep-alive; Node
    // checks the first two on a timer, made short enough for the header time-out to hold.
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    ...(limits.requestsPerConnection > 0 ? { maxRequestsPerSocket: limits.requestsPerConnection } : {}),
    // (node:http options; Fastify's types list them for HTTP/2 only.)
    ...({ http: { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: Math.min(5000, Math.max(250, Math.floor(limits.headersTimeoutMs / 4))) } } as object),
    // FHIR ids and search values are case-sensitive; `/fhir/Patient/` is `/fhir/Patient`.
    routerOptions: { ignoreTrailingSlash: true, caseSensitive: true, maxParamLength: 200 },
    return503OnClosing: true,
    trustProxy: opts.trustProxy === true,
    // The correlation id: the client's `x-request-id` when it is a sane token (it is logged and
    // echoed), else a UUID — unique across servers and restarts, unlike Fastify's counter.
    requestIdHeader: false,
    genReqId: requestId,
  };
  let logger: FastifyServerOptions['logger'] = opts.logger === true ? { serializers: LOG_SERIALIZERS } : ((opts.logger ?? false) as FastifyServerOptions['logger']);
  if (typeof logger === 'object' && !isPinoLogger(logger)) logger = { ...logger, serializers: { ...LOG_SERIALIZERS, ...(logger.serializers ?? {}) } };
  const app: FastifyInstance = isPinoLogger(opts.logger)
    ? (Fastify({ ...serverOptions, loggerInstance: opts.logger.child({}, { serializers: LOG_SERIALIZERS }) } as FastifyServerOptions) as unknown as FastifyInstance)
    : Fastify({ ...serverOptions, logger });

  // Reads on replicas (--read-database): first, so every later hook and handler runs in the read context.
  if (repo.readReplicas) installReadRouting(app, repo.readReplicas);

  // Every request gets its id back, to quote when reporting a problem. Answers carry health data
  // unless they say otherwise (static assets do): never cached. Every HTML answer has a CSP
  // (the UI sets its own; this covers the others, the 404 page outside the UI included).
  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-request-id', req.id);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    const type = String(reply.getHeader('content-type') ?? '');
    if (type.startsWith('text/html') && !reply.hasHeader('content-security-policy')) reply.header('content-security-policy', DEFAULT_CSP);
    return payload;
  });

  applyConnectionLimits(app.server, limits);
  // Body size per route, before a byte of the body is read (Content-Length), or as it streams.
  app.addHook('preParsing', async (req, _reply, payload) => {
    const { limit, what, whatFr } = bodyLimitOf(req, limits);
    const declared = Number(req.headers['content-length']);
    const tooLarge = () => new FhirError(HTTP_ERRORS.BODY_TOO_LARGE_FOR, { limit: bytesText(limit), what, whatFr });
    if (Number.isFinite(declared) && declared > limit) throw tooLarge();
    if (req.headers['content-length'] !== undefined) return payload;
    let seen = 0;
    return payload.pipe(
      new Transform({
        transform(chunk: Buffer, _enc, cb) {
          seen += chunk.length;
          cb(seen > limit ? tooLarge() : null, chunk);
        },
      }),
    );
  });
  // Entries, arrays and strings of a parsed body, before validation or storage.
  app.addHook('preValidation', async (req) => {
    const body = req.body;
    // (A body read by, or left to, a validation worker is checked there.)
    if (typeof body === 'object' && body !== null && !req.fhirBodyChecked && !(body instanceof URLSearchParams) && !(body instanceof DeferredBody)) {
      const root = typeof (body as { resourceType?: unknown }).resourceType === 'string' ? (body as { resourceType: string }).resourceType : 'body';
      checkValueLimits(body, limits, root);
    }
  });
  // Rate limits per client (the token's subject, else the address): writes, and expensive reads.
  if (limits.writeRate > 0 || limits.readRate > 0) {
    await app.register(rateLimit, {
      global: true,
      // After authentication (onRequest), before the body is read.
      hook: 'preParsing',
      timeWindow: limits.rateWindowMs,
      keyGenerator: (req) => `${rateClass(req)}|${req.tdduiClient ?? req.ip}`,
      max: (req) => (rateClass(req) === 'write' ? limits.writeRate : limits.readRate) || 1e9,
      allowList: (req) => {
        const c = rateClass(req);
        return c === undefined || (c === 'write' ? limits.writeRate : limits.readRate) <= 0;
      },
      errorResponseBuilder: (_req, ctx) =>
        new FhirError(
          HTTP_ERRORS.RATE_LIMITED,
          { limit: ctx.max, window: `${limits.rateWindowMs / 1000} s`, windowFr: `${limits.rateWindowMs / 1000} s`, retry: Math.max(1, Math.ceil(ctx.ttl / 1000)) },
          { headers: { 'retry-after': String(Math.max(1, Math.ceil(ctx.ttl / 1000))) } },
        ),
    });
  }

  // A NUL, or bytes that are not UTF-8 text, in the path or the query: no id, search value or
  // UI filter can hold them; a 400 here, before any route reaches the database (was a 500).
  app.addHook('onRequest', async (req) => {
    const problem = urlProblem(req.url);
    if (problem) throw new FhirError(HTTP_ERRORS.URL_UNSTORABLE, problem);
  });

  // Errors outside /fhir (health, UI) are OperationOutcomes too, unless the UI handles them.
  app.setErrorHandler((err, req, reply) => errorReply(err, req, reply, XML));

  app.get('/healthz', async (req, reply) => {
    try {
      await repo.db.query('SELECT 1');
      // A replica out of service does not make the server unhealthy: the primary serves its reads.
      const replicas = repo.readReplicas?.status().map((r) => ({ url: r.url, up: r.up, ...(r.replayLsn ? { replayLsn: r.replayLsn } : {}) }));
      return reply.code(200).send({ status: 'ok', database: repo.db.kind, ...(replicas ? { replicas } : {}) });
    } catch (err) {
      req.log.error({ err }, 'health check: database unreachable');
      return reply.code(503).send({ status: 'unavailable', database: repo.db.kind });
    }
  });

  // Rejected submissions keep their documents within a retention period and a total quota (D-85):
  // swept at start and every minute (an indexed query over the rejected ones holding a document).
  if (limits.rejectedRetentionDays > 0 || limits.rejectedTotalBytes > 0) {
    const sweep = new PeriodicJob({
      name: 'rejected submissions',
      failed: 'rejected submissions: the sweep failed',
      intervalMs: opts.rejectedSweepMs ?? 60_000,
      log: app.log,
      describeError: (err) => ({ code: (err as { code?: unknown }).code }),
      run: async () => {
        const r = await repo.pruneRejectedSubmissions({
          retentionDays: limits.rejectedRetentionDays > 0 ? limits.rejectedRetentionDays : 365_000,
          maxTotalBytes: limits.rejectedTotalBytes > 0 ? limits.rejectedTotalBytes : Number.MAX_SAFE_INTEGER,
        });
        if (r.retention || r.quota) app.log.info(r, 'rejected submissions: documents dropped (retention, quota)');
      },
    });
    app.addHook('onReady', async () => sweep.start({ now: true }));
    // The timer cleared and the sweep in flight awaited before the storage closes (D-325).
    app.addHook('onClose', async () => sweep.stop());
  }

  // The history's monthly partitions, created ahead (migration 0170): checked every 6 hours
  // (openRepository made them at start), so a server running for months never writes into the
  // default partition.
  {
    const partitions = new PeriodicJob({ name: 'history partitions', failed: 'history partitions: could not create the next months', intervalMs: 6 * 3_600_000, log: app.log, run: async () => void (await ensureHistoryPartitions(repo.db)) });
    app.addHook('onReady', async () => partitions.start());
    app.addHook('onClose', async () => partitions.stop());
  }

  // The audit trail's hooks first: they reach every route registered after them.
  if (opts.audit !== false) registerAudit(app, new AuditTrail(repo.db));

  // The search parameters of the loaded IGs; the index is rebuilt when they changed since the
  // data were written (the fingerprint in index_state, migration 0008).
  const params = searchParametersOf(validator.core.registry);
  // `:in` / `:not-in`: value sets expanded from the loaded packages.
  params.valueSetCodes = (url) => validator.core.terminology.expand(url);
  params.subsumption = (system, code, direction) => validator.core.terminology.subsumption(system, code, direction);
  repo.useSearchParams(params);
  if (!(await indexIsCurrent(repo.db, params))) {
    app.log.warn({ fingerprint: params.fingerprint }, 'the search parameters changed since the data were indexed: re-indexing');
    const r = await repo.reindex();
    app.log.warn({ resources: r.resources, ms: r.ms }, 're-indexed');
  }
  // What is served: the loaded IGs' server CapabilityStatements, and the IG modules (TDDUI).
  // (PDSm's module stores through the service, built below: it asks for it when a request comes.)
  let built: FhirService | undefined;
  const pool = opts.validationPool;
  if (pool) app.addHook('onClose', async () => pool.close());
  const ndeInUse = (validator.set?.engines ?? []).some((e) => e.ig?.name === NDE_PACKAGE);
  const modules: IgModule[] = igModules({ repo, validator, log: app.log, service: () => built!, ...(pool ? { offload: (input, at) => pool.checkTransaction(input, at) } : {}), ...(opts.modules ? { extra: opts.modules } : {}) });
  const served = servedBy(validator.core.registry, params, modules);
  // What writes mean: the modules' events, recorded in the outbox with every write (rest/events.ts).
  repo.useEvents(eventSourceOf(modules));
  // And the rules on replacing stored versions (D-150: a validated projet personnalisé is frozen).
  repo.useGuard(guardOf(modules));
  // The circle of care governs persons' access to notebooks, circles and consents (rest/access.ts).
  const access = new AccessControl([new CircleAccess(repo)]);
  // Bulk exports: jobs left by a stopped server are resumed once the server is built.
  const exportRunner = new ExportRunner(repo, { dir: resolvePath(process.cwd(), '.tddui-exports'), ...opts.bulkExport }, app.log);
  app.addHook('onReady', async () => exportRunner.start());
  app.addHook('onClose', async () => exportRunner.stop());
  // The yearly review of the PPA: due reviews raise their event (once each) every interval.
  const reviewMonths = opts.ppaReview?.months ?? DEFAULT_REVIEW_MONTHS;
  const reviews = new PeriodicJob({
    name: 'projet personnalisé reviews',
    failed: 'projet personnalisé review check failed',
    intervalMs: opts.ppaReview?.intervalMs ?? 3_600_000,
    log: app.log,
    run: async () => {
      const raised = await raiseDueReviewEvents(repo, { months: reviewMonths });
      if (raised.length) app.log.info({ raised: raised.length }, 'projet personnalisé reviews due: events raised');
    },
  });
  app.addHook('onReady', async () => reviews.start());
  app.addHook('onClose', async () => reviews.stop());
  // The usager's agenda (GAP loaded): TDDUI agenda events kept in step as Appointments, following the change feed.
  const gap = modules.find((m) => m.name === GAP_PACKAGE) as { usagerSync?: UsagerAgendaSync } | undefined;
  const usagerSync = gap?.usagerSync;
  if (usagerSync) {
    app.addHook('onReady', async () => usagerSync.start());
    app.addHook('onClose', async () => usagerSync.stop());
    app.addHook('onResponse', async (req, reply) => {
      if (req.method !== 'GET' && req.method !== 'HEAD' && reply.statusCode < 300) usagerSync.wake();
    });
  }
  const service = new FhirService({ repo, engine: validator.core, ...(validator.set ? { engines: validator.set } : {}), served, modules, access });
  built = service;
  services.set(app, service);
  // Notifications: the worker dispatches the outbox and delivers; woken after every write. The
  // circle restriction is on when persons authenticate (src/notification/dispatch.ts).
  let notifier: NotificationService | undefined;
  if (ndeInUse && opts.notifications !== false) {
    const n = opts.notifications ?? {};
    notifier = new NotificationService(repo, { log: app.log, ...n, ...(n.circle === undefined && (opts.auth || n.restrictToCircle) ? { circle: new CircleAccess(repo) } : {}) });
    notifiers.set(app, notifier);
    const worker = notifier;
    app.addHook('onReady', async () => worker.start());
    app.addHook('onClose', async () => worker.stop());
    app.addHook('onResponse', async (req, reply) => {
      if (req.method !== 'GET' && req.method !== 'HEAD' && reply.statusCode < 300) worker.wake();
    });
  }
  // Private iCalendar feeds of the agendas (GAP): /agenda/<token>.ics, outside /fhir (no bearer token).
  if (usagerSync) await app.register(agendaFeedRoutes, { prefix: '/agenda', service });
  await app.register(
    async (fhir) => {
      await fhirApi(fhir, {
        repo,
        validator,
        service,
        xml: XML,
        softwareVersion: SOFTWARE_VERSION,
        ...(opts.auth ? { auth: opts.auth } : {}),
        ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
        trustProxy: opts.trustProxy === true,
        ...(pool ? { validationPool: pool } : {}),
        valueLimits: limits,
      });
      auditEventRoutes(fhir, { db: repo.db, xml: XML, ...(opts.auth ? { auth: opts.auth } : {}) });
      if (notifier) notificationRoutes(fhir, { service: notifier, repo, xml: XML, ...(opts.auth ? { auth: opts.auth } : {}) });
      changeFeedRoutes(fhir, { repo, xml: XML, ...(opts.auth ? { auth: opts.auth } : {}) });
      bulkExportRoutes(fhir, { runner: exportRunner, repo, servedTypes: () => service.served.types.keys(), ...(opts.auth ? { auth: opts.auth } : {}) });
    },
    { prefix: '/fhir' },
  );

  const agendaStore = (modules.find((m) => m.name === GAP_PACKAGE) as { store?: AgendaStore } | undefined)?.store;
  await registerUi(app, { repo, validator, reviewMonths, ...(pool ? { validatePage: (bytes: Buffer) => pool.validatePage(bytes) } : {}), writer: () => service, notifications: () => notifier, ...(agendaStore ? { agenda: agendaStore } : {}), ...(opts.auth ? { auth: opts.auth } : {}) });
  try {
    app.setNotFoundHandler((req) => {
      throw new FhirError(HTTP_ERRORS.NOT_FOUND_PATH, { method: req.method, path: req.url.split('?')[0]! });
    });
  } catch {
    // The UI set its own (French) 404 page for everything outside /fhir.
  }
  return app;
}

export interface StartOptions {
  port?: number;
  host?: string;
  /** postgres:// URL; default $DATABASE_URL when no dataDir is given; else the embedded database. */
  database?: string;
  /**
   * Read replicas of `database` (postgres:// URLs of streaming standbys): searches, reads, the
   * UI's pages and indicators go there, with read-your-writes (docs/deployment.md). PostgreSQL only.
   */
  readDatabases?: string[];
  /** PostgreSQL: false sends no named prepared statement (a pooler that does not carry them; D-331). */
  namedStatements?: boolean;
  /** Folder of the embedded database (default ./.tddui-data); `memory://` for an in-memory one. */
  dataDir?: string;
  /** FHIR package locations (default: the validator's default locations). */
  packages?: string[];
  /** TDDUI versions accepted (`ans.fhir.fr.tddui#2.3.0` or `2.3.0`); default every version found, newest first. */
  igs?: string[];
  logLevel?: string;
  /** See BuildOptions.trustProxy. */
  trustProxy?: boolean;
  /** Require OAuth 2.0 bearer tokens (see BuildOptions.auth). */
  auth?: AuthOptions;
  /** See BuildOptions.ppaReview. */
  ppaReview?: { months?: number; intervalMs?: number };
  /** See BuildOptions.rejectedSweepMs. */
  rejectedSweepMs?: number;
  /** Where the JSON log lines go (default stdout; tests read them). */
  logDestination?: NodeJS.WritableStream;
  /** See BuildOptions.modules. */
  modules?: IgModule[];
  /** See BuildOptions.bulkExport. */
  bulkExport?: Partial<BulkExportOptions>;
  /** See BuildOptions.limits. */
  limits?: Partial<Limits>;
  /** See BuildOptions.publicUrl. */
  publicUrl?: string;
  /** See BuildOptions.notifications. */
  notifications?: NotificationOptions | false;
  /**
   * Validation worker threads (src/server/validation-pool.ts); 0 (the default here) validates on
   * the main thread. `tddui serve` starts one per core.
   */
  validationWorkers?: number;
  /** Told when each start-up step begins and ends (the CLI prints them: the first start can take a while). */
  onProgress?: (p: StartupProgress) => void;
}

/** A start-up step: opening the database (with its migrations), loading the FHIR packages, listening. */
export interface StartupProgress {
  step: 'database' | 'packages' | 'listen';
  state: 'start' | 'done';
  /** Duration of the step, on `done`. */
  ms?: number;
}

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  /** The FHIR interactions (what is served, the IG modules). */
  service: FhirService;
  repo: Repository;
  validator: TdduiValidator;
  /** The validation workers (StartOptions.validationWorkers), if any. */
  validationPool?: ValidationPool;
  close(): Promise<void>;
}

export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const database = opts.database ?? (opts.dataDir === undefined ? process.env.DATABASE_URL || undefined : undefined);
  const dataDir = opts.dataDir ?? resolvePath(process.cwd(), '.tddui-data');
  const logger = pino({ level: opts.logLevel ?? 'info', base: { service: 'tddui' } }, ...(opts.logDestination ? [opts.logDestination] : []));
  // Both at once (the database may take seconds to initialise); nothing left open on failure.
  // A wrong JWKS file fails here, before anything is opened.
  const auth = opts.auth ? await Authenticator.create(opts.auth) : undefined;
  const progress = opts.onProgress ?? (() => undefined);
  const step = <T>(name: StartupProgress['step'], work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    progress({ step: name, state: 'start' });
    return work().then((v) => {
      progress({ step: name, state: 'done', ms: performance.now() - t0 });
      return v;
    });
  };
  const [repoResult, validatorResult] = await Promise.allSettled([
    step('database', () =>
      openRepository(
        database
          ? { url: database, ...(opts.namedStatements === false ? { namedStatements: false } : {}), ...(opts.readDatabases?.length ? { readUrls: opts.readDatabases, replicaOptions: { onChange: (r) => logger[r.up ? 'info' : 'warn']({ replica: r.url, up: r.up, ...(r.error ? { error: r.error } : {}) }, r.up ? 'read replica in service' : 'read replica out of service: its reads go to the primary') } } : {}) }
          : { dataDir, ...(opts.readDatabases?.length ? { readUrls: opts.readDatabases } : {}) },
      ),
    ),
    // With validation workers, this thread validates only until one is ready and then what a
    // route asks of it (a single resource's write, a small `$validate`…): its profiles are
    // compiled on first use, not up front — half its heap, which every full GC marks (D-349).
    step('packages', () => TdduiValidator.create({ ...(opts.validationWorkers ? { precompile: false } : {}), ...(opts.packages?.length ? { packages: opts.packages } : {}), ...(opts.igs?.length ? { igs: opts.igs } : {}) })),
  ]);
  if (repoResult.status === 'rejected' || validatorResult.status === 'rejected') {
    if (repoResult.status === 'fulfilled') await repoResult.value.close();
    throw repoResult.status === 'rejected' ? repoResult.reason : (validatorResult as PromiseRejectedResult).reason;
  }
  const repo = repoResult.value;
  const validator = validatorResult.value;
  // The background work retries by itself; an operator still needs to see it failing (a drain that
  // keeps failing makes every page of the derived tables fail with its error).
  repo.onBackgroundError((task, err) =>
    logger.error(
      { task, err },
      task === 'derived-refresh'
        ? 'background refresh of the derived tables failed: its keys stay pending, the next drain retries them'
        : 'statistics pass failed: the next look retries',
    ),
  );
  logger.info({ igs: validator.igs.map((ig) => ig.id), packages: validator.set?.store.packages.map((p) => `${p.name}#${p.version}`) }, 'FHIR packages loaded');
  for (const note of validator.set?.loadNotes() ?? []) logger.warn(note);
  const limits = limitsOf(opts.limits);
  // The workers load their packages in the background; until one is ready, the main thread validates.
  const validationPool = opts.validationWorkers
    ? ValidationPool.start({ size: opts.validationWorkers, ...(opts.packages?.length ? { packages: opts.packages } : {}), ...(opts.igs?.length ? { igs: opts.igs } : {}), limits, log: logger })
    : undefined;
  let app: FastifyInstance;
  try {
    app = await buildServer({ ...(validationPool ? { validationPool } : {}), repo, validator, logger, trustProxy: opts.trustProxy, ...(opts.limits ? { limits: opts.limits } : {}), ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}), ...(auth ? { auth } : {}), ...(opts.modules ? { modules: opts.modules } : {}), ...(opts.ppaReview ? { ppaReview: opts.ppaReview } : {}), ...(opts.rejectedSweepMs !== undefined ? { rejectedSweepMs: opts.rejectedSweepMs } : {}), ...(opts.bulkExport ? { bulkExport: opts.bulkExport } : {}), ...(opts.notifications !== undefined ? { notifications: opts.notifications } : {}) });
    await step('listen', () => app.listen({ port: opts.port ?? 8080, host: opts.host ?? '127.0.0.1' }));
  } catch (e) {
    await validationPool?.close();
    await repo.close();
    throw e;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port ?? 8080;
  const host = opts.host ?? '127.0.0.1';
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${port}`,
    app,
    service: serviceOf(app),
    repo,
    validator,
    ...(validationPool ? { validationPool } : {}),
    close() {
      // Stop accepting, let in-flight requests finish (Fastify answers 503 to new ones); the
      // periodic jobs stop and their runs in flight end (onClose hooks), then the statistics
      // pass in flight; then the DB (D-325).
      closing ??= (async () => {
        try {
          await app.close();
        } finally {
          await repo.close();
        }
      })();
      return closing;
    },
  };
}
