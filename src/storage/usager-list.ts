// One page of the web UI's "Usagers" list: stored Patients filtered by name words, identifier
// and organisation, sorted on a column, with the total.
//
// Read from `usager_sort` (migration 0161, D-211): one narrow row per current Patient with its
// sort keys, computed when the Patient is written — the name shown (usage name, `use = usual`,
// else the birth name, `official`; the `family` index mixes both, so sorting on it put "Jeanne
// JOLY (usage BLANCHARD)" under J while the list showed her as BLANCHARD), lower case without
// accents; the FINESS and local identifier; birth date; gender; last update — each B-tree
// indexed with the id as tie-breaker. A page is an index range: at 20,000 usagers the old query
// read and decompressed every Patient's content to sort it, on every request.
//
// Absent values sort last in both directions, as before: the list is read in segments — the
// rows that have the key (in index order), then those that do not (by id) — sized by one
// grouped count, which also gives the total. Sorting by organisation is one segment per
// organisation, in the order of their names (known here, not in SQL), each in name order.
//
// The segment sizes of a list filtered at most by organisation (and the reader's scope) are sums
// over `usager_count` (migration 0198, D-347), which the writes keep in step with `usager_sort`:
// a few rows per owner, where the grouped count read one row per usager (a sequential scan,
// 2.7 ms at 20,000 usagers). Filtered by name words or identifier, the rows the filter selects
// through its indexes are counted, as before.
import { normalizeString } from './search-params.js';
import type { Queryable } from './types.js';
import { scopeSql, type ReadScope } from './scope.js';

export type UsagerSort = 'nom' | 'naissance' | 'sexe' | 'organisation' | 'identifiant' | 'maj';
export const USAGER_SORTS: readonly UsagerSort[] = ['nom', 'naissance', 'sexe', 'organisation', 'identifiant', 'maj'];

export interface UsagerListQuery {
  /** Words that must each prefix a part of a name (AND). */
  words?: string[];
  /** Exact identifier value (any system). */
  identifier?: string;
  /** FINESS of the organisation: the usager's local identifier starts with `3` + FINESS + `/`. */
  finess?: string;
  sort?: UsagerSort;
  descending?: boolean;
  /** Organisation names by FINESS, for the sort on the organisation column. */
  organisationNames?: Map<string, string>;
  /** The reader's organisations (src/storage/scope.ts): usagers of an owner in scope only. */
  scope?: ReadScope;
  count: number;
  offset: number;
}

const COLUMN: Record<Exclude<UsagerSort, 'organisation'>, string> = {
  nom: 'name_key',
  naissance: 'birth_date',
  sexe: 'gender',
  identifiant: 'local_id',
  maj: 'last_updated',
};

/** Whether a usager lacks the sort column, in `usager_count` (`last_updated` is never absent). */
const ABSENT: Record<Exclude<UsagerSort, 'organisation'>, string> = {
  nom: 'c.no_name',
  naissance: 'c.no_birth',
  sexe: 'c.no_gender',
  identifiant: 'c.no_local',
  maj: 'false',
};

/**
 * The grouped counts that size a list's segments (`key` per row: the FINESS, or whether the sort
 * key is absent): from the counts the writes keep when the list is filtered at most by
 * organisation and scope, else by counting the usagers the filter selects.
 */
async function segmentCounts<K>(db: Queryable, q: UsagerListQuery, where: string, params: unknown[], usagerKey: string, countKey: string): Promise<{ key: K; n: number }[]> {
  if ((q.words ?? []).length === 0 && !q.identifier) {
    const kept: unknown[] = [];
    const p = (v: unknown) => (kept.push(v), `$${kept.length}`);
    const filters: string[] = [];
    if (q.finess) filters.push(`c.finess = ${p(q.finess)} AND NOT c.no_finess`);
    if (q.scope) filters.push(scopeSql(q.scope, 'c.owner', p));
    const r = await db.query<{ key: K; n: number }>(
      `SELECT ${countKey} AS key, sum(c.n)::int AS n FROM usager_count c WHERE ${filters.length ? filters.join(' AND ') : 'true'} GROUP BY 1 HAVING sum(c.n) <> 0`,
      kept,
    );
    return r.rows;
  }
  return (await db.query<{ key: K; n: number }>(`SELECT ${usagerKey} AS key, count(*)::int AS n FROM usager_sort u WHERE ${where} GROUP BY 1`, params)).rows;
}

/** A run of the list read by one indexed query: its condition, order and size. */
interface Segment {
  /** Condition; `$seg` stands for `value`. */
  where: string;
  value?: unknown;
  order: string;
  /** The same order backwards: a page in the second half is read from the end (a shorter index walk). */
  reverse: string;
  size: number;
}

