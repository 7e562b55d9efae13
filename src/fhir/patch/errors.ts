/** A patch that cannot be applied: 400 when the patch document itself is malformed, 422 when it does not fit the resource. */
export class PatchError extends Error {
  /** The message in French (`message` is English), with the operation index. */
  readonly messageFr: string;

  constructor(
    readonly status: 400 | 422,
    message: string,
    messageFr: string,
    /** 0-based index of the failing operation, when there is one. */
    readonly operation?: number,
    /** FHIR issue type for the OperationOutcome. */
    readonly issueCode: string = status === 400 ? 'invalid' : 'processing',
  ) {
    super(operation === undefined ? message : `operation ${operation}: ${message}`);
    this.name = 'PatchError';
    this.messageFr = operation === undefined ? messageFr : `opération ${operation} : ${messageFr}`;
  }

  /** The error as the OperationOutcome a server answers with. */
  toOperationOutcome(): { resourceType: 'OperationOutcome'; issue: { severity: 'error'; code: string; diagnostics: string; details: { text: string } }[] } {
    return {
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'error',
          code: this.issueCode,
          diagnostics: this.message,
          details: { text: this.status === 400 ? `Document de patch invalide : ${this.messageFr}` : `Le patch ne peut pas être appliqué : ${this.messageFr}` },
        },
      ],
    };
  }
}
