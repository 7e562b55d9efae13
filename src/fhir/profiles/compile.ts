// Compiles a snapshot (flat element list) into the element tree the validator walks:
// children indexed by JSON property name (choice types expanded: `valueString` -> value[x]),
// slices attached to their sliced element, cardinalities as numbers, fixed/pattern values
// extracted once. Compiled profiles are cached by the Profiles class (profiles.ts).
import type { ElementDefinition, TypeRef } from './snapshot.js';

/** Constraints of primitive elements that the validator's value checks cover (see ElementNode.primitiveExtra). */
export const PRIMITIVE_NATIVE_CONSTRAINTS: ReadonlySet<string> = new Set(['ele-1', 'txt-1', 'txt-2']);

export interface Discriminator {
  type: 'value' | 'pattern' | 'type' | 'profile' | 'exists';
  path: string;
}

export interface Slicing {
  discriminators: Discriminator[];
  rules: 'open' | 'closed' | 'openAtEnd';
  ordered: boolean;
  /** True when the slicing was not in the snapshot (its base is missing) and was inferred. */
  inferred?: boolean;
}

export interface ConstraintDef {
  key: string;
  severity: 'error' | 'warning';
  human: string;
  expression?: string;
  source?: string;
  bestPractice: boolean;
}

/** A JSON property name resolved to its element (and, for choice elements, the implied type). */
export interface ChildRef {
  node: ElementNode;
  type?: string;
  /** Position of `node` in the parent's `children`. */
  pos: number;
  /** The JSON property name, and its `_name` sibling (built once, not per instance). */
  key: string;
  ukey: string;
  /** Filled by the validator (how a value of this property is checked quickly); depends on `node` only. */
  plan: unknown;
}

export interface ElementNode {
  id: string;
  path: string;
  /** Last path segment, e.g. `value[x]`, `identifier`. */
  name: string;
  sliceName?: string;
  min: number;
  max: number;
  /** Whether the base element repeats (JSON array) — from `base.max`, or `max` when base is absent. */
  isArray: boolean;
  isChoice: boolean;
  types: TypeRef[];
  children?: ElementNode[];
  /** JSON property name -> child and (for choice elements) the type code the name implies. */
  childIndex?: Map<string, ChildRef>;
  slicing?: Slicing;
  slices: ElementNode[];
  /** fixed[x] value, compared for exact equality. */
  fixed?: unknown;
  /** pattern[x] value, compared as "instance contains pattern". */
  pattern?: unknown;
  binding?: { strength: 'required' | 'extensible' | 'preferred' | 'example'; valueSet?: string };
  constraints: ConstraintDef[];
  /**
   * A primitive value here needs checks beyond its type's: a narrative (xhtml), or constraints
   * other than ele-1 (which the empty checks cover) and the narrative's txt-1 / txt-2 (checked
   * natively). One flag, so that the validator's per-value path reads one field.
   */
  primitiveExtra: boolean;
  /** `#Questionnaire.item`-style reference, resolved by the validator against the profile root. */
  contentReference?: string;
  maxLength?: number;
  minValue?: number | string;
  maxValue?: number | string;
  isModifier: boolean;
  mustSupport: boolean;
  /** Rarely used controls a profile states on the element (see ElementControls); undefined on most. */
  controls: ElementControls | undefined;
  /** FHIR type code of each entry of `types` (FHIRPath system types mapped, e.g. `id`, `uri`). */
  typeCodes: string[];
  /** Memo owned by the validator (filled lazily; a compiled profile never changes). */
  memo: unknown;
}

/** A Quantity (or Duration) limit: `minValueQuantity`, or the R5-style `maxValueDuration`. */
export interface QuantityLimit {
  value: number;
  system?: string;
  code?: string;
  unit?: string;
}

/**
 * What a profile states on an element beyond the usual ElementDefinition fields, rarely used
 * and checked by element-controls.ts: Quantity/Duration limits (`minValueQuantity`,
 * `maxValueDuration`), the R5 `mustHaveValue` / `valueAlternatives` (as cross-version
 * extensions in R4), and the narrative controls (`narrative-source-control`,
 * `narrative-language-control` extensions).
 */
