// Batched writes of resource versions: history row, current row, search index. One call
// issues a fixed number of statements whatever the number of resources (rows travel as one
// JSON parameter expanded by jsonb_to_recordset), which keeps ingestion fast on both drivers.
import { extractIndex } from './search-params.js';
import type { FhirResource, Queryable } from './types.js';

export interface VersionToWrite {
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  owner: string;
  /** Whether a previous version exists (its index rows are replaced). */
  existed: boolean;
  /** The resource, with id and meta.versionId/lastUpdated already set. */
  resource: FhirResource;
  deleted?: boolean;
}

/** Current version numbers and last update of existing resources, locked until commit. */
export async function lockCurrent(
  tx: Queryable,
  keys: { resourceType: string; id: string }[],
): Promise<Map<string, { versionId: number; lastUpdated: string }>> {
  const out = new Map<string, { versionId: number; lastUpdated: string }>();
  if (keys.length === 0) return out;
  const res = await tx.query<{ resource_type: string; id: string; version_id: number; last_updated: Date | string }>(
    `SELECT r.resource_type, r.id, r.version_id, r.last_updated
       FROM resource r
       JOIN jsonb_to_recordset($1::jsonb) AS k(t text, i text) ON r.resource_type = k.t AND r.id = k.i
        FOR UPDATE OF r`,
    [JSON.stringify(keys.map((k) => ({ t: k.resourceType, i: k.id })))],
  );
  for (const r of res.rows) {
    out.set(`${r.resource_type}/${r.id}`, {
      versionId: Number(r.version_id),
      lastUpdated: (r.last_updated instanceof Date ? r.last_updated : new Date(r.last_updated)).toISOString(),
    });
  }
  return out;
}

/** Business keys to point at their objects in the same statement (ingest). */
export interface KeysToWrite {
  owner: string;
  rows: { resourceType: string; system: string; value: string; id: string }[];
}

/**
 * Writes the versions (current row; the replaced one moves to the history), replaces their index rows and upserts business
 * keys, in ONE statement of data-modifying CTEs: round trips dominate the cost of a write, and
 * the sub-statements touch disjoint rows (the DELETEs see only the rows of older versions).
 */
