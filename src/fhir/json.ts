// FHIR JSON as the whole project sees it: the one resource type and the few helpers every
// layer needs. `src/fhir/` is the bottom of the dependency table, so storage, server, ingest,
// the IG layers and the UI all take these from here (never from each other).

/** A JSON object (FHIR complex value or resource). */
export type Json = Record<string, unknown>;

/** A FHIR resource as JSON. */
export type FhirResource = {
  resourceType: string;
  id?: string;
  meta?: { versionId?: string; lastUpdated?: string; [k: string]: unknown };
  [k: string]: unknown;
};

/** A JSON object: not null, not an array. */
export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A JSON object with a string `resourceType`. */
export function isResource(v: unknown): v is FhirResource {
  return isObject(v) && typeof v.resourceType === 'string';
}

/** The value as an array: itself, `[v]`, or `[]` when absent. */
export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
}

/** JSON equality, independent of object key order. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (!isObject(a) || !isObject(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameJson(a[k], b[k]));
}

/** FHIR id syntax (R4: 1–64 of [A-Za-z0-9-.]). */
export const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;
/** A resource type name's shape (checked against the definitions where it matters). */
export const TYPE_PATTERN = /^[A-Z][A-Za-z]{1,63}$/;

/** `Type/id` (optionally `/_history/v`), relative: type and id; else undefined. */
export function parseRelativeReference(ref: string): { type: string; id: string; version?: string } | undefined {
  const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([A-Za-z0-9\-.]{1,64}))?$/.exec(ref);
  if (!m) return undefined;
  return m[3] ? { type: m[1]!, id: m[2]!, version: m[3] } : { type: m[1]!, id: m[2]! };
}
