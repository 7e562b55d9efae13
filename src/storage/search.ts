// Search: SearchQuery -> SQL over the flat index tables, then _include/_revinclude.
// The parameters come from the repository's SearchParameterSet (base R4 + the loaded IGs).
import { FhirError, HTTP_ERRORS } from '../fhir/outcome/http-errors.js';
import { parseRelativeReference } from '../fhir/json.js';
import { dateRange, splitDatePrefix } from '../fhir/search/dates.js';
import { IDENTIFIER_KEY_SUFFIX, OF_TYPE_KEY_SUFFIX, normalizeString, type ParamDef, type SearchParameterSet } from '../fhir/search/parameters.js';
import { toCanonicalUcum, UCUM } from '../fhir/terminology/ucum.js';
import { indexTables } from './writer.js';
import type { FhirResource } from '../fhir/json.js';
import { pageNumber, RESOURCE_COLUMNS, toRecord, type ResourceRow } from './rows.js';
import type { IncludeSpec, Queryable, ResourceRecord, SearchParam, SearchQuery, SearchResult } from './types.js';
import { scopeSql, type ReadScope } from './scope.js';

/**
 * Result-shaping parameters the HTTP layer interprets; tolerated (ignored) here so a caller that
 * forwards the whole query string does not get a 400 for them.
 */
const RESULT_PARAMS = new Set([
  '_format', '_pretty', '_summary', '_elements', '_count', '_offset', '_sort', '_include', '_revinclude',
  '_total', '_contained', '_containedType', '_page', '_getpages',
]);


/** Include/revinclude :iterate rounds at most (guards against reference cycles). */
const MAX_ITERATE = 4;
/** Chains and _has nest at most this deep. */
const MAX_DEPTH = 8;

class Sql {
  readonly params: unknown[] = [];
  private aliases = 0;
  p(v: unknown): string {
    this.params.push(v);
    return `$${this.params.length}`;
  }
  alias(prefix: string): string {
    return `${prefix}${++this.aliases}`;
  }
}

function badValue(en: string, fr: string, expression?: string): FhirError {
  return new FhirError(HTTP_ERRORS.SEARCH_BAD_VALUE, { detail: en, detailFr: fr }, expression ? { expression } : {});
}

function badModifier(modifier: string, kind: string, name: string): FhirError {
  return new FhirError(HTTP_ERRORS.SEARCH_BAD_MODIFIER, { modifier, kind, name }, { expression: name });
}

/** The "unknown parameter" error; lenient handling ignores exactly these. */
export function unknownParam(name: string, resourceType: string | undefined): FhirError {
  return new FhirError(
    HTTP_ERRORS.SEARCH_UNKNOWN_PARAM,
    {
      name,
      where: resourceType ? ` for ${resourceType}` : ' (system-level search)',
      whereFr: resourceType ? ` pour ${resourceType}` : ' (recherche tous types)',
    },
    { expression: name },
  );
}

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => '\\' + c);
}

/** Condition on a [low, high] pair of columns for one date search value. */
function dateCondition(sql: Sql, low: string, high: string, raw: string, name: string): string {
  const { prefix, value: v } = splitDatePrefix(raw);
  const r = dateRange(v);
  if (!r) throw badValue(`Invalid date value "${raw}" for search parameter "${name}"`, `Valeur de date invalide « ${raw} » pour le paramètre « ${name} »`, name);
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

/** Splits `system|code` at the first unescaped `|`. */
function splitToken(raw: string): { system?: string; code: string } {
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '\\') i++;
    else if (raw[i] === '|') return { system: unescapeValue(raw.slice(0, i)), code: unescapeValue(raw.slice(i + 1)) };
  }
  return { code: unescapeValue(raw) };
}

function tokenCondition(sql: Sql, raw: string): string {
  const { system, code } = splitToken(raw);
  if (system === undefined) return `t.code = ${sql.p(code)}`;
  if (system === '' && code === '') throw badValue('Empty token value "|"', 'Valeur de jeton vide « | »');
  if (system === '') return `(t.system IS NULL AND t.code = ${sql.p(code)})`;
  if (code === '') return `t.system = ${sql.p(system)}`;
  return `(t.system = ${sql.p(system)} AND t.code = ${sql.p(code)})`;
}

/** `:of-type`: `system|code|value` on the rows of typed identifiers (type system, `code|value`). */
function ofTypeCondition(sql: Sql, raw: string, name: string): string {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '\\') i++;
    else if (raw[i] === '|') (parts.push(raw.slice(start, i)), (start = i + 1));
  }
  parts.push(raw.slice(start));
  if (parts.length !== 3 || parts[1] === '' || parts[2] === '') {
    throw badValue(`":of-type" takes system|code|value (the identifier's type, then its value); got "${raw}"`, `« :of-type » prend système|code|valeur (le type de l\u2019identifiant, puis sa valeur) ; reçu « ${raw} »`, name);
  }
  const [system, code, value] = parts.map(unescapeValue) as [string, string, string];
  const c = `t.code = ${sql.p(`${code}|${value}`)}`;
  return system === '' ? c : `(t.system = ${sql.p(system)} AND ${c})`;
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
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(v)) {
    throw badValue(`Invalid reference value "${raw}" for search parameter "${def.name}"`, `Valeur de référence invalide « ${raw} » pour le paramètre « ${def.name} »`, def.name);
  }
  const byId = `t.target_id = ${sql.p(v)}`;
  if (typeModifier) return `(${byId} AND t.target_type = ${sql.p(typeModifier)})`;
  return byId;
}

