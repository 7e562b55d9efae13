// A rule is a stable, documented kind of finding: id, default severity, FHIR issue type and
// message templates. Engine checks (codes.ts) and TDDUI business rules share this shape.
import { IG_DEFECT_RULES, NOT_CHECKED_RULES, type IssueType, type Severity, type ValidationIssue } from './issue.js';

export type MessageArgs = Record<string, string | number | undefined>;

export interface Rule {
  readonly id: string;
  readonly severity: Severity;
  readonly code: IssueType;
  /** One-line description for the reference docs. */
  readonly summary: string;
  /** Message template in English; `{name}` placeholders are replaced by args. */
  readonly en: string;
  /** Message template in French. */
  readonly fr?: string;
  /** Where the rule comes from (IG page, FHIR spec section). */
  readonly reference?: string;
  /**
   * `not-checked`: the finding says a check could not be made (a definition, package or value
   * set missing, an expression not evaluable), not that the data are wrong. `ig-defect`: the IG
   * contradicts itself there and the data follow it (decisions.md). Both are kept apart from
   * data findings in the OperationOutcome, the CLI summary and the UI counts.
   */
  readonly category?: 'not-checked' | 'ig-defect';
}

export function defineRule(r: Rule): Rule {
  if (r.category === 'not-checked') NOT_CHECKED_RULES.add(r.id);
  if (r.category === 'ig-defect') IG_DEFECT_RULES.add(r.id);
  return Object.freeze(r);
}

/** Templates split once into literal parts (even indexes) and placeholder names (odd indexes). */
const compiledTemplates = new Map<string, string[]>();

function fill(template: string, args: MessageArgs): string {
  let parts = compiledTemplates.get(template);
  if (!parts) {
    parts = template.split(/\{(\w+)\}/);
    compiledTemplates.set(template, parts);
  }
  let out = parts[0];
  for (let i = 1; i < parts.length; i += 2) {
    const v = args[parts[i]];
    out += (v === undefined ? `{${parts[i]}}` : String(v)) + parts[i + 1];
  }
  return out;
}

/** The English and French messages of `rule` with `args` (for issues whose text is built once and reused). */
export function messagesOf(rule: Rule, args: MessageArgs): { en: string; fr: string | undefined } {
  return { en: fill(rule.en, args), fr: rule.fr ? fill(rule.fr, args) : undefined };
}

/** makeIssue() with messages already built by messagesOf() for the same rule. */
export function makeIssueWithMessages(
  rule: Rule,
  expression: string,
  messages: { en: string; fr: string | undefined },
  severity: Severity,
  source: string | undefined,
): ValidationIssue {
  const issue: ValidationIssue = { severity, code: rule.code, rule: rule.id, message: messages.en, expression };
  if (messages.fr !== undefined) issue.messageFr = messages.fr;
  if (source ?? rule.reference) issue.source = source ?? rule.reference;
  return issue;
}

/** Builds an issue for `rule` at `expression`; `severity` overrides the rule's default when given. */
export function makeIssue(
  rule: Rule,
  expression: string,
  args: MessageArgs = {},
  extra: { severity?: Severity; source?: string } = {},
): ValidationIssue {
  return makeIssueWithMessages(rule, expression, messagesOf(rule, args), extra.severity ?? rule.severity, extra.source);
}
