// OperationOutcome helpers for the HTTP layer: the one builder (src/fhir/outcome/outcome.ts) and
// the one error class with its catalogue (src/fhir/outcome/http-errors.ts).
export { operationOutcome, outcomeHasErrors, type OutcomeIssueInput, type OutcomeSeverity as IssueSeverity } from '../fhir/outcome/outcome.js';
export { FhirError, HTTP_ERRORS } from '../fhir/outcome/http-errors.js';
