// The instance validator: walks FHIR R4 JSON against compiled profiles (profiles/compile.ts)
// and reports every finding as a ValidationIssue with its exact location.
// One `Run` holds the state of one validation (issues, Bundle index, memoised profile
// conformance of resources, what could not be checked). It never throws on input data:
// anything unexpected becomes an issue.
import { createHash } from 'node:crypto';
import { CODES } from '../outcome/codes.js';
import type { Severity, ValidationIssue } from '../outcome/issue.js';
import { makeIssue, makeIssueWithMessages, messagesOf, type MessageArgs, type Rule } from '../outcome/rule.js';
import { InvariantCompiler, type CompiledInvariant, type InvariantResult, type VerifyHook } from '../fhirpath/invariants.js';
import { PRIMITIVE_NATIVE_CONSTRAINTS, type ChildRef, type ElementNode } from '../profiles/compile.js';
import type { CompiledProfile, Profiles } from '../profiles/profiles.js';
import type { CodeResult, Terminology } from '../terminology/terminology.js';
import { checkPrimitive, checkStringWhitespace, isPrimitiveType, jsonKindOf } from './primitives.js';
import { checkNarrative, type NarrativeProblem } from './narrative.js';
import { checkQuestionnaireResponse, type QuestionnaireDef } from './questionnaire.js';
import { BundleIndex, type BundleTarget } from './bundle-index.js';
import { compilePattern, deepEqual, describeValue } from './values.js';
import { extensionContextRule } from './extension-context.js';

type Json = Record<string, unknown>;

export interface ValidateOptions {
  /** Profiles (canonical URLs) the resource must conform to, in addition to its meta.profile. */
  profiles?: string[];
  /** Stop at the first error (used to test conformance cheaply). */
  failFast?: boolean;
  /** Shown the values of some datatypes as the walk validates them (see TypeVisitor). */
  visitor?: TypeVisitor;
}

/**
 * Lets a layer above the engine (the TDDUI rules) look at every value of a few datatypes
 * during the engine's own walk instead of walking the document again. `visit` is called for
 * each JSON object of one of `types` that the walk validates; a value is seen again when its
 * resource is walked again (against another profile), and not at all where the walk does not
 * go (unknown elements, values of the wrong JSON type). It must not throw.
 */
export interface TypeVisitor {
  readonly types: ReadonlySet<string>;
  visit(type: string, value: Record<string, unknown>, path: string): void;
}

const CORE_SD = 'http://hl7.org/fhir/StructureDefinition/';
/** Extension contexts that allow any element. */
const GENERIC_CONTEXTS = new Set(['Element', 'Resource', 'DomainResource', 'BackboneElement']);
const CODED_TYPES = new Set(['code', 'Coding', 'CodeableConcept', 'Quantity', 'string', 'uri']);

const RESOURCE_ID = /^[A-Z][A-Za-z]+\.id$/;
/**
 * Nesting limit (JSON objects below the root). Real TDDUI content stays under ~30 levels; the
 * limit keeps hostile input from exhausting the stack, and what lies below it is an error,
 * not a pass.
 */
export const MAX_DEPTH = 128;

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Key positions remembered per element (NodeMemo.lastKeys): bounded, whatever the input. */
const KEY_CACHE = 32;

const EMPTY_NODES: ElementNode[] = [];
/** Shared, never written to. */
const EMPTY_VALUES: unknown[] = [];

/** A JSON property name with its `_name` sibling (ChildRef has this shape). */
interface JsonName {
  key: string;
  ukey: string;
  /** The type a choice element's name implies (`valueString` -> string). */
  type?: string;
}
/** Built with ChildRef's fields in ChildRef's order: one object shape where JsonNames are read. */
const EXTENSION_NAME: JsonName = { node: undefined, type: undefined, pos: -1, key: 'extension', ukey: '_extension', plan: undefined } as JsonName;

/**
 * The quick check of a primitive property (ChildRef.plan): for an element with one primitive
 * type and nothing else to check — no slicing, fixed/pattern value, length or value limits — a
 * value of the right JSON kind that its format accepts (for strings, without leading/trailing
 * whitespace), or an array of such values within min..max, has no finding; a required or
 * extensible binding of a single value is then the only check left. Anything else goes through
 * validateChildValues, which decides and reports.
 */
interface PrimitivePlan {
  kind: 'string' | 'number' | 'boolean';
  type: string;
  /** A repeating element: the value is an array of such primitives, within min..max. */
  array: boolean;
  min: number;
  max: number;
  /** string and markdown: leading/trailing whitespace is a warning. */
  whitespace: boolean;
  /** A required or extensible binding (single values only): checked after the quick check. */
  binding: boolean;
}
/** An `extension` element of an Extension (`Extension.extension`, `….extension.extension`): the parts of a complex extension. */
function isSubExtensionNode(node: ElementNode): boolean {
  return node.name === 'extension' && (node.path === 'Extension.extension' || node.path.endsWith('xtension.extension'));
}

/** `urn:…`, `https:…`: a URI with a scheme (Coding.system and Identifier.system must be absolute). */
function hasScheme(u: string): boolean {
  const c0 = u.charCodeAt(0) | 32;
  if (c0 < 97 || c0 > 122) return false;
  for (let i = 1; i < u.length; i++) {
    const c = u.charCodeAt(i);
    if (c === 58) return true; // ':'
    const l = c | 32;
    if (!((l >= 97 && l <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46)) return false;
  }
  return false;
}

const NARRATIVE_RULES: Record<NarrativeProblem, Rule> = {
  syntax: CODES.NARRATIVE_SYNTAX,
  root: CODES.NARRATIVE_ROOT,
  content: CODES.NARRATIVE_CONTENT,
  empty: CODES.NARRATIVE_EMPTY,
};

/** ChildRef.plan of a property that has no quick check. */
const NO_PLAN = Object.freeze({}) as unknown as PrimitivePlan;

function primitivePlanOf(ref: JsonName & { node: ElementNode }): PrimitivePlan {
  const n = ref.node;
  const type = ref.type ?? (n.typeCodes.length === 1 ? n.typeCodes[0] : undefined);
  if (!type || !isPrimitiveType(type) || type === 'xhtml') return NO_PLAN;
  if (n.max === 0 || n.slicing || n.fixed !== undefined || n.pattern !== undefined) return NO_PLAN;
  if (n.maxLength !== undefined || n.minValue !== undefined || n.maxValue !== undefined || n.contentReference) return NO_PLAN;
  if (n.primitiveExtra) return NO_PLAN;
  const binding = n.binding?.valueSet !== undefined && (n.binding.strength === 'required' || n.binding.strength === 'extensible');
  if (binding && n.isArray) return NO_PLAN;
  // Resource.id (typed string in R4) is checked as an id: left to the full path.
  if (n.name === 'id') return NO_PLAN;
  return { kind: jsonKindOf(type), type, array: n.isArray, min: n.min, max: n.max, whitespace: type === 'string' || type === 'markdown', binding };
}

/** A value with no finding by its plan's quick check (see PrimitivePlan). */
function quickValid(plan: PrimitivePlan, value: unknown): boolean {
  if (!plan.array) return quickValidItem(plan, value);
  if (!Array.isArray(value) || value.length === 0 || value.length < plan.min || value.length > plan.max) return false;
  for (let i = 0; i < value.length; i++) if (!quickValidItem(plan, value[i])) return false;
  return true;
}

function quickValidItem(plan: PrimitivePlan, value: unknown): boolean {
  return (
    typeof value === plan.kind &&
    value !== '' &&
    checkPrimitive(plan.type, value) === undefined &&
    !(plan.whitespace && checkStringWhitespace(value as string) !== undefined)
  );
}

/** How the children of an element are found, memoised per element (and type). */
interface Resolved {
  /** The element whose children are walked. */
  node: ElementNode;
  /** The profile those children belong to; null: the caller's profile (the element's own children). */
  profile: CompiledProfile | null;
  typeRoot?: ElementNode;
  /** Extra invariant roots (datatype, type profile) and the profile they are reported for (null: the context's). */
  extra: { root: ElementNode; profile: CompiledProfile | null }[];
  /** `extra` without the roots that have no invariant to run (most datatype roots: ele-1 only); computed once. */
  extraInvariants?: Resolved['extra'];
  /** A type profile checked only partly / not loaded: reported once per run that uses it. */
  partial?: CompiledProfile;
  partialKey?: string;
  unknownProfile?: string;
}

/** What slice matching needs of a sliced element. */
interface SlicingMemo {
  /** Per slice: can its discriminators be evaluated with what is loaded? */
  evaluable: boolean[];
  byProfile: boolean;
  /** Profile discriminators: profile url -> indexes of the slices whose resource has that profile. */
  slicesOfProfile: Map<string, number[]>;
  /** declaredFirst's answer for a resource declaring one profile, by that profile (computed once). */
  orderOfProfile: Map<string, number[] | undefined>;
  /** Parsed discriminator paths, by discriminator. */
  steps: Step[][];
  unevaluable: ElementNode[];
  /** The sub-extensions of a complex extension (relative urls). */
  subExtensions: boolean;
  /** The key of the last "not evaluable" note, and its profile (see sliceNoteKey). */
  noteProfile: CompiledProfile | undefined;
  noteKey: string | undefined;
  /** Candidate slices by discriminator value (see sliceIndex); null: slices are tried in order. */
  index: SliceIndex | null;
}

/**
 * The slices of a sliced element by the value their discriminator `di` expects, when that value
 * is a string (extension url, identifier system...) or a single code (a Coding or one-coding
 * CodeableConcept pattern). An item can only match a slice whose expected string equals one of
 * its values, or whose expected code is one of its codes: the other keyed slices are not tried.
 * Every candidate is still checked by matchesSlice, in slice order, so the first matching slice
 * is the same as when trying them all.
 */
interface SliceIndex {
  di: number;
  byString: Map<string, number[]>;
  byCode: Map<string, number[]>;
  /** Evaluable slices without a key for `di` (tried for every item). */
  others: number[];
}

/** The key of a discriminator's expected value: a string, a code, or undefined (not indexable). */
function expectedKey(expected: unknown): { string?: string; code?: string } | undefined {
  if (typeof expected === 'string') return { string: expected };
  if (!isObject(expected)) return undefined;
  const coding = expected.coding;
  if (Array.isArray(coding)) {
    return coding.length === 1 && isObject(coding[0]) && typeof coding[0].code === 'string' ? { code: coding[0].code } : undefined;
  }
  return typeof expected.code === 'string' ? { code: expected.code } : undefined;
}

/** Two ascending lists of slice indexes, merged (ascending, without repeats) onto `out`. */
function mergeAscending(a: readonly number[], b: readonly number[] | undefined, out: number[]): void {
  let i = 0;
  let j = 0;
  const nb = b ? b.length : 0;
  while (i < a.length || j < nb) {
    if (j >= nb || (i < a.length && a[i] < b![j])) out.push(a[i++]);
    else if (i < a.length && a[i] === b![j]) {
      out.push(a[i++]);
      j++;
    } else out.push(b![j++]);
  }
}

interface ReferenceInfo {
  allowedTypes: Set<string>;
  anyType: boolean;
  /** Target profiles other than the core resource definitions. */
  profiled: string[];
}

const REFERENCE_SHAPE =
  /^(?:(?:https?:\/\/[^\s]+\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?|urn:uuid:[0-9a-fA-F-]{36}|urn:oid:[0-2](?:\.\d+)+|https?:\/\/\S+)$/;

/** `urn:uuid:` + 36 of [0-9a-fA-F-]: the urn:uuid branch of REFERENCE_SHAPE (no other branch matches it). */
function isUrnUuid(ref: string): boolean {
  if (ref.length !== 45 || !ref.startsWith('urn:uuid:')) return false;
  for (let i = 9; i < 45; i++) {
    const c = ref.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || c === 45 || ((c | 32) >= 97 && (c | 32) <= 102))) return false;
  }
  return true;
}

/** A Resolved with all its fields (one object shape). */
function resolved(
  node: ElementNode,
  profile: CompiledProfile | null,
  typeRoot: ElementNode | undefined,
  extra: Resolved['extra'],
  partial?: CompiledProfile,
  unknownProfile?: string,
): Resolved {
  return { node, profile, typeRoot, extra, extraInvariants: undefined, partial, partialKey: partial ? `partial:${partial.url}` : undefined, unknownProfile };
}

