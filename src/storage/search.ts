// Search: SearchQuery -> SQL over the flat index tables, then _include/_revinclude.
import { dateRange } from './dates.js';
import { pageNumber, RESOURCE_COLUMNS, toRecord, type ResourceRow } from './rows.js';
import { normalizeString, paramDef, parseRelativeReference, referenceParamsOf, type ParamDef } from './search-params.js';
import { StorageError, type IncludeSpec, type Queryable, type ResourceRecord, type SearchParam, type SearchQuery, type SearchResult } from './types.js';

/**
 * Result-shaping parameters the HTTP layer interprets; tolerated (ignored) here so a caller that
 * forwards the whole query string does not get a 400 for them.
 */
const RESULT_PARAMS = new Set([
  '_format', '_pretty', '_summary', '_elements', '_count', '_offset', '_sort', '_include', '_revinclude',
  '_total', '_contained', '_containedType', '_page', '_getpages',
]);

const DATE_PREFIXES = new Set(['eq', 'ne', 'lt', 'gt', 'le', 'ge', 'sa', 'eb', 'ap']);

/** Include/revinclude :iterate rounds at most (guards against reference cycles). */
const MAX_ITERATE = 4;

class Sql {
  readonly params: unknown[] = [];
  p(v: unknown): string {
    this.params.push(v);
    return `$${this.params.length}`;
  }
}

function bad(message: string, expression?: string): StorageError {
  return new StorageError(400, 'invalid', message, expression);
}

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => '\\' + c);
}

/** Condition on a [low, high] pair of columns for one date search value. */
function dateCondition(sql: Sql, low: string, high: string, raw: string, name: string): string {
  let prefix = 'eq';
  let v = raw;
  if (raw.length > 2 && DATE_PREFIXES.has(raw.slice(0, 2)) && /^\d/.test(raw.slice(2))) {
    prefix = raw.slice(0, 2);
    v = raw.slice(2);
  }
  const r = dateRange(v);
  if (!r) throw bad(`Invalid date value "${raw}" for search parameter "${name}"`, name);
  // Placeholders are created on first use: an unused parameter has no type and PostgreSQL
  // refuses it ("could not determine data type").
  let qlp: string | undefined;
  let qhp: string | undefined;
  const ql = () => (qlp ??= `${sql.p(r.low)}::timestamptz`);
  const qh = () => (qhp ??= `${sql.p(r.high)}::timestamptz`);
  // FHIR search semantics on ranges (search.html#prefix): the target range [low, high]
  // against the search value's implicit range [ql, qh].
  const eq = () => `(${low} >= ${ql()} AND ${high} <= ${qh()})`;
  switch (prefix) {
    case 'eq': return eq();
    case 'ne': return `NOT ${eq()}`;
    case 'gt': return `${high} > ${qh()}`;
    case 'lt': return `${low} < ${ql()}`;
    case 'ge': return `(${high} > ${qh()} OR ${eq()})`;
    case 'le': return `(${low} < ${ql()} OR ${eq()})`;
    case 'sa': return `${low} > ${qh()}`;
    case 'eb': return `${high} < ${ql()}`;
    default: return `(${low} <= ${qh()} AND ${high} >= ${ql()})`; // ap: the ranges overlap
  }
}

function tokenCondition(sql: Sql, raw: string): string {
  // The first `|` that is not escaped separates system and code.
  let bar = -1;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '\\') i++;
    else if (raw[i] === '|') {
      bar = i;
      break;
    }
  }
  if (bar < 0) return `t.code = ${sql.p(unescapeValue(raw))}`;
  const system = unescapeValue(raw.slice(0, bar));
  const code = unescapeValue(raw.slice(bar + 1));
  if (system === '' && code === '') throw bad('Empty token value "|"');
  if (system === '') return `(t.system IS NULL AND t.code = ${sql.p(code)})`;
  if (code === '') return `t.system = ${sql.p(system)}`;
  return `(t.system = ${sql.p(system)} AND t.code = ${sql.p(code)})`;
}

