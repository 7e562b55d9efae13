// What a Subscription (NdE `nde-subscription`) asks for, read once into plain settings: which
// events (criteria `CommunicationRequest?event-type=…`, else the `event-type` extension), about
// which usager (the `subject` extension: a contained Patient, matched by identifier, or a
// literal `Patient/id`), for whom (the `subscriber` extension), when (the `start` extension and
// `end`), through which channel (rest-hook, email, sms, websocket), and the project's settings
// beyond NdE (docs/notifications.md, D-103): frequency (immediate, daily or weekly digest at an
// hour of Europe/Paris) and the rest-hook signing secret.
import { isObject, type FhirResource } from '../fhir/json.js';
import type { ValidationIssue } from '../fhir/outcome/issue.js';

type Json = Record<string, unknown>;

export const NDE_CANONICAL = 'https://interop.esante.gouv.fr/ig/fhir/nde';
export const NDE_PACKAGE = 'ans.fhir.fr.nde';
export const NDE_EXT = (name: string) => `${NDE_CANONICAL}/StructureDefinition/${name}`;
export const NDE_SUBSCRIPTION = `${NDE_CANONICAL}/StructureDefinition/nde-subscription`;
export const NDE_EVENT_DECLARATION = `${NDE_CANONICAL}/StructureDefinition/nde-eventdeclaration`;
export const NDE_NOTIFICATION_REQUEST = `${NDE_CANONICAL}/StructureDefinition/nde-notificationrequest`;

/** The project's extensions of the Subscription (D-103). */
export const FREQUENCY_EXT = 'https://tddui.org/fhir/StructureDefinition/notification-frequency';
export const SECRET_EXT = 'https://tddui.org/fhir/StructureDefinition/notification-secret';

export type Frequency = 'immediate' | 'daily' | 'weekly';
export type Channel = 'rest-hook' | 'email' | 'sms' | 'websocket';
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface PersonRef {
  /** `Type/id` when the reference is literal. */
  ref?: string;
  /** The contained resource's type and identifiers (`system|value`), when contained. */
  type?: string;
  identifiers: string[];
  /** A display name. */
  name?: string;
  /**
   * A contained person without identifiers (the NdE examples' Patient): family, given names and
   * birth date, normalised (`demographicKey`), matched when there is nothing better (D-104).
   */
  key?: string;
}

/** `family|given given|birthDate`, lower-case without accents, of a person resource; undefined without a family name and birth date. */
export function demographicKey(r: Json): string | undefined {
  const n = Array.isArray(r.name) ? r.name.find(isObject) : undefined;
  const family = n && typeof n.family === 'string' ? n.family : undefined;
  const birth = typeof r.birthDate === 'string' ? r.birthDate : undefined;
  if (!family || !birth) return undefined;
  const given = n && Array.isArray(n.given) ? n.given.join(' ') : '';
  const norm = (t: string) => t.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/\s+/g, ' ').trim();
  return `${norm(family)}|${norm(given)}|${birth}`;
}

export interface SubscriptionSettings {
  id: string;
  /** requested / active: delivered; off / error: not. */
  live: boolean;
  start?: string;
  end?: string;
  /** Event types matched (`system|code` or `|code`… as tokens); empty: every type. */
  eventTypes: { system?: string; code: string }[];
  subject?: PersonRef;
  subscriber?: PersonRef;
  channel: Channel;
  endpoint?: string;
  headers: string[];
  secret?: string;
  frequency: Frequency;
  /** Hour (0–23, Europe/Paris) of the digests. */
  hour: number;
  /** Day of the weekly digest. */
  weekday: Weekday;
  resource: FhirResource;
}

function ext(r: Json, url: string): Json[] {
  return (Array.isArray(r.extension) ? r.extension : []).filter((e): e is Json => isObject(e) && e.url === url);
}

function contained(r: Json, ref: string): Json | undefined {
  if (!ref.startsWith('#')) return undefined;
  return (Array.isArray(r.contained) ? r.contained : []).find((c): c is Json => isObject(c) && c.id === ref.slice(1));
}

