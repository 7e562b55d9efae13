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

/** A location with its digit runs zero-padded, so that plain string order is compareLocations order. */
function locationKey(e: string): string {
  let k = locationKeys.get(e);
  if (k === undefined) {
    k = '';
    let from = 0;
    for (let i = 0; i < e.length; i++) {
      const c = e.charCodeAt(i);
      if (c < 48 || c > 57) continue;
      let j = i + 1;
      while (j < e.length && e.charCodeAt(j) >= 48 && e.charCodeAt(j) <= 57) j++;
      k += e.slice(from, i) + (j - i >= 10 ? '' : '0000000000'.slice(j - i)) + e.slice(i, j);
      from = j;
      i = j - 1;
    }
    k += e.slice(from);
    // Locations repeat from one document to the next (same Bundle layouts): keep them, bounded.
    if (locationKeys.size >= 20_000) locationKeys.clear();
    locationKeys.set(e, k);
  }
  return k;
}

const locationKeys = new Map<string, string>();

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Orders two locations as their locationKey()s do, without building them: from the first
 * character where they differ, a difference inside (or at the start of) digit runs compares
 * the runs as numbers. Runs of 10 digits or more, and equal numbers written with other leading
 * zeros, are left to the keys themselves.
 */
export function compareLocations(a: string, b: string): number {
  if (a === b) return 0;
  const n = a.length < b.length ? a.length : b.length;
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  let s = i;
  while (s > 0 && isDigit(a.charCodeAt(s - 1))) s--;
  const ca = a.charCodeAt(i);
  const cb = b.charCodeAt(i);
  if (s < i || (i < a.length && i < b.length && isDigit(ca) && isDigit(cb))) {
    let ea = s;
    while (ea < a.length && isDigit(a.charCodeAt(ea))) ea++;
    let eb = s;
    while (eb < b.length && isDigit(b.charCodeAt(eb))) eb++;
    if (ea - s >= 10 || eb - s >= 10) return compareKeys(a, b);
    let va = 0;
    for (let k = s; k < ea; k++) va = va * 10 + a.charCodeAt(k) - 48;
    let vb = 0;
    for (let k = s; k < eb; k++) vb = vb * 10 + b.charCodeAt(k) - 48;
    if (va !== vb) return va - vb;
    // The same number: written alike, the difference lies after the runs (at i, below);
    // with other leading zeros, the keys decide.
    if (ea - s !== eb - s) return compareKeys(a, b);
  }
  // No digit run on both sides at i: a padded run would start with a digit too, and no other
  // character lies between '0' and '9', so the characters decide (a prefix first).
  if (i === a.length) return -1;
  if (i === b.length) return 1;
  return ca - cb;
}

function compareKeys(a: string, b: string): number {
  const ka = locationKey(a);
  const kb = locationKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Sorts by location, then severity, rule and message; drops exact duplicates (the first one stays). Stable across runs. */
export function sortAndDedupe(issues: readonly ValidationIssue[]): ValidationIssue[] {
  // Locations are compared in place (compareLocations): no key string is built or hashed. A
  // stable sort puts duplicates side by side, in input order.
  const sorted = issues.slice().sort(
    (a, b) =>
      compareLocations(a.expression, b.expression) ||
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
      cmp(a.rule, b.rule) ||
      cmp(a.message, b.message),
  );
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