export interface ElementControls {
  minQuantity?: QuantityLimit;
  maxQuantity?: QuantityLimit;
  /** minValueDuration / maxValueDuration: a date limit relative to now. */
  minDuration?: QuantityLimit;
  maxDuration?: QuantityLimit;
  mustHaveValue?: boolean;
  /** Canonical urls of the extensions that may stand for an absent primitive value. */
  valueAlternatives?: string[];
  /** narrative-source-control's code (every top-level part of the div must say its source). */
  narrativeSource?: string;
  /** narrative-language-control's code: `_yes`, `_no`, `_resource` (or a language). */
  narrativeLanguage?: string;
  /** Additional bindings of purpose `required` (R5 `binding.additional`, as cross-version extension in R4): value sets a code must also be in. */
  requiredBindings?: string[];
}

const EXT_MUST_HAVE_VALUE = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.mustHaveValue';
const EXT_VALUE_ALTERNATIVES = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.valueAlternatives';
const EXT_ADDITIONAL_BINDING = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.binding.additional';
const EXT_ADDITIONAL_BINDING_TOOLS = 'http://hl7.org/fhir/tools/StructureDefinition/additional-binding';
const EXT_NARRATIVE_SOURCE = 'http://hl7.org/fhir/StructureDefinition/narrative-source-control';
const EXT_NARRATIVE_LANGUAGE = 'http://hl7.org/fhir/StructureDefinition/narrative-language-control';

function quantityLimit(v: unknown): QuantityLimit | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const q = v as { value?: unknown; system?: unknown; code?: unknown; unit?: unknown };
  if (typeof q.value !== 'number') return undefined;
  const str = (x: unknown) => (typeof x === 'string' ? x : undefined);
  return { value: q.value, system: str(q.system), code: str(q.code), unit: str(q.unit) };
}

/** The element's controls, or undefined (most elements). Quantity limits leave minValue/maxValue. */
function controlsOf(el: ElementDefinition, node: ElementNode): ElementControls | undefined {
  let c: ElementControls | undefined;
  for (const [k, v] of Object.entries(el)) {
    const m = /^(min|max)Value(Quantity|Duration)$/.exec(k);
    if (!m) continue;
    const limit = quantityLimit(v);
    if (m[1] === 'min') node.minValue = undefined;
    else node.maxValue = undefined;
    if (!limit) continue;
    c ??= {};
    c[`${m[1] as 'min' | 'max'}${m[2] as 'Quantity' | 'Duration'}`] = limit;
  }
  const exts = Array.isArray(el.extension) ? (el.extension as { url?: string; valueBoolean?: boolean; valueCanonical?: string; valueCode?: string }[]) : [];
  for (const x of exts) {
    if (x.url === EXT_MUST_HAVE_VALUE && x.valueBoolean === true) (c ??= {}).mustHaveValue = true;
    else if (x.url === EXT_VALUE_ALTERNATIVES && typeof x.valueCanonical === 'string') ((c ??= {}).valueAlternatives ??= []).push(x.valueCanonical);
    else if (x.url === EXT_NARRATIVE_SOURCE && typeof x.valueCode === 'string') (c ??= {}).narrativeSource = x.valueCode;
    else if (x.url === EXT_NARRATIVE_LANGUAGE && typeof x.valueCode === 'string') (c ??= {}).narrativeLanguage = x.valueCode;
  }
  const bindingExt = (el.binding as { extension?: unknown } | undefined)?.extension;
  const bindingExts = Array.isArray(bindingExt) ? (bindingExt as { url?: string; extension?: { url?: string; valueCode?: string; valueCanonical?: string }[] }[]) : [];
  for (const x of bindingExts) {
    if ((x.url !== EXT_ADDITIONAL_BINDING && x.url !== EXT_ADDITIONAL_BINDING_TOOLS) || !Array.isArray(x.extension)) continue;
    const purpose = x.extension.find((p) => p.url === 'purpose')?.valueCode;
    const vs = x.extension.find((p) => p.url === 'valueSet')?.valueCanonical;
    if (purpose === 'required' && typeof vs === 'string') ((c ??= {}).requiredBindings ??= []).push(vs);
  }
  return c;
}

