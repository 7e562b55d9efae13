// What a notification looks like: the NdE notification request (CommunicationRequest
// `nde-notificationrequest`) produced for one event and one subscription, and the French texts
// of the e-mails, SMS and digests sent from it.
import { isObject, type FhirResource } from '../fhir/json.js';
import type { OutboxEvent } from '../storage/outbox.js';
import { eventTypeOf } from '../rest/events.js';
import { NDE_EXT, NDE_NOTIFICATION_REQUEST, parisText, type Channel, type SubscriptionSettings } from './settings.js';

type Json = Record<string, unknown>;

/**
 * NdE's `medium` (TRE_R200-CanalCommunication). Only e-mail's code is known here (`3`, the NdE
 * example's); the other channels say theirs as text rather than guess a code (D-103).
 */
const MEDIUM_SYSTEM = 'https://mos.esante.gouv.fr/NOS/TRE_R200-CanalCommunication/FHIR/TRE-R200-CanalCommunication';
const MEDIUM: Record<Channel, Json> = {
  email: { coding: [{ system: MEDIUM_SYSTEM, code: '3', display: 'Courrier électronique' }] },
  sms: { text: 'SMS' },
  'rest-hook': { text: 'Service web (rest-hook)' },
  websocket: { text: 'Alerte dans le DUI (flux d’événements)' },
};

/** The French label of a known event type, else the code. */
export function typeLabel(system: string | undefined, code: string): string {
  return eventTypeOf(system, code)?.display ?? code;
}

/** The French label of an event's type. */
export function eventLabel(e: Pick<OutboxEvent, 'type'>): string {
  return e.type.display ?? eventTypeOf(e.type.system, e.type.code)?.display ?? e.type.code;
}

/** One line of French about an event: its type, the usager, when, and its detail's title. */
export function eventLine(e: OutboxEvent, usager?: string): string {
  const d = (e.detail ?? {}) as Json;
  const title = typeof d.title === 'string' ? ` — ${d.title}` : typeof d.text === 'string' ? ` — ${d.text}` : '';
  const who = usager ?? (typeof d.subjectName === 'string' ? d.subjectName : undefined);
  return `${eventLabel(e)}${who ? ` (usager : ${who})` : ''}, le ${parisText(e.occurred)}${title}`;
}

function containedCopy(sub: Json, ref: unknown): Json | undefined {
  const r = isObject(ref) && typeof ref.reference === 'string' ? ref.reference : '';
  if (!r.startsWith('#')) return undefined;
  const c = (Array.isArray(sub.contained) ? sub.contained : []).find((x): x is Json => isObject(x) && x.id === r.slice(1));
  return c ? structuredClone(c) : undefined;
}

function extRef(sub: Json, name: string): unknown {
  const e = (Array.isArray(sub.extension) ? sub.extension : []).find((x): x is Json => isObject(x) && x.url === NDE_EXT(name));
  return e?.valueReference;
}

/**
 * The NdE notification request of an event for a subscription: event type, time and emission
 * time, `basedOn` the subscription, the channel's medium, the usager, requester and recipient
 * (copies of the subscription's contained subject, declarant and subscriber, or references to
 * them), the recipient's endpoint, and a French text as payload.
 */
