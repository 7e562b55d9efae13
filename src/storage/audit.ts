// The audit trail's table (migration 0070): batched inserts (the server groups the records of
// concurrent requests into one statement, src/server/audit.ts) and the filtered, paged reads
// behind /fhir/AuditEvent and the *Journal des accès* page.
import { toIso } from './rows.js';
import type { Queryable } from './types.js';
import { scopeSql, type ReadScope } from './scope.js';

export type AuditKind = 'read' | 'search' | 'write' | 'export';

/** One access, as stored. */
export interface AuditRecord {
  id: string;
  /** ISO instant. */
  recorded: string;
  kind: AuditKind;
  /** AuditEvent.action. */
  action: 'C' | 'R' | 'U' | 'D' | 'E';
  /** restful-interaction code (`read`, `search-type`, `transaction`…) or `export`. */
  subtype: string;
  /** AuditEvent.outcome: 0 success, 4 minor failure (refused or rejected), 8 serious failure. */
  outcome: 0 | 4 | 8;
  httpStatus: number;
  outcomeText?: string;
  channel: 'fhir' | 'ui';
  /** Token subject (`sub`, else the client id); absent on an open server or without a valid token. */
  agentSubject?: string;
  /** OAuth client (`client_id` / `azp`). */
  agentClient?: string;
  /** FINESS numbers (or other organisation codes) the token names. */
  agentOrganisations: string[];
  /** `jti` of the token. */
  tokenId?: string;
  sourceIp?: string;
  method: string;
  path: string;
  /** The query string of a search or export (search values included: the trail is where they belong). */
  query?: string;
  entityType?: string;
  entityId?: string;
  /** Ids of the Patients the access concerned. */
  patients: string[];
  requestId?: string;
}

export interface AuditFilter {
  /** Inclusive lower bound (ISO instant). */
  from?: string;
  /** Exclusive upper bound (ISO instant). */
  before?: string;
  agent?: string;
  patient?: string;
  kind?: AuditKind;
  action?: string;
  subtype?: string;
  outcome?: number;
  /** Only refusals (401 / 403). */
  refused?: boolean;
  entityType?: string;
  entityId?: string;
  sourceIp?: string;
  /**
   * The reader's organisations (src/storage/scope.ts): only records that concern at least one
   * Patient, every one of them of an organisation in scope (a record naming another ESSMS'
   * usager, or none, could show their accesses; decisions.md D-171).
   */
  scope?: ReadScope;
  count: number;
  offset: number;
}

const COLUMNS =
  'id, recorded, kind, action, subtype, outcome, http_status, outcome_text, channel, agent_subject, agent_client, agent_organisations, token_id, source_ip, method, path, query, entity_type, entity_id, patients, request_id';

const RECORDSET =
  'id text, recorded timestamptz, kind text, action text, subtype text, outcome smallint, http_status smallint, outcome_text text, channel text, agent_subject text, agent_client text, agent_organisations text[], token_id text, source_ip text, method text, path text, query text, entity_type text, entity_id text, patients text[], request_id text';

interface AuditRow {
  id: string;
  recorded: Date | string;
  kind: AuditKind;
  action: AuditRecord['action'];
  subtype: string;
  outcome: number;
  http_status: number;
  outcome_text: string | null;
  channel: 'fhir' | 'ui';
  agent_subject: string | null;
  agent_client: string | null;
  agent_organisations: string[] | null;
  token_id: string | null;
  source_ip: string | null;
  method: string;
  path: string;
  query: string | null;
  entity_type: string | null;
  entity_id: string | null;
  patients: string[] | null;
  request_id: string | null;
}

/** Inserts records in one statement (a JSON recordset: one parameter whatever their number). */
export async function insertAuditRecords(db: Queryable, records: readonly AuditRecord[]): Promise<void> {
  if (records.length === 0) return;
  const rows = records.map((r) => ({
    id: r.id,
    recorded: r.recorded,
    kind: r.kind,
    action: r.action,
    subtype: r.subtype,
    outcome: r.outcome,
    http_status: r.httpStatus,
    outcome_text: r.outcomeText ?? null,
    channel: r.channel,
    agent_subject: r.agentSubject ?? null,
    agent_client: r.agentClient ?? null,
    agent_organisations: r.agentOrganisations,
    token_id: r.tokenId ?? null,
    source_ip: r.sourceIp ?? null,
    method: r.method,
    path: r.path,
    query: r.query ?? null,
    entity_type: r.entityType ?? null,
    entity_id: r.entityId ?? null,
    patients: r.patients,
    request_id: r.requestId ?? null,
  }));
  await db.query(`INSERT INTO audit_event (${COLUMNS}) SELECT ${COLUMNS} FROM jsonb_to_recordset($1::jsonb) AS x(${RECORDSET})`, [JSON.stringify(rows)]);
}

