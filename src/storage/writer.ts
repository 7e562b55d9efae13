// Batched writes of resource versions: history row, current row, search index. One call
// issues one statement whatever the number of resources (rows travel as one array parameter
// per column, expanded by unnest), which keeps ingestion fast on both drivers. Only the unit
// of work (unit-of-work.ts) and the re-indexer call it.
import type { IndexRows, SearchParameterSet } from '../fhir/search/parameters.js';
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

export interface CurrentRow {
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
  owner: string;
  content?: FhirResource;
}

/**
 * Current version numbers, last update, deletion and owner of existing resources, locked until
 * commit; with their content when `withContent` (patches).
 */
export async function lockCurrent(
  tx: Queryable,
  keys: { resourceType: string; id: string }[],
  withContent = false,
): Promise<Map<string, CurrentRow>> {
  const out = new Map<string, CurrentRow>();
  if (keys.length === 0) return out;
  // unnest of arrays, not a JSON record set: the planner knows how many rows it yields and
  // probes the primary key instead of scanning the table.
  const res = await tx.query<{ resource_type: string; id: string; version_id: number; last_updated: Date | string; deleted: boolean; owner: string; content?: FhirResource | string }>(
    `SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.owner${withContent ? ', r.content' : ''}
       FROM resource r
       JOIN unnest($1::text[], $2::text[]) AS k(t, i) ON r.resource_type = k.t AND r.id = k.i
        FOR UPDATE OF r`,
    [keys.map((k) => k.resourceType), keys.map((k) => k.id)],
  );
  for (const r of res.rows) {
    const row: CurrentRow = {
      versionId: Number(r.version_id),
      lastUpdated: (r.last_updated instanceof Date ? r.last_updated : new Date(r.last_updated)).toISOString(),
      deleted: r.deleted,
      owner: r.owner,
    };
    if (r.content !== undefined) row.content = typeof r.content === 'string' ? (JSON.parse(r.content) as FhirResource) : r.content;
    out.set(`${r.resource_type}/${r.id}`, row);
  }
  return out;
}

/** Business keys to point at their objects in the same statement (ingest). */
export interface KeysToWrite {
  owner: string;
  rows: { resourceType: string; system: string; value: string; id: string }[];
}

/**
 * Writes the versions (current row; the replaced one moves to the history), replaces their
 * index rows and upserts business keys, in ONE statement of data-modifying CTEs: round trips
 * dominate the cost of a write, and the sub-statements touch disjoint rows (the DELETEs see only
 * the rows of older versions).
 *
 * Rows travel as one array parameter per column, expanded by `unnest`: nothing to parse but
 * the content itself, and the planner knows the row counts, so the history copy and the index
 * deletions probe the `(resource_type, id)` indexes instead of scanning tables that grow with
 * the data (which `jsonb_to_recordset`, estimated at 100 rows, led it to do).
 */
