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
/**
 * Code system of the issue categories (this project's): `data` — a finding about the data;
 * `not-checked` — a check could not be made (missing package, profile, value set, expression
 * not evaluable). Carried in every issue's `details.coding` beside the rule id.
 */
export const CATEGORY_SYSTEM = 'urn:tddui:issue-category';
export type IssueCategory = 'data' | 'not-checked' | 'ig-defect';
/** Ids of the rules whose findings are "could not check" notices (filled by defineRule). */
export const NOT_CHECKED_RULES = new Set<string>();
/** Ids of the rules that report a defect of the IG the data follow (filled by defineRule). */
export const IG_DEFECT_RULES = new Set<string>();

export function issueCategory(issue: Pick<ValidationIssue, 'rule'>): IssueCategory {
  return NOT_CHECKED_RULES.has(issue.rule) ? 'not-checked' : IG_DEFECT_RULES.has(issue.rule) ? 'ig-defect' : 'data';
}

const CATEGORY_DISPLAY: Record<IssueCategory, string> = {
  data: 'Finding about the data',
  'not-checked': 'Could not be checked (definition or package missing)',
  'ig-defect': 'Defect of the implementation guide (the data follow it)',
};

export interface IssueCounts {
  errors: number;
  /** Warnings about the data. */
  warnings: number;
  information: number;
  /** "Could not check" notices, whatever their severity. */
  notChecked: number;
  /** IG defects the data follow (warnings), counted apart from data findings. */
  igDefects: number;
}

/** Counts by severity, the "could not check" notices apart. */
export function countIssues(issues: readonly Pick<ValidationIssue, 'rule' | 'severity'>[]): IssueCounts {
  const c: IssueCounts = { errors: 0, warnings: 0, information: 0, notChecked: 0, igDefects: 0 };
  for (const i of issues) {
    const cat = issueCategory(i);
    if (i.severity === 'error' || i.severity === 'fatal') c.errors++;
    else if (cat === 'not-checked') c.notChecked++;
    else if (cat === 'ig-defect') c.igDefects++;
    else if (i.severity === 'warning') c.warnings++;
    else c.information++;
  }
  return c;
}
const EXT_SOURCE = 'http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-source';
const EXT_MESSAGE_ID = 'http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id';

const SEVERITY_ORDER: Record<Severity, number> = { fatal: 0, error: 1, warning: 2, information: 3 };

export interface OperationOutcomeIssue {
  severity: Severity;
  code: IssueType;
  details?: { coding?: { system: string; code: string; display?: string }[]; text?: string };
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

/** A location with its digit runs zero-padded, so that plain string order is natural order (`entry[2]` before `entry[10]`). */
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

/** Sorts by location, then severity, rule and message; drops exact duplicates (the first one stays). Stable across runs. */
export function sortAndDedupe(issues: readonly ValidationIssue[]): ValidationIssue[] {
  // Keys are built once per distinct location (and kept) and compared natively: a comparator
  // walking the shared "Bundle.entry[" prefixes costs more than that. A stable sort puts
  // duplicates side by side, in input order.
  const decorated = issues.map((issue) => ({ issue, k: locationKey(issue.expression) }));
  decorated.sort(
    (a, b) =>
      cmp(a.k, b.k) ||
      SEVERITY_ORDER[a.issue.severity] - SEVERITY_ORDER[b.issue.severity] ||
      cmp(a.issue.rule, b.issue.rule) ||
      cmp(a.issue.message, b.issue.message),
  );
  const out: ValidationIssue[] = [];
  let prev: ValidationIssue | undefined;
  for (const { issue: i } of decorated) {
    if (prev && prev.expression === i.expression && prev.severity === i.severity && prev.rule === i.rule && prev.message === i.message) continue;
    out.push(i);
    prev = i;
  }
  return out;
}

function compareIssues(a: ValidationIssue, ka: string, b: ValidationIssue, kb: string): number {
  return cmp(ka, kb) || SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || cmp(a.rule, b.rule) || cmp(a.message, b.message);
}

/**
 * sortAndDedupe([...sorted, ...extra]) when `sorted` is already sortAndDedupe's output and
 * `extra` holds a few issues: each is inserted where the stable sort would put it (after the
 * issues it does not precede), and dropped when the issue before it is the same. No re-sort.
 */
export function insertSorted(sorted: readonly ValidationIssue[], extra: readonly ValidationIssue[]): ValidationIssue[] {
  const out = sorted.slice();
  for (const e of extra) {
    const ke = locationKey(e.expression);
    let lo = 0;
    let hi = out.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareIssues(out[mid], locationKey(out[mid].expression), e, ke) <= 0) lo = mid + 1;
      else hi = mid;
    }
    const prev = out[lo - 1];
    if (prev && prev.expression === e.expression && prev.severity === e.severity && prev.rule === e.rule && prev.message === e.message) continue;
    out.splice(lo, 0, e);
  }
  return out;
}

export function hasErrors(issues: readonly ValidationIssue[]): boolean {
  return issues.some((i) => i.severity === 'error' || i.severity === 'fatal');
}