/** Per-element memo of one Validator (stored on the element: no WeakMap lookups on the hot path). */
class NodeMemo {
  required?: number[];
  invariants?: CompiledEntry[];
  primitiveInvariants?: CompiledEntry[];
  /** Per parent element (see readsOf): the last one asked for, then the others. */
  readsParent?: ElementNode;
  reads?: InvariantReads;
  readsByParent?: Map<ElementNode, InvariantReads>;
  byType?: Map<string, Resolved | null>;
  /** The last entry of byType used. */
  lastType?: string;
  lastResolved?: Resolved | null;
  byProfile?: Map<CompiledProfile, Resolved | null>;
  sliceTargets?: Map<string, ElementNode | null>;
  /** A slice's targets by position in its sliced element's discriminators (see matchesSlice). */
  discTargets?: (ElementNode | null)[];
  discsOf?: { type: string; path: string }[];
  evaluable?: boolean;
  slicing?: SlicingMemo;
  containsTest?: (v: unknown) => boolean;
  profiles?: string[];
  reference?: ReferenceInfo;
  /**
   * The keys of the last object walked with this element as parent, by position, and what
   * they resolved to: objects of one element mostly list the same keys in the same order, and
   * comparing a key to the one at its position is cheaper than a lookup by name.
   */
  lastKeys?: string[];
  lastRefs?: (ChildRef | undefined)[];
  /** An extension element walked as the definition its instances name (see extensionDefinition). */
  plainExtension?: boolean;
  /** Resource types a resource-typed element allows (Resource/DomainResource dropped). */
  resourceTypes?: string[];
  /** Values of the element's first type are resources (Bundle.entry.resource, contained). */
  resourceTyped?: boolean;
  /** The element is `<Resource>.id` (a string in R4 that must still be a valid id). */
  resourceId?: boolean;
  constructor(readonly owner: Validator) {}
}

/**
 * Per invariant of an element (same order as invariantsOf), which children of the element's
 * parent definition it may read: `reads[pos]` = 1 for a child position whose JSON names the
 * invariant may read, and `reads[children.length]` = 1 when it may read `resourceType`. null:
 * never skippable. Lets the walk decide "every element it reads is absent" from the child
 * refs it has already found, instead of going over the object's keys again per invariant.
 */
type InvariantReads = (Uint8Array | null)[];

/** A compiled invariant of an element, with the text of its finding (built at its first failure: it depends only on the constraint). */
interface CompiledEntry {
  c: ElementNode['constraints'][number];
  inv: CompiledInvariant;
  messages: { en: string; fr: string | undefined } | undefined;
}

/** An IG loaded in full whose namespace holds a url (see completeIgOf), with "did you mean" hints. */
interface CompleteIg {
  canonical: string;
  pkg: string;
  /** The IG's extension closest to the url (a likely typo), if any is close. */
  nearExtension: string | undefined;
  /** The same among its profiles. */
  nearProfile: string | undefined;
}

/** The "did you mean" part of an undefined-url message, in English and French. */
function hintArgs(near: string | undefined): { hint: string; hintFr: string } {
  return near ? { hint: ` (did you mean ${near}?)`, hintFr: ` (vouliez-vous dire ${near} ?)` } : { hint: '', hintFr: '' };
}

/** Levenshtein distance of two short strings, or `max + 1` as soon as it exceeds `max`. */
function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1));
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    prev = cur;
  }
  return prev[b.length];
}

/** An Extension-typed element whose type names the extension's profile (an extension slice). */
function hasOwnExtensionProfile(node: ElementNode): boolean {
  return node.types.some((t) => t.code === 'Extension' && !!t.profile?.length);
}

/** Thrown (one shared instance: no stack capture on the hot path) to stop at the first error. */
class FailFast {}
const FAIL_FAST = new FailFast();

interface Frame {
  /** The resource being validated (FHIRPath %resource). */
  resource: Json;
  /** Its location, e.g. `Bundle.entry[2].resource`. */
  path: string;
  profile: CompiledProfile;
  /** The Bundle entry it is (relative references resolve against its fullUrl). */
  entry: BundleTarget | undefined;
}

interface Pending {
  rule: Rule;
  args: MessageArgs;
  expression: string;
  count: number;
  source?: string;
}

export interface ValidatorContext {
  profiles: Profiles;
  terminology: Terminology;
  /** Test hook: compare every fast FHIRPath evaluation with fhirpath.js. */
  verifyInvariants?: VerifyHook;
  /** See EngineOptions.completeCanonicals (only bases of loaded packages). */
  completeCanonicals?: string[];
}

/** Memoised result of "does this resource (at this location) conform to this profile?". */
interface Conformance {
  /** Where the resource was validated (its issues carry this location). */
  path: string;
  state: 'running' | 'done';
  /** False when the run stopped at the first error (enough to answer "does it conform?"). */
  complete: boolean;
  ok: boolean;
  issues: ValidationIssue[];
  /** "Not checked" notes, replayed only where this result is used (not for profiles merely tried). */
  pending: Map<string, Pending> | undefined;
}

export class Validator {
  readonly invariants: InvariantCompiler;
  private readonly missingText = new Map<string, string>();
  private readonly partialKeys = new Map<CompiledProfile, string>();

  /** The once() key of "profile checked only partly" (built once per profile). */
  partialKey(p: CompiledProfile): string {
    let k = this.partialKeys.get(p);
    if (k === undefined) this.partialKeys.set(p, (k = `partial:${p.url}`));
    return k;
  }

  /** This validator's memo of an element (one validator per element tree in practice; another one starts afresh). */
  memoOf(node: ElementNode): NodeMemo {
    let m = node.memo as NodeMemo | undefined;
    if (m === undefined || m.owner !== this) node.memo = m = new NodeMemo(this);
    return m;
  }

  /** The loaded Questionnaire of a canonical (memoised: resolving filters the registry's list). */
  questionnaire(canonical: string): QuestionnaireDef | undefined {
    let q = this.questionnaires.get(canonical);
    if (q === undefined) {
      q = (this.ctx.profiles.registry.resolve(canonical, 'Questionnaire') as QuestionnaireDef | undefined) ?? null;
      if (this.questionnaires.size < 1000) this.questionnaires.set(canonical, q);
    }
    return q ?? undefined;
  }
  private readonly questionnaires = new Map<string, QuestionnaireDef | null>();

  /** Compiled invariants of a primitive element, but those its value checks cover (see ElementNode.primitiveExtra). */
  primitiveInvariantsOf(node: ElementNode): CompiledEntry[] {
    const m = this.memoOf(node);
    return (m.primitiveInvariants ??= this.invariantsOf(node).filter((e) => !PRIMITIVE_NATIVE_CONSTRAINTS.has(e.c.key)));
  }

  /** Compiled invariants of an element (skipping those with no expression or handled natively elsewhere). */
  invariantsOf(node: ElementNode): CompiledEntry[] {
    const m = this.memoOf(node);
    let list = m.invariants;
    if (!list) {
      list = [];
      for (const c of node.constraints) {
        const inv = this.invariants.compile(c, node.path);
        if (inv) list.push({ c, inv, messages: undefined });
      }
      m.invariants = list;
    }
    return list;
  }

  private readonly onceKeys = new Map<string, Map<string, string>>();

  /**
   * `prefix + s`, built once: the keys of "reported once" notes recur at every occurrence, and
   * a lookup by `s` costs less than building and hashing the key again. Bounded per prefix.
   */
  onceKey(prefix: string, s: string): string {
    let byS = this.onceKeys.get(prefix);
    if (!byS) this.onceKeys.set(prefix, (byS = new Map()));
    let k = byS.get(s);
    if (k === undefined) {
      if (byS.size >= 10_000) byS.clear();
      byS.set(s, (k = prefix + s));
    }
    return k;
  }

  /** Which children of `parent` each invariant of `node` may read (memoised per node and parent). */
  readsOf(node: ElementNode, parent: ElementNode, compiled: { inv: CompiledInvariant }[]): InvariantReads {
    const m = this.memoOf(node);
    if (m.readsParent === parent) return m.reads!;
    let reads = m.readsByParent?.get(parent);
    if (!reads) {
      const size = (parent.children?.length ?? 0) + 1;
      reads = compiled.map(({ inv }) => {
        if (inv.readNames === null) return null;
        const r = new Uint8Array(size);
        if (parent.childIndex) for (const ref of parent.childIndex.values()) if (this.invariants.mayRead(inv, ref.key)) r[ref.pos] = 1;
        if (this.invariants.mayRead(inv, 'resourceType')) r[size - 1] = 1;
        return r;
      });
      (m.readsByParent ??= new Map()).set(parent, reads);
    }
    m.readsParent = parent;
    m.reads = reads;
    return reads;
  }

  /** Positions of the children with min > 0. */
  requiredOf(parent: ElementNode): number[] {
    const m = this.memoOf(parent);
    let list = m.required;
    if (!list) {
      list = [];
      (parent.children ?? []).forEach((c, i) => {
        if (c.min > 0) list!.push(i);
      });
      m.required = list;
    }
    return list;
  }

  /** Extension context verdicts: `url|Type.path` -> '' (allowed) or the host element path. */
  readonly extensionContexts = new Map<string, string>();
  constructor(readonly ctx: ValidatorContext) {
    this.invariants = new InvariantCompiler(ctx.verifyInvariants);
  }

  private readonly completeOf = new Map<string, CompleteIg | null>();

  /**
   * The complete IG (see completeCanonicals) whose namespace holds this StructureDefinition
   * URL, or undefined: a URL there that is not loaded does not exist. Memoised per URL (bounded).
   */
  completeIgOf(url: string): CompleteIg | undefined {
    const bases = this.ctx.completeCanonicals;
    if (!bases || bases.length === 0) return undefined;
    let hit = this.completeOf.get(url);
    if (hit === undefined) {
      hit = null;
      const bare = url.split('|')[0];
      for (const c of bases) {
        if (bare.startsWith(`${c}/StructureDefinition/`)) {
          // The closest names the IG does define (a typo is the usual cause), for the message.
          const near = this.closestDefinitions(bare, `${c}/StructureDefinition/`);
          hit = { canonical: c, pkg: this.ctx.profiles.registry.packageFor(bare) ?? c, nearExtension: near.extension, nearProfile: near.profile };
          break;
        }
      }
      if (this.completeOf.size >= 10_000) this.completeOf.clear();
      this.completeOf.set(url, hit);
    }
    return hit ?? undefined;
  }

  /** The loaded extension and profile urls under `prefix` closest to `url` (edit distance ≤ 3 on the name). */
  private closestDefinitions(url: string, prefix: string): { extension?: string; profile?: string } {
    const name = url.slice(prefix.length);
    const best = { extension: { url: undefined as string | undefined, d: 4 }, profile: { url: undefined as string | undefined, d: 4 } };
    for (const sd of this.ctx.profiles.registry.all<{ url: string; type?: string; resourceType: string }>('StructureDefinition')) {
      if (!sd.url.startsWith(prefix)) continue;
      const d = editDistance(name, sd.url.slice(prefix.length), 3);
      const slot = sd.type === 'Extension' ? best.extension : best.profile;
      if (d < slot.d) {
        slot.d = d;
        slot.url = sd.url;
      }
    }
    return { extension: best.extension.url, profile: best.profile.url };
  }

  private readonly noteTexts = new Map<string, { rule: Rule; messages: { en: string; fr: string | undefined } }>();

  /** The messages of a STATIC_NOTES note, built at its key's first use (bounded: keys can name input urls). */
  noteMessages(key: string, rule: Rule, args: MessageArgs): { en: string; fr: string | undefined } {
    const hit = this.noteTexts.get(key);
    if (hit !== undefined && hit.rule === rule) return hit.messages;
    const messages = messagesOf(rule, args);
    if (this.noteTexts.size >= 10_000) this.noteTexts.clear();
    this.noteTexts.set(key, { rule, messages });
    return messages;
  }

  /** " (package X is not loaded)"-style suffix naming where a missing canonical would come from. */
  describeMissing(canonical: string): string {
    let text = this.missingText.get(canonical);
    if (text === undefined) {
      const registry = this.ctx.profiles.registry;
      const pkg = registry.packageFor(canonical);
      if (!pkg) text = '';
      else {
        const loaded = registry.packages.some((p) => `${p.name}#${p.version}` === pkg);
        text = loaded ? ` (expected in ${pkg}, which is loaded only partly)` : ` (package ${pkg} is not loaded)`;
      }
      this.missingText.set(canonical, text);
    }
    return text;
  }

  validate(resource: unknown, options: ValidateOptions = {}): ValidationIssue[] {
    const run = new Run(this, options.failFast === true, options.visitor);
    try {
      run.validateRoot(resource, options.profiles ?? []);
    } catch (e) {
      if (!(e instanceof FailFast)) {
        run.push(CODES.INTERNAL, isObject(resource) ? String(resource.resourceType ?? '') : '', {
          detail: (e as Error).stack ?? String(e),
        });
      }
    }
    return run.finish();
  }
}

