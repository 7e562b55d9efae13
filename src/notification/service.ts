// The notification service: a loop that (1) dispatches the outbox's pending events into
// notifications (dispatch.ts), (2) gathers the digests whose period has ended, (3) delivers what
// is due — retried with exponential backoff, then parked — and (4) pushes alerts to the pages
// listening. Everything it needs to resume is in the database: a server killed at any point
// picks up where it was at the next start (a notification claimed by a dead process is claimed
// again once its lease ends).
//
// Exactly once: an event is dispatched once per subscription (UNIQUE (event, subscription));
// a notification is marked sent as soon as the channel accepted it, and is sent again only if
// the process died between the channel's answer and that record — the rest-hook receiver gets
// the notification id (header) to drop such a repeat.
import type { FhirResource } from '../fhir/json.js';
import type { Repository } from '../storage/types.js';
import { AlertHub } from './alerts.js';
import { httpSmsGateway, postRestHook, smtpSender, type EmailSender, type SmsSender, type SmtpOptions } from './channels.js';
import { Dispatcher, type CircleCheck } from './dispatch.js';
import { digestEmail, eventEmail, smsText } from './render.js';
import { periodStart, readSubscription, type SubscriptionSettings } from './settings.js';

export interface RetryPolicy {
  /** First delay after a failure (doubled each time, ±20 % jitter). */
  baseMs: number;
  maxMs: number;
  /** Attempts before the notification is parked. */
  maxAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 5_000, maxMs: 10 * 60_000, maxAttempts: 12 };

export interface NotificationOptions {
  clock?: () => Date;
  /** Poll interval of the loop (it is also woken after each write). Default 1,000 ms. */
  pollMs?: number;
  retry?: Partial<RetryPolicy>;
  /** How long a claimed notification is reserved for the process sending it. Default 60 s. */
  leaseMs?: number;
  /** Deliveries in parallel. Default 16. */
  concurrency?: number;
  email?: EmailSender;
  sms?: SmsSender;
  /** An SMTP server to build the e-mail sender from (the command line's --smtp). */
  smtp?: SmtpOptions;
  /** An HTTP SMS gateway to build the SMS sender from (--sms-gateway). */
  smsGateway?: { url: string; token?: string };
  /** The circle-of-care restriction (the server sets the circle rule when authentication is on, or when `restrictToCircle`). */
  circle?: CircleCheck;
  /** Apply the circle rule even without authentication (the server builds it). */
  restrictToCircle?: boolean;
  /** Signing secret of rest-hooks whose subscription names none. */
  defaultSecret?: string;
  /** Time-out of one rest-hook call. Default 10 s. */
  restHookTimeoutMs?: number;
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

export type NotificationStatus = 'held' | 'pending' | 'failed' | 'sent' | 'parked' | 'digested';

export interface JournalEntry {
  id: string;
  seq: number;
  eventId?: string;
  subscriptionId: string;
  subscriber?: string;
  patient?: string;
  channel: string;
  endpoint?: string;
  frequency: string;
  status: NotificationStatus;
  due?: string;
  digestId?: string;
  created: string;
  nextAttempt: string;
  attempts: number;
  lastError?: string;
  sentAt?: string;
  payload: unknown;
}

export interface JournalFilter {
  subscriptions?: string[];
  status?: NotificationStatus[];
  patient?: string;
  count: number;
  offset: number;
}

interface Row {
  id: string;
  seq: string | number;
  event_id: string | null;
  subscription_id: string;
  subscriber: string | null;
  patient: string | null;
  channel: string;
  endpoint: string | null;
  frequency: string;
  status: NotificationStatus;
  due: Date | string | null;
  digest_id: string | null;
  created: Date | string;
  next_attempt: Date | string;
  attempts: number;
  last_error: string | null;
  sent_at: Date | string | null;
  payload: unknown;
}

const iso = (d: Date | string) => (d instanceof Date ? d : new Date(d)).toISOString();

function toEntry(r: Row): JournalEntry {
  const e: JournalEntry = {
    id: r.id,
    seq: Number(r.seq),
    subscriptionId: r.subscription_id,
    channel: r.channel,
    frequency: r.frequency,
    status: r.status,
    created: iso(r.created),
    nextAttempt: iso(r.next_attempt),
    attempts: Number(r.attempts),
    payload: typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload,
  };
  if (r.event_id) e.eventId = r.event_id;
  if (r.subscriber) e.subscriber = r.subscriber;
  if (r.patient) e.patient = r.patient;
  if (r.endpoint) e.endpoint = r.endpoint;
  if (r.due) e.due = iso(r.due);
  if (r.digest_id) e.digestId = r.digest_id;
  if (r.last_error) e.lastError = r.last_error;
  if (r.sent_at) e.sentAt = iso(r.sent_at);
  return e;
}

export class NotificationService {
  readonly alerts = new AlertHub();
  readonly dispatcher: Dispatcher;
  private readonly retry: RetryPolicy;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  /** Set by stop(): a pass in progress ends early. */
  private closing = false;

