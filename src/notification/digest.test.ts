// Digests and the e-mail / SMS channels with real peers: a daily and a weekly digest, with a fake
// clock, each gather exactly the events of their period in one French e-mail received by a real
// SMTP server (smtp-server); one e-mail per event when immediate; SMS through an HTTP gateway
// stub; the digest periods in Europe/Paris across the change to summer time.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { openRepository } from '../storage/index.js';
import type { Repository } from '../storage/types.js';
import { EVENT_TYPES } from '../rest/events.js';
import { smsGateway } from './notifications-suite.js';
import { httpSmsGateway, smtpSender } from './channels.js';
import { NotificationService } from './service.js';
import { digestDue, periodStart } from './settings.js';
import { subscription } from './testing.js';

interface Mail {
  to: string[];
  subject: string;
  text: string;
}

/** RFC 2047 encoded words and a quoted-printable / base64 body, as nodemailer writes them. */
function decodeMail(raw: string): { subject: string; text: string } {
  const [head, ...rest] = raw.split(/\r?\n\r?\n/);
  const headers = head!.replace(/\r?\n[ \t]+/g, ' ');
  const words = (s: string) =>
    s.replace(/=\?utf-8\?([QB])\?([^?]*)\?=\s*/gi, (_m, enc: string, data: string) =>
      enc.toUpperCase() === 'B' ? Buffer.from(data, 'base64').toString('utf8') : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'),
    );
  const subject = words(/^subject: (.*)$/im.exec(headers)?.[1] ?? '').trim();
  const enc = /^content-transfer-encoding: (.*)$/im.exec(headers)?.[1]?.trim().toLowerCase();
  const body = rest.join('\n\n');
  const text =
    enc === 'base64'
      ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
      : enc === 'quoted-printable'
        ? Buffer.from(body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8')
        : body;
  return { subject, text };
}

describe('digests and e-mail / SMS channels (fake clock, real SMTP server and SMS gateway)', { concurrency: false }, () => {
  let repo: Repository;
  let smtp: SMTPServer;
  let port = 0;
  const mails: Mail[] = [];
  let now = new Date('2026-03-01T00:00:00Z');
  let svc: NotificationService;
  let sms: Awaited<ReturnType<typeof smsGateway>>;

  before(async () => {
    repo = await openRepository({ dataDir: 'memory://' });
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          mails.push({ to: session.envelope.rcptTo.map((r) => r.address), ...decodeMail(Buffer.concat(chunks).toString('utf8')) });
          cb();
        });
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
    port = (smtp.server.address() as AddressInfo).port;
    sms = await smsGateway();
    svc = new NotificationService(repo, {
      clock: () => now,
      email: smtpSender({ host: '127.0.0.1', port, from: 'notifications@essms.example' }),
      sms: httpSmsGateway({ url: sms.url, token: 'gw-token' }),
    });
  });
  after(async () => {
    await svc?.stop();
    await sms?.close();
    await new Promise<void>((r) => smtp.close(() => r()));
    await repo?.close();
  });

  const at = async (iso: string, title: string, key = 'robert|langdon|1960-03-20') => {
    const t = EVENT_TYPES.sortie;
    await repo.execute({ ops: [], now: new Date(iso), events: () => [{ type: { system: t.system, code: t.code, display: t.display }, detail: { subjectKey: key, title } }] });
  };

  test('the digest periods, in Europe/Paris, across the change to summer time', () => {
    // 08:00 in Paris is 07:00Z in winter, 06:00Z from Sunday 29 March 2026.
    assert.equal(digestDue(new Date('2026-03-28T07:00:00Z'), 'daily', 8).toISOString(), '2026-03-29T06:00:00.000Z');
    assert.equal(digestDue(new Date('2026-03-29T06:00:00Z'), 'daily', 8).toISOString(), '2026-03-30T06:00:00.000Z');
    assert.equal(digestDue(new Date('2026-03-27T06:59:59Z'), 'daily', 8).toISOString(), '2026-03-27T07:00:00.000Z');
    assert.equal(digestDue(new Date('2026-10-24T12:00:00Z'), 'daily', 8).toISOString(), '2026-10-25T07:00:00.000Z');
    assert.equal(digestDue(new Date('2026-03-02T08:00:00Z'), 'weekly', 9, 'mon').toISOString(), '2026-03-09T08:00:00.000Z');
    assert.equal(digestDue(new Date('2026-03-26T12:00:00Z'), 'weekly', 9, 'mon').toISOString(), '2026-03-30T07:00:00.000Z');
    assert.equal(periodStart(new Date('2026-03-30T06:00:00Z'), 'daily').toISOString(), '2026-03-29T06:00:00.000Z');
    assert.equal(periodStart(new Date('2026-03-30T07:00:00Z'), 'weekly').toISOString(), '2026-03-23T08:00:00.000Z');
  });

  test('a daily and a weekly digest each gather exactly the events of their period, in one French e-mail', async () => {
    await repo.create(subscription({ channel: { type: 'email', endpoint: 'mailto:infirmiere@essms.example' }, frequency: { frequency: 'daily', hour: 8 } }));
    await repo.create(subscription({ channel: { type: 'email', endpoint: 'mailto:cadre@essms.example' }, frequency: { frequency: 'weekly', hour: 9, dayOfWeek: 'mon' } }));
    // Sunday 1 March 09:30, Monday 2 March 07:59, 08:00:01 and 09:30 (Paris, UTC+1).
    await at('2026-03-01T08:30:00Z', 'A');
    await at('2026-03-02T06:59:00Z', 'B');
    await at('2026-03-02T07:00:01Z', 'C');
    await at('2026-03-02T08:30:00Z', 'D');
    await at('2026-03-02T08:40:00Z', 'autre usager', 'dupont|jean|1950-01-01');
    await svc.tick();
    assert.equal(mails.length, 0, 'nothing before the hour');
    const held = await svc.journal({ status: ['held'], count: 50, offset: 0 });
    assert.equal(held.total, 8, '4 events × 2 subscriptions, the other usager matches none');

    now = new Date('2026-03-02T06:59:59Z');
    await svc.tick();
    assert.equal(mails.length, 0);
    now = new Date('2026-03-02T07:00:00Z'); // Monday 08:00 in Paris: the daily digest of A and B
    await svc.tick();
    assert.equal(mails.length, 1);
    assert.deepEqual(mails[0]!.to, ['infirmiere@essms.example']);
    assert.equal(mails[0]!.subject, 'Résumé quotidien des notifications : 2 événements');
    assert.match(mails[0]!.text, /Voici les 2 événements survenus entre le dimanche 1 mars 2026 à 08:00 et le lundi 2 mars 2026 à 08:00 :/);
    assert.deepEqual([...mails[0]!.text.matchAll(/ — ([A-D])$/gm)].map((m) => m[1]), ['A', 'B']);
    assert.match(mails[0]!.text, /- Sortie d’un patient de l’établissement de santé \(usager : Langdon Robert\), le dimanche 1 mars 2026 à 09:30 — A/);

    now = new Date('2026-03-02T08:00:00Z'); // Monday 09:00: the weekly digest of A, B and C
    await svc.tick();
    assert.equal(mails.length, 2);
    assert.deepEqual(mails[1]!.to, ['cadre@essms.example']);
    assert.equal(mails[1]!.subject, 'Résumé hebdomadaire des notifications : 3 événements');
    assert.match(mails[1]!.text, /entre le lundi 23 février 2026 à 09:00 et le lundi 2 mars 2026 à 09:00/);
    assert.deepEqual([...mails[1]!.text.matchAll(/ — ([A-D])$/gm)].map((m) => m[1]), ['A', 'B', 'C']);

    now = new Date('2026-03-03T07:00:00Z'); // Tuesday 08:00: the daily digest of C and D
    await svc.tick();
    assert.equal(mails.length, 3);
    assert.deepEqual([...mails[2]!.text.matchAll(/ — ([A-D])$/gm)].map((m) => m[1]), ['C', 'D']);
    await svc.tick();
    assert.equal(mails.length, 3, 'each digest once');
    const journal = await svc.journal({ count: 50, offset: 0 });
    assert.equal(journal.items.filter((e) => e.status === 'digested').length, 7);
    assert.equal(journal.items.filter((e) => e.status === 'held').length, 1, 'D waits for next Monday');
    assert.equal(journal.items.filter((e) => e.eventId === undefined && e.status === 'sent').length, 3);
  });

  test('immediate: one e-mail per event; SMS through the gateway', async () => {
    const before = mails.length;
    await repo.create(subscription({ criteria: 'CommunicationRequest?event-type=ADM', channel: { type: 'email', endpoint: 'mailto:famille@example.fr' } }));
    await repo.create(subscription({ criteria: 'CommunicationRequest?event-type=ADM', channel: { type: 'sms', endpoint: 'tel:+33612345678' } }));
    const t = EVENT_TYPES.admission;
    now = new Date('2026-03-03T10:00:00Z');
    await repo.execute({ ops: [], now, events: () => [{ type: { system: t.system, code: t.code, display: t.display }, occurred: '2026-03-03T09:00:00Z', detail: { subjectKey: 'robert|langdon|1960-03-20', title: 'entrée en SSIAD' } }] });
    await svc.tick();
    assert.equal(mails.length, before + 1);
    const m = mails.at(-1)!;
    assert.deepEqual(m.to, ['famille@example.fr']);
    assert.equal(m.subject, 'Notification : Admission d’un usager dans l’établissement');
    assert.match(m.text, /Bonjour,\n\nAdmission d’un usager dans l’établissement \(usager : Langdon Robert\), le mardi 3 mars 2026 à 10:00 — entrée en SSIAD\./);
    assert.equal(sms.received.length, 1);
    assert.equal(sms.received[0]!.to, '+33612345678');
    assert.equal(sms.received[0]!.auth, 'Bearer gw-token');
    assert.match(sms.received[0]!.text, /^Admission d’un usager dans l’établissement \(usager : Langdon Robert\), le mardi 3 mars 2026 à 10:00 — entrée en SSIAD$/);
  });
});