/**
 * "Not checked" notes whose text is a function of their once() key alone: their arguments come
 * from the compiled profiles and the loaded packages (the key names the profile, slicing,
 * extension or profile url), and their templates do not show the count. Their messages are
 * built once per key (Validator.noteMessages).
 */
const STATIC_NOTES = new Set<Rule>([CODES.PROFILE_PARTIAL, CODES.SLICE_NOT_EVALUABLE, CODES.EXTENSION_UNKNOWN, CODES.PROFILE_UNKNOWN]);

/** An error that makes a resource fail a profile (reference-target findings belong to the target). */
function isBlocking(i: ValidationIssue): boolean {
  return (i.severity === 'error' || i.severity === 'fatal') && i.rule !== CODES.REFERENCE_TARGET_PROFILE.id;
}

class Run {
  private issues: ValidationIssue[] = [];
  /** "Not checked" notes of the walk in progress; created at the first one (most walks have none). */
  private pending: Map<string, Pending> | undefined = undefined;
  /** Reference-target findings -> location of the target resource (see finish()). */
  private readonly targetOf = new Map<ValidationIssue, string>();
  private frames: Frame[] = [];
  /** Objects being walked (see MAX_DEPTH). */
  private depth = 0;
  /** Per depth: the child refs of the object being walked there (reused). */
  private readonly scratch: ChildRef[][] = [];
  private readonly scratchValues: unknown[][] = [];
  bundle?: BundleIndex;
  /**
   * Per resource object: profile -> conformance, one per location (the same object can be
   * reached at two places). Keyed by objects, not by "url|path" strings that would be built
   * and hashed at every lookup. A Map: the Run is short-lived, and WeakMaps cost GC time.
   */
  private readonly conformance = new Map<object, Map<CompiledProfile, Conformance[]>>();

  constructor(
    private readonly v: Validator,
    private failFast: boolean,
    private readonly visitor: TypeVisitor | undefined,
  ) {}

  private get profiles(): Profiles {
    return this.v.ctx.profiles;
  }

  push(rule: Rule, expression: string, args: MessageArgs = {}, severity?: Severity, source?: string): void {
    const sev = severity ?? rule.severity;
    // A reference target that fails its profile is judged where the target is: it does not make
    // the referring resource fail its own profile (or one broken Patient would unmatch every entry).
    if (this.failFast && (sev === 'error' || sev === 'fatal') && rule !== CODES.REFERENCE_TARGET_PROFILE) throw FAIL_FAST;
    this.issues.push(makeIssue(rule, expression, args, { severity, source }));
  }

  /** push() for an issue whose messages are already built (see makeIssueWithMessages). */
  private pushIssue(rule: Rule, issue: ValidationIssue): void {
    if (this.failFast && (issue.severity === 'error' || issue.severity === 'fatal') && rule !== CODES.REFERENCE_TARGET_PROFILE) throw FAIL_FAST;
    this.issues.push(issue);
  }

  /** Counts one more occurrence of a pending note; false when there is none yet (then call once()). */
  private bump(key: string): boolean {
    const p = this.pending?.get(key);
    if (p === undefined) return false;
    p.count++;
    return true;
  }

  /** Records something that could not be checked; reported once per key at the end of the run. */
  once(key: string, rule: Rule, expression: string, args: MessageArgs | (() => MessageArgs), source?: string): void {
    const p = this.pending?.get(key);
    if (p) p.count++;
    // Arguments can be given as a function: built only for the first occurrence.
    else (this.pending ??= new Map()).set(key, { rule, args: typeof args === 'function' ? args() : args, expression, count: 1, source });
  }

  finish(): ValidationIssue[] {
    // A reference to a Bundle entry that fails its profile is usually a consequence of that
    // entry's own errors, which are reported where they are: keep those, and turn the
    // reference findings into information so one defect does not read as many.
    if (this.targetOf.size > 0) {
      // Reference findings themselves do not count: a resource referring to itself would
      // otherwise have "errors of its own" made only of this very finding.
      const errorAt = this.issues.filter(isBlocking).map((i) => i.expression);
      this.issues = this.issues.map((i) => {
        const target = this.targetOf.get(i);
        if (!target || !errorAt.some((e) => e === target || e.startsWith(target + '.'))) return i;
        return { ...i, severity: 'information', message: `${i.message}; it has errors of its own, reported at ${target}` };
      });
    }
    if (this.pending) for (const [key, p] of this.pending) {
      // The args belong to this note (copied per run in validateAgainst): no copy needed here.
      p.args.count = p.count;
      const messages = STATIC_NOTES.has(p.rule) ? this.v.noteMessages(key, p.rule, p.args) : undefined;
      this.issues.push(
        messages ? makeIssueWithMessages(p.rule, p.expression, messages, p.rule.severity, p.source) : makeIssue(p.rule, p.expression, p.args, { source: p.source }),
      );
    }
    return this.issues;
  }

  describeMissing(canonical: string): string {
    return this.v.describeMissing(canonical);
  }


  // ---------------------------------------------------------------- resources

  validateRoot(resource: unknown, profiles: string[]): void {
    if (!isObject(resource) || typeof resource.resourceType !== 'string') {
      this.push(CODES.NOT_A_RESOURCE, '', { found: describeValue(resource) });
      return;
    }
    const path = resource.resourceType;
    if (resource.resourceType === 'Bundle') {
      this.bundle = BundleIndex.build(resource, path);
      // A RESTful fullUrl names its resource (relative references resolve through it).
      for (const p of this.bundle.fullUrlProblems()) {
        const at = `${path}.entry[${p.index}].fullUrl`;
        if (p.problem === 'no-id') this.push(CODES.BUNDLE_FULLURL_NO_ID, at, { fullUrl: p.fullUrl, type: p.type });
        else this.push(CODES.BUNDLE_FULLURL_MISMATCH, at, { fullUrl: p.fullUrl, expected: `${p.type}/${p.id}` });
      }
    }
    this.validateResource(resource, path, profiles);
  }

  /** Validates a resource against its base type, the given profiles and its meta.profile. */
  validateResource(res: unknown, path: string, profileUrls: readonly string[]): void {
    if (!isObject(res) || typeof res.resourceType !== 'string') {
      this.push(CODES.NOT_A_RESOURCE, path, { found: describeValue(res) });
      return;
    }
    const type = res.resourceType;
    const core = this.profiles.core(type);
    if (!core || core.kind !== 'resource' || core.sd.abstract) {
      this.push(CODES.UNKNOWN_RESOURCE_TYPE, path, { type });
      return;
    }
    if (Array.isArray(res.contained) && res.contained.length > 1) this.checkContainedIds(res.contained, path);
    const targets: CompiledProfile[] = [];
    const urls = new Set<string>(profileUrls);
    const meta = res.meta;
    if (isObject(meta) && Array.isArray(meta.profile)) {
      for (const p of meta.profile) if (typeof p === 'string') urls.add(p);
    }
    for (const url of urls) {
      const p = this.profiles.get(url);
      if (!p) {
        const ig = this.v.completeIgOf(url);
        if (ig) this.push(CODES.PROFILE_UNDEFINED, path, { url, canonical: ig.canonical, package: ig.pkg, ...hintArgs(ig.nearProfile) });
        else this.once(`profile:${url}`, CODES.PROFILE_UNKNOWN, path, { url, detail: this.describeMissing(url) });
        continue;
      }
      if (p.type !== type) {
        this.push(CODES.TYPE_NOT_ALLOWED, path, { type, allowed: `${p.type} (profile ${p.url})` });
        continue;
      }
      targets.push(p);
    }
    // A profile's snapshot contains the base definition, so the base is only walked alone.
    if (targets.length === 0) targets.push(core);
    for (const p of targets) this.validateAgainst(res, path, p);
    if (type === 'QuestionnaireResponse' && typeof res.questionnaire === 'string') this.checkAnswers(res, path, res.questionnaire);
  }

  /** A QuestionnaireResponse against the Questionnaire it names (questionnaire.ts). */
  private checkAnswers(qr: Json, path: string, canonical: string): void {
    const q = this.v.questionnaire(canonical);
    if (!q) {
      // An IG loaded in full defines all of its questionnaires (decisions.md D-17).
      const bare = canonical.split('|')[0]!;
      const ig = this.v.ctx.completeCanonicals?.find((c) => bare.startsWith(`${c}/Questionnaire/`));
      const registry = this.v.ctx.profiles.registry;
      if (ig) this.push(CODES.QR_QUESTIONNAIRE_UNDEFINED, `${path}.questionnaire`, { questionnaire: canonical, canonical: ig, package: registry.packageFor(bare) ?? ig });
      else this.once(`questionnaire:${canonical}`, CODES.QR_QUESTIONNAIRE_UNKNOWN, `${path}.questionnaire`, { questionnaire: canonical, detail: this.describeMissing(canonical) });
      return;
    }
    const term = this.v.ctx.terminology;
    const checkCode = (vs: string, coding: { system?: string; code?: string }) => {
      const r = term.validateCode(vs, coding);
      if (r.status === 'unknown') this.bindingNotChecked(vs, r, path, undefined);
      return r.status;
    };
    for (const f of checkQuestionnaireResponse(qr, path, q, checkCode)) this.push(f.rule, f.path, f.args);
  }

  /** Validates `res` against one profile, reusing a memoised result for the same location. */
  validateAgainst(res: Json, path: string, profile: CompiledProfile): void {
    const memo = this.conformanceOf(res, path, profile);
    if (memo.state === 'running') return; // a reference cycle: the outer walk reports
    for (const i of memo.issues) {
      if (this.failFast && isBlocking(i)) throw FAIL_FAST;
      this.issues.push(i);
    }
    if (memo.pending) for (const [k, p] of memo.pending) {
      const mine = this.pending?.get(k);
      if (mine) mine.count += p.count;
      else (this.pending ??= new Map()).set(k, { rule: p.rule, args: p.args, expression: p.expression, count: p.count, source: p.source });
    }
  }

  /** Full validation of `res` against `profile`, computed once per (resource, location, profile). */
  private conformanceOf(res: Json, path: string, profile: CompiledProfile, stopAtFirstError = false): Conformance {
    let byProfile = this.conformance.get(res);
    if (!byProfile) this.conformance.set(res, (byProfile = new Map()));
    let atPaths = byProfile.get(profile);
    if (!atPaths) byProfile.set(profile, (atPaths = []));
    let slot = -1;
    for (let i = 0; i < atPaths.length; i++) if (atPaths[i].path === path) slot = i;
    const hit = slot >= 0 ? atPaths[slot] : undefined;
    if (hit && (hit.state === 'running' || hit.complete || stopAtFirstError)) return hit;
    const c: Conformance = { path, state: 'running', complete: true, ok: true, issues: [], pending: undefined };
    if (slot >= 0) atPaths[slot] = c;
    else atPaths.push(c);
    const savedIssues = this.issues;
    const savedPending = this.pending;
    const savedFailFast = this.failFast;
    const savedDepth = this.depth;
    this.issues = [];
    this.pending = undefined;
    this.failFast = stopAtFirstError;
    try {
      this.walkResource(res, path, profile);
    } catch (e) {
      if (!(e instanceof FailFast)) throw e;
      c.complete = false;
      c.ok = false;
    } finally {
      c.issues = this.issues;
      c.pending = this.pending;
      this.issues = savedIssues;
      this.pending = savedPending;
      this.failFast = savedFailFast;
      this.depth = savedDepth;
    }
    if (c.complete) c.ok = !c.issues.some(isBlocking);
    c.state = 'done';
    return c;
  }

  /** Whether `res` (found at `path`) conforms to the profile; cached. */
  conforms(res: Json, path: string, url: string): boolean | undefined {
    const p = this.profiles.get(url);
    if (!p) return undefined;
    if (p.type !== res.resourceType) return false;
    const c = this.conformanceOf(res, path, p, true);
    return c.state === 'running' ? true : c.ok;
  }

  private walkResource(res: Json, path: string, profile: CompiledProfile): void {
    if (profile.missing.length > 0) {
      this.once(this.v.partialKey(profile), CODES.PROFILE_PARTIAL, path, () => ({
        profile: profile.url,
        missing: profile.missing.join(', '),
        detail: this.describeMissing(profile.missing[0]),
      }));
    }
    // A contained resource belongs to the entry of the resource that contains it.
    const entry = this.bundle ? (this.bundle.entryOf(res) ?? this.frames[this.frames.length - 1]?.entry) : undefined;
    this.frames.push({ resource: res, path, profile, entry });
    try {
      this.validateComplex(res, profile.root, res.resourceType as string, path, profile);
    } finally {
      this.frames.pop();
    }
  }

  // ---------------------------------------------------------------- elements

