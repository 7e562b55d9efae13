// The run core: the state of one validation. Each conformance check (one resource against
// one profile at one location) reports into its own IssueCollector; the concern modules
// (elements, slicing, references, extensions, bindings, invariants) report into the collector
// of the check in progress (`run.out`). The run also holds the resource frames (FHIRPath
// %resource / %rootResource, the Bundle entry), the Bundle index, the scratch arrays of the
// walk and the memo of conformance results.
import { CODES } from '../outcome/codes.js';
import type { Severity, ValidationIssue } from '../outcome/issue.js';
import { makeIssue, makeIssueWithMessages, type MessageArgs, type Rule } from '../outcome/rule.js';
import type { ChildRef } from '../profiles/compile.js';
import type { CompiledProfile, Profiles } from '../profiles/profiles.js';
import { checkQuestionnaireDefinition, checkQuestionnaireResponse } from './questionnaire.js';
import { BundleIndex, type BundleTarget } from './bundle-index.js';
import { describeValue } from './values.js';
import { hintArgs } from './canonicals.js';
import { isObject, type Json } from './paths.js';
import { requiredOf, validateComplex } from './elements.js';
import { bindingNotChecked } from './bindings.js';
import { checkContainedIds } from './references.js';
import { checkStructureDefinition } from './structure-definitions.js';
import { checkMeasureReport } from './measures.js';
import { checkCapabilitySearchParams, checkSearchDerivation } from './search-parameters.js';
import { isExampleUrl } from './extensions.js';
import { impliedVitalSignsProfile } from './vital-signs.js';
import { checkDocumentLinks } from './documents.js';
import type { TypeVisitor, Validator } from './validator.js';
import { plural, pluralEn } from '../outcome/plural.js';

const UNIQUE_RELATIONS = new Set(['self', 'first', 'previous', 'next', 'last']);

/** Thrown (one shared instance: no stack capture on the hot path) to stop at the first error. */
export class FailFast {}
const FAIL_FAST = new FailFast();

/** In a check that stops at its first error, when an error is certain without building it. */
export function stopAtError(): never {
  throw FAIL_FAST;
}

export interface Frame {
  /** The resource being validated (FHIRPath %resource). */
  resource: Json;
  /**
   * Its container (FHIRPath %rootResource): the resource itself, or for a contained resource
   * the resource that contains it. A Bundle entry's resource is a root of its own.
   */
  root: Json;
  /** Its location, e.g. `Bundle.entry[2].resource`. */
  path: string;
  profile: CompiledProfile;
  /** The Bundle entry it is (relative references resolve against its fullUrl). */
  entry: BundleTarget | undefined;
}

export interface Pending {
  rule: Rule;
  args: MessageArgs;
  expression: string;
  count: number;
  source?: string;
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

/**
 * "Not checked" notes whose text is a function of their once() key alone: their arguments come
 * from the compiled profiles and the loaded packages (the key names the profile, slicing,
 * extension or profile url), and their templates do not show the count. Their messages are
 * built once per key (Validator.noteMessages).
 */
export const STATIC_NOTES: ReadonlySet<Rule> = new Set<Rule>([CODES.PROFILE_PARTIAL, CODES.SLICE_NOT_EVALUABLE, CODES.EXTENSION_UNKNOWN, CODES.PROFILE_UNKNOWN]);

/** An error that makes a resource fail a profile (reference-target findings belong to the target). */
export function isBlocking(i: ValidationIssue): boolean {
  return (i.severity === 'error' || i.severity === 'fatal') && i.rule !== CODES.REFERENCE_TARGET_PROFILE.id;
}

/**
 * The findings of one conformance check: issues, and "not checked" notes reported once per
 * key. With `failFast` the first error stops the check (enough to answer "does it conform?").
 */
export class IssueCollector {
  readonly issues: ValidationIssue[] = [];
  /** "Not checked" notes; created at the first one (most walks have none). */
  pending: Map<string, Pending> | undefined = undefined;

  constructor(readonly failFast: boolean) {}

  push(rule: Rule, expression: string, args: MessageArgs = {}, severity?: Severity, source?: string): void {
    const sev = severity ?? rule.severity;
    // A reference target that fails its profile is judged where the target is: it does not make
    // the referring resource fail its own profile (or one broken Patient would unmatch every entry).
    if (this.failFast && (sev === 'error' || sev === 'fatal') && rule !== CODES.REFERENCE_TARGET_PROFILE) throw FAIL_FAST;
    this.issues.push(makeIssue(rule, expression, args, { severity, source }));
  }