export async function writeVersions(
  tx: Queryable,
  searchParams: SearchParameterSet,
  items: VersionToWrite[],
  keys?: KeysToWrite,
  /** More data-modifying statements to run in the same round trip (placeholders from `p`). */
  extra?: (p: (v: unknown) => string) => string[],
  /** Re-indexing: only the index rows are replaced (no new version, no history copy). */
  mode: { reindexOnly?: boolean } = {},
): Promise<void> {
  const params: unknown[] = [];
  const p = (v: unknown) => (params.push(v), `$${params.length}`);
  const ctes: string[] = [];
  for (const [n, sql] of (extra?.(p) ?? []).entries()) ctes.push(`x_${n} AS (${sql})`);
  if (items.length === 0) {
    if (ctes.length) await tx.query(`WITH ${ctes.join(',\n')} SELECT 1`, params);
    return;
  }
  const types = items.map((i) => i.resourceType);
  const ids = items.map((i) => i.id);
  const t = p(types);
  const i = p(ids);
  if (!mode.reindexOnly) ctes.push(`c AS (INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, owner, content)
      SELECT * FROM unnest(${t}::text[], ${i}::text[], ${p(items.map((x) => x.versionId))}::integer[],
                           ${p(items.map((x) => x.lastUpdated))}::timestamptz[], ${p(items.map((x) => x.deleted ?? false))}::boolean[],
                           ${p(items.map((x) => x.owner))}::text[], ${p(items.map((x) => JSON.stringify(x.resource)))}::jsonb[])
      ON CONFLICT (resource_type, id) DO UPDATE
         SET version_id = EXCLUDED.version_id, last_updated = EXCLUDED.last_updated,
             deleted = EXCLUDED.deleted, owner = EXCLUDED.owner, content = EXCLUDED.content)`);

  const replaced = items.filter((x) => x.existed);
  if (replaced.length) {
    const rt = replaced.length === items.length ? t : p(replaced.map((x) => x.resourceType));
    const ri = replaced.length === items.length ? i : p(replaced.map((x) => x.id));
    // The replaced current rows move to the history. Every sub-statement reads the snapshot
    // taken before the statement, so this copies the old versions even though `c` above
    // overwrites those rows in the same statement.
    // `superseded_at` (the partition key, migration 0170): the time of the version replacing it.
    if (!mode.reindexOnly) ctes.push(`h AS (INSERT INTO resource_history (resource_type, id, version_id, last_updated, deleted, content, superseded_at)
      SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content, o.s
        FROM unnest(${rt}::text[], ${ri}::text[], ${p(replaced.map((x) => x.lastUpdated))}::timestamptz[]) AS o(t, i, s)
        JOIN resource r ON r.resource_type = o.t AND r.id = o.i)`);
    for (const table of ['search_token', 'search_string', 'search_date', 'search_reference', 'search_number', 'search_composite']) {
      ctes.push(`d_${table} AS (DELETE FROM ${table} s USING unnest(${rt}::text[], ${ri}::text[]) AS k(t, i)
        WHERE s.resource_type = k.t AND s.id = k.i)`);
    }
  }

  // Index rows, one array per column.
  const cols = <K extends string>(names: readonly K[]) => Object.fromEntries(names.map((n) => [n, [] as unknown[]])) as Record<K, unknown[]>;
  const tok = cols(['t', 'i', 'p', 's', 'c'] as const);
  const str = cols(['t', 'i', 'p', 'v', 'e'] as const);
  const dat = cols(['t', 'i', 'p', 'l', 'h'] as const);
  const ref = cols(['t', 'i', 'p', 'tt', 'ti', 'u'] as const);
  const num = cols(['t', 'i', 'p', 'l', 'h', 's', 'c', 'cl', 'ch', 'cc'] as const);
  const cmp = cols(['t', 'i', 'p', 'j'] as const);
  for (const x of items) {
    if (x.deleted) continue;
    const idx: IndexRows = searchParams.extract(x.resource);
    const rt = x.resourceType;
    for (const r of idx.tokens) (tok.t.push(rt), tok.i.push(x.id), tok.p.push(r.param), tok.s.push(r.system ?? null), tok.c.push(r.code));
    for (const r of idx.strings) (str.t.push(rt), str.i.push(x.id), str.p.push(r.param), str.v.push(r.value), str.e.push(r.exact));
    for (const r of idx.dates) (dat.t.push(rt), dat.i.push(x.id), dat.p.push(r.param), dat.l.push(r.low), dat.h.push(r.high));
    for (const r of idx.numbers) (num.t.push(rt), num.i.push(x.id), num.p.push(r.param), num.l.push(r.low), num.h.push(r.high), num.s.push(r.system), num.c.push(r.code), num.cl.push(r.canonical_low), num.ch.push(r.canonical_high), num.cc.push(r.canonical_code));
    for (const r of idx.composites) (cmp.t.push(rt), cmp.i.push(x.id), cmp.p.push(r.param), cmp.j.push(JSON.stringify(r.components)));
    for (const r of idx.references) (ref.t.push(rt), ref.i.push(x.id), ref.p.push(r.param), ref.tt.push(r.targetType ?? null), ref.ti.push(r.targetId ?? null), ref.u.push(r.url ?? null));
  }
  const insert = (name: string, table: string, columns: string, arrays: unknown[][], casts: string[]) => {
    if (arrays[0].length === 0) return;
    ctes.push(`${name} AS (INSERT INTO ${table} (${columns}) SELECT * FROM unnest(${arrays.map((a, n) => `${p(a)}::${casts[n]}[]`).join(', ')}))`);
  };
  insert('i_token', 'search_token', 'resource_type, id, param, system, code', [tok.t, tok.i, tok.p, tok.s, tok.c], ['text', 'text', 'text', 'text', 'text']);
  insert('i_string', 'search_string', 'resource_type, id, param, value, exact', [str.t, str.i, str.p, str.v, str.e], ['text', 'text', 'text', 'text', 'text']);
  insert('i_date', 'search_date', 'resource_type, id, param, low, high', [dat.t, dat.i, dat.p, dat.l, dat.h], ['text', 'text', 'text', 'timestamptz', 'timestamptz']);
  insert(
    'i_num',
    'search_number',
    'resource_type, id, param, low, high, system, code, canonical_low, canonical_high, canonical_code',
    [num.t, num.i, num.p, num.l, num.h, num.s, num.c, num.cl, num.ch, num.cc],
    ['text', 'text', 'text', 'numeric', 'numeric', 'text', 'text', 'numeric', 'numeric', 'text'],
  );
  insert('i_cmp', 'search_composite', 'resource_type, id, param, components', [cmp.t, cmp.i, cmp.p, cmp.j], ['text', 'text', 'text', 'jsonb']);
  insert('i_ref', 'search_reference', 'resource_type, id, param, target_type, target_id, url', [ref.t, ref.i, ref.p, ref.tt, ref.ti, ref.u], ['text', 'text', 'text', 'text', 'text', 'text']);
  if (keys && keys.rows.length) {
    // A key known under another id is re-pointed (the object it names was matched by a
    // higher-priority key).
    const r = keys.rows;
    ctes.push(`i_key AS (INSERT INTO business_key (owner, resource_type, system, value, id)
      SELECT ${p(keys.owner)}::text, * FROM unnest(${p(r.map((x) => x.resourceType))}::text[], ${p(r.map((x) => x.system))}::text[],
                                                  ${p(r.map((x) => x.value))}::text[], ${p(r.map((x) => x.id))}::text[])
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
