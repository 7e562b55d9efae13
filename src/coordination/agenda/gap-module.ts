// GAP (Gestion d'agendas partagés 3.0.0) on the server core: this server is the "Gestionnaire
// d'agendas". Its CapabilityStatement gives Schedule create / update / patch / delete, Slot read
// and search, Appointment create / update (conditional on identifier) / read / search; this
// module adds what the statement cannot say:
//   - a Schedule's availabilities, recurrences and service durations must be readable (422);
//   - Slots are computed, not stored (decisions.md D-110): `computed.Slot` answers reads and
//     searches from the Schedules and the Appointments (store.ts);
//   - an Appointment that holds time (booked, pending, arrived, checked-in, fulfilled) may not
//     overlap another one of an actor who keeps an agenda here (a Schedule names them), nor name
//     a Slot its Schedule does not offer: checked inside the write's transaction, after
//     advisory locks on those agendas, so of two bookings of one slot exactly one wins and the
//     other gets a 409 OperationOutcome (D-112).
import { isObject, type FhirResource } from '../../fhir/json.js';
import { FhirError, HTTP_ERRORS } from '../../fhir/outcome/http-errors.js';
import type { ValidationIssue } from '../../fhir/outcome/issue.js';
import { declare, patientOf, type EventDeclaration, type WrittenChange } from '../../rest/events.js';
import type { IgModule } from '../../rest/modules.js';
import { lockKey } from '../../storage/keys.js';
import { search } from '../../storage/search.js';
import type { Queryable, Repository, SearchParam } from '../../storage/types.js';
import { readSchedule, refOf } from './availability.js';
import { generateSlots, occupationOf, occupyingAppointments, OCCUPYING, parseSlotId, slotId } from './slots.js';
import { AgendaStore } from './store.js';
import { UsagerAgendaSync } from './usager-agenda.js';
import { isoLocal, parseDateTime } from './time.js';

export const GAP_PACKAGE = 'ans.fhir.fr.gap';
export const GAP_APPOINTMENT_PROFILE = 'https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-fr-appointment';

function issue(rule: string, expression: string, en: string, fr: string): ValidationIssue {
  return { severity: 'error', code: 'business-rule', rule, message: en, messageFr: fr, expression, source: 'gap' };
}

export function gapModule(repo: Repository, clock: () => Date = () => new Date()): IgModule & { store: AgendaStore; usagerSync: UsagerAgendaSync } {
  const store = new AgendaStore(repo, clock);
  return {
    name: GAP_PACKAGE,
    store,
    usagerSync: new UsagerAgendaSync(repo),
    rules: (resource) => {
      if (resource.resourceType === 'Schedule') return readSchedule(resource).issues;
      if (resource.resourceType === 'Appointment') return appointmentRules(resource);
      return [];
    },
    inTransaction: async (resource, _ctx, tx) => {
      if (resource.resourceType === 'Appointment') await noDoubleBooking(resource, tx, repo);
    },
    events: appointmentEvents,
    computed: {
      Slot: {
        read: (id) => store.readSlot(id),
        search: (q) => store.searchSlots(q),
        capability: SLOT_CAPABILITY,
      },
    },
    operations: [
      { type: 'Appointment', name: 'find', documentation: 'Créneau commun (opération du projet, sur le modèle d’IHE ITI $find) : patient, practitioner (membres du cercle), duration, start, end, step, _count, rank, include-patient → rendez-vous proposés (docs/agenda.md).' },
      { type: 'Appointment', name: 'book', documentation: 'Réserve une proposition de $find : rendez-vous pending, participants needs-action.' },
      { type: 'Appointment', name: 'respond', documentation: 'Réponse d’un participant (actor, answer = accepted | declined | tentative) : tous acceptés → booked, un refus → cancelled.' },
      { type: 'Appointment', name: 'feed', documentation: 'Crée un flux iCalendar privé (subject) : URL /agenda/<jeton>.ics.' },
      { type: 'Appointment', name: 'feed-revoke', documentation: 'Révoque un flux iCalendar (url).' },
    ],
  };
}

