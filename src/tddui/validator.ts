// TDDUI validation: the FHIR engine with the IG's conventions on top —
// which TDDUI version (2.2.0, 2.3.0...) and which profile a resource is checked against when
// it names none, the TDDUI business rules (rules/), and the Bundle-level rules a profile
// cannot express. Every TDDUI version in the package sources is accepted by default, each
// validated in its own context (its own FR Core, terminologies...): see TdduiValidator.
import { createEngines, resolveProfile, type Engine, type EngineSet } from '../fhir/engine.js';
import type { SharedRunState } from '../fhir/validation/validator.js';
import { availableVersions, defaultPackagePaths, PackageLoadError } from '../fhir/packages/loader.js';
import { pickVersion } from '../fhir/packages/versions.js';
import { CODES } from '../fhir/outcome/codes.js';
import {
  hasErrors,
  insertSorted,
  sortAndDedupe,
  toOperationOutcome,
  type OperationOutcome,
  type ValidationIssue,
} from '../fhir/outcome/issue.js';
import { makeIssue } from '../fhir/outcome/rule.js';
import type { StructureDefinition } from '../fhir/profiles/snapshot.js';
import { TDDUI_BUNDLE_PROFILE, TDDUI_CANONICAL, TDDUI_PACKAGE } from './ig.js';
import { PeriodVisitor, runTdduiRules } from './rules/index.js';
import { TDDUI_ENGINE_RULES } from './engine-rules.js';
import { FR_CORE_SUPPLEMENTS } from './fr-core-supplements.js';
import { isObject } from '../fhir/json.js';
import { plural, pluralEn } from '../fhir/outcome/plural.js';

export interface TdduiValidatorOptions {
  /** Package sources (cache folders, package folders, .tgz); default: defaultPackagePaths(). */
  packages?: string[];
  /** Also search the FHIR package cache ~/.fhir/packages (default true). */
  useCache?: boolean;
  /**
   * The TDDUI versions accepted (`ans.fhir.fr.tddui#2.3.0`, or a bare version `2.3.0`), in the
   * order they are tried; default: every version the sources hold, newest first.
   */
  igs?: string[];
  /**
   * Compile the TDDUI profiles up front (default true: a server pays it once, before its first
   * request). false compiles each profile on first use: a command line that validates a few
   * files pays only for the profiles they use (bench/startup.ts), and the main thread of a server
   * with validation workers only for what its routes validate there (D-349).
   */
  precompile?: boolean;
}

export interface ValidateCallOptions {
  /** Validate against this profile (canonical URL or TDDUI profile name/id) instead of choosing one. */
  profile?: string;
  /** "Now" for date-window rules (tests). */
  now?: Date;
  /** Skip the TDDUI business rules (pure profile validation). */
  profileOnly?: boolean;
  /** Validate under this accepted TDDUI version only (`2.2.0` or `ans.fhir.fr.tddui#2.2.0`). */
  ig?: string;
}

export interface ValidationReport {
  issues: ValidationIssue[];
  valid: boolean;
  /** Profiles the root resource was validated against. */
  profiles: string[];
  /** The TDDUI version whose rules decided (`ans.fhir.fr.tddui#2.3.0`): the one that accepted a valid resource. */
  ig: string;
}

/** One accepted TDDUI version: its engine (the view from that IG) and its profile choices. */
export class TdduiIg {
  readonly id: string;
  readonly version: string;
  /** Candidate profiles per resource type, in the order of the TDDUI Bundle's entry slices. */
  readonly profilesByType = new Map<string, string[]>();

