// The dispatcher: pending events of the outbox -> one notification per matching subscription.
//
// Matching (read-only, outside any transaction): the subscriptions in force, the event type
// they ask for, the usager they are about (a literal `Patient/id`, or a contained Patient whose
// identifiers the stored usager — or the declaration's contained subject — carries), and, when
// the circle restriction is on, the subscriber's right to see that usager (the circle-of-care
// rule, src/coordination/circle-access.ts: a subscriber who is not an active member of the
// usager's circle, authorised by the usager, receives nothing about them).
//
// Recording (one transaction): the events still pending are locked (FOR UPDATE SKIP LOCKED:
// several servers on one database share the work), their notifications inserted
// (UNIQUE (event, subscription): a second dispatch inserts nothing) and the events marked
// dispatched, together: a crash leaves either everything or nothing.
import { randomUUID } from 'node:crypto';
import { isObject } from '../fhir/json.js';
import { EVENT_TYPES } from '../rest/events.js';
import { EVENT_COLUMNS, toEvent, type OutboxEvent } from '../storage/outbox.js';
import type { Repository } from '../storage/types.js';
import { notificationRequest } from './render.js';
import { demographicKey, digestDue, inForce, readSubscription, wantsType, type SubscriptionSettings } from './settings.js';

/** The circle-of-care rule as the dispatcher asks it (CircleAccess implements it). */
export interface CircleCheck {
  refusal(fhirUser: string, patient: string, block: 'DocumentReference' | 'CareTeam'): Promise<{ en: string; fr: string } | undefined>;
}

export interface DispatchOptions {
  /** When set, subscribers receive only events about usagers whose circle they are in. */
  circle?: CircleCheck;
  clock?: () => Date;
  batchSize?: number;
}

/** A notification about to be recorded. */
interface NewNotification {
  id: string;
  event: OutboxEvent;
  sub: SubscriptionSettings;
  subscriber?: string;
  status: 'pending' | 'held';
  due?: string;
  payload: unknown;
}

/** The block of the circle an event belongs to: notes and documents are the notebook's, the rest the circle's. */
function blockOf(e: OutboxEvent): 'DocumentReference' | 'CareTeam' {
  return e.type.code === EVENT_TYPES.note.code || e.type.code === EVENT_TYPES.document.code ? 'DocumentReference' : 'CareTeam';
}

export class Dispatcher {
  constructor(
    private readonly repo: Repository,
    private readonly opts: DispatchOptions = {},
  ) {}

  private now(): Date {
    return (this.opts.clock ?? (() => new Date()))();
  }

  /** Every subscription (settings of the readable ones). */
  async subscriptions(): Promise<SubscriptionSettings[]> {
    const res = await this.repo.db.query<{ content: unknown }>(`SELECT content FROM resource WHERE resource_type = 'Subscription' AND NOT deleted`);
    const out: SubscriptionSettings[] = [];
    for (const row of res.rows) {
      const content = typeof row.content === 'string' ? JSON.parse(row.content) : row.content;
      const { settings } = readSubscription(content);
      if (settings) out.push(settings);
    }
    return out;
  }

