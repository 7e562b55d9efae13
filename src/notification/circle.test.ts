// The circle restriction: a subscriber receives nothing about a usager whose circle of care they
// are not in (an active member authorised by the usager's Consent, src/coordination/circle-access.ts);
// a member whose period has ended, or a subscriber the server cannot identify, receives nothing
// either; the usager themself does.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CircleAccess, RESOURCE_TYPES_SYSTEM } from '../coordination/circle-access.js';
import { EVENT_TYPES } from '../rest/events.js';
import { openRepository } from '../storage/index.js';
import type { Repository } from '../storage/types.js';
import { NotificationService } from './service.js';
import { subscription, Webhook } from './testing.js';

let repo: Repository;
const hook = new Webhook();
before(async () => {
  repo = await openRepository({ dataDir: 'memory://' });
  await hook.start();
});
after(async () => {
  await hook.stop();
  await repo?.close();
});

test('only the members of the usager’s circle (and the usager) receive what concerns the usager', async () => {
  const p = await repo.create({ resourceType: 'Patient', identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: '160032A00000001' }], name: [{ family: 'Martin', given: ['Lucie'] }], birthDate: '1940-05-01' });
  const other = await repo.create({ resourceType: 'Patient', name: [{ family: 'Autre', given: ['Usager'] }], birthDate: '1950-01-01' });
  const member = await repo.create({ resourceType: 'Practitioner', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: '10000000001' }], name: [{ family: 'Membre' }] });
  const outsider = await repo.create({ resourceType: 'Practitioner', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: '10000000002' }], name: [{ family: 'Dehors' }] });
  const former = await repo.create({ resourceType: 'Practitioner', name: [{ family: 'Parti' }] });
  const patient = `Patient/${p.id}`;
  await repo.create({
    resourceType: 'CareTeam',
    status: 'active',
    subject: { reference: patient },
    participant: [
      { member: { reference: `Practitioner/${member.id}` }, period: { start: '2025-01-01' } },
      { member: { reference: `Practitioner/${former.id}` }, period: { start: '2024-01-01', end: '2025-01-01' } },
    ],
  });
  for (const who of [member.id, former.id]) {
    await repo.create({
      resourceType: 'Consent',
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { reference: patient },
      provision: { type: 'permit', actor: [{ role: { text: 'membre' }, reference: { reference: `Practitioner/${who}` } }], class: [{ system: RESOURCE_TYPES_SYSTEM, code: 'CareTeam' }, { system: RESOURCE_TYPES_SYSTEM, code: 'DocumentReference' }] },
    });
  }
  // Subscribers: a contained Practitioner found by RPPS (member, outsider), a literal one (former),
  // the usager themself, and someone the server does not know.
  const contained = (rpps: string) => ({ ...subscription({ channel: { type: 'rest-hook', endpoint: `${hook.url}?who=${rpps}` }, criteria: 'CommunicationRequest?event-type=ADM,NOT' }) });
  const subs: Record<string, unknown> = {};
  for (const [who, rpps] of [['member', '10000000001'], ['outsider', '10000000002'], ['unknown', '19999999999']] as const) {
    const s = contained(rpps);
    s.contained.find((c: { resourceType: string }) => c.resourceType === 'Practitioner').identifier = [{ system: 'https://rpps.esante.gouv.fr', value: rpps }];
    s.extension.find((e: { url: string }) => e.url.endsWith('/subject')).valueReference = { reference: patient };
    s.channel.endpoint = `${hook.url}?who=${who}`;
    subs[who] = s;
  }
  const literal = (who: string, ref: string) => {
    const s = contained('x');
    s.extension.find((e: { url: string }) => e.url.endsWith('/subject')).valueReference = { reference: patient };
    s.extension.find((e: { url: string }) => e.url.endsWith('/subscriber')).valueReference = { reference: ref };
    s.channel.endpoint = `${hook.url}?who=${who}`;
    return s;
  };
  subs.former = literal('former', `Practitioner/${former.id}`);
  subs.usager = literal('usager', patient);
  for (const s of Object.values(subs)) await repo.create(s as never);

  const svc = new NotificationService(repo, { circle: new CircleAccess(repo) });
  const adm = EVENT_TYPES.admission;
  const note = EVENT_TYPES.note;
  await repo.recordEvents([
    { type: { system: adm.system, code: adm.code }, patient, detail: { title: 'entrée' } },
    { type: { system: note.system, code: note.code }, patient, detail: { title: 'note' } },
    { type: { system: adm.system, code: adm.code }, patient: `Patient/${other.id}`, detail: { title: 'autre usager' } },
  ]);
  await svc.drain();
  const byWho = new Map<string, string[]>();
  for (const r of hook.received) {
    const who = String(r.json.recipient[0].extension[0].valueUrl).split('who=')[1]!;
    byWho.set(who, [...(byWho.get(who) ?? []), String(r.json.payload[0].contentString).split(' — ')[1]!]);
  }
  assert.deepEqual(Object.fromEntries([...byWho.entries()].map(([k, v]) => [k, v.sort()])), { member: ['entrée', 'note'], usager: ['entrée', 'note'] });
  await svc.stop();
});