  /** Children of an element: its own (from the snapshot) or those of its type / type profile; memoised per element. */
  private resolve(node: ElementNode, typeCode: string, profile: CompiledProfile, path: string): Resolved | null {
    const m = this.v.memoOf(node);
    let r: Resolved | null | undefined;
    if (node.contentReference && !node.children) {
      r = (m.byProfile ??= new Map()).get(profile);
      if (r === undefined) {
        const id = node.contentReference.slice(node.contentReference.indexOf('#') + 1);
        const target = findById(profile.root, id) ?? findById(this.profiles.core(id.split('.')[0])?.root, id);
        r = target ? resolved(target, null, undefined, this.extraRoots(target, typeCode, false)) : null;
        m.byProfile.set(profile, r);
      }
    } else if (m.lastType === typeCode) {
      // Most elements are walked with one type: the last answer first, then the map.
      r = m.lastResolved as Resolved | null;
    } else {
      r = (m.byType ??= new Map()).get(typeCode);
      if (r === undefined) {
        r = this.computeResolved(node, typeCode);
        m.byType.set(typeCode, r);
      }
      m.lastType = typeCode;
      m.lastResolved = r;
    }
    if (r) {
      // What could not be checked is reported in every run that uses the resolution.
      if (r.partial && !this.bump(r.partialKey!)) {
        const p = r.partial;
        this.once(r.partialKey!, CODES.PROFILE_PARTIAL, path, { profile: p.url, missing: p.missing.join(', '), detail: this.describeMissing(p.missing[0]) });
      }
      if (r.unknownProfile) {
        const key = this.v.onceKey('profile:', r.unknownProfile);
        if (!this.bump(key)) this.once(key, CODES.PROFILE_UNKNOWN, path, { url: r.unknownProfile, detail: this.describeMissing(r.unknownProfile) });
      }
    }
    return r;
  }

  private computeResolved(node: ElementNode, typeCode: string): Resolved | null {
    if (node.children && node.childIndex) {
      // A root is walked with its own profile; its invariants are its own.
      const isRoot = !node.path.includes('.');
      return resolved(node, null, undefined, isRoot ? [] : this.extraRoots(node, typeCode, true));
    }
    const i = node.typeCodes.indexOf(typeCode);
    const t = i >= 0 ? node.types[i] : node.types[0];
    const profileUrl = t?.profile?.[0];
    let unknownProfile: string | undefined;
    if (profileUrl) {
      const p = this.profiles.get(profileUrl);
      if (p) {
        return resolved(p.root, p, p.root, p.root !== node ? [{ root: p.root, profile: null }] : [], p.missing.length > 0 ? p : undefined);
      }
      if (typeCode !== 'Extension') unknownProfile = profileUrl;
    }
    const core = this.profiles.core(typeCode);
    if (!core) return null;
    return resolved(core.root, core, core.root, core.root !== node ? [{ root: core.root, profile: null }] : [], undefined, unknownProfile);
  }

  /**
   * Invariant roots beyond the element itself: a snapshot element carries only its own
   * constraints; those of its datatype (per-1 on Period...) and type profile live on their roots.
   */
  private extraRoots(node: ElementNode, typeCode: string, typed: boolean): Resolved['extra'] {
    const out: Resolved['extra'] = [];
    const core = this.profiles.core(typeCode);
    if (core && core.kind !== 'resource' && core.root !== node) out.push({ root: core.root, profile: null });
    if (typed) {
      const i = node.typeCodes.indexOf(typeCode);
      const tp = i >= 0 ? node.types[i].profile?.[0] : undefined;
      const prof = tp ? this.profiles.get(tp) : undefined;
      if (prof && prof.root !== node) out.push({ root: prof.root, profile: prof });
    }
    return out;
  }

  /** Validates a JSON object (resource, datatype or backbone element) against `node`. */
  private validateComplex(obj: unknown, node: ElementNode, typeCode: string, path: string, profile: CompiledProfile): void {
    if (!isObject(obj)) {
      this.push(CODES.WRONG_JSON_TYPE, path, { expected: 'a JSON object', type: typeCode, found: describeValue(obj) });
      return;
    }
    if (this.depth >= MAX_DEPTH) {
      this.push(CODES.TOO_DEEP, path, { max: MAX_DEPTH });
      return;
    }
    const resolved = this.resolve(node, typeCode, profile, path);
    if (!resolved) return;
    // No try/finally: a FailFast unwinds to conformanceOf(), which restores the depth.
    this.depth++;
    this.walkChildren(obj, node, typeCode, path, resolved.profile ?? profile, resolved);
    this.depth--;
  }

  private walkChildren(obj: Json, node: ElementNode, typeCode: string, path: string, ctxProfile: CompiledProfile, resolved: Resolved): void {
    const parent = resolved.node;
    const index = parent.childIndex;
    const isResource = parent === ctxProfile.root && ctxProfile.kind === 'resource';
    const children = parent.children ?? EMPTY_NODES;
    let keys = 0;
    let underscores = false;
    // The JSON properties found, as their child refs: a scratch array per depth, reused from
    // one object to the next (no allocation per object). Nested walks use deeper slots.
    // (Entries past `n` are stale: the length is never reset, which would cost a runtime call.)
    const hits = (this.scratch[this.depth] ??= []);
    // Their values, read inside the for-in loop (where V8 reads them through the enum cache,
    // much cheaper than a keyed load by name later). undefined for `_x` alone.
    const values = (this.scratchValues[this.depth] ??= []);
    let n = 0;
    /** Choice elements present with a type that is not allowed (already reported). */
    let present: Set<number> | undefined;
    /** Some key is not one of `hits` (unknown, reported): invariant skips then look at the keys themselves. */
    let irregular = false;
    const pm = this.v.memoOf(parent);
    const lastKeys = (pm.lastKeys ??= []);
    const lastRefs = (pm.lastRefs ??= []);
    for (const key in obj) {
      const slot = keys++;
      if (isResource && key === 'resourceType') continue;
      const underscore = key.charCodeAt(0) === 95; /* _ */
      let hit: ChildRef | undefined;
      if (slot < KEY_CACHE && lastKeys[slot] === key) hit = lastRefs[slot];
      else {
        hit = key === 'fhir_comments' ? undefined : index?.get(underscore ? key.slice(1) : key);
        if (slot < KEY_CACHE) {
          lastKeys[slot] = key;
          lastRefs[slot] = hit;
        }
      }
      if (!hit) {
        const base = underscore ? key.slice(1) : key;
        irregular = true;
        const choice = this.choiceFor(children, base);
        if (choice) {
          // `valueString` where the (profiled) choice allows other types: name the rule that fails.
          this.push(CODES.TYPE_NOT_ALLOWED, `${path}.${key}`, {
            type: choice.type,
            allowed: choice.node.typeCodes.join(', '),
          });
          (present ??= new Set()).add(choice.pos);
        } else this.push(CODES.UNKNOWN_ELEMENT, `${path}.${key}`, { name: key, type: typeCode });
        continue;
      }
      if (underscore) {
        // `_x` only for primitives; handled with `x`, or alone when `x` is absent.
        const t = hit.type ?? hit.node.typeCodes[0] ?? '';
        if (!isPrimitiveType(t)) {
          irregular = true;
          this.push(CODES.UNKNOWN_ELEMENT, `${path}.${key}`, { name: key, type: typeCode });
          continue;
        }
        underscores = true;
        if (key.slice(1) in obj) continue;
      }
      const value = underscore ? undefined : obj[key];
      // Definition order (insertion sort: a handful of keys; stable, so a choice's names keep their order).
      let j = n - 1;
      while (j >= 0 && hits[j].pos > hit.pos) {
        hits[j + 1] = hits[j];
        values[j + 1] = values[j];
        j--;
      }
      hits[j + 1] = hit;
      values[j + 1] = value;
      n++;
    }
    if (keys === 0 || (isResource && keys === 1)) {
      this.push(CODES.EMPTY_ELEMENT, path, { what: 'An empty object' });
    } else if (keys === 1 && !isResource && 'id' in obj) {
      // ele-1: an element needs a value or children other than its id.
      this.push(CODES.EMPTY_ELEMENT, path, { what: 'An element with only an id' });
    }
    // Absent children matter only when required: walk the (few) required positions, then the found ones.
    const required = this.v.requiredOf(parent);
    for (let r = 0; r < required.length; r++) {
      const pos = required[r];
      let seen = false;
      for (let h = 0; h < n && !seen; h++) seen = hits[h].pos === pos;
      if (!seen && !present?.has(pos)) {
        const child = children[pos];
        this.push(CODES.CARDINALITY_MIN, path, { element: child.path, min: child.min, count: 0 }, undefined, ctxProfile.url);
      }
    }
    for (let h = 0; h < n; ) {
      const hit = hits[h];
      const child = children[hit.pos];
      let end = h + 1;
      while (end < n && hits[end].pos === hit.pos) end++;
      if (end - h > 1) {
        // Several names of one choice element (valueString and valueBoolean).
        const group = hits.slice(h, end);
        this.push(CODES.MULTIPLE_CHOICE, path, { names: group.map((x) => x.key).join(', '), element: child.path });
        for (let g = h; g < end; g++) this.validateChildValues(obj, values[g], hits[g], child, path, ctxProfile, underscores);
      } else {
        const value = values[h];
        const plan = (hit.plan ??= primitivePlanOf(hit)) as PrimitivePlan;
        // Most values are valid primitives: their quick check reports nothing (see PrimitivePlan).
        if (plan === NO_PLAN || underscores || !quickValid(plan, value)) {
          this.validateChildValues(obj, value, hit, child, path, ctxProfile, underscores);
        } else if (plan.binding) this.checkBinding(value, plan.type, child, path, hit.key);
      }
      h = end;
    }
    // The keys the invariant skips look at: the child refs found (`hits`), and `resourceType`.
    const known = irregular ? -1 : n;
    this.checkInvariants(obj, node, path, ctxProfile, parent, known, isResource);
    const extra = (resolved.extraInvariants ??= resolved.extra.filter((e) => this.v.invariantsOf(e.root).length > 0));
    for (let x = 0; x < extra.length; x++) {
      const e = extra[x];
      this.checkInvariants(obj, e.root, path, e.profile ?? ctxProfile, parent, known, isResource);
    }
    if (typeCode === 'Extension') this.checkExtension(obj, node, path);
    else if (typeCode === 'Reference') this.checkReference(obj, node, path);
  }

  /** The choice element (`value[x]`) a JSON name such as `valueString` belongs to, if any. */
  private choiceFor(children: ElementNode[], name: string): { node: ElementNode; pos: number; type: string } | undefined {
    for (let pos = 0; pos < children.length; pos++) {
      const c = children[pos];
      if (!c.isChoice || c.sliceName) continue;
      const base = c.name.slice(0, -3);
      if (name.length > base.length && name.startsWith(base)) {
        const ch = name.charCodeAt(base.length);
        if (ch < 65 || ch > 90) continue;
        // Only a real FHIR type name makes it a disallowed type; `valueBool` stays an unknown element.
        const suffix = name.slice(base.length);
        const t = isPrimitiveType(suffix.charAt(0).toLowerCase() + suffix.slice(1)) ? suffix.charAt(0).toLowerCase() + suffix.slice(1) : suffix;
        if (this.profiles.core(t)) return { node: c, pos, type: t };
      }
    }
    return undefined;
  }

