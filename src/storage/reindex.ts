// Re-indexing: the index rows of every current resource rebuilt with the repository's
// SearchParameterSet, and its fingerprint recorded in `index_state` (migration 0008), so that a
// server started with other IG packages (a SearchParameter added or changed) finds again what
// it should. Run by `tddui reindex`, and by `tddui serve` at start-up when the fingerprint differs.
import type { SearchParameterSet } from '../fhir/search/parameters.js';
import type { FhirResource } from '../fhir/json.js';
import type { Database, Queryable } from './types.js';
import { writeVersions, type VersionToWrite } from './writer.js';

export interface IndexState {
  fingerprint: string;
  updatedAt: string;
  /** How many parameters per source (base, each package) the set had. */
  parameters: Record<string, unknown>;
}

export interface ReindexReport {
  resources: number;
  ms: number;
  fingerprint: string;
}

const STATE = 'search';

export async function indexState(db: Queryable): Promise<IndexState | undefined> {
  const r = await db.query<{ fingerprint: string; updated_at: Date | string; parameters: Record<string, unknown> | string }>(
    `SELECT fingerprint, updated_at, parameters FROM index_state WHERE name = $1`,
    [STATE],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  return {
    fingerprint: row.fingerprint,
    updatedAt: (row.updated_at instanceof Date ? row.updated_at : new Date(row.updated_at)).toISOString(),
    parameters: typeof row.parameters === 'string' ? JSON.parse(row.parameters) : row.parameters,
  };
}

function describe(params: SearchParameterSet): Record<string, unknown> {
  const bySource: Record<string, number> = {};
  for (const t of params.types()) for (const d of params.of(t)) if (d.name === d.key) bySource[d.source] = (bySource[d.source] ?? 0) + 1;
  return { bySource, unsupported: params.unsupported.length };
}

export async function recordIndexState(db: Queryable, params: SearchParameterSet): Promise<void> {
  await db.query(
    `INSERT INTO index_state (name, fingerprint, parameters, updated_at) VALUES ($1, $2, $3::jsonb, now())
     ON CONFLICT (name) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, parameters = EXCLUDED.parameters, updated_at = now()`,
    [STATE, params.fingerprint, JSON.stringify(describe(params))],
  );
}

/**
 * Whether the stored index was written with `params`. An empty database is recorded as indexed
 * with it (nothing to rebuild).
 */
export async function indexIsCurrent(db: Database, params: SearchParameterSet): Promise<boolean> {
  const state = await indexState(db);
  if (state?.fingerprint === params.fingerprint) return true;
  const any = await db.query(`SELECT 1 FROM resource LIMIT 1`);
  if (any.rows.length === 0) {
    await recordIndexState(db, params);
    return true;
  }
  return false;
}

/**
 * Rebuilds the index rows of every current resource, in batches (one transaction per batch:
 * the rows of a resource are replaced atomically; searches meanwhile see old or new rows of
 * each resource, never none), then records the fingerprint.
 */
export async function reindex(
  db: Database,
  params: SearchParameterSet,
  options: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<ReindexReport> {
  const t0 = performance.now();
  const size = Math.max(1, options.batchSize ?? 500);
  const total = Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource WHERE deleted = false`)).rows[0]!.n);
  let done = 0;
  let after: [string, string] = ['', ''];
  for (;;) {
    const rows = await db.query<{ resource_type: string; id: string; version_id: number; last_updated: Date | string; owner: string; content: FhirResource | string }>(
      `SELECT resource_type, id, version_id, last_updated, owner, content FROM resource
        WHERE deleted = false AND (resource_type, id) > ($1, $2) ORDER BY resource_type, id LIMIT ${size}`,
      after,
    );
    if (rows.rows.length === 0) break;
    const items: VersionToWrite[] = rows.rows.map((r) => ({
      resourceType: r.resource_type,
      id: r.id,
      versionId: Number(r.version_id),
      lastUpdated: (r.last_updated instanceof Date ? r.last_updated : new Date(r.last_updated)).toISOString(),
      owner: r.owner,
      existed: true,
      resource: typeof r.content === 'string' ? (JSON.parse(r.content) as FhirResource) : r.content,
    }));
    // Rewriting the same version: the row is replaced by itself (the history copy is skipped by
    // `reindexOnly`), its index rows deleted and written again.
    await db.transaction((tx) => writeVersions(tx, params, items, undefined, undefined, { reindexOnly: true }));
    done += items.length;
    options.onProgress?.(done, total);
    const last = rows.rows[rows.rows.length - 1]!;
    after = [last.resource_type, last.id];
  }
  await recordIndexState(db, params);
  return { resources: done, ms: Math.round(performance.now() - t0), fingerprint: params.fingerprint };
}