  /** push() for an issue whose messages are already built (see makeIssueWithMessages). */
  pushIssue(rule: Rule, issue: ValidationIssue): void {
    if (this.failFast && (issue.severity === 'error' || issue.severity === 'fatal') && rule !== CODES.REFERENCE_TARGET_PROFILE) throw FAIL_FAST;
    this.issues.push(issue);
  }

  /** Counts one more occurrence of a pending note; false when there is none yet (then call once()). */
  bump(key: string): boolean {
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

  /** Takes over the findings of another check (a memoised conformance result used here). */
  absorb(issues: readonly ValidationIssue[], pending: Map<string, Pending> | undefined): void {
    for (const i of issues) {
      if (this.failFast && isBlocking(i)) throw FAIL_FAST;
      this.issues.push(i);
    }
    if (pending) for (const [k, p] of pending) {
      const mine = this.pending?.get(k);
      if (mine) mine.count += p.count;
      else (this.pending ??= new Map()).set(k, { rule: p.rule, args: p.args, expression: p.expression, count: p.count, source: p.source });
    }
  }
}

/**
 * What several validations of one document (unchanged in between) can share: the index of
 * its Bundle entries, which depends on the document alone. See ValidateOptions.shared.
 */
export interface SharedRunState {
  resource?: object;
  bundle?: BundleIndex;
}

export class Run {
  /** The collector of the conformance check in progress (the root one outside any check). */
  out: IssueCollector;
  /** Reference-target findings -> location of the target resource (see finish()). */
  readonly targetOf = new Map<ValidationIssue, string>();
  readonly frames: Frame[] = [];
  /** Objects being walked (see MAX_DEPTH). */
  depth = 0;
  /** Per depth: the child refs of the object being walked there (reused). */
  readonly scratch: ChildRef[][] = [];
  readonly scratchValues: unknown[][] = [];
  bundle?: BundleIndex;
  /**
   * Per resource object: profile -> conformance, one per location (the same object can be
   * reached at two places). Keyed by objects, not by "url|path" strings that would be built
   * and hashed at every lookup. A Map: the Run is short-lived, and WeakMaps cost GC time.
   */
  private readonly conformance = new Map<object, Map<CompiledProfile, Conformance[]>>();
  readonly profiles: Profiles;

  constructor(
    readonly v: Validator,
    failFast: boolean,
    readonly visitor: TypeVisitor | undefined,
    readonly shared?: SharedRunState,
  ) {
    this.out = new IssueCollector(failFast);
    this.profiles = v.ctx.profiles;
  }

  finish(): ValidationIssue[] {
    let issues = this.out.issues;
    // A reference to a Bundle entry that fails its profile is usually a consequence of that
    // entry's own errors, which are reported where they are: keep those, and turn the
    // reference findings into information so one defect does not read as many.
    if (this.targetOf.size > 0) {
      // Reference findings themselves do not count: a resource referring to itself would
      // otherwise have "errors of its own" made only of this very finding.
      const errorAt = issues.filter(isBlocking).map((i) => i.expression);
      issues = issues.map((i) => {
        const target = this.targetOf.get(i);
        if (!target || !errorAt.some((e) => e === target || e.startsWith(target + '.'))) return i;
        const out: ValidationIssue = { ...i, severity: 'information', message: `${i.message}; it has errors of its own, reported at ${target}` };
        if (i.messageFr !== undefined) out.messageFr = `${i.messageFr} ; elle a ses propres erreurs, signalées en ${target}`;
        return out;
      });
    }
    const pending = this.out.pending;
    if (pending) for (const [key, p] of pending) {
      // The args belong to this note (copied per run in validateAgainst): no copy needed here.
      p.args.count = p.count;
      p.args.occurrences = pluralEn(p.count, 'occurrence', 'occurrences');
      p.args.occurrencesFr = plural(p.count, 'occurrence', 'occurrences');
      const messages = STATIC_NOTES.has(p.rule) ? this.v.noteMessages(key, p.rule, p.args) : undefined;
      issues.push(
        messages ? makeIssueWithMessages(p.rule, p.expression, messages, p.rule.severity, p.source) : makeIssue(p.rule, p.expression, p.args, { source: p.source }),
      );
    }
    return issues;
  }

  // ---------------------------------------------------------------- resources

