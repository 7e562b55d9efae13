// The base R4 parameter set, for callers that have no IG-specific set (tests, tools). The
// definitions, the compiler and the extraction live in src/fhir/search/parameters.ts; the
// repository is given its set (`openRepository({ searchParams })`).
import type { Json } from '../fhir/json.js';
import { baseParameterSet, type IndexRows, type ParamDef } from '../fhir/search/parameters.js';

export { normalizeString, type IndexRows, type ParamDef, type IndexedType } from '../fhir/search/parameters.js';
export { parseRelativeReference } from '../fhir/json.js';

/** The base definition of a search parameter for a type (or a system-level one), if indexed. */
export function paramDef(resourceType: string | undefined, name: string): ParamDef | undefined {
  return baseParameterSet().get(resourceType, name);
}

/** Every base indexed parameter of a type (common ones included). */
export function paramsOf(resourceType: string): ParamDef[] {
  return baseParameterSet().of(resourceType);
}

/** Index rows of one resource with the base parameters. */
export function extractIndex(resource: Json): IndexRows {
  return baseParameterSet().extract(resource);
}
