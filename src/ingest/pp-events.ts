// The "new version of the projet personnalisé" event of TDDUI ingestion (issue 17, h15's outbox).
import { isObject, type FhirResource } from '../fhir/json.js';
import { declare, patientOf, type EventDeclaration, type WrittenChange } from '../rest/events.js';
import { TDDUI_PACKAGE } from '../tddui/ig.js';

/** TDDUI profiles of the projet personnalisé's elements (D-127). */
const PP_PROFILE = /\/StructureDefinition\/tddui-(careplan-projet-personnalise|goal-(attente|objectif)|task-(action|moyen-ressource|prestation|bilan)|consent-accord|service-?request[\w-]*)(\|.*)?$/;

function ppPatient(r: FhirResource): string | undefined {
  return patientOf(r.subject) ?? patientOf(r.for) ?? patientOf(r.patient);
}

/**
 * "New version of the projet personnalisé" (`pp-new-version`): one event per usager whose PP
 * elements a plan changed (a TDDUI resend or enrichment) — a plan-level rule, since a PPA
 * version is every element written by one plan (D-123); an identical resend writes nothing and
 * says nothing. The focus is the CarePlan when it changed, else the first element written.
 */
export function ppVersionEvents(changes: readonly WrittenChange[]): EventDeclaration[] {
  const byPatient = new Map<string, WrittenChange[]>();
  for (const c of changes) {
    const r = c.resource ?? c.previous;
    const profiles = r && isObject(r.meta) && Array.isArray(r.meta.profile) ? r.meta.profile : [];
    if (!r || !profiles.some((p) => typeof p === 'string' && PP_PROFILE.test(p))) continue;
    const patient = ppPatient(r);
    if (patient) byPatient.set(patient, [...(byPatient.get(patient) ?? []), c]);
  }
  return [...byPatient.entries()].map(([patient, cs]) => {
    const focus = cs.find((c) => c.resourceType === 'CarePlan') ?? cs[0]!;
    return declare('ppNewVersion', focus, patient, TDDUI_PACKAGE, { elements: cs.length, text: `Nouvelle version du projet personnalisé (${cs.length} élément${cs.length > 1 ? 's' : ''} modifié${cs.length > 1 ? 's' : ''})` });
  });
}