  validateRoot(resource: unknown, profiles: string[]): void {
    if (!isObject(resource) || typeof resource.resourceType !== 'string') {
      this.out.push(CODES.NOT_A_RESOURCE, '', { found: describeValue(resource) });
      return;
    }
    const path = resource.resourceType;
    if (resource.resourceType === 'Bundle') {
      // Validated again (under another IG version, D-283): the index of the same Bundle object is reused.
      const shared = this.shared;
      if (shared?.resource === resource && shared.bundle) this.bundle = shared.bundle;
      else {
        this.bundle = BundleIndex.build(resource, path);
        if (shared) {
          shared.resource = resource;
          shared.bundle = this.bundle;
        }
      }
      // A RESTful fullUrl names its resource (relative references resolve through it).
      for (const p of this.bundle.fullUrlProblems((t) => this.profiles.core(t)?.kind === 'resource')) {
        const at = `${path}.entry[${p.index}].fullUrl`;
        // In a transaction or batch the entry may create the resource (a warning); elsewhere the
        // fullUrl is the identity of a resource that must then have that id (an error, as in the HL7 validator).
        if (p.problem === 'no-id') this.out.push(CODES.BUNDLE_FULLURL_NO_ID, at, { fullUrl: p.fullUrl, type: p.type }, resource.type === 'transaction' || resource.type === 'batch' ? undefined : 'error');
        else this.out.push(CODES.BUNDLE_FULLURL_MISMATCH, at, { fullUrl: p.fullUrl, expected: `${p.type}/${p.id}` });
      }
    }
    if (resource.resourceType === 'Bundle') {
      this.checkBundleShape(resource, path);
      if (resource.type === 'document' && this.bundle) checkDocumentLinks(this, resource, path, this.bundle);
    }
    this.validateResource(resource, path, profiles);
  }

  /** Bundle rules of the specification that no invariant states: unique link relations, absolute fullUrls. */
  private checkBundleShape(bundle: Json, path: string): void {
    if (Array.isArray(bundle.link)) {
      const seen = new Set<string>();
      bundle.link.forEach((l, i) => {
        // Only the paging relations and self are unique (a document may have several stylesheets).
        if (!isObject(l) || typeof l.relation !== 'string' || !UNIQUE_RELATIONS.has(l.relation)) return;
        if (seen.has(l.relation)) this.out.push(CODES.BUNDLE_LINK_DUPLICATE, `${path}.link[${i}]`, { relation: l.relation });
        seen.add(l.relation);
      });
    }
    if (Array.isArray(bundle.entry)) {
      // In a transaction or batch the server assigns identities; elsewhere the fullUrl is one.
      const needsFullUrl = typeof bundle.type === 'string' && bundle.type !== 'transaction' && bundle.type !== 'batch';
      bundle.entry.forEach((e, i) => {
        if (isObject(e) && typeof e.fullUrl === 'string' && !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(e.fullUrl)) {
          this.out.push(CODES.BUNDLE_FULLURL_RELATIVE, `${path}.entry[${i}].fullUrl`, { fullUrl: e.fullUrl });
        }
        if (needsFullUrl && isObject(e) && e.fullUrl === undefined && e._fullUrl === undefined && e.resource !== undefined) {
          this.out.push(CODES.BUNDLE_FULLURL_MISSING, `${path}.entry[${i}]`, { type: bundle.type as string });
        }
      });
    }
  }
  /** Validates a resource against its base type, the given profiles and its meta.profile. */
  validateResource(res: unknown, path: string, profileUrls: readonly string[]): void {
    if (!isObject(res) || typeof res.resourceType !== 'string') {
      this.out.push(CODES.NOT_A_RESOURCE, path, { found: describeValue(res) });
      return;
    }
    const type = res.resourceType;
    const core = this.profiles.core(type);
    if (!core || core.kind !== 'resource' || core.sd.abstract) {
      this.out.push(CODES.UNKNOWN_RESOURCE_TYPE, path, { type });
      return;
    }
    if (Array.isArray(res.contained) && res.contained.length > 1) checkContainedIds(this, res.contained, path);
    const targets: CompiledProfile[] = [];
    const urls = new Set<string>(profileUrls);
    for (const g of this.v.globalProfiles(type)) urls.add(g);
    const meta = res.meta;
    if (isObject(meta) && Array.isArray(meta.profile)) {
      for (const p of meta.profile) if (typeof p === 'string') urls.add(p);
    }
    // The R4 vital-signs rule: the code decides the profile (D-160); applied only when the profile is loaded.
    if (type === 'Observation') {
      const vs = impliedVitalSignsProfile(res);
      if (vs !== undefined && this.profiles.get(vs) !== undefined) urls.add(vs);
    }
    for (const url of urls) {
      const p = this.profiles.get(url);
      if (!p) {
        const ig = this.v.completeIgOf(url);
        if (ig) this.out.push(CODES.PROFILE_UNDEFINED, path, { url, canonical: ig.canonical, package: ig.pkg, ...hintArgs(ig.nearProfile) });
        else this.out.once(`profile:${url}`, CODES.PROFILE_UNKNOWN, path, { url, ...this.v.describeMissing(url) });
        continue;
      }
      if (p.type !== type) {
        this.out.push(CODES.TYPE_NOT_ALLOWED, path, { type, allowed: `${p.type} (profile ${p.url})` });
        continue;
      }
      targets.push(p);
    }
    // A profile's snapshot contains the base definition, so the base is only walked alone.
    if (targets.length === 0) targets.push(core);
    for (const p of targets) this.validateAgainst(res, path, p);
    if (type === 'QuestionnaireResponse' && typeof res.questionnaire === 'string') this.checkAnswers(res, path, res.questionnaire);
    else if (type === 'Questionnaire') for (const f of checkQuestionnaireDefinition(res, path)) this.out.push(f.rule, f.path, f.args);
    else if (type === 'MeasureReport') checkMeasureReport(this, res, path);
    else if (type === 'SearchParameter') {
      if (typeof res.expression === 'string' && Array.isArray(res.base)) this.checkSearchExpression(res, path, res.expression, res.base);
      if (typeof res.derivedFrom === 'string') for (const f of checkSearchDerivation(this.profiles.registry, res, path, res.derivedFrom)) this.out.push(f.rule, f.path, f.args);
    } else if (type === 'CapabilityStatement') for (const f of checkCapabilitySearchParams(this.profiles.registry, res, path)) this.out.push(f.rule, f.path, f.args);
    else if (type === 'StructureDefinition') checkStructureDefinition(this, res, path);
  }