  private readonly opts: NotificationOptions;

  constructor(
    private readonly repo: Repository,
    opts: NotificationOptions = {},
  ) {
    this.opts = opts;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    if (!opts.email && opts.smtp) this.opts = { ...opts, email: smtpSender(opts.smtp) };
    if (!opts.sms && opts.smsGateway) this.opts = { ...this.opts, sms: httpSmsGateway(opts.smsGateway) };
    this.dispatcher = new Dispatcher(repo, { ...(opts.circle ? { circle: opts.circle } : {}), ...(opts.clock ? { clock: opts.clock } : {}) });
    this.alerts.onConnect = () => this.wake();
  }

  private now(): Date {
    return (this.opts.clock ?? (() => new Date()))();
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.closing = false;
    const poll = this.opts.pollMs ?? 1000;
    this.timer = setInterval(() => this.wake(), poll);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
    this.opts.email?.close?.();
  }

  /** Runs a pass soon (after a write); passes never overlap. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.tick();
        } catch (err) {
          this.opts.log?.error({ err }, 'notification pass failed');
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
  }

  /** One pass: dispatch every pending event, gather due digests, deliver what is due, push alerts. */
  async tick(): Promise<void> {
    while ((await this.dispatcher.dispatchBatch()) > 0) {
      if (this.closing) return;
    }
    await this.gatherDigests();
    while ((await this.deliverBatch()) > 0) {
      if (this.closing) return;
    }
    await this.pushAlerts();
  }

