// Wall-clock time of a time zone (Europe/Paris for the ESSMS) <-> instants, with the
// daylight-saving changes handled as RFC 5545 says (3.3.5): a local time that does not exist
// (the hour skipped in March) is read with the offset before the gap (02:30 -> 03:30 CEST); a
// local time that occurs twice (the hour repeated in October) is the first one (CEST).
//
// A "wall" time here is a number of milliseconds whose UTC fields are the local fields
// (2026-03-29 09:00 in Paris = Date.UTC(2026, 2, 29, 9, 0)): the floating form the `rrule`
// library expands, with no time zone arithmetic of its own.

export const PARIS = 'Europe/Paris';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(tz, f);
  }
  return f;
}

// Offsets change at most twice a year: cache them per hour of instant.
const offsetCache = new Map<string, number>();

/** The offset (ms, local - UTC) of the time zone at an instant. */
export function offsetAt(instant: number, tz = PARIS): number {
  const hour = Math.floor(instant / 3_600_000);
  const key = `${tz}|${hour}`;
  const cached = offsetCache.get(key);
  if (cached !== undefined) return cached;
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(new Date(hour * 3_600_000))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  const off = wall - hour * 3_600_000;
  if (offsetCache.size > 200_000) offsetCache.clear();
  offsetCache.set(key, off);
  return off;
}

/** The wall time (floating ms) of an instant. */
export function toWall(instant: number, tz = PARIS): number {
  return instant + offsetAt(instant, tz);
}

/** The instant of a wall time (gap: shifted forward by the gap; repeated hour: the first). */
export function fromWall(wall: number, tz = PARIS): number {
  const before = offsetAt(wall - 86_400_000, tz);
  const after = offsetAt(wall + 86_400_000, tz);
  const candidates = [...new Set([before, after])].map((o) => wall - o).filter((t) => toWall(t, tz) === wall).sort((a, b) => a - b);
  if (candidates.length) return candidates[0]!;
  // In the gap: the offset before it (RFC 5545: 02:30 that does not exist is 03:30 after the change).
  return wall - before;
}

/** ISO 8601 instant with the time zone's offset (`2026-03-29T09:00:00+02:00`). */
export function isoLocal(instant: number, tz = PARIS): string {
  const off = offsetAt(instant, tz);
  const wall = new Date(instant + off).toISOString().slice(0, 19);
  const sign = off < 0 ? '-' : '+';
  const m = Math.abs(off) / 60_000;
  return `${wall}${sign}${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

/**
 * A FHIR dateTime as an instant: a date alone is its local midnight, a dateTime without offset
 * is local time (FHIR requires one when time is given; tolerated here). Undefined if unreadable.
 */
export function parseDateTime(v: unknown, tz = PARIS): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/.exec(v);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const wall = Date.UTC(Number(y), Number(mo ?? 1) - 1, Number(d ?? 1), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0), frac ? Math.round(Number(frac) * 1000) : 0);
  if (zone === undefined) return fromWall(wall, tz);
  if (zone === 'Z') return wall;
  const sign = zone[0] === '-' ? -1 : 1;
  const off = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  return wall - off;
}