  /**
   * A SearchParameter's expression starts each of its `|` branches at one of its bases: a
   * branch `Organization.name` on a parameter whose base is Patient can never match (the HL7
   * validator evaluates the expression against the bases and reports it).
   */
  private checkSearchExpression(sp: Json, path: string, expression: string, base: unknown[]): void {
    const bases = new Set(base.filter((b): b is string => typeof b === 'string'));
    if (bases.size === 0 || bases.has('Resource') || bases.has('DomainResource')) return;
    for (const branch of splitTopLevel(expression)) {
      const m = /^\(?\s*([A-Z][A-Za-z]+)(?=[.\s)]|$)/.exec(branch.trim());
      if (!m || bases.has(m[1]!) || this.profiles.core(m[1]!)?.kind !== 'resource') continue;
      this.out.push(CODES.SEARCH_EXPRESSION_BASE, `${path}.expression`, { type: m[1]!, base: [...bases].join(', '), expression: branch.trim() });
      return;
    }
  }

  /** A QuestionnaireResponse against the Questionnaire it names (questionnaire.ts). */
  private checkAnswers(qr: Json, path: string, canonical: string): void {
    const q = this.v.questionnaire(canonical);
    if (!q) {
      // An IG loaded in full defines all of its questionnaires (decisions.md D-17).
      const bare = canonical.split('|')[0]!;
      const ig = this.v.ctx.completeCanonicals?.find((c) => bare.startsWith(`${c}/Questionnaire/`));
      const registry = this.v.ctx.profiles.registry;
      if (ig) this.out.push(CODES.QR_QUESTIONNAIRE_UNDEFINED, `${path}.questionnaire`, { questionnaire: canonical, canonical: ig, package: registry.packageFor(bare) ?? ig });
      else this.out.once(`questionnaire:${canonical}`, CODES.QR_QUESTIONNAIRE_UNKNOWN, `${path}.questionnaire`, { questionnaire: canonical, ...this.v.describeMissing(canonical) });
      return;
    }
    const term = this.v.ctx.terminology;
    const checkCode = (vs: string, coding: { system?: string; code?: string }) => {
      const r = term.validateCode(vs, coding);
      if (r.status === 'unknown') bindingNotChecked(this, vs, r, path, undefined);
      return r.status;
    };
    for (const f of checkQuestionnaireResponse(qr, path, q, checkCode, (t) => this.profiles.core(t)?.kind === 'resource')) this.out.push(f.rule, f.path, f.args);
  }

