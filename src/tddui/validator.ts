// TDDUI validation: the FHIR engine with the IG's conventions on top —
// which profile a resource is checked against when it names none, the TDDUI business
// rules (rules/), and the Bundle-level rules a profile cannot express.
import { createEngine, type Engine } from '../fhir/engine.js';
import { defaultPackagePaths } from '../fhir/packages/loader.js';
import { CODES } from '../fhir/outcome/codes.js';
import {
  hasErrors,
  sortAndDedupe,
  toOperationOutcome,
  type OperationOutcome,
  type ValidationIssue,
} from '../fhir/outcome/issue.js';
import { makeIssue } from '../fhir/outcome/rule.js';
import type { StructureDefinition } from '../fhir/profiles/snapshot.js';
import { TDDUI_BUNDLE_PROFILE, TDDUI_CANONICAL } from './ig.js';
import { PeriodVisitor, runTdduiRules } from './rules/index.js';
import { TDDUI_ENGINE_RULES } from './engine-rules.js';
import { FR_CORE_SUPPLEMENTS } from './fr-core-supplements.js';
import { isObject } from '../fhir/json.js';

export interface TdduiValidatorOptions {
  /** Package folders / .tgz files; default: defaultPackagePaths(). */
  packages?: string[];
  /** Resolve declared dependencies from ~/.fhir/packages (default true). */
  useCache?: boolean;
}

export interface ValidateCallOptions {
  /** Validate against this profile (canonical URL or TDDUI profile name/id) instead of choosing one. */
  profile?: string;
  /** "Now" for date-window rules (tests). */
  now?: Date;
  /** Skip the TDDUI business rules (pure profile validation). */
  profileOnly?: boolean;
}

export interface ValidationReport {
  issues: ValidationIssue[];
  valid: boolean;
  /** Profiles the root resource was validated against. */
  profiles: string[];
}

export class TdduiValidator {
  private readonly tdduiProfilesByType = new Map<string, string[]>();

  constructor(readonly engine: Engine) {
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
      const list = this.tdduiProfilesByType.get(sd.type) ?? [];
      list.push(sd.url);
      this.tdduiProfilesByType.set(sd.type, list);
    }
    const rank = (u: string) => sliceOrder.get(u) ?? Number.MAX_SAFE_INTEGER;
    for (const list of this.tdduiProfilesByType.values()) list.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
  }

  static async create(options: TdduiValidatorOptions = {}): Promise<TdduiValidator> {
    const engine = await createEngine({
      paths: options.packages ?? defaultPackagePaths(),
      useCache: options.useCache,
      supplements: FR_CORE_SUPPLEMENTS,
      // The TDDUI package is the IG itself: a TDDUI extension or profile url it does not define
      // does not exist (a typo, or another IG version), unlike those of the partial FR Core copy.
      completeCanonicals: [TDDUI_CANONICAL],
    });
    return new TdduiValidator(engine);
  }

  /** Resolves a profile given as canonical URL, `StructureDefinition/<id>`, id or name. */
  resolveProfile(p: string): string | undefined {
    if (this.engine.profiles.get(p)) return p;
    const id = p.replace(/^StructureDefinition\//, '');
    for (const sd of this.engine.registry.all<StructureDefinition>('StructureDefinition')) {
      if (sd.id === id || sd.name === id) return sd.url;
    }
    return undefined;
  }

  validate(resource: unknown, options: ValidateCallOptions = {}): ValidationReport {
    // The profile walk checks the Periods for the business rules (D6) as it goes.
    const periods = options.profileOnly ? undefined : new PeriodVisitor();
    const check = (against?: string[]) => this.engine.validator.validate(resource, { profiles: against, visitor: periods });
    let profiles: string[] = [];
    const extra: ValidationIssue[] = [];
    let issues: ValidationIssue[];
    const root = isObject(resource) ? resource : undefined;
    const type = typeof root?.resourceType === 'string' ? root.resourceType : undefined;
    const declared = root && isObject(root.meta) && Array.isArray(root.meta.profile) && root.meta.profile.length > 0;
    if (options.profile) {
      const url = this.resolveProfile(options.profile) ?? options.profile;
      profiles = [url];
      issues = check(profiles);
    } else if (!type || declared) {
      issues = check();
      if (declared) profiles = (root!.meta as { profile: unknown[] }).profile.filter((p): p is string => typeof p === 'string');
    } else if (type === 'Bundle' && this.engine.profiles.get(TDDUI_BUNDLE_PROFILE)) {
      profiles = [TDDUI_BUNDLE_PROFILE];
      issues = check(profiles);
    } else {
      const candidates = this.tdduiProfilesByType.get(type) ?? [];
      if (candidates.length === 0) {
        issues = check();
      } else {
        // The first candidate the resource conforms to; otherwise the closest one (fewest errors).
        let best: { url: string; issues: ValidationIssue[]; errors: number } | undefined;
        for (const url of candidates) {
          const r = check([url]);
          const errors = r.filter((i) => i.severity === 'error' || i.severity === 'fatal').length;
          if (!best || errors < best.errors) best = { url, issues: r, errors };
          if (errors === 0) break;
        }
        profiles = [best!.url];
        issues = best!.issues;
        extra.push(makeIssue(CODES.PROFILE_MATCH, type, { profile: best!.url }));
      }
    }
    if (!options.profileOnly) {
      const ruleIssues = runTdduiRules(resource, { now: options.now, periods });
      issues = mergeRuleIssues(issues, ruleIssues);
      if (type === 'Bundle' && profiles.includes(TDDUI_BUNDLE_PROFILE)) {
        issues.push(...this.bundleEntryTypeRule(resource as Record<string, unknown>));
      }
    }
    const all = sortAndDedupe(extra.length === 0 ? issues : [...issues, ...extra]);
    return { issues: all, valid: !hasErrors(all), profiles };
  }

  validateToOutcome(resource: unknown, options: ValidateCallOptions = {}): OperationOutcome {
    return toOperationOutcome(this.validate(resource, options).issues);
  }

  /** B4: an entry whose resource type no TDDUI profile covers cannot match any Bundle slice. */
  private bundleEntryTypeRule(bundle: Record<string, unknown>): ValidationIssue[] {
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
      if (!this.tdduiProfilesByType.has(r.resourceType)) {
        out.push(
          makeIssue(TDDUI_ENGINE_RULES.ENTRY_TYPE, `Bundle.entry[${i}].resource`, { type: r.resourceType }),
        );
      }
    });
    return out;
  }
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
