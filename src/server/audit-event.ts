// The audit trail as FHIR: each row of `audit_event` rendered as an R4 AuditEvent in the
// shapes of IHE Basic Audit Log Patterns (BALP) — a RESTful `rest` event with its interaction
// as subtype (an export: DICOM 110106), the client as Source Role ID (110153), this server as
// Destination Role ID (110152), the token's user as requestor (BALP's UserOauthAgent, the
// token id as policy), the Patients as entities with role 1, the resource read as a Domain
// Resource (role 4), a search's query base64-encoded with role 24, and the request id as BALP's
// XrequestId entity. Served read-only at /fhir/AuditEvent to tokens whose scope names
// AuditEvent itself (a `*` scope does not reach the trail: docs/decisions.md D-90).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { FhirResource } from '../fhir/json.js';
import { getAuditRecord, searchAuditRecords, type AuditFilter, type AuditRecord } from '../storage/audit.js';
import type { Queryable, ResourceRecord } from '../storage/types.js';
import { actorOf } from './audit.js';
import { forbidden, type Authenticator } from './auth.js';
import { sendResource, type XmlCodec } from './format.js';
import { FhirError, HTTP_ERRORS } from './outcome.js';
import { queryPairs, searchsetBundle } from './search.js';

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const BALP_AGENT = 'https://profiles.ihe.net/ITI/BALP/CodeSystem/UserAgentTypes';
const BALP_ENTITY = 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
/** FINESS numbers (the OID FR Core gives their identifier system). */
const FINESS_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.2';

const OUTCOME_TEXT: Record<number, string> = { 0: 'Success', 4: 'Minor failure', 8: 'Serious failure' };

