// The usager's agenda from the DUI data, over HTTP on the embedded database with TDDUI and GAP
// loaded: the official TDDUI Bundle's agenda event becomes an Appointment of the usager; a
// resent event, planned then cancelled, moves it to booked then cancelled; the Encounter stays
// the record; the sync is idempotent and resumes from its cursor.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FROM_EVENT_SYSTEM, type UsagerAgendaSync } from '../coordination/agenda/usager-agenda.js';
import { GAP_PACKAGE } from '../coordination/agenda/gap-module.js';
import { SHARED_FHIR } from '../testing/paths.js';
import { http, readExample, startTestServer, type TestServer } from './test-support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

let s: TestServer;
let sync: UsagerAgendaSync;
const previous = process.env.FHIR_PACKAGE_CACHE;
before(async () => {
  process.env.FHIR_PACKAGE_CACHE = SHARED_FHIR;
  s = await startTestServer('embedded', { igs: ['ans.fhir.fr.tddui#2.3.0', 'ans.fhir.fr.gap#3.0.0'] });
  sync = (s.service.modules.find((m) => m.name === GAP_PACKAGE) as unknown as { usagerSync: UsagerAgendaSync }).usagerSync;
});
after(async () => {
  await s?.stop();
  if (previous === undefined) delete process.env.FHIR_PACKAGE_CACHE;
  else process.env.FHIR_PACKAGE_CACHE = previous;
});

const appointmentsOf = async (encounter: string) =>
  (await http(`${s.base}/Appointment?identifier=${encodeURIComponent(`${FROM_EVENT_SYSTEM}|Encounter/${encounter}`)}`)).json.entry?.map((e: Json) => e.resource) ?? [];

test('a TDDUI agenda event becomes the usager’s Appointment and stays in step (planned -> booked, cancelled -> cancelled)', async () => {
  const bundle = readExample('Bundle-tddui-bundle-example.json');
  const sent = await http(s.base, { body: bundle });
  assert.equal(sent.status, 200, sent.text.slice(0, 1000));
  const evIndex = bundle.entry.findIndex((e: Json) => e.resource.meta?.profile?.[0]?.endsWith('tddui-encounter-evenement'));
  const encounterId = sent.json.entry[evIndex].response.location.split('/')[1];
  const patientId = sent.json.entry[0].response.location.split('/')[1];
  await sync.run();
  let [a] = await appointmentsOf(encounterId);
  assert.ok(a, 'the Appointment exists');
  assert.equal(a.status, 'fulfilled', 'a finished event is a fulfilled appointment');
  assert.equal(a.start, '2023-04-14T10:30:00+02:00');
  assert.equal(a.end, '2023-04-14T11:15:00+02:00');
  assert.equal(a.description, 'Visite à domicile pour soins infirmier.');
  assert.equal(a.supportingInformation[0].reference, `Encounter/${encounterId}`);
  assert.deepEqual(a.participant.map((p: Json) => p.actor.reference.split('/')[0]), ['Patient', 'Practitioner', 'Location']);
  assert.equal(a.participant[0].actor.reference, `Patient/${patientId}`);
  const version = a.meta.versionId;
  // Idempotent: nothing new to apply, nothing written.
  assert.equal(await sync.run(), 0);
  assert.equal((await appointmentsOf(encounterId))[0].meta.versionId, version);

  // The DUI resends the event as planned in the future, then cancelled.
  const ev = bundle.entry[evIndex].resource;
  for (const [status, expected] of [['planned', 'booked'], ['cancelled', 'cancelled']] as const) {
    ev.status = status;
    ev.period = { start: '2027-01-12T10:30:00+01:00', end: '2027-01-12T11:15:00+01:00' };
    const r = await http(s.base, { body: bundle });
    assert.equal(r.status, 200, r.text.slice(0, 600));
    assert.equal(r.json.entry[evIndex].response.location.split('/')[1], encounterId, 'the same Encounter (resend matching)');
    await sync.run();
    [a] = await appointmentsOf(encounterId);
    assert.equal(a.status, expected, status);
    assert.equal(a.start, '2027-01-12T10:30:00+01:00');
  }
  assert.equal((await appointmentsOf(encounterId)).length, 1, 'one Appointment per event');
  // The usager's agenda: their Appointments by actor.
  const mine = await http(`${s.base}/Appointment?actor=Patient/${patientId}`);
  assert.equal(mine.json.total, 1);
  // The Encounter stays the record.
  assert.equal((await http(`${s.base}/Encounter/${encounterId}`)).json.status, 'cancelled');
});