function appointmentRules(a: FhirResource): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const start = parseDateTime(a.start);
  const end = parseDateTime(a.end);
  if (start !== undefined && end !== undefined && end <= start) {
    out.push(issue('gap-appointment-period', 'Appointment.end', 'An appointment ends after it starts', 'Un rendez-vous se termine après son début'));
  }
  return out;
}

async function inTx<T extends FhirResource>(tx: Queryable, repo: Repository, type: string, params: SearchParam[]): Promise<T[]> {
  const r = await search(tx, { resourceType: type, params, count: 1000, offset: 0, total: 'none' }, repo.searchParams);
  return r.matches.map((m) => m.resource as T);
}

/** 409 when the appointment holds time an agenda already gave, or names a slot not offered. */
async function noDoubleBooking(a: FhirResource, tx: Queryable, repo: Repository): Promise<void> {
  if (!OCCUPYING.has(String(a.status))) return;
  const start = parseDateTime(a.start);
  const end = parseDateTime(a.end) ?? (start !== undefined && typeof a.minutesDuration === 'number' ? start + a.minutesDuration * 60_000 : undefined);
  if (start === undefined || end === undefined) return;
  const actors = new Set((Array.isArray(a.participant) ? a.participant : []).filter((p) => isObject(p) && p.status !== 'declined').map((p) => refOf(isObject(p) ? p.actor : undefined)).filter((x): x is string => !!x));
  // The slots it names: generated by their Schedule, not in an unavailability; their actors' agendas are checked too.
  const slots = (Array.isArray(a.slot) ? a.slot : []).map((s, i) => ({ i, ref: refOf(s) })).filter((s) => s.ref?.startsWith('Slot/'));
  for (const { i, ref } of slots) {
    const id = ref!.slice('Slot/'.length);
    const parsed = parseSlotId(id);
    const unavailable = (en: string, fr: string) => new FhirError(HTTP_ERRORS.AGENDA_SLOT_UNAVAILABLE, { slot: ref!, detail: en, detailFr: fr }, { expression: `Appointment.slot[${i}]` });
    if (!parsed) throw unavailable('not a slot this server generates', 'ce n’est pas un créneau généré par ce serveur');
    const [schedule] = await inTx(tx, repo, 'Schedule', [{ name: '_id', values: [parsed.scheduleId] }]);
    if (!schedule) throw unavailable(`Schedule/${parsed.scheduleId} does not exist`, `Schedule/${parsed.scheduleId} n’existe pas`);
    const model = readSchedule(schedule).model;
    const slot = generateSlots(model, { start: parsed.start, end: parsed.start + 1 }, []).find((s) => s.service === parsed.service && slotId(s) === id);
    if (!slot) throw unavailable('outside its availabilities', 'hors de ses disponibilités');
    if (slot.status === 'busy-unavailable') throw unavailable('inside an unavailability', 'dans une indisponibilité');
    if (slot.start < start || slot.end > end) throw unavailable(`the appointment (${isoLocal(start)} - ${isoLocal(end)}) does not cover it`, `le rendez-vous (${isoLocal(start)} - ${isoLocal(end)}) ne le couvre pas`);
    for (const x of model.actors) actors.add(x);
  }
  if (actors.size === 0) return;
  // Only actors who keep an agenda here (a Schedule names them) are protected from double booking.
  const schedules = (await inTx(tx, repo, 'Schedule', [{ name: 'actor', values: [...actors] }])).filter((s) => s.active !== false).map((s) => readSchedule(s).model);
  const kept = [...new Set(schedules.flatMap((m) => m.actors))].filter((x) => actors.has(x)).sort();
  if (kept.length === 0) return;
  // Serialise the writers of these agendas (sorted: no deadlock between two bookings).
  const locks = kept.map((x) => lockKey('', 'Agenda', { system: 'urn:tddui:lock:agenda', value: x }));
  await tx.query('SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) WITH ORDINALITY AS t(k, n) ORDER BY n', [locks]);
  const others = await occupyingAppointments((type, params) => inTx(tx, repo, type, params), schedules, { start, end }, OCCUPYING);
  const keptSet = new Set(kept);
  for (const o of others) {
    if (o.id === a.id) continue;
    for (const m of schedules) {
      const occ = occupationOf(o, new Set(m.actors), m.id);
      if (!occ || occ.tentative || occ.start >= end || occ.end <= start) continue;
      const who = m.actors.find((x) => keptSet.has(x)) ?? kept[0]!;
      throw new FhirError(HTTP_ERRORS.AGENDA_DOUBLE_BOOKING, { actor: who, other: `Appointment/${String(o.id)}`, start: isoLocal(occ.start), end: isoLocal(occ.end) }, { expression: 'Appointment.start' });
    }
  }
}

