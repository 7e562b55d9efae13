// The agendas as the database holds them: Schedules and the Appointments that occupy their
// actors' time, read through the Repository; the generated Slots (slots.ts) of one or many
// Schedules over a window; the Slot search of the GAP Gestionnaire (flows 4a / 5a: `status`,
// `start` ranges, `schedule` and its chains such as `schedule.actor:PractitionerRole.specialty`,
// `_include` of the Schedule and, iterated, of its actors) answered from generated Slots.
import { isObject, type FhirResource } from '../../fhir/json.js';
import { FhirError, HTTP_ERRORS } from '../../fhir/outcome/http-errors.js';
import type { IncludeSpec, Repository, ResourceRecord, SearchParam, SearchQuery, SearchResult } from '../../storage/types.js';
import { readSchedule, refOf, type Interval, type ScheduleModel } from './availability.js';
import { generateSlots, occupationOf, occupyingAppointments, OCCUPYING, parseSlotId, slotResource, TENTATIVE, type GeneratedSlot, type Occupation } from './slots.js';
import { isoLocal, parseDateTime } from './time.js';

const DAY = 86_400_000;
/** Longest window a Slot search or $find may span (decisions.md D-111). */
export const MAX_WINDOW_DAYS = 93;
/** Window of a Slot search that gives no upper bound. */
export const DEFAULT_WINDOW_DAYS = 31;

export function badRequest(en: string, fr: string, expression?: string): FhirError {
  return new FhirError(HTTP_ERRORS.AGENDA_BAD_REQUEST, { detail: en, detailFr: fr }, expression ? { expression } : {});
}

export interface LoadedSchedule {
  record: ResourceRecord;
  model: ScheduleModel;
}

export class AgendaStore {
  constructor(
    readonly repo: Repository,
    readonly clock: () => Date = () => new Date(),
  ) {}

  private async all(type: string, params: SearchParam[], max = 10_000): Promise<ResourceRecord[]> {
    const out: ResourceRecord[] = [];
    for (let offset = 0; ; offset += 1000) {
      const r = await this.repo.search({ resourceType: type, params, count: 1000, offset, total: 'none' });
      out.push(...r.matches);
      if (r.matches.length < 1000 || out.length >= max) return out;
    }
  }

  async schedules(params: SearchParam[]): Promise<LoadedSchedule[]> {
    return (await this.all('Schedule', params)).map((record) => ({ record, model: readSchedule(record.resource).model }));
  }

  /** The schedules whose actors include one of `actors`. */
  async schedulesOf(actors: string[]): Promise<LoadedSchedule[]> {
    return actors.length ? this.schedules([{ name: 'actor', values: actors }]) : [];
  }

  /** The actors an agenda of `subject` covers: itself, and a Practitioner's PractitionerRoles. */
  async actorRefs(subject: string): Promise<string[]> {
    const refs = [subject];
    if (subject.startsWith('Practitioner/')) {
      const roles = await this.repo.search({ resourceType: 'PractitionerRole', params: [{ name: 'practitioner', values: [subject] }], count: 1000, offset: 0, total: 'none' });
      for (const r of roles.matches) refs.push(`PractitionerRole/${r.id}`);
    }
    return refs;
  }

  /**
   * Every Appointment of these actors that may overlap the window, by start (at most `count`):
   * those starting from two days before it, since an appointment may span days.
   */
  async actorAppointments(refs: string[], window: Interval, count: number): Promise<SearchResult> {
    return this.repo.search({
      resourceType: 'Appointment',
      params: [
        { name: 'actor', values: refs },
        { name: 'date', values: [`ge${new Date(window.start - 2 * DAY).toISOString()}`] },
        { name: 'date', values: [`lt${new Date(window.end).toISOString()}`] },
      ],
      count,
      offset: 0,
      total: 'none',
      sort: ['date'],
    });
  }