  /** Runs passes until nothing is left to do now (tests, the benchmark). */
  async drain(maxPasses = 100): Promise<void> {
    for (let i = 0; i < maxPasses; i++) {
      await this.tick();
      const left = await this.repo.db.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM event_outbox WHERE dispatched IS NULL)::int + (SELECT count(*) FROM notification WHERE status IN ('pending', 'failed') AND next_attempt <= $1::timestamptz AND channel <> 'websocket')::int AS n`,
        [this.now().toISOString()],
      );
      if (Number(left.rows[0]!.n) === 0) return;
    }
  }

  /** Held notifications whose period has ended become one digest each (subscription, period). */
  async gatherDigests(): Promise<number> {
    const now = this.now().toISOString();
    const due = await this.repo.db.query<{ subscription_id: string; due: Date | string; frequency: string; channel: string; endpoint: string | null; subscriber: string | null }>(
      `SELECT subscription_id, due, min(frequency) AS frequency, min(channel) AS channel, min(endpoint) AS endpoint, min(subscriber) AS subscriber
         FROM notification WHERE status = 'held' AND due <= $1::timestamptz GROUP BY subscription_id, due ORDER BY due`,
      [now],
    );
    for (const d of due.rows) {
      const end = iso(d.due);
      const id = `digest-${d.subscription_id}-${Date.parse(end)}`;
      await this.repo.db.transaction(async (tx) => {
        const held = await tx.query<{ id: string }>(
          `SELECT id FROM notification WHERE status = 'held' AND subscription_id = $1 AND due = $2::timestamptz ORDER BY seq FOR UPDATE SKIP LOCKED`,
          [d.subscription_id, end],
        );
        if (held.rows.length === 0) return;
        const items = held.rows.map((r) => r.id);
        const start = periodStart(new Date(end), d.frequency as 'daily' | 'weekly').toISOString();
        // A digest of the same period (a second server got there first) gets the rest appended.
        await tx.query(
          `INSERT INTO notification (id, event_id, subscription_id, subscriber, channel, endpoint, frequency, status, due, created, next_attempt, payload)
           VALUES ($1, NULL, $2, $3, $4, $5, $6, 'pending', $7::timestamptz, $8::timestamptz, $8::timestamptz, $9::jsonb)
           ON CONFLICT (id) DO UPDATE SET payload = jsonb_set(notification.payload, '{items}', (notification.payload->'items') || (EXCLUDED.payload->'items'))`,
          [id, d.subscription_id, d.subscriber, d.channel, d.endpoint, d.frequency, end, now, JSON.stringify({ digest: true, start, end, items })],
        );
        await tx.query(`UPDATE notification SET status = 'digested', digest_id = $1 WHERE id = ANY($2::text[])`, [id, items]);
      });
    }
    return due.rows.length;
  }

  private async settingsOf(ids: string[]): Promise<Map<string, SubscriptionSettings>> {
    const out = new Map<string, SubscriptionSettings>();
    if (ids.length === 0) return out;
    const res = await this.repo.db.query<{ id: string; content: unknown; deleted: boolean }>(
      `SELECT id, content, deleted FROM resource WHERE resource_type = 'Subscription' AND id = ANY($1::text[])`,
      [ids],
    );
    for (const r of res.rows) {
      if (r.deleted) continue;
      const { settings } = readSubscription(typeof r.content === 'string' ? JSON.parse(r.content) : r.content);
      if (settings) out.set(r.id, settings);
    }
    return out;
  }

  /** Claims and delivers one batch of due notifications (rest-hook, email, sms); how many were claimed. */
  async deliverBatch(): Promise<number> {
    const now = this.now();
    const lease = new Date(now.getTime() + (this.opts.leaseMs ?? 60_000)).toISOString();
    const claimed = await this.repo.db.query<Row>(
      `UPDATE notification SET next_attempt = $2::timestamptz
        WHERE id IN (SELECT id FROM notification
                      WHERE status IN ('pending', 'failed') AND next_attempt <= $1::timestamptz AND channel <> 'websocket'
                      ORDER BY next_attempt, seq LIMIT ${Math.max(1, (this.opts.concurrency ?? 16) * 4)} FOR UPDATE SKIP LOCKED)
        RETURNING *`,
      [now.toISOString(), lease],
    );
    if (claimed.rows.length === 0) return 0;
    const rows = claimed.rows.map(toEntry).sort((a, b) => a.seq - b.seq);
    const subs = await this.settingsOf([...new Set(rows.map((r) => r.subscriptionId))]);
    const queue = [...rows];
    const workers = Array.from({ length: Math.min(this.opts.concurrency ?? 16, queue.length) }, async () => {
      for (let n = queue.shift(); n; n = queue.shift()) {
        let ok = false;
        let detail: string;
        try {
          detail = await this.send(n, subs.get(n.subscriptionId));
          ok = true;
        } catch (err) {
          detail = (err as Error).message;
        }
        await this.record(n, ok, detail);
      }
    });
    await Promise.all(workers);
    return rows.length;
  }

  /** The items of a digest (their notification requests, in order). */
  private async digestItems(n: JournalEntry): Promise<FhirResource[]> {
    const p = n.payload as { items?: string[] };
    const res = await this.repo.db.query<{ payload: unknown }>(`SELECT payload FROM notification WHERE id = ANY($1::text[]) ORDER BY seq`, [p.items ?? []]);
    return res.rows.map((r) => (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as FhirResource);
  }

  private async send(n: JournalEntry, s: SubscriptionSettings | undefined): Promise<string> {
    if (!s) throw new Error('subscription deleted or unreadable: not sent');
    if (!s.live) throw new Error(`subscription ${s.id} is ${String((s.resource as { status?: string }).status)}: not sent`);
    const digest = (n.payload as { digest?: boolean }).digest === true;
    const items = digest ? await this.digestItems(n) : [];
    const p = n.payload as { start?: string; end?: string };
    switch (s.channel) {
      case 'rest-hook': {
        const body = digest
          ? JSON.stringify({ resourceType: 'Bundle', id: n.id, type: 'collection', timestamp: p.end, total: items.length, entry: items.map((r) => ({ fullUrl: `urn:uuid:${String(r.id)}`, resource: r })) })
          : JSON.stringify(n.payload);
        const secret = s.secret ?? this.opts.defaultSecret;
        return postRestHook(
          { url: s.endpoint!, body, contentType: 'application/fhir+json', notificationId: n.id, headers: s.headers, ...(secret ? { secret } : {}) },
          this.opts.restHookTimeoutMs ?? 10_000,
          () => this.now(),
        );
      }
      case 'email': {
        if (!this.opts.email) throw new Error('no SMTP server configured (--smtp): e-mail not sent');
        const to = s.endpoint!.replace(/^mailto:/, '');
        const m = digest ? digestEmail(n.frequency as 'daily' | 'weekly', new Date(p.start!), new Date(p.end!), items) : eventEmail(n.payload as FhirResource);
        return this.opts.email.send(to, m.subject, m.text);
      }
      case 'sms': {
        if (!this.opts.sms) throw new Error('no SMS gateway configured (--sms-gateway): SMS not sent');
        const to = s.endpoint!.replace(/^tel:/, '');
        return this.opts.sms.send(to, digest ? smsText(undefined, { frequency: n.frequency as 'daily' | 'weekly', count: items.length }) : smsText(n.payload as FhirResource));
      }
      default:
        throw new Error(`channel ${s.channel} is not delivered by the worker`);
    }
  }

  private backoff(attempts: number): number {
    const base = Math.min(this.retry.maxMs, this.retry.baseMs * 2 ** Math.max(0, attempts - 1));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  private async record(n: JournalEntry, ok: boolean, detail: string): Promise<void> {
    const now = this.now();
    const attempts = n.attempts + 1;
    const status: NotificationStatus = ok ? 'sent' : attempts >= this.retry.maxAttempts ? 'parked' : 'failed';
    const next = ok ? now : new Date(now.getTime() + this.backoff(attempts));
    // One statement (atomic on its own): the journal row and its attempt, one round trip.
    await this.repo.db.query(
      `WITH u AS (UPDATE notification SET status = $2, attempts = $3, next_attempt = $4::timestamptz, last_error = $5, sent_at = $6::timestamptz WHERE id = $1 RETURNING id)
       INSERT INTO notification_attempt (notification_id, attempt, at, ok, detail) SELECT id, $3, $7::timestamptz, $8, $9 FROM u ON CONFLICT DO NOTHING`,
      [n.id, status, attempts, next.toISOString(), ok ? null : detail.slice(0, 1000), ok ? now.toISOString() : null, now.toISOString(), ok, detail.slice(0, 1000)],
    );
    if (status === 'parked') this.opts.log?.warn({ notification: n.id, subscription: n.subscriptionId, reason: detail }, 'notification parked');
  }

  /** Pending alerts of the subscriptions a page listens to: pushed, and marked sent when someone got them. */
  async pushAlerts(): Promise<number> {
    const connected = this.alerts.connected();
    if (connected.length === 0) return 0;
    const res = await this.repo.db.query<Row>(
      `SELECT * FROM notification WHERE channel = 'websocket' AND status IN ('pending', 'failed') AND subscription_id = ANY($1::text[]) ORDER BY seq LIMIT 500`,
      [connected],
    );
    let sent = 0;
    for (const r of res.rows.map(toEntry)) {
      const digest = (r.payload as { digest?: boolean }).digest === true;
      const data = digest ? { id: r.id, digest: true, items: await this.digestItems(r) } : { id: r.id, request: r.payload };
      const n = this.alerts.push(r.subscriptionId, r.id, data);
      if (n > 0) {
        await this.record(r, true, `server-sent events: ${n} ${n === 1 ? 'page' : 'pages'}`);
        sent++;
      }
    }
    return sent;
  }

  /** Parked (or failed) notifications sent again from now: one, or those of a subscription. */
  async replay(filter: { id?: string; subscription?: string }): Promise<number> {
    if (!filter.id && !filter.subscription) return 0;
    const params: unknown[] = [this.now().toISOString()];
    const where = [`status IN ('parked', 'failed')`];
    if (filter.id) where.push(`id = $${params.push(filter.id)}`);
    if (filter.subscription) where.push(`subscription_id = $${params.push(filter.subscription)}`);
    const res = await this.repo.db.query<{ id: string }>(`UPDATE notification SET status = 'pending', attempts = 0, next_attempt = $1::timestamptz WHERE ${where.join(' AND ')} RETURNING id`, params);
    this.wake();
    return res.rows.length;
  }

  /** The delivery journal, newest first. */
  async journal(f: JournalFilter): Promise<{ total: number; items: JournalEntry[] }> {
    const params: unknown[] = [];
    const p = (v: unknown) => (params.push(v), `$${params.length}`);
    const where: string[] = [];
    if (f.subscriptions) where.push(`subscription_id = ANY(${p(f.subscriptions)}::text[])`);
    if (f.status?.length) where.push(`status = ANY(${p(f.status)}::text[])`);
    if (f.patient) where.push(`patient = ${p(f.patient)}`);
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = Number((await this.repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM notification ${w}`, params)).rows[0]!.n);
    const rows = await this.repo.db.query<Row>(`SELECT * FROM notification ${w} ORDER BY seq DESC LIMIT ${Math.max(0, Math.floor(f.count))} OFFSET ${Math.max(0, Math.floor(f.offset))}`, params);
    return { total, items: rows.rows.map(toEntry) };
  }

  /** The attempts of one notification. */
  async attempts(id: string): Promise<{ attempt: number; at: string; ok: boolean; detail?: string }[]> {
    const res = await this.repo.db.query<{ attempt: number; at: Date | string; ok: boolean; detail: string | null }>(
      `SELECT attempt, at, ok, detail FROM notification_attempt WHERE notification_id = $1 ORDER BY attempt`,
      [id],
    );
    return res.rows.map((r) => ({ attempt: Number(r.attempt), at: iso(r.at), ok: r.ok, ...(r.detail ? { detail: r.detail } : {}) }));
  }
}
