// TDDUI data declare their NdE events in the outbox with the write (ADM, SOR, DOC): through the
// real server, on the embedded database.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { http, readExample, startTestServer, type TestServer } from '../server/test-support.js';
import { readEvents } from '../storage/outbox.js';
import { horizonPassed } from '../storage/testing.js';
import { J46_SYSTEM } from '../rest/events.js';

let s: TestServer;
before(async () => {
  s = await startTestServer('embedded');
});
after(async () => s?.stop());

const codes = async () => (await horizonPassed(s.repo.db), await readEvents(s.repo.db, undefined, 1000)).map((e) => `${e.type.code}:${e.patient ?? ''}:${e.focus?.replace(/\/_history\/\d+$/, '') ?? ''}`);

test('a séjour sent starts (ADM), ends when its end is sent (SOR), and an identical resend says nothing', async () => {
  const bundle = readExample('Bundle-tddui-bundle-example.json');
  const r1 = await http(s.base, { body: bundle });
  assert.equal(r1.status, 200, r1.text);
  const locations: string[] = r1.json.entry.map((e: { response: { location: string } }) => e.response.location);
  const patient = locations.find((l) => l.startsWith('Patient/'))!.replace(/\/_history\/\d+$/, '');
  const sejour = locations[2]!.replace(/\/_history\/\d+$/, '');
  assert.deepEqual(await codes(), [`ADM:${patient}:${sejour}`]);
  await horizonPassed(s.repo.db);
  const events = await readEvents(s.repo.db, undefined, 10);
  assert.equal(events[0]!.type.system, J46_SYSTEM);
  assert.equal(events[0]!.source, 'ans.fhir.fr.tddui');
  assert.deepEqual(events[0]!.detail, { display: 'Admission d’un usager dans l’établissement', start: '2023-04-14' });

  assert.equal((await http(s.base, { body: bundle })).status, 200);
  assert.equal((await codes()).length, 1, 'an identical resend writes nothing and declares nothing');

  const ended = structuredClone(bundle);
  const enc = ended.entry[2].resource;
  enc.period.end = '2024-01-31';
  enc.status = 'finished';
  const r3 = await http(s.base, { body: ended });
  assert.equal(r3.status, 200, r3.text);
  assert.deepEqual(await codes(), [`ADM:${patient}:${sejour}`, `SOR:${patient}:${sejour}`]);
});

test('documents sent declare DOC about their usager, the projet personnalisé a new version', async () => {
  const before = (await codes()).length;
  const bundle = readExample('Bundle-tddui-pp-pa-bundle-example.json');
  const docs = bundle.entry.filter((e: { resource: { resourceType: string } }) => e.resource.resourceType === 'DocumentReference').length;
  assert.ok(docs > 0);
  const r = await http(s.base, { body: bundle });
  assert.equal(r.status, 200, r.text);
  const added = (await codes()).slice(before);
  assert.equal(added.filter((c) => c.startsWith('DOC:Patient/')).length, docs, added.join('\n'));
  // Its projet personnalisé (a CarePlan): a new version; an identical resend, none.
  assert.equal(added.filter((c) => /^pp-new-version:Patient\/[^:]+:CarePlan\//.test(c)).length, 1, added.join('\n'));
  assert.equal((await http(s.base, { body: bundle })).status, 200);
  assert.equal((await codes()).length, before + added.length);
});
