// FHIRPath invariants (ElementDefinition.constraint), compiled once with the `fhirpath`
// package and its R4 model. Three things keep them cheap on the validation hot path:
// - a few universal base invariants are implemented natively (same semantics, tested against
//   fhirpath in invariants.test.ts);
// - an invariant whose expression only reads child elements that are all absent, and which is
//   true on an empty element, is skipped without evaluation (most of dom-2..dom-5, etc.);
// - compilation is cached per (base path, expression).
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4';
import type { ConstraintDef } from '../profiles/compile.js';
import { compileFast, Unsupported, type FastFn } from './fast.js';
import { isObject as isObj } from '../json.js';

type Json = Record<string, unknown>;

export type InvariantResult = { ok: true } | { ok: false } | { ok: 'error'; message: string };

export interface CompiledInvariant {
  key: string;
  /** null when the expression cannot be guarded (uses %vars, descendants(), $this...). */
  readNames: Set<string> | null;
  /** Result on an element with no children, computed lazily; undefined = unknown yet. */
  emptyOk?: boolean;
  run(node: unknown, resource: unknown, rootResource: unknown): InvariantResult;
}

const UCUM = 'http://unitsofmeasure.org';


function entries(b: Json): Json[] {
  return Array.isArray(b.entry) ? (b.entry as unknown[]).filter(isObj) : [];
}

/** Every string value starting with `#` in a JSON tree (local references), to a bounded depth. */
function collectLocalRefs(v: unknown, out: Set<string>, depth: number): void {
  if (depth > 200) return;
  if (typeof v === 'string') {
    if (v.charCodeAt(0) === 35) out.add(v);
    // The narrative refers to contained resources too (`<img src="#image">`), as the HL7 validator counts.
    else if (v.startsWith('<div')) for (const m of v.matchAll(/\s(?:src|href)\s*=\s*["'](#[^"']*)["']/g)) out.add(m[1]);
  } else if (Array.isArray(v)) {
    for (const x of v) collectLocalRefs(x, out, depth + 1);
  } else if (typeof v === 'object' && v !== null) {
    for (const k in v as Json) collectLocalRefs((v as Json)[k], out, depth + 1);
  }
}

/** `entry.first().resource.is(T)`: true when there is no first resource (empty is not false). */
function firstResourceIs(b: Json, type: string): boolean {
  const first = entries(b)[0];
  if (!first || !isObj(first.resource)) return true;
  return first.resource.resourceType === type;
}

