// The notification routes of the FHIR API (registered in its plugin, behind its authentication):
//   GET  /fhir/Subscription/{id}/$journal   the delivery journal of a subscription (Bundle of the
//                                            notification requests, each with its delivery state)
//   POST /fhir/Subscription/{id}/$replay    parked / failed notifications sent again (all, or
//                                            `?notification=<id>`)
//   GET  /fhir/Subscription/{id}/$events    server-sent events: the alerts of a `websocket`
//                                            subscription, as they come (the Notifications page)
//   GET  /fhir/$changes?cursor=…            the durable change feed (docs/notifications.md)
// Who may: with authentication on, the subscriber the token stands for (`fhirUser`), or a token
// whose scopes name Subscription (system/Subscription.read) — never through `*`.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { FhirResource } from '../fhir/json.js';
import { FREQUENCY_EXT, readSubscription } from '../notification/settings.js';
import type { JournalEntry, NotificationService, NotificationStatus } from '../notification/service.js';
import type { Repository } from '../storage/types.js';
import { readChanges, parseChangeCursor, changeCursor, changeCursorText } from '../storage/changes.js';
import { actorOf } from './audit.js';
import { forbidden, type Authenticator } from './auth.js';
import { sendResource, type XmlCodec } from './format.js';
import { FhirError, HTTP_ERRORS } from './outcome.js';
import { queryPairs } from './search.js';
import { plural } from '../fhir/outcome/plural.js';

/** Our extension carrying a notification's delivery state in the journal (D-103). */
export const DELIVERY_EXT = 'https://tddui.org/fhir/StructureDefinition/notification-delivery';

const STATUSES: NotificationStatus[] = ['held', 'pending', 'failed', 'sent', 'parked', 'digested'];

/** A journal entry as a CommunicationRequest: the notification request with its delivery state. */
export function journalResource(e: JournalEntry): FhirResource {
  const digest = (e.payload as { digest?: boolean }).digest === true;
  const base: Record<string, unknown> = digest
    ? {
        resourceType: 'CommunicationRequest',
        id: e.id,
        basedOn: [{ reference: `Subscription/${e.subscriptionId}` }],
        payload: [{ contentString: `Résumé ${e.frequency === 'weekly' ? 'hebdomadaire' : 'quotidien'} : ${plural(((e.payload as { items?: unknown[] }).items ?? []).length, 'évènement', 'évènements')}` }],
      }
    : { ...(e.payload as object) };
  const delivery = [
    { url: 'status', valueCode: e.status },
    { url: 'channel', valueCode: e.channel },
    { url: 'frequency', valueCode: e.frequency },
    { url: 'attempts', valueInteger: e.attempts },
    ...(e.sentAt ? [{ url: 'sent', valueDateTime: e.sentAt }] : []),
    ...(e.lastError ? [{ url: 'error', valueString: e.lastError }] : []),
    ...(e.status === 'failed' || e.status === 'pending' ? [{ url: 'nextAttempt', valueDateTime: e.nextAttempt }] : []),
    ...(e.due ? [{ url: 'digestDue', valueDateTime: e.due }] : []),
    ...(e.digestId ? [{ url: 'digest', valueString: e.digestId }] : []),
  ];
  const status = e.status === 'sent' || e.status === 'digested' ? 'completed' : e.status === 'parked' ? 'on-hold' : 'active';
  return { ...base, status, extension: [...((base.extension as unknown[]) ?? []), { url: DELIVERY_EXT, extension: delivery }] } as unknown as FhirResource;
}

export interface NotificationRouteDeps {
  service: NotificationService;
  repo: Repository;
  auth?: Authenticator;
  xml?: XmlCodec;
}

