// Search criteria evaluated on one resource in memory, with the same index rows and the same
// semantics as the SQL search (storage/search.ts). Used where the resource is not stored yet:
// a conditional reference (`Patient?identifier=…`) inside a transaction must find the Patient
// created by an earlier entry of that transaction (FHIR http#trules), which no SQL query sees
// before the transaction's write.
//
// What it evaluates: `_id`, token (`system|code`, `|code`, `system|`, `:not`, `:missing`),
// string (starts-with, `:exact`, `:contains`, `:not`, `:missing`), date (every prefix), uri
// (`:below`, `:above`), reference (`Type/id`, `id`, `:Type`, `:identifier`, `:missing`).
// Chains, `_has` and `_lastUpdated` need other resources or the stored version: `undefined`
// ("cannot tell"), which the caller treats as no match in memory.
import { parseRelativeReference, type Json } from '../json.js';
import { dateRange, splitDatePrefix } from './dates.js';
import { IDENTIFIER_KEY_SUFFIX, normalizeString, type IndexRows, type SearchParameterSet } from './parameters.js';

/** One criterion: AND across criteria, OR across `values` (the shape of storage's SearchParam). */
export interface Criterion {
  name: string;
  modifier?: string;
  values: readonly string[];
}


function unescapeValue(v: string): string {
  return v.replace(/\\([,$|\\])/g, '$1');
}

function splitToken(raw: string): { system?: string; code: string } {
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '\\') i++;
    else if (raw[i] === '|') return { system: unescapeValue(raw.slice(0, i)), code: unescapeValue(raw.slice(i + 1)) };
  }
  return { code: unescapeValue(raw) };
}

function tokenMatches(rows: { system: string | null; code: string }[], raw: string): boolean {
  const { system, code } = splitToken(raw);
  return rows.some((r) => {
    if (system === undefined) return r.code === code;
    if (system === '') return r.system === null && r.code === code;
    if (code === '') return r.system === system;
    return r.system === system && r.code === code;
  });
}

/** Milliseconds of a range bound (`-infinity` / `infinity` included). */
function ms(v: string): number {
  return v === '-infinity' ? -Infinity : v === 'infinity' ? Infinity : Date.parse(v);
}

function dateMatches(low: string, high: string, raw: string): boolean | undefined {
  const { prefix, value: v } = splitDatePrefix(raw);
  const r = dateRange(v);
  if (!r) return undefined;
  const [l, h, ql, qh] = [ms(low), ms(high), ms(r.low), ms(r.high)];
  const eq = l >= ql && h <= qh;
  switch (prefix) {
    case 'eq': return eq;
    case 'ne': return !eq;
    case 'gt': return h > qh;
    case 'lt': return l < ql;
    case 'ge': return h > qh || eq;
    case 'le': return l < ql || eq;
    case 'sa': return l > qh;
    case 'eb': return h < ql;
    default: return l <= qh && h >= ql;
  }
}

/**
 * Whether `resource` (with its id) matches every criterion; `undefined` when one of them cannot
 * be evaluated in memory (chains, `_has`, `_lastUpdated`, unknown parameters or modifiers).
 */
export function matchesCriteria(params: SearchParameterSet, resource: Json, criteria: readonly Criterion[], rows: IndexRows = params.extract(resource)): boolean | undefined {
  const type = String(resource.resourceType);
  for (const c of criteria) {
    const r = matchOne(params, type, resource, c, rows);
    if (r !== true) return r;
  }
  return true;
}

function matchOne(params: SearchParameterSet, type: string, resource: Json, c: Criterion, rows: IndexRows): boolean | undefined {
  const { name, modifier } = c;
  if (name === '_format' || name === '_pretty') return true;
  if (name === '_has' || name.includes('.') || name === '_lastUpdated' || (modifier && /^[A-Z][A-Za-z]+\./.test(modifier))) return undefined;
  const values = c.values.filter((v) => v !== '');
  if (values.length === 0) return undefined;
  if (name === '_id') {
    if (modifier && modifier !== 'not') return undefined;
    const hit = values.some((v) => unescapeValue(v) === resource.id);
    return modifier === 'not' ? !hit : hit;
  }
  const def = params.get(type, name);
  if (!def) return undefined;
  const key = def.key;
  // Numbers and quantities are matched by SQL only (stored resources: D-62's rule for what memory cannot tell).
  if (def.type === 'number' || def.type === 'quantity') return undefined;
  const tokens = rows.tokens.filter((t) => t.param === key);
  const strings = rows.strings.filter((t) => t.param === key);
  const dates = rows.dates.filter((t) => t.param === key);
  const refs = rows.references.filter((t) => t.param === key);
  if (modifier === 'missing') {
    const present =
      def.type === 'token' ? tokens.length > 0
      : def.type === 'string' ? strings.length > 0
      : def.type === 'date' ? dates.length > 0
      : refs.length > 0 || (def.type === 'reference' && rows.tokens.some((t) => t.param === key + IDENTIFIER_KEY_SUFFIX));
    return values[0] === 'true' ? !present : values[0] === 'false' ? present : undefined;
  }
  let hit: boolean | undefined;
  switch (def.type) {
    case 'token':
      if (modifier && modifier !== 'not') return undefined;
      hit = values.some((v) => tokenMatches(tokens, v));
      break;
    case 'string':
      if (modifier && !['exact', 'contains', 'not'].includes(modifier)) return undefined;
      hit = values.some((v) => {
        const u = unescapeValue(v);
        if (modifier === 'exact') return strings.some((s) => s.exact === u);
        const n = normalizeString(u);
        return strings.some((s) => (modifier === 'contains' ? s.value.includes(n) : s.value.startsWith(n)));
      });
      break;
    case 'date': {
      if (modifier && modifier !== 'not') return undefined;
      let unknown = false;
      hit = values.some((v) =>
        dates.some((d) => {
          const m = dateMatches(d.low, d.high, v);
          if (m === undefined) unknown = true;
          return m === true;
        }),
      );
      if (unknown && !hit) return undefined;
      break;
    }
    case 'uri':
      if (modifier && !['not', 'below', 'above'].includes(modifier)) return undefined;
      hit = values.some((v) => {
        const u = unescapeValue(v);
        return refs.some((r) => r.url !== null && (modifier === 'below' ? r.url.startsWith(u) : modifier === 'above' ? u.startsWith(r.url) : r.url === u));
      });
      break;
    case 'reference': {
      if (modifier === 'identifier') {
        const ids = rows.tokens.filter((t) => t.param === key + IDENTIFIER_KEY_SUFFIX);
        return values.some((v) => tokenMatches(ids, v));
      }
      const typeModifier = modifier && /^[A-Z][A-Za-z]+$/.test(modifier) ? modifier : undefined;
      if (modifier && !typeModifier && modifier !== 'not') return undefined;
      hit = values.some((raw) => {
        const v = unescapeValue(raw).replace(/\|[^|/]*$/, '');
        const rel = parseRelativeReference(v);
        if (rel) return (!typeModifier || typeModifier === rel.type) && refs.some((r) => r.targetType === rel.type && r.targetId === rel.id);
        if (/^[a-z][a-z0-9+.-]*:/i.test(v)) {
          const tail = /([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(v);
          return refs.some((r) => r.url === v || (tail !== null && r.targetType === tail[1] && r.targetId === tail[2]));
        }
        return refs.some((r) => r.targetId === v && (!typeModifier || r.targetType === typeModifier));
      });
      break;
    }
    default:
      return undefined;
  }
  return modifier === 'not' ? !hit : hit;
}