  /** One JSON property (and its `_x` sibling) of an object, against its element definition. */
  private validateChildValues(
    obj: Json,
    value: unknown,
    ref: JsonName,
    child: ElementNode,
    path: string,
    profile: CompiledProfile,
    underscores: boolean,
  ): void {
    const key = ref.key;
    // `_x` is read only when the object has underscore keys at all (most have none).
    const ext = underscores ? obj[ref.ukey] : undefined;
    const typeCode = ref.type ?? (child.typeCodes.length === 1 ? child.typeCodes[0] : undefined);
    if (child.isArray) {
      // The items' locations derive from the array's.
      const elPath = `${path}.${key}`;
      if ((value !== undefined && !Array.isArray(value)) || (ext !== undefined && !Array.isArray(ext))) {
        this.push(CODES.ARRAY_EXPECTED, elPath, { name: key });
        return;
      }
      const arr = (value as unknown[] | undefined) ?? EMPTY_VALUES;
      const exts = (ext as unknown[] | undefined) ?? EMPTY_VALUES;
      const n = Math.max(arr.length, exts.length);
      if (n === 0) {
        this.push(CODES.EMPTY_ELEMENT, elPath, { what: 'An empty array' });
        return;
      }
      if (n < child.min) {
        this.push(CODES.CARDINALITY_MIN, path, { element: child.path, min: child.min, count: n }, undefined, profile.url);
      }
      if (n > child.max) {
        this.push(CODES.CARDINALITY_MAX, elPath, { element: child.path, max: child.max, count: n }, undefined, profile.url);
      }
      // Slices: each item is validated against the slice it matches (or the base element).
      const assigned = child.slicing && child.slices.length > 0 ? this.assignSlices(arr, child, elPath, profile) : undefined;
      for (let i = 0; i < n; i++) {
        const item = arr[i];
        const itemExt = exts[i];
        const target = assigned?.[i] ?? child;
        this.validateValue(item ?? null, itemExt, target, typeCode, elPath, i, profile, item === undefined && itemExt !== undefined);
      }
    } else {
      if (Array.isArray(value) || Array.isArray(ext)) {
        this.push(CODES.ARRAY_UNEXPECTED, `${path}.${key}`, { name: key });
        return;
      }
      if (child.max === 0) {
        this.push(CODES.CARDINALITY_MAX, `${path}.${key}`, { element: child.path, max: 0, count: 1 }, undefined, profile.url);
      }
      let target = child;
      if (child.slicing && child.slices.length > 0) {
        // A sliced single-valued element (typically a choice sliced by type).
        target = this.assignSlices([value], child, `${path}.${key}`, profile, typeCode)?.[0] ?? child;
      }
      this.validateValue(value === undefined ? null : value, ext, target, typeCode, path, key, profile, value === undefined);
    }
  }

  /**
   * Validates one value against an element definition. Its location is `base` + `seg` (see
   * at()): built here for complex values, and only for findings for primitive ones (most
   * values), which then need no string of their own.
   */
  private validateValue(
    value: unknown,
    ext: unknown,
    node: ElementNode,
    typeCode: string | undefined,
    base: string,
    seg: string | number,
    profile: CompiledProfile,
    extOnly = false,
  ): void {
    if (!typeCode) {
      if (node.types.length === 0 && (node.children || node.contentReference)) typeCode = 'BackboneElement';
      else if (node.types.length === 0) return;
      else typeCode = node.typeCodes[0];
    }
    if (isPrimitiveType(typeCode)) {
      if (!extOnly) this.checkPrimitiveValue(value, typeCode, node, base, seg, profile);
      else if (ext === null || ext === undefined) this.push(CODES.EMPTY_ELEMENT, at(base, seg), { what: 'A null value' });
      if (ext !== undefined && ext !== null) this.validatePrimitiveExtensions(ext, typeCode, at(base, seg), profile);
      if (!extOnly) this.checkFixedPattern(value, node, base, seg);
      if (node.binding && !extOnly) this.checkBinding(value, typeCode, node, base, seg);
      return;
    }
    const path = at(base, seg);
    if (value === null) {
      this.push(CODES.EMPTY_ELEMENT, path, { what: 'A null value' });
      return;
    }
    if (this.isResourceTyped(node, typeCode)) {
      this.validateContainedResource(value, node, path);
      return;
    }
    if (node.types.length > 0 && !node.typeCodes.includes(typeCode)) {
      this.push(CODES.TYPE_NOT_ALLOWED, path, { type: typeCode, allowed: node.typeCodes.join(', ') });
      return;
    }
    if (this.visitor !== undefined && this.visitor.types.has(typeCode) && isObject(value)) this.visitor.visit(typeCode, value, path);
    if (typeCode === 'Coding' && isObject(value)) this.checkCoding(value, path);
    else if (typeCode === 'Attachment' && isObject(value) && typeof value.data === 'string' && (value.size !== undefined || value.hash !== undefined)) {
      this.checkAttachment(value, path);
    } else if (typeCode === 'Identifier' && isObject(value) && typeof value.system === 'string' && !hasScheme(value.system)) {
      this.push(CODES.SYSTEM_NOT_ABSOLUTE, `${path}.system`, { system: value.system, type: 'Identifier' });
    }
    if (typeCode === 'Extension' && node.children === undefined && isObject(value)) {
      // Walked once, against the definition its url names, when there is one (see extensionDefinition).
      const def = this.extensionDefinition(value, node);
      if (def) this.validateComplex(value, def.root, typeCode, path, def);
      else this.validateComplex(value, node, typeCode, path, profile);
    } else this.validateComplex(value, node, typeCode, path, profile);
    this.checkFixedPattern(value, node, path, undefined);
    if (node.binding && CODED_TYPES.has(typeCode)) this.checkBinding(value, typeCode, node, path, undefined);
  }

  private isResourceId(node: ElementNode): boolean {
    const m = this.v.memoOf(node);
    return (m.resourceId ??= RESOURCE_ID.test(node.path) && this.profiles.core(node.path.slice(0, -3))?.kind === 'resource');
  }

  /** Whether values of `node` typed `typeCode` are resources (memoised for the element's first type). */
  private isResourceTyped(node: ElementNode, typeCode: string): boolean {
    if (typeCode !== node.typeCodes[0]) return this.isResourceTypeCode(typeCode);
    const m = this.v.memoOf(node);
    return (m.resourceTyped ??= this.isResourceTypeCode(typeCode));
  }

  private isResourceTypeCode(typeCode: string): boolean {
    return typeCode === 'Resource' || typeCode === 'DomainResource' || this.isResourceType(typeCode);
  }

  private isResourceType(code: string): boolean {
    const p = this.profiles.core(code);
    return !!p && p.kind === 'resource';
  }

  /** Bundle.entry.resource, contained resources, Parameters.parameter.resource. */
  private validateContainedResource(value: unknown, node: ElementNode, path: string): void {
    const m = this.v.memoOf(node);
    const profiles = (m.profiles ??= node.types.flatMap((t) => t.profile ?? []));
    if (isObject(value) && typeof value.resourceType === 'string') {
      const allowed = (m.resourceTypes ??= node.types.map((t) => t.code).filter((c) => c !== 'Resource' && c !== 'DomainResource'));
      if (allowed.length > 0 && !allowed.includes(value.resourceType)) {
        this.push(CODES.TYPE_NOT_ALLOWED, path, { type: value.resourceType, allowed: allowed.join(', ') });
        return;
      }
    }
    this.validateResource(value, path, profiles);
  }

  // ---------------------------------------------------------------- primitives

  /** `base` + `seg`: the value's location (see at()). */
  private checkPrimitiveValue(value: unknown, typeCode: string, node: ElementNode, base: string, seg: string | number | undefined, profile: CompiledProfile): void {
    if (value === null) {
      this.push(CODES.EMPTY_ELEMENT, at(base, seg), { what: 'A null value' });
      return;
    }
    const kind = jsonKindOf(typeCode);
    if (typeof value !== kind) {
      this.push(CODES.WRONG_JSON_TYPE, at(base, seg), { expected: `a JSON ${kind}`, type: typeCode, found: describeValue(value) });
      return;
    }
    if (value === '') {
      this.push(CODES.EMPTY_ELEMENT, at(base, seg), { what: 'An empty string' });
      return;
    }
    // R4 types Resource.id as a plain string, but it must be a valid id (as the HL7 validator checks).
    const err = checkPrimitive(typeCode === 'string' && node.name === 'id' && this.isResourceId(node) ? 'id' : typeCode, value);
    if (err) {
      this.push(CODES.PRIMITIVE_FORMAT, at(base, seg), { detail: err, type: typeCode });
      return;
    }
    if (typeof value === 'string') {
      if (kind === 'string' && (typeCode === 'string' || typeCode === 'markdown')) {
        const ws = checkStringWhitespace(value);
        if (ws) this.push(CODES.STRING_WHITESPACE, at(base, seg), { detail: ws });
      }
      if (node.maxLength !== undefined && value.length > node.maxLength) {
        this.push(CODES.LENGTH, at(base, seg), { max: node.maxLength });
      }
    }
    if (node.primitiveExtra) this.checkPrimitiveExtra(value, typeCode, node, base, seg, profile);
    if (node.minValue !== undefined || node.maxValue !== undefined) {
      const below = node.minValue !== undefined && (value as number | string) < node.minValue;
      const above = node.maxValue !== undefined && (value as number | string) > node.maxValue;
      if (below || above) {
        this.push(CODES.MIN_MAX_VALUE, at(base, seg), {
          value: String(value),
          range: `${node.minValue ?? ''}..${node.maxValue ?? ''}`,
        });
      }
    }
  }

  /**
   * A narrative's XHTML, and the invariants stated on a primitive element (a profile's, or
   * eld-3 on ElementDefinition.max), with the value as context.
   */
  private checkPrimitiveExtra(value: unknown, typeCode: string, node: ElementNode, base: string, seg: string | number | undefined, profile: CompiledProfile): void {
    if (typeCode === 'xhtml' && typeof value === 'string') {
      for (const f of checkNarrative(value)) this.push(NARRATIVE_RULES[f.problem], at(base, seg), { detail: f.detail });
    }
    const compiled = this.v.primitiveInvariantsOf(node);
    if (compiled.length === 0) return;
    const frame = this.frames[this.frames.length - 1];
    for (const entry of compiled) {
      const r = entry.inv.run(value, frame?.resource ?? value, this.frames[0]?.resource ?? value);
      if (r.ok !== true) this.invariantFailed(entry, r, node, at(base, seg), profile);
    }
  }

  /** One "not checked" note per value set and validation, counting its occurrences (location built once). */
  private bindingNotChecked(vs: string, result: CodeResult, base: string, seg: string | number | undefined): void {
    const key = this.v.onceKey('binding:', vs);
    if (this.bump(key)) return;
    const reason = result.message ?? (result.missing?.length ? `${result.missing.join(', ')} not loaded` : 'not decidable');
    this.once(key, CODES.BINDING_NOT_CHECKED, at(base, seg), { valueSet: vs, reason });
  }

  /** Attachment.size and .hash (SHA-1, base64) must describe the inline data they come with. */
  private checkAttachment(att: Json, path: string): void {
    const data = att.data as string;
    if (checkPrimitive('base64Binary', data)) return; // the data's own error says it
    const bytes = Buffer.from(data, 'base64');
    if (typeof att.size === 'number' && att.size !== bytes.length) {
      this.push(CODES.ATTACHMENT_SIZE, `${path}.size`, { stated: String(att.size), actual: String(bytes.length) });
    }
    if (typeof att.hash === 'string' && !checkPrimitive('base64Binary', att.hash)) {
      const actual = createHash('sha1').update(bytes).digest('base64');
      if (att.hash.replace(/\s+/g, '') !== actual) this.push(CODES.ATTACHMENT_HASH, `${path}.hash`, { stated: att.hash, actual });
    }
  }

  /** Contained resources are found by id (`#id`): two with one id make references ambiguous. */
  private checkContainedIds(contained: unknown[], path: string): void {
    const seen = new Set<string>();
    contained.forEach((c, i) => {
      if (!isObject(c) || typeof c.id !== 'string') return;
      if (seen.has(c.id)) this.push(CODES.CONTAINED_DUPLICATE_ID, `${path}.contained[${i}].id`, { id: c.id });
      seen.add(c.id);
    });
  }

  /** A Coding against its code system, whatever the binding (Terminology.checkCoding). */
  private checkCoding(coding: Json, path: string): void {
    const { system, code, display } = coding;
    if (typeof system !== 'string') return;
    if (!hasScheme(system)) {
      this.push(CODES.SYSTEM_NOT_ABSOLUTE, `${path}.system`, { system, type: 'Coding' });
      return;
    }
    if (typeof code !== 'string') return;
    const r = this.v.ctx.terminology.checkCoding(system, code, typeof display === 'string' ? display : undefined);
    if (r.kind === 'value-set') {
      this.push(CODES.CODING_SYSTEM_IS_VALUESET, `${path}.system`, { system });
      return;
    }
    if (r.kind === 'ok') return;
    if (r.kind === 'unknown-code') this.push(r.stale ? CODES.CODE_UNKNOWN_STALE : CODES.CODE_UNKNOWN_IN_SYSTEM, `${path}.code`, { code, system });
    else this.push(CODES.CODE_DISPLAY, `${path}.display`, { display: display as string, system, code, expected: r.expected.map((e) => `"${e}"`).join(' or ') });
  }

  /** `_x` objects of primitives: only `id` and `extension`. */
  private validatePrimitiveExtensions(ext: unknown, typeCode: string, path: string, profile: CompiledProfile): void {
    const core = this.profiles.core(typeCode);
    if (!core) return;
    if (!isObject(ext)) {
      this.push(CODES.WRONG_JSON_TYPE, path, { expected: 'a JSON object', type: `_${typeCode}`, found: describeValue(ext) });
      return;
    }
    for (const k in ext) {
      if (k !== 'id' && k !== 'extension') this.push(CODES.UNKNOWN_ELEMENT, `${path}.${k}`, { name: k, type: typeCode });
    }
    const extNode = core.root.childIndex?.get('extension')?.node;
    if (extNode && ext.extension !== undefined) this.validateChildValues(ext, ext.extension, EXTENSION_NAME, extNode, path, profile, false);
  }