export function toAuditEvent(r: AuditRecord, serverName = 'tddui'): FhirResource {
  const agent: Record<string, unknown>[] = [];
  if (r.agentSubject) {
    agent.push({
      type: { coding: [{ system: BALP_AGENT, code: 'UserOauthAgent', display: 'User OAuth Agent participant' }] },
      who: { identifier: { value: r.agentSubject } },
      requestor: true,
      ...(r.tokenId ? { policy: [r.tokenId] } : {}),
    });
  }
  for (const org of r.agentOrganisations) {
    agent.push({ type: { text: 'Organisation named by the token / organisation du jeton' }, who: { identifier: { system: FINESS_SYSTEM, value: org } }, requestor: false });
  }
  agent.push({
    type: { coding: [{ system: DCM, code: '110153', display: 'Source Role ID' }] },
    who: { identifier: { value: r.agentClient ?? r.agentSubject ?? 'anonymous' } },
    requestor: !r.agentSubject,
    // network.type 2: an IP address.
    ...(r.sourceIp ? { network: { address: r.sourceIp, type: '2' } } : {}),
  });
  agent.push({ type: { coding: [{ system: DCM, code: '110152', display: 'Destination Role ID' }] }, who: { display: serverName }, requestor: false });

  const entity: Record<string, unknown>[] = [];
  if (r.entityType && r.entityId) {
    entity.push({
      what: { reference: `${r.entityType}/${r.entityId}` },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
    });
  }
  if (r.query !== undefined) {
    entity.push({
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '24', display: 'Query' },
      description: `${r.method} ${r.path}`,
      query: Buffer.from(r.query, 'utf8').toString('base64'),
    });
  }
  for (const p of r.patients) {
    entity.push({ what: { reference: `Patient/${p}` }, type: { system: ENTITY_TYPE, code: '1', display: 'Person' }, role: { system: OBJECT_ROLE, code: '1', display: 'Patient' } });
  }
  if (r.requestId) entity.push({ what: { identifier: { value: r.requestId } }, type: { system: BALP_ENTITY, code: 'XrequestId', display: 'X-Request-Id' } });

  const ev: FhirResource = {
    resourceType: 'AuditEvent',
    id: r.id,
    // No meta.profile: BALP's profiles are not loaded here, so conformance to them is not claimed.
    meta: { versionId: '1', lastUpdated: r.recorded },
    type:
      r.kind === 'export'
        ? { system: DCM, code: '110106', display: 'Export' }
        : { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' },
    subtype: [r.kind === 'export' ? { system: 'http://hl7.org/fhir/restful-interaction', code: 'operation', display: '$export' } : { system: 'http://hl7.org/fhir/restful-interaction', code: r.subtype }],
    action: r.action,
    recorded: r.recorded,
    outcome: String(r.outcome),
    outcomeDesc: `${OUTCOME_TEXT[r.outcome] ?? ''} (HTTP ${r.httpStatus})${r.outcomeText ? `: ${r.outcomeText}` : ''}`,
    agent,
    source: {
      site: r.channel === 'ui' ? 'web UI' : 'FHIR API',
      observer: { display: serverName },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
  };
  if (entity.length) ev.entity = entity;
  return ev;
}

/** Instant bounds of a FHIR `date` value with its prefix (a day, a month, a year or an instant). */
function dateBounds(raw: string, f: AuditFilter): void {
  const m = /^(eq|ge|gt|le|lt)?(\d{4}(?:-\d{2}(?:-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?)?)?)$/.exec(raw);
  if (!m) throw new FhirError(HTTP_ERRORS.SEARCH_BAD_VALUE, { detail: `date: "${raw}" is not a FHIR date or instant`, detailFr: `date : « ${raw} » n’est pas une date ou un instant FHIR` }, { expression: 'date' });
  const prefix = m[1] ?? 'eq';
  const v = m[2]!;
  let start: Date;
  let end: Date;
  if (v.includes('T')) {
    start = new Date(v);
    end = new Date(start.getTime() + (/\.\d+/.test(v) ? 1 : 1000));
  } else {
    const [y, mo, d] = v.split('-').map(Number) as [number, number?, number?];
    start = new Date(Date.UTC(y, (mo ?? 1) - 1, d ?? 1));
    end = d !== undefined ? new Date(Date.UTC(y, mo! - 1, d + 1)) : mo !== undefined ? new Date(Date.UTC(y, mo, 1)) : new Date(Date.UTC(y + 1, 0, 1));
  }
  if (Number.isNaN(start.getTime())) throw new FhirError(HTTP_ERRORS.SEARCH_BAD_VALUE, { detail: `date: "${raw}" is not a valid date`, detailFr: `date : « ${raw} » n’est pas une date valide` }, { expression: 'date' });
  const later = (a: string | undefined, b: string) => (a && a > b ? a : b);
  const earlier = (a: string | undefined, b: string) => (a && a < b ? a : b);
  if (prefix === 'eq' || prefix === 'ge') f.from = later(f.from, start.toISOString());
  if (prefix === 'gt') f.from = later(f.from, end.toISOString());
  if (prefix === 'eq' || prefix === 'le') f.before = earlier(f.before, end.toISOString());
  if (prefix === 'lt') f.before = earlier(f.before, start.toISOString());
}

/** `/fhir/AuditEvent?…` parameters → a filter (unknown parameters are a 400: a silently ignored filter would show too much). */
export function parseAuditSearch(pairs: [string, string][]): AuditFilter {
  const f: AuditFilter = { count: 50, offset: 0 };
  for (const [k, v] of pairs) {
    switch (k) {
      case 'date':
        dateBounds(v, f);
        break;
      case 'agent':
      case 'agent:identifier':
        f.agent = v.includes('|') ? v.slice(v.indexOf('|') + 1) : v;
        break;
      case 'patient':
        f.patient = v.replace(/^.*Patient\//, '');
        break;
      case 'entity': {
        const mm = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(v);
        if (!mm) throw new FhirError(HTTP_ERRORS.SEARCH_BAD_VALUE, { detail: `entity: "${v}" is not a Type/id reference`, detailFr: `entity : « ${v} » n’est pas une référence Type/id` }, { expression: 'entity' });
        f.entityType = mm[1]!;
        f.entityId = mm[2]!;
        break;
      }
      case 'entity-type':
        f.entityType = v;
        break;
      case 'action':
        if (!/^[CRUDE]$/.test(v)) throw new FhirError(HTTP_ERRORS.SEARCH_BAD_VALUE, { detail: `action: "${v}" is not C, R, U, D or E`, detailFr: `action : « ${v} » ne vaut pas C, R, U, D ou E` }, { expression: 'action' });
        f.action = v;
        break;
      case 'subtype':
        f.subtype = v.includes('|') ? v.slice(v.indexOf('|') + 1) : v;
        break;
      case 'outcome':
        if (!/^(0|4|8|12)$/.test(v)) throw new FhirError(HTTP_ERRORS.SEARCH_BAD_VALUE, { detail: `outcome: "${v}" is not 0, 4, 8 or 12`, detailFr: `outcome : « ${v} » ne vaut pas 0, 4, 8 ou 12` }, { expression: 'outcome' });
        f.outcome = Number(v);
        break;
      case 'address':
        f.sourceIp = v;
        break;
      case '_count':
      case '_offset': {
        if (!/^\d{1,7}$/.test(v)) throw new FhirError(HTTP_ERRORS.PAGE_NUMBER, { name: k, value: v });
        if (k === '_count') f.count = Math.min(Number(v), 1000);
        else f.offset = Number(v);
        break;
      }
      case '_format':
      case '_pretty':
        break;
      default:
        throw new FhirError(HTTP_ERRORS.SEARCH_UNKNOWN_PARAM, { name: k, where: ' for AuditEvent', whereFr: ' pour AuditEvent' }, { expression: k });
    }
  }
  return f;
}

function asRecord(r: AuditRecord, serverName: string): ResourceRecord {
  return { resourceType: 'AuditEvent', id: r.id, versionId: 1, lastUpdated: r.recorded, deleted: false, resource: toAuditEvent(r, serverName) };
}

/** 403 unless the API is open or the token's scope names AuditEvent. */
export function requireAuditAccess(req: FastifyRequest, auth: Authenticator | undefined): void {
  if (!auth) return;
  const p = actorOf(req);
  if (p?.canExplicitly('AuditEvent', 'read')) return;
  throw forbidden(
    'Reading the audit trail needs a scope that names AuditEvent (system/AuditEvent.read or user/AuditEvent.read); * scopes do not reach it',
    'La lecture du journal des accès demande une portée qui nomme AuditEvent (system/AuditEvent.read ou user/AuditEvent.read) ; les portées * n’y donnent pas accès',
  );
}

/** GET /fhir/AuditEvent (search) and /fhir/AuditEvent/:id (read), in the FHIR API's plugin. */
export function auditEventRoutes(app: FastifyInstance, deps: { db: Queryable; auth?: Authenticator; xml?: XmlCodec; serverName?: string }): void {
  const name = deps.serverName ?? 'tddui';
  const base = (req: FastifyRequest) => `${req.protocol}://${req.host}/fhir`;
  const search = async (req: FastifyRequest, pairs: [string, string][]) => {
    requireAuditAccess(req, deps.auth);
    const f = parseAuditSearch(pairs);
    // A token restricted to some organisations: the accesses to their usagers only (D-171).
    const scope = actorOf(req)?.readScope;
    if (scope) f.scope = scope;
    const page = await searchAuditRecords(deps.db, f);
    const b = base(req);
    return searchsetBundle(b, { total: page.total, matches: page.items.map((r) => asRecord(r, name)), included: [] }, { pageUrl: `${b}/AuditEvent`, pairs, count: f.count, offset: f.offset, pageSize: page.items.length }, new Date());
  };
  app.get('/AuditEvent', async (req, reply) => sendResource(reply, 200, await search(req, queryPairs(req.url)), deps.xml));
  app.post('/AuditEvent/_search', async (req, reply) => {
    const pairs = queryPairs(req.url);
    if (req.body instanceof URLSearchParams) pairs.push(...req.body);
    return sendResource(reply, 200, await search(req, pairs), deps.xml);
  });
  app.get<{ Params: { id: string } }>('/AuditEvent/:id', async (req, reply) => {
    requireAuditAccess(req, deps.auth);
    const r = /^[A-Za-z0-9\-.]{1,64}$/.test(req.params.id) ? await getAuditRecord(deps.db, req.params.id, actorOf(req)?.readScope) : undefined;
    if (!r) throw new FhirError(HTTP_ERRORS.NOT_FOUND, { type: 'AuditEvent', id: req.params.id });
    return sendResource(reply, 200, toAuditEvent(r, name), deps.xml, { etag: 'W/"1"' });
  });
}