  /** Appointments holding (or tentatively holding) the schedules' time around the window. */
  async appointmentsOf(models: ScheduleModel[], window: Interval): Promise<FhirResource[]> {
    return occupyingAppointments(async (type, params) => (await this.all(type, params)).map((r) => r.resource), models, window, [...OCCUPYING, ...TENTATIVE]);
  }

  /** The generated slots of the schedules (start in the window), with what occupies their actors. */
  async slotsOf(schedules: LoadedSchedule[], window: Interval): Promise<{ slot: GeneratedSlot; schedule: LoadedSchedule }[]> {
    const appointments = await this.appointmentsOf(schedules.map((s) => s.model), window);
    const out: { slot: GeneratedSlot; schedule: LoadedSchedule }[] = [];
    for (const s of schedules) {
      const mine = new Set(s.model.actors);
      const occupied = appointments.map((a) => occupationOf(a, mine, s.model.id)).filter((o): o is Occupation => !!o);
      for (const slot of generateSlots(s.model, window, occupied)) out.push({ slot, schedule: s });
    }
    return out.sort((a, b) => a.slot.start - b.slot.start || (a.schedule.model.id < b.schedule.model.id ? -1 : a.schedule.model.id > b.schedule.model.id ? 1 : 0) || a.slot.service - b.slot.service);
  }

  /** One generated Slot by id (404 when its Schedule does not generate it). */
  async readSlot(id: string): Promise<ResourceRecord> {
    const parsed = parseSlotId(id);
    const notFound = new FhirError(HTTP_ERRORS.NOT_FOUND, { type: 'Slot', id });
    if (!parsed) throw notFound;
    const schedule = await this.repo.read('Schedule', parsed.scheduleId).catch(() => undefined);
    if (!schedule) throw notFound;
    const loaded = { record: schedule, model: readSchedule(schedule.resource).model };
    const found = (await this.slotsOf([loaded], { start: parsed.start, end: parsed.start + 1 })).find((x) => x.slot.service === parsed.service && x.slot.start === parsed.start);
    if (!found) throw notFound;
    return slotRecord(found.slot, loaded);
  }