function nameOf(r: Json): string | undefined {
  if (typeof r.name === 'string') return r.name;
  const n = Array.isArray(r.name) ? r.name.find(isObject) : undefined;
  if (!n) return undefined;
  const given = Array.isArray(n.given) ? n.given.join(' ') : '';
  return [given, typeof n.family === 'string' ? n.family : ''].filter(Boolean).join(' ') || (typeof n.text === 'string' ? n.text : undefined);
}

/** A person named by an extension's valueReference (contained or literal). */
export function personRef(r: Json, reference: unknown): PersonRef | undefined {
  const ref = isObject(reference) && typeof reference.reference === 'string' ? reference.reference : undefined;
  if (!ref) return undefined;
  const c = contained(r, ref);
  if (c) {
    const identifiers = (Array.isArray(c.identifier) ? c.identifier : []).filter(isObject).map((i) => `${String(i.system ?? '')}|${String(i.value ?? '')}`);
    const name = nameOf(c);
    const key = identifiers.length === 0 ? demographicKey(c) : undefined;
    return { type: String(c.resourceType), identifiers, ...(name ? { name } : {}), ...(key ? { key } : {}) };
  }
  const m = /([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
  if (!m) return undefined;
  const display = isObject(reference) && typeof reference.display === 'string' ? reference.display : undefined;
  return { ref: `${m[1]}/${m[2]}`, type: m[1]!, identifiers: [], ...(display ? { name: display } : {}) };
}

/** The parameters of `CommunicationRequest?…` criteria, or an error text. */
export function parseCriteria(criteria: string): { params: { name: string; values: string[] }[] } | { error: string; errorFr: string } {
  const q = criteria.indexOf('?');
  const type = q < 0 ? criteria : criteria.slice(0, q);
  if (type !== 'CommunicationRequest') {
    return { error: `criteria must search CommunicationRequest (NdE), not "${type}"`, errorFr: `les critères doivent porter sur CommunicationRequest (NdE), pas « ${type} »` };
  }
  const params: { name: string; values: string[] }[] = [];
  for (const pair of (q < 0 ? '' : criteria.slice(q + 1)).split('&').filter(Boolean)) {
    const eq = pair.indexOf('=');
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
      value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
    } catch {
      return { error: `criteria "${criteria}" is not URL-encoded correctly`, errorFr: `les critères « ${criteria} » sont mal encodés` };
    }
    if (!['event-type', 'subject', 'patient'].includes(name)) {
      return { error: `criteria parameter "${name}" is not supported (event-type, subject, patient)`, errorFr: `le paramètre « ${name} » des critères n’est pas pris en charge (event-type, subject, patient)` };
    }
    params.push({ name, values: value.split(',').filter(Boolean) });
  }
  return { params };
}

function token(v: string): { system?: string; code: string } {
  const bar = v.indexOf('|');
  if (bar < 0) return { code: v };
  return bar === 0 ? { system: '', code: v.slice(1) } : { system: v.slice(0, bar), code: v.slice(bar + 1) };
}

const CHANNELS: Channel[] = ['rest-hook', 'email', 'sms', 'websocket'];

/** Settings of a Subscription, and the problems that make it unusable (errors) or surprising (warnings). */
export function readSubscription(s: FhirResource): { settings?: SubscriptionSettings; issues: ValidationIssue[] } {
  const r = s as Json;
  const issues: ValidationIssue[] = [];
  const err = (rule: string, expression: string, en: string, fr: string) =>
    issues.push({ severity: 'error', code: 'business-rule', rule, message: en, messageFr: fr, expression, source: 'notification' });

  const eventTypes: { system?: string; code: string }[] = [];
  let patientRef: string | undefined;
  if (typeof r.criteria === 'string') {
    const c = parseCriteria(r.criteria);
    if ('error' in c) err('nde-subscription-criteria', 'Subscription.criteria', c.error, c.errorFr);
    else
      for (const p of c.params) {
        if (p.name === 'event-type') eventTypes.push(...p.values.map(token));
        else patientRef = p.values[0];
      }
  }
  if (eventTypes.length === 0) {
    for (const e of ext(r, NDE_EXT('event-type'))) {
      for (const c of isObject(e.valueCodeableConcept) && Array.isArray(e.valueCodeableConcept.coding) ? e.valueCodeableConcept.coding : []) {
        if (isObject(c) && typeof c.code === 'string') eventTypes.push({ ...(typeof c.system === 'string' ? { system: c.system } : {}), code: c.code });
      }
    }
  }
  const subjectExt = ext(r, NDE_EXT('subject'))[0];
  let subject = subjectExt ? personRef(r, subjectExt.valueReference) : undefined;
  if (!subject && patientRef) subject = personRef(r, { reference: patientRef });
  const subscriberExt = ext(r, NDE_EXT('subscriber'))[0];
  const subscriber = subscriberExt ? personRef(r, subscriberExt.valueReference) : undefined;
  const startExt = ext(r, NDE_EXT('start'))[0];

  const ch = isObject(r.channel) ? r.channel : {};
  const channel = String(ch.type ?? '') as Channel;
  if (!CHANNELS.includes(channel)) {
    err('nde-subscription-channel', 'Subscription.channel.type', `channel type "${String(ch.type)}" is not delivered by this server (rest-hook, email, sms, websocket)`, `le canal « ${String(ch.type)} » n’est pas pris en charge par ce serveur (rest-hook, email, sms, websocket)`);
  }
  const endpoint = typeof ch.endpoint === 'string' ? ch.endpoint : undefined;
  const endpointRule: Partial<Record<Channel, [RegExp, string, string]>> = {
    'rest-hook': [/^https?:\/\/[^\s]+$/, 'an http(s) URL', 'une URL http(s)'],
    email: [/^mailto:[^@\s]+@[^@\s]+$/, 'a mailto: address', 'une adresse mailto:'],
    sms: [/^tel:\+?[0-9][0-9 .-]{5,}$/, 'a tel: number', 'un numéro tel:'],
  };
  const rule = endpointRule[channel];
  if (rule && !(endpoint && rule[0].test(endpoint))) {
    err('nde-subscription-endpoint', 'Subscription.channel.endpoint', `a ${channel} channel needs ${rule[1]} as its endpoint`, `un canal ${channel} demande ${rule[2]} comme point de terminaison`);
  }
  const headers = Array.isArray(ch.header) ? ch.header.filter((h): h is string => typeof h === 'string') : [];
  const secretExt = ext(ch, SECRET_EXT)[0];

  let frequency: Frequency = 'immediate';
  let hour = 8;
  let weekday: Weekday = 'mon';
  const f = ext(r, FREQUENCY_EXT)[0];
  if (f) {
    for (const part of Array.isArray(f.extension) ? f.extension.filter(isObject) : []) {
      if (part.url === 'frequency') {
        if (part.valueCode === 'immediate' || part.valueCode === 'daily' || part.valueCode === 'weekly') frequency = part.valueCode;
        else err('notification-frequency', 'Subscription.extension', `frequency must be immediate, daily or weekly, not "${String(part.valueCode)}"`, `la fréquence doit être immediate, daily ou weekly, pas « ${String(part.valueCode)} »`);
      } else if (part.url === 'hour') {
        if (Number.isInteger(part.valueInteger) && (part.valueInteger as number) >= 0 && (part.valueInteger as number) <= 23) hour = part.valueInteger as number;
        else err('notification-frequency', 'Subscription.extension', 'the digest hour must be an integer from 0 to 23 (Europe/Paris)', 'l’heure du résumé doit être un entier de 0 à 23 (heure de Paris)');
      } else if (part.url === 'dayOfWeek') {
        if (WEEKDAYS.includes(part.valueCode as Weekday)) weekday = part.valueCode as Weekday;
        else err('notification-frequency', 'Subscription.extension', `dayOfWeek must be one of ${WEEKDAYS.join(', ')}`, `dayOfWeek doit valoir l’un de ${WEEKDAYS.join(', ')}`);
      } else err('notification-frequency', 'Subscription.extension', `unknown part "${String(part.url)}" of the frequency extension (frequency, hour, dayOfWeek)`, `partie « ${String(part.url)} » inconnue de l’extension de fréquence (frequency, hour, dayOfWeek)`);
    }
  }
  if (issues.some((i) => i.severity === 'error')) return { issues };
  const settings: SubscriptionSettings = {
    id: String(r.id ?? ''),
    live: r.status === 'active' || r.status === 'requested',
    eventTypes,
    channel,
    headers,
    frequency,
    hour,
    weekday,
    resource: s,
  };
  if (startExt && typeof startExt.valueDateTime === 'string') settings.start = startExt.valueDateTime;
  if (typeof r.end === 'string') settings.end = r.end;
  if (subject) settings.subject = subject;
  if (subscriber) settings.subscriber = subscriber;
  if (endpoint) settings.endpoint = endpoint;
  if (secretExt && typeof secretExt.valueString === 'string') settings.secret = secretExt.valueString;
  return { settings, issues };
}

/** Whether the subscription is in force at `now` (status, start, end). */
export function inForce(s: SubscriptionSettings, now: Date): boolean {
  if (!s.live) return false;
  if (s.start && Date.parse(s.start) > now.getTime()) return false;
  if (s.end && Date.parse(s.end) <= now.getTime()) return false;
  return true;
}

/** Whether an event type is among those the subscription asks for. */
export function wantsType(s: SubscriptionSettings, type: { system: string; code: string }): boolean {
  if (s.eventTypes.length === 0) return true;
  return s.eventTypes.some((t) => t.code === type.code && (t.system === undefined || t.system === type.system));
}

// ---- Digest periods, in Europe/Paris (daylight saving time included) ----

const PARIS = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', weekday: 'short', hourCycle: 'h23' });

function parisParts(t: number): { y: number; m: number; d: number; h: number; min: number; s: number; weekday: Weekday } {
  const parts = Object.fromEntries(PARIS.formatToParts(new Date(t)).map((p) => [p.type, p.value]));
  return { y: +parts.year!, m: +parts.month!, d: +parts.day!, h: +parts.hour!, min: +parts.minute!, s: +parts.second!, weekday: parts.weekday!.toLowerCase().slice(0, 3) as Weekday };
}

/** The instant of a Paris wall-clock time (the first one when a DST change makes it twice, the next valid one when it does not exist). */
export function parisInstant(y: number, m: number, d: number, h: number): number {
  let guess = Date.UTC(y, m - 1, d, h);
  for (let i = 0; i < 3; i++) {
    const p = parisParts(guess);
    const asUtc = Date.UTC(p.y, p.m - 1, p.d, p.h, p.min, p.s);
    const offset = asUtc - guess;
    const next = Date.UTC(y, m - 1, d, h) - offset;
    if (next === guess) break;
    guess = next;
  }
  return guess;
}

/**
 * The end of the digest period an instant falls in: the next time strictly after `t` that is
 * `hour`:00 in Paris (and, weekly, on `weekday`). A digest sent at that time gathers exactly
 * the events of (previous end, end].
 */
export function digestDue(t: Date, frequency: Exclude<Frequency, 'immediate'>, hour: number, weekday: Weekday = 'mon'): Date {
  const p = parisParts(t.getTime());
  for (let add = 0; add < 9; add++) {
    const day = new Date(Date.UTC(p.y, p.m - 1, p.d + add));
    const at = parisInstant(day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), hour);
    if (at <= t.getTime()) continue;
    if (frequency === 'weekly' && parisParts(at).weekday !== weekday) continue;
    return new Date(at);
  }
  throw new Error('no digest time found');
}

/** The start of the period that ends at `due` (one day or one week before, in Paris wall-clock). */
export function periodStart(due: Date, frequency: Exclude<Frequency, 'immediate'>): Date {
  const p = parisParts(due.getTime());
  const day = new Date(Date.UTC(p.y, p.m - 1, p.d - (frequency === 'weekly' ? 7 : 1)));
  return new Date(parisInstant(day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), p.h));
}

/** A French date and time in Paris (`lundi 5 janvier 2026 à 08:00`). */
export function parisText(t: Date | string): string {
  const d = typeof t === 'string' ? new Date(t) : t;
  const date = new Intl.DateTimeFormat('fr-FR', { timeZone: 'Europe/Paris', weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }).format(d);
  const time = new Intl.DateTimeFormat('fr-FR', { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);
  return `${date} à ${time}`;
}
