// Bulk Data export jobs (migration 0071) and the keyset-paged read they export from: the
// current, not deleted resources of one type in id order, after a given id, optionally
// changed after `_since` and limited to a set of Patients' compartments — one page at a time,
// so an export of any size holds one page in memory.
import { RESOURCE_COLUMNS, toIso, toRecord, type ResourceRow } from './rows.js';
import type { Queryable, ResourceRecord } from './types.js';
import { scopeSql, type ReadScope } from './scope.js';

export type ExportStatus = 'accepted' | 'running' | 'completed' | 'failed' | 'deleted';

export interface ExportParams {
  level: 'system' | 'patient' | 'group';
  /** Types to export, in order. */
  types: string[];
  /** `_since` (ISO instant). */
  since?: string;
  /** `_typeFilter` queries by type (`Encounter` → [`date=ge2024-01-01`, …]: OR between them). */
  typeFilters: Record<string, string[]>;
  /** Group level: the Patient ids of its members. */
  patients?: string[];
  /** Token subject of the kick-off (the files are served to it only). */
  subject?: string;
  /** The kick-off token's organisations (src/storage/scope.ts): only their resources are exported, after a restart too. */
  scope?: ReadScope;
}

export interface ExportProgress {
  typeIndex: number;
  /** Last id written of `types[typeIndex]`. */
  lastId: string;
  files: Record<string, { count: number; bytes: number }>;
}

export interface ExportJob {
  id: string;
  status: ExportStatus;
  created: string;
  updated: string;
  transactionTime: string;
  request: string;
  params: ExportParams;
  progress: ExportProgress;
  error?: string;
  expires?: string;
}

interface JobRow {
  id: string;
  status: ExportStatus;
  created: Date | string;
  updated: Date | string;
  transaction_time: Date | string;
  request: string;
  params: ExportParams | string;
  progress: ExportProgress | string;
  error: string | null;
  expires: Date | string | null;
}

const json = <T>(v: T | string): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);

function toJob(r: JobRow): ExportJob {
  const job: ExportJob = {
    id: r.id,
    status: r.status,
    created: toIso(r.created),
    updated: toIso(r.updated),
    transactionTime: toIso(r.transaction_time),
    request: r.request,
    params: json(r.params),
    progress: json(r.progress),
  };
  if (r.error !== null) job.error = r.error;
  if (r.expires !== null) job.expires = toIso(r.expires);
  return job;
}

export async function insertExportJob(db: Queryable, job: Pick<ExportJob, 'id' | 'transactionTime' | 'request' | 'params'>): Promise<void> {
  await db.query(
    `INSERT INTO export_job (id, status, created, updated, transaction_time, request, params, progress) VALUES ($1, 'accepted', now(), now(), $2, $3, $4::jsonb, $5::jsonb)`,
    [job.id, job.transactionTime, job.request, JSON.stringify(job.params), JSON.stringify({ typeIndex: 0, lastId: '', files: {} } satisfies ExportProgress)],
  );
}

export async function getExportJob(db: Queryable, id: string): Promise<ExportJob | undefined> {
  const r = await db.query<JobRow>('SELECT * FROM export_job WHERE id = $1', [id]);
  return r.rows[0] ? toJob(r.rows[0]) : undefined;
}

/** Jobs to (re)start: accepted, or running with no checkpoint for `staleSeconds` (their server stopped). */
export async function pendingExportJobs(db: Queryable, staleSeconds: number): Promise<ExportJob[]> {
  const r = await db.query<JobRow>(
    `SELECT * FROM export_job WHERE status = 'accepted' OR (status = 'running' AND updated < now() - make_interval(secs => $1)) ORDER BY created`,
    [staleSeconds],
  );
  return r.rows.map(toJob);
}

/** Saves a checkpoint; false when the job is no longer running (deleted meanwhile). */
export async function checkpointExportJob(db: Queryable, id: string, progress: ExportProgress, status: 'running' | 'completed' = 'running', expires?: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE export_job SET progress = $2::jsonb, status = $3, updated = now(), expires = COALESCE($4::timestamptz, expires) WHERE id = $1 AND status IN ('accepted', 'running')`,
    [id, JSON.stringify(progress), status, expires ?? null],
  );
  return r.rowCount > 0;
}

export async function setExportJobStatus(db: Queryable, id: string, status: ExportStatus, error?: string): Promise<void> {
  await db.query(`UPDATE export_job SET status = $2, error = $3, updated = now() WHERE id = $1`, [id, status, error ?? null]);
}

export async function deleteExportJob(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM export_job WHERE id = $1', [id]);
}

/** Completed jobs whose files have expired, and deleted or failed ones older than a day. */
export async function expiredExportJobs(db: Queryable): Promise<string[]> {
  const r = await db.query<{ id: string }>(
    `SELECT id FROM export_job WHERE (status = 'completed' AND expires < now()) OR (status IN ('deleted', 'failed') AND updated < now() - interval '1 day')`,
  );
  return r.rows.map((x) => x.id);
}

/** The types that have current resources (a system-level export without `_type`). */
export async function storedTypes(db: Queryable, scope?: ReadScope): Promise<string[]> {
  const params: unknown[] = [];
  const inScope = scope ? ` AND ${scopeSql(scope, 'owner', (v) => (params.push(v), `$${params.length}`))}` : '';
  const r = await db.query<{ t: string }>(`SELECT DISTINCT resource_type AS t FROM resource WHERE NOT deleted${inScope} ORDER BY 1`, params);
  return r.rows.map((x) => x.t);
}

export interface ExportPageQuery {
  type: string;
  afterId: string;
  limit: number;
  /**
   * Changed after (exclusive). No upper bound: a resource changed after the kick-off is exported
   * in its current version (its earlier one, which the transaction time covers, is gone).
   */
  since?: string;
  /** Patient compartment: every Patient, or these ones (undefined: no restriction). */
  patients?: 'all' | string[];
  /** Only resources whose owner is in scope. */
  scope?: ReadScope;
}

/** One page of the export of a type, in id order. */
export async function exportPage(db: Queryable, q: ExportPageQuery): Promise<ResourceRecord[]> {
  const params: unknown[] = [q.type, q.afterId, q.limit];
  const conds = ['resource_type = $1', 'NOT deleted', 'id > $2'];
  if (q.since) {
    params.push(q.since);
    conds.push(`last_updated > $${params.length}::timestamptz`);
  }
  if (q.patients) {
    const list = q.patients === 'all' ? undefined : q.patients;
    if (list) params.push(list);
    const target = list ? ` AND s.target_id = ANY($${params.length}::text[])` : '';
    conds.push(
      q.type === 'Patient'
        ? list
          ? `id = ANY($${params.length}::text[])`
          : 'true'
        : `EXISTS (SELECT 1 FROM search_reference s WHERE s.resource_type = r.resource_type AND s.id = r.id AND s.target_type = 'Patient'${target})`,
    );
  }
  if (q.scope) conds.push(scopeSql(q.scope, 'r.owner', (v) => (params.push(v), `$${params.length}`)));
  const res = await db.query<ResourceRow>(`SELECT ${RESOURCE_COLUMNS} FROM resource r WHERE ${conds.join(' AND ')} ORDER BY id LIMIT $3`, params);
  return res.rows.map(toRecord);
}
