// One page of the web UI's "Usagers" list: stored Patients filtered by name words, identifier
// and organisation, sorted on a column, with the total. Read-only; run it in readAggregates()
// (indicators.ts) so that PGlite, which keeps no statistics, does not plan nested loops.
//
// The sort keys are read from the Patient content, not from the search index: the name shown
// is the usage name (`use = usual`) when there is one, else the birth name (`official`), and
// the `family` index mixes both, so sorting on it put "Jeanne JOLY (usage BLANCHARD)" under J
// while the list showed her first as BLANCHARD.
import { normalizeString } from './search-params.js';
import type { Queryable } from './types.js';
import { scopeSql, type ReadScope } from './scope.js';

const SYS_LOCAL = 'https://identifiant-medicosocial-localusager.esante.gouv.fr';

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

/**
 * Lower case without the accents of French names (é è ê ë à â ä î ï ô ö ù û ü ç ÿ ñ, œ → oe),
 * close to normalizeString() in JavaScript (the search index's form). The key is computed for
 * every usager on each request, and translate() costs in proportion to its list of letters: a
 * complete Latin list made the list page 2–3× slower than the whole query of the old sort
 * (measured on PGlite, 10,000 usagers); this one adds about a third. lower() handles the
 * capitals (É → é) in both databases' UTF-8 locales; the capitals are listed too for a C locale.
 */
function sqlNormalized(expr: string): string {
  const from = 'éèêëàâäîïôöùûüçÿñÉÈÊËÀÂÄÎÏÔÖÙÛÜÇŸÑ';
  const to = 'eeeeaaaiioouuucyneeeeaaaiioouuucyn';
  return `replace(translate(lower(${expr}), '${from}', '${to}'), 'œ', 'oe')`;
}

// SQL/JSON paths (lax: a malformed `name` or `identifier` yields nothing rather than an error):
// measured several times faster on PGlite than jsonb_array_elements sub-queries, and the key is
// computed for every usager on each request.
const LOCAL_ID = `(jsonb_path_query_first(r.content, '$.identifier[*] ? (@.system == "${SYS_LOCAL}").value') #>> '{}')`;
/** FINESS of a local identifier `3` + FINESS + `/…` (split_part: far cheaper than a regular expression). */
const finessOf = (localId: string) => `CASE WHEN ${localId} LIKE '3%/%' THEN substr(split_part(${localId}, '/', 1), 2) END`;

/**
 * One page of usagers and the total. The name key is the family name then the first given name
 * of the name shown (a usage name without given names takes those of the birth name, as the page
 * shows it), lower case without accents; ties are broken by id so pages never overlap.
 */
export async function listUsagers(db: Queryable, q: UsagerListQuery): Promise<{ total: number; ids: string[] }> {
  const params: unknown[] = [];
  const p = (v: unknown) => (params.push(v), `$${params.length}`);
  const filters: string[] = [];
  for (const w of (q.words ?? []).slice(0, 4)) {
    const like = normalizeString(w).replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
    filters.push(`r.id IN (SELECT s.id FROM search_string s WHERE s.resource_type = 'Patient' AND s.param = 'name' AND s.value LIKE ${p(like)})`);
  }
  if (q.identifier) filters.push(`r.id IN (SELECT t.id FROM search_token t WHERE t.resource_type = 'Patient' AND t.param = 'identifier' AND t.code = ${p(q.identifier)})`);
  if (q.finess) {
    const like = '3' + q.finess.replace(/[\\%_]/g, (c) => `\\${c}`) + '/%';
    filters.push(`r.id IN (SELECT t.id FROM search_token t WHERE t.resource_type = 'Patient' AND t.param = 'identifier' AND t.system = ${p(SYS_LOCAL)} AND t.code LIKE ${p(like)})`);
  }
  if (q.scope) filters.push(scopeSql(q.scope, 'r.owner', p));
  const where = [`r.resource_type = 'Patient'`, 'r.deleted = false', ...filters].join(' AND ');
  const total = Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource r WHERE ${where}`, params)).rows[0].n);
  if (total === 0 || q.offset >= total) return { total, ids: [] };

  const dir = q.descending ? 'DESC' : 'ASC';
  let inner: string;
  let order = `k ${dir} NULLS LAST`;
  switch (q.sort ?? 'nom') {
    case 'naissance':
      inner = `SELECT r.id, r.content->>'birthDate' AS k FROM resource r WHERE ${where}`;
      break;
    case 'sexe':
      inner = `SELECT r.id, r.content->>'gender' AS k FROM resource r WHERE ${where}`;
      break;
    case 'identifiant':
      inner = `SELECT r.id, ${LOCAL_ID} AS k FROM resource r WHERE ${where}`;
      order = `k COLLATE "C" ${dir} NULLS LAST`;
      break;
    case 'maj':
      inner = `SELECT r.id, r.last_updated AS k FROM resource r WHERE ${where}`;
      order = `k ${dir}`;
      break;
    case 'organisation': {
      // The organisation's name when it is known (normalised here, not in SQL), else its FINESS.
      const names = [...(q.organisationNames ?? new Map<string, string>())];
      inner = `SELECT x.id, coalesce(o.name, x.finess) AS k
        FROM (SELECT id, ${finessOf('lid')} AS finess FROM (SELECT r.id, ${LOCAL_ID} AS lid FROM resource r WHERE ${where} OFFSET 0) y) x
        LEFT JOIN unnest(${p(names.map((n) => n[0]))}::text[], ${p(names.map((n) => normalizeString(n[1])))}::text[]) AS o(finess, name) ON o.finess = x.finess`;
      order = `k COLLATE "C" ${dir} NULLS LAST`;
      break;
    }
    default: {
      // The names are taken out of the (compressed) content once per usager, then the usage
      // name (`usual`) and the birth name (`official`, else the first) out of them; OFFSET 0
      // keeps each sub-query from being inlined, which would decompress the content per use.
      const path = (use: string) => `jsonb_path_query_first(n, '$[*] ? (@.use == "${use}")')`;
      const key = `concat_ws(' ', coalesce(u->>'family', b->>'family'), coalesce(u->'given'->>0, b->'given'->>0))`;
      inner = `SELECT id, ${sqlNormalized(key)} AS k
        FROM (SELECT id, ${path('usual')} AS u, coalesce(${path('official')}, n->0) AS b
                FROM (SELECT r.id, r.content->'name' AS n FROM resource r WHERE ${where} OFFSET 0) y OFFSET 0) x`;
      order = `k COLLATE "C" ${dir} NULLS LAST`;
    }
  }
  const rows = await db.query<{ id: string }>(
    `SELECT id FROM (${inner}) s ORDER BY ${order}, id ${dir}
      LIMIT ${Math.max(0, Math.floor(q.count))} OFFSET ${Math.max(0, Math.floor(q.offset))}`,
    params,
  );
  return { total, ids: rows.rows.map((r) => r.id) };
}

/** FINESS of the organisations that have usagers (their local identifiers), in order. */
export async function usagerOrganisations(db: Queryable): Promise<string[]> {
  const res = await db.query<{ p: string }>(
    `SELECT DISTINCT split_part(t.code, '/', 1) AS p FROM search_token t
      WHERE t.resource_type = 'Patient' AND t.param = 'identifier' AND t.system = $1 AND t.code LIKE '3%/%'`,
    [SYS_LOCAL],
  );
  return res.rows.map((r) => r.p.slice(1)).filter(Boolean).sort();
}