/**
 * ` AND <alias>.target_type = T` for a parameter served from another's rows restricted to the
 * references to T (`ParamDef.restrictTo`, D-354), else nothing.
 */
function restricted(sql: Sql, def: ParamDef, alias: string): string {
  return def.restrictTo ? ` AND ${alias}.target_type = ${sql.p(def.restrictTo)}` : '';
}

const TABLE: Record<string, string> = {
  token: 'search_token',
  string: 'search_string',
  date: 'search_date',
  reference: 'search_reference',
  uri: 'search_reference',
  number: 'search_number',
  quantity: 'search_number',
  composite: 'search_composite',
};

/** A composite component's columns, as `jsonb_to_record` reads them (the flat table's names and types). */
const COMPONENT_COLUMNS: Record<string, string> = {
  token: 'system text, code text',
  string: 'value text, exact text',
  date: 'low timestamptz, high timestamptz',
  number: 'low numeric, high numeric, system text, code text',
  quantity: 'low numeric, high numeric, system text, code text, canonical_low numeric, canonical_high numeric, canonical_code text',
  reference: 'target_type text, target_id text, url text',
  uri: 'target_type text, target_id text, url text',
};

/** Splits a composite value at its unescaped `$` (escapes kept for each component's parser). */
function splitComposite(raw: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '\\') i++;
    else if (raw[i] === '$') (parts.push(raw.slice(start, i)), (start = i + 1));
  }
  parts.push(raw.slice(start));
  return parts;
}

/**
 * A number search value with its implicit range (FHIR search.html#number): `100` is
 * [99.5, 100.5), `100.00` is [99.995, 100.005), `1e2` is [50, 150). Exact decimal arithmetic on
 * the text (no binary floating point): the bounds are computed in SQL from the value and the half-unit.
 */
function numberValue(text: string): { value: string; half: string } | undefined {
  const m = /^([-+]?)(\d+)(?:\.(\d+))?(?:[eE]([-+]?\d+))?$/.exec(text);
  if (!m) return undefined;
  const decimals = (m[3] ?? '').length;
  const exp = Number(m[4] ?? 0);
  // Half of one unit of the last significant digit: 5 × 10^(exp − decimals − 1).
  return { value: text.replace(/^\+/, ''), half: `5e${exp - decimals - 1}` };
}

/**
 * Condition on search_number rows (`t.low`, `t.high`, `t.system`, `t.code`) for one number or
 * quantity value. A UCUM quantity (`5.4|http://unitsofmeasure.org|mg`) is converted to the base
 * units of its kind and compared with the rows' canonical columns (migration 0151), so it finds
 * `5400 ug`; its implicit range and the `ap` margin are computed in the unit searched, then converted.
 */
function numberCondition(sql: Sql, raw: string, def: ParamDef): string {
  const m = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(.*)$/s.exec(raw)!;
  const prefix = m[1] ?? 'eq';
  let rest = m[2]!;
  let unit = () => '';
  let ucumCode: string | undefined;
  if (def.type === 'quantity') {
    const parts: string[] = [];
    let start = 0;
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === '\\') i++;
      else if (rest[i] === '|') (parts.push(rest.slice(start, i)), (start = i + 1));
    }
    parts.push(rest.slice(start));
    if (parts.length !== 1 && parts.length !== 3) {
      throw badValue(`Invalid quantity value "${raw}" for search parameter "${def.name}" (number, or number|system|code)`, `Valeur de quantité invalide « ${raw} » pour le paramètre « ${def.name} » (nombre, ou nombre|système|code)`, def.name);
    }
    rest = parts[0]!;
    if (parts.length === 3) {
      const system = unescapeValue(parts[1]!);
      const code = unescapeValue(parts[2]!);
      if (system === UCUM && code !== '') ucumCode = code;
      // `5.4||mg`: the code or the unit, any system. (Placeholders made when used: PostgreSQL
      // refuses one it cannot type.)
      if (code !== '') unit = () => (system === '' ? ` AND t.code = ${sql.p(code)}` : ` AND t.system = ${sql.p(system)} AND t.code = ${sql.p(code)}`);
      else if (system !== '') unit = () => ` AND t.system = ${sql.p(system)}`;
    }
  }
  const n = numberValue(rest);
  if (!n) {
    throw badValue(`Invalid number "${rest}" in the value "${raw}" of search parameter "${def.name}"`, `Nombre invalide « ${rest} » dans la valeur « ${raw} » du paramètre « ${def.name} »`, def.name);
  }
  if (ucumCode !== undefined) {
    const x = Number(n.value);
    const half = Number(n.half);
    const base = toCanonicalUcum(x, ucumCode);
    if (base) {
      // Each bound converted on its own (temperatures are not a mere factor).
      const c = (q: number) => `${sql.p(String(toCanonicalUcum(q, ucumCode!)!.value))}::numeric`;
      const lo = 't.canonical_low';
      const hi = 't.canonical_high';
      let cond: string;
      switch (prefix) {
        case 'eq':
        case 'ne': {
          const eq = `(${lo} >= ${c(x - half)} AND ${hi} < ${c(x + half)})`;
          cond = prefix === 'eq' ? eq : `NOT ${eq}`;
          break;
        }
        case 'gt': cond = `${hi} > ${c(x)}`; break;
        case 'lt': cond = `${lo} < ${c(x)}`; break;
        case 'ge': cond = `${hi} >= ${c(x)}`; break;
        case 'le': cond = `${lo} <= ${c(x)}`; break;
        case 'sa': cond = `${lo} > ${c(x)}`; break;
        case 'eb': cond = `${hi} < ${c(x)}`; break;
        default: cond = `(${lo} <= ${c(x + Math.abs(x) * 0.1)} AND ${hi} >= ${c(x - Math.abs(x) * 0.1)})`;
      }
      return `(t.canonical_code = ${sql.p(base.unit)} AND ${cond})`;
    }
    // Not a UCUM unit: its system and code as written.
  }
  const v = `${sql.p(n.value)}::numeric`;
  let cond: string;
  switch (prefix) {
    case 'eq':
    case 'ne': {
      const half = `${sql.p(n.half)}::numeric`;
      const eq = `(t.low >= ${v} - ${half} AND t.high < ${v} + ${half})`;
      cond = prefix === 'eq' ? eq : `NOT ${eq}`;
      break;
    }
    case 'gt': cond = `t.high > ${v}`; break;
    case 'lt': cond = `t.low < ${v}`; break;
    case 'ge': cond = `t.high >= ${v}`; break;
    case 'le': cond = `t.low <= ${v}`; break;
    case 'sa': cond = `t.low > ${v}`; break;
    case 'eb': cond = `t.high < ${v}`; break;
    // Approximately: within 10 % of the value (the spec leaves the margin to the server).
    default: cond = `(t.low <= ${v} + abs(${v}) * 0.1 AND t.high >= ${v} - abs(${v}) * 0.1)`;
  }
  return `(${cond}${unit()})`;
}

