// `Appointment/$find`: the common free slot of several professionals of a usager's circle (and
// of the usager), the project's own operation modelled on IHE ITI Scheduling's `$find`
// (docs/agenda.md). The cadre d'urbanisation leaves this block "à l'étude"; GAP defines no
// operation for it.
//
//   free(professional) = their Schedules' availabilities - unavailabilities - the appointments
//                        that hold (or tentatively hold) their time
//   free(usager)       = the window - the usager's appointments (a usager keeps no Schedule;
//                        with one, its availabilities count as for a professional)
//   proposals          = starts on a grid of `step` minutes (Europe/Paris wall clock) where
//                        [start, start + duration) lies in every participant's free time,
//                        earliest first (`rank=earliest`), or the earliest of each common free
//                        period (`rank=spread`: fewer, more different proposals)
//
// Booking a proposal (`$book`) creates a `pending` Appointment whose participants are
// `needs-action`; each answers (`$respond`): all required accepted -> `booked`, one required
// declined -> `cancelled` (its time freed).
import { isObject, type FhirResource } from '../../fhir/json.js';
import { FhirError, HTTP_ERRORS } from '../../fhir/outcome/http-errors.js';
import type { Repository } from '../../storage/types.js';
import { availableTime, intersect, refOf, subtract, union, type Interval } from './availability.js';
import { GAP_APPOINTMENT_PROFILE } from './gap-module.js';
import { occupationOf, OCCUPYING, TENTATIVE, type Occupation } from './slots.js';
import { AgendaStore, badRequest, MAX_WINDOW_DAYS } from './store.js';
import { isoLocal } from './time.js';

export interface FindRequest {
  patient: string;
  /** `Practitioner/…` or `PractitionerRole/…` wanted. */
  professionals: string[];
  minutes: number;
  window: Interval;
  /** Grid of the starts, minutes (divides 60). Default 15. */
  step?: number;
  /** Max proposals. Default 10. */
  count?: number;
  rank?: 'earliest' | 'spread';
  /** Whether the usager's own appointments count (default true). */
  withPatient?: boolean;
}

export const STEPS = [5, 10, 15, 20, 30, 60];

/** The free time of each participant and the proposals (pure: everything already loaded). */
export function commonFree(free: Interval[][], req: Pick<FindRequest, 'minutes' | 'window' | 'step' | 'count' | 'rank'>): Interval[] {
  let common: Interval[] = [req.window];
  for (const f of free) common = intersect(common, f);
  const d = req.minutes * 60_000;
  const step = (req.step ?? 15) * 60_000;
  const max = req.count ?? 10;
  const out: Interval[] = [];
  for (const c of common) {
    // Offsets of Europe/Paris are whole hours: a UTC grid of a divisor of 60 minutes is the local grid.
    for (let t = Math.ceil(c.start / step) * step; t + d <= c.end; t += step) {
      out.push({ start: t, end: t + d });
      if (out.length >= max) return out;
      if (req.rank === 'spread') break;
    }
  }
  return out;
}

/** Free time of a participant: availabilities (when they keep a Schedule) minus what occupies them. */
export function freeTime(available: Interval[] | undefined, window: Interval, occupied: Occupation[]): Interval[] {
  const base = available ?? [window];
  return subtract(base, union(occupied.map((o) => ({ start: o.start, end: o.end }))));
}

/** Active members of the usager's circles (CareTeam participants whose period covers now), with the Practitioners behind their roles. */
export async function circleMembers(repo: Repository, patient: string, now: Date): Promise<Set<string>> {
  const at = now.toISOString();
  const teams = await repo.search({ resourceType: 'CareTeam', params: [{ name: 'patient', values: [patient] }], count: 1000, offset: 0, total: 'none' });
  const members = new Set<string>();
  for (const { resource: t } of teams.matches) {
    if (t.status !== undefined && t.status !== 'active') continue;
    for (const p of Array.isArray(t.participant) ? t.participant : []) {
      if (!isObject(p)) continue;
      const period = isObject(p.period) ? p.period : {};
      if (typeof period.start === 'string' && period.start > at) continue;
      if (typeof period.end === 'string' && period.end <= at) continue;
      const m = refOf(p.member);
      if (m) members.add(m);
    }
  }
  // A PractitionerRole member makes its Practitioner a member too.
  const roles = [...members].filter((m) => m.startsWith('PractitionerRole/')).map((m) => m.slice('PractitionerRole/'.length));
  if (roles.length) {
    const r = await repo.search({ resourceType: 'PractitionerRole', params: [{ name: '_id', values: roles }], count: 1000, offset: 0, total: 'none' });
    for (const { resource } of r.matches) {
      const pr = refOf(resource.practitioner);
      if (pr) members.add(pr);
    }
  }
  return members;
}

export interface FindResult {
  proposals: FhirResource[];
  /** Per participant, the free periods found (for the UI and the tests). */
  free: Map<string, Interval[]>;
}