export function notificationRoutes(app: FastifyInstance, deps: NotificationRouteDeps): void {
  const { service, repo } = deps;
  const base = (req: FastifyRequest) => `${req.protocol}://${req.host}/fhir`;

  /** The subscription, if the requester may see its notifications (404 / 403 otherwise). */
  const allowed = async (req: FastifyRequest, id: string) => {
    // A token restricted to some organisations sees the subscriptions of theirs only (D-170).
    const scope = actorOf(req)?.readScope;
    const record = await repo.read('Subscription', id, scope ? { scope } : {});
    const { settings } = readSubscription(record.resource);
    if (!deps.auth) return settings;
    const p = actorOf(req);
    if (p?.canExplicitly('Subscription', 'read')) return settings;
    if (p?.fhirUser && settings) {
      const subs = await service.dispatcher.subscriptions();
      const mine = subs.find((s) => s.id === id);
      if (mine && (await service.dispatcher.subscriberOf(mine)) === p.fhirUser) return settings;
    }
    throw forbidden(
      'Only the subscriber, or a token whose scopes name Subscription, may see the notifications of a subscription',
      'Seul l’abonné, ou un jeton dont les portées nomment Subscription, peut consulter les notifications d’un abonnement',
    );
  };

  app.get<{ Params: { id: string } }>('/Subscription/:id/$journal', async (req, reply) => {
    await allowed(req, req.params.id);
    const pairs = queryPairs(req.url);
    const get = (n: string) => pairs.filter(([k]) => k === n).map(([, v]) => v);
    const status = get('status').flatMap((v) => v.split(','));
    const bad = status.find((s) => !STATUSES.includes(s as NotificationStatus));
    if (bad) throw new FhirError(HTTP_ERRORS.PAGE_NUMBER, { name: 'status', value: bad }, { expression: 'status' });
    const count = Math.min(500, Math.max(0, Number(get('_count')[0] ?? 50) || 0));
    const offset = Math.max(0, Number(get('_offset')[0] ?? 0) || 0);
    const page = await service.journal({ subscriptions: [req.params.id], ...(status.length ? { status: status as NotificationStatus[] } : {}), count, offset });
    const b = base(req);
    const self = `${b}/Subscription/${req.params.id}/$journal`;
    const q = (o: number) => `${self}?${[...status.length ? [`status=${status.join(',')}`] : [], `_count=${count}`, `_offset=${o}`].join('&')}`;
    const bundle = {
      resourceType: 'Bundle',
      id: randomUUID(),
      type: 'searchset',
      total: page.total,
      link: [{ relation: 'self', url: q(offset) }, ...(offset + count < page.total ? [{ relation: 'next', url: q(offset + count) }] : [])],
      entry: page.items.map((e) => ({ fullUrl: `urn:uuid:${e.id}`, resource: journalResource(e), search: { mode: 'match' } })),
    };
    return sendResource(reply, 200, bundle, deps.xml);
  });

  app.post<{ Params: { id: string } }>('/Subscription/:id/$replay', async (req, reply) => {
    await allowed(req, req.params.id);
    const one = queryPairs(req.url).find(([k]) => k === 'notification')?.[1];
    const n = await service.replay({ subscription: req.params.id, ...(one ? { id: one } : {}) });
    return sendResource(reply, 200, { resourceType: 'Parameters', parameter: [{ name: 'replayed', valueInteger: n }] }, deps.xml);
  });

  app.get<{ Params: { id: string } }>('/Subscription/:id/$events', async (req, reply) => {
    const settings = await allowed(req, req.params.id);
    if (settings?.channel !== 'websocket') {
      throw new FhirError(HTTP_ERRORS.PAGE_NUMBER, { name: 'channel', value: String(settings?.channel) }, { expression: 'Subscription.channel.type' });
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-request-id': String(req.id) });
    res.write(': flux des notifications\n\n');
    const remove = service.alerts.add(req.params.id, {
      write(event, id, data) {
        if (res.destroyed || res.writableEnded) return false;
        return res.write(`event: ${event}\nid: ${id}\ndata: ${data}\n\n`) || true;
      },
    });
    const ping = setInterval(() => res.write(': ping\n\n'), 25_000);
    res.on('close', () => {
      clearInterval(ping);
      remove();
    });
  });
}

/** GET /fhir/$changes: the durable change feed (served whether or not NdE is in use). */
export function changeFeedRoutes(app: FastifyInstance, deps: { repo: Repository; auth?: Authenticator; xml?: XmlCodec }): void {
  const { repo } = deps;
  const base = (req: FastifyRequest) => `${req.protocol}://${req.host}/fhir`;
  app.get('/$changes', async (req, reply) => {
    if (deps.auth) {
      const p = actorOf(req);
      if (!p?.canAll('read')) throw forbidden('The change feed needs system/*.read (it lists every change)', 'Le flux des changements demande system/*.read (il liste tous les changements)');
      if (p.readScope) throw forbidden('The change feed lists the changes of every organisation: it is not available to a token restricted to some organisations', 'Le flux des changements liste les changements de tous les établissements : il n’est pas accessible à un jeton limité à certains établissements');
    }
    const pairs = queryPairs(req.url);
    const raw = pairs.find(([k]) => k === 'cursor')?.[1];
    const cursor = raw ? parseChangeCursor(raw) : undefined;
    if (raw && !cursor) throw new FhirError(HTTP_ERRORS.PAGE_NUMBER, { name: 'cursor', value: raw }, { expression: 'cursor' });
    const count = Math.min(1000, Math.max(1, Number(pairs.find(([k]) => k === '_count')?.[1] ?? 100) || 100));
    const changes = await readChanges(repo.db, cursor, count);
    const b = base(req);
    const last = changes.at(-1);
    const next = last ? changeCursorText(changeCursor(last)) : raw ?? '';
    const bundle = {
      resourceType: 'Bundle',
      id: randomUUID(),
      type: 'history',
      meta: { tag: [{ system: 'https://tddui.org/fhir/CodeSystem/change-feed', code: 'cursor', display: next }] },
      link: [{ relation: 'self', url: `${b}/$changes?${raw ? `cursor=${raw}&` : ''}_count=${count}` }, { relation: 'next', url: `${b}/$changes?cursor=${next}&_count=${count}` }],
      entry: changes.map((c) => ({
        fullUrl: `${b}/${c.resourceType}/${c.id}`,
        request: { method: c.deleted ? 'DELETE' : c.versionId === 1 ? 'POST' : 'PUT', url: `${c.resourceType}/${c.id}/_history/${c.versionId}` },
        response: { status: c.deleted ? '204' : c.versionId === 1 ? '201' : '200', lastModified: c.lastUpdated, etag: `W/"${c.versionId}"` },
      })),
    };
    return sendResource(reply, 200, bundle, deps.xml, { 'x-change-cursor': next });
  });
}

export { FREQUENCY_EXT };