const NATIVE: Record<string, { expression: string; fn: (node: Json, rootResource?: Json, resource?: Json) => boolean }> = {
  // Period: start <= end when both are present. Compared at the shared precision, as FHIRPath
  // does for date/time values of different precision (an undecidable comparison is not a failure).
  'per-1': {
    expression: 'start.hasValue().not() or end.hasValue().not() or (start <= end)',
    fn: (p) => {
      const s = p.start;
      const e = p.end;
      if (typeof s !== 'string' || typeof e !== 'string') return true;
      return compareDateTimes(s, e) !== 1;
    },
  },
  // ref-1: a local (#) reference must name a contained resource of the root resource. A
  // contained resource may refer to its container as `#` (R4's text allows it; the expression
  // gained `or (reference = '#' and %rootResource != %resource)` after 4.0.1, as the HL7
  // validator reads it).
  'ref-1': {
    expression:
      "reference.startsWith('#').not() or (reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids'))",
    fn: (r, root, resource) => {
      const ref = r.reference;
      if (typeof ref !== 'string' || !ref.startsWith('#')) return true;
      if (ref === '#' && root !== undefined && resource !== undefined && root !== resource) return true;
      const contained = root && Array.isArray(root.contained) ? root.contained : [];
      return contained.some((c) => typeof c === 'object' && c !== null && (c as Json).id === ref.slice(1));
    },
  },
  // dom-3: every contained resource is referenced from the resource (`#id`), or refers to its
  // container (`#`). fhirpath.js cannot evaluate R4's expression (`descendants().as(canonical)`
  // on several items is an error in FHIRPath), so without this it was never checked. Any
  // `#…` string counts as a local reference (Reference.reference, canonical, uri, url values),
  // as the expression's union of those does.
  'dom-3': {
    expression:
      "contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().as(canonical) | %resource.descendants().as(uri) | %resource.descendants().as(url))) or descendants().where(reference = '#').exists() or descendants().where(as(canonical) = '#').exists() or descendants().where(as(canonical) = '#').exists()).not()).trace('unmatched', id).empty()",
    fn: (r) => {
      const contained = r.contained;
      if (!Array.isArray(contained) || contained.length === 0) return true;
      const local = new Set<string>();
      collectLocalRefs(r, local, 0);
      for (const c of contained) {
        if (!isObj(c) || typeof c.id !== 'string') continue; // '#' + {} is empty: not selected by where()
        if (local.has(`#${c.id}`)) continue;
        const own = new Set<string>();
        collectLocalRefs(c, own, 0);
        if (own.has('#')) continue;
        return false;
      }
      return true;
    },
  },
  'dom-6': {
    expression: 'text.`div`.exists()',
    fn: (r) => typeof r.text === 'object' && r.text !== null && (r.text as Json).div !== undefined,
  },
  'bdl-5': {
    expression: 'resource.exists() or request.exists() or response.exists()',
    fn: (e) => e.resource !== undefined || e.request !== undefined || e.response !== undefined,
  },
  'bdl-8': {
    expression: "fullUrl.exists() implies fullUrl.contains('/_history/').not()",
    fn: (e) => typeof e.fullUrl !== 'string' || !e.fullUrl.includes('/_history/'),
  },
  // Bundle invariants: evaluated once per Bundle, but fhirpath walks every entry resource
  // for them (the largest cost of a Bundle validation), so they are native too.
  'bdl-1': {
    expression: "total.empty() or (type = 'searchset') or (type = 'history')",
    fn: (b) => b.total === undefined || b.type === 'searchset' || b.type === 'history',
  },
  'bdl-2': {
    expression: "entry.search.empty() or (type = 'searchset')",
    fn: (b) => b.type === 'searchset' || entries(b).every((e) => e.search === undefined),
  },
  'bdl-3': {
    expression:
      "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' or %resource.type = 'history'))",
    fn: (b) => {
      const want = b.type === 'batch' || b.type === 'transaction' || b.type === 'history';
      return entries(b).every((e) => (e.request !== undefined) === want);
    },
  },
  'bdl-4': {
    expression:
      "entry.all(response.exists() = (%resource.type = 'batch-response' or %resource.type = 'transaction-response' or %resource.type = 'history'))",
    fn: (b) => {
      const want = b.type === 'batch-response' || b.type === 'transaction-response' || b.type === 'history';
      return entries(b).every((e) => (e.response !== undefined) === want);
    },
  },
  'bdl-7': {
    expression: "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()",
    fn: (b) => {
      if (b.type === 'history') return true;
      const seen = new Set<string>();
      for (const e of entries(b)) {
        if (e.fullUrl === undefined) continue;
        const meta = isObj(e.resource) && isObj(e.resource.meta) ? e.resource.meta : undefined;
        const key = `${String(e.fullUrl)}${meta?.versionId === undefined ? '' : String(meta.versionId)}`;
        if (seen.has(key)) return false;
        seen.add(key);
      }
      return true;
    },
  },
  'bdl-9': {
    expression: "type = 'document' implies (identifier.system.exists() and identifier.value.exists())",
    fn: (b) => b.type !== 'document' || (isObj(b.identifier) && b.identifier.system !== undefined && b.identifier.value !== undefined),
  },
  'bdl-10': {
    expression: "type = 'document' implies (timestamp.hasValue())",
    fn: (b) => b.type !== 'document' || b.timestamp !== undefined,
  },
  'bdl-11': {
    expression: "type = 'document' implies entry.first().resource.is(Composition)",
    fn: (b) => b.type !== 'document' || firstResourceIs(b, 'Composition'),
  },
  'bdl-12': {
    expression: "type = 'message' implies entry.first().resource.is(MessageHeader)",
    fn: (b) => b.type !== 'message' || firstResourceIs(b, 'MessageHeader'),
  },
  'qty-3': {
    expression: 'code.empty() or system.exists()',
    fn: (q) => q.code === undefined || q.system !== undefined,
  },
  'dis-1': {
    expression: '(code.exists() or value.empty()) and (system.empty() or system = %ucum)',
    fn: (q) => (q.code !== undefined || q.value === undefined) && (q.system === undefined || q.system === UCUM),
  },
  'ext-1': {
    expression: 'extension.exists() != value.exists()',
    fn: (x) => {
      const hasExt = Array.isArray(x.extension) && x.extension.length > 0;
      let hasValue = false;
      for (const k in x) if (k.startsWith('value')) hasValue = true;
      return hasExt !== hasValue;
    },
  },
};