/** Runs `$find` against the database. */
export async function findCommonSlots(store: AgendaStore, req: FindRequest): Promise<FindResult> {
  if (!/^Patient\/[A-Za-z0-9\-.]{1,64}$/.test(req.patient)) throw badRequest('patient must be a Patient reference (Patient/id)', 'patient doit désigner un Patient (Patient/id)', 'patient');
  if (req.professionals.length === 0) throw badRequest('Name at least one professional (parameter practitioner)', 'Indiquez au moins un professionnel (paramètre practitioner)', 'practitioner');
  if (!Number.isInteger(req.minutes) || req.minutes < 5 || req.minutes > 24 * 60) throw badRequest('duration is a whole number of minutes between 5 and 1440', 'duration est un nombre entier de minutes entre 5 et 1440', 'duration');
  if (req.step !== undefined && !STEPS.includes(req.step)) throw badRequest(`step is one of ${STEPS.join(', ')} minutes`, `step vaut ${STEPS.join(', ')} minutes`, 'step');
  if (!(req.window.end > req.window.start)) throw badRequest('The window ends after it starts (start, end)', 'La période se termine après son début (start, end)', 'end');
  if (req.window.end - req.window.start > MAX_WINDOW_DAYS * 86_400_000) throw badRequest(`The window spans more than ${MAX_WINDOW_DAYS} days`, `La période couvre plus de ${MAX_WINDOW_DAYS} jours`, 'end');
  await store.repo.read('Patient', req.patient.slice('Patient/'.length));
  const members = await circleMembers(store.repo, req.patient, store.clock());
  for (const p of req.professionals) {
    if (!members.has(p)) throw new FhirError(HTTP_ERRORS.AGENDA_NOT_A_MEMBER, { member: p, patient: req.patient }, { expression: 'practitioner' });
  }
  const participants = [...new Set(req.professionals)];
  const withPatient = req.withPatient !== false;
  const everyone = withPatient ? [...participants, req.patient] : participants;
  const schedules = await store.schedulesOf(everyone);
  const appointments = await store.appointmentsOf(schedules.map((s) => s.model), req.window);
  // The usager's own appointments (they keep no Schedule, usually).
  const direct = await store.repo.search({
    resourceType: 'Appointment',
    params: [
      { name: 'actor', values: everyone },
      { name: 'status', values: [...OCCUPYING, ...TENTATIVE] },
      { name: 'date', values: [`lt${new Date(req.window.end).toISOString()}`] },
      { name: 'date', values: [`ge${new Date(req.window.start - 2 * 86_400_000).toISOString()}`] },
    ],
    count: 1000,
    offset: 0,
    total: 'none',
  });
  const all = new Map<string, FhirResource>();
  for (const a of [...appointments, ...direct.matches.map((m) => m.resource)]) all.set(String(a.id), a);
  const free = new Map<string, Interval[]>();
  for (const who of everyone) {
    const mine = schedules.filter((s) => s.model.actors.includes(who));
    const isPatient = who === req.patient;
    if (!isPatient && mine.length === 0) {
      throw badRequest(`${who} keeps no agenda (Schedule) on this server: no free time can be found for them`, `${who} n’a pas d’agenda (Schedule) sur ce serveur : aucun créneau libre ne peut être trouvé`, 'practitioner');
    }
    const available = mine.length ? union(mine.flatMap((s) => availableTime(s.model, req.window).free)) : undefined;
    const occupied: Occupation[] = [];
    for (const a of all.values()) {
      const o = occupationOf(a, new Set([who]), undefined) ?? mine.map((s) => occupationOf(a, new Set(s.model.actors), s.model.id)).find((x) => !!x);
      if (o) occupied.push(o);
    }
    free.set(who, freeTime(available, req.window, occupied));
  }
  const slots = commonFree([...free.values()], req);
  const proposals = slots.map((s) => proposal(req, participants, withPatient, s));
  return { proposals, free };
}

/** A proposal as an Appointment (status `proposed`, participants `needs-action`), not stored. */
export function proposal(req: FindRequest, professionals: string[], withPatient: boolean, s: Interval): FhirResource {
  const actors = withPatient ? [req.patient, ...professionals] : [...professionals, req.patient];
  return {
    resourceType: 'Appointment',
    meta: { profile: [GAP_APPOINTMENT_PROFILE] },
    status: 'proposed',
    description: 'Créneau commun proposé',
    start: isoLocal(s.start),
    end: isoLocal(s.end),
    minutesDuration: req.minutes,
    participant: actors.map((a) => ({ actor: { reference: a }, required: 'required', status: 'needs-action' })),
    requestedPeriod: [{ start: isoLocal(req.window.start), end: isoLocal(req.window.end) }],
  };
}

/** What `$book` stores: the proposal, `pending`, every participant `needs-action` but the booker (accepted). */
export function bookingOf(p: FhirResource, booker: string | undefined): FhirResource {
  const parts = (Array.isArray(p.participant) ? p.participant : []).filter(isObject).map((x) => ({ ...x, status: booker && refOf(x.actor) === booker ? 'accepted' : 'needs-action' }));
  const out: FhirResource = { ...p, status: 'pending', participant: parts, created: new Date().toISOString().slice(0, 10) };
  delete out.id;
  if (!out.meta || !isObject(out.meta)) out.meta = { profile: [GAP_APPOINTMENT_PROFILE] };
  return out;
}

/** A participant's answer, and the appointment's status that follows (all required accepted: booked; a required one declined: cancelled). */
export function respond(a: FhirResource, actor: string, answer: 'accepted' | 'declined' | 'tentative'): FhirResource {
  let found = false;
  const parts = (Array.isArray(a.participant) ? a.participant : []).map((p) => {
    if (isObject(p) && refOf(p.actor) === actor) {
      found = true;
      return { ...p, status: answer };
    }
    return p;
  });
  if (!found) throw badRequest(`${actor} is not a participant of this appointment`, `${actor} ne participe pas à ce rendez-vous`, 'actor');
  const required = parts.filter((p) => isObject(p) && p.required !== 'optional' && p.required !== 'information-only') as Record<string, unknown>[];
  let status = String(a.status);
  if (status === 'pending' || status === 'proposed' || status === 'booked') {
    if (required.some((p) => p.status === 'declined')) status = 'cancelled';
    else if (required.every((p) => p.status === 'accepted')) status = 'booked';
    else status = 'pending';
  }
  return { ...a, participant: parts, status };
}