  // ---------------------------------------------------------------- fixed / pattern / binding

  /** `base` + `seg`: the value's location (see at()). */
  private checkFixedPattern(value: unknown, node: ElementNode, base: string, seg: string | number | undefined): void {
    if (node.fixed !== undefined && !deepEqual(value, node.fixed)) {
      this.push(CODES.FIXED_VALUE, at(base, seg), { expected: JSON.stringify(node.fixed) });
    } else if (node.pattern !== undefined && !this.containsTestOf(node)(value)) {
      this.push(CODES.PATTERN_VALUE, at(base, seg), { expected: JSON.stringify(node.pattern) });
    }
  }

  /** `base` + `seg`: the value's location (see at()). */
  private checkBinding(value: unknown, typeCode: string, node: ElementNode, base: string, seg: string | number | undefined): void {
    const binding = node.binding;
    if (!binding?.valueSet || (binding.strength !== 'required' && binding.strength !== 'extensible')) return;
    const vs = binding.valueSet;
    const term = this.v.ctx.terminology;
    const rule = binding.strength === 'required' ? CODES.BINDING_REQUIRED : CODES.BINDING_EXTENSIBLE;
    let result: CodeResult;
    if (typeCode === 'code' || typeCode === 'string' || typeCode === 'uri') {
      if (typeof value !== 'string') return;
      result = term.validateCode(vs, { code: value });
    } else if (typeCode === 'Coding' || typeCode === 'Quantity') {
      if (!isObject(value)) return;
      if (value.code === undefined) {
        if (typeCode === 'Coding' && binding.strength === 'required') this.push(CODES.BINDING_NO_CODE, at(base, seg), { valueSet: vs });
        return;
      }
      result = term.validateCode(vs, value as { system?: string; code?: string });
    } else {
      if (!isObject(value)) return;
      const codings = Array.isArray(value.coding) ? (value.coding as Json[]) : [];
      if (codings.length === 0) {
        if (binding.strength === 'required') this.push(CODES.BINDING_NO_CODE, at(base, seg), { valueSet: vs });
        return;
      }
      result = term.validateCodeableConcept(vs, value as { coding?: { system?: string; code?: string }[] });
    }
    if (result.status === 'invalid') {
      // The code as shown in the message: built only when there is a message.
      const shown =
        typeof value === 'string'
          ? `"${value}"`
          : typeCode === 'Coding' || typeCode === 'Quantity'
            ? codingText(value)
            : ((value as Json).coding as Json[]).map(codingText).join(', ');
      this.push(rule, at(base, seg), { code: shown, valueSet: vs, detail: result.message ? ` — ${result.message}` : '' });
    } else if (result.status === 'unknown') {
      this.bindingNotChecked(vs, result, base, seg);
    } else if (result.notices) {
      // IG defects the terminology worked around (D-14): once per value set per validation.
      for (const n of result.notices) this.once(n.key, CODES.VALUESET_INCLUDE_INTERSECTION, at(base, seg), () => ({ ...n.args }));
    }
  }

  // ---------------------------------------------------------------- invariants

  /**
   * `known`: how many entries of this depth's scratch refs are every key of `obj` (but
   * `resourceType` of a resource), or -1 when some key is not among them.
   */
  private checkInvariants(obj: Json, node: ElementNode, path: string, profile: CompiledProfile, parent: ElementNode, known: number, isResource: boolean): void {
    if (node.constraints.length === 0) return;
    const compiled = this.v.invariantsOf(node);
    if (compiled.length === 0) return;
    const frame = this.frames[this.frames.length - 1];
    const reads = known >= 0 ? this.v.readsOf(node, parent, compiled) : undefined;
    const hits = this.scratch[this.depth];
    for (let k = 0; k < compiled.length; k++) {
      const entry = compiled[k];
      const inv = entry.inv;
      if (reads) {
        const r = reads[k];
        if (r !== null) {
          let read = isResource && r[r.length - 1] === 1;
          for (let h = 0; h < known && !read; h++) read = r[hits[h].pos] === 1;
          if (!read && this.v.invariants.emptyOk(inv)) continue;
        }
      } else if (this.v.invariants.canSkip(inv, obj)) continue;
      const r = inv.run(obj, frame?.resource ?? obj, this.frames[0]?.resource ?? obj);
      if (r.ok !== true) this.invariantFailed(entry, r, node, path, profile);
    }
  }

  /** Reports an invariant that failed (or could not be evaluated) at `path`. */
  private invariantFailed(entry: CompiledEntry, r: InvariantResult, node: ElementNode, path: string, profile: CompiledProfile): void {
    const c = entry.c;
    if (r.ok === 'error') {
      this.once(`inv-error:${c.key}:${node.path}`, CODES.INVARIANT_ERROR, path, { key: c.key, detail: r.message });
      return;
    }
    const severity: Severity = c.bestPractice ? 'information' : c.severity === 'error' ? 'error' : 'warning';
    // The message depends only on the constraint: built once (most failures are best-practice
    // notes such as dom-6 on every narrative-less resource).
    const messages = (entry.messages ??= messagesOf(CODES.INVARIANT, { key: c.key, human: c.human }));
    this.pushIssue(CODES.INVARIANT, makeIssueWithMessages(CODES.INVARIANT, path, messages, severity, c.source ?? profile.url));
  }


  // ---------------------------------------------------------------- extensions

  /**
   * The loaded definition of an extension found at a plain extension element (no type profile,
   * no constraint beyond Extension's own ele-1 and ext-1): the instance is then walked once,
   * against that definition, whose snapshot holds Extension's elements and invariants too —
   * not against Extension and then again against the definition (checkExtension's fallback).
   */
  private extensionDefinition(obj: Json, node: ElementNode): CompiledProfile | undefined {
    const url = obj.url;
    if (typeof url !== 'string' || !url.includes(':')) return undefined;
    const m = this.v.memoOf(node);
    const plain = (m.plainExtension ??= !hasOwnExtensionProfile(node) && node.constraints.every((c) => c.key === 'ele-1' || c.key === 'ext-1'));
    if (!plain) return undefined;
    const def = this.profiles.get(url);
    return def && def.type === 'Extension' && def.root.children !== undefined ? def : undefined;
  }

  /** Extensions not matched to a profiled slice: resolve their definition by url. */
  private checkExtension(obj: Json, node: ElementNode, path: string): void {
    const hasOwnProfile = hasOwnExtensionProfile(node);
    const url = obj.url;
    if (typeof url !== 'string') return;
    if (!url.includes(':')) {
      // Relative urls name the parts of a complex extension, checked with their parent's
      // definition; anywhere else an extension is identified by an absolute url.
      if (!isSubExtensionNode(node)) this.push(CODES.EXTENSION_URL_RELATIVE, `${path}.url`, { url });
      return;
    }
    const isModifier = node.name === 'modifierExtension';
    const def = this.profiles.get(url);
    if (!def) {
      const ig = this.v.completeIgOf(url);
      if (ig) this.push(CODES.EXTENSION_UNDEFINED, path, { url, canonical: ig.canonical, package: ig.pkg, ...hintArgs(ig.nearExtension) });
      else if (isModifier) this.push(CODES.MODIFIER_EXTENSION_UNKNOWN, path, { url });
      else {
        const key = this.v.onceKey('ext:', url);
        if (!this.bump(key)) this.once(key, CODES.EXTENSION_UNKNOWN, path, { url, detail: this.describeMissing(url) });
      }
      return;
    }
    if (!hasOwnProfile && node.children === undefined) {
      // Validate the content against the extension's own definition.
      this.validateComplex(obj, def.root, 'Extension', path, def);
    }
    this.checkExtensionContext(def, path, url, node);
  }

  private checkExtensionContext(def: CompiledProfile, path: string, url: string, node: ElementNode): void {
    const contexts = def.context;
    if (!contexts?.length) return;
    // The answer depends only on (extension, resource type, element path without indexes).
    const frame = this.frames[this.frames.length - 1];
    if (!frame || !path.startsWith(frame.path)) return;
    const type = String(frame.resource.resourceType);
    if (path.indexOf('.', frame.path.length + 1) === -1) {
      // On the resource itself (`Encounter.extension[0]`): the host is the resource, no lookup needed.
      const allowed = contexts.some((c) => c.type !== 'element' || GENERIC_CONTEXTS.has(c.expression) || c.expression === type);
      if (!allowed) this.push(extensionContextRule(node, url), path, { url, element: type, contexts: contexts.map((c) => c.expression).join(', ') });
      return;
    }
    const key = `${url}|${type}${path.slice(frame.path.length).replace(/\[\d+\]/g, '')}`;
    let verdict = this.v.extensionContexts.get(key);
    if (verdict === undefined) {
      verdict = this.extensionContextVerdict(contexts, path);
      this.v.extensionContexts.set(key, verdict);
    }
    if (verdict) this.push(extensionContextRule(node, url), path, { url, element: verdict, contexts: contexts.map((c) => c.expression).join(', ') });
  }

  /** '' when the extension may be used at `path`, else the definition path of its host element. */
  private extensionContextVerdict(contexts: NonNullable<CompiledProfile['context']>, path: string): string {
    const host = this.hostPath(path);
    if (!host) return '';
    for (const c of contexts) {
      if (c.type !== 'element') return ''; // fhirpath/extension contexts are not checked
      const e = c.expression;
      if (e === 'Element' || e === 'Resource' || e === 'DomainResource' || e === 'BackboneElement') return '';
      if (host.defPath === e || host.type === e || host.defPath.startsWith(e + '.') === false && host.type === e) return '';
      if (e === host.defPath.split('.')[0] && !host.defPath.includes('.')) return '';
    }
    return host.defPath;
  }

  /** Definition path of the element holding an extension at `path` (e.g. `Encounter.status`). */
  private hostPath(path: string): { defPath: string; type: string } | undefined {
    const frame = this.frames[this.frames.length - 1];
    if (!frame || !path.startsWith(frame.path)) return undefined;
    const rel = path.slice(frame.path.length).replace(/\[\d+\]/g, '');
    const parts = rel.split('.').filter(Boolean);
    parts.pop(); // the extension itself
    // Walk the resource's base definition to find the type of the host element.
    const core = this.profiles.core(String(frame.resource.resourceType));
    let node: ElementNode | undefined = core?.root;
    let type = String(frame.resource.resourceType);
    let defPath = type;
    for (const part of parts) {
      if (!node) return undefined;
      const children = node.childIndex ? node : this.profiles.core(type)?.root;
      const hit = children?.childIndex?.get(part);
      if (!hit) return undefined;
      const t = hit.type ?? hit.node.typeCodes[0] ?? 'BackboneElement';
      if (hit.node.children) {
        node = hit.node;
        defPath = hit.node.path;
        type = t;
      } else {
        type = t;
        node = this.profiles.core(t)?.root;
        defPath = t === 'Extension' ? 'Extension' : hit.node.path;
      }
    }
    return { defPath, type };
  }

  // ---------------------------------------------------------------- references

  /** What a Reference element allows, from its targetProfiles (computed once per element). */
  private referenceInfo(node: ElementNode): ReferenceInfo {
    const m = this.v.memoOf(node);
    if (m.reference) return m.reference;
    const targetProfiles = node.types.find((t) => t.code === 'Reference')?.targetProfile ?? [];
    const allowedTypes = new Set<string>();
    for (const tp of targetProfiles) {
      const t = tp.startsWith(CORE_SD) ? tp.slice(CORE_SD.length) : this.profiles.get(tp)?.type;
      if (t) allowedTypes.add(t);
      else allowedTypes.add('*');
    }
    const anyType = allowedTypes.size === 0 || allowedTypes.has('Resource') || allowedTypes.has('*');
    m.reference = { allowedTypes, anyType, profiled: targetProfiles.filter((tp) => !tp.startsWith(CORE_SD)) };
    return m.reference;
  }