/**
 * Base invariants about contained resources (dom-2..dom-5): trivially true without `contained`,
 * so they are evaluated (with FHIRPath) only when the resource has contained resources.
 */
const NEEDS_CONTAINED = new Set(['dom-2', 'dom-3', 'dom-4', 'dom-5']);

/** Keys covered by the engine's own structural checks (empty elements are rejected by the JSON rules). */
const SKIPPED = new Set(['ele-1']);

/**
 * R4 expressions that contradict their own human text, evaluated as the text says (the HL7
 * validator corrects them too): key -> [R4 expression, corrected]. que-12 says "more than one
 * enableWhen" but tests `count() > 2`.
 */
const ERRATA: Record<string, [string, string]> = {
  'que-12': ['enableWhen.count() > 2 implies enableBehavior.exists()', 'enableWhen.count() > 1 implies enableBehavior.exists()'],
};

/** JSON key -> [name without `_`, the part before its first capital ('' if none)]; keys repeat, so cached. */
const keyParts = new Map<string, [string, string]>();

function nameParts(raw: string): [string, string] {
  let parts = keyParts.get(raw);
  if (!parts) {
    const k = raw.charCodeAt(0) === 95 ? raw.slice(1) : raw;
    let choice = '';
    for (let i = 1; i < k.length; i++) {
      const c = k.charCodeAt(i);
      if (c >= 65 && c <= 90) {
        choice = k.slice(0, i);
        break;
      }
    }
    parts = [k, choice];
    // Bounded: hostile input can invent endless keys.
    if (keyParts.size > 50_000) keyParts.clear();
    keyParts.set(raw, parts);
  }
  return parts;
}

/** `_x` counts as `x`, and a choice element read as `value` is stored as `valueString` (name = the key up to its first capital). */
function readsName(names: Set<string>, raw: string): boolean {
  const [k, choice] = nameParts(raw);
  return names.has(k) || (choice !== '' && names.has(choice));
}

const KEYWORDS = new Set([
  'and',
  'or',
  'xor',
  'implies',
  'not',
  'true',
  'false',
  'is',
  'as',
  'in',
  'contains',
  'div',
  'mod',
  'empty',
  'exists',
]);

/**
 * Names of child elements an expression starts navigation from, or null if the expression
 * may read anything else (environment variables, $this, descendants(), resolve()...).
 */