export function toOperationOutcome(issues: readonly ValidationIssue[]): OperationOutcome {
  const sorted = sortAndDedupe(issues);
  if (sorted.length === 0) return noIssues();
  return { resourceType: 'OperationOutcome', issue: sorted.map((i) => outcomeIssue(i, true)) };
}

function noIssues(): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'information', code: 'informational', diagnostics: 'No issues detected during validation' }],
  };
}

/** One issue of toOperationOutcome; its `expression`, the last key, only `withExpression`. */
function outcomeIssue(i: ValidationIssue, withExpression: boolean): OperationOutcomeIssue {
  const extension: OperationOutcomeIssue['extension'] = [{ url: EXT_MESSAGE_ID, valueString: i.rule }];
  if (i.source) extension.push({ url: EXT_SOURCE, valueString: i.source });
  const out: OperationOutcomeIssue = {
    extension,
    severity: i.severity,
    code: i.code,
    details: {
      coding: [
        { system: RULE_SYSTEM, code: i.rule },
        { system: CATEGORY_SYSTEM, code: issueCategory(i), display: CATEGORY_DISPLAY[issueCategory(i)] },
      ],
      text: i.messageFr ?? i.message,
    },
    diagnostics: i.message,
  };
  if (withExpression && i.expression) out.expression = [i.expression];
  return out;
}

/**
 * An issue's JSON up to its `expression` (its closing brace left out), as UTF-8: what every
 * issue with these fields shares, whatever its location. A synthetic PP-PA Bundle's report has
 * 38 issues, 25 of them the same dom-6 note at 25 places, and the same texts come back in every
 * Bundle of a sender.
 */
interface IssueHead {
  rule: string;
  severity: Severity;
  code: IssueType;
  source: string | undefined;
  messageFr: string | undefined;
  bytes: Buffer;
}
/** By English message, then compared field by field (a message alone does not make the head: the same text under two rules or severities). */
const issueHeads = new Map<string, IssueHead[]>();
let issueHeadCount = 0;
/** Bounded: messages carry values from the data, so their variety is the senders'. */
const ISSUE_HEADS = 4096;

function issueHead(i: ValidationIssue): Buffer {
  const list = issueHeads.get(i.message);
  if (list !== undefined) {
    for (let k = 0; k < list.length; k++) {
      const h = list[k];
      if (h.rule === i.rule && h.severity === i.severity && h.code === i.code && h.source === i.source && h.messageFr === i.messageFr) return h.bytes;
    }
  }
  // The object toOperationOutcome makes, without its expression: its JSON is the issue's JSON
  // up to `,"expression":[…]}` (`extension` comes first, so a comma always precedes it).
  const text = JSON.stringify(outcomeIssue(i, false));
  const head: IssueHead = { rule: i.rule, severity: i.severity, code: i.code, source: i.source, messageFr: i.messageFr, bytes: Buffer.from(text.slice(0, -1)) };
  if (issueHeadCount >= ISSUE_HEADS) {
    issueHeads.clear();
    issueHeadCount = 0;
  }
  // (After a clear, `list` is no longer in the map.)
  if (list !== undefined && issueHeads.has(i.message)) list.push(head);
  else issueHeads.set(i.message, [head]);
  issueHeadCount++;
  return head.bytes;
}

const OUTCOME_OPEN = Buffer.from('{"resourceType":"OperationOutcome","issue":[');
const OUTCOME_CLOSE = Buffer.from(']}');

/**
 * `Buffer.from(JSON.stringify(toOperationOutcome(issues)))`, the same bytes (issue.test compares
 * them), in a buffer of its own (movable to another thread): each issue's JSON up to its location
 * is kept as UTF-8 from one report to the next (issueHead), so a report is mostly copied rather
 * than serialised and encoded again — what a validation worker sends for every accepted Bundle
 * (D-352).
 */
export function operationOutcomeBytes(issues: readonly ValidationIssue[]): Buffer {
  const sorted = sortAndDedupe(issues);
  if (sorted.length === 0) {
    const text = JSON.stringify(noIssues());
    const out = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
    out.write(text, 0);
    return out;
  }
  const heads: Buffer[] = new Array(sorted.length);
  const tails: string[] = new Array(sorted.length);
  let size = OUTCOME_OPEN.length + OUTCOME_CLOSE.length + sorted.length - 1;
  for (let k = 0; k < sorted.length; k++) {
    const i = sorted[k];
    const head = (heads[k] = issueHead(i));
    const tail = (tails[k] = i.expression ? `,"expression":[${JSON.stringify(i.expression)}]}` : '}');
    size += head.length + Buffer.byteLength(tail);
  }
  const out = Buffer.allocUnsafeSlow(size);
  out.set(OUTCOME_OPEN, 0);
  let at = OUTCOME_OPEN.length;
  for (let k = 0; k < sorted.length; k++) {
    if (k > 0) out[at++] = 44; // ,
    out.set(heads[k], at);
    at += heads[k].length;
    at += out.write(tails[k], at);
  }
  out.set(OUTCOME_CLOSE, at);
  return out;
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
