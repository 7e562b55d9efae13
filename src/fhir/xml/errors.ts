/** Raised for XML that is not well-formed or not FHIR, and for JSON that has no XML form. */
export class FhirXmlError extends Error {
  constructor(
    message: string,
    /** 1-based position in the XML text, when the error is about XML input. */
    readonly line?: number,
    readonly column?: number,
    /** FHIRPath-like location of the element concerned (`Patient.name[0].given`). */
    readonly path?: string,
  ) {
    super(FhirXmlError.format(message, line, column, path));
    this.name = 'FhirXmlError';
  }

  private static format(message: string, line?: number, column?: number, path?: string): string {
    const where: string[] = [];
    if (line !== undefined) where.push(`line ${line}, column ${column ?? 1}`);
    if (path) where.push(`at ${path}`);
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
