// The one OperationOutcome builder for everything that is not a validation report (those come
// from toOperationOutcome in issue.ts, which shares this issue shape): HTTP rejections, storage
// errors, transaction and ingest failures, informational outcomes of writes.
import type { FhirResource } from '../json.js';

export type OutcomeSeverity = 'fatal' | 'error' | 'warning' | 'information';

export interface OutcomeIssueInput {
  severity?: OutcomeSeverity;
  /** FHIR issue type (http://hl7.org/fhir/issue-type). */
  code: string;
  /** English diagnostics. */
  diagnostics: string;
  /** French text for people (details.text); defaults to none when equal to the diagnostics. */
  text?: string;
  /** FHIRPath location (or search parameter name). */
  expression?: string;
  /** Stable id of the error (catalogue of src/fhir/outcome/http-errors.ts), in details.coding. */
  id?: string;
}

/** Code system of the stable ids of errors and validation rules in OperationOutcome.issue.details.coding. */
export const ERROR_ID_SYSTEM = 'urn:tddui:validation-rule';

export function operationOutcome(...issues: OutcomeIssueInput[]): FhirResource {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((i) => {
      const out: Record<string, unknown> = { severity: i.severity ?? 'error', code: i.code };
      const details: Record<string, unknown> = {};
      if (i.id) details.coding = [{ system: ERROR_ID_SYSTEM, code: i.id }];
      if (i.text && i.text !== i.diagnostics) details.text = i.text;
      if (Object.keys(details).length) out.details = details;
      out.diagnostics = i.diagnostics;
      if (i.expression) out.expression = [i.expression];
      return out;
    }),
  };
}

/** True when an OperationOutcome reports an error or a fatal issue. */
export function outcomeHasErrors(oo: unknown): boolean {
  const issues = (oo as { issue?: { severity?: string }[] } | undefined)?.issue ?? [];
  return issues.some((i) => i.severity === 'error' || i.severity === 'fatal');
}
