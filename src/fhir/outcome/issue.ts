// Validation issues and their conversion to a FHIR OperationOutcome.
// Every finding of the engine or of a business rule is a ValidationIssue carrying a
// stable rule id (see codes.ts and src/tddui/rules/catalogue.ts), so that reports can be
// compared across runs, filtered and documented, like Fastify's error codes.

export type Severity = 'fatal' | 'error' | 'warning' | 'information';

/** FHIR IssueType codes we use (http://hl7.org/fhir/issue-type). */
export type IssueType =
  | 'invalid'
  | 'structure'
  | 'required'
  | 'value'
  | 'invariant'
  | 'code-invalid'
  | 'not-found'
  | 'not-supported'
  | 'business-rule'
  | 'duplicate'
  | 'incomplete'
  | 'informational'
  | 'processing'
  | 'exception'
  | 'too-costly';

export interface ValidationIssue {
  severity: Severity;
  code: IssueType;
  /** Stable rule id, e.g. `fhir-cardinality-min` or `tddui-nir-key`. */
  rule: string;
  /** Human-readable message (English). */
  message: string;
  /** The same message in French, when the rule provides one. */
  messageFr?: string;
  /** FHIRPath location in the input, e.g. `Bundle.entry[3].resource.identifier[0].value`. */
  expression: string;
  /** Profile (canonical URL) or specification source that the check comes from. */
  source?: string;
}

export const RULE_SYSTEM = 'urn:tddui:validation-rule';
const EXT_SOURCE = 'http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-source';
const EXT_MESSAGE_ID = 'http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id';

const SEVERITY_ORDER: Record<Severity, number> = { fatal: 0, error: 1, warning: 2, information: 3 };

export interface OperationOutcomeIssue {
  severity: Severity;
  code: IssueType;
  details?: { coding?: { system: string; code: string }[]; text?: string };
  diagnostics?: string;
  expression?: string[];
  extension?: { url: string; valueString?: string; valueUri?: string }[];
}

export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  issue: OperationOutcomeIssue[];
}

/** A sort key for a FHIRPath location in which `entry[10]` sorts after `entry[9]`. */
function sortKey(e: string): string {
  return e.replace(/\d+/g, (d) => d.padStart(10, '0'));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorts by location, then severity, rule and message; drops exact duplicates. Stable across runs. */
export function sortAndDedupe(issues: readonly ValidationIssue[]): ValidationIssue[] {
  const seen = new Set<string>();
  const out: ValidationIssue[] = [];
  for (const i of issues) {
    const key = `${i.expression}\u0000${i.severity}\u0000${i.rule}\u0000${i.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(i);
  }
  const keys = new Map<string, string>();
  const keyOf = (e: string) => {
    let k = keys.get(e);
    if (k === undefined) keys.set(e, (k = sortKey(e)));
    return k;
  };
  out.sort(
    (a, b) =>
      cmp(keyOf(a.expression), keyOf(b.expression)) ||
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
      cmp(a.rule, b.rule) ||
      cmp(a.message, b.message),
  );
  return out;
}

export function hasErrors(issues: readonly ValidationIssue[]): boolean {
  return issues.some((i) => i.severity === 'error' || i.severity === 'fatal');
}

export function toOperationOutcome(issues: readonly ValidationIssue[]): OperationOutcome {
  const sorted = sortAndDedupe(issues);
  if (sorted.length === 0) {
    return {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'information', code: 'informational', diagnostics: 'No issues detected during validation' }],
    };
  }
  return {
    resourceType: 'OperationOutcome',
    issue: sorted.map((i) => {
      const extension: OperationOutcomeIssue['extension'] = [{ url: EXT_MESSAGE_ID, valueString: i.rule }];
      if (i.source) extension.push({ url: EXT_SOURCE, valueString: i.source });
      const out: OperationOutcomeIssue = {
        extension,
        severity: i.severity,
        code: i.code,
        details: { coding: [{ system: RULE_SYSTEM, code: i.rule }], text: i.messageFr ?? i.message },
        diagnostics: i.message,
      };
      if (i.expression) out.expression = [i.expression];
      return out;
    }),
  };
}

/** Reads issues back from an OperationOutcome produced by toOperationOutcome (used by clients and tests). */
export function fromOperationOutcome(oo: OperationOutcome): ValidationIssue[] {
  return (oo.issue ?? [])
    .filter((i) => i.code !== 'informational' || i.expression)
    .map((i) => ({
      severity: i.severity,
      code: i.code,
      rule: i.details?.coding?.find((c) => c.system === RULE_SYSTEM)?.code ?? 'unknown',
      message: i.diagnostics ?? i.details?.text ?? '',
      messageFr: i.details?.text !== i.diagnostics ? i.details?.text : undefined,
      expression: i.expression?.[0] ?? '',
      source: i.extension?.find((e) => e.url === EXT_SOURCE)?.valueString,
    }));
}