function where(f: AuditFilter): { sql: string; params: unknown[] } {
  const conds: string[] = [];
  const params: unknown[] = [];
  const add = (cond: (p: string) => string, value: unknown) => {
    params.push(value);
    conds.push(cond(`$${params.length}`));
  };
  if (f.from) add((p) => `recorded >= ${p}::timestamptz`, f.from);
  if (f.before) add((p) => `recorded < ${p}::timestamptz`, f.before);
  if (f.agent) add((p) => `(agent_subject = ${p} OR agent_client = ${p})`, f.agent);
  if (f.patient) add((p) => `patients @> ARRAY[${p}::text]`, f.patient);
  if (f.kind) add((p) => `kind = ${p}`, f.kind);
  if (f.action) add((p) => `action = ${p}`, f.action);
  if (f.subtype) add((p) => `subtype = ${p}`, f.subtype);
  if (f.outcome !== undefined) add((p) => `outcome = ${p}`, f.outcome);
  if (f.refused) conds.push('http_status IN (401, 403)');
  if (f.entityType) add((p) => `entity_type = ${p}`, f.entityType);
  if (f.entityId) add((p) => `entity_id = ${p}`, f.entityId);
  if (f.sourceIp) add((p) => `source_ip = ${p}`, f.sourceIp);
  if (f.scope) conds.push(auditScopeSql(f.scope, (v) => (params.push(v), `$${params.length}`)));
  return { sql: conds.length ? `WHERE ${conds.join(' AND ')}` : '', params };
}

/** "Every Patient the record concerns is in scope, and there is one" (AuditFilter.scope). */
function auditScopeSql(scope: ReadScope, p: (v: unknown) => string): string {
  return `(cardinality(patients) > 0 AND NOT EXISTS (SELECT 1 FROM unnest(patients) AS x(id)
    WHERE NOT EXISTS (SELECT 1 FROM resource o WHERE o.resource_type = 'Patient' AND o.id = x.id AND ${scopeSql(scope, 'o.owner', p)})))`;
}

/** Newest first; `total` counts every match. */
export async function searchAuditRecords(db: Queryable, f: AuditFilter): Promise<{ total: number; items: AuditRecord[] }> {
  const w = where(f);
  const n = w.params.length;
  const [page, count] = await Promise.all([
    db.query<AuditRow>(`SELECT ${COLUMNS} FROM audit_event ${w.sql} ORDER BY recorded DESC, id DESC LIMIT $${n + 1} OFFSET $${n + 2}`, [...w.params, f.count, f.offset]),
    db.query<{ n: string | number }>(`SELECT count(*) AS n FROM audit_event ${w.sql}`, w.params),
  ]);
  return { total: Number(count.rows[0]?.n ?? 0), items: page.rows.map(toRecord) };
}

export async function getAuditRecord(db: Queryable, id: string, scope?: ReadScope): Promise<AuditRecord | undefined> {
  const params: unknown[] = [id];
  const inScope = scope ? ` AND ${auditScopeSql(scope, (v) => (params.push(v), `$${params.length}`))}` : '';
  const r = await db.query<AuditRow>(`SELECT ${COLUMNS} FROM audit_event WHERE id = $1${inScope}`, params);
  return r.rows[0] ? toRecord(r.rows[0]) : undefined;
}

/** The subjects that appear in the trail (the Journal's user filter). */
export async function auditAgents(db: Queryable, limit = 500, scope?: ReadScope): Promise<string[]> {
  const params: unknown[] = [limit];
  const inScope = scope ? ` AND ${auditScopeSql(scope, (v) => (params.push(v), `$${params.length}`))}` : '';
  const r = await db.query<{ a: string }>(`SELECT DISTINCT agent_subject AS a FROM audit_event WHERE agent_subject IS NOT NULL${inScope} ORDER BY 1 LIMIT $1`, params);
  return r.rows.map((x) => x.a);
}

function toRecord(row: AuditRow): AuditRecord {
  const out: AuditRecord = {
    id: row.id,
    recorded: toIso(row.recorded),
    kind: row.kind,
    action: row.action,
    subtype: row.subtype,
    outcome: Number(row.outcome) as AuditRecord['outcome'],
    httpStatus: Number(row.http_status),
    channel: row.channel,
    agentOrganisations: row.agent_organisations ?? [],
    method: row.method,
    path: row.path,
    patients: row.patients ?? [],
  };
  if (row.outcome_text !== null) out.outcomeText = row.outcome_text;
  if (row.agent_subject !== null) out.agentSubject = row.agent_subject;
  if (row.agent_client !== null) out.agentClient = row.agent_client;
  if (row.token_id !== null) out.tokenId = row.token_id;
  if (row.source_ip !== null) out.sourceIp = row.source_ip;
  if (row.query !== null) out.query = row.query;
  if (row.entity_type !== null) out.entityType = row.entity_type;
  if (row.entity_id !== null) out.entityId = row.entity_id;
  if (row.request_id !== null) out.requestId = row.request_id;
  return out;
}
