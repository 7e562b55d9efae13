// A GAP Schedule read as a model the slot generator can use: its availabilities and
// unavailabilities (FR Core `fr-core-schedule-availability-time`: type free / busy-unavailable,
// start / end, an optional recurrence rule in iCalendar terms), its service durations (FR Core
// `fr-core-service-type-duration`), its actors and planning horizon. Recurrences are expanded
// by the `rrule` library on wall-clock time in Europe/Paris (time.ts): an availability "every
// Monday 09:00-12:00" stays 09:00-12:00 local across the daylight-saving changes.
import rrulePkg from 'rrule';
import type { Options as RRuleOptions, RRule as RRuleType } from 'rrule';
import { isObject, type FhirResource } from '../../fhir/json.js';
import type { ValidationIssue } from '../../fhir/outcome/issue.js';
import { fromWall, parseDateTime, PARIS, toWall } from './time.js';

const { RRule, Weekday } = rrulePkg;

export const AVAILABILITY_URL = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-schedule-availability-time';
export const SERVICE_DURATION_URL = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-service-type-duration';
/** Slot length when a Schedule states no service duration (decisions.md D-111). */
export const DEFAULT_SLOT_MINUTES = 30;

type Json = Record<string, unknown>;

export interface Interval {
  /** Instants, ms since the epoch; [start, end). */
  start: number;
  end: number;
}

export interface AvailabilityPeriod {
  /** Index in Schedule.extension (for error locations). */
  at: number;
  identifier?: string;
  kind: 'free' | 'busy-unavailable';
  /** The first occurrence, as wall-clock times (time.ts). */
  startWall: number;
  endWall: number;
  rule?: RRuleType;
}

export interface ServiceDuration {
  serviceType?: unknown;
  minutes: number;
}

export interface ScheduleModel {
  id: string;
  active: boolean;
  /** `Type/id` of the actors (relative references; absolute ones keep their last two segments). */
  actors: string[];
  horizon: { start?: number; end?: number };
  periods: AvailabilityPeriod[];
  services: ServiceDuration[];
  specialty?: unknown;
}

const FREQ: Record<string, number> = {
  YEARLY: RRule.YEARLY,
  MONTHLY: RRule.MONTHLY,
  WEEKLY: RRule.WEEKLY,
  DAILY: RRule.DAILY,
  HOURLY: RRule.HOURLY,
  MINUTELY: RRule.MINUTELY,
  SECONDLY: RRule.SECONDLY,
};
const DAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];

function issue(rule: string, expression: string, en: string, fr: string): ValidationIssue {
  return { severity: 'error', code: 'business-rule', rule, message: en, messageFr: fr, expression, source: 'gap' };
}

function sub(ext: Json, url: string): Json[] {
  return (Array.isArray(ext.extension) ? ext.extension : []).filter((e): e is Json => isObject(e) && e.url === url);
}

