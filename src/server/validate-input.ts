// What `$validate` validates: the body itself, or the `resource` part of a Parameters body
// (with its `profile` and `mode`). Shared by the route (src/server/fhir-api.ts) and the
// validation workers (src/server/validation-worker.ts), which read large bodies themselves.
import { isObject, type FhirResource } from '../fhir/json.js';
import { FhirError, HTTP_ERRORS } from './outcome.js';

export function validateInput(body: unknown, queryProfile: unknown): { resource: FhirResource; profile?: string } {
  const b = body as FhirResource;
  let resource = b;
  let profile = typeof queryProfile === 'string' && queryProfile !== '' ? queryProfile : undefined;
  if (b.resourceType === 'Parameters' && Array.isArray(b.parameter)) {
    const params = b.parameter as Record<string, unknown>[];
    const res = params.find((p) => p.name === 'resource');
    if (res) {
      if (!isObject(res.resource) || typeof res.resource.resourceType !== 'string') {
        throw new FhirError(HTTP_ERRORS.VALIDATE_RESOURCE_PARAM, {}, { expression: 'Parameters.parameter.resource' });
      }
      resource = res.resource as FhirResource;
      const p = params.find((x) => x.name === 'profile');
      const v = p?.valueUri ?? p?.valueCanonical ?? p?.valueString;
      if (typeof v === 'string' && v !== '') profile = v;
      const mode = params.find((x) => x.name === 'mode');
      const m = mode?.valueCode ?? mode?.valueString;
      if (m !== undefined && m !== 'create' && m !== 'update') throw new FhirError(HTTP_ERRORS.VALIDATE_MODE, { mode: String(m) });
    }
  }
  return profile ? { resource, profile } : { resource };
}
