// Batched writes of resource versions: history row, current row, search index. One call
// issues one statement for up to WRITE_CHUNK resources (rows travel as one array parameter
// per column, expanded by unnest), which keeps ingestion fast on both drivers; a larger call,
// one statement per WRITE_CHUNK (D-296). Only the unit
// of work (unit-of-work.ts) and the re-indexer call it.
import { mapYielding } from './yielding.js';
import type { IndexRows, SearchParameterSet } from '../fhir/search/parameters.js';
import { pendingInsert } from './derived.js';
import { TextArray, type FhirResource, type Queryable } from './types.js';

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
 * index rows and upserts business keys, in ONE statement of data-modifying CTEs (per
 * WRITE_CHUNK versions, D-296): round trips
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
  // A large write (a 40 MB Bundle: 14,000 versions) goes in statements of WRITE_CHUNK versions
  // (issue 21, D-296): pg serialises a statement's parameters in one go (~1.7 s of event loop for the
  // whole Bundle in one statement on a loaded host), PGlite runs a statement in one go. Same
  // transaction, so all or nothing as before; the versions of one call are of distinct
  // resources (unit-of-work's `occurrences`), so the statements touch disjoint rows. The last
  // statement carries the keys, the extra statements and the keys left for the derived refresh,
  // which runs after the write, in batches (D-356, storage/derived.ts).
  //
  // The business keys likewise: more than WRITE_CHUNK (the 40 MB Bundle's ~11,000) go in
  // statements of their own after the versions (D-351); they are distinct rows (the unit of work
  // keeps one per owner, type, system and value), so the order of the statements does not matter.
  const split = keys && keys.rows.length > WRITE_CHUNK;
  const ownKeys = split ? undefined : keys;
  // The keys whose derived rows the versions can change go to `derived_pending`, for a drain to
  // refresh after the write (D-356, storage/derived.ts): each statement its own versions' (D-351:
  // no statement carries more than WRITE_CHUNK rows of anything).
  if (items.length > WRITE_CHUNK) {
    const last = Math.floor((items.length - 1) / WRITE_CHUNK) * WRITE_CHUNK;
    for (let k = 0; k < last; k += WRITE_CHUNK) {
      const chunk = items.slice(k, k + WRITE_CHUNK);
      await writeStatement(tx, searchParams, chunk, undefined, undefined, mode, chunk.filter(needsRefresh));
    }
    const chunk = items.slice(last);
    await writeStatement(tx, searchParams, chunk, ownKeys, extra, mode, chunk.filter(needsRefresh));
  } else {
    await writeStatement(tx, searchParams, items, ownKeys, extra, mode, items.filter(needsRefresh));
  }
  if (split) for (let k = 0; k < keys.rows.length; k += WRITE_CHUNK) await writeStatement(tx, searchParams, [], { owner: keys.owner, rows: keys.rows.slice(k, k + WRITE_CHUNK) }, undefined, mode, []);
}

/** Versions written per statement, and keys per statement of a large write (see writeVersions). */
export const WRITE_CHUNK = 500;