/** A search value with FHIR escapes (`\,` `\$` `\|` `\\`) resolved. */
function unescapeValue(v: string): string {
  return v.replace(/\\([,$|\\])/g, '$1');
}

/** A JSON path (SQL/JSON, lax mode: arrays are unwrapped) to an element of the fast-path definition. */
function jsonPathOf(path: { name: string; url?: string }[]): string | undefined {
  let out = '$';
  for (const s of path) {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(s.name)) return undefined;
    out += `.${s.name}`;
    if (s.url !== undefined) out += ` ? (@.url == ${JSON.stringify(s.url)})`;
  }
  return out;
}

/** A jsonpath string literal holding a regular expression. */
function regexLiteral(s: string): string {
  return JSON.stringify(s);
}

class SearchBuilder {
  readonly sql = new Sql();
  constructor(
    readonly params: SearchParameterSet,
    /** The reader's scope: every resource a hop reads (chains, `_has`) must be in it too. */
    readonly scope?: ReadScope,
    /** Table names' prefix: `ov_` reads the overlay of a plan's resources (matchIds). */
    readonly prefix = '',
  ) {}

  /** The name to read a table by (`resource`, `search_token`…). */
  tab(name: string): string {
    return this.prefix + name;
  }

  /** ` AND <alias's owner in scope>`, or nothing without a scope. */
  inScope(alias: string): string {
    return this.scope ? ` AND ${scopeSql(this.scope, `${alias}.owner`, (v) => this.sql.p(v))}` : '';
  }

  def(resourceType: string | undefined, name: string): ParamDef {
    const d = this.params.get(resourceType, name);
    if (!d) throw unknownParam(name, resourceType);
    return d;
  }

