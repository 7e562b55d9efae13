// The audit trail of accesses to health data (issue 18): every read, search, write, export and
// refusal through the FHIR API or the web UI becomes one row of `audit_event` (migration 0070),
// served as FHIR AuditEvents (audit-event.ts).
//
// How it stays cheap and is never lost when a request succeeds: one `onSend` hook at the root
// of the app classifies the request by its route and awaits its record before the response
// leaves. Records of concurrent requests are grouped into one INSERT (group commit): while one
// batch is being written, the next ones queue up, so under load the trail costs a fraction of
// a round trip per request. If the record cannot be written, the answer becomes a 500 (the
// client never sees a success that left no trace; a write already committed stays — a resent
// TDDUI Bundle is matched by its business keys). See docs/decisions.md D-90.
import { storableString } from '../fhir/text.js';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isObject, type FhirResource } from '../fhir/json.js';
import { insertAuditRecords, type AuditKind, type AuditRecord } from '../storage/audit.js';
import type { Queryable } from '../storage/types.js';
import type { Principal } from './auth.js';

/** What a request did, as the trail records it. */
export interface AccessNote {
  kind: AuditKind;
  action: AuditRecord['action'];
  subtype: string;
  entityType?: string;
  entityId?: string;
  query?: string;
  patients?: string[];
}

const actors = new WeakMap<FastifyRequest, Principal>();
const bodies = new WeakMap<FastifyRequest, unknown>();
const notes = new WeakMap<FastifyRequest, Partial<AccessNote>>();
const errors = new WeakMap<FastifyRequest, string>();
const done = new WeakSet<FastifyRequest>();

/** The authenticated principal of a request (set by the FHIR API's and the UI's token checks). */
export function noteActor(req: FastifyRequest, principal: Principal): void {
  actors.set(req, principal);
}

export function actorOf(req: FastifyRequest): Principal | undefined {
  return actors.get(req);
}

/** The resource a FHIR answer carries: the Patients it concerns are read from it. */
export function noteBody(req: FastifyRequest, body: unknown): void {
  bodies.set(req, body);
}

/** What a handler knows better than its route (an export's patients, a page's usager…). */
export function noteAccess(req: FastifyRequest, note: Partial<AccessNote>): void {
  notes.set(req, { ...notes.get(req), ...note });
}

