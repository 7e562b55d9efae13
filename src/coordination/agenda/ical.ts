// Private iCalendar feeds (RFC 5545) of one agenda — a professional's (Practitioner or
// PractitionerRole; a Practitioner's feed includes their roles) or a usager's — subscribable by
// any calendar application, following GAP's MOS <-> FHIR <-> iCalendar mapping: an Appointment is
// a VEVENT (booked / arrived / fulfilled CONFIRMED, pending / proposed TENTATIVE, cancelled
// CANCELLED), the free Slots are one VFREEBUSY (FBTYPE=FREE periods).
//
// VEVENTs are written by `ical-generator` (10.2.0); it has no VFREEBUSY, so that one component
// is appended here with the library's own date formatting and line folding.
//
// A feed URL carries an unguessable token (32 random bytes, base64url); only its SHA-256 is
// stored (migration 0090), and a revoked token answers 404.
import { createHash, randomBytes } from 'node:crypto';
import ical, { foldLines, formatDate, ICalCalendarMethod, ICalEventStatus } from 'ical-generator';
import { isObject } from '../../fhir/json.js';
import type { Repository } from '../../storage/types.js';
import { nameOf } from '../proposals.js';
import { refOf } from './availability.js';
import { OCCUPYING, TENTATIVE } from './slots.js';
import type { AgendaStore } from './store.js';
import { parseDateTime } from './time.js';

const DAY = 86_400_000;
/** What a feed covers: 30 days back, 93 days ahead (decisions.md D-117). */
export const FEED_PAST_DAYS = 30;
export const FEED_FUTURE_DAYS = 93;

export interface FeedRecord {
  subject: string;
  label: string;
  created: string;
  revoked?: string;
}

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

/** Creates a feed for `subject`; returns the token (shown once, never stored). */
export async function createFeed(repo: Repository, subject: string, label = ''): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await repo.db.query('INSERT INTO agenda_feed (token_hash, subject, label, created) VALUES ($1, $2, $3, now())', [hash(token), subject, label]);
  return token;
}

/** Revokes a feed; false when the token is unknown or already revoked. */
export async function revokeFeed(repo: Repository, token: string): Promise<boolean> {
  const r = await repo.db.query('UPDATE agenda_feed SET revoked = now() WHERE token_hash = $1 AND revoked IS NULL', [hash(token)]);
  return r.rowCount > 0;
}

/** The live feed a token opens, or undefined (unknown, revoked). */
export async function feedOf(repo: Repository, token: string): Promise<FeedRecord | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const r = await repo.db.query<{ subject: string; label: string; created: Date | string }>('SELECT subject, label, created FROM agenda_feed WHERE token_hash = $1 AND revoked IS NULL', [hash(token)]);
  const row = r.rows[0];
  return row ? { subject: row.subject, label: row.label, created: new Date(row.created).toISOString() } : undefined;
}

/** The feeds of a subject (for the UI), newest first; tokens are not kept, so only their dates. */
export async function feedsOf(repo: Repository, subject: string): Promise<(FeedRecord & { id: string })[]> {
  const r = await repo.db.query<{ token_hash: string; subject: string; label: string; created: Date | string; revoked: Date | string | null }>(
    'SELECT token_hash, subject, label, created, revoked FROM agenda_feed WHERE subject = $1 ORDER BY created DESC',
    [subject],
  );
  return r.rows.map((x) => ({ id: x.token_hash.slice(0, 12), subject: x.subject, label: x.label, created: new Date(x.created).toISOString(), ...(x.revoked ? { revoked: new Date(x.revoked).toISOString() } : {}) }));
}

/** The iCalendar text of the agenda of `subject` around `now`. */
export async function agendaCalendar(store: AgendaStore, subject: string, now: Date, publicName?: string): Promise<string> {
  const repo = store.repo;
  const window = { start: now.getTime() - FEED_PAST_DAYS * DAY, end: now.getTime() + FEED_FUTURE_DAYS * DAY };
  const refs = await store.actorRefs(subject);
  const [type, id] = subject.split('/') as [string, string];
  const owner = await repo.read(type, id).then((r) => r.resource, () => undefined);
  const name = publicName ?? `Agenda — ${nameOf(owner) ?? subject}`;
  const cal = ical({ name, prodId: { company: 'tddui', product: 'agenda', language: 'FR' }, method: ICalCalendarMethod.PUBLISH, ttl: 15 * 60 });
  const appts = await store.actorAppointments(refs, window, 1000);
  for (const { resource: a, lastUpdated } of appts.matches) {
    const start = parseDateTime(a.start);
    const end = parseDateTime(a.end) ?? (start !== undefined && typeof a.minutesDuration === 'number' ? start + a.minutesDuration * 60_000 : undefined);
    if (start === undefined || end === undefined || end <= window.start) continue;
    const st = String(a.status);
    const status = st === 'cancelled' || st === 'noshow' || st === 'entered-in-error' ? ICalEventStatus.CANCELLED : TENTATIVE.has(st) || st === 'pending' ? ICalEventStatus.TENTATIVE : OCCUPYING.has(st) ? ICalEventStatus.CONFIRMED : undefined;
    if (!status) continue;
    const others = (Array.isArray(a.participant) ? a.participant : []).map((p) => (isObject(p) ? refOf(p.actor) : undefined)).filter((x): x is string => !!x && !refs.includes(x));
    const place = (Array.isArray(a.participant) ? a.participant : []).map((p) => (isObject(p) && isObject(p.actor) ? p.actor : undefined)).find((x) => x && refOf(x)?.startsWith('Location/'));
    cal.createEvent({
      id: `Appointment-${String(a.id)}@tddui`,
      start: new Date(start),
      end: new Date(end),
      stamp: new Date(lastUpdated),
      lastModified: new Date(lastUpdated),
      summary: typeof a.description === 'string' ? a.description : 'Rendez-vous',
      description: [typeof a.comment === 'string' ? a.comment : undefined, others.length ? `Participants : ${others.join(', ')}` : undefined].filter(Boolean).join('\n') || null,
      ...(place && typeof place.display === 'string' ? { location: place.display } : {}),
      status,
      sequence: Number(isObject(a.meta) ? a.meta.versionId ?? 0 : 0),
    });
  }
  // Free slots: the generated Slots of the subject's Schedules from now on (professionals).
  const schedules = await store.schedulesOf(refs);
  const free = schedules.length ? (await store.slotsOf(schedules, { start: now.getTime(), end: window.end })).filter((x) => x.slot.status === 'free') : [];
  let text = cal.toString();
  if (free.length) {
    const lines = [
      'BEGIN:VFREEBUSY',
      `UID:freebusy-${subject.replace('/', '-')}@tddui`,
      `DTSTAMP:${formatDate(null, now)}`,
      `DTSTART:${formatDate(null, new Date(now.getTime()))}`,
      `DTEND:${formatDate(null, new Date(window.end))}`,
      ...free.map((x) => `FREEBUSY;FBTYPE=FREE:${formatDate(null, new Date(x.slot.start))}/${formatDate(null, new Date(x.slot.end))}`),
      'END:VFREEBUSY',
    ].map((l) => foldLines(l));
    text = text.replace(/END:VCALENDAR\r?\n?$/, `${lines.join('\r\n')}\r\nEND:VCALENDAR`);
  }
  return text;
}