/** `Type/id` of a reference, relative or absolute; undefined otherwise. */
export function refOf(ref: unknown): string | undefined {
  const r = isObject(ref) && typeof ref.reference === 'string' ? ref.reference : typeof ref === 'string' ? ref : undefined;
  const m = r ? /([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(r) : null;
  return m ? `${m[1]}/${m[2]}` : undefined;
}

/** The recurrence rule of an availability (its `rrule` sub-extension), with the issues found. */
function readRule(rr: Json, startWall: number, at: string, issues: ValidationIssue[]): RRuleType | undefined {
  const one = (name: string) => sub(rr, name)[0];
  const many = (name: string) => sub(rr, name);
  const freqCode = (() => {
    const c = one('freq')?.valueCoding;
    return isObject(c) && typeof c.code === 'string' ? c.code.toUpperCase() : undefined;
  })();
  if (!freqCode || FREQ[freqCode] === undefined) {
    issues.push(issue('gap-rrule-freq', `${at}.extension('freq')`, `The recurrence needs a frequency among ${Object.keys(FREQ).join(', ')} (got ${freqCode ?? 'none'})`, `La récurrence demande une fréquence parmi ${Object.keys(FREQ).join(', ')} (reçu ${freqCode ?? 'aucune'})`));
    return undefined;
  }
  const opts: Partial<RRuleOptions> = { freq: FREQ[freqCode]!, dtstart: new Date(startWall) };
  const until = one('until')?.valueDateTime;
  const count = one('count')?.valueInteger;
  if (until !== undefined && count !== undefined) {
    issues.push(issue('gap-rrule-until-count', at, 'A recurrence has an end date (until) or a number of occurrences (count), not both (RFC 5545)', 'Une récurrence a une date de fin (until) ou un nombre d’occurrences (count), pas les deux (RFC 5545)'));
  }
  if (until !== undefined) {
    const u = parseDateTime(until);
    if (u === undefined) issues.push(issue('gap-rrule-until', `${at}.extension('until')`, 'until is not a dateTime', 'until n’est pas une date-heure'));
    // A date alone (`2026-06-30`) includes that day.
    else opts.until = new Date(toWall(u) + (/^\d{4}-\d{2}-\d{2}$/.test(String(until)) ? 86_399_999 : 0));
  }
  if (typeof count === 'number') opts.count = count;
  const interval = one('interval')?.valueInteger;
  if (typeof interval === 'number') {
    if (interval < 1) issues.push(issue('gap-rrule-interval', `${at}.extension('interval')`, 'interval must be at least 1', 'interval doit valoir au moins 1'));
    else opts.interval = interval;
  }
  const ints = (name: string, key: string) => {
    const v = many(name).map((e) => Number(e.valuePositiveInt ?? e.valueInteger ?? e.valueString)).filter((n) => Number.isInteger(n));
    if (v.length) (opts as Record<string, unknown>)[key] = v;
  };
  ints('byMonth', 'bymonth');
  ints('byMonthDay', 'bymonthday');
  ints('byYearDay', 'byyearday');
  ints('byWeekNo', 'byweekno');
  ints('byHour', 'byhour');
  ints('byMinute', 'byminute');
  ints('bySecond', 'bysecond');
  const days: InstanceType<typeof Weekday>[] = [];
  for (const e of many('byDay')) {
    const m = typeof e.valueString === 'string' ? /^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$/.exec(e.valueString.trim().toUpperCase()) : null;
    if (!m) {
      issues.push(issue('gap-rrule-byday', `${at}.extension('byDay')`, `byDay values are MO..SU, optionally with an ordinal (1MO, -1FR); got ${JSON.stringify(e.valueString)}`, `Les valeurs de byDay sont MO..SU, éventuellement précédées d’un rang (1MO, -1FR) ; reçu ${JSON.stringify(e.valueString)}`));
      continue;
    }
    days.push(new Weekday(DAYS.indexOf(m[2]!), m[1] ? Number(m[1]) : undefined));
  }
  if (days.length) opts.byweekday = days;
  const wkst = one('wkst')?.valueCode;
  if (typeof wkst === 'string' && DAYS.includes(wkst.toUpperCase())) opts.wkst = DAYS.indexOf(wkst.toUpperCase());
  // Without BYxxx parts, RFC 5545 repeats the DTSTART's own day / hour: the library does the same.
  return new RRule(opts);
}

/** The Schedule as a model, with the issues of its availabilities and durations (errors make a write 422). */
export function readSchedule(s: FhirResource): { model: ScheduleModel; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  const periods: AvailabilityPeriod[] = [];
  const services: ServiceDuration[] = [];
  const exts = Array.isArray(s.extension) ? s.extension : [];
  exts.forEach((ext, i) => {
    if (!isObject(ext)) return;
    const at = `Schedule.extension[${i}]`;
    if (ext.url === AVAILABILITY_URL) {
      const type = sub(ext, 'type')[0]?.valueCoding;
      const code = isObject(type) ? type.code : undefined;
      const start = parseDateTime(sub(ext, 'start')[0]?.valueDateTime);
      const end = parseDateTime(sub(ext, 'end')[0]?.valueDateTime);
      if (code !== 'free' && code !== 'busy-unavailable') {
        issues.push(issue('gap-availability-type', `${at}.extension('type')`, 'An availability time has the type free or busy-unavailable', 'Une période de disponibilité est de type free ou busy-unavailable'));
        return;
      }
      if (start === undefined || end === undefined || end <= start) {
        issues.push(issue('gap-availability-period', at, 'An availability time needs a start and an end after it', 'Une période de disponibilité demande un début et une fin postérieure'));
        return;
      }
      const idv = sub(ext, 'identifier')[0]?.valueIdentifier;
      const startWall = toWall(start);
      const p: AvailabilityPeriod = { at: i, kind: code, startWall, endWall: toWall(end) };
      if (isObject(idv) && typeof idv.value === 'string') p.identifier = idv.value;
      const rr = sub(ext, 'rrule')[0];
      if (rr) {
        const rule = readRule(rr, startWall, `${at}.extension('rrule')`, issues);
        if (rule) p.rule = rule;
        else return;
      }
      periods.push(p);
    } else if (ext.url === SERVICE_DURATION_URL) {
      const d = sub(ext, 'duration')[0]?.valueDuration;
      const st = sub(ext, 'serviceType')[0]?.valueCodeableConcept;
      let minutes = DEFAULT_SLOT_MINUTES;
      if (isObject(d)) {
        const v = Number(d.value);
        const unit = String(d.code ?? d.unit ?? 'min');
        const factor = unit === 'min' || unit === 'minute' || unit === 'minutes' ? 1 : unit === 'h' || unit === 'hour' || unit === 'hours' ? 60 : unit === 'd' ? 1440 : NaN;
        minutes = v * factor;
        if (!Number.isInteger(minutes) || minutes < 5 || minutes > 1440) {
          issues.push(issue('gap-service-duration', `${at}.extension('duration')`, 'A service duration is a whole number of minutes between 5 and 1440 (units min, h or d)', 'Une durée de service est un nombre entier de minutes entre 5 et 1440 (unités min, h ou d)'));
          return;
        }
      }
      services.push({ ...(st !== undefined ? { serviceType: st } : {}), minutes });
    }
  });
  const horizon: { start?: number; end?: number } = {};
  if (isObject(s.planningHorizon)) {
    const hs = parseDateTime(s.planningHorizon.start);
    const he = parseDateTime(s.planningHorizon.end);
    if (hs !== undefined) horizon.start = hs;
    if (he !== undefined) horizon.end = he;
  }
  const actors = (Array.isArray(s.actor) ? s.actor : []).map(refOf).filter((x): x is string => !!x);
  return {
    model: {
      id: String(s.id ?? ''),
      active: s.active !== false,
      actors,
      horizon,
      periods,
      services: services.length ? services : [{ minutes: DEFAULT_SLOT_MINUTES, ...(s.serviceType !== undefined && Array.isArray(s.serviceType) && s.serviceType[0] ? { serviceType: s.serviceType[0] } : {}) }],
      ...(s.specialty !== undefined ? { specialty: s.specialty } : {}),
    },
    issues,
  };
}

/** The occurrences of a period that overlap the window, as instants, in order. */
export function occurrences(p: AvailabilityPeriod, window: Interval, tz = PARIS): Interval[] {
  const length = p.endWall - p.startWall;
  const out: Interval[] = [];
  const push = (wallStart: number) => {
    const o = { start: fromWall(wallStart, tz), end: fromWall(wallStart + length, tz) };
    if (o.end > window.start && o.start < window.end) out.push(o);
  };
  if (!p.rule) {
    push(p.startWall);
    return out;
  }
  // Wall-clock bounds, a day wider on each side for the offsets.
  const from = new Date(toWall(window.start, tz) - length - 86_400_000);
  const to = new Date(toWall(window.end, tz) + 86_400_000);
  for (const d of p.rule.between(from, to, true)) push(d.getTime());
  return out;
}

/** Sorted, merged union of intervals. */
export function union(list: Interval[]): Interval[] {
  const sorted = [...list].sort((a, b) => a.start - b.start);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i.start <= last.end) last.end = Math.max(last.end, i.end);
    else out.push({ ...i });
  }
  return out;
}