  /** The condition of one parameter on the resource row `alias`; undefined for result parameters. */
  condition(resourceType: string | undefined, sp: SearchParam, alias: string, depth = 0): string | undefined {
    const { name, modifier } = sp;
    if (RESULT_PARAMS.has(name)) return undefined;
    if (depth > MAX_DEPTH) throw new FhirError(HTTP_ERRORS.SEARCH_CHAIN, { name, detail: `nested deeper than ${MAX_DEPTH}`, detailFr: `imbrication au-delà de ${MAX_DEPTH}` });
    // One value per entry of `values` (the HTTP layer has split the commas already).
    const values = sp.values.filter((v) => v !== '');
    if (values.length === 0) throw badValue(`Search parameter "${name}" has no value`, `Le paramètre de recherche « ${name} » n\u2019a pas de valeur`, name);
    if (name === '_has') return this.has(resourceType, sp, alias, depth);
    if (name.includes('.') || (modifier && /^[A-Z][A-Za-z]+\./.test(modifier))) return this.chain(resourceType, sp, alias, depth);

    if (name === '_id') {
      if (modifier && modifier !== 'not' && modifier !== 'missing') throw badModifier(modifier, 'token', name);
      if (modifier === 'missing') return values[0] === 'true' ? 'false' : 'true';
      const cond = `${alias}.id IN (${values.map((v) => this.sql.p(unescapeValue(v))).join(', ')})`;
      return modifier === 'not' ? `NOT ${cond}` : cond;
    }
    if (name === '_lastUpdated') {
      if (modifier) throw badModifier(modifier, 'date', name);
      return `(${values.map((v) => dateCondition(this.sql, `${alias}.last_updated`, `${alias}.last_updated`, v, name)).join(' OR ')})`;
    }

    const def = this.def(resourceType, name);
    const sql = this.sql;
    const table = TABLE[def.type]!;
    // Placeholders are created where used: an unused one has no type and PostgreSQL refuses it.
    // A parameter served from another's rows (restrictTo, D-354): those references to its type only.
    const sub = (cond: string, key = def.key, tbl = table) =>
      `(${alias}.resource_type, ${alias}.id) IN (SELECT t.resource_type, t.id FROM ${this.tab(tbl)} t WHERE ${resourceType ? `t.resource_type = ${sql.p(resourceType)} AND ` : ''}t.param = ${sql.p(key)}${tbl === 'search_reference' ? restricted(sql, def, 't') : ''}${cond ? ` AND (${cond})` : ''})`;

    if (modifier === 'missing') {
      if (values.length !== 1 || !['true', 'false'].includes(values[0]!)) throw badValue('":missing" takes true or false', '« :missing » prend true ou false', name);
      // A logical reference (identifier only) is a value too.
      const present = def.type === 'reference' ? `(${sub('')} OR ${sub('', def.key + IDENTIFIER_KEY_SUFFIX, 'search_token')})` : sub('');
      return values[0] === 'true' ? `NOT ${present}` : present;
    }

    let conds: string[] = [];
    switch (def.type) {
      case 'composite': {
        if (modifier && modifier !== 'not') throw badModifier(modifier, 'composite', name);
        const cond = `(${alias}.resource_type, ${alias}.id) IN (SELECT c.resource_type, c.id FROM ${this.tab('search_composite')} c WHERE ${resourceType ? `c.resource_type = ${sql.p(resourceType)} AND ` : ''}c.param = ${sql.p(def.key)} AND (${values.map((v) => this.compositeCondition(def, v)).join(' OR ')}))`;
        return modifier === 'not' ? `NOT ${cond}` : cond;
      }
      case 'token':
        if (modifier === 'text') return this.tokenText(def, values, alias);
        if (modifier === 'in' || modifier === 'not-in') {
          // The value sets' codes (expanded from the loaded packages); a code without system
          // (a `code` element) matches by its code.
          const codes = values.map((v) => this.valueSetCodes(unescapeValue(v), name)).flat();
          const cond = sub(
            `EXISTS (SELECT 1 FROM unnest(${sql.p(codes.map((c) => c.system))}::text[], ${sql.p(codes.map((c) => c.code))}::text[]) AS v(s, c) WHERE v.c = t.code AND (t.system = v.s OR t.system IS NULL))`,
          );
          return modifier === 'in' ? cond : `NOT ${cond}`;
        }
        if (modifier === 'of-type') {
          // system|code|value: the identifier's type (a Coding) and its value.
          return sub(values.map((v) => ofTypeCondition(sql, v, name)).join(' OR '), def.key + OF_TYPE_KEY_SUFFIX);
        }
        if (modifier === 'below' || modifier === 'above') {
          // Subsumption in the code system's hierarchy (its concept nesting in the loaded packages);
          // a `code` element (no system in the index) matches by its code, as for `:in`.
          return sub(values.map((v) => this.subsumedCondition(v, modifier, name)).join(' OR '));
        }
        if (modifier && modifier !== 'not') throw badModifier(modifier, 'token', name);
        conds = values.map((v) => tokenCondition(sql, v));
        break;
      case 'string': {
        if (modifier && modifier !== 'exact' && modifier !== 'contains' && modifier !== 'not') throw badModifier(modifier, 'string', name);
        conds = values.map((v) => {
          if (modifier === 'exact') return `t.exact = ${sql.p(unescapeValue(v))}`;
          const n = likeEscape(normalizeString(unescapeValue(v)));
          return modifier === 'contains' ? `t.value LIKE ${sql.p('%' + n + '%')}` : `t.value LIKE ${sql.p(n + '%')}`;
        });
        break;
      }
      case 'number':
      case 'quantity':
        if (modifier && modifier !== 'not') throw badModifier(modifier, def.type, name);
        conds = values.map((v) => numberCondition(sql, v, def));
        break;
      case 'date':
        if (modifier && modifier !== 'not') throw badModifier(modifier, 'date', name);
        conds = values.map((v) => dateCondition(sql, 't.low', 't.high', v, name));
        break;
      case 'uri':
        if (modifier && !['not', 'below', 'above'].includes(modifier)) throw badModifier(modifier, 'uri', name);
        conds = values.map((v) => {
          const u = unescapeValue(v);
          if (modifier === 'below') return `t.url LIKE ${sql.p(likeEscape(u) + '%')}`;
          if (modifier === 'above') {
            // At or above in the path hierarchy: the URL itself, or a prefix of it ending at a `/`
            // (`…/usager` is above `…/usager/v2`, not above `…/usager-ehpad`).
            const up = `${sql.p(u)}::text`;
            return `(t.url = ${up} OR (${up} LIKE replace(replace(replace(t.url, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%' AND (right(t.url, 1) = '/' OR substr(${up}, length(t.url) + 1, 1) = '/')))`;
          }
          return `t.url = ${sql.p(u)}`;
        });
        break;
      case 'reference': {
        if (modifier === 'identifier') {
          // Logical references (Reference.identifier), indexed as tokens.
          return sub(values.map((v) => tokenCondition(sql, v)).join(' OR '), def.key + IDENTIFIER_KEY_SUFFIX, 'search_token');
        }
        const typeModifier = modifier && /^[A-Z][A-Za-z]+$/.test(modifier) ? modifier : undefined;
        if (modifier && !typeModifier && modifier !== 'not') throw badModifier(modifier, 'reference', name);
        conds = values.map((v) => referenceCondition(sql, unescapeValue(v), typeModifier, def));
        break;
      }
    }
    const cond = sub(conds.join(' OR '));
    return modifier === 'not' ? `NOT ${cond}` : cond;
  }

