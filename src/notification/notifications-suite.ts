// Event notifications over HTTP on one database kind: the official NdE examples, Subscription
// CRUD and search, refusals of what cannot be delivered, matching, signed rest-hook delivery,
// a webhook down then back (every notification exactly once), parking and replay, the journal,
// SMS through a gateway, and the circle restriction.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { http, startTestServer, type DbKind, type TestServer } from '../server/test-support.js';
import { readEvents } from '../storage/outbox.js';
import { EVENT_TYPES, J46_SYSTEM, PROJECT_EVENT_SYSTEM } from '../rest/events.js';
import { NOTIFICATION_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature } from './channels.js';
import { ndeExample, subscription, until, Webhook } from './testing.js';
import { notificationsOf } from '../server/app.js';
import { RESOURCE_TYPES_SYSTEM } from '../coordination/circle-access.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
import { horizonPassed } from '../storage/testing.js';

const NDE = 'ans.fhir.fr.nde#3.0.0-ballot';
const NOTIFY = { pollMs: 100, retry: { baseMs: 100, maxMs: 400, maxAttempts: 20 }, leaseMs: 3000, restHookTimeoutMs: 2000, restrictToCircle: false };

export function notificationSuite(kind: DbKind, skip?: string): void {
  describe(`notifications (NdE) over HTTP [${kind}]`, { skip, concurrency: false }, () => {
    let s: TestServer;
    const hook = new Webhook();
    before(async () => {
      s = await startTestServer(kind, { igs: [NDE], notifications: NOTIFY });
      await hook.start();
    });
    after(async () => {
      await hook.stop();
      await s?.stop();
    });

    test('the official NdE examples are accepted: the Subscription, the event declaration, the notification request', async () => {
      for (const name of ['Subscription-sub1.json', 'CommunicationRequest-com2.json', 'CommunicationRequest-com1.json']) {
        const ex = ndeExample(name);
        const r = await http(`${s.base}/${ex.resourceType}`, { body: ex });
        assert.equal(r.status, 201, `${name}: ${r.text.slice(0, 600)}`);
      }
      // The declaration is an event (SOR, J46), recorded with it.
      await horizonPassed(s.repo.db);
      const events = await readEvents(s.repo.db, undefined, 100);
      const sor = events.filter((e) => e.source === 'nde');
      assert.equal(sor.length, 1);
      assert.deepEqual(sor[0]!.type, { system: J46_SYSTEM, code: 'SOR', display: 'Sortie d\'un patient de l\'établissement de santé' });
      assert.equal(sor[0]!.occurred, '2019-01-01T00:00:00.000Z');
      assert.match(sor[0]!.focus!, /^CommunicationRequest\/[^/]+\/_history\/1$/);
      // sub1 ended in 2020: nothing is produced for it.
      await notificationsOf(s.app)!.drain();
      assert.equal((await notificationsOf(s.app)!.journal({ count: 10, offset: 0 })).total, 0);
    });

    test('Subscription create, read, search, update, delete over HTTP; what cannot be delivered is refused (422)', async () => {
      const c = await http(`${s.base}/Subscription`, { body: subscription({ channel: { type: 'rest-hook', endpoint: hook.url } }) });
      assert.equal(c.status, 201, c.text);
      const id = c.json.id;
      assert.equal((await http(`${s.base}/Subscription/${id}`)).json.channel.endpoint, hook.url);
      const found = await http(`${s.base}/Subscription?status=active`);
      assert.equal(found.status, 200, found.text);
      assert.ok(found.json.entry.some((e: Json) => e.resource.id === id));
      const off = { ...c.json, status: 'off' };
      const u = await http(`${s.base}/Subscription/${id}`, { method: 'PUT', body: off });
      assert.equal(u.status, 200, u.text);
      assert.equal(u.json.meta.versionId, '2');
      const d = await http(`${s.base}/Subscription/${id}`, { method: 'DELETE' });
      assert.ok(d.status === 200 || d.status === 204, d.text);
      assert.equal((await http(`${s.base}/Subscription/${id}`)).status, 410);

      const bad: [Json, string][] = [
        [subscription({ criteria: 'Patient?name=x', channel: { type: 'rest-hook', endpoint: hook.url } }), 'Subscription.criteria'],
        [subscription({ criteria: 'CommunicationRequest?status=active', channel: { type: 'rest-hook', endpoint: hook.url } }), 'Subscription.criteria'],
        [subscription({ channel: { type: 'rest-hook', endpoint: 'ftp://x' } }), 'Subscription.channel.endpoint'],
        [subscription({ channel: { type: 'email', endpoint: 'pierre' } }), 'Subscription.channel.endpoint'],
        [subscription({ channel: { type: 'message', endpoint: hook.url } }), 'Subscription.channel.type'],
        [subscription({ channel: { type: 'email', endpoint: 'mailto:a@b.fr' }, frequency: { frequency: 'monthly' } }), 'Subscription.extension'],
        [subscription({ channel: { type: 'email', endpoint: 'mailto:a@b.fr' }, frequency: { frequency: 'daily', hour: 25 } }), 'Subscription.extension'],
      ];
      for (const [body, where] of bad) {
        const r = await http(`${s.base}/Subscription`, { body });
        assert.equal(r.status, 422, r.text);
        const issue = r.json.issue.find((i: Json) => i.severity === 'error' && (i.expression ?? []).some((x: string) => x.startsWith(where)));
        assert.ok(issue, `${where}: ${r.text.slice(0, 800)}`);
        assert.ok(issue.details?.text || issue.diagnostics, 'a French and English text');
      }
    });

    let subId = '';
    test('a matching event declaration is delivered to the rest-hook, signed; other types and other usagers are not', async () => {
      const c = await http(`${s.base}/Subscription`, { body: subscription({ channel: { type: 'rest-hook', endpoint: hook.url }, secret: 's3cr3t' }) });
      assert.equal(c.status, 201, c.text);
      subId = c.json.id;
      const declaration = ndeExample('CommunicationRequest-com2.json');
      delete declaration.id;
      const r = await http(`${s.base}/CommunicationRequest`, { body: declaration });
      assert.equal(r.status, 201, r.text);
      // Another type (ADM) and another usager: not for this subscription.
      const adm = structuredClone(declaration);
      adm.extension[0].valueCodeableConcept.coding[0] = { system: J46_SYSTEM, code: 'ADM' };
      assert.equal((await http(`${s.base}/CommunicationRequest`, { body: adm })).status, 201);
      const other = structuredClone(declaration);
      other.contained[0].birthDate = '1970-01-01';
      assert.equal((await http(`${s.base}/CommunicationRequest`, { body: other })).status, 201);

      await until(() => hook.received.length >= 1, 10_000, 'the rest-hook call');
      await notificationsOf(s.app)!.drain();
      assert.equal(hook.received.length, 1);
      const got = hook.received[0]!;
      assert.equal(got.json.resourceType, 'CommunicationRequest');
      assert.deepEqual(got.json.meta.profile, ['https://interop.esante.gouv.fr/ig/fhir/nde/StructureDefinition/nde-notificationrequest']);
      assert.deepEqual(got.json.basedOn, [{ reference: `Subscription/${subId}` }]);
      assert.equal(got.json.extension[0].valueCodeableConcept.coding[0].code, 'SOR');
      assert.match(got.json.payload[0].contentString, /^Sortie d'un patient de l'établissement de santé \(usager : Langdon Robert\), le mardi 1 janvier 2019 à 01:00/);
      assert.equal(got.headers['content-type'], 'application/fhir+json');
      assert.equal(got.headers[SIGNATURE_HEADER], signature('s3cr3t', String(got.headers[TIMESTAMP_HEADER]), got.body), 'HMAC over timestamp.body');
      assert.equal(got.headers[NOTIFICATION_ID_HEADER], got.json.id);
      // The notification request produced is a valid nde-notificationrequest.
      const v = await http(`${s.base}/CommunicationRequest/$validate`, { body: got.json });
      const errors = (v.json.issue ?? []).filter((i: Json) => i.severity === 'error');
      assert.deepEqual(errors.map((i: Json) => `${i.expression}: ${i.diagnostics}`), []);
    });

    test('a webhook down for a while, then back, receives every notification exactly once', async () => {
      await hook.stop();
      hook.received = [];
      const n = 20;
      const declaration = ndeExample('CommunicationRequest-com2.json');
      delete declaration.id;
      for (let i = 0; i < n; i++) {
        const d = structuredClone(declaration);
        d.payload[0].contentAttachment.title = `Sortie n° ${i}`;
        assert.equal((await http(`${s.base}/CommunicationRequest`, { body: d })).status, 201);
      }
      const svc = notificationsOf(s.app)!;
      // Down: every notification fails and is retried (the "2 minutes" compressed to 2.5 s).
      await until(async () => (await svc.journal({ subscriptions: [subId], status: ['failed'], count: 1, offset: 0 })).total === n, 10_000, 'failed attempts');
      await new Promise((r) => setTimeout(r, 2500));
      const failed = await svc.journal({ subscriptions: [subId], status: ['failed'], count: 100, offset: 0 });
      assert.ok(failed.items.every((e) => e.attempts >= 2 && /ECONNREFUSED/.test(e.lastError ?? '')), 'retried with the reason kept');
      await hook.start(hook.port);
      await until(() => hook.received.length >= n, 15_000, 'every notification after the webhook came back');
      await new Promise((r) => setTimeout(r, 800));
      await svc.drain();
      const titles = hook.received.map((r) => r.json.payload[0].contentString.replace(/^.* — /, ''));
      assert.equal(hook.received.length, n, 'no duplicate');
      assert.deepEqual([...new Set(titles)].sort(), Array.from({ length: n }, (_, i) => `Sortie n° ${i}`).sort());
      assert.equal(new Set(hook.received.map((r) => r.headers[NOTIFICATION_ID_HEADER])).size, n);
    });

    test('a notification refused again and again is parked, shown in the journal, and replayed on demand', async () => {
      const bad = new Webhook();
      await bad.start();
      bad.status = 500;
      try {
        const c = await http(`${s.base}/Subscription`, { body: subscription({ criteria: `CommunicationRequest?event-type=${encodeURIComponent(PROJECT_EVENT_SYSTEM + '|pp-review-due')}`, channel: { type: 'rest-hook', endpoint: bad.url } }) });
        assert.equal(c.status, 201, c.text);
        const id = c.json.id;
        const svc = notificationsOf(s.app)!;
        const t = EVENT_TYPES.ppReviewDue;
        // An event no write causes (a review falling due), about the example's usager.
        await s.repo.recordEvents([{ type: { system: t.system, code: t.code, display: t.display }, detail: { subjectKey: 'robert|langdon|1960-03-20', title: 'révision annuelle' } }]);
        await until(async () => (await svc.journal({ subscriptions: [id], status: ['parked'], count: 1, offset: 0 })).total === 1, 30_000, 'parked');
        const j = await http(`${s.base}/Subscription/${id}/$journal?status=parked`);
        assert.equal(j.status, 200, j.text);
        assert.equal(j.json.total, 1);
        const entry = j.json.entry[0].resource;
        assert.equal(entry.status, 'on-hold');
        const delivery = Object.fromEntries(entry.extension.at(-1).extension.map((x: Json) => [x.url, x.valueCode ?? x.valueInteger ?? x.valueString]));
        assert.equal(delivery.status, 'parked');
        assert.equal(delivery.attempts, 20);
        assert.match(delivery.error, /HTTP 500/);
        bad.status = 200;
        const r = await http(`${s.base}/Subscription/${id}/$replay`, { method: 'POST', body: { resourceType: 'Parameters' } });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.parameter[0].valueInteger, 1, JSON.stringify((await svc.journal({ subscriptions: [id], count: 5, offset: 0 })).items.map((e) => [e.status, e.attempts, e.nextAttempt])));
        await until(() => bad.received.length === 1, 10_000, 'the replayed notification');
        const sent = await http(`${s.base}/Subscription/${id}/$journal?status=sent`);
        assert.equal(sent.json.total, 1);
        assert.equal(sent.json.entry[0].resource.status, 'completed');
        assert.equal((await http(`${s.base}/Subscription/${id}/$journal?status=bogus`)).status, 400);
      } finally {
        await bad.stop();
      }
    });

    test('SMS through the HTTP gateway', async () => {
      // This server has no gateway: the notification fails with the reason and stays retried.
      const c = await http(`${s.base}/Subscription`, { body: subscription({ criteria: 'CommunicationRequest?event-type=DOC', channel: { type: 'sms', endpoint: 'tel:+33612345678' } }) });
      assert.equal(c.status, 201, c.text);
      const t = EVENT_TYPES.document;
      await s.repo.recordEvents([{ type: { system: t.system, code: t.code, display: t.display }, detail: { subjectKey: 'robert|langdon|1960-03-20', title: 'compte rendu' } }]);
      const svc = notificationsOf(s.app)!;
      await until(async () => (await svc.journal({ subscriptions: [c.json.id], status: ['failed'], count: 1, offset: 0 })).items[0]?.lastError?.includes('no SMS gateway') === true, 10_000, 'the SMS failure');
    });
  });
}

/** The SMS gateway stub: records `{ to, text }`. */
export async function smsGateway(): Promise<{ url: string; received: { to: string; text: string; auth?: string }[]; close(): Promise<void> }> {
  const received: { to: string; text: string; auth?: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const j = JSON.parse(body) as { to: string; text: string };
      received.push({ ...j, ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export { RESOURCE_TYPES_SYSTEM };