  private checkReference(obj: Json, node: ElementNode, path: string): void {
    const ref = obj.reference;
    if (typeof ref !== 'string') return;
    const { allowedTypes, anyType, profiled } = this.referenceInfo(node);
    if (ref.startsWith('#')) {
      const frame = this.frames[this.frames.length - 1];
      const contained = frame && Array.isArray(frame.resource.contained) ? (frame.resource.contained as Json[]) : [];
      if (ref !== '#' && !contained.some((c) => isObject(c) && c.id === ref.slice(1))) {
        this.push(CODES.REFERENCE_UNRESOLVED, `${path}.reference`, { reference: ref, detail: ' (no contained resource has this id)' });
      }
      return;
    }
    let declaredType: string | undefined;
    // urn:uuid (most references in a transaction) is checked without the regex.
    if (!isUrnUuid(ref)) {
      const shape = REFERENCE_SHAPE.exec(ref);
      if (!shape) {
        this.push(CODES.REFERENCE_FORMAT, `${path}.reference`, { reference: ref });
        return;
      }
      declaredType = shape[1];
      if (declaredType !== undefined && typeof obj.type === 'string' && obj.type !== declaredType) {
        this.push(CODES.REFERENCE_TYPE_MISMATCH, `${path}.type`, { type: obj.type, reference: ref, found: declaredType });
      }
    }
    if (declaredType && !anyType && !allowedTypes.has(declaredType) && this.isResourceType(declaredType)) {
      this.push(CODES.REFERENCE_TARGET_TYPE, `${path}.reference`, { type: declaredType, allowed: [...allowedTypes].join(', ') });
      return;
    }
    if (!this.bundle) return;
    const frame = this.frames[this.frames.length - 1];
    const target = this.bundle.resolve(ref, frame?.entry);
    if (!target) {
      if (ref.startsWith('urn:')) {
        this.push(CODES.REFERENCE_UNRESOLVED, `${path}.reference`, { reference: ref, detail: ' (no Bundle entry has this fullUrl)' });
      } else {
        this.push(CODES.REFERENCE_OUTSIDE_BUNDLE, `${path}.reference`, { reference: ref });
      }
      return;
    }
    if (typeof target.resource.resourceType !== 'string') return; // the target's own error says it
    const targetType = target.resource.resourceType;
    if (declaredType === undefined && typeof obj.type === 'string' && obj.type !== targetType) {
      this.push(CODES.REFERENCE_TYPE_MISMATCH, `${path}.type`, { type: obj.type, reference: ref, found: targetType });
    }
    if (!anyType && !allowedTypes.has(targetType)) {
      this.push(CODES.REFERENCE_TARGET_TYPE, `${path}.reference`, { type: targetType, allowed: [...allowedTypes].join(', ') });
      return;
    }
    if (profiled.length === 0) return;
    let known = 0;
    // Any one target profile will do: try those the target declares first (it is validated
    // against them anyway, so the answer is usually memoised) before walking it against others.
    const meta = target.resource.meta;
    const declared = isObject(meta) && Array.isArray(meta.profile) ? meta.profile : undefined;
    // Two passes over the (few) target profiles, declared ones first, instead of a sorted copy.
    const twoPasses = declared !== undefined && profiled.length > 1;
    for (let pass = twoPasses ? 0 : 1; pass < 2; pass++) {
      for (const tp of profiled) {
        if (twoPasses && declared.includes(tp) !== (pass === 0)) continue;
        const ok = this.conforms(target.resource, target.path, tp);
        if (ok === undefined) continue;
        known++;
        if (ok) return;
      }
    }
    if (known === 0) {
      for (const tp of profiled) this.once(`profile:${tp}`, CODES.PROFILE_UNKNOWN, `${path}.reference`, { url: tp, detail: this.describeMissing(tp) });
      return;
    }
    this.push(CODES.REFERENCE_TARGET_PROFILE, `${path}.reference`, {
      target: target.path,
      profiles: profiled.join(' or '),
    });
    this.targetOf.set(this.issues[this.issues.length - 1], target.path);
  }

  // ---------------------------------------------------------------- slicing

  /** What assignSlices needs of a sliced element, computed once. */
  private slicingMemo(node: ElementNode): SlicingMemo {
    const m = this.v.memoOf(node);
    if (m.slicing) return m.slicing;
    const slicing = node.slicing!;
    const discs = slicing.discriminators;
    const evaluable = node.slices.map((s) => discs.length > 0 && this.sliceIsEvaluable(s, discs, slicing.inferred === true));
    const byProfile = discs.some((d) => d.type === 'profile');
    const slicesOfProfile = new Map<string, number[]>();
    if (byProfile) {
      node.slices.forEach((s, i) => {
        const target = this.sliceTarget(s, 'resource') ?? s;
        for (const t of target.types) for (const p of t.profile ?? []) {
          const list = slicesOfProfile.get(p) ?? [];
          if (!list.includes(i)) list.push(i);
          slicesOfProfile.set(p, list);
        }
      });
    }
    m.slicing = {
      evaluable,
      byProfile,
      slicesOfProfile,
      orderOfProfile: new Map(),
      steps: discs.map((d) => parsePath(d.path)),
      unevaluable: node.slices.filter((s, i) => !evaluable[i] && (s.min > 0 || slicing.inferred)),
      subExtensions: isSubExtensionNode(node),
      noteProfile: undefined,
      noteKey: undefined,
      index: null,
    };
    m.slicing.index = this.sliceIndex(node, discs, evaluable);
    return m.slicing;
  }

  /** See SliceIndex: built for the first value/pattern discriminator that keys some slices (4 slices or more). */
  private sliceIndex(node: ElementNode, discs: { type: string; path: string }[], evaluable: boolean[]): SliceIndex | null {
    if (node.slices.length < 4) return null;
    for (let di = 0; di < discs.length; di++) {
      if (discs[di].type !== 'value' && discs[di].type !== 'pattern') continue;
      const index: SliceIndex = { di, byString: new Map(), byCode: new Map(), others: [] };
      let keyed = 0;
      node.slices.forEach((slice, si) => {
        if (!evaluable[si]) return;
        const target = this.sliceTarget(slice, discs[di].path);
        const key = target ? expectedKey(target.fixed ?? target.pattern) : undefined;
        if (!key) {
          index.others.push(si);
          return;
        }
        const map = key.string !== undefined ? index.byString : index.byCode;
        const k = key.string ?? key.code!;
        const list = map.get(k);
        if (list) list.push(si);
        else map.set(k, [si]);
        keyed++;
      });
      if (keyed > 0) return index;
    }
    return null;
  }

  /**
   * The slices item `i` may match, ascending, into `out`, when the item's values at the indexed
   * discriminator give at most one key; false: try every slice. Fills `values[di]`.
   */
  private candidateSlices(
    idx: SliceIndex,
    sm: SlicingMemo,
    item: unknown,
    values: (unknown[] | undefined)[],
    path: string,
    i: number,
    itemPathOf: (i: number) => string,
    out: number[],
  ): boolean {
    const vals = (values[idx.di] ??= evalSteps(item, sm.steps[idx.di], this.bundle, path, i, itemPathOf));
    let str: string | undefined;
    let code: string | undefined;
    let keys = 0;
    for (const v of vals) {
      if (typeof v === 'string') {
        if (str !== v) keys++;
        str = v;
      } else if (isObject(v)) {
        const coding = v.coding;
        if (Array.isArray(coding)) {
          for (const c of coding) {
            if (!isObject(c) || typeof c.code !== 'string') continue;
            if (code !== c.code) keys++;
            code = c.code;
          }
        } else if (typeof v.code === 'string') {
          if (code !== v.code) keys++;
          code = v.code;
        }
      }
    }
    if (keys > 1) return false;
    out.length = 0;
    const hits = str !== undefined ? idx.byString.get(str) : code !== undefined ? idx.byCode.get(code) : undefined;
    mergeAscending(idx.others, hits, out);
    return true;
  }

  /** The once() key of "slices not evaluable" for this element and profile (the last one is kept on the memo). */
  private sliceNoteKey(sm: SlicingMemo, node: ElementNode, profile: CompiledProfile): string {
    sm.noteProfile = profile;
    return (sm.noteKey = `slice:${profile.url}:${node.id}`);
  }

