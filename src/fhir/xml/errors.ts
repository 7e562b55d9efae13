/**
 * Raised for XML that is not well-formed or not FHIR, and for JSON that has no XML form.
 * `message` is English; `messageFr` says the same in French (reports read by French users).
 */
export class FhirXmlError extends Error {
  /** The French message, with its location. */
  readonly messageFr: string;
  /** The problem alone, without the location (English and French). */
  readonly detail: string;
  readonly detailFr: string;

  constructor(
    message: string,
    /** 1-based position in the XML text, when the error is about XML input. */
    readonly line: number | undefined,
    readonly column: number | undefined,
    /** FHIRPath-like location of the element concerned (`Patient.name[0].given`). */
    readonly path: string | undefined,
    messageFr: string,
  ) {
    super(FhirXmlError.format(message, line, column, path, 'en'));
    this.name = 'FhirXmlError';
    this.detail = message;
    this.detailFr = messageFr;
    this.messageFr = FhirXmlError.format(messageFr, line, column, path, 'fr');
  }

  private static format(message: string, line: number | undefined, column: number | undefined, path: string | undefined, lang: 'en' | 'fr'): string {
    const where: string[] = [];
    if (line !== undefined) where.push(lang === 'fr' ? `ligne ${line}, colonne ${column ?? 1}` : `line ${line}, column ${column ?? 1}`);
    if (path) where.push(lang === 'fr' ? `en ${path}` : `at ${path}`);
    return where.length ? `${message} (${where.join(', ')})` : message;
  }
}

/** 1-based line and column of an offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}
