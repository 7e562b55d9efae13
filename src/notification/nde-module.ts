// NdE (Notification d'événements, 3.0.0-ballot) on the server core, as an IG module: the
// Gestionnaire d'abonnements serves Subscription (create, update, delete by its
// CapabilityStatement; read, search and history added here, which NdE's statement does not list
// but a subscriber needs to see what they subscribed to) and accepts event declarations
// (CommunicationRequest `nde-eventdeclaration`, create). A declaration received is an event: the
// `events` hook puts it in the outbox in the same statement as the stored declaration, and the
// notification service dispatches it as any event of this platform.
import { isObject, type FhirResource } from '../fhir/json.js';
import { declaresProfile, focusOf, patientOf, type EventDeclaration, type WrittenChange } from '../rest/events.js';
import type { IgModule } from '../rest/modules.js';
import { READ_INTERACTIONS } from '../rest/served.js';
import { FREQUENCY_EXT, SECRET_EXT, NDE_EVENT_DECLARATION, NDE_EXT, NDE_PACKAGE, personRef, readSubscription } from './settings.js';

type Json = Record<string, unknown>;

export function ndeModule(): IgModule {
  return {
    name: NDE_PACKAGE,
    served: () => [
      {
        type: 'Subscription',
        interactions: [...READ_INTERACTIONS],
        documentation:
          'Abonnements NdE (nde-subscription). Extensions du projet : fréquence (immédiate, résumé quotidien ou hebdomadaire à une heure de Paris) https://tddui.org/fhir/StructureDefinition/notification-frequency, secret de signature HMAC du canal rest-hook https://tddui.org/fhir/StructureDefinition/notification-secret (docs/notifications.md). Journal de remise : GET /fhir/Subscription/{id}/$journal.',
      },
      { type: 'CommunicationRequest', interactions: [...READ_INTERACTIONS], documentation: 'Déclarations d’événements reçues (nde-eventdeclaration).' },
    ],
    ownExtensions: [FREQUENCY_EXT, SECRET_EXT],
    rules: (resource) => (resource.resourceType === 'Subscription' ? readSubscription(resource).issues : []),
    events: declarationEvents,
  };
}

/** An event declaration received (a CommunicationRequest claiming `nde-eventdeclaration`, created) is an event. */
export function declarationEvents(change: WrittenChange): EventDeclaration[] {
  const r = change.resource as Json | undefined;
  if (!r || change.resourceType !== 'CommunicationRequest' || change.outcome !== 'created' || !declaresProfile(r as FhirResource, NDE_EVENT_DECLARATION)) return [];
  const exts = Array.isArray(r.extension) ? r.extension.filter(isObject) : [];
  const typeExt = exts.find((e) => e.url === NDE_EXT('event-type'));
  const coding = isObject(typeExt?.valueCodeableConcept) && Array.isArray(typeExt.valueCodeableConcept.coding) ? typeExt.valueCodeableConcept.coding.find(isObject) : undefined;
  if (!coding || typeof coding.code !== 'string') return [];
  const time = exts.find((e) => e.url === NDE_EXT('event-time'))?.valueDateTime;
  const subject = personRef(r, r.subject);
  const payload = Array.isArray(r.payload) && isObject(r.payload[0]) ? r.payload[0] : {};
  const title = typeof payload.contentString === 'string' ? payload.contentString : isObject(payload.contentAttachment) && typeof payload.contentAttachment.title === 'string' ? payload.contentAttachment.title : undefined;
  const d: EventDeclaration = {
    type: { system: typeof coding.system === 'string' ? coding.system : '', code: coding.code, ...(typeof coding.display === 'string' ? { display: coding.display } : {}) },
    focus: focusOf(change),
    source: 'nde',
    detail: {
      ...(title ? { title } : {}),
      ...(subject?.identifiers.length ? { subjectIdentifiers: subject.identifiers } : {}),
      ...(subject?.name ? { subjectName: subject.name } : {}),
      ...(subject?.key ? { subjectKey: subject.key } : {}),
    },
  };
  if (typeof time === 'string') d.occurred = time;
  const patient = subject?.ref ? patientOf(subject.ref) : undefined;
  if (patient) d.patient = patient;
  return [d];
}
