// The instance validator: walks FHIR R4 JSON against compiled profiles (profiles/compile.ts)
// and reports every finding as a ValidationIssue with its exact location.
// One `Run` (run.ts) holds the state of one validation; the Validator holds what outlives it:
// the compiled invariants, the per-element memos (memo.ts) and the caches of texts and
// canonical lookups. The walk is split by concern: elements.ts (the walk), resolution.ts,
// primitive-values.ts, bindings.ts, slicing.ts, references.ts, extensions.ts, invariants.ts,
// datatypes.ts, questionnaire.ts, narrative.ts. It never throws on input data: anything
// unexpected becomes an issue.
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4';
import { CODES } from '../outcome/codes.js';
import type { ValidationIssue } from '../outcome/issue.js';
import { messagesOf, type MessageArgs, type Rule } from '../outcome/rule.js';
import { InvariantCompiler, type VerifyHook } from '../fhirpath/invariants.js';
import type { ElementNode } from '../profiles/compile.js';
import type { CompiledProfile, Profiles } from '../profiles/profiles.js';
import type { Terminology } from '../terminology/terminology.js';
import type { QuestionnaireDef } from './questionnaire.js';
import { editDistance, type CompleteIg } from './canonicals.js';
import { NodeMemo } from './memo.js';
import { isObject } from './paths.js';
import { FailFast, Run, type SharedRunState } from './run.js';

export { MAX_DEPTH } from './elements.js';
export type { SharedRunState } from './run.js';

export interface ValidateOptions {
  /** Profiles (canonical URLs) the resource must conform to, in addition to its meta.profile. */
  profiles?: string[];
  /** Stop at the first error (used to test conformance cheaply). */
  failFast?: boolean;
  /** Shown the values of some datatypes as the walk validates them (see TypeVisitor). */
  visitor?: TypeVisitor;
  /**
   * State shared by the validations of one document that is not changed between them (the
   * same object validated under several IG versions): pass the same object to each.
   */
  shared?: SharedRunState;
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

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export interface ValidatorContext {
  profiles: Profiles;
  terminology: Terminology;
  /** Test hook: compare every fast FHIRPath evaluation with fhirpath.js. */
  verifyInvariants?: VerifyHook;
  /** See EngineOptions.completeCanonicals (only bases of loaded packages). */
  completeCanonicals?: string[];
}

const NO_GLOBALS: readonly string[] = Object.freeze([]);

/** Per extension definition: whether its contexts depend on the data, its verdict on a resource by type, and its contexts' text. */
export interface ExtensionContextMemo {
  dataDependent: boolean;
  onResource: Map<string, string>;
  expressions: string;
}

export class Validator {
  readonly invariants: InvariantCompiler;
  private readonly missingText = new Map<string, { detail: string; detailFr: string }>();
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

  /**
   * The profiles the loaded ImplementationGuides declare global for a resource type
   * (`ImplementationGuide.global`): every resource of that type must conform, as in the HL7
   * validator. None of the IGs shipped here declares one; built once per validator.
   */
  globalProfiles(type: string): readonly string[] {
    if (!this.globals) {
      this.globals = new Map();
      for (const ig of this.ctx.profiles.registry.all('ImplementationGuide')) {
        const list = Array.isArray(ig.global) ? (ig.global as { type?: unknown; profile?: unknown }[]) : [];
        for (const g of list) {
          if (typeof g?.type !== 'string' || typeof g.profile !== 'string') continue;
          const urls = this.globals.get(g.type) ?? [];
          if (!urls.includes(g.profile)) urls.push(g.profile);
          this.globals.set(g.type, urls);
        }
      }
    }
    return this.globals.get(type) ?? NO_GLOBALS;
  }
  private globals: Map<string, string[]> | undefined;

  /** The canonicals a profile misses that belong to no known package (D-48), computed once per profile. */
  notFoundOf(profile: CompiledProfile, unknown: (url: string) => boolean): readonly string[] {
    let list = this.notFound.get(profile);
    if (!list) this.notFound.set(profile, (list = profile.missing.filter(unknown)));
    return list;
  }
  private readonly notFound = new Map<CompiledProfile, string[]>();

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

  /** Extension context verdicts: `url|Type.path` -> '' (allowed) or the host element path. */
  readonly extensionContexts = new Map<string, string>();
  private readonly contextMemos = new Map<CompiledProfile, ExtensionContextMemo>();

  /** What an extension definition's contexts need, built once per definition (see checkExtensionContext). */
  extensionContextMemo(def: CompiledProfile): ExtensionContextMemo {
    let m = this.contextMemos.get(def);
    if (m === undefined) {
      const contexts = def.context ?? [];
      m = { dataDependent: contexts.some((c) => c.type !== 'element'), onResource: new Map(), expressions: contexts.map((c) => c.expression).join(', ') };
      this.contextMemos.set(def, m);
    }
    return m;
  }
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

