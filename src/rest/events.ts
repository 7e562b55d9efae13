// The event vocabulary of the platform and the composition of the IG modules' event hooks.
//
// A module states what a write MEANS (IgModule.events in modules.ts): "this Encounter version
// starts a séjour", "this CareTeam version adds a member". The write path records those events
// in the outbox in the same statement as the write (storage/outbox.ts, unit-of-work.ts), and the
// notification service (src/notification/) turns them into NdE notification requests.
//
// Codes: NdE binds its event type to JDV J46 (codes of TRE_R254-TypeEvenement); J46 has nothing
// for circles, projets personnalisés or agendas, so the project has its own code system
// (docs/notifications.md, decision D-100), carried in the same `event-type` slot.
import { isObject, type FhirResource, type Json } from '../fhir/json.js';
import type { EventDeclaration, EventSource, WrittenChange } from '../storage/outbox.js';
import type { IgModule } from './modules.js';

export type { EventDeclaration, WrittenChange } from '../storage/outbox.js';

/** TRE_R254-TypeEvenement: the code system of JDV J46 (NdE's event types). */
export const J46_SYSTEM = 'https://mos.esante.gouv.fr/NOS/TRE_R254-TypeEvenement/FHIR/TRE-R254-TypeEvenement';
/** The project's own event types (D-100): what J46 has no code for. */
export const PROJECT_EVENT_SYSTEM = 'https://tddui.org/fhir/CodeSystem/evenement-coordination';

export interface EventType {
  system: string;
  code: string;
  /** French display (shown in notifications and in the UI). */
  display: string;
  /** English text (catalogues, logs). */
  en: string;
}

/** Every event type the platform emits, by a short key. */
export const EVENT_TYPES = {
  // JDV J46 (NdE) — the codes this platform emits; a declaration received may carry others.
  admission: { system: J46_SYSTEM, code: 'ADM', display: 'Admission d’un usager dans l’établissement', en: 'Admission of a usager' },
  sortie: { system: J46_SYSTEM, code: 'SOR', display: 'Sortie d’un patient de l’établissement de santé', en: 'Discharge of a usager' },
  document: { system: J46_SYSTEM, code: 'DOC', display: 'Nouveau document', en: 'New document' },
  note: { system: J46_SYSTEM, code: 'NOT', display: 'Nouvelle note dans le cahier de liaison', en: 'New note in the liaison notebook' },
  // The project's code system (D-100).
  circleMemberAdded: { system: PROJECT_EVENT_SYSTEM, code: 'circle-member-added', display: 'Membre ajouté au cercle de soins', en: 'Member added to a circle of care' },
  circleMemberRemoved: { system: PROJECT_EVENT_SYSTEM, code: 'circle-member-removed', display: 'Membre retiré du cercle de soins', en: 'Member removed from a circle of care' },
  ppNewVersion: { system: PROJECT_EVENT_SYSTEM, code: 'pp-new-version', display: 'Nouvelle version du projet personnalisé', en: 'New version of the projet personnalisé' },
  ppReviewDue: { system: PROJECT_EVENT_SYSTEM, code: 'pp-review-due', display: 'Révision du projet personnalisé à échéance', en: 'Review of the projet personnalisé due' },
  appointmentBooked: { system: PROJECT_EVENT_SYSTEM, code: 'appointment-booked', display: 'Rendez-vous pris', en: 'Appointment booked' },
  appointmentCancelled: { system: PROJECT_EVENT_SYSTEM, code: 'appointment-cancelled', display: 'Rendez-vous annulé', en: 'Appointment cancelled' },
} as const satisfies Record<string, EventType>;

export type EventKey = keyof typeof EVENT_TYPES;

/** The known event type of a system and code (undefined for a code declared by another system). */
export function eventTypeOf(system: string | undefined, code: string): EventType | undefined {
  return Object.values(EVENT_TYPES).find((t) => t.code === code && (system === undefined || t.system === system));
}

/** `Type/id/_history/v`: the version a change wrote. */
export function focusOf(change: WrittenChange): string {
  return `${change.resourceType}/${change.id}/_history/${change.versionId}`;
}

/** `Patient/<id>` from a reference (`Patient/x`, an absolute URL ending so, with or without a version), else undefined. */
export function patientOf(reference: unknown): string | undefined {
  const ref = isObject(reference) && typeof reference.reference === 'string' ? reference.reference : typeof reference === 'string' ? reference : undefined;
  const m = ref ? /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref) : null;
  return m ? `Patient/${m[1]}` : undefined;
}

/** An event declaration of a known type about a change (`detail.text` in French, when given). */
export function declare(key: EventKey, change: WrittenChange, patient: string | undefined, source: string, detail?: Json): EventDeclaration {
  const t = EVENT_TYPES[key];
  const d: EventDeclaration = { type: { system: t.system, code: t.code, display: t.display }, focus: focusOf(change), source, occurred: change.lastUpdated };
  if (patient) d.patient = patient;
  if (detail) d.detail = detail;
  return d;
}

/** Whether a resource declares a profile starting with `canonical`. */
export function declaresProfile(r: FhirResource | undefined, canonical: string): boolean {
  const p = r && isObject(r.meta) && Array.isArray(r.meta.profile) ? r.meta.profile : [];
  return p.some((x) => typeof x === 'string' && x.startsWith(canonical));
}

/**
 * The event source of a server: every module's `events` on every change of a plan, in module
 * order. A module that throws breaks the write (an event it meant would be lost otherwise).
 */
export function eventSourceOf(modules: readonly IgModule[]): EventSource | undefined {
  const hooks = modules.filter((m) => m.events).map((m) => ({ name: m.name, events: m.events!.bind(m) }));
  if (hooks.length === 0) return undefined;
  return (changes) => {
    const out: EventDeclaration[] = [];
    for (const c of changes) for (const h of hooks) for (const e of h.events(c)) out.push({ source: h.name, ...e });
    return out;
  };
}