const SYSTEM_TYPES: Record<string, string> = {
  'http://hl7.org/fhirpath/System.String': 'string',
  'http://hl7.org/fhirpath/System.Boolean': 'boolean',
  'http://hl7.org/fhirpath/System.Integer': 'integer',
  'http://hl7.org/fhirpath/System.Decimal': 'decimal',
  'http://hl7.org/fhirpath/System.Date': 'date',
  'http://hl7.org/fhirpath/System.DateTime': 'dateTime',
  'http://hl7.org/fhirpath/System.Time': 'time',
};
const FHIR_TYPE_EXT = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';

/** The FHIR type of a TypeRef, mapping FHIRPath system types (used for `id`, `url`, primitive `value`). */
export function typeCodeOfRef(t: TypeRef): string {
  const sys = Object.hasOwn(SYSTEM_TYPES, t.code) ? SYSTEM_TYPES[t.code] : undefined;
  if (!sys) return t.code;
  const ext = (t.extension as { url: string; valueUrl?: string; valueUri?: string }[] | undefined)?.find(
    (e) => e.url === FHIR_TYPE_EXT,
  );
  return ext?.valueUrl ?? ext?.valueUri ?? sys;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function findPrefixed(el: ElementDefinition, prefix: string): unknown {
  for (const k of Object.keys(el)) if (k.startsWith(prefix) && k.length > prefix.length) return el[k];
  return undefined;
}

function parseMax(max: string | undefined): number {
  if (max === undefined || max === '*') return Infinity;
  const n = Number(max);
  return Number.isFinite(n) ? n : Infinity;
}

/**
 * R4's vital-signs profiles bind `Observation.component.value[x]` (every type, CodeableConcept
 * included) to the UCUM vital-signs units as *required*, which rejects valid components (an
 * inhaled oxygen flow in L/min, an MDC-coded component). The HL7 validator reads it as
 * extensible (an erratum it applies when loading the core package); so do we (D-160). The
 * versioned value set url marks the binding as the core's, inherited as is.
 */
function bindingOf(el: ElementDefinition): ElementNode['binding'] {
  const b = el.binding as NonNullable<ElementNode['binding']>;
  if (b.strength === 'required' && el.path === 'Observation.component.value[x]' && b.valueSet === 'http://hl7.org/fhir/ValueSet/ucum-vitals-common|4.0.1') {
    return { ...b, strength: 'extensible' };
  }
  return b;
}

function toNode(el: ElementDefinition): ElementNode {
  const segs = el.path.split('.');
  const name = segs[segs.length - 1];
  const base = el.base as { max?: string } | undefined;
  const max = parseMax(el.max);
  const baseMax = base?.max !== undefined ? parseMax(base.max) : max;
  // Every property is created here, in one order, even when undefined: all elements then share
  // one hidden class, and the validator's property reads stay monomorphic (measured: a large
  // share of the walk time went to megamorphic loads when optional fields were added on demand).
  const node: ElementNode = {
    id: el.id,
    path: el.path,
    name,
    sliceName: el.sliceName || undefined,
    min: el.min ?? 0,
    max,
    isArray: baseMax > 1,
    isChoice: name.endsWith('[x]'),
    types: el.type ?? [],
    children: undefined,
    childIndex: undefined,
    slicing: undefined,
    slices: [],
    fixed: findPrefixed(el, 'fixed'),
    pattern: findPrefixed(el, 'pattern'),
    binding: el.binding?.strength ? bindingOf(el) : undefined,
    constraints: [],
    primitiveExtra: false,
    contentReference: el.contentReference || undefined,
    maxLength: typeof el.maxLength === 'number' ? el.maxLength : undefined,
    minValue: findPrefixed(el, 'minValue') as number | string | undefined,
    maxValue: findPrefixed(el, 'maxValue') as number | string | undefined,
    isModifier: el.isModifier === true,
    mustSupport: el.mustSupport === true,
    controls: undefined,
    typeCodes: (el.type ?? []).map(typeCodeOfRef),
    memo: undefined,
  };
  for (const c of el.constraint ?? []) {
    node.constraints.push({
      key: c.key,
      severity: c.severity === 'error' ? 'error' : 'warning',
      human: c.human,
      expression: c.expression,
      source: c.source,
      bestPractice: Array.isArray(c.extension)
        ? (c.extension as { url: string; valueBoolean?: boolean }[]).some(
            (x) => x.url.endsWith('elementdefinition-bestpractice') && x.valueBoolean === true,
          )
        : false,
    });
  }
  node.controls = controlsOf(el, node);
  node.primitiveExtra = node.typeCodes.includes('xhtml') || node.constraints.some((c) => !PRIMITIVE_NATIVE_CONSTRAINTS.has(c.key));
  if (el.slicing) {
    const rules = el.slicing.rules === 'closed' || el.slicing.rules === 'openAtEnd' ? el.slicing.rules : 'open';
    node.slicing = {
      // `$this.name` is `name` (FHIRPath): one spelling for the discriminator walk.
      discriminators: ((el.slicing.discriminator ?? []) as Discriminator[]).map((d) =>
        typeof d.path === 'string' && d.path.startsWith('$this.') ? { ...d, path: d.path.slice(6) } : d,
      ),
      rules,
      ordered: el.slicing.ordered === true,
    };
  }
  return node;
}

export function indexChildren(node: ElementNode): void {
  if (!node.children) return;
  const index = new Map<string, ChildRef>();
  node.children.forEach((c, pos) => {
    if (c.isChoice) {
      const prefix = c.name.slice(0, -3);
      for (const t of c.types) {
        const key = prefix + capitalize(t.code);
        index.set(key, { node: c, type: t.code, pos, key, ukey: `_${key}`, plan: undefined });
      }
    } else index.set(c.name, { node: c, type: undefined, pos, key: c.name, ukey: `_${c.name}`, plan: undefined });
  });
  node.childIndex = index;
}

/** Builds the element tree of a snapshot; returns the root. */
export function compileSnapshot(elements: readonly ElementDefinition[]): ElementNode {
  if (elements.length === 0) throw new Error('empty snapshot');
  const byId = new Map<string, ElementNode>();
  const root = toNode(elements[0]);
  byId.set(root.id, root);
  for (let i = 1; i < elements.length; i++) {
    const el = elements[i];
    const node = toNode(el);
    byId.set(node.id, node);
    const dot = el.id.lastIndexOf('.');
    const parentId = el.id.slice(0, dot);
    const last = el.id.slice(dot + 1);
    const colon = last.indexOf(':');
    if (colon >= 0) {
      const sliced = byId.get(`${parentId}.${last.slice(0, colon)}`);
      if (sliced) {
        sliced.slices.push(node);
        continue;
      }
    }
    const parent = byId.get(parentId);
    if (!parent) continue; // orphan (e.g. a reslice we do not support); ignored
    (parent.children ??= []).push(node);
  }
  for (const node of byId.values()) {
    indexChildren(node);
    if (node.slices.length > 0 && !node.slicing) node.slicing = inferSlicing(node);
  }
  return root;
}

/** Fixed or pattern values under a slice, by relative path (one or two levels deep). */
function slicePatternPaths(slice: ElementNode): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const visit = (n: ElementNode, prefix: string, depth: number) => {
    for (const c of n.children ?? []) {
      const p = prefix ? `${prefix}.${c.name}` : c.name;
      const v = c.fixed ?? c.pattern;
      if (v !== undefined) out.set(p, v);
      if (depth < 2) visit(c, p, depth + 1);
    }
  };
  visit(slice, '', 1);
  return out;
}

/**
 * The slicing of an element whose slices come from a base that is not loaded: extensions are
 * always sliced by url; otherwise slices are told apart by the fixed/pattern values the
 * loaded profile gives them. Slices with no such value cannot be matched (reported by the validator).
 */
function inferSlicing(node: ElementNode): Slicing {
  if (node.name === 'extension' || node.name === 'modifierExtension') {
    return { discriminators: [{ type: 'value', path: 'url' }], rules: 'open', ordered: false, inferred: true };
  }
  const paths = new Set<string>();
  for (const s of node.slices) for (const p of slicePatternPaths(s).keys()) paths.add(p);
  return {
    discriminators: [...paths].sort().map((path) => ({ type: 'pattern', path })),
    rules: 'open',
    ordered: false,
    inferred: true,
  };
}