function rootNames(expression: string): Set<string> | null {
  if (/[%$]|descendants|children|resolve|repeat|trace|\bnow\(|today\(/.test(expression)) return null;
  // Drop string literals and backtick-quoted names' quotes.
  const text = expression.replace(/'(?:[^'\\]|\\.)*'/g, "''").replace(/`([^`]*)`/g, '$1');
  const names = new Set<string>();
  const re = /(\.?)\b([A-Za-z_][A-Za-z0-9_]*)\b(\s*\()?/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const [, dot, name, call] = m;
    if (call) {
      continue; // function call
    }
    if (dot) continue; // navigation from something already counted
    if (KEYWORDS.has(name)) continue;
    // `Encounter.extension...`: a type name designates the context itself; nothing to guard on.
    if (/^[A-Z]/.test(name)) return null;
    // A name right after `(` inside a function such as where(...) is relative to another
    // collection; it is still a child name of *some* node, so counting it is conservative.
    names.add(name);
  }
  return names;
}

function precisionOf(v: string): number {
  return v.length;
}

/** Compares two FHIR date/dateTime strings; -1, 0, 1, or undefined when precision differs undecidably. */
export function compareDateTimes(a: string, b: string): -1 | 0 | 1 | undefined {
  const ta = a.indexOf('T');
  const tb = b.indexOf('T');
  if (ta < 0 && tb < 0) {
    // Date-only values: compare the common prefix; equal prefixes at different precision are undecidable.
    const n = Math.min(precisionOf(a), precisionOf(b));
    const x = a.slice(0, n);
    const y = b.slice(0, n);
    if (x < y) return -1;
    if (x > y) return 1;
    return a.length === b.length ? 0 : undefined;
  }
  if (ta >= 0 && tb >= 0) {
    const da = Date.parse(a);
    const db = Date.parse(b);
    if (Number.isNaN(da) || Number.isNaN(db)) return undefined;
    return da < db ? -1 : da > db ? 1 : 0;
  }
  // date vs dateTime: compare at the date's precision (year, month or day).
  const n = Math.min(ta < 0 ? a.length : 10, tb < 0 ? b.length : 10);
  const x = a.slice(0, n);
  const y = b.slice(0, n);
  if (x < y) return -1;
  if (x > y) return 1;
  return undefined;
}

/** A bare `value` (not `x.value`, not a call, not in a string literal at the start of a term). */
const PRIMITIVE_VALUE = /(^|[^.\w$%'])value\b(?!\s*\()/;
const PRIMITIVE_VALUE_ALL = new RegExp(PRIMITIVE_VALUE.source, 'g');

// trace() in base invariants (dom-3) must not print.
const noTrace = (): void => {};

type Compiled = (resource: unknown, env?: Record<string, unknown>) => unknown[];

/** Met only when the result holds no `false` and is not empty: an empty result fails, as in the HL7 validator (decisions.md D-19). */
function verdict(out: unknown[]): InvariantResult {
  if (out.length === 0) return FAILED;
  for (const v of out) if (v === false) return FAILED;
  return PASSED;
}

// Shared results (read only): an evaluation allocates no result object.
const PASSED: InvariantResult = Object.freeze({ ok: true });
const FAILED: InvariantResult = Object.freeze({ ok: false });

export type VerifyHook = (key: string, expression: string, fast: InvariantResult, reference: InvariantResult) => void;

export class InvariantCompiler {
  /** When set, every fast evaluation is also run with fhirpath.js and both results reported (tests). */
  constructor(private readonly verify?: VerifyHook) {}

  private readonly cache = new Map<string, CompiledInvariant | null>();

  /** Returns null for invariants with no expression or covered by the engine itself. */
  private readonly byDef = new WeakMap<ConstraintDef, Map<string, CompiledInvariant | null>>();

  compile(c: ConstraintDef, basePath: string): CompiledInvariant | null {
    let perBase = this.byDef.get(c);
    if (!perBase) this.byDef.set(c, (perBase = new Map()));
    const hit = perBase.get(basePath);
    if (hit !== undefined) return hit;
    const compiled = this.compileUncached(c, basePath);
    perBase.set(basePath, compiled);
    return compiled;
  }

  private compileUncached(c: ConstraintDef, basePath: string): CompiledInvariant | null {
    if (!c.expression || SKIPPED.has(c.key)) return null;
    const cacheKey = `${basePath}\u0000${c.expression}`;
    const hit = this.cache.get(cacheKey);
    if (hit !== undefined) return hit;
    let compiled: CompiledInvariant;
    const native = NATIVE[c.key];
    if (native && native.expression === c.expression.trim()) {
      compiled = {
        key: c.key,
        readNames: null,
        run: (node, resource, rootResource) =>
          typeof node !== 'object' || node === null || native.fn(node as Json, rootResource as Json | undefined, resource as Json | undefined) ? PASSED : FAILED,
      };
    } else {
      const erratum = Object.hasOwn(ERRATA, c.key) ? ERRATA[c.key] : undefined;
      const expression = erratum && erratum[0] === c.expression.trim() ? erratum[1] : c.expression;
      let slow: Compiled | undefined;
      let compileError: string | undefined;
      const slowFn = (): Compiled | undefined => {
        if (!slow && !compileError) {
          try {
            slow = fhirpath.compile({ base: basePath, expression }, r4model, { traceFn: noTrace }) as unknown as Compiled;
          } catch (e) {
            compileError = (e as Error).message;
          }
        }
        return slow;
      };
      let fast: FastFn | undefined;
      try {
        fast = compileFast(expression);
      } catch (e) {
        if (!(e instanceof Unsupported)) throw e;
      }
      const viaFhirpath = (node: unknown, resource: unknown, rootResource: unknown): InvariantResult => {
        const fn = slowFn();
        if (!fn) return { ok: 'error', message: compileError ?? 'cannot compile' };
        try {
          // %context is left to fhirpath.js: the input node, typed from the base path (a raw
          // object given as %context has no type: `%context.type().name` was 'Object').
          return verdict(fn(node, { resource, rootResource: rootResource ?? resource }));
        } catch (e) {
          return { ok: 'error', message: (e as Error).message };
        }
      };
      const verify = this.verify;
      // HL7's FHIRPath engine gives a primitive a `value` child (the R4 model's string.value...);
      // fhirpath.js does not, so `value = 'POST' or value = 'PUT'` on a primitive (CDS's and
      // CdL's req-met on Bundle.entry.request.method) was always empty, hence failed. On a
      // primitive node a bare `value` is the node itself.
      const asPrimitive = PRIMITIVE_VALUE.test(expression)
        ? this.compileUncached({ ...c, expression: expression.replace(PRIMITIVE_VALUE_ALL, '$1$$this') }, basePath)
        : null;
      compiled = {
        key: c.key,
        readNames: NEEDS_CONTAINED.has(c.key) ? new Set(['contained']) : rootNames(expression),
        run: (node, resource, rootResource) => {
          if (asPrimitive && (typeof node !== 'object' || node === null)) return asPrimitive.run(node, resource, rootResource);
          if (fast) {
            try {
              const r = verdict(fast(node, { resource, rootResource: rootResource ?? resource, context: node }));
              if (verify) verify(c.key, expression, r, viaFhirpath(node, resource, rootResource));
              return r;
            } catch (e) {
              if (!(e instanceof Unsupported)) throw e;
            }
          }
          return viaFhirpath(node, resource, rootResource);
        },
      };
    }
    this.cache.set(cacheKey, compiled);
    return compiled;
  }

  /** True when the invariant can be skipped because every element it reads is absent. */
  canSkip(inv: CompiledInvariant, node: unknown): boolean {
    const names = inv.readNames;
    if (!names || typeof node !== 'object' || node === null) return false;
    // One pass over the (few) keys of the element.
    for (const raw in node as Json) if (readsName(names, raw)) return false;
    return this.emptyOk(inv);
  }

  /**
   * Whether the invariant may read the JSON property `key` (canSkip's test for one key; the
   * validator applies it once per element definition and reuses the answer per instance).
   */
  mayRead(inv: CompiledInvariant, key: string): boolean {
    return inv.readNames === null || readsName(inv.readNames, key);
  }

  /** The invariant's result on an element with no children (computed once). */
  emptyOk(inv: CompiledInvariant): boolean {
    if (inv.emptyOk === undefined) {
      const r = inv.run({}, {}, {});
      inv.emptyOk = r.ok === true;
    }
    return inv.emptyOk;
  }

}