/**
 * "Rendez-vous pris" when an Appointment becomes booked, "Rendez-vous annulé" when a booked,
 * pending or proposed one becomes cancelled (issue 15's outbox, written with the write). The
 * usager is the first Patient among the participants.
 */
export function appointmentEvents(change: WrittenChange): EventDeclaration[] {
  const r = change.resource;
  if (!r || change.resourceType !== 'Appointment') return [];
  const before = change.previous?.status;
  const patient = (Array.isArray(r.participant) ? r.participant : []).map((p) => patientOf(isObject(p) ? p.actor : undefined)).find((x) => !!x);
  const detail = { ...(typeof r.start === 'string' ? { start: r.start } : {}), ...(typeof r.end === 'string' ? { end: r.end } : {}), ...(typeof r.description === 'string' ? { title: r.description } : {}) };
  if (r.status === 'booked' && before !== 'booked') return [declare('appointmentBooked', change, patient, GAP_PACKAGE, detail)];
  if (r.status === 'cancelled' && before !== undefined && before !== 'cancelled') return [declare('appointmentCancelled', change, patient, GAP_PACKAGE, detail)];
  return [];
}

/** What /metadata says of the generated Slots (store.ts answers exactly these). */
const SLOT_CAPABILITY = {
  documentation: 'Créneaux générés à partir des disponibilités des agendas (Schedule) et des rendez-vous, jamais enregistrés (décision D-110) ; identifiant <Schedule>.<service>.<début UTC>.',
  searchInclude: ['Slot:schedule', 'Schedule:actor'],
  searchParams: [
    { name: '_id', type: 'token', documentation: 'Identifiant du créneau généré' },
    { name: 'schedule', type: 'reference', documentation: 'L’agenda ; chaînes schedule.<paramètre de Schedule> (schedule.actor, schedule.specialty…)' },
    { name: 'Schedule-actor', type: 'reference', documentation: 'L’acteur de l’agenda du créneau (GAP)' },
    { name: 'GAP_Schedule_Actor', type: 'reference', documentation: 'L’acteur de l’agenda du créneau (GAP)' },
    { name: 'start', type: 'date', documentation: 'Début (eq, ge, gt, le, lt, sa, eb) ; 93 jours au plus' },
    { name: 'GAP_Slot_earliestStart', type: 'date', documentation: 'Début au plus tôt (GAP)' },
    { name: 'GAP_Slot_latestStart', type: 'date', documentation: 'Début au plus tard (GAP)' },
    { name: 'status', type: 'token', documentation: 'free, busy, busy-tentative, busy-unavailable' },
    { name: 'service-type', type: 'token', documentation: 'Type de service' },
    { name: 'specialty', type: 'token', documentation: 'Spécialité de l’agenda' },
    { name: 'identifier', type: 'token', documentation: 'Identifiant (urn:tddui:agenda:slot|<id>)' },
  ],
};