  constructor(readonly engine: Engine) {
    this.version = engine.ig?.version ?? '';
    this.id = engine.ig ? `${engine.ig.name}#${engine.ig.version}` : TDDUI_PACKAGE;
    // Candidate profiles per resource type, in the order of the TDDUI Bundle's entry slices
    // (the IG's own order: DUIPatient before DUIPatientINS...), then the others.
    const sliceOrder = new Map<string, number>();
    const entry = engine.profiles.get(TDDUI_BUNDLE_PROFILE)?.root.childIndex?.get('entry')?.node;
    entry?.slices.forEach((s, i) => {
      const resource = s.children?.find((c) => c.name === 'resource');
      for (const t of resource?.types ?? []) for (const p of t.profile ?? []) if (!sliceOrder.has(p)) sliceOrder.set(p, i);
    });
    for (const sd of engine.registry.all<StructureDefinition>('StructureDefinition')) {
      if (!sd.url.startsWith(TDDUI_CANONICAL + '/StructureDefinition/')) continue;
      if (sd.kind !== 'resource' || sd.type === 'Bundle') continue;
      const list = this.profilesByType.get(sd.type) ?? [];
      list.push(sd.url);
      this.profilesByType.set(sd.type, list);
    }
    const rank = (u: string) => sliceOrder.get(u) ?? Number.MAX_SAFE_INTEGER;
    for (const list of this.profilesByType.values()) list.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
  }

  /** Resolves a profile given as canonical URL, `StructureDefinition/<id>`, id or name. */
  resolveProfile(p: string): string | undefined {
    return resolveProfile(this.engine, p);
  }
}

/**
 * Validates against the accepted TDDUI versions. Which version decides: the one a versioned
 * TDDUI `meta.profile` names (`…/tddui-bundle|2.2.0`; when that version is not accepted, the
 * nearest accepted one, with a warning naming both); otherwise each accepted version in turn,
 * and the first under which the resource is valid accepts it. When none does, the report is
 * the one with the fewest errors, and says how the others fared.
 */
export class TdduiValidator {
  /** The accepted versions, in the order they are tried (newest first by default). */
  readonly igs: TdduiIg[];
  /**
   * Validate every version tried in full, as before D-283 (the information `tddui-ig-version`
   * then gives the error count of each version tried before the one that accepted). Default
   * false: a version that a later one may still replace stops at its first error. For tests.
   */
  exhaustive = false;

  constructor(engines: Engine | Engine[], readonly set?: EngineSet) {
    const list = Array.isArray(engines) ? engines : [engines];
    if (list.length === 0) throw new Error('TdduiValidator: no TDDUI version loaded');
    this.igs = list.map((e) => new TdduiIg(e));
  }

  /** The engine of the first accepted version (newest by default). */
  get engine(): Engine {
    return this.igs[0].engine;
  }

  /** The engine over every IG loaded (TDDUI versions and any other IG given): what a server serves. */
  get core(): Engine {
    return this.set?.all ?? this.engine;
  }