/** Groups the records of concurrent requests into one INSERT. */
export class AuditTrail {
  private pending: { rec: AuditRecord; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private draining: Promise<void> | undefined;
  /** Records written so far (diagnostics, bench). */
  written = 0;

  constructor(
    private readonly db: Queryable,
    private readonly maxBatch = 500,
  ) {}

  /** Resolves once the record is in the database. */
  record(rec: AuditRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ rec, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  /** Waits for every queued record (server shutdown). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    // One turn of the event loop: the records of requests answered together join one batch.
    await new Promise((r) => setImmediate(r));
    while (this.pending.length) {
      const batch = this.pending.splice(0, this.maxBatch);
      try {
        await insertAuditRecords(
          this.db,
          batch.map((b) => b.rec),
        );
        this.written += batch.length;
        for (const b of batch) b.resolve();
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
    this.draining = undefined;
  }
}

/**
 * Adds the trail's hooks to the app: they reach every route registered after (the FHIR API,
 * the UI). `enabled: false` records nothing (the bench's "audit off").
 */
export function registerAudit(app: FastifyInstance, trail: AuditTrail): void {
  app.addHook('onError', async (req, _reply, err) => {
    errors.set(req, err.message.slice(0, 500));
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (done.has(req)) return payload;
    done.add(req);
    const rec = auditRecordOf(req, reply);
    if (!rec) return payload;
    try {
      await trail.record(rec);
    } catch (err) {
      req.log.error({ err }, 'audit trail: the access could not be recorded; the answer is an error');
      throw new Error('the access could not be recorded in the audit trail');
    }
    return payload;
  });
  app.addHook('onClose', async () => trail.flush());
}

/** The record of a request, or undefined when it touches no health data. */
export function auditRecordOf(req: FastifyRequest, reply: FastifyReply): AuditRecord | undefined {
  const status = reply.statusCode;
  const base = classify(req, status);
  if (!base) return undefined;
  const note = { ...base, ...notes.get(req) };
  const principal = actors.get(req);
  const patients = new Set(note.patients ?? []);
  const body = bodies.get(req);
  if (body !== undefined && status < 400) patientsOfBody(body, patients);
  const q = req.url.indexOf('?');
  const rec: AuditRecord = {
    id: randomUUID(),
    recorded: new Date().toISOString(),
    kind: note.kind,
    action: note.action,
    subtype: note.subtype,
    outcome: status < 400 ? 0 : status < 500 ? 4 : 8,
    httpStatus: status,
    channel: req.url.startsWith('/fhir') ? 'fhir' : 'ui',
    agentOrganisations: principal ? [...principal.finess] : [],
    method: req.method,
    path: (q < 0 ? req.url : req.url.slice(0, q)).slice(0, 1000),
    patients: [...patients].slice(0, MAX_PATIENTS),
    requestId: String(req.id),
  };
  const err = errors.get(req);
  if (status >= 400 && err) rec.outcomeText = err;
  if (principal) {
    rec.agentSubject = principal.subject;
    if (principal.clientId) rec.agentClient = principal.clientId;
    if (principal.tokenId) rec.tokenId = principal.tokenId;
  }
  if (req.ip) rec.sourceIp = req.ip;
  const query = note.query ?? (q < 0 ? undefined : req.url.slice(q + 1));
  if (query && (note.kind === 'search' || note.kind === 'export')) rec.query = query.slice(0, 4000);
  if (note.entityType) rec.entityType = note.entityType;
  if (note.entityId) rec.entityId = note.entityId;
  // A refused request may carry text no database stores (a NUL in an id, a lone surrogate):
  // recorded with those characters replaced, so the record never fails (issue 21).
  for (const k of ['entityId', 'entityType', 'query', 'outcomeText', 'path'] as const) {
    const v = rec[k];
    if (typeof v === 'string') rec[k] = storableString(v);
  }
  rec.patients = rec.patients.map(storableString);
  return rec;
}

/** At most this many Patients per record (a page of search results); the query says the rest. */
const MAX_PATIENTS = 200;

const READ = (subtype: string, entityType?: string, entityId?: string): AccessNote => ({ kind: 'read', action: 'R', subtype, ...(entityType ? { entityType } : {}), ...(entityId ? { entityId } : {}) });
const SEARCH = (subtype: string, entityType?: string): AccessNote => ({ kind: 'search', action: 'E', subtype, ...(entityType ? { entityType } : {}) });
const WRITE = (action: AccessNote['action'], subtype: string, entityType?: string, entityId?: string): AccessNote => ({ kind: 'write', action, subtype, ...(entityType ? { entityType } : {}), ...(entityId ? { entityId } : {}) });

/**
 * What a route does with health data. FHIR routes by their shape (any type a volet adds is
 * covered); UI pages by name. /metadata, $validate (nothing stored is read), the UI's assets,
 * Pilotage's aggregates and the validation form are not accesses to health data.
 */
function classify(req: FastifyRequest, status: number): AccessNote | undefined {
  const route = (req.routeOptions.url ?? '').replace(/(.)\/+$/, '$1');
  const p = (req.params ?? {}) as Record<string, string | undefined>;
  const m = req.method;
  if (route === '/fhir' || route.startsWith('/fhir/')) {
    const r = route.slice(5);
    if (r === '/metadata' || r.endsWith('/$validate')) return undefined;
    const type = p.type ?? /^\/([A-Z][A-Za-z]+)/.exec(r)?.[1];
    // Polling an export's status or deleting the job touches no health data; its files do.
    if (r.startsWith('/$export-poll-status')) return undefined;
    if (r.includes('$export')) return { kind: 'export', action: 'R', subtype: 'export', ...(type ? { entityType: type } : {}), ...(p.id ? { entityId: p.id } : {}) };
    if (m === 'GET' || m === 'HEAD') {
      if (/\/_history\/:vid$/.test(r)) return READ('vread', type, p.id);
      if (/\/:id\/_history$/.test(r)) return READ('history-instance', type, p.id);
      if (r === '/_history') return SEARCH('history-system');
      if (/\/_history$/.test(r)) return SEARCH('history-type', type);
      if (/^\/[^/]+\/:id$/.test(r)) return READ('read', type, p.id);
      if (/^\/[^/]+$/.test(r)) return SEARCH('search-type', type);
    }
    if (m === 'POST' && r.endsWith('/_search')) return SEARCH('search-type', type);
    if (m === 'POST' && r === '') {
      const body = req.body;
      return WRITE('E', isObject(body) && body.type === 'batch' ? 'batch' : 'transaction', isObject(body) && typeof body.resourceType === 'string' ? body.resourceType : undefined);
    }
    if (m === 'POST' && r === '/:type') return WRITE('C', 'create', type);
    if (m === 'PUT') return WRITE('U', 'update', type, p.id);
    if (m === 'PATCH') return WRITE('U', 'patch', type, p.id);
    if (m === 'DELETE') return WRITE('D', 'delete', type, p.id);
    return undefined;
  }
  if (route === '') {
    // No route: only a refused token on the FHIR API is worth a record (a probe of the server).
    if ((status === 401 || status === 403) && req.url.startsWith('/fhir') && !req.url.startsWith('/fhir/metadata')) {
      return m === 'GET' ? READ('read') : WRITE('E', 'operation');
    }
    return undefined;
  }
  if (m !== 'GET' && m !== 'HEAD') return undefined;
  // The web UI's pages of health data.
  if (route === '/' || route === '/envois') return SEARCH('search-type', 'Bundle');
  if (route.startsWith('/envois/:id')) return READ('read', 'Bundle', p.id);
  if (route === '/usagers') return SEARCH('search-type', 'Patient');
  if (route === '/usagers/:id') return { ...READ('read', 'Patient', p.id), ...(p.id ? { patients: [p.id] } : {}) };
  if (route === '/documents/:id/:n') return READ('read', 'DocumentReference', p.id);
  if (route === '/journal') return SEARCH('search-type', 'AuditEvent');
  if (route.endsWith('.csv')) return { kind: 'export', action: 'R', subtype: 'export', ...(route.startsWith('/usagers') ? { entityType: 'Patient' } : route.startsWith('/envois') ? { entityType: 'Bundle' } : {}) };
  return undefined;
}

/** The Patients a FHIR answer concerns: a Patient, a resource's subject, a page's entries, a transaction's created Patients. */
function patientsOfBody(body: unknown, into: Set<string>): void {
  if (!isObject(body)) return;
  if (body.resourceType === 'Bundle' && Array.isArray(body.entry)) {
    for (const e of body.entry) {
      if (into.size >= MAX_PATIENTS) return;
      if (!isObject(e)) continue;
      if (isObject(e.resource)) patientOf(e.resource as FhirResource, into);
      const loc = isObject(e.response) ? e.response.location : undefined;
      if (typeof loc === 'string') {
        const mm = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/\d+)?$/.exec(loc);
        if (mm) into.add(mm[1]!);
      }
    }
    return;
  }
  patientOf(body as FhirResource, into);
}

const SUBJECT_FIELDS = ['subject', 'patient', 'beneficiary', 'for'];

function patientOf(r: FhirResource, into: Set<string>): void {
  if (r.resourceType === 'Patient' && typeof r.id === 'string') {
    into.add(r.id);
    return;
  }
  for (const f of SUBJECT_FIELDS) {
    const ref = (r as Record<string, unknown>)[f];
    if (isObject(ref) && typeof ref.reference === 'string') {
      const mm = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(ref.reference);
      if (mm) into.add(mm[1]!);
    }
  }
}
