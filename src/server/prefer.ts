// Request headers of the FHIR REST API: Prefer, If-Match / ETag, dates.
import { FhirError, HTTP_ERRORS } from './outcome.js';

export type PreferReturn = 'minimal' | 'representation' | 'OperationOutcome';

/** `Prefer: return=…` (RFC 7240, FHIR http#ops); undefined when absent or unknown. */
export function preferReturn(header: string | string[] | undefined): PreferReturn | undefined {
  const values = Array.isArray(header) ? header : header ? [header] : [];
  for (const v of values) {
    for (const part of v.split(/[,;]/)) {
      const m = /^\s*return\s*=\s*"?([A-Za-z]+)"?\s*$/.exec(part);
      if (!m) continue;
      const r = m[1]!;
      if (r === 'minimal' || r === 'representation') return r;
      if (r.toLowerCase() === 'operationoutcome') return 'OperationOutcome';
    }
  }
  return undefined;
}

export function etag(versionId: number): string {
  return `W/"${versionId}"`;
}

/** Parses `W/"3"` (or `"3"`, `3`) into 3; a 400 for anything else. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const m = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(header);
  if (!m) {
    throw new FhirError(HTTP_ERRORS.IF_MATCH_SYNTAX, { header });
  }
  return Number(m[1]);
}

/** HTTP-date (RFC 7231) of an ISO instant. */
export function httpDate(iso: string): string {
  return new Date(iso).toUTCString();
}