  /**
   * One composite value (`http://loinc.org|8480-6$gt100`) on a tuple row `c` of search_composite:
   * each component's value with its type's own condition, on that component's columns.
   */
  private compositeCondition(def: ParamDef, raw: string): string {
    const comps = def.components!;
    const parts = splitComposite(raw);
    if (parts.length !== comps.length || parts.some((p) => p === '')) {
      throw badValue(
        `The composite parameter "${def.name}" takes ${comps.length} values separated by "$" (${comps.map((c) => c.type).join('$')}); got "${raw}"`,
        `Le paramètre composite « ${def.name} » prend ${comps.length} valeurs séparées par « $ » (${comps.map((c) => c.type).join('$')}) ; reçu « ${raw} »`,
        def.name,
      );
    }
    const sql = this.sql;
    const conds = comps.map((c, n) => {
      const v = parts[n]!;
      const leaf: ParamDef = { name: def.name, key: def.key, type: c.type, expression: c.expression, source: def.source };
      let cond: string;
      switch (c.type) {
        case 'token': cond = tokenCondition(sql, v); break;
        case 'string': {
          const s = likeEscape(normalizeString(unescapeValue(v)));
          cond = `t.value LIKE ${sql.p(s + '%')}`;
          break;
        }
        case 'date': cond = dateCondition(sql, 't.low', 't.high', v, def.name); break;
        case 'number':
        case 'quantity': cond = numberCondition(sql, v, leaf); break;
        case 'uri': cond = `t.url = ${sql.p(unescapeValue(v))}`; break;
        case 'reference': cond = referenceCondition(sql, unescapeValue(v), undefined, leaf); break;
      }
      // The first token component's code is indexed (migration 0150): name it outside the record.
      const first = n === 0 && c.type === 'token' ? splitToken(v).code : '';
      const indexed = first ? `c.components->0->>'code' = ${sql.p(first)} AND ` : '';
      return `${indexed}EXISTS (SELECT 1 FROM jsonb_to_record(c.components->${n}) AS t(${COMPONENT_COLUMNS[c.type]}) WHERE ${cond})`;
    });
    return `(${conds.join(' AND ')})`;
  }

  /** `system|code` under `:below` / `:above`: the codes of the hierarchy, or a 400 saying why not. */
  private subsumedCondition(raw: string, direction: 'below' | 'above', name: string): string {
    const { system, code } = splitToken(raw);
    if (!system || !code) {
      throw badValue(
        `":${direction}" on a token takes system|code (the hierarchy is the code system's); got "${raw}"`,
        `« :${direction} » sur un jeton prend système|code (la hiérarchie est celle du système de codes) ; reçu « ${raw} »`,
        name,
      );
    }
    const codes = this.params.subsumption?.(system, code, direction);
    if (!codes) {
      throw badValue(
        `The code system "${system}" of ${name}:${direction} is not loaded: its hierarchy is unknown`,
        `Le système de codes « ${system} » de ${name}:${direction} n’est pas chargé : sa hiérarchie est inconnue`,
        name,
      );
    }
    const sql = this.sql;
    return `((t.system = ${sql.p(system)} OR t.system IS NULL) AND t.code = ANY(${sql.p(codes)}::text[]))`;
  }

  /** The codes of a value set for `:in` / `:not-in`, or a 400 naming it. */
  private valueSetCodes(url: string, name: string): { system: string; code: string }[] {
    const codes = this.params.valueSetCodes?.(url) ?? this.params.valueSetCodes?.(url.replace(/\|.*$/, ''));
    if (!codes) {
      throw badValue(
        `The value set "${url}" of ${name} is not loaded, or its codes cannot be listed from the loaded packages`,
        `Le jeu de valeurs « ${url} » de ${name} n\u2019est pas chargé, ou ses codes ne peuvent pas être énumérés à partir des packages chargés`,
        name,
      );
    }
    return codes;
  }

  /**
   * `:text` on a token: the text of the CodeableConcept or the display of a Coding starts with
   * the value (case-insensitive), read from the stored content (no index rows: rarely used).
   */
  private tokenText(def: ParamDef, values: string[], alias: string): string {
    if (!def.paths) throw badModifier('text', 'token (FHIRPath expression)', def.name);
    const parts: string[] = [];
    for (const p of def.paths) {
      const base = jsonPathOf(p);
      if (!base) continue;
      for (const v of values) {
        const re = '^' + unescapeValue(v).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        for (const leaf of ['.text', '.display', '.coding.display']) {
          parts.push(`jsonb_path_exists(${alias}.content, ${this.sql.p(`${base}${leaf} ? (@ like_regex ${regexLiteral(re)} flag "i")`)}::jsonpath)`);
        }
      }
    }
    return parts.length ? `(${parts.join(' OR ')})` : 'false';
  }