function referenceCondition(sql: Sql, raw: string, typeModifier: string | undefined, def: ParamDef): string {
  const v = raw.replace(/\|[^|/]*$/, '');
  const rel = parseRelativeReference(v);
  if (rel) {
    if (typeModifier && typeModifier !== rel.type) return 'false';
    return `(t.target_type = ${sql.p(rel.type)} AND t.target_id = ${sql.p(rel.id)})`;
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(v)) {
    // Absolute URL: the URL itself, or, when it ends with Type/id, that resource here.
    const tail = /([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(v);
    const byUrl = `t.url = ${sql.p(v)}`;
    return tail ? `(${byUrl} OR (t.target_type = ${sql.p(tail[1])} AND t.target_id = ${sql.p(tail[2])}))` : byUrl;
  }
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(v)) throw bad(`Invalid reference value "${raw}" for search parameter "${def.name}"`, def.name);
  const byId = `t.target_id = ${sql.p(v)}`;
  if (typeModifier) return `(${byId} AND t.target_type = ${sql.p(typeModifier)})`;
  return byId;
}

const TABLE: Record<string, string> = {
  token: 'search_token',
  string: 'search_string',
  date: 'search_date',
  reference: 'search_reference',
  uri: 'search_reference',
};

/**
 * A chained parameter (`patient.identifier=…`, `subject:Patient.name=…`): one level, the
 * reference parameter's target type given by the `:Type` modifier or implied by the
 * parameter (a single target type, or `where(resolve() is Patient)`).
 */
function chainCondition(sql: Sql, resourceType: string | undefined, sp: SearchParam, alias: string): string {
  let refName: string;
  let chain: string;
  let targetType: string | undefined;
  const full = sp.modifier ? `${sp.name}:${sp.modifier}` : sp.name;
  const m = /^([^.:]+)(?::([A-Z][A-Za-z]+))?\.([^.]+)$/.exec(full);
  if (!m) throw new StorageError(400, 'not-supported', `Unsupported chained search parameter "${full}" (one level: param.param or param:Type.param)`, full);
  [, refName, targetType, chain] = m;
  const def = paramDef(resourceType, refName);
  if (!def || def.type !== 'reference') {
    throw new StorageError(400, 'not-supported', `Unknown reference search parameter "${refName}" in chain "${full}"`, full);
  }
  targetType ??= def.resolveIs?.length === 1 ? def.resolveIs[0] : def.targets?.length === 1 ? def.targets[0] : undefined;
  if (!targetType) throw bad(`Chained parameter "${full}": "${refName}" may reference several types; name one (${refName}:Type.${chain})`, full);
  const colon = chain.indexOf(':');
  const inner: SearchParam = colon < 0 ? { name: chain, values: sp.values } : { name: chain.slice(0, colon), modifier: chain.slice(colon + 1), values: sp.values };
  const target = `c${sql.params.length}`;
  const innerCond = paramCondition(sql, targetType, inner, target);
  if (!innerCond) throw bad(`Chained parameter "${full}" has no condition`, full);
  const typeFilter = resourceType ? `ref.resource_type = ${sql.p(resourceType)} AND ` : '';
  return `(${alias}.resource_type, ${alias}.id) IN (SELECT ref.resource_type, ref.id FROM search_reference ref
     WHERE ${typeFilter}ref.param = ${sql.p(refName)} AND (ref.target_type, ref.target_id) IN (
       SELECT ${target}.resource_type, ${target}.id FROM resource ${target}
        WHERE ${target}.deleted = false AND ${target}.resource_type = ${sql.p(targetType)} AND ${innerCond}))`;
}

/** A search value with FHIR escapes (`\,` `\$` `\|` `\\`) resolved. */
function unescapeValue(v: string): string {
  return v.replace(/\\([,$|\\])/g, '$1');
}

function paramCondition(sql: Sql, resourceType: string | undefined, sp: SearchParam, alias = 'r'): string | undefined {
  const { name, modifier } = sp;
  if (RESULT_PARAMS.has(name)) return undefined;
  // One value per entry of `values` (the HTTP layer has split the commas already).
  const values = sp.values.filter((v) => v !== '');
  if (values.length === 0) throw bad(`Search parameter "${name}" has no value`, name);
  if (name.includes('.') || (modifier && /^[A-Z][A-Za-z]+\./.test(modifier))) return chainCondition(sql, resourceType, sp, alias);

  if (name === '_id') {
    if (modifier && modifier !== 'not') throw bad(`Modifier ":${modifier}" is not supported on "_id"`, name);
    const cond = `${alias}.id IN (${values.map((v) => sql.p(unescapeValue(v))).join(', ')})`;
    return modifier === 'not' ? `NOT ${cond}` : cond;
  }
  if (name === '_lastUpdated') {
    if (modifier) throw bad(`Modifier ":${modifier}" is not supported on "_lastUpdated"`, name);
    return `(${values.map((v) => dateCondition(sql, `${alias}.last_updated`, `${alias}.last_updated`, v, name)).join(' OR ')})`;
  }

  const def = paramDef(resourceType, name);
  if (!def) {
    throw new StorageError(
      400,
      'not-supported',
      `Unknown search parameter "${name}"${resourceType ? ` for ${resourceType}` : ' (system-level search)'}`,
      name,
    );
  }
  const table = TABLE[def.type];
  const typeFilter = resourceType ? `t.resource_type = ${sql.p(resourceType)} AND ` : '';
  const sub = (cond: string) =>
    `(${alias}.resource_type, ${alias}.id) IN (SELECT t.resource_type, t.id FROM ${table} t WHERE ${typeFilter}t.param = ${sql.p(name)}${cond ? ` AND (${cond})` : ''})`;

  if (modifier === 'missing') {
    if (values.length !== 1 || !['true', 'false'].includes(values[0])) throw bad(`":missing" takes true or false`, name);
    return values[0] === 'true' ? `NOT ${sub('')}` : sub('');
  }

  let conds: string[];
  switch (def.type) {
    case 'token':
      if (modifier && modifier !== 'not') throw bad(`Modifier ":${modifier}" is not supported on token parameter "${name}"`, name);
      conds = values.map((v) => tokenCondition(sql, v));
      break;
    case 'string': {
      if (modifier && modifier !== 'exact' && modifier !== 'contains') {
        throw bad(`Modifier ":${modifier}" is not supported on string parameter "${name}"`, name);
      }
      conds = values.map((v) => {
        if (modifier === 'exact') return `t.exact = ${sql.p(unescapeValue(v))}`;
        const n = likeEscape(normalizeString(unescapeValue(v)));
        return modifier === 'contains' ? `t.value LIKE ${sql.p('%' + n + '%')}` : `t.value LIKE ${sql.p(n + '%')}`;
      });
      break;
    }
    case 'date':
      if (modifier) throw bad(`Modifier ":${modifier}" is not supported on date parameter "${name}"`, name);
      conds = values.map((v) => dateCondition(sql, 't.low', 't.high', v, name));
      break;
    case 'uri':
      if (modifier) throw bad(`Modifier ":${modifier}" is not supported on uri parameter "${name}"`, name);
      conds = values.map((v) => `t.url = ${sql.p(unescapeValue(v))}`);
      break;
    case 'reference': {
      const typeModifier = modifier && /^[A-Z][A-Za-z]+$/.test(modifier) ? modifier : undefined;
      if (modifier && !typeModifier) throw bad(`Modifier ":${modifier}" is not supported on reference parameter "${name}"`, name);
      conds = values.map((v) => referenceCondition(sql, unescapeValue(v), typeModifier, def));
      break;
    }
  }
  const cond = sub(conds.join(' OR '));
  return modifier === 'not' ? `NOT ${cond}` : cond;
}

function orderBy(sql: Sql, resourceType: string | undefined, sort: string[] | undefined): string {
  const parts: string[] = [];
  for (const s of sort ?? []) {
    const desc = s.startsWith('-');
    const name = desc ? s.slice(1) : s;
    const dir = desc ? 'DESC' : 'ASC';
    if (name === '_lastUpdated') parts.push(`r.last_updated ${dir}`);
    else if (name === '_id') parts.push(`r.id ${dir}`);
    else {
      const def = paramDef(resourceType, name);
      if (!def) throw new StorageError(400, 'not-supported', `Unknown sort parameter "${name}"`, '_sort');
      const p = sql.p(name);
      // Ascending: the earliest value of the resource; descending: the latest.
      if (def.type === 'date') {
        parts.push(
          `(SELECT ${desc ? 'max(d.high)' : 'min(d.low)'} FROM search_date d WHERE d.resource_type = r.resource_type AND d.id = r.id AND d.param = ${p}) ${dir} NULLS LAST`,
        );
      } else if (def.type === 'string') {
        parts.push(
          `(SELECT ${desc ? 'max' : 'min'}(d.value) FROM search_string d WHERE d.resource_type = r.resource_type AND d.id = r.id AND d.param = ${p}) ${dir} NULLS LAST`,
        );
      } else if (def.type === 'token') {
        parts.push(
          `(SELECT ${desc ? 'max' : 'min'}(d.code) FROM search_token d WHERE d.resource_type = r.resource_type AND d.id = r.id AND d.param = ${p}) ${dir} NULLS LAST`,
        );
      } else throw new StorageError(400, 'not-supported', `Sorting on "${name}" (${def.type}) is not supported`, '_sort');
    }
  }
  if (parts.length === 0) parts.push('r.last_updated DESC');
  // A total order, so that pages do not overlap or skip.
  parts.push('r.resource_type ASC', 'r.id ASC');
  return parts.join(', ');
}

export async function search(db: Queryable, q: SearchQuery): Promise<SearchResult> {
  const sql = new Sql();
  const where = ['r.deleted = false'];
  if (q.resourceType) where.push(`r.resource_type = ${sql.p(q.resourceType)}`);
  for (const sp of q.params) {
    const c = paramCondition(sql, q.resourceType, sp);
    if (c) where.push(c);
  }
  // Validate includes before running anything, so a bad one is a 400, not a partial answer.
  for (const inc of [...(q.include ?? []), ...(q.revinclude ?? [])]) checkInclude(inc);
  const order = orderBy(sql, q.resourceType, q.sort);
  const whereSql = where.join(' AND ');
  const count = pageNumber(q.count, 'count');
  const offset = pageNumber(q.offset, 'offset');
  const page = await db.query<ResourceRow>(
    `SELECT ${RESOURCE_COLUMNS} FROM resource r WHERE ${whereSql} ORDER BY ${order} LIMIT ${count} OFFSET ${offset}`,
    sql.params,
  );
  let total: number | undefined;
  if (q.total !== 'none') {
    if (offset === 0 && page.rows.length < count) total = page.rows.length;
    else {
      // The ORDER BY parameters are not used by the count: only pass the WHERE ones.
      const res = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource r WHERE ${whereSql}`, sql.params.slice(0, maxParam(whereSql)));
      total = Number(res.rows[0].n);
    }
  }
  const matches = page.rows.map(toRecord);
  const included = await includes(db, matches, q.include ?? [], q.revinclude ?? []);
  return { total, matches, included };
}

/** Highest `$n` used in a SQL fragment. */
function maxParam(s: string): number {
  let max = 0;
  for (const m of s.matchAll(/\$(\d+)/g)) max = Math.max(max, Number(m[1]));
  return max;
}

function checkInclude(inc: IncludeSpec): void {
  if (inc.param === '*') return;
  const def = paramDef(inc.sourceType, inc.param);
  if (!def || (def.type !== 'reference' && def.type !== 'uri')) {
    throw new StorageError(400, 'not-supported', `Unknown reference search parameter "${inc.sourceType}:${inc.param}"`, '_include');
  }
}

async function includes(db: Queryable, matches: ResourceRecord[], inc: IncludeSpec[], rev: IncludeSpec[]): Promise<ResourceRecord[]> {
  if (matches.length === 0 || (inc.length === 0 && rev.length === 0)) return [];
  const seen = new Set(matches.map((m) => `${m.resourceType}/${m.id}`));
  const included: ResourceRecord[] = [];
  let frontier = matches;
  for (let round = 0; round < MAX_ITERATE && frontier.length; round++) {
    const incs = round === 0 ? inc : inc.filter((i) => i.iterate);
    const revs = round === 0 ? rev : rev.filter((i) => i.iterate);
    if (incs.length === 0 && revs.length === 0) break;
    const found: ResourceRecord[] = [];
    for (const spec of incs) {
      const sources = frontier.filter((m) => m.resourceType === spec.sourceType);
      if (sources.length) found.push(...(await forwardInclude(db, sources, spec)));
    }
    for (const spec of revs) found.push(...(await reverseInclude(db, frontier, spec)));
    const fresh: ResourceRecord[] = [];
    for (const r of found) {
      const k = `${r.resourceType}/${r.id}`;
      if (seen.has(k)) continue;
      seen.add(k);
      fresh.push(r);
    }
    included.push(...fresh);
    frontier = fresh;
  }
  return included;
}

function paramNames(spec: IncludeSpec): string[] {
  return spec.param === '*' ? referenceParamsOf(spec.sourceType).map((p) => p.name) : [spec.param];
}

async function forwardInclude(db: Queryable, sources: ResourceRecord[], spec: IncludeSpec): Promise<ResourceRecord[]> {
  const sql = new Sql();
  const keys = sql.p(JSON.stringify(sources.map((s) => ({ t: s.resourceType, i: s.id }))));
  const names = sql.p(JSON.stringify(paramNames(spec)));
  const target = spec.targetType ? ` AND s.target_type = ${sql.p(spec.targetType)}` : '';
  const res = await db.query<ResourceRow>(
    `SELECT ${RESOURCE_COLUMNS.split(', ').map((c) => 'r.' + c).join(', ')}
       FROM resource r
      WHERE r.deleted = false AND (r.resource_type, r.id) IN (
        SELECT s.target_type, s.target_id
          FROM search_reference s
          JOIN jsonb_to_recordset(${keys}::jsonb) AS k(t text, i text) ON s.resource_type = k.t AND s.id = k.i
         WHERE s.param IN (SELECT jsonb_array_elements_text(${names}::jsonb)) AND s.target_type IS NOT NULL${target})
      ORDER BY r.resource_type, r.id`,
    sql.params,
  );
  return res.rows.map(toRecord);
}

async function reverseInclude(db: Queryable, targets: ResourceRecord[], spec: IncludeSpec): Promise<ResourceRecord[]> {
  const wanted = spec.targetType ? targets.filter((t) => t.resourceType === spec.targetType) : targets;
  if (wanted.length === 0) return [];
  const sql = new Sql();
  const keys = sql.p(JSON.stringify(wanted.map((s) => ({ t: s.resourceType, i: s.id }))));
  const names = sql.p(JSON.stringify(paramNames(spec)));
  const src = sql.p(spec.sourceType);
  const res = await db.query<ResourceRow>(
    `SELECT ${RESOURCE_COLUMNS.split(', ').map((c) => 'r.' + c).join(', ')}
       FROM resource r
      WHERE r.deleted = false AND r.resource_type = ${src} AND r.id IN (
        SELECT s.id
          FROM search_reference s
          JOIN jsonb_to_recordset(${keys}::jsonb) AS k(t text, i text) ON s.target_type = k.t AND s.target_id = k.i
         WHERE s.resource_type = ${src} AND s.param IN (SELECT jsonb_array_elements_text(${names}::jsonb)))
      ORDER BY r.resource_type, r.id`,
    sql.params,
  );
  return res.rows.map(toRecord);
}