  /** Assigns each item to the first slice it matches; checks slice cardinalities and closed slicing. */
  private assignSlices(
    items: unknown[],
    node: ElementNode,
    path: string,
    profile: CompiledProfile,
    singleType?: string,
  ): (ElementNode | undefined)[] {
    const slicing = node.slicing!;
    const sm = this.slicingMemo(node);
    const slices = node.slices;
    const out: (ElementNode | undefined)[] = new Array(items.length);
    // (A loop: Array.prototype.fill is a runtime call.)
    const counts: number[] = [];
    for (let si = 0; si < slices.length; si++) counts.push(0);
    let lastSliceIndex = -1;
    const itemPathOf = (i: number) => (items.length === 1 && singleType !== undefined ? path : `${path}[${i}]`);
    // One list per call: matchesSlice may walk other resources (and their slicings) meanwhile.
    const candidates = sm.index && singleType === undefined ? [] : undefined;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const values: (unknown[] | undefined)[] = [];
      const order = sm.byProfile
        ? this.declaredFirst(item, sm)
        : candidates && this.candidateSlices(sm.index!, sm, item, values, path, i, itemPathOf, candidates)
          ? candidates
          : undefined;
      const n = order ? order.length : slices.length;
      for (let k = 0; k < n; k++) {
        const si = order ? order[k] : k;
        if (!sm.evaluable[si]) continue;
        const s = slices[si];
        if (this.matchesSlice(item, s, slicing, sm, path, i, itemPathOf, values, singleType)) {
          out[i] = s;
          counts[si]++;
          if (slicing.ordered && si < lastSliceIndex) this.push(CODES.SLICE_ORDER, itemPathOf(i), { slice: s.sliceName, element: node.path });
          if (si > lastSliceIndex) lastSliceIndex = si;
          break;
        }
      }
      if (!out[i]) {
        const itemPath = itemPathOf(i);
        if (sm.byProfile) this.explainUnmatchedProfile(item, node, itemPath, profile);
        // Inside a complex extension, a relative url names a sub-extension: it must be one of its slices.
        if (sm.subExtensions && isObject(item)) {
          const url = item.url;
          if (typeof url === 'string' && !url.includes(':') && slices.length > 0) {
            this.push(CODES.SUB_EXTENSION_UNKNOWN, itemPath, {
              url,
              extension: profile.type === 'Extension' ? profile.url : `the extension at ${path.slice(0, path.lastIndexOf('.'))}`,
              allowed: slices.map((sl) => sl.sliceName).join(', '),
            });
          }
        }
        // openAtEnd (unmatched items after all slices) is not checked.
        if (slicing.rules === 'closed') this.push(CODES.SLICE_CLOSED, itemPath, { element: node.path });
      }
    }
    if (sm.unevaluable.length > 0 && !this.bump(sm.noteProfile === profile ? sm.noteKey! : this.sliceNoteKey(sm, node, profile))) {
      this.once(sm.noteKey!, CODES.SLICE_NOT_EVALUABLE, path, () => ({
        element: node.path,
        slice: sm.unevaluable.map((s) => s.sliceName).join(', '),
        profile: profile.url,
        reason: slicing.inferred
          ? `the slicing is defined in a base profile that is not loaded${profile.missing.length ? ` (${profile.missing.join(', ')})` : ''}`
          : 'no discriminator value is defined for them',
      }));
    }
    for (let si = 0; si < slices.length; si++) {
      if (!sm.evaluable[si]) continue;
      const s = slices[si];
      const n = counts[si];
      if (n < s.min) {
        const parentPath = path.slice(0, path.lastIndexOf('.'));
        this.push(CODES.SLICE_MIN, parentPath, { element: node.path, slice: s.sliceName, min: s.min, count: n }, undefined, profile.url);
      }
      if (n > s.max) {
        this.push(CODES.SLICE_MAX, path, { element: node.path, slice: s.sliceName, max: s.max, count: n }, undefined, profile.url);
      }
    }
    return out;
  }

  /**
   * An item that matches no profile slice (typically a Bundle entry): report the errors it has
   * against the closest slice profile of its type, so the sender sees what to fix.
   */
  private explainUnmatchedProfile(item: unknown, node: ElementNode, itemPath: string, profile: CompiledProfile): void {
    if (!isObject(item)) return;
    const res = isObject(item.resource) ? item.resource : item;
    if (typeof res.resourceType !== 'string') return;
    const resPath = item === res ? itemPath : `${itemPath}.resource`;
    let best: { p: CompiledProfile; errors: number } | undefined;
    const declared = isObject(res.meta) && Array.isArray(res.meta.profile) ? (res.meta.profile as unknown[]) : [];
    for (const s of node.slices) {
      const target = this.sliceTarget(s, 'resource') ?? s;
      for (const url of target.types.flatMap((t) => t.profile ?? [])) {
        const p = this.profiles.get(url);
        if (!p || p.type !== res.resourceType) continue;
        if (declared.includes(url)) {
          // The sender said which slice it meant: explain against that one.
          best = { p, errors: -1 };
          break;
        }
        if (best?.errors === -1) continue;
        const c = this.conformanceOf(res, resPath, p);
        const errors = c.issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').length;
        if (!best || errors < best.errors) best = { p, errors };
      }
    }
    this.push(CODES.SLICE_UNMATCHED, itemPath, {
      element: node.path,
      profile: best ? `${profile.url}; closest slice profile: ${best.p.url}` : profile.url,
    });
    if (best) this.validateAgainst(res, resPath, best.p);
  }

  private sliceIsEvaluable(slice: ElementNode, discs: { type: string; path: string }[], inferred: boolean): boolean {
    const m = this.v.memoOf(slice);
    if (m.evaluable !== undefined) return m.evaluable;
    let any = false;
    for (const d of discs) {
      const target = this.sliceTarget(slice, d.path);
      if (!target) continue;
      if (d.type === 'value' || d.type === 'pattern') {
        // A required binding discriminates only in a declared slicing: an inferred one (base not
        // loaded) knows only the values the loaded profile gives, and every Identifier.use is
        // "bound" to identifier-use, which would make every slice match (or none).
        if (target.fixed !== undefined || target.pattern !== undefined || (target.binding?.strength === 'required' && !inferred)) any = true;
        else if (d.path.endsWith('url') || d.path === 'url') any = false;
      } else any = true;
    }
    m.evaluable = any;
    return any;
  }

  /** The element of a slice at a discriminator path (`url`, `system`, `extension('u').value`, `$this`...). */
  private sliceTarget(slice: ElementNode, path: string): ElementNode | undefined {
    const m = this.v.memoOf(slice);
    const byPath = (m.sliceTargets ??= new Map());
    const hit = byPath.get(path);
    if (hit !== undefined) return hit ?? undefined;
    const found = this.findSliceTarget(slice, path);
    byPath.set(path, found ?? null);
    return found;
  }

  private findSliceTarget(slice: ElementNode, path: string): ElementNode | undefined {
    if (path === '$this') return slice;
    let node: ElementNode | undefined = slice;
    for (const step of splitPath(path)) {
      if (!node) return undefined;
      if (step === 'resolve()' || step.startsWith('ofType(')) continue;
      const ext = /^extension\('([^']+)'\)$/.exec(step);
      const children = this.nodeChildren(node);
      if (ext) {
        const extNode = children?.childIndex?.get('extension')?.node;
        const slice2 = extNode?.slices.find(
          (s) => s.types.some((t) => t.profile?.includes(ext[1])) || s.children?.some((c) => c.name === 'url' && c.fixed === ext[1]),
        );
        node = slice2 ?? this.profiles.get(ext[1])?.root;
        continue;
      }
      const hit = children?.childIndex?.get(step) ?? children?.childIndex?.get(`${step}`);
      node = hit?.node ?? children?.children?.find((c) => c.name === `${step}[x]`);
    }
    return node;
  }

  private nodeChildren(node: ElementNode): ElementNode | undefined {
    if (node.children) return node;
    const t = node.types[0];
    if (!t) return undefined;
    const prof = t.profile?.[0] ? this.profiles.get(t.profile[0]) : undefined;
    return (prof ?? this.profiles.core(node.typeCodes[0]))?.root;
  }

  /** Slice indexes, those whose profile the item's resource declares in meta.profile first; undefined: slice order. */
  private declaredFirst(item: unknown, sm: SlicingMemo): number[] | undefined {
    const res = isObject(item) && isObject(item.resource) ? item.resource : item;
    const meta = isObject(res) && isObject(res.meta) ? res.meta : undefined;
    if (!meta || !Array.isArray(meta.profile) || meta.profile.length === 0) return undefined;
    const profiles = meta.profile as unknown[];
    // The order is a function of the declared profiles: for the usual single one, built once
    // per profile (a Bundle validation would otherwise build one per entry).
    if (profiles.length === 1 && typeof profiles[0] === 'string') {
      const p = profiles[0];
      let order = sm.orderOfProfile.get(p);
      if (order === undefined && !sm.orderOfProfile.has(p)) {
        // Bounded: a sender could declare any number of distinct urls.
        if (sm.orderOfProfile.size >= 256) sm.orderOfProfile.clear();
        sm.orderOfProfile.set(p, (order = this.declaredOrder(profiles, sm)));
      }
      return order;
    }
    return this.declaredOrder(profiles, sm);
  }

  private declaredOrder(profiles: unknown[], sm: SlicingMemo): number[] | undefined {
    let first: number[] | undefined;
    for (const p of profiles) {
      const list = typeof p === 'string' ? sm.slicesOfProfile.get(p) : undefined;
      if (list) for (const i of list) if (!(first ??= []).includes(i)) first.push(i);
    }
    if (!first) return undefined;
    first.sort((a, b) => a - b);
    const n = sm.evaluable.length;
    const taken = new Uint8Array(n);
    for (const i of first) taken[i] = 1;
    for (let i = 0; i < n; i++) if (!taken[i]) first.push(i);
    return first;
  }

  private matchesSlice(
    item: unknown,
    slice: ElementNode,
    slicing: NonNullable<ElementNode['slicing']>,
    sm: SlicingMemo,
    path: string,
    index: number,
    itemPathOf: (i: number) => string,
    cache: (unknown[] | undefined)[],
    singleType?: string,
  ): boolean {
    const discs = slicing.discriminators;
    // The slice's element at each discriminator path, memoised by discriminator position (a
    // slice belongs to one sliced element, hence to one list of discriminators).
    const sliceMemo = this.v.memoOf(slice);
    if (sliceMemo.discsOf !== discs) {
      sliceMemo.discsOf = discs;
      sliceMemo.discTargets = discs.map((d) => this.sliceTarget(slice, d.path) ?? null);
    }
    const targets = sliceMemo.discTargets!;
    for (let di = 0; di < discs.length; di++) {
      const d = discs[di];
      const target = targets[di];
      if (!target) return false;
      switch (d.type) {
        case 'value':
        case 'pattern': {
          const expected = target.fixed ?? target.pattern;
          if (expected !== undefined) {
            const values = (cache[di] ??= evalSteps(item, sm.steps[di], this.bundle, path, index, itemPathOf));
            if (target.fixed !== undefined && d.type === 'value') {
              if (!values.some((v) => deepEqual(v, expected))) return false;
            } else {
              const test = this.containsTestOf(target);
              if (!values.some(test)) return false;
            }
          } else if (target.binding?.strength === 'required' && target.binding.valueSet && !slicing.inferred) {
            const vs = target.binding.valueSet;
            if (!(cache[di] ??= evalSteps(item, sm.steps[di], this.bundle, path, index, itemPathOf)).some((v) => this.inValueSet(v, vs))) return false;
          } else if (!slicePathIsSkippable(d.path)) {
            // Inferred slicing: discriminator paths this slice has no value for are ignored.
            continue;
          }
          break;
        }
        case 'exists': {
          const values = (cache[di] ??= evalSteps(item, sm.steps[di], this.bundle, path, index, itemPathOf));
          if (target.min > 0 && values.length === 0) return false;
          if (target.max === 0 && values.length > 0) return false;
          break;
        }
        case 'type': {
          const allowed = target.typeCodes;
          if (d.path === '$this' && singleType) {
            if (!allowed.includes(singleType)) return false;
          } else {
            const values = (cache[di] ??= evalSteps(item, sm.steps[di], this.bundle, path, index, itemPathOf));
            if (!values.some((v) => isObject(v) && typeof v.resourceType === 'string' && allowed.includes(v.resourceType))) {
              if (!values.some((v) => allowed.includes(jsonTypeGuess(v)))) return false;
            }
          }
          break;
        }
        case 'profile': {
          const profiles = this.v.memoOf(target).profiles ??= target.types.flatMap((t) => t.profile ?? []);
          const values = (cache[di] ??= evalSteps(item, sm.steps[di], this.bundle, path, index, itemPathOf));
          let any = false;
          for (const v of values) {
            if (!isObject(v) || typeof v.resourceType !== 'string') continue;
            const atPath = this.bundle?.pathOf(v) ?? (d.path === '$this' ? itemPathOf(index) : `${itemPathOf(index)}.${d.path.replace(/\.?resolve\(\)/, '')}`);
            if (profiles.some((p) => this.conforms(v, atPath, p) === true)) any = true;
          }
          if (!any) return false;
          break;
        }
        default:
          return false;
      }
    }
    return true;
  }

  /** `value` contains the element's fixed/pattern value (compiled once per element). */
  private containsTestOf(node: ElementNode): (v: unknown) => boolean {
    const m = this.v.memoOf(node);
    return (m.containsTest ??= compilePattern(node.fixed ?? node.pattern));
  }

  private inValueSet(v: unknown, vs: string): boolean {
    const term = this.v.ctx.terminology;
    if (typeof v === 'string') return term.validateCode(vs, { code: v }).status === 'valid';
    if (isObject(v) && Array.isArray(v.coding)) return term.validateCodeableConcept(vs, v as never).status === 'valid';
    if (isObject(v)) return term.validateCode(vs, v as never).status === 'valid';
    return false;
  }
}

/** The location `base` + `seg`: `base[3]` for an index, `base.name` for a name, `base` alone without a segment. */
function at(base: string, seg: string | number | undefined): string {
  return seg === undefined ? base : typeof seg === 'number' ? `${base}[${seg}]` : `${base}.${seg}`;
}

/** `system#code` for messages; any JSON (null, objects, junk) is rendered without throwing. */
function codingText(c: unknown): string {
  if (!isObject(c)) return describeValue(c);
  const part = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? '' : typeof v === 'number' || typeof v === 'boolean' ? String(v) : describeValue(v));
  return `${part(c.system)}#${part(c.code)}`;
}

function slicePathIsSkippable(path: string): boolean {
  return path === 'url';
}

function jsonTypeGuess(v: unknown): string {
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'decimal';
  if (typeof v === 'string') return 'string';
  return '';
}

function splitPath(path: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = false;
  let cur = '';
  for (const ch of path) {
    if (ch === "'") quote = !quote;
    if (!quote && ch === '(') depth++;
    if (!quote && ch === ')') depth--;
    if (ch === '.' && depth === 0 && !quote) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

type Step = { kind: 'name'; name: string } | { kind: 'ext'; url: string } | { kind: 'resolve' } | { kind: 'ofType' } | { kind: 'this' };

const parsedPaths = new Map<string, Step[]>();

/** A discriminator path parsed once (a tiny FHIRPath subset: names, extension('u'), resolve(), ofType()). */
function parsePath(path: string): Step[] {
  let steps = parsedPaths.get(path);
  if (!steps) {
    steps = path === '$this'
      ? [{ kind: 'this' }]
      : splitPath(path).map((step): Step => {
          const ext = /^extension\('([^']+)'\)$/.exec(step);
          if (ext) return { kind: 'ext', url: ext[1] };
          if (step === 'resolve()') return { kind: 'resolve' };
          if (step.startsWith('ofType(')) return { kind: 'ofType' };
          return { kind: 'name', name: step };
        });
    parsedPaths.set(path, steps);
  }
  return steps;
}

/** Evaluates parsed discriminator steps on JSON. */
function evalSteps(
  item: unknown,
  steps: Step[],
  bundle: BundleIndex | undefined,
  path: string,
  index: number,
  itemPathOf: (i: number) => string,
): unknown[] {
  let current: unknown[] = [item];
  for (const step of steps) {
    if (step.kind === 'this') return current;
    const next: unknown[] = [];
    for (const c of current) {
      if (!isObject(c)) continue;
      if (step.kind === 'ext') {
        if (Array.isArray(c.extension)) for (const e of c.extension) if (isObject(e) && e.url === step.url) next.push(e);
      } else if (step.kind === 'resolve') {
        const r = typeof c.reference === 'string' ? bundle?.resolve(c.reference, itemPathOf(index)) : undefined;
        if (r) next.push(r.resource);
      } else if (step.kind === 'ofType') {
        next.push(c);
      } else {
        const name = step.name;
        let v = c[name];
        if (v === undefined) {
          // Choice element named without its type suffix (`value` for valueCodeableConcept).
          for (const k in c) {
            if (k.length > name.length && k.startsWith(name)) {
              const ch = k.charCodeAt(name.length);
              if (ch >= 65 && ch <= 90) {
                v = c[k];
                break;
              }
            }
          }
        }
        if (Array.isArray(v)) for (const x of v) next.push(x);
        else if (v !== undefined) next.push(v);
      }
    }
    current = next;
  }
  return current;
}

function findById(root: ElementNode | undefined, id: string): ElementNode | undefined {
  if (!root) return undefined;
  if (root.id === id) return root;
  if (!id.startsWith(root.id)) return undefined;
  for (const c of root.children ?? []) {
    const hit = findById(c, id);
    if (hit) return hit;
  }
  return undefined;
}

export { capitalize };