  static async create(options: TdduiValidatorOptions = {}): Promise<TdduiValidator> {
    const paths = options.packages ?? defaultPackagePaths();
    let igs = (options.igs ?? []).map((ig) => (ig.includes('#') || ig.includes('@') ? ig : /^\d/.test(ig) ? `${TDDUI_PACKAGE}#${ig}` : ig));
    // Other IGs given (the coordination volets, `ans.fhir.fr.cds#2.0.1`) are in use beside TDDUI;
    // without a TDDUI version among them, every TDDUI version found is accepted, as by default.
    if (!igs.some((ig) => ig.split(/[#@]/)[0] === TDDUI_PACKAGE)) {
      const versions = await availableVersions(TDDUI_PACKAGE, { paths, useCache: options.useCache });
      igs = [...versions.map((v) => `${TDDUI_PACKAGE}#${v}`), ...igs];
    }
    if (igs.length === 0) {
      throw new PackageLoadError(`No TDDUI package (${TDDUI_PACKAGE}) in the package sources: ${paths.join(', ') || 'none'} (see --packages)`);
    }
    const set = await createEngines({
      igs,
      paths,
      // Another IG given as a package folder or .tgz (a volet) is in use too, beside TDDUI.
      includeExplicit: true,
      useCache: options.useCache,
      supplements: FR_CORE_SUPPLEMENTS,
      // The TDDUI package is the IG itself: a TDDUI extension or profile url it does not define
      // does not exist (a typo, or another IG version), unlike those of a partial package.
      completeCanonicals: [TDDUI_CANONICAL],
      // The TDDUI versions are compiled up front; another IG in use (a volet) on first use.
      precompile: options.precompile === false ? false : (ig) => !ig || ig.name === TDDUI_PACKAGE,
    });
    return new TdduiValidator(set.engines.filter((e) => e.ig?.name === TDDUI_PACKAGE), set);
  }

  /** The accepted version for `2.3.0` / `ans.fhir.fr.tddui#2.3.0`. */
  igFor(ref: string): TdduiIg | undefined {
    const v = ref.includes('#') ? ref.split('#')[1] : ref;
    return this.igs.find((ig) => ig.version === v || ig.id === ref);
  }

  /** Resolves a profile given as canonical URL, `StructureDefinition/<id>`, id or name (first accepted version). */
  resolveProfile(p: string): string | undefined {
    return this.igs[0].resolveProfile(p);
  }

  validate(resource: unknown, options: ValidateCallOptions = {}): ValidationReport {
    const extra: ValidationIssue[] = [];
    let candidates = this.igs;
    if (options.ig) {
      const ig = this.igFor(options.ig);
      if (!ig) throw new Error(`TDDUI ${options.ig} is not among the accepted versions (${this.igs.map((x) => x.version).join(', ')})`);
      candidates = [ig];
    } else {
      const pinned = pinnedVersion(resource);
      if (pinned) {
        const exact = this.igs.find((ig) => ig.version === pinned.version);
        if (exact) candidates = [exact];
        else {
          const pick = pickVersion(pinned.version, this.igs.map((ig) => ig.version));
          const ig = this.igs.find((x) => x.version === pick?.version) ?? this.igs[0];
          candidates = [ig];
          extra.push(makeIssue(TDDUI_ENGINE_RULES.IG_VERSION_SUBSTITUTED, pinned.expression, { requested: pinned.version, used: ig.version, accepted: this.igs.map((x) => x.version).join(', ') }));
        }
      }
    }
    // Each version in turn; one that a later version may still replace stops at its first error
    // (D-283): an unversioned 2.2.0 Bundle does not pay a full 2.3.0 validation before its own.
    const tried: { ig: TdduiIg; report: Omit<ValidationReport, 'ig'> | undefined; errors: number }[] = [];
    let accepted: (typeof tried)[number] | undefined;
    // The versions see the same document: what depends on it alone is computed once.
    const shared: SharedRunState | undefined = candidates.length > 1 ? {} : undefined;
    for (let k = 0; k < candidates.length && !accepted; k++) {
      const ig = candidates[k];
      const report = this.validateIn(ig, resource, options, !this.exhaustive && k < candidates.length - 1, shared);
      const t = { ig, report, errors: report ? errorCount(report.issues) : -1 };
      tried.push(t);
      if (t.errors === 0) accepted = t;
    }
    let best = accepted;
    if (!best) {
      // Valid under none: the full report of every version (those stopped early are run in
      // full), and the one with the fewest errors, the first in order on a tie.
      for (const t of tried) {
        if (!t.report) {
          t.report = this.validateIn(t.ig, resource, options, false, shared);
          t.errors = errorCount(t.report.issues);
        }
        if (!best || t.errors < best.errors) best = t;
      }
    }
    const { ig } = best!;
    const report = best!.report!;
    const rest = tried.filter((t) => t.ig !== ig);
    const others = rest.map((t) => `${t.ig.version}: ${t.errors < 0 ? 'not valid' : pluralEn(t.errors, 'error', 'errors')}`).join(', ');
    const othersFr = rest.map((t) => `${t.ig.version} : ${t.errors < 0 ? 'non valide' : plural(t.errors, 'erreur', 'erreurs')}`).join(', ');
    if (!report.valid && candidates.length > 1) {
      extra.push(makeIssue(TDDUI_ENGINE_RULES.IG_VERSION_NONE, rootType(resource), { version: ig.version, others, othersFr }));
    } else if (this.igs.length > 1) {
      // Several versions accepted: the report says which one decided, and how it was chosen.
      const how = options.ig ? ['version asked for', 'version demandée'] : candidates.length === 1 ? ['meta.profile', 'meta.profile'] : ['first accepted version it conforms to', 'première version acceptée à laquelle il est conforme'];
      extra.push(makeIssue(TDDUI_ENGINE_RULES.IG_VERSION_ACCEPTED, rootType(resource), {
        version: ig.version,
        how: how[0],
        howFr: how[1],
        others: others ? `; under ${others}` : '',
        othersFr: othersFr ? ` ; selon ${othersFr}` : '',
      }));
    }
    // The report is sorted already: the few issues added here are inserted in place.
    const issues = extra.length ? insertSorted(report.issues, extra) : report.issues;
    return { issues, valid: !hasErrors(issues), profiles: report.profiles, ig: ig.id };
  }

  /**
   * The report under one version. With `unlessError`, undefined as soon as the report is known
   * to have an error (the engine's walk stops at its first one); otherwise the same report.
   */
  private validateIn(ig: TdduiIg, resource: unknown, options: ValidateCallOptions, unlessError?: false, shared?: SharedRunState): Omit<ValidationReport, 'ig'>;
  private validateIn(ig: TdduiIg, resource: unknown, options: ValidateCallOptions, unlessError: boolean, shared?: SharedRunState): Omit<ValidationReport, 'ig'> | undefined;
  private validateIn(ig: TdduiIg, resource: unknown, options: ValidateCallOptions, unlessError = false, shared?: SharedRunState): Omit<ValidationReport, 'ig'> | undefined {
    const engine = ig.engine;
    // The profile walk checks the Periods for the business rules (D6) as it goes.
    const periods = options.profileOnly ? undefined : new PeriodVisitor();
    const check = (against?: string[]): ValidationIssue[] | undefined =>
      unlessError ? engine.validator.validateUnlessError(resource, { profiles: against, visitor: periods, shared }) : engine.validator.validate(resource, { profiles: against, visitor: periods, shared });
    let profiles: string[] = [];
    const extra: ValidationIssue[] = [];
    const root = isObject(resource) ? resource : undefined;
    const type = typeof root?.resourceType === 'string' ? root.resourceType : undefined;
    const declared = root && isObject(root.meta) && Array.isArray(root.meta.profile) && root.meta.profile.length > 0;
    let found: ValidationIssue[] | undefined;
    if (options.profile) {
      const url = ig.resolveProfile(options.profile) ?? options.profile;
      profiles = [url];
      found = check(profiles);
    } else if (!type || declared) {
      found = check();
      if (declared) profiles = (root!.meta as { profile: unknown[] }).profile.filter((p): p is string => typeof p === 'string');
    } else if (type === 'Bundle' && engine.profiles.get(TDDUI_BUNDLE_PROFILE)) {
      profiles = [TDDUI_BUNDLE_PROFILE];
      found = check(profiles);
    } else {
      const candidates = ig.profilesByType.get(type) ?? [];
      if (candidates.length === 0) {
        found = check();
      } else {
        // The first candidate the resource conforms to; otherwise the closest one (fewest errors).
        let best: { url: string; issues: ValidationIssue[]; errors: number } | undefined;
        for (const url of candidates) {
          const r = check([url]);
          if (!r) continue; // stopped at an error: not the one it conforms to
          const errors = errorCount(r);
          if (!best || errors < best.errors) best = { url, issues: r, errors };
          if (errors === 0) break;
        }
        // With unlessError: conforming to no candidate is an error.
        if (best && (!unlessError || best.errors === 0)) {
          profiles = [best.url];
          found = best.issues;
          extra.push(makeIssue(CODES.PROFILE_MATCH, type, { profile: best.url }));
        }
      }
    }
    if (!found) return undefined;
    let issues = found;
    if (!options.profileOnly) {
      const ruleIssues = runTdduiRules(resource, { now: options.now, periods });
      issues = mergeRuleIssues(issues, ruleIssues);
      if (type === 'Bundle' && profiles.includes(TDDUI_BUNDLE_PROFILE)) {
        issues.push(...this.bundleEntryTypeRule(ig, resource as Record<string, unknown>));
      }
    }
    const all = sortAndDedupe(extra.length === 0 ? issues : [...issues, ...extra]);
    return { issues: all, valid: !hasErrors(all), profiles };
  }

  validateToOutcome(resource: unknown, options: ValidateCallOptions = {}): OperationOutcome {
    return toOperationOutcome(this.validate(resource, options).issues);
  }

  /** B4: an entry whose resource type no TDDUI profile covers cannot match any Bundle slice. */
  private bundleEntryTypeRule(ig: TdduiIg, bundle: Record<string, unknown>): ValidationIssue[] {
    const out: ValidationIssue[] = [];
    const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
    entries.forEach((e, i) => {
      if (isObject(e) && e.resource === undefined) {
        // A POST without a body creates nothing: in a TDDUI transaction every entry carries a resource.
        out.push(makeIssue(TDDUI_ENGINE_RULES.ENTRY_RESOURCE, `Bundle.entry[${i}]`));
        return;
      }
      const r = isObject(e) && isObject(e.resource) ? e.resource : undefined;
      if (!r || typeof r.resourceType !== 'string') return;
      if (!ig.profilesByType.has(r.resourceType)) {
        out.push(
          makeIssue(TDDUI_ENGINE_RULES.ENTRY_TYPE, `Bundle.entry[${i}].resource`, { type: r.resourceType, version: ig.version }),
        );
      }
    });
    return out;
  }
}

function errorCount(issues: readonly ValidationIssue[]): number {
  let n = 0;
  for (const i of issues) if (i.severity === 'error' || i.severity === 'fatal') n++;
  return n;
}

function rootType(resource: unknown): string {
  return isObject(resource) && typeof resource.resourceType === 'string' ? resource.resourceType : '';
}

/**
 * The TDDUI version a resource pins in its own `meta.profile` (`<tddui profile>|2.2.0`): the
 * first such pin, with its location.
 */
function pinnedVersion(resource: unknown): { version: string; expression: string } | undefined {
  if (!isObject(resource) || !isObject(resource.meta) || !Array.isArray(resource.meta.profile)) return undefined;
  const prefix = TDDUI_CANONICAL + '/StructureDefinition/';
  for (let i = 0; i < resource.meta.profile.length; i++) {
    const p = resource.meta.profile[i];
    if (typeof p !== 'string' || !p.startsWith(prefix)) continue;
    const bar = p.indexOf('|');
    if (bar > 0 && bar < p.length - 1) return { version: p.slice(bar + 1), expression: `${resource.resourceType}.meta.profile[${i}]` };
  }
  return undefined;
}


/**
 * Business rules restate a few base invariants with a clearer, bilingual message (period
 * order): the invariant issue at the same location is then dropped as a duplicate.
 */
function mergeRuleIssues(engine: ValidationIssue[], rules: ValidationIssue[]): ValidationIssue[] {
  if (rules.length === 0) return engine;
  const periodAt = new Set(rules.filter((i) => i.rule === 'tddui-period-order').map((i) => i.expression));
  const kept =
    periodAt.size === 0
      ? engine
      : engine.filter((i) => !(i.rule === CODES.INVARIANT.id && i.message.startsWith('Constraint per-1 ') && periodAt.has(i.expression)));
  return [...kept, ...rules];
}