  /**
   * A chained parameter of any depth: `patient.identifier=…`, `subject:Patient.organization.name=…`.
   * Each link's target type comes from its `:Type`, else from the parameter (its targets that
   * have the next parameter: several are OR-ed).
   */
  private chain(resourceType: string | undefined, sp: SearchParam, alias: string, depth: number): string {
    const full = sp.modifier ? `${sp.name}:${sp.modifier}` : sp.name;
    const dot = full.indexOf('.');
    const head = full.slice(0, dot);
    const rest = full.slice(dot + 1);
    const [refName, explicitType] = head.split(':') as [string, string | undefined];
    if (!refName || !rest) throw new FhirError(HTTP_ERRORS.SEARCH_CHAIN, { name: full, detail: 'empty link', detailFr: 'maillon vide' }, { expression: full });
    const def = this.params.get(resourceType, refName);
    if (!def || def.type !== 'reference') throw unknownParam(full, resourceType);
    const nextName = rest.split(/[.:]/)[0]!;
    let targets: string[];
    if (explicitType) targets = [explicitType];
    else {
      const declared = def.resolveIs?.length ? def.resolveIs : def.targets ?? [];
      targets = declared.filter((t) => nextName === '_id' || nextName === '_lastUpdated' || this.params.get(t, nextName) !== undefined);
      if (targets.length === 0) {
        if (declared.length === 0) {
          throw new FhirError(
            HTTP_ERRORS.SEARCH_CHAIN,
            { name: full, detail: `"${refName}" may reference any type; name one (${refName}:Type.${rest})`, detailFr: `« ${refName} » peut désigner tout type ; en nommer un (${refName}:Type.${rest})` },
            { expression: full },
          );
        }
        throw unknownParam(full, resourceType);
      }
    }
    const colon = rest.indexOf(':');
    const dotIdx = rest.indexOf('.');
    // The inner parameter: a further chain keeps its dots; a leaf splits its modifier.
    const inner: SearchParam =
      dotIdx >= 0 && (colon < 0 || dotIdx < colon || /^[A-Z]/.test(rest.slice(colon + 1)))
        ? { name: rest, values: sp.values }
        : colon < 0
          ? { name: rest, values: sp.values }
          : { name: rest.slice(0, colon), modifier: rest.slice(colon + 1), values: sp.values };
    const sql = this.sql;
    const branches = targets.map((targetType) => {
      const a = sql.alias('c');
      const innerCond = this.condition(targetType, inner, a, depth + 1);
      return `SELECT ${a}.resource_type, ${a}.id FROM ${this.tab('resource')} ${a} WHERE ${a}.deleted = false AND ${a}.resource_type = ${sql.p(targetType)} AND ${innerCond ?? 'true'}${this.inScope(a)}`;
    });
    const r = sql.alias('ref');
    const typeFilter = resourceType ? `${r}.resource_type = ${sql.p(resourceType)} AND ` : '';
    return `(${alias}.resource_type, ${alias}.id) IN (SELECT ${r}.resource_type, ${r}.id FROM ${this.tab('search_reference')} ${r}
     WHERE ${typeFilter}${r}.param = ${sql.p(def.key)}${restricted(sql, def, r)} AND (${r}.target_type, ${r}.target_id) IN (${branches.join(' UNION ALL ')}))`;
  }

  /** `_has:Type:reference:param=value` (reverse chain), nestable. */
  private has(resourceType: string | undefined, sp: SearchParam, alias: string, depth: number): string {
    const full = `_has:${sp.modifier ?? ''}`;
    const parts = (sp.modifier ?? '').split(':');
    const [type, refName] = parts;
    const restParts = parts.slice(2);
    if (!type || !refName || restParts.length === 0 || !/^[A-Z][A-Za-z]+$/.test(type)) {
      throw new FhirError(
        HTTP_ERRORS.SEARCH_CHAIN,
        { name: full, detail: 'expected _has:Type:reference:parameter', detailFr: 'forme attendue : _has:Type:référence:paramètre' },
        { expression: full },
      );
    }
    const def = this.params.get(type, refName);
    if (!def || def.type !== 'reference') throw unknownParam(full, resourceType);
    const rest = restParts.join(':');
    const colon = rest.indexOf(':');
    const inner: SearchParam = rest.startsWith('_has:')
      ? { name: '_has', modifier: rest.slice(5), values: sp.values }
      : rest.includes('.') || colon < 0
        ? { name: rest, values: sp.values }
        : { name: rest.slice(0, colon), modifier: rest.slice(colon + 1), values: sp.values };
    const sql = this.sql;
    const h = sql.alias('h');
    const innerCond = this.condition(type, inner, h, depth + 1);
    const r = sql.alias('ref');
    const target = resourceType ? ` AND ${r}.target_type = ${sql.p(resourceType)}` : '';
    return `(${alias}.resource_type, ${alias}.id) IN (SELECT ${r}.target_type, ${r}.target_id FROM ${this.tab('search_reference')} ${r}
     WHERE ${r}.resource_type = ${sql.p(type)} AND ${r}.param = ${sql.p(def.key)}${restricted(sql, def, r)}${target} AND (${r}.resource_type, ${r}.id) IN (
       SELECT ${h}.resource_type, ${h}.id FROM ${this.tab('resource')} ${h} WHERE ${h}.deleted = false AND ${h}.resource_type = ${sql.p(type)} AND ${innerCond ?? 'true'}${this.inScope(h)}))`;
  }

  orderBy(resourceType: string | undefined, sort: string[] | undefined): string {
    const parts: string[] = [];
    const sql = this.sql;
    for (const s of sort ?? []) {
      const desc = s.startsWith('-');
      const name = desc ? s.slice(1) : s;
      const dir = desc ? 'DESC' : 'ASC';
      if (name === '_lastUpdated') parts.push(`r.last_updated ${dir}`);
      else if (name === '_id') parts.push(`r.id ${dir}`);
      else {
        const def = this.params.get(resourceType, name);
        // A composite has no order of its own (sort on one of its components' parameters).
        if (!def || def.type === 'composite') throw new FhirError(HTTP_ERRORS.SEARCH_SORT, { name }, { expression: '_sort' });
        const p = sql.p(def.key);
        const agg = desc ? 'max' : 'min';
        // Ascending: the smallest value of the resource; descending: the largest.
        const col =
          def.type === 'date' || def.type === 'number' || def.type === 'quantity' ? (desc ? 'max(d.high)' : 'min(d.low)')
          : def.type === 'string' ? `${agg}(d.value)`
          : def.type === 'token' ? `${agg}(d.code)`
          : `${agg}(coalesce(d.target_type || '/' || d.target_id, d.url))`;
        const table = TABLE[def.type]!;
        const only = table === 'search_reference' ? restricted(sql, def, 'd') : '';
        parts.push(`(SELECT ${col} FROM ${table} d WHERE d.resource_type = r.resource_type AND d.id = r.id AND d.param = ${p}${only}) ${dir} NULLS LAST`);
      }
    }
    if (parts.length === 0) parts.push('r.last_updated DESC');
    // A total order, so that pages do not overlap or skip.
    parts.push('r.resource_type ASC', 'r.id ASC');
    return parts.join(', ');
  }
}

