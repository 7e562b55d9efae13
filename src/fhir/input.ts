// Reads a FHIR resource given as text in either serialisation: FHIR JSON or FHIR XML (R4),
// told apart by the first significant character (`<` is XML). Input that cannot be read is
// not an exception but a fatal issue, so a caller reports it like any other finding.
import { CODES } from './outcome/codes.js';
import type { ValidationIssue } from './outcome/issue.js';
import { makeIssue } from './outcome/rule.js';
import { FhirXmlError, xmlToJson } from './xml/index.js';

export type InputFormat = 'json' | 'xml';

export interface ReadInput {
  format: InputFormat;
  /** The resource as FHIR JSON; undefined when the text could not be read (see `issue`). */
  resource?: unknown;
  /** The fatal issue of text that is not well-formed JSON, or not FHIR XML. */
  issue?: ValidationIssue;
}

/** The format of a text: XML when its first character after a BOM and white space is `<`. */
export function detectFormat(text: string): InputFormat {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0xfeff || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x3c ? 'xml' : 'json';
  }
  return 'json';
}

/** Parses FHIR JSON or FHIR XML text into FHIR JSON. Never throws. */
export function readFhirInput(text: string): ReadInput {
  const format = detectFormat(text);
  if (format === 'xml') {
    try {
      return { format, resource: xmlToJson(text) };
    } catch (e) {
      const detail = e instanceof FhirXmlError ? `not FHIR XML: ${e.message}` : `not FHIR XML (${(e as Error).message})`;
      return { format, issue: makeIssue(CODES.INPUT_NOT_JSON, '', { detail }) };
    }
  }
  try {
    return { format, resource: JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) };
  } catch (e) {
    return { format, issue: makeIssue(CODES.INPUT_NOT_JSON, '', { detail: `not valid JSON (${(e as Error).message})` }) };
  }
}
