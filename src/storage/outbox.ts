// The event outbox (migration 0080): events are rows written by the write path in the same
// statement as the versions that cause them (unit-of-work.ts, step 7). Whoever knows that a
// write means something — an IG module (IgModule.events, src/rest/modules.ts), a plan that
// declares events itself (WritePlan.events), an event declaration received over NdE — states
// it as an EventDeclaration; nothing here knows any event code (they are in src/rest/events.ts).
//
// Readers: the notification dispatcher claims pending rows (`dispatched IS NULL`); consumers that
// page with a cursor use `readEvents` (ordered by the writing transaction, under the horizon of
// the transactions still running: nothing committed late is ever skipped).
import { randomUUID } from 'node:crypto';
import type { FhirResource, Json } from '../fhir/json.js';
import type { Queryable } from './types.js';

/** What one write did to one resource, as event sources see it (inside the transaction). */
export interface WrittenChange {
  method: 'create' | 'update' | 'patch' | 'delete';
  outcome: 'created' | 'updated' | 'deleted';
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  /** The version stored (absent for a delete). */
  resource?: FhirResource;
  /** The version it replaces, when the write path read it (updates, patches, resends by business key). */
  previous?: FhirResource;
}

/** One event to record with a write. */
export interface EventDeclaration {
  /** The event type: a JDV J46 code (system TRE_R254) or one of the project's code system (src/rest/events.ts). */
  type: { system: string; code: string; display?: string };
  /** The usager concerned, `Patient/<id>`: subscriptions on a subject and the circle rule filter on it. */
  patient?: string;
  /** What the event is about, `Type/id` or `Type/id/_history/v`. */
  focus?: string;
  /** When it happened (ISO); default the write's instant. */
  occurred?: string;
  /** Who declares it (an IG module's name); default `core`. */
  source?: string;
  /** Details kept with the event (shown in notifications): `{ text: 'Sortie de …' }`, ids… */
  detail?: Json;
}

/**
 * The event sources of a repository: called by the write path with every change of a plan once
 * the versions are final, synchronously (no I/O: what a source needs is in the changes).
 */
export type EventSource = (changes: readonly WrittenChange[]) => EventDeclaration[];

/** A recorded event, as readers get it. */
export interface OutboxEvent {
  seq: number;
  id: string;
  /** The writing transaction (xid8, as text): with `seq`, the cursor order. */
  tx: string;
  recorded: string;
  occurred: string;
  type: { system: string; code: string; display?: string };
  patient?: string;
  focus?: string;
  source: string;
  detail?: Json;
  dispatched?: string;
}

/** The data-modifying statement recording `events` (one CTE of the writing statement), or undefined. */
export function outboxInsert(events: readonly EventDeclaration[], now: string, p: (v: unknown) => string): string | undefined {
  if (events.length === 0) return undefined;
  const col = <T>(f: (e: EventDeclaration) => T) => p(events.map(f));
  return `INSERT INTO event_outbox (id, recorded, occurred, system, code, patient, focus, source, detail)
    SELECT * FROM unnest(${col(() => randomUUID())}::text[], ${col(() => now)}::timestamptz[], ${col((e) => e.occurred ?? now)}::timestamptz[],
                         ${col((e) => e.type.system)}::text[], ${col((e) => e.type.code)}::text[], ${col((e) => e.patient ?? null)}::text[],
                         ${col((e) => e.focus ?? null)}::text[], ${col((e) => e.source ?? 'core')}::text[],
                         ${col((e) => (e.detail === undefined && e.type.display === undefined ? null : JSON.stringify({ ...(e.type.display ? { display: e.type.display } : {}), ...((e.detail as object) ?? {}) })))}::jsonb[])`;
}

interface EventRow {
  seq: string | number;
  id: string;
  tx: string;
  recorded: Date | string;
  occurred: Date | string;
  system: string;
  code: string;
  patient: string | null;
  focus: string | null;
  source: string;
  detail: Json | string | null;
  dispatched: Date | string | null;
}

const iso = (d: Date | string) => (d instanceof Date ? d : new Date(d)).toISOString();

export const EVENT_COLUMNS = 'seq, id, tx::text AS tx, recorded, occurred, system, code, patient, focus, source, detail, dispatched';

export function toEvent(r: EventRow): OutboxEvent {
  const detail = typeof r.detail === 'string' ? (JSON.parse(r.detail) as Json) : r.detail;
  const display = detail && typeof detail.display === "string" ? detail.display : undefined;
  const e: OutboxEvent = {
    seq: Number(r.seq),
    id: r.id,
    tx: String(r.tx),
    recorded: iso(r.recorded),
    occurred: iso(r.occurred),
    type: { system: r.system, code: r.code, ...(display ? { display } : {}) },
    source: r.source,
  };
  if (r.patient) e.patient = r.patient;
  if (r.focus) e.focus = r.focus;
  if (detail !== null && detail !== undefined) e.detail = detail;
  if (r.dispatched) e.dispatched = iso(r.dispatched);
  return e;
}

/** A position in the outbox: after the event of transaction `tx`, sequence `seq`. */
export interface EventCursor {
  tx: string;
  seq: number;
}

export function cursorText(c: EventCursor): string {
  return `${c.tx}.${c.seq}`;
}

export function parseCursor(s: string): EventCursor | undefined {
  const m = /^(\d{1,20})\.(\d{1,20})$/.exec(s);
  return m ? { tx: m[1]!, seq: Number(m[2]) } : undefined;
}

/**
 * Events after `after`, in the order their transactions ended for every reader: ordered by
 * (tx, seq) and only those of transactions below the horizon (`pg_snapshot_xmin`: every
 * transaction below it has committed or aborted). A row committed later always has a larger
 * (tx, seq) than any row returned before, so resuming from the last cursor loses nothing and
 * repeats nothing.
 */
export async function readEvents(db: Queryable, after: EventCursor | undefined, limit: number, filter: { patient?: string } = {}): Promise<OutboxEvent[]> {
  const params: unknown[] = [];
  const p = (v: unknown) => (params.push(v), `$${params.length}`);
  const where = ['tx < pg_snapshot_xmin(pg_current_snapshot())'];
  if (after) where.push(`(tx, seq) > (${p(after.tx)}::xid8, ${p(after.seq)}::bigint)`);
  if (filter.patient) where.push(`patient = ${p(filter.patient)}`);
  const res = await db.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM event_outbox WHERE ${where.join(' AND ')} ORDER BY tx, seq LIMIT ${Math.max(1, Math.min(1000, Math.floor(limit)))}`, params);
  return res.rows.map(toEvent);
}

/** One event by id. */
export async function getEvent(db: Queryable, id: string): Promise<OutboxEvent | undefined> {
  const res = await db.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM event_outbox WHERE id = $1`, [id]);
  return res.rows[0] ? toEvent(res.rows[0]) : undefined;
}