  /**
   * " (package X is not loaded)"-style suffix naming where a missing canonical would come from,
   * in English (`detail`) and French (`detailFr`): spread it into a rule's message arguments.
   */
  describeMissing(canonical: string): { detail: string; detailFr: string } {
    let text = this.missingText.get(canonical);
    if (text === undefined) {
      const registry = this.ctx.profiles.registry;
      const pkg = registry.packageFor(canonical);
      if (!pkg) text = { detail: '', detailFr: '' };
      else if (registry.packages.some((p) => `${p.name}#${p.version}` === pkg)) {
        text = { detail: ` (expected in ${pkg}, which is loaded only partly)`, detailFr: ` (attendu dans ${pkg}, chargé seulement en partie)` };
      } else text = { detail: ` (package ${pkg} is not loaded)`, detailFr: ` (le paquet ${pkg} n’est pas chargé)` };
      this.missingText.set(canonical, text);
    }
    return text;
  }

  private readonly expressions = new Map<string, ((data: unknown, env: Record<string, unknown>) => unknown[]) | string>();

  /** A FHIRPath expression compiled once with the R4 model (fhirpath.js); a string when it does not compile. */
  private expression(expr: string): ((data: unknown, env: Record<string, unknown>) => unknown[]) | string {
    let f = this.expressions.get(expr);
    if (f === undefined) {
      try {
        f = fhirpath.compile(expr, r4model) as (data: unknown, env: Record<string, unknown>) => unknown[];
      } catch (e) {
        f = (e as Error).message;
      }
      if (this.expressions.size < 1000) this.expressions.set(expr, f);
    }
    return f;
  }

  /** `expr` on `node` as a constraint: true, false (false or empty), or the evaluation error. */
  evaluate(expr: string, node: unknown, resource: unknown, rootResource: unknown): boolean | string {
    const f = this.expression(expr);
    if (typeof f === 'string') return f;
    try {
      const r = f(node, { resource, rootResource, context: node });
      return r.length === 1 && r[0] === true;
    } catch (e) {
      return (e as Error).message;
    }
  }

  /** Whether `expr` evaluated on `resource` selects the object `target` (an extension's FHIRPath context). */
  selects(expr: string, resource: unknown, target: unknown): boolean {
    const plain = selectsByPath(expr, resource, target);
    if (plain !== undefined) return plain;
    const f = this.expression(expr);
    if (typeof f === 'string') return false;
    try {
      return f(resource, { resource, rootResource: resource }).some((x) => x === target || (isObject(x) && (x as { data?: unknown }).data === target));
    } catch {
      return false;
    }
  }

  validate(resource: unknown, options: ValidateOptions = {}): ValidationIssue[] {
    const run = new Run(this, options.failFast === true, options.visitor, options.shared);
    try {
      run.validateRoot(resource, options.profiles ?? []);
    } catch (e) {
      if (!(e instanceof FailFast)) {
        run.out.push(CODES.INTERNAL, isObject(resource) ? String(resource.resourceType ?? '') : '', {
          detail: (e as Error).stack ?? String(e),
          detailFr: `exception « ${(e as Error).message ?? String(e)} » (la trace complète est dans diagnostics, en anglais)`,
        });
      }
    }
    return run.finish();
  }

  /**
   * Whether `resource` is free of errors, cheaply when it is not: the run stops at the first
   * error and returns undefined; otherwise the full findings, those validate() returns.
   */
  validateUnlessError(resource: unknown, options: Omit<ValidateOptions, 'failFast'> = {}): ValidationIssue[] | undefined {
    const run = new Run(this, true, options.visitor, options.shared);
    try {
      run.validateRoot(resource, options.profiles ?? []);
    } catch {
      // The first error (FailFast), or an exception, which validate() reports as an error too.
      return undefined;
    }
    return run.finish();
  }
}

export { capitalize };

const PLAIN_PATH = /^[A-Z][A-Za-z]+(\.[a-z][A-Za-z0-9]*)+$/;

/**
 * selects() for a plain path (`Patient.name`), the usual FHIRPath extension context, without
 * fhirpath.js: the objects at that path, arrays flattened. undefined when the path is not that
 * simple, names an abstract type (`Resource.meta` matches every resource), or meets an absent
 * element that may be a choice (`Observation.value` is `valueQuantity`...): fhirpath.js decides.
 */
function selectsByPath(expr: string, resource: unknown, target: unknown): boolean | undefined {
  if (!PLAIN_PATH.test(expr) || !isObject(resource)) return undefined;
  const segs = expr.split('.');
  if (segs[0] === 'Resource' || segs[0] === 'DomainResource') return undefined;
  if (segs[0] !== resource.resourceType) return false;
  let cur: unknown[] = [resource];
  for (let i = 1; i < segs.length; i++) {
    const next: unknown[] = [];
    for (const o of cur) {
      if (!isObject(o)) continue;
      const v = o[segs[i]];
      if (v === undefined) {
        for (const k in o) if (k.length > segs[i].length && k.startsWith(segs[i]) && k.charCodeAt(segs[i].length) <= 90 && k.charCodeAt(segs[i].length) >= 65) return undefined;
        continue;
      }
      if (Array.isArray(v)) next.push(...v);
      else next.push(v);
    }
    cur = next;
  }
  return cur.some((x) => x === target);
}