  /** Validates `res` against one profile, reusing a memoised result for the same location. */
  validateAgainst(res: Json, path: string, profile: CompiledProfile): void {
    // Inside a check that stops at its first error (a "does it conform?" or a run with
    // failFast), a nested resource stops at its own first error too: that error is enough.
    const failFast = this.out.failFast;
    const memo = this.conformanceOf(res, path, profile, failFast);
    if (memo.state === 'running') return; // a reference cycle: the outer walk reports
    if (failFast && !memo.complete) throw FAIL_FAST;
    this.out.absorb(memo.issues, memo.pending);
  }

  /** Full validation of `res` against `profile`, computed once per (resource, location, profile). */
  conformanceOf(res: Json, path: string, profile: CompiledProfile, stopAtFirstError = false): Conformance {
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
    if (stopAtFirstError && lacksRequired(this.v, res, profile)) {
      // The walk would stop at the profile's first check, a required element absent (an error),
      // before looking at any value: answered without it (and without unwinding a FailFast).
      c.complete = false;
      c.ok = false;
      c.state = 'done';
      return c;
    }
    // The check reports into a collector of its own; the depth is restored after a FailFast.
    const outer = this.out;
    const savedDepth = this.depth;
    const out = (this.out = new IssueCollector(stopAtFirstError));
    try {
      this.walkResource(res, path, profile);
    } catch (e) {
      if (!(e instanceof FailFast)) throw e;
      c.complete = false;
      c.ok = false;
    } finally {
      c.issues = out.issues;
      c.pending = out.pending;
      this.out = outer;
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
      this.out.once(this.v.partialKey(profile), CODES.PROFILE_PARTIAL, path, () => ({
        profile: profile.url,
        missing: profile.missing.join(', '),
        ...this.v.describeMissing(profile.missing[0]),
      }));
      // What the profile requires of an element from a package nobody knows (not its base, whose
      // absence makes the check partial): an error, as for extensions (D-41, D-48).
      for (const url of this.v.notFoundOf(profile, (u) => u !== profile.sd.baseDefinition && !isExampleUrl(u) && this.profiles.registry.packageFor(u) === undefined)) {
        this.out.push(CODES.PROFILE_NOT_FOUND, path, { url, profile: profile.url });
      }
    }
    // A contained resource belongs to the entry of the resource that contains it.
    const parent = this.frames[this.frames.length - 1];
    const entry = this.bundle ? (this.bundle.entryOf(res) ?? parent?.entry) : undefined;
    const contained = parent !== undefined && Array.isArray(parent.resource.contained) && parent.resource.contained.includes(res);
    this.frames.push({ resource: res, root: contained ? parent.root : res, path, profile, entry });
    // A Bundle inside a Bundle (a document in an MHD Provide Bundle) resolves its own references:
    // its urn:uuid fullUrls are not the outer Bundle's.
    const outer = this.bundle;
    if (parent !== undefined && res.resourceType === 'Bundle') this.bundle = BundleIndex.build(res, path);
    try {
      validateComplex(this, res, profile.root, res.resourceType as string, path, profile);
    } finally {
      this.frames.pop();
      this.bundle = outer;
    }
  }
}

/**
 * Whether `res` lacks an element that the root of `profile` requires (min > 0, not a choice
 * element): walking it against the profile reports fhir-cardinality-min at the root, an error
 * (walkChildren checks the required elements right after reading the keys). Only for a root
 * that has its own children (walked as itself, see computeResolved).
 */
function lacksRequired(v: Validator, res: Json, profile: CompiledProfile): boolean {
  const root = profile.root;
  if (!root.children || !root.childIndex) return false;
  const m = v.memoOf(root);
  let names = m.requiredNames;
  if (names === undefined) {
    names = [];
    for (const pos of requiredOf(v, root)) {
      const child = root.children[pos];
      if (child.min > 0 && !child.isChoice && !child.contentReference) names.push(child.name, `_${child.name}`);
    }
    m.requiredNames = names;
  }
  for (let i = 0; i < names.length; i += 2) if (!(names[i] in res) && !(names[i + 1] in res)) return true;
  return false;
}

/** The `|` branches of a FHIRPath expression (not inside parentheses or strings). */
function splitTopLevel(expression: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = false;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === "'") quote = false;
    } else if (c === "'") quote = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      out.push(expression.slice(start, i));
      start = i + 1;
    }
  }
  out.push(expression.slice(start));
  return out;
}