/** `a` minus the (sorted, merged) `b`. */
export function subtract(a: Interval[], b: Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const i of a) {
    let cur = i.start;
    for (const j of b) {
      if (j.end <= cur) continue;
      if (j.start >= i.end) break;
      if (j.start > cur) out.push({ start: cur, end: j.start });
      cur = Math.max(cur, j.end);
      if (cur >= i.end) break;
    }
    if (cur < i.end) out.push({ start: cur, end: i.end });
  }
  return out;
}

/** Intersection of two sorted, merged lists. */
export function intersect(a: Interval[], b: Interval[]): Interval[] {
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const s = Math.max(a[i]!.start, b[j]!.start);
    const e = Math.min(a[i]!.end, b[j]!.end);
    if (s < e) out.push({ start: s, end: e });
    if (a[i]!.end < b[j]!.end) i++;
    else j++;
  }
  return out;
}

/** Whether [s, e) overlaps one of the sorted, merged intervals (binary search). */
export function overlapsAny(sorted: Interval[], s: number, e: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.start < e) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found >= 0 && sorted[found]!.end > s;
}

/** The window cut to the Schedule's planning horizon. */
export function withinHorizon(model: ScheduleModel, window: Interval): Interval | undefined {
  const start = Math.max(window.start, model.horizon.start ?? -Infinity);
  const end = Math.min(window.end, model.horizon.end ?? Infinity);
  return start < end ? { start, end } : undefined;
}

/** Available time (availabilities minus unavailabilities) of the Schedule in the window, sorted and merged. */
export function availableTime(model: ScheduleModel, window: Interval): { free: Interval[]; unavailable: Interval[] } {
  const w = model.active ? withinHorizon(model, window) : undefined;
  if (!w) return { free: [], unavailable: [] };
  const free: Interval[] = [];
  const unavailable: Interval[] = [];
  for (const p of model.periods) (p.kind === 'free' ? free : unavailable).push(...occurrences(p, w));
  const clip = (l: Interval[]) => l.map((i) => ({ start: Math.max(i.start, w.start), end: Math.min(i.end, w.end) })).filter((i) => i.start < i.end);
  const un = union(clip(unavailable));
  return { free: subtract(union(clip(free)), un), unavailable: un };
}
