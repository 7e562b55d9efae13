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

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Compares FHIRPath locations so that `entry[10]` sorts after `entry[9]`: digit runs compare by
 * value, everything else by code unit. No strings are built (this runs for every issue).
 */
export function compareLocations(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (isDigit(ca) && isDigit(cb)) {
      // Skip leading zeros, then the longer run is the larger number; same length: first difference.
      let si = i;
      let sj = j;
      while (si < a.length && a.charCodeAt(si) === 48) si++;
      while (sj < b.length && b.charCodeAt(sj) === 48) sj++;
      let ei = si;
      let ej = sj;
      while (ei < a.length && isDigit(a.charCodeAt(ei))) ei++;
      while (ej < b.length && isDigit(b.charCodeAt(ej))) ej++;
      if (ei - si !== ej - sj) return ei - si - (ej - sj);
      for (let k = 0; k < ei - si; k++) {
        const d = a.charCodeAt(si + k) - b.charCodeAt(sj + k);
        if (d !== 0) return d;
      }
      i = ei;
      j = ej;
      continue;
    }
    if (ca !== cb) {
      // A digit run sorts before the other characters it meets, as zero-padded numbers would.
      if (isDigit(ca)) return cb > 48 ? -1 : 1;
      if (isDigit(cb)) return ca > 48 ? 1 : -1;
      return ca - cb;
    }
    i++;
    j++;
  }
  return a.length - i - (b.length - j);
}

function compareIssues(a: ValidationIssue, b: ValidationIssue): number {
  return (
    compareLocations(a.expression, b.expression) ||
    SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
    cmp(a.rule, b.rule) ||
    cmp(a.message, b.message)
  );
}

/** Sorts by location, then severity, rule and message; drops exact duplicates (the first one stays). Stable across runs. */
export function sortAndDedupe(issues: readonly ValidationIssue[]): ValidationIssue[] {
  // A stable sort puts duplicates side by side, in input order.
  const sorted = [...issues].sort(compareIssues);
  const out: ValidationIssue[] = [];
  let prev: ValidationIssue | undefined;
  for (const i of sorted) {
    if (prev && prev.expression === i.expression && prev.severity === i.severity && prev.rule === i.rule && prev.message === i.message) continue;
    out.push(i);
    prev = i;
  }
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