export async function search(db: Queryable, q: SearchQuery, params: SearchParameterSet): Promise<SearchResult> {
  const b = new SearchBuilder(params, q.scope);
  const sql = b.sql;
  const where = ['r.deleted = false'];
  const ignored: SearchResult['ignored'] = [];
  if (q.resourceType) where.push(`r.resource_type = ${sql.p(q.resourceType)}`);
  // Restricted before it runs, so that the total counts only what the reader may see.
  if (q.scope) where.push(scopeSql(q.scope, 'r.owner', (v) => sql.p(v)));
  for (const sp of q.params) {
    const mark = sql.params.length;
    try {
      const c = b.condition(q.resourceType, sp, 'r');
      if (c) where.push(c);
    } catch (e) {
      // Lenient handling (the FHIR default over HTTP): an unknown parameter is ignored and reported.
      if (q.handling === 'lenient' && e instanceof FhirError && e.def === HTTP_ERRORS.SEARCH_UNKNOWN_PARAM) {
        sql.params.length = mark;
        ignored.push({ name: sp.modifier ? `${sp.name}:${sp.modifier}` : sp.name, message: e.message, text: e.text });
        continue;
      }
      throw e;
    }
  }
  // Validate includes before running anything, so a bad one is a 400, not a partial answer.
  for (const inc of [...(q.include ?? []), ...(q.revinclude ?? [])]) checkInclude(params, inc);
  const whereSql = where.join(' AND ');
  const whereParams = sql.params.length;
  const order = b.orderBy(q.resourceType, q.sort);
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
      const res = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource r WHERE ${whereSql}`, sql.params.slice(0, whereParams));
      total = Number(res.rows[0]!.n);
    }
  }
  const matches = page.rows.map(toRecord);
  const included = await includes(db, params, matches, q.include ?? [], q.revinclude ?? [], q.scope);
  const result: SearchResult = { total, matches, included };
  if (ignored.length) result.ignored = ignored;
  return result;
}

/** Resources as a plan will have written them (conditional references inside a transaction). */
export interface Overlay {
  resources: { resourceType: string; id: string; lastUpdated: string; owner?: string; content?: FhirResource }[];
}

/**
 * Ids of the current resources of `resourceType` matching `params` (conditional create, update,
 * delete and references): at most `limit`, strict handling (an unknown criterion must not match
 * everything).
 *
 * With an `overlay`, the same query runs on the state a plan will leave: each table is read
 * through a CTE (`ov_resource`, `ov_search_token`…) holding the stored rows of the resources the
 * plan does not touch plus the overlay's resources and their index rows (a deleted one: a
 * tombstone, no rows). Every parameter type, modifier, chain and `_has` has exactly the
 * semantics of search (D-203).
 *
 * With a `scope` (the writer's read scope, issue 21), only resources in it — reached through
 * hops in it — can match: what the writer may not read is invisible to its conditional writes
 * too, so they cannot serve as a yes/no lookup outside the scope (decisions.md D-280).
 */
export async function matchIds(db: Queryable, resourceType: string, criteria: SearchParam[], params: SearchParameterSet, limit = 2, overlay?: Overlay, scope?: ReadScope): Promise<string[]> {
  const ov = overlay && overlay.resources.length ? overlay.resources : undefined;
  const b = new SearchBuilder(params, scope, ov ? 'ov_' : '');
  const sql = b.sql;
  let ctes = '';
  if (ov) {
    const keys = `${sql.p(ov.map((r) => r.resourceType))}::text[], ${sql.p(ov.map((r) => r.id))}::text[]`;
    const untouched = (a: string) => `NOT EXISTS (SELECT 1 FROM ov_keys k WHERE k.t = ${a}.resource_type AND k.i = ${a}.id)`;
    const parts = [
      `ov_keys AS MATERIALIZED (SELECT * FROM unnest(${keys}) AS k(t, i))`,
      `ov_resource AS NOT MATERIALIZED (
        SELECT x.resource_type, x.id, x.version_id, x.last_updated, x.deleted, x.owner, x.content FROM resource x WHERE ${untouched('x')}
        UNION ALL
        SELECT * FROM unnest(${keys}, ${sql.p(ov.map(() => 0))}::integer[], ${sql.p(ov.map((r) => r.lastUpdated))}::timestamptz[],
                             ${sql.p(ov.map((r) => r.content === undefined))}::boolean[], ${sql.p(ov.map((r) => r.owner ?? ''))}::text[],
                             ${sql.p(ov.map((r) => (r.content === undefined ? null : JSON.stringify(r.content))))}::jsonb[]))`,
    ];
    const rows = indexTables(
      params,
      ov.map((r) => ({ resourceType: r.resourceType, id: r.id, resource: r.content ?? { resourceType: r.resourceType }, deleted: r.content === undefined })),
    );
    for (const t of rows) {
      const cols = t.columns.join(', ');
      const planned = t.arrays[0]!.length ? `\n        UNION ALL SELECT * FROM unnest(${t.arrays.map((a, n) => `${sql.p(a)}::${t.casts[n]}[]`).join(', ')})` : '';
      parts.push(`ov_${t.table} AS NOT MATERIALIZED (SELECT ${cols} FROM ${t.table} x WHERE ${untouched('x')}${planned})`);
    }
    ctes = `WITH ${parts.join(',\n')}\n`;
  }
  const where = ['r.deleted = false', `r.resource_type = ${sql.p(resourceType)}`];
  if (scope) where.push(scopeSql(scope, 'r.owner', (v) => sql.p(v)));
  for (const sp of criteria) {
    const c = b.condition(resourceType, sp, 'r');
    if (c) where.push(c);
  }
  const res = await db.query<{ id: string }>(`${ctes}SELECT r.id FROM ${b.tab('resource')} r WHERE ${where.join(' AND ')} ORDER BY r.id LIMIT ${Math.max(1, Math.floor(limit))}`, sql.params);
  return res.rows.map((r) => r.id);
}

function checkInclude(params: SearchParameterSet, inc: IncludeSpec): void {
  if (inc.param === '*') return;
  const def = params.get(inc.sourceType, inc.param);
  if (!def || (def.type !== 'reference' && def.type !== 'uri')) {
    throw new FhirError(HTTP_ERRORS.SEARCH_INCLUDE, { name: `${inc.sourceType}:${inc.param}` }, { expression: '_include' });
  }
}

async function includes(db: Queryable, params: SearchParameterSet, matches: ResourceRecord[], inc: IncludeSpec[], rev: IncludeSpec[], scope?: ReadScope): Promise<ResourceRecord[]> {
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
      const sources = frontier.filter((m) => spec.sourceType === '*' || m.resourceType === spec.sourceType);
      if (sources.length) found.push(...(await forwardInclude(db, params, sources, spec, scope)));
    }
    for (const spec of revs) found.push(...(await reverseInclude(db, params, frontier, spec, scope)));
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

/**
 * The rows of an include's parameter(s) on search_reference `s`: `s.param = ANY(keys)`, and for
 * a parameter served from another's rows (D-354) that one's key with its target type. Under `*`
 * such a parameter adds nothing: the one it is served from is a reference parameter of the type too.
 */
function paramRows(sql: Sql, params: SearchParameterSet, spec: IncludeSpec, types: string[]): string {
  const defs: ParamDef[] = [];
  if (spec.param !== '*') {
    const d = params.get(spec.sourceType, spec.param);
    if (!d) return `s.param = ${sql.p(spec.param)}`;
    defs.push(d);
  } else for (const t of types) defs.push(...params.referencesOf(t));
  const keys = [...new Set(defs.filter((d) => !d.restrictTo).map((d) => d.key))];
  const only = defs.filter((d) => d.restrictTo && !keys.includes(d.key));
  const conds = keys.length ? [`s.param = ANY(${sql.p(keys)}::text[])`] : [];
  for (const d of only) conds.push(`(s.param = ${sql.p(d.key)}${restricted(sql, d, 's')})`);
  return conds.length === 1 ? conds[0]! : `(${conds.join(' OR ') || 'false'})`;
}

async function forwardInclude(db: Queryable, params: SearchParameterSet, sources: ResourceRecord[], spec: IncludeSpec, scope?: ReadScope): Promise<ResourceRecord[]> {
  const sql = new Sql();
  const inScope = scope ? ` AND ${scopeSql(scope, 'r.owner', (v) => sql.p(v))}` : '';
  const t = sql.p(sources.map((s) => s.resourceType));
  const i = sql.p(sources.map((s) => s.id));
  const names = paramRows(sql, params, spec, [...new Set(sources.map((s) => s.resourceType))]);
  const target = spec.targetType ? ` AND s.target_type = ${sql.p(spec.targetType)}` : '';
  const res = await db.query<ResourceRow>(
    `SELECT ${RESOURCE_COLUMNS.split(', ').map((c) => 'r.' + c).join(', ')}
       FROM resource r
      WHERE r.deleted = false AND (r.resource_type, r.id) IN (
        SELECT s.target_type, s.target_id
          FROM search_reference s
          JOIN unnest(${t}::text[], ${i}::text[]) AS k(t, i) ON s.resource_type = k.t AND s.id = k.i
         WHERE ${names} AND s.target_type IS NOT NULL${target})${inScope}
      ORDER BY r.resource_type, r.id`,
    sql.params,
  );
  return res.rows.map(toRecord);
}

async function reverseInclude(db: Queryable, params: SearchParameterSet, targets: ResourceRecord[], spec: IncludeSpec, scope?: ReadScope): Promise<ResourceRecord[]> {
  const wanted = spec.targetType ? targets.filter((t) => t.resourceType === spec.targetType) : targets;
  if (wanted.length === 0) return [];
  const sql = new Sql();
  const inScope = scope ? ` AND ${scopeSql(scope, 'r.owner', (v) => sql.p(v))}` : '';
  const t = sql.p(wanted.map((s) => s.resourceType));
  const i = sql.p(wanted.map((s) => s.id));
  const src = sql.p(spec.sourceType);
  const res = await db.query<ResourceRow>(
    `SELECT ${RESOURCE_COLUMNS.split(', ').map((c) => 'r.' + c).join(', ')}
       FROM resource r
      WHERE r.deleted = false AND r.resource_type = ${src} AND r.id IN (
        SELECT s.id
          FROM search_reference s
          JOIN unnest(${t}::text[], ${i}::text[]) AS k(t, i) ON s.target_type = k.t AND s.target_id = k.i
         WHERE s.resource_type = ${src} AND ${paramRows(sql, params, spec, [spec.sourceType])})${inScope}
      ORDER BY r.resource_type, r.id`,
    sql.params,
  );
  return res.rows.map(toRecord);
}
