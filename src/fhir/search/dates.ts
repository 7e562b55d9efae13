// FHIR date, dateTime and instant values as the closed range of instants they cover,
// per their precision: `2024` = the whole year, `2024-03-05T10:00` = that minute.
// Values without a time zone are read as UTC (FHIR leaves it to the server; documented).

export interface DateRange {
  /** ISO instant, or `-infinity`. */
  low: string;
  /** ISO instant (inclusive, millisecond resolution), or `infinity`. */
  high: string;
}

const DATE_PREFIXES = new Set(['eq', 'ne', 'lt', 'gt', 'le', 'ge', 'sa', 'eb', 'ap']);

/** A date search value split into its comparison prefix (`eq` when none) and the date itself. */
export function splitDatePrefix(raw: string): { prefix: string; value: string } {
  if (raw.length > 2 && DATE_PREFIXES.has(raw.slice(0, 2)) && /^\d/.test(raw.slice(2))) return { prefix: raw.slice(0, 2), value: raw.slice(2) };
  return { prefix: 'eq', value: raw };
}

const RE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** The range covered by a date/dateTime/instant literal, or undefined when it is not one. */
export function dateRange(value: string): DateRange | undefined {
  const m = RE.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const year = Number(y);
  const month = mo ? Number(mo) - 1 : 0;
  const day = d ? Number(d) : 1;
  if (month > 11 || day < 1 || day > 31) return undefined;
  const hour = h ? Number(h) : 0;
  const minute = mi ? Number(mi) : 0;
  const second = s ? Number(s) : 0;
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  let offsetMin = 0;
  if (tz && tz !== 'Z') {
    const sign = tz[0] === '-' ? -1 : 1;
    offsetMin = sign * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6)));
  }
  const start = Date.UTC(year, month, day, hour, minute, second, ms) - offsetMin * 60_000;
  if (Number.isNaN(start)) return undefined;
  // Reject impossible days (2023-02-30) rather than silently rolling over.
  if (d && new Date(Date.UTC(year, month, day)).getUTCDate() !== day) return undefined;
  let end: number;
  if (!mo) end = Date.UTC(year + 1, 0, 1) - offsetMin * 60_000;
  else if (!d) end = Date.UTC(year, month + 1, 1) - offsetMin * 60_000;
  else if (!h) end = Date.UTC(year, month, day + 1) - offsetMin * 60_000;
  else if (!s) end = start + 60_000;
  else if (!frac) end = start + 1000;
  else end = start + Math.max(1, 10 ** Math.max(0, 3 - frac.length));
  return { low: new Date(start).toISOString(), high: new Date(end - 1).toISOString() };
}

/** A Period's range: an absent start or end is open (±infinity). */
export function periodRange(start: string | undefined, end: string | undefined): DateRange | undefined {
  const a = start ? dateRange(start) : undefined;
  const b = end ? dateRange(end) : undefined;
  if ((start && !a) || (end && !b) || (!a && !b)) return undefined;
  return { low: a ? a.low : '-infinity', high: b ? b.high : 'infinity' };
}
