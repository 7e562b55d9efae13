// Slots are generated, never stored (decisions.md D-110): from a Schedule's availabilities
// (recurrences expanded in Europe/Paris), cut on a grid of each service duration starting at
// each availability's start, and given their status from what occupies the time:
//   busy-unavailable  the slot overlaps an unavailability of the Schedule;
//   busy              it overlaps an appointment of the Schedule's actors (booked, pending,
//                     arrived, checked-in, fulfilled) or one that names the slot;
//   busy-tentative    it overlaps a proposed appointment (a request not yet confirmed);
//   free              otherwise.
// A slot's id says where it comes from: `<Schedule id>.<service index>.<UTC start yyyyMMddHHmm>`,
// so `GET /Slot/<id>` regenerates that one slot.
import { isObject, type FhirResource } from '../../fhir/json.js';
import { occurrences, overlapsAny, refOf, union, withinHorizon, type Interval, type ScheduleModel } from './availability.js';
import { isoLocal, parseDateTime } from './time.js';

export const GAP_SLOT_PROFILE = 'https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-fr-slot';
/** Identifier system of generated slots (their id, as a URN of this server's agenda). */
export const SLOT_ID_SYSTEM = 'urn:tddui:agenda:slot';

export type SlotStatus = 'free' | 'busy' | 'busy-tentative' | 'busy-unavailable';

export interface Occupation extends Interval {
  tentative: boolean;
}

export interface GeneratedSlot {
  scheduleId: string;
  /** Index of the service duration in the Schedule. */
  service: number;
  start: number;
  end: number;
  status: SlotStatus;
}

/** Appointment statuses that hold the time of their participants. */
export const OCCUPYING = new Set(['booked', 'pending', 'arrived', 'checked-in', 'fulfilled']);
export const TENTATIVE = new Set(['proposed']);