/** One statement of writeVersions; `pending`: the versions whose derived rows it leaves to the drain (D-356). */
async function writeStatement(
  tx: Queryable,
  searchParams: SearchParameterSet,
  items: VersionToWrite[],
  keys: KeysToWrite | undefined,
  extra: ((p: (v: unknown) => string) => string[]) | undefined,
  mode: { reindexOnly?: boolean },
  pending: VersionToWrite[],
): Promise<void> {
  const params: unknown[] = [];
  const p = (v: unknown) => (params.push(v), `$${params.length}`);
  const ctes: string[] = [];
  for (const [n, sql] of (extra?.(p) ?? []).entries()) ctes.push(`x_${n} AS (${sql})`);
  if (items.length === 0) {
    // No version, but maybe keys: another owner's in a plan across organisations (unit-of-work
    // step 7), or keys re-pointed in a plan that changed nothing. They were dropped here until
    // session 28 (keys-owners.test).
    if (keys && keys.rows.length) ctes.push(keyInsert(keys, p));
    if (ctes.length) await tx.query(`WITH ${ctes.join(',\n')} SELECT 1`, params);
    return;
  }
  // A statement of many versions prepares its contents and index rows a slice at a time,
  // letting the event loop turn between slices (issue 21): the same arrays, in the same order.
  const large = items.length > LARGE_WRITE;
  const stringify = (x: VersionToWrite) => JSON.stringify(x.resource);
  const contents = mode.reindexOnly ? [] : large ? await mapYielding(items, stringify) : items.map(stringify);
  const tables = large ? await indexTablesSliced(searchParams, items) : indexTables(searchParams, items);
  const types = items.map((i) => i.resourceType);
  const ids = items.map((i) => i.id);
  // Text and JSON arrays as TextArray (D-332): sent in PostgreSQL's binary array form, not as
  // literals to escape here and parse there.
  const t = p(new TextArray(types));
  const i = p(new TextArray(ids));
  if (!mode.reindexOnly) ctes.push(`c AS (INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, owner, content)
      SELECT * FROM unnest(${t}::text[], ${i}::text[], ${p(items.map((x) => x.versionId))}::integer[],
                           ${p(items.map((x) => x.lastUpdated))}::timestamptz[], ${p(items.map((x) => x.deleted ?? false))}::boolean[],
                           ${p(new TextArray(items.map((x) => x.owner)))}::text[], ${p(new TextArray(contents, 'jsonb'))}::jsonb[])
      ON CONFLICT (resource_type, id) DO UPDATE
         SET version_id = EXCLUDED.version_id, last_updated = EXCLUDED.last_updated,
             deleted = EXCLUDED.deleted, owner = EXCLUDED.owner, content = EXCLUDED.content
      RETURNING 1)`);

  const replaced = items.filter((x) => x.existed);
  if (replaced.length) {
    const rt = replaced.length === items.length ? t : p(new TextArray(replaced.map((x) => x.resourceType)));
    const ri = replaced.length === items.length ? i : p(new TextArray(replaced.map((x) => x.id)));
    // The replaced current rows move to the history. Every sub-statement reads the snapshot
    // taken before the statement, so this copies the old versions even though `c` above
    // overwrites those rows in the same statement.
    // `superseded_at` (the partition key, migration 0170): the time of the version replacing it.
    if (!mode.reindexOnly) ctes.push(`h AS (INSERT INTO resource_history (resource_type, id, version_id, last_updated, deleted, content, superseded_at)
      SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content, o.s
        FROM unnest(${rt}::text[], ${ri}::text[], ${p(replaced.map((x) => x.lastUpdated))}::timestamptz[]) AS o(t, i, s)
        JOIN resource r ON r.resource_type = o.t AND r.id = o.i)`);
    for (const { table } of INDEX_TABLES) {
      ctes.push(`d_${table} AS (DELETE FROM ${table} s USING unnest(${rt}::text[], ${ri}::text[]) AS k(t, i)
        WHERE s.resource_type = k.t AND s.id = k.i RETURNING 1)`);
    }
  }

  for (const t of tables) {
    if (t.arrays[0]!.length === 0) continue;
    ctes.push(`i_${t.table} AS (INSERT INTO ${t.table} (${t.columns.join(', ')}) SELECT * FROM unnest(${t.arrays.map((a, n) => `${p(textual(a, t.casts[n]!))}::${t.casts[n]}[]`).join(', ')}) RETURNING 1)`);
  }
  if (keys && keys.rows.length) ctes.push(keyInsert(keys, p));
  if (pending.length) ctes.push(`x_pending AS (${pendingInsert(pending, p)})`);
  // Sent as a named prepared statement (D-331) unless it copies or deletes earlier versions' rows:
  // its text is the same for every Bundle of a shape, and parsing and planning it cost ~0.4–0.65 ms
  // of PostgreSQL CPU per call (about a fifth of the statement without the refresh). A plan made
  // once for any parameters sees each `unnest` as 100 rows of unknown content; the inserts' plans do
  // not depend on that, but the history copy and the index deletions join those rows with tables
  // that grow, where a misjudged row count can choose a scan — those keep a plan per call.
  // (Until D-356 the derived refresh ran here, in the main query, above an aggregate of the
  // sub-statements writing what it reads, D-291.)
  await tx.query(`WITH ${ctes.join(',\n')} SELECT 1`, params, { reuse: replaced.length === 0 });
}

/** An index column's array: a TextArray when its cast is text or jsonb (D-332), else as it is. */
function textual(a: unknown[], cast: string): unknown {
  return cast === 'text' || cast === 'jsonb' ? new TextArray(a, cast) : a;
}

/** Types whose writes change the tables derived for the web UI (migrations 0161, 0180). */
const DERIVED_TYPES = new Set(['Patient', 'Encounter', 'Task', 'QuestionnaireResponse', 'CarePlan', 'Consent']);
/** The identifier systems of the transports Pilotage counts (migration 0161: its only use of Tasks). */
const TRANSPORT_SYSTEMS = new Set(['https://identifiant-medicosocial-transportusager.esante.gouv.fr', 'https://identifiant-medicosocial-transportprofessionnel.esante.gouv.fr']);

/**
 * Whether a version written can change a derived table (D-290). A Task counts only as a
 * transport (its `identifier` in a transport system); a NEW Task that is not one has nothing to
 * add and, having no earlier version, nothing to take out — a PP-PA Bundle's ten action and
 * resource Tasks. A Task that existed is always refreshed: its earlier version may have counted.
 */
