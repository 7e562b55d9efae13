// When is a projet personnalisé (a TDDUI CarePlan) *validated*? (D-123, D-150.) One definition
// for the UI's PPA versions, the PDF header and the write path's frozen rule: an active CarePlan
// whose supportingInfo names an active accord (Consent) signed by the usager or a relative
// (performer Patient or RelatedPerson), not only by the structure.
import { isObject, type FhirResource } from '../fhir/json.js';

/** `Type/id` of a reference (absolute URLs and `/_history/n` reduced), else undefined. */
export function referenceKey(reference: unknown): string | undefined {
  if (typeof reference !== 'string') return undefined;
  const parts = reference.split('?')[0]!.split('/');
  const h = parts.indexOf('_history');
  const p = h >= 0 ? parts.slice(0, h) : parts;
  if (p.length < 2) return undefined;
  const type = p[p.length - 2]!;
  const id = p[p.length - 1]!;
  return /^[A-Z][A-Za-z]+$/.test(type) && id ? `${type}/${id}` : undefined;
}

/** The `Type/id` keys of a reference or a list of them. */
export function referenceKeys(v: unknown): string[] {
  return (Array.isArray(v) ? v : [v]).map((x) => (isObject(x) ? referenceKey(x.reference) : undefined)).filter((x): x is string => !!x);
}

/** The usager's accord: an active Consent signed by the usager (Patient) or a relative (RelatedPerson). */
export function isUsagerAccord(consent: FhirResource | undefined): boolean {
  return !!consent && consent.resourceType === 'Consent' && consent.status === 'active' && referenceKeys(consent.performer).some((k) => k.startsWith('Patient/') || k.startsWith('RelatedPerson/'));
}

/** The accords that validate a CarePlan (none when it is not active), looked up by `Type/id`. */
export function validatingAccords(carePlan: FhirResource, byKey: (key: string) => FhirResource | undefined): FhirResource[] {
  if (carePlan.status !== 'active') return [];
  return referenceKeys(carePlan.supportingInfo)
    .map(byKey)
    .filter((c): c is FhirResource => isUsagerAccord(c));
}
