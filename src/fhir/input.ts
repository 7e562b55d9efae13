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

/** 1-based line and column of an offset in a text. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: end - start + 1 };
}

/**
 * What JSON.parse said about `text`, in English (V8's own message, with the line and column
 * when it gives none) and in French (the line and column, and whether the text stops early).
 */
export function describeJsonSyntaxError(text: string, e: Error): { detail: string; detailFr: string } {
  const msg = e.message;
  // V8 names the offset ("at position 17"); the end of the text otherwise (truncated input).
  const pos = /position (\d+)/.exec(msg);
  const at = lineColumn(text, pos ? Number(pos[1]) : text.length);
  return {
    detail: `${msg}${pos ? '' : `; line ${at.line}, column ${at.column}`}`,
    detailFr: `ligne ${at.line}, colonne ${at.column}${pos ? '' : ' : le texte s’arrête avant la fin du JSON'}`,
  };
}

/** Parses FHIR JSON or FHIR XML text into FHIR JSON. Never throws. */
export function readFhirInput(text: string): ReadInput {
  const format = detectFormat(text);
  if (format === 'xml') {
    try {
      return { format, resource: xmlToJson(text) };
    } catch (e) {
      const xmlError = e instanceof FhirXmlError ? e : undefined;
      const detail = xmlError ? `not FHIR XML: ${xmlError.message}` : `not FHIR XML (${(e as Error).message})`;
      const detailFr = xmlError ? `ce n’est pas du XML FHIR : ${xmlError.messageFr}` : `ce n’est pas du XML FHIR (exception « ${(e as Error).message} »)`;
      return { format, issue: makeIssue(CODES.INPUT_NOT_JSON, xmlError?.path ?? '', { detail, detailFr }) };
    }
  }
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return { format, resource: JSON.parse(body) };
  } catch (e) {
    if (body.trim() === '') return { format, issue: makeIssue(CODES.INPUT_NOT_JSON, '', { detail: 'the file is empty', detailFr: 'le fichier est vide' }) };
    const d = describeJsonSyntaxError(body, e as Error);
    return { format, issue: makeIssue(CODES.INPUT_NOT_JSON, '', { detail: `not valid JSON (${d.detail})`, detailFr: `JSON mal formé (${d.detailFr})` }) };
  }
}