export function needsRefresh(x: Pick<VersionToWrite, 'resourceType' | 'existed' | 'resource' | 'deleted'>): boolean {
  if (!DERIVED_TYPES.has(x.resourceType)) return false;
  if (x.resourceType !== 'Task' || x.existed) return true;
  const ids = (x.resource as { identifier?: unknown }).identifier;
  return !x.deleted && Array.isArray(ids) && ids.some((i) => TRANSPORT_SYSTEMS.has((i as { system?: unknown } | null)?.system as string));
}


/** The index rows of some resources, one array per column of each index table (for `unnest`). */
export interface IndexTable {
  table: string;
  columns: string[];
  casts: string[];
  arrays: unknown[][];
}

/** Every index table with its columns: what a write inserts, and what search reads. */
export const INDEX_TABLES: { table: string; columns: string[]; casts: string[] }[] = [
  { table: 'search_token', columns: ['resource_type', 'id', 'param', 'system', 'code'], casts: ['text', 'text', 'text', 'text', 'text'] },
  { table: 'search_string', columns: ['resource_type', 'id', 'param', 'value', 'exact'], casts: ['text', 'text', 'text', 'text', 'text'] },
  { table: 'search_date', columns: ['resource_type', 'id', 'param', 'low', 'high'], casts: ['text', 'text', 'text', 'timestamptz', 'timestamptz'] },
  {
    table: 'search_number',
    columns: ['resource_type', 'id', 'param', 'low', 'high', 'system', 'code', 'canonical_low', 'canonical_high', 'canonical_code'],
    casts: ['text', 'text', 'text', 'numeric', 'numeric', 'text', 'text', 'numeric', 'numeric', 'text'],
  },
  { table: 'search_reference', columns: ['resource_type', 'id', 'param', 'target_type', 'target_id', 'url'], casts: ['text', 'text', 'text', 'text', 'text', 'text'] },
  { table: 'search_composite', columns: ['resource_type', 'id', 'param', 'components'], casts: ['text', 'text', 'text', 'jsonb'] },
];

/** Statements of more versions than this prepare their parameters in slices (issue 21). */
export const LARGE_WRITE = 200;
type Indexed = { resourceType: string; id: string; resource: FhirResource; deleted?: boolean };

/** Index rows of `items` (deleted ones have none), as column arrays per table. */
export function indexTables(searchParams: SearchParameterSet, items: Indexed[]): IndexTable[] {
  const tables = emptyIndexTables();
  for (const x of items) addIndexRows(searchParams, tables, x);
  return tables;
}

/** `indexTables`, letting the event loop turn as it goes (`mapYielding`). */
async function indexTablesSliced(searchParams: SearchParameterSet, items: Indexed[]): Promise<IndexTable[]> {
  const tables = emptyIndexTables();
  await mapYielding(items, (x) => addIndexRows(searchParams, tables, x));
  return tables;
}

function emptyIndexTables(): IndexTable[] {
  return INDEX_TABLES.map((t) => ({ ...t, arrays: t.columns.map(() => [] as unknown[]) }));
}

function addIndexRows(searchParams: SearchParameterSet, tables: IndexTable[], x: Indexed): void {
  const [tok, str, dat, num, ref, cmp] = tables.map((t) => t.arrays) as [unknown[][], unknown[][], unknown[][], unknown[][], unknown[][], unknown[][]];
  const push = (cols: unknown[][], values: unknown[]) => values.forEach((v, n) => cols[n]!.push(v));
  if (x.deleted) return;
  const idx: IndexRows = searchParams.extract(x.resource);
  const rt = x.resourceType;
  const id = x.id;
  for (const r of idx.tokens) push(tok, [rt, id, r.param, r.system ?? null, r.code]);
  for (const r of idx.strings) push(str, [rt, id, r.param, r.value, r.exact]);
  for (const r of idx.dates) push(dat, [rt, id, r.param, r.low, r.high]);
  for (const r of idx.numbers) push(num, [rt, id, r.param, r.low, r.high, r.system, r.code, r.canonical_low, r.canonical_high, r.canonical_code]);
  for (const r of idx.references) push(ref, [rt, id, r.param, r.targetType ?? null, r.targetId ?? null, r.url ?? null]);
  for (const r of idx.composites) push(cmp, [rt, id, r.param, JSON.stringify(r.components)]);
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

/**
 * The business keys' rows: a key known under another id is re-pointed (the object it names was
 * matched by a higher-priority key).
 */
function keyInsert(keys: KeysToWrite, p: (v: unknown) => string): string {
  const r = keys.rows;
  return `i_key AS (INSERT INTO business_key (owner, resource_type, system, value, id)
      SELECT ${p(keys.owner)}::text, * FROM unnest(${p(new TextArray(r.map((x) => x.resourceType)))}::text[], ${p(new TextArray(r.map((x) => x.system)))}::text[],
                                                  ${p(new TextArray(r.map((x) => x.value)))}::text[], ${p(new TextArray(r.map((x) => x.id)))}::text[])
      ON CONFLICT (owner, resource_type, system, value) DO UPDATE SET id = EXCLUDED.id)`;
}
