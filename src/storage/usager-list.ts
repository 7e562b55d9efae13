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
  count: number;
  offset: number;
}

/** Lower case without accents, as normalizeString() does in JavaScript (the search index's form). */
function sqlNormalized(expr: string): string {
  // lower() of a C-locale database (PGlite's) changes ASCII letters only: accented capitals
  // are mapped by translate() first.
  const from = 'àáâãäåāçćčèéêëēėęìíîïīñòóôõöøōùúûüūýÿžšłÀÁÂÃÄÅĀÇĆČÈÉÊËĒĖĘÌÍÎÏĪÑÒÓÔÕÖØŌÙÚÛÜŪÝŸŽŠŁ';
  const to = 'aaaaaaaccceeeeeeeiiiiinooooooouuuuuyyzslaaaaaaaccceeeeeeeiiiiinooooooouuuuuyyzsl';
  const mapped = `lower(translate(${expr}, '${from}', '${to}'))`;
  return `replace(replace(replace(replace(${mapped}, 'œ', 'oe'), 'Œ', 'oe'), 'æ', 'ae'), 'Æ', 'ae')`;
}

/** The names of a Patient as a JSON array (absent or malformed: empty). */
const NAMES = `CASE jsonb_typeof(r.content->'name') WHEN 'array' THEN r.content->'name' ELSE '[]'::jsonb END`;
/** The name shown: usage name, else birth name, else the first. */
const SHOWN_NAME = `coalesce(
    (SELECT n FROM jsonb_array_elements(${NAMES}) n WHERE n->>'use' = 'usual' LIMIT 1),
    (SELECT n FROM jsonb_array_elements(${NAMES}) n WHERE n->>'use' = 'official' LIMIT 1),
    ${NAMES}->0)`;
const BIRTH_NAME = `coalesce((SELECT n FROM jsonb_array_elements(${NAMES}) n WHERE n->>'use' = 'official' LIMIT 1), ${NAMES}->0)`;
const LOCAL_ID = `(SELECT i->>'value' FROM jsonb_array_elements(CASE jsonb_typeof(r.content->'identifier') WHEN 'array' THEN r.content->'identifier' ELSE '[]'::jsonb END) i
    WHERE i->>'system' = '${SYS_LOCAL}' LIMIT 1)`;

/**
 * One page of usagers and the total. The name key is the family name then the given names of
 * the name shown (a usage name without given names takes those of the birth name, as the page
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
  if (q.finess) filters.push(`${LOCAL_ID} LIKE ${p('3' + q.finess.replace(/[\\%_]/g, (c) => `\\${c}`) + '/%')}`);
  const where = [`r.resource_type = 'Patient'`, 'r.deleted = false', ...filters].join(' AND ');
  const total = Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource r WHERE ${where}`, params)).rows[0].n);
  if (total === 0 || q.offset >= total) return { total, ids: [] };

  const dir = q.descending ? 'DESC' : 'ASC';
  let select: string;
  let order: string;
  switch (q.sort ?? 'nom') {
    case 'naissance':
      select = `r.content->>'birthDate' AS k`;
      order = `k ${dir} NULLS LAST`;
      break;
    case 'sexe':
      select = `r.content->>'gender' AS k`;
      order = `k ${dir} NULLS LAST`;
      break;
    case 'identifiant':
      select = `${LOCAL_ID} AS k`;
      order = `k COLLATE "C" ${dir} NULLS LAST`;
      break;
    case 'maj':
      select = `r.last_updated AS k`;
      order = `k ${dir}`;
      break;
    case 'organisation': {
      // The organisation's name when it is known, else its FINESS.
      const names = [...(q.organisationNames ?? new Map<string, string>())];
      select = `coalesce(${sqlNormalized('o.name')}, substring(${LOCAL_ID} from '^3([^/]+)/')) AS k`;
      order = `k COLLATE "C" ${dir} NULLS LAST`;
      const join = `LEFT JOIN unnest(${p(names.map((x) => x[0]))}::text[], ${p(names.map((x) => x[1]))}::text[]) AS o(finess, name)
        ON o.finess = substring(${LOCAL_ID} from '^3([^/]+)/')`;
      return { total, ids: await page(db, `SELECT r.id, ${select} FROM resource r ${join} WHERE ${where}`, order, q, params) };
    }
    default:
      select = `${sqlNormalized(`concat_ws(' ', x.shown->>'family',
          coalesce(x.shown->'given', x.birth->'given')->>0, coalesce(x.shown->'given', x.birth->'given')->>1)`)} AS k`;
      order = `k COLLATE "C" ${dir} NULLS LAST`;
      return {
        total,
        ids: await page(db, `SELECT x.id, ${select} FROM (SELECT r.id, ${SHOWN_NAME} AS shown, ${BIRTH_NAME} AS birth FROM resource r WHERE ${where}) x`, order, q, params),
      };
  }
  return { total, ids: await page(db, `SELECT r.id, ${select} FROM resource r WHERE ${where}`, order, q, params) };
}

async function page(db: Queryable, inner: string, order: string, q: UsagerListQuery, params: unknown[]): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `SELECT id FROM (${inner}) s ORDER BY ${order}, id ${q.descending ? 'DESC' : 'ASC'}
      LIMIT ${Math.max(0, Math.floor(q.count))} OFFSET ${Math.max(0, Math.floor(q.offset))}`,
    params,
  );
  return rows.rows.map((r) => r.id);
}