  /** The Slot search (generated Slots), as the Repository answers a search. */
  async searchSlots(q: SearchQuery): Promise<SearchResult> {
    const scheduleParams: SearchParam[] = [];
    const ignored: NonNullable<SearchResult['ignored']> = [];
    const filters: ((s: FhirResource, g: GeneratedSlot) => boolean)[] = [];
    let lo: number | undefined;
    let hi: number | undefined;
    const strict = q.handling !== 'lenient';
    const unknown = (p: SearchParam, en: string, fr: string) => {
      if (strict) throw badRequest(en, fr, p.name);
      ignored.push({ name: p.name, message: en, text: fr });
    };
    for (const p of q.params) {
      const name = p.name;
      if (name === '_id') {
        const ids = p.values.map(parseSlotId);
        scheduleParams.push({ name: '_id', values: [...new Set(ids.filter((x) => !!x).map((x) => x!.scheduleId))].concat(ids.some((x) => !x) ? ['-none-'] : []) });
        const wanted = new Set(p.values);
        filters.push((s) => wanted.has(String(s.id)));
      } else if (name === 'schedule' && !p.modifier?.includes('.')) {
        scheduleParams.push({ name: '_id', values: p.values.map((v) => v.replace(/^.*Schedule\//, '')) });
      } else if (name.startsWith('schedule.') || (name === 'schedule' && p.modifier?.startsWith('Schedule.'))) {
        // schedule.actor:PractitionerRole.specialty=X -> Schedule?actor:PractitionerRole.specialty=X
        const rest = name === 'schedule' ? p.modifier!.slice('Schedule.'.length) : name.slice('schedule.'.length) + (p.modifier ? `:${p.modifier}` : '');
        const colon = rest.indexOf(':');
        scheduleParams.push(colon < 0 ? { name: rest, values: p.values } : { name: rest.slice(0, colon), modifier: rest.slice(colon + 1), values: p.values });
      } else if (name === 'Schedule-actor' || name === 'GAP_Schedule_Actor') {
        // Listed for Slot by the GAP Gestionnaire with the definition of Schedule's actor: the actor of the slot's Schedule.
        scheduleParams.push({ name: 'actor', ...(p.modifier ? { modifier: p.modifier } : {}), values: p.values });
      } else if (name === 'start' || name === 'GAP_Slot_earliestStart' || name === 'GAP_Slot_latestStart') {
        if (p.values.length !== 1) throw badRequest(`${name}: one value per parameter (repeat the parameter for a range)`, `${name} : une valeur par paramètre (répétez le paramètre pour un intervalle)`, name);
        const r = dateBound(name, p.values[0]!);
        if (r.lo !== undefined) lo = Math.max(lo ?? -Infinity, r.lo);
        if (r.hi !== undefined) hi = Math.min(hi ?? Infinity, r.hi);
      } else if (name === 'status') {
        const wanted = new Set(p.values.map((v) => v.split('|').pop()!));
        filters.push(p.modifier === 'not' ? (_s, g) => !wanted.has(g.status) : (_s, g) => wanted.has(g.status));
      } else if (name === 'service-type' || name === 'specialty' || name === 'identifier') {
        const field = name === 'service-type' ? 'serviceType' : name;
        filters.push((s) => tokenMatch(s[field], p.values, name === 'identifier'));
      } else unknown(p, `Unknown search parameter "${name}" for the generated Slots`, `Paramètre de recherche « ${name} » inconnu pour les créneaux générés`);
    }
    const now = this.clock().getTime();
    const start = lo ?? Math.floor(now / 60_000) * 60_000;
    const end = hi ?? start + DEFAULT_WINDOW_DAYS * DAY;
    if (end - start > MAX_WINDOW_DAYS * DAY) {
      throw badRequest(`The start range spans more than ${MAX_WINDOW_DAYS} days: narrow it`, `L’intervalle de début couvre plus de ${MAX_WINDOW_DAYS} jours : réduisez-le`, 'start');
    }
    for (const s of q.sort ?? []) if (s !== 'start') unknown({ name: '_sort', values: [s] }, `Generated Slots are sorted by start only (got _sort=${s})`, `Les créneaux générés sont triés par début seulement (reçu _sort=${s})`);
    const schedules = end > start ? await this.schedules(scheduleParams) : [];
    const all = (await this.slotsOf(schedules, { start, end }))
      .map((x) => ({ ...x, resource: slotResource(x.slot, x.schedule.model, x.schedule.record.lastUpdated) }))
      .filter((x) => filters.every((f) => f(x.resource, x.slot)));
    const page = all.slice(q.offset, q.offset + q.count);
    const included = await this.includes(q.include ?? [], page.map((x) => x.schedule), strict, ignored);
    if (q.revinclude?.length) for (const r of q.revinclude) unknown({ name: '_revinclude', values: [`${r.sourceType}:${r.param}`] }, 'Generated Slots have no _revinclude', 'Les créneaux générés n’ont pas de _revinclude');
    const matches = page.map((x) => ({ resourceType: 'Slot', id: String(x.resource.id), versionId: 1, lastUpdated: x.schedule.record.lastUpdated, deleted: false, resource: x.resource }));
    return { ...(q.total === 'none' ? {} : { total: all.length }), matches, included, ...(ignored.length ? { ignored } : {}) };
  }

  private async includes(specs: IncludeSpec[], schedules: LoadedSchedule[], strict: boolean, ignored: NonNullable<SearchResult['ignored']>): Promise<ResourceRecord[]> {
    const out = new Map<string, ResourceRecord>();
    let withSchedules = false;
    for (const inc of specs) {
      if (inc.sourceType === 'Slot' && (inc.param === 'schedule' || inc.param === '*')) withSchedules = true;
      else if (!(inc.sourceType === 'Schedule' && (inc.param === 'actor' || inc.param === '*'))) {
        const en = `Generated Slots include their Schedule (Slot:schedule) and its actors (Schedule:actor), not ${inc.sourceType}:${inc.param}`;
        const fr = `Les créneaux générés incluent leur agenda (Slot:schedule) et ses acteurs (Schedule:actor), pas ${inc.sourceType}:${inc.param}`;
        if (strict) throw badRequest(en, fr, '_include');
        ignored.push({ name: '_include', message: en, text: fr });
      }
    }
    if (!withSchedules) return [];
    for (const s of schedules) out.set(`Schedule/${s.model.id}`, s.record);
    const actorSpec = specs.find((i) => i.sourceType === 'Schedule');
    if (actorSpec) {
      for (const s of schedules) {
        for (const a of s.model.actors) {
          if (out.has(a) || (actorSpec.targetType && !a.startsWith(`${actorSpec.targetType}/`))) continue;
          const [type, id] = a.split('/') as [string, string];
          const rec = await this.repo.read(type, id).catch(() => undefined);
          if (rec) out.set(a, rec);
        }
      }
    }
    return [...out.values()];
  }
}

export function slotRecord(slot: GeneratedSlot, s: LoadedSchedule): ResourceRecord {
  const resource = slotResource(slot, s.model, s.record.lastUpdated);
  return { resourceType: 'Slot', id: String(resource.id), versionId: 1, lastUpdated: s.record.lastUpdated, deleted: false, resource };
}

/** The [lo, hi) bound a `start` value sets on slot starts (prefix and precision as FHIR dates). */
export function dateBound(name: string, raw: string): { lo?: number; hi?: number } {
  const m = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(.+)$/.exec(raw);
  const prefix = m?.[1] ?? 'eq';
  const value = m?.[2] ?? '';
  const low = parseDateTime(value);
  if (low === undefined || prefix === 'ne' || prefix === 'ap') {
    throw badRequest(`${name}: "${raw}" is not a date with a prefix among eq, gt, ge, lt, le, sa, eb`, `${name} : « ${raw} » n’est pas une date précédée de eq, gt, ge, lt, le, sa ou eb`, name);
  }
  const high = precisionEnd(value, low);
  switch (prefix) {
    case 'ge':
      return { lo: low };
    case 'gt':
    case 'sa':
      return { lo: high };
    case 'le':
      return { hi: high };
    case 'lt':
    case 'eb':
      return { hi: low };
    default:
      return { lo: low, hi: high };
  }
}

/** The end (exclusive) of the range a date of some precision covers. */
function precisionEnd(value: string, low: number): number {
  if (/^\d{4}$/.test(value)) return parseDateTime(`${Number(value) + 1}`)!;
  if (/^\d{4}-\d{2}$/.test(value)) {
    const [y, mo] = value.split('-').map(Number) as [number, number];
    return parseDateTime(mo === 12 ? `${y + 1}-01` : `${y}-${String(mo + 1).padStart(2, '0')}`)!;
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return parseDateTime(isoLocal(low + DAY + 3 * 3_600_000).slice(0, 10))!;
  if (/T\d{2}:\d{2}$|T\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$/.test(value)) return low + 60_000;
  return low + 1000;
}

function tokenMatch(field: unknown, values: string[], identifier: boolean): boolean {
  const items = Array.isArray(field) ? field : field === undefined ? [] : [field];
  const codes: { system?: string; code?: string }[] = [];
  for (const it of items) {
    if (!isObject(it)) continue;
    if (identifier) codes.push({ ...(typeof it.system === 'string' ? { system: it.system } : {}), ...(typeof it.value === 'string' ? { code: it.value } : {}) });
    for (const c of Array.isArray(it.coding) ? it.coding : []) if (isObject(c)) codes.push({ ...(typeof c.system === 'string' ? { system: c.system } : {}), ...(typeof c.code === 'string' ? { code: c.code } : {}) });
  }
  return values.some((v) => {
    const bar = v.indexOf('|');
    const system = bar < 0 ? undefined : v.slice(0, bar);
    const code = bar < 0 ? v : v.slice(bar + 1);
    return codes.some((c) => c.code === code && (system === undefined || (system === '' ? !c.system : c.system === system)));
  });
}

export { refOf };
