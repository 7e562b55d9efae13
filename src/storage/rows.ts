// Row <-> record conversion shared by the repository and the ingest pipeline.
import { FhirError, HTTP_ERRORS } from '../fhir/outcome/http-errors.js';
import type { FhirResource, ResourceRecord } from './types.js';

export interface ResourceRow {
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: Date | string;
  deleted: boolean;
  content: FhirResource | string;
}

export const RESOURCE_COLUMNS = 'resource_type, id, version_id, last_updated, deleted, content';

/**
 * `stored_types(t)`: the resource types `resource` holds, one descent of its primary key
 * `(resource_type, id)` each (PostgreSQL has no skip scan; the last row's t is NULL). What reads
 * `resource` by time across every type goes through it to `resource_type_updated_idx`
 * `(resource_type, last_updated)`, one range per type: there is no index on `last_updated` alone
 * (migration 0201, D-354). A CTE for a `WITH RECURSIVE`.
 */
export const STORED_TYPES = `stored_types(t) AS (
  SELECT min(resource_type) FROM resource
  UNION ALL
  SELECT (SELECT min(x.resource_type) FROM resource x WHERE x.resource_type > s.t) FROM stored_types s WHERE s.t IS NOT NULL)`;

/** ISO instant with milliseconds and Z, whatever the driver returned (Date or text). */
export function toIso(v: Date | string): string {
  return (v instanceof Date ? v : new Date(v)).toISOString();
}

/**
 * JSONB does not keep key order; put `resourceType`, `id` and `meta` first again so the
 * JSON we answer reads like FHIR JSON (order is not significant in FHIR JSON).
 */
export function orderKeys(r: FhirResource): FhirResource {
  const out: Record<string, unknown> = { resourceType: r.resourceType };
  if (r.id !== undefined) out.id = r.id;
  if (r.meta !== undefined) out.meta = r.meta;
  for (const [k, v] of Object.entries(r)) if (!(k in out)) out[k] = v;
  return out as FhirResource;
}

export function toRecord(row: ResourceRow): ResourceRecord {
  const content = typeof row.content === 'string' ? (JSON.parse(row.content) as FhirResource) : row.content;
  return {
    resourceType: row.resource_type,
    id: row.id,
    versionId: Number(row.version_id),
    lastUpdated: toIso(row.last_updated),
    deleted: row.deleted,
    resource: orderKeys(content),
  };
}

/** A page size or offset: a non-negative integer (it is written into the SQL text). */
export function pageNumber(v: number, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new FhirError(HTTP_ERRORS.PAGE_NUMBER, { name, value: String(v) });
  return Math.floor(v);
}
