// OperationOutcome helpers for the HTTP layer: every rejection the server sends is one of these.
import type { FhirResource } from '../storage/types.js';

export type IssueSeverity = 'fatal' | 'error' | 'warning' | 'information';

export interface OutcomeIssueInput {
  severity?: IssueSeverity;
  /** FHIR issue type (http://hl7.org/fhir/issue-type). */
  code: string;
  /** English diagnostics. */
  diagnostics: string;
  /** French text for people (details.text); defaults to the diagnostics. */
  text?: string;
  expression?: string;
}

export function operationOutcome(...issues: OutcomeIssueInput[]): FhirResource {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((i) => {
      const out: Record<string, unknown> = { severity: i.severity ?? 'error', code: i.code };
      if (i.text && i.text !== i.diagnostics) out.details = { text: i.text };
      out.diagnostics = i.diagnostics;
      if (i.expression) out.expression = [i.expression];
      return out;
    }),
  };
}

/**
 * An error that already knows its HTTP status and FHIR issue; thrown by route handlers and
 * turned into an OperationOutcome by the error handler.
 */
export class FhirHttpError extends Error {
  readonly headers: Record<string, string>;
  constructor(
    readonly status: number,
    readonly issueCode: string,
    message: string,
    readonly options: { text?: string; expression?: string; headers?: Record<string, string>; outcome?: FhirResource } = {},
  ) {
    super(message);
    this.name = 'FhirHttpError';
    this.headers = options.headers ?? {};
  }

  toOutcome(): FhirResource {
    return (
      this.options.outcome ??
      operationOutcome({ code: this.issueCode, diagnostics: this.message, text: this.options.text, expression: this.options.expression })
    );
  }
}

/** True when an OperationOutcome reports an error or a fatal issue. */
export function outcomeHasErrors(oo: unknown): boolean {
  const issues = (oo as { issue?: { severity?: string }[] } | undefined)?.issue ?? [];
  return issues.some((i) => i.severity === 'error' || i.severity === 'fatal');
}
