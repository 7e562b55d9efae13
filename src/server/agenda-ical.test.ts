// The private iCalendar feeds (.ics) of a professional and of a usager, written with
// ical-generator and parsed back here with another library (ical.js): the same events (uid,
// start, end, summary, status) as the Appointments, the free Slots as VFREEBUSY periods; a
// revoked token answers 404.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import ICAL from 'ical.js';
import { fromWall, isoLocal, toWall } from '../coordination/agenda/time.js';
import { appointmentOf, availability, GAP_PATH, scheduleOf, serviceDuration } from './gap-suite.js';
import { SHARED_FHIR } from '../testing/paths.js';
import { http, startTestServer, type TestServer } from './test-support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

let s: TestServer;
const previous = process.env.FHIR_PACKAGE_CACHE;
before(async () => {
  process.env.FHIR_PACKAGE_CACHE = SHARED_FHIR;
  s = await startTestServer('embedded', { packages: [GAP_PATH] });
});
after(async () => {
  await s?.stop();
  if (previous === undefined) delete process.env.FHIR_PACKAGE_CACHE;
  else process.env.FHIR_PACKAGE_CACHE = previous;
});

/** Local wall time `days` days from today at hh:mm, as an ISO dateTime with the Paris offset. */
function local(days: number, hh: number, mm = 0): string {
  const today = Math.floor(toWall(Date.now()) / 86_400_000) * 86_400_000;
  return isoLocal(fromWall(today + days * 86_400_000 + (hh * 60 + mm) * 60_000));
}

function parse(text: string) {
  const comp = new ICAL.Component(ICAL.parse(text));
  const events = comp.getAllSubcomponents('vevent').map((v) => {
    const e = new ICAL.Event(v);
    return { uid: e.uid, start: e.startDate.toJSDate().toISOString(), end: e.endDate.toJSDate().toISOString(), summary: e.summary, status: String(v.getFirstPropertyValue('status')) };
  });
  const free = comp.getAllSubcomponents('vfreebusy').flatMap((fb) =>
    fb.getAllProperties('freebusy').map((p) => {
      const period = p.getFirstValue() as unknown as { start: { toJSDate(): Date }; end: { toJSDate(): Date } };
      return { type: String(p.getParameter('fbtype')), start: period.start.toJSDate().toISOString(), end: period.end.toJSDate().toISOString() };
    }),
  );
  return { name: String(comp.getFirstPropertyValue('x-wr-calname') ?? comp.getFirstPropertyValue('name')), events, free };
}

const iso = (t: string) => new Date(t).toISOString();

test('the .ics feeds of a professional and of a usager, read back by ical.js, show the same appointments and free slots; revoked: 404', async () => {
  const post = (type: string, body: Json) => http(`${s.base}/${type}`, { body });
  const pr = await post('Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Langdon', given: ['Anne'] }] });
  const role = `PractitionerRole/${(await post('PractitionerRole', { resourceType: 'PractitionerRole', active: true, practitioner: { reference: `Practitioner/${pr.json.id}` } })).json.id}`;
  const patient = `Patient/${(await post('Patient', { resourceType: 'Patient', name: [{ family: 'Martin' }] })).json.id}`;
  const sch = await post('Schedule', scheduleOf(role, [availability('j', 'free', local(14, 9), local(14, 12)), serviceDuration(30)]));
  assert.equal(sch.status, 201, sch.text);
  const appts = [
    appointmentOf('booked', local(14, 10), local(14, 11), [role, patient], { description: 'Soins infirmiers' }),
    appointmentOf('pending', local(15, 14), local(15, 15), [role], { description: 'Réunion de coordination' }),
    appointmentOf('cancelled', local(16, 9), local(16, 10), [role, patient], { description: 'Kiné (annulé)' }),
    appointmentOf('booked', local(17, 8), local(17, 9), [patient], { description: 'Transport' }),
  ];
  const ids: string[] = [];
  for (const a of appts) {
    const r = await post('Appointment', a);
    assert.equal(r.status, 201, r.text);
    ids.push(r.json.id);
  }
  // A feed for the Practitioner (their role's agenda) and one for the usager.
  const feed = async (subject: string) => {
    const r = await post('Appointment/$feed', { resourceType: 'Parameters', parameter: [{ name: 'subject', valueReference: { reference: subject } }] });
    assert.equal(r.status, 201, r.text);
    return r.json.parameter.find((p: Json) => p.name === 'url').valueUrl as string;
  };
  const proUrl = await feed(`Practitioner/${pr.json.id}`);
  const usagerUrl = await feed(patient);
  assert.match(proUrl, /\/agenda\/[A-Za-z0-9_-]{43}\.ics$/);
  assert.notEqual(proUrl.slice(-47), usagerUrl.slice(-47));

  const pro = await fetch(proUrl);
  assert.equal(pro.status, 200);
  assert.match(pro.headers.get('content-type') ?? '', /^text\/calendar/);
  const p = parse(await pro.text());
  const expected = [0, 1, 2].map((i) => ({ uid: `Appointment-${ids[i]}@tddui`, start: iso(appts[i].start), end: iso(appts[i].end), summary: appts[i].description, status: ['CONFIRMED', 'TENTATIVE', 'CANCELLED'][i]! }));
  assert.deepEqual(p.events.sort((a, b) => a.start.localeCompare(b.start)), expected);
  // Free slots: 09:00-12:00 in 30 min, minus 10:00-11:00 booked = 4 free, as the Slot search says.
  const slots = await http(`${s.base}/Slot?schedule.actor=${role}&status=free&start=ge${encodeURIComponent(local(14, 0))}&start=lt${encodeURIComponent(local(15, 0))}`);
  assert.equal(slots.json.total, 4);
  assert.deepEqual(
    p.free,
    slots.json.entry.map((e: Json) => ({ type: 'FREE', start: iso(e.resource.start), end: iso(e.resource.end) })),
  );

  const u = parse(await (await fetch(usagerUrl)).text());
  assert.deepEqual(u.events.map((e) => e.uid).sort(), [0, 2, 3].map((i) => `Appointment-${ids[i]}@tddui`).sort());
  assert.deepEqual(u.free, [], 'a usager keeps no Schedule: no free/busy');

  // Revoked: 404, the other feed still works; a guessed token: 404.
  const rev = await post('Appointment/$feed-revoke', { resourceType: 'Parameters', parameter: [{ name: 'url', valueUrl: proUrl }] });
  assert.equal(rev.status, 200, rev.text);
  assert.equal((await fetch(proUrl)).status, 404);
  assert.equal((await fetch(usagerUrl)).status, 200);
  assert.equal((await fetch(`${s.url}/agenda/${'A'.repeat(43)}.ics`)).status, 404);
  assert.equal((await post('Appointment/$feed-revoke', { resourceType: 'Parameters', parameter: [{ name: 'url', valueUrl: proUrl }] })).status, 404);
});