  /** Identifiers (`system|value`) and the demographic key of stored usagers. */
  private async patientIdentifiers(ids: string[]): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    if (ids.length === 0) return out;
    const res = await this.repo.db.query<{ id: string; identifier: unknown; name: unknown; birth: string | null }>(
      `SELECT id, content->'identifier' AS identifier, content->'name' AS name, content->>'birthDate' AS birth FROM resource WHERE resource_type = 'Patient' AND id = ANY($1::text[])`,
      [ids],
    );
    const parse = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
    for (const r of res.rows) {
      const list = parse(r.identifier);
      const set = new Set((Array.isArray(list) ? list : []).filter(isObject).map((i) => `${String(i.system ?? '')}|${String(i.value ?? '')}`));
      const key = demographicKey({ name: parse(r.name), ...(r.birth ? { birthDate: r.birth } : {}) });
      if (key) set.add(`key:${key}`);
      out.set(`Patient/${r.id}`, set);
    }
    return out;
  }

  /** The stored resource a subscriber stands for (`Type/id`): literal, or a contained person found by identifier. */
  private async subscriberRef(s: SubscriptionSettings, cache: Map<string, string | undefined>): Promise<string | undefined> {
    const who = s.subscriber;
    if (!who) return undefined;
    if (who.ref) return who.ref;
    const key = `${who.type}|${who.identifiers.join(',')}`;
    if (cache.has(key)) return cache.get(key);
    let found: string | undefined;
    for (const ident of who.identifiers) {
      const bar = ident.indexOf('|');
      const res = await this.repo.db.query<{ id: string }>(
        `SELECT DISTINCT t.id FROM search_token t JOIN resource r ON r.resource_type = t.resource_type AND r.id = t.id AND NOT r.deleted
          WHERE t.resource_type = $1 AND t.param = 'identifier' AND t.system = $2 AND t.code = $3 LIMIT 2`,
        [who.type, ident.slice(0, bar), ident.slice(bar + 1)],
      );
      if (res.rows.length === 1) {
        found = `${who.type}/${res.rows[0]!.id}`;
        break;
      }
    }
    cache.set(key, found);
    return found;
  }

  /** The stored person a subscription's subscriber stands for (`Type/id`), if found. */
  subscriberOf(s: SubscriptionSettings): Promise<string | undefined> {
    return this.subscriberRef(s, new Map());
  }

  private subjectMatches(s: SubscriptionSettings, e: OutboxEvent, ids: Map<string, Set<string>>): boolean {
    const subject = s.subject;
    if (!subject) return true;
    if (subject.ref) return subject.ref === e.patient;
    const known = new Set<string>([...(e.patient ? (ids.get(e.patient) ?? []) : [])]);
    const declared = isObject(e.detail) && Array.isArray(e.detail.subjectIdentifiers) ? e.detail.subjectIdentifiers : [];
    for (const d of declared) if (typeof d === 'string') known.add(d);
    if (isObject(e.detail) && typeof e.detail.subjectKey === 'string') known.add(`key:${e.detail.subjectKey}`);
    if (subject.identifiers.length === 0) return subject.key !== undefined && known.has(`key:${subject.key}`);
    return subject.identifiers.some((i) => known.has(i));
  }

  /** The notifications of a batch of events (no write). */
  async match(events: OutboxEvent[], subs: SubscriptionSettings[]): Promise<NewNotification[]> {
    const now = this.now();
    const live = subs.filter((s) => inForce(s, now));
    const ids = await this.patientIdentifiers([...new Set(events.map((e) => e.patient?.slice('Patient/'.length)).filter((x): x is string => !!x))]);
    const subscribers = new Map<string, string | undefined>();
    const refusals = new Map<string, boolean>();
    const out: NewNotification[] = [];
    for (const e of events) {
      for (const s of live) {
        if (!wantsType(s, e.type) || !this.subjectMatches(s, e, ids)) continue;
        const subscriber = await this.subscriberRef(s, subscribers);
        if (this.opts.circle && e.patient) {
          // No known person, no circle: nothing about a usager goes to an unknown subscriber.
          if (!subscriber) continue;
          if (subscriber !== e.patient) {
            const key = `${subscriber}\u0000${e.patient}\u0000${blockOf(e)}`;
            if (!refusals.has(key)) refusals.set(key, (await this.opts.circle.refusal(subscriber, e.patient, blockOf(e))) !== undefined);
            if (refusals.get(key)) continue;
          }
        }
        const id = randomUUID();
        const n: NewNotification = {
          id,
          event: e,
          sub: s,
          status: s.frequency === 'immediate' ? 'pending' : 'held',
          payload: notificationRequest(id, e, s, now.toISOString(), s.subject?.name),
        };
        if (subscriber ?? s.subscriber?.name) n.subscriber = subscriber ?? s.subscriber!.name!;
        if (s.frequency !== 'immediate') n.due = digestDue(new Date(e.recorded), s.frequency, s.hour, s.weekday).toISOString();
        out.push(n);
      }
    }
    return out;
  }

  /**
   * Dispatches one batch of pending events; returns how many events it dispatched (0: none left).
   */
  async dispatchBatch(): Promise<number> {
    const limit = this.opts.batchSize ?? 200;
    const pending = await this.repo.db.query<Parameters<typeof toEvent>[0]>(
      `SELECT ${EVENT_COLUMNS} FROM event_outbox WHERE dispatched IS NULL ORDER BY seq LIMIT ${limit}`,
    );
    if (pending.rows.length === 0) return 0;
    const events = pending.rows.map(toEvent);
    const notifications = await this.match(events, await this.subscriptions());
    const now = this.now().toISOString();
    return this.repo.db.transaction(async (tx) => {
      const locked = await tx.query<{ id: string }>(
        `SELECT id FROM event_outbox WHERE id = ANY($1::text[]) AND dispatched IS NULL FOR UPDATE SKIP LOCKED`,
        [events.map((e) => e.id)],
      );
      const mine = new Set(locked.rows.map((r) => r.id));
      if (mine.size === 0) return 0;
      const rows = notifications.filter((n) => mine.has(n.event.id));
      if (rows.length) {
        const col = <T>(f: (n: NewNotification) => T) => rows.map(f);
        await tx.query(
          `INSERT INTO notification (id, event_id, subscription_id, subscriber, patient, channel, endpoint, frequency, status, due, created, next_attempt, payload)
           SELECT u.id, u.event_id, u.subscription_id, u.subscriber, u.patient, u.channel, u.endpoint, u.frequency, u.status, u.due, $13::timestamptz, $13::timestamptz, u.payload
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::jsonb[], $12::bigint[])
                  AS u(id, event_id, subscription_id, subscriber, patient, channel, endpoint, frequency, status, due, payload, ord)
            ORDER BY u.ord
           ON CONFLICT (event_id, subscription_id) DO NOTHING`,
          [
            col((n) => n.id),
            col((n) => n.event.id),
            col((n) => n.sub.id),
            col((n) => n.subscriber ?? null),
            col((n) => n.event.patient ?? null),
            col((n) => n.sub.channel),
            col((n) => n.sub.endpoint ?? null),
            col((n) => n.sub.frequency),
            col((n) => n.status),
            col((n) => n.due ?? null),
            col((n) => JSON.stringify(n.payload)),
            col((_n) => 0).map((_, i) => i),
            now,
          ],
        );
      }
      await tx.query(`UPDATE event_outbox SET dispatched = $2::timestamptz WHERE id = ANY($1::text[])`, [[...mine], now]);
      return mine.size;
    });
  }
}