export async function writeVersions(
  tx: Queryable,
  items: VersionToWrite[],
  keys?: KeysToWrite,
  /** More data-modifying statements to run in the same round trip (placeholders from `p`). */
  extra?: (p: (v: unknown) => string) => string[],
): Promise<void> {
  const params: unknown[] = [];
  const p = (v: unknown) => (params.push(v), `$${params.length}`);
  const ctes: string[] = [];
  for (const [n, sql] of (extra?.(p) ?? []).entries()) ctes.push(`x_${n} AS (${sql})`);
  if (items.length === 0) {
    if (ctes.length) await tx.query(`WITH ${ctes.join(',\n')} SELECT 1`, params);
    return;
  }
  const rows = items.map((i) => ({
    resource_type: i.resourceType,
    id: i.id,
    version_id: i.versionId,
    last_updated: i.lastUpdated,
    deleted: i.deleted ?? false,
    owner: i.owner,
    content: i.resource,
  }));
  const v = p(JSON.stringify(rows));
  ctes.push(`v AS (SELECT * FROM jsonb_to_recordset(${v}::jsonb)
      AS x(resource_type text, id text, version_id integer, last_updated timestamptz, deleted boolean, owner text, content jsonb))`);
  // The replaced current rows move to the history. Every sub-statement reads the snapshot
  // taken before the statement, so this copies the old versions even though `c` below
  // overwrites those rows in the same statement.
  const previous = items.filter((i) => i.existed).map((i) => ({ t: i.resourceType, i: i.id }));
  if (previous.length) {
    ctes.push(`h AS (INSERT INTO resource_history (resource_type, id, version_id, last_updated, deleted, content)
      SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content
        FROM resource r JOIN jsonb_to_recordset(${p(JSON.stringify(previous))}::jsonb) AS o(t text, i text)
          ON r.resource_type = o.t AND r.id = o.i)`);
  }
  ctes.push(`c AS (INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, owner, content)
      SELECT resource_type, id, version_id, last_updated, deleted, owner, content FROM v
      ON CONFLICT (resource_type, id) DO UPDATE
         SET version_id = EXCLUDED.version_id, last_updated = EXCLUDED.last_updated,
             deleted = EXCLUDED.deleted, owner = EXCLUDED.owner, content = EXCLUDED.content)`);

  const replaced = items.filter((i) => i.existed).map((i) => ({ t: i.resourceType, i: i.id }));
  if (replaced.length) {
    const k = p(JSON.stringify(replaced));
    ctes.push(`k AS (SELECT * FROM jsonb_to_recordset(${k}::jsonb) AS x(t text, i text))`);
    for (const table of ['search_token', 'search_string', 'search_date', 'search_reference']) {
      ctes.push(`d_${table} AS (DELETE FROM ${table} s USING k WHERE s.resource_type = k.t AND s.id = k.i)`);
    }
  }

  const tokens: unknown[] = [];
  const strings: unknown[] = [];
  const dates: unknown[] = [];
  const refs: unknown[] = [];
  for (const i of items) {
    if (i.deleted) continue;
    const idx = extractIndex(i.resource);
    const t = i.resourceType;
    for (const r of idx.tokens) tokens.push({ t, i: i.id, p: r.param, s: r.system, c: r.code });
    for (const r of idx.strings) strings.push({ t, i: i.id, p: r.param, v: r.value, e: r.exact });
    for (const r of idx.dates) dates.push({ t, i: i.id, p: r.param, l: r.low, h: r.high });
    for (const r of idx.references) refs.push({ t, i: i.id, p: r.param, tt: r.targetType, ti: r.targetId, u: r.url });
  }
  if (tokens.length) {
    ctes.push(`i_token AS (INSERT INTO search_token (resource_type, id, param, system, code)
      SELECT t, i, p, s, c FROM jsonb_to_recordset(${p(JSON.stringify(tokens))}::jsonb) AS x(t text, i text, p text, s text, c text))`);
  }
  if (strings.length) {
    ctes.push(`i_string AS (INSERT INTO search_string (resource_type, id, param, value, exact)
      SELECT t, i, p, v, e FROM jsonb_to_recordset(${p(JSON.stringify(strings))}::jsonb) AS x(t text, i text, p text, v text, e text))`);
  }
  if (dates.length) {
    ctes.push(`i_date AS (INSERT INTO search_date (resource_type, id, param, low, high)
      SELECT t, i, p, l, h FROM jsonb_to_recordset(${p(JSON.stringify(dates))}::jsonb) AS x(t text, i text, p text, l timestamptz, h timestamptz))`);
  }
  if (refs.length) {
    ctes.push(`i_ref AS (INSERT INTO search_reference (resource_type, id, param, target_type, target_id, url)
      SELECT t, i, p, tt, ti, u FROM jsonb_to_recordset(${p(JSON.stringify(refs))}::jsonb) AS x(t text, i text, p text, tt text, ti text, u text))`);
  }
  if (keys && keys.rows.length) {
    // A key known under another id is re-pointed (the object it names was matched by a
    // higher-priority key).
    ctes.push(`i_key AS (INSERT INTO business_key (owner, resource_type, system, value, id)
      SELECT ${p(keys.owner)}::text, t, s, v, i
        FROM jsonb_to_recordset(${p(JSON.stringify(keys.rows.map((r) => ({ t: r.resourceType, s: r.system, v: r.value, i: r.id }))))}::jsonb)
          AS x(t text, s text, v text, i text)
      ON CONFLICT (owner, resource_type, system, value) DO UPDATE SET id = EXCLUDED.id)`);
  }
  await tx.query(`WITH ${ctes.join(',\n')} SELECT 1`, params);
}

/** Sets id and meta.versionId/lastUpdated on a copy of the resource. */
export function stamp(resource: FhirResource, id: string, versionId: number, lastUpdated: string): FhirResource {
  const meta = { ...(resource.meta ?? {}), versionId: String(versionId), lastUpdated };
  return { ...resource, id, meta };
}

/** A lastUpdated strictly after the previous version's (clocks may go backwards). */
export function nextInstant(now: Date, previous?: string): string {
  let t = now.getTime();
  if (previous) t = Math.max(t, new Date(previous).getTime() + 1);
  return new Date(t).toISOString();
}