export function notificationRequest(id: string, e: OutboxEvent, s: SubscriptionSettings, emitted: string, usager?: string): FhirResource {
  const sub = s.resource as Json;
  const contained: Json[] = [];
  const refTo = (ref: unknown, fallback: string | undefined): Json | undefined => {
    const c = containedCopy(sub, ref);
    if (c) {
      contained.push(c);
      return { reference: `#${String(c.id)}` };
    }
    const literal = isObject(ref) && typeof ref.reference === 'string' ? ref.reference : fallback;
    return literal ? { reference: literal } : undefined;
  };
  const subject = refTo(extRef(sub, 'subject'), e.patient);
  const requester = refTo(extRef(sub, 'declarant'), undefined);
  const recipient = refTo(extRef(sub, 'subscriber'), undefined) ?? {};
  const cr: Json = {
    resourceType: 'CommunicationRequest',
    id,
    meta: { profile: [NDE_NOTIFICATION_REQUEST] },
    ...(contained.length ? { contained } : {}),
    extension: [
      { url: NDE_EXT('event-type'), valueCodeableConcept: { coding: [{ system: e.type.system, code: e.type.code, display: eventLabel(e) }] } },
      { url: NDE_EXT('event-time'), valueDateTime: e.occurred },
      { url: NDE_EXT('event-emission-time'), valueDateTime: emitted },
    ],
    basedOn: [{ reference: `Subscription/${s.id}` }],
    status: 'active',
    medium: [MEDIUM[s.channel]],
    ...(subject ? { subject } : {}),
    payload: [{ contentString: eventLine(e, usager) }],
    ...(requester ? { requester } : {}),
    recipient: [{ ...(s.endpoint ? { extension: [{ url: NDE_EXT('recipient-endpoint'), valueUrl: s.endpoint }] } : {}), ...recipient }],
    // NdE forbids `about` beside `subject` (event-subject: subject xor about): the version the
    // event is about is named in a note.
    ...(e.focus ? { note: [{ text: `Ressource concernée : ${e.focus}` }] } : {}),
    authoredOn: emitted,
  };
  return cr as FhirResource;
}

/** The French text of a notification request (its payload). */
export function requestText(cr: FhirResource): string {
  const p = Array.isArray(cr.payload) && isObject(cr.payload[0]) ? cr.payload[0] : {};
  return typeof p.contentString === 'string' ? p.contentString : '';
}

/** The e-mail of one event. */
export function eventEmail(cr: FhirResource): { subject: string; text: string } {
  const text = requestText(cr);
  const type = (Array.isArray(cr.extension) ? cr.extension : []).find((x): x is Json => isObject(x) && x.url === NDE_EXT('event-type'));
  const label = isObject(type?.valueCodeableConcept) && Array.isArray(type.valueCodeableConcept.coding) && isObject(type.valueCodeableConcept.coding[0]) ? String(type.valueCodeableConcept.coding[0].display ?? '') : '';
  return {
    subject: `Notification : ${label || 'événement'}`,
    text: `Bonjour,\n\n${text}.\n\nVous recevez ce message parce que vous êtes abonné(e) à ces notifications (${String((cr.basedOn as Json[] | undefined)?.[0]?.reference ?? '')}).\n`,
  };
}

const FREQUENCY_FR = { daily: 'quotidien', weekly: 'hebdomadaire' } as const;

/** The e-mail of a digest: every event of its period, in order. */
export function digestEmail(frequency: 'daily' | 'weekly', start: Date, end: Date, items: FhirResource[]): { subject: string; text: string } {
  const n = items.length;
  const lines = items.map((cr) => `- ${requestText(cr)}`);
  return {
    subject: `Résumé ${FREQUENCY_FR[frequency]} des notifications : ${n} événement${n > 1 ? 's' : ''}`,
    text: `Bonjour,\n\nVoici les ${n} événement${n > 1 ? 's' : ''} survenu${n > 1 ? 's' : ''} entre le ${parisText(start)} et le ${parisText(end)} :\n\n${lines.join('\n')}\n`,
  };
}

/** An SMS (short): the event, or the count of a digest. */
export function smsText(cr: FhirResource | undefined, digest?: { frequency: 'daily' | 'weekly'; count: number }): string {
  if (digest) return `Résumé ${FREQUENCY_FR[digest.frequency]} : ${digest.count} événement${digest.count > 1 ? 's' : ''}. Détail dans votre DUI.`;
  const t = cr ? requestText(cr) : '';
  return t.length > 300 ? `${t.slice(0, 297)}...` : t;
}
