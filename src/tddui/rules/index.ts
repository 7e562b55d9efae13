// Runs the TDDUI business rules (those no profile can express) over a Bundle or a resource.
// Never throws: a rule that fails on odd input is reported as `tddui-rule-error`.
import type { ValidationIssue } from '../../fhir/outcome/issue.js';
import { makeIssue } from '../../fhir/outcome/rule.js';
import { TDDUI_RULES } from './catalogue.js';
import { buildContext, isObject, type RuleContext } from './context.js';
import { FinessChecker, identityRules } from './identity.js';
import { businessIdRules } from './business-ids.js';
import { PeriodVisitor, periodRules, ssiadWindowRules } from './dates.js';
import { bundleRules } from './bundle.js';
import { evaluationRules } from './evaluation.js';

export { TDDUI_RULES, ALL_TDDUI_RULES } from './catalogue.js';
export * from './identifiers.js';

export interface RuleOptions {
  /** Reference date for the SSIAD window (default: now). */
  now?: Date;
  /**
   * D6 (tddui-period-order) was checked during the profile walk (PeriodVisitor): its findings,
   * reported instead of walking the document again.
   */
  periods?: PeriodVisitor;
}

type RuleGroup = [name: string, run: (ctx: RuleContext, out: ValidationIssue[], finess: FinessChecker, options: RuleOptions) => void];

const GROUPS: RuleGroup[] = [
  ['identity', identityRules],
  ['business-identifiers', businessIdRules],
  [
    'periods',
    (ctx, out, _finess, options) => {
      if (options.periods) out.push(...options.periods.issues);
      else periodRules(ctx, out);
    },
  ],
  ['ssiad-window', (ctx, out) => ssiadWindowRules(ctx, out)],
  ['bundle', (ctx, out) => bundleRules(ctx, out)],
  ['evaluations', (ctx, out) => evaluationRules(ctx, out)],
];

export { PeriodVisitor };

export function runTdduiRules(root: unknown, options: RuleOptions = {}): ValidationIssue[] {
  if (!isObject(root)) return [];
  const out: ValidationIssue[] = [];
  let ctx: RuleContext;
  try {
    ctx = buildContext(root, options.now ?? new Date());
  } catch (e) {
    return [makeIssue(TDDUI_RULES.RULE_ERROR, typeof root.resourceType === 'string' ? root.resourceType : '$', { rule: 'context', detail: (e as Error).message, detailFr: `exception « ${(e as Error).message} »` })];
  }
  const finess = new FinessChecker(out);
  for (const [name, run] of GROUPS) {
    try {
      run(ctx, out, finess, options);
    } catch (e) {
      out.push(makeIssue(TDDUI_RULES.RULE_ERROR, ctx.isBundle ? 'Bundle' : String(root.resourceType), { rule: name, detail: (e as Error).message, detailFr: `exception « ${(e as Error).message} »` }));
    }
  }
  return out;
}