/** One page of usagers and the total; ties are broken by id so pages never overlap. */
export async function listUsagers(db: Queryable, q: UsagerListQuery): Promise<{ total: number; ids: string[] }> {
  const params: unknown[] = [];
  const p = (v: unknown) => (params.push(v), `$${params.length}`);
  const filters: string[] = [];
  for (const w of (q.words ?? []).slice(0, 4)) {
    const like = normalizeString(w).replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
    filters.push(`u.id IN (SELECT s.id FROM search_string s WHERE s.resource_type = 'Patient' AND s.param = 'name' AND s.value LIKE ${p(like)})`);
  }
  if (q.identifier) filters.push(`u.id IN (SELECT t.id FROM search_token t WHERE t.resource_type = 'Patient' AND t.param = 'identifier' AND t.code = ${p(q.identifier)})`);
  if (q.finess) filters.push(`u.finess = ${p(q.finess)}`);
  if (q.scope) filters.push(scopeSql(q.scope, 'u.owner', p));
  const where = filters.length ? filters.join(' AND ') : 'true';
  const dir = q.descending ? 'DESC' : 'ASC';
  const rev = q.descending ? 'ASC' : 'DESC';
  const sort = q.sort ?? 'nom';

  const segments: Segment[] = [];
  if (sort === 'organisation') {
    const counts = (await segmentCounts<string | null>(db, q, where, params, 'u.finess', 'CASE WHEN c.no_finess THEN NULL ELSE c.finess END')).map((r) => ({ finess: r.key, n: r.n }));
    // The organisation's name when it is known (lower case, no accents), else its FINESS; code-unit order, as "C".
    const key = (f: string) => {
      const name = q.organisationNames?.get(f);
      return name ? normalizeString(name) : f;
    };
    const known = counts.filter((r) => r.finess !== null).map((r) => ({ finess: r.finess!, key: key(r.finess!), n: Number(r.n) }));
    known.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.finess < b.finess ? -1 : a.finess > b.finess ? 1 : 0) * (q.descending ? -1 : 1));
    for (const k of known) segments.push({ where: 'u.finess = $seg', value: k.finess, order: `u.name_key ${dir}, u.id ${dir}`, reverse: `u.name_key ${rev}, u.id ${rev}`, size: k.n });
    const none = counts.find((r) => r.finess === null);
    if (none) segments.push({ where: 'u.finess IS NULL', order: `u.id ${dir}`, reverse: `u.id ${rev}`, size: Number(none.n) });
  } else {
    const col = `u.${COLUMN[sort]}`;
    const counts = await segmentCounts<boolean>(db, q, where, params, `${col} IS NULL`, ABSENT[sort]);
    const size = (absent: boolean) => Number(counts.find((r) => r.key === absent)?.n ?? 0);
    segments.push({ where: `${col} IS NOT NULL`, order: `${col} ${dir}, u.id ${dir}`, reverse: `${col} ${rev}, u.id ${rev}`, size: size(false) });
    segments.push({ where: `${col} IS NULL`, order: `u.id ${dir}`, reverse: `u.id ${rev}`, size: size(true) });
  }
  const total = segments.reduce((s, x) => s + x.size, 0);
  const ids: string[] = [];
  let skip = Math.max(0, Math.floor(q.offset));
  let want = Math.max(0, Math.floor(q.count));
  for (const seg of segments) {
    if (want === 0) break;
    if (skip >= seg.size) {
      skip -= seg.size;
      continue;
    }
    const take = Math.min(want, seg.size - skip);
    const fromEnd = skip > seg.size / 2;
    const rows = await db.query<{ id: string }>(
      `SELECT u.id FROM usager_sort u WHERE ${where} AND ${seg.where.replace('$seg', `$${params.length + 1}`)}
        ORDER BY ${fromEnd ? seg.reverse : seg.order} LIMIT ${take} OFFSET ${fromEnd ? seg.size - skip - take : skip}`,
      seg.value === undefined ? params : [...params, seg.value],
    );
    const got = rows.rows.map((r) => r.id);
    ids.push(...(fromEnd ? got.reverse() : got));
    want -= rows.rows.length;
    skip = 0;
  }
  return { total, ids };
}

/** FINESS of the organisations that have usagers (their local identifiers), in order: from the counts the writes keep (migration 0161). */
export async function usagerOrganisations(db: Queryable): Promise<string[]> {
  const res = await db.query<{ finess: string }>(
    `SELECT finess FROM pilotage_count WHERE kind = 'usagers' AND finess <> '' GROUP BY finess HAVING sum(n) > 0`,
  );
  return res.rows.map((r) => r.finess).sort();
}