/** The time an appointment holds for one of `actors` (or for slots it names), if any. */
export function occupationOf(a: FhirResource, actors: ReadonlySet<string>, scheduleId?: string): Occupation | undefined {
  const status = String(a.status ?? '');
  if (!OCCUPYING.has(status) && !TENTATIVE.has(status)) return undefined;
  const start = parseDateTime(a.start);
  const end = parseDateTime(a.end) ?? (start !== undefined && typeof a.minutesDuration === 'number' ? start + a.minutesDuration * 60_000 : undefined);
  if (start === undefined || end === undefined || end <= start) return undefined;
  const concerns =
    (Array.isArray(a.participant) ? a.participant : []).some((p) => isObject(p) && p.status !== 'declined' && actors.has(refOf(p.actor) ?? '')) ||
    (scheduleId !== undefined && (Array.isArray(a.slot) ? a.slot : []).some((s) => parseSlotId(refOf(s)?.replace(/^Slot\//, '') ?? '')?.scheduleId === scheduleId));
  return concerns ? { start, end, tentative: TENTATIVE.has(status) } : undefined;
}

function compact(t: number): string {
  return new Date(t).toISOString().slice(0, 16).replace(/[-:T]/g, '');
}

export function slotId(s: Pick<GeneratedSlot, 'scheduleId' | 'service' | 'start'>): string {
  return `${s.scheduleId}.${s.service}.${compact(s.start)}`;
}

export function parseSlotId(id: string): { scheduleId: string; service: number; start: number } | undefined {
  const m = /^(.+)\.(\d{1,3})\.(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(id);
  if (!m) return undefined;
  const start = Date.UTC(Number(m[3]), Number(m[4]) - 1, Number(m[5]), Number(m[6]), Number(m[7]));
  return Number.isNaN(start) ? undefined : { scheduleId: m[1]!, service: Number(m[2]), start };
}

/** The slots of a Schedule whose start lies in the window, ordered by start then service. */
export function generateSlots(model: ScheduleModel, window: Interval, occupied: Occupation[]): GeneratedSlot[] {
  const w = model.active ? withinHorizon(model, window) : undefined;
  if (!w) return [];
  const horizonEnd = Math.min(model.horizon.end ?? Infinity, Infinity);
  const longest = Math.max(...model.services.map((s) => s.minutes)) * 60_000;
  // Occurrences that may hold a slot starting in the window.
  const reach = { start: w.start - 86_400_000 * 2, end: w.end + longest };
  const free: Interval[] = [];
  const unavailable: Interval[] = [];
  for (const p of model.periods) (p.kind === 'free' ? free : unavailable).push(...occurrences(p, reach));
  const un = union(unavailable);
  const busy = union(occupied.filter((o) => !o.tentative));
  const tentative = union(occupied.filter((o) => o.tentative));
  const seen = new Set<string>();
  const out: GeneratedSlot[] = [];
  model.services.forEach((svc, k) => {
    const d = svc.minutes * 60_000;
    for (const occ of free) {
      for (let t = occ.start; t + d <= occ.end; t += d) {
        if (t < w.start) continue;
        if (t >= w.end || t + d > horizonEnd) break;
        const key = `${k}|${t}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const status: SlotStatus = overlapsAny(un, t, t + d) ? 'busy-unavailable' : overlapsAny(busy, t, t + d) ? 'busy' : overlapsAny(tentative, t, t + d) ? 'busy-tentative' : 'free';
        out.push({ scheduleId: model.id, service: k, start: t, end: t + d, status });
      }
    }
  });
  return out.sort((a, b) => a.start - b.start || a.service - b.service);
}

/** A generated slot as a GAP Slot resource. */
export function slotResource(s: GeneratedSlot, model: ScheduleModel, lastUpdated: string): FhirResource {
  const id = slotId(s);
  const svc = model.services[s.service];
  return {
    resourceType: 'Slot',
    id,
    meta: { versionId: '1', lastUpdated, profile: [GAP_SLOT_PROFILE] },
    identifier: [{ system: SLOT_ID_SYSTEM, value: id }],
    ...(svc?.serviceType !== undefined ? { serviceType: [svc.serviceType] } : {}),
    ...(model.specialty !== undefined ? { specialty: model.specialty } : {}),
    schedule: { reference: `Schedule/${model.id}` },
    status: s.status,
    start: isoLocal(s.start),
    end: isoLocal(s.end),
  };
}

/** Searches resources of a type (the Repository's search, or the same inside a write's transaction). */
export type Finder = (type: string, params: { name: string; modifier?: string; values: string[] }[]) => Promise<FhirResource[]>;

/**
 * The appointments that may occupy the schedules' time in the window: those of their actors, and
 * those that name one of their slots without naming the actors (a booking by slot only).
 */
export async function occupyingAppointments(find: Finder, models: ScheduleModel[], window: Interval, statuses: Iterable<string>): Promise<FhirResource[]> {
  const actors = [...new Set(models.flatMap((m) => m.actors))];
  const dateParams = [
    { name: 'date', values: [`lt${new Date(window.end).toISOString()}`] },
    { name: 'date', values: [`ge${new Date(window.start - 2 * 86_400_000).toISOString()}`] },
  ];
  const status = { name: 'status', values: [...statuses] };
  const out = new Map<string, FhirResource>();
  if (actors.length) for (const a of await find('Appointment', [{ name: 'actor', values: actors }, status, ...dateParams])) out.set(String(a.id), a);
  // The slot ids the schedules generate around the window (every service grid).
  const ids: string[] = [];
  for (const m of models) {
    const longest = Math.max(...m.services.map((x) => x.minutes)) * 60_000;
    for (const g of generateSlots(m, { start: window.start - longest, end: window.end }, [])) ids.push(`Slot/${slotId(g)}`);
  }
  for (let i = 0; i < ids.length; i += 500) for (const a of await find('Appointment', [{ name: 'slot', values: ids.slice(i, i + 500) }, status])) out.set(String(a.id), a);
  return [...out.values()];
}
