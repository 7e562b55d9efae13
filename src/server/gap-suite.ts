// The GAP Gestionnaire d'agendas over real HTTP, once per database (gap-embedded.test.ts,
// gap-postgres.test.ts), with `ans.fhir.fr.gap` loaded as `tddui serve --ig ans.fhir.fr.gap`
// loads it: every interaction and search parameter of its CapabilityStatement
// (Schedule create / update / patch / delete; Slot read and search; Appointment create, update,
// conditional update on identifier, read, search), the Slots generated from the availabilities,
// booking and cancelling, and two concurrent bookings of one slot (exactly one wins).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readEvents } from '../storage/outbox.js';
import { SHARED_FHIR } from '../testing/paths.js';
import { http, startTestServer, type DbKind, type TestServer } from './test-support.js';
import { horizonPassed } from '../storage/testing.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export const GAP_PATH = join(SHARED_FHIR, 'ans.fhir.fr.gap#3.0.0');
const AV = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-schedule-availability-time';
const DUR = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-service-type-duration';
export const GAP_SCHEDULE = 'https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-fr-schedule';
export const GAP_APPOINTMENT = 'https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-fr-appointment';
const SPECIALTY = { coding: [{ system: 'https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale', code: 'SM54', display: 'Médecine générale (SM)' }] };

export function availability(id: string, type: 'free' | 'busy-unavailable', start: string, end: string, rrule?: Json[]): Json {
  return {
    url: AV,
    extension: [
      { url: 'identifier', valueIdentifier: { value: id } },
      { url: 'type', valueCoding: { system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-schedule-type', code: type } },
      { url: 'start', valueDateTime: start },
      { url: 'end', valueDateTime: end },
      ...(rrule ? [{ url: 'rrule', extension: rrule }] : []),
    ],
  };
}
export const weekly = (day: string) => [{ url: 'freq', valueCoding: { system: 'https://www.ietf.org/rfc/rfc2445', code: 'WEEKLY' } }, { url: 'byDay', valueString: day }];
export const serviceDuration = (minutes: number) => ({ url: DUR, extension: [{ url: 'serviceType', valueCodeableConcept: { coding: [{ system: 'http://example.org/ValueSet/ServiceType', code: '1', display: 'suivi' }] } }, { url: 'duration', valueDuration: { value: minutes, unit: 'minute', system: 'http://unitsofmeasure.org', code: 'min' } }] });

export function scheduleOf(actor: string, extension: Json[], extra: Json = {}): Json {
  return { resourceType: 'Schedule', meta: { profile: [GAP_SCHEDULE] }, active: true, specialty: [SPECIALTY], actor: [{ reference: actor }], extension, ...extra };
}

export function appointmentOf(status: string, start: string, end: string, actors: string[], extra: Json = {}): Json {
  return {
    resourceType: 'Appointment',
    meta: { profile: [GAP_APPOINTMENT] },
    status,
    start,
    end,
    participant: actors.map((a) => ({ actor: { reference: a }, required: 'required', status: 'accepted' })),
    ...extra,
  };
}

export function gapSuite(kind: DbKind, skip?: string): void {
  describe(`GAP Gestionnaire d'agendas on the ${kind} database (over HTTP)`, { skip, concurrency: false }, () => {
    let s: TestServer;
    const previous = process.env.FHIR_PACKAGE_CACHE;
    before(async () => {
      process.env.FHIR_PACKAGE_CACHE = SHARED_FHIR;
      s = await startTestServer(kind, { packages: [GAP_PATH] });
    });
    after(async () => {
      await s?.stop();
      if (previous === undefined) delete process.env.FHIR_PACKAGE_CACHE;
      else process.env.FHIR_PACKAGE_CACHE = previous;
    });
    const post = (type: string, body: Json, headers: Record<string, string> = {}) => http(`${s.base}/${type}`, { body, headers });
    const get = (path: string) => http(`${s.base}/${path}`, { headers: { prefer: 'handling=strict' } });
    const errors = (r: Json) => JSON.stringify(r.json?.issue?.filter((i: Json) => i.severity === 'error') ?? r.text).slice(0, 2000);
    const slotStarts = (b: Json, status?: string) => (b.entry ?? []).filter((e: Json) => e.resource.resourceType === 'Slot' && (!status || e.resource.status === status)).map((e: Json) => e.resource.start);

    let practitioner = '';
    let role = '';
    let scheduleId = '';

    it('Ressources: creates the practitioner and their role; Schedule create with a weekly availability, an unavailability and a service duration', async () => {
      const pr = await post('Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Langdon', given: ['Anne'] }] });
      assert.equal(pr.status, 201, errors(pr));
      practitioner = `Practitioner/${pr.json.id}`;
      const ro = await post('PractitionerRole', { resourceType: 'PractitionerRole', active: true, practitioner: { reference: practitioner } });
      assert.equal(ro.status, 201, errors(ro));
      role = `PractitionerRole/${ro.json.id}`;
      const sch = await post(
        'Schedule',
        scheduleOf(role, [
          availability('lundis', 'free', '2026-03-16T09:00:00+01:00', '2026-03-16T12:00:00+01:00', weekly('MO')),
          availability('formation', 'busy-unavailable', '2026-03-30T10:00:00+02:00', '2026-03-30T11:00:00+02:00'),
          serviceDuration(60),
        ]),
      );
      assert.equal(sch.status, 201, errors(sch));
      scheduleId = sch.json.id;
      const read = await get(`Schedule/${scheduleId}`);
      assert.equal(read.status, 200);
      assert.equal(read.json.actor[0].reference, role);
    });

    it('rejects a Schedule whose recurrence cannot be read (422, French and English, at the extension)', async () => {
      const bad = await post('Schedule', scheduleOf(role, [availability('x', 'free', '2026-03-16T09:00:00+01:00', '2026-03-16T12:00:00+01:00', [{ url: 'freq', valueCoding: { system: 'https://www.ietf.org/rfc/rfc2445', code: 'FORTNIGHTLY' } }])]));
      assert.equal(bad.status, 422);
      const i = bad.json.issue.find((x: Json) => x.details?.coding?.some((c: Json) => c.code === 'gap-rrule-freq'));
      assert.ok(i, errors(bad));
      assert.match(i.details.text, /fréquence/);
      assert.match(i.diagnostics, /frequency/);
      assert.equal(i.expression[0], "Schedule.extension[0].extension('rrule').extension('freq')");
    });

    it('Slot search: generated slots across the March change, the unavailability busy, status=free, start ranges (start and GAP_Slot_* aliases)', async () => {
      const all = await get(`Slot?schedule=Schedule/${scheduleId}&start=ge2026-03-16&start=lt2026-04-07`);
      assert.equal(all.status, 200, all.text);
      assert.equal(all.json.total, 12);
      assert.deepEqual(slotStarts(all.json, 'busy-unavailable'), ['2026-03-30T10:00:00+02:00']);
      const free = await get(`Slot?schedule=${scheduleId}&status=free&GAP_Slot_earliestStart=ge2026-03-30T00:00:00%2B02:00&GAP_Slot_latestStart=le2026-03-30T23:00:00%2B02:00`);
      assert.deepEqual(slotStarts(free.json), ['2026-03-30T09:00:00+02:00', '2026-03-30T11:00:00+02:00']);
      const one = await get(`Slot?schedule=${scheduleId}&start=2026-03-23`);
      assert.deepEqual(slotStarts(one.json), ['2026-03-23T09:00:00+01:00', '2026-03-23T10:00:00+01:00', '2026-03-23T11:00:00+01:00']);
      // Each slot read back by its id, and found by its identifier.
      const first = all.json.entry[0].resource;
      const read = await get(`Slot/${first.id}`);
      assert.equal(read.status, 200);
      assert.deepEqual(read.json, first);
      const byId = await get(`Slot?identifier=${encodeURIComponent(`${first.identifier[0].system}|${first.identifier[0].value}`)}&start=ge2026-03-01&start=lt2026-04-30`);
      assert.deepEqual(byId.json.entry.map((e: Json) => e.resource.id), [first.id]);
      assert.equal((await get(`Slot/${scheduleId}.0.202603160830`)).status, 404, 'not a slot of the grid');
      // A window too wide is refused with a clear outcome.
      const wide = await get(`Slot?schedule=${scheduleId}&start=ge2026-01-01&start=lt2026-12-31`);
      assert.equal(wide.status, 400);
      assert.match(wide.json.issue[0].details.text, /93 jours/);
    });

    it('Slot search by the actor of the Schedule (schedule.actor, Schedule-actor, GAP_Schedule_Actor, chains) with _include of the Schedule and its actor', async () => {
      const q = 'start=ge2026-03-16&start=lt2026-03-17&status=free';
      for (const p of [`schedule.actor=${role}`, `Schedule-actor=${role}`, `GAP_Schedule_Actor=${role}`, 'schedule.actor:Practitioner.name=Langdon'.replace('Practitioner.name', 'PractitionerRole.practitioner.name'), 'schedule.specialty=SM54', `schedule:Schedule.actor=${role}`]) {
        const r = await get(`Slot?${p}&${q}`);
        assert.equal(r.status, 200, `${p}: ${r.text.slice(0, 300)}`);
        assert.equal(r.json.total, 3, p);
      }
      const none = await get(`Slot?schedule.actor=Practitioner/unknown&${q}`);
      assert.equal(none.json.total, 0);
      const inc = await get(`Slot?schedule.actor=${role}&${q}&_include=Slot:schedule&_include:iterate=Schedule:actor`);
      const included = inc.json.entry.filter((e: Json) => e.search.mode === 'include').map((e: Json) => `${e.resource.resourceType}/${e.resource.id}`).sort();
      assert.deepEqual(included, [role, `Schedule/${scheduleId}`].sort());
      const unknown = await get(`Slot?${q}&nonsense=1`);
      assert.equal(unknown.status, 400);
    });

    let appointmentId = '';
    it('Appointment: a booked appointment on a slot makes it busy; proposed (a request) leaves it tentative; found by every GAP search parameter', async () => {
      const slot = `Slot/${scheduleId}.0.${'202603230800'}`; // 23 March 09:00 CET
      const booked = await post(
        'Appointment',
        appointmentOf('booked', '2026-03-23T09:00:00+01:00', '2026-03-23T10:00:00+01:00', [role, 'Patient/p1'], {
          identifier: [{ system: 'urn:test:rdv', value: 'rdv-1' }],
          slot: [{ reference: slot }],
          created: '2026-03-01',
          priority: 5,
          description: 'Visite de suivi',
          serviceType: [{ coding: [{ system: 'http://example.org/ValueSet/ServiceType', code: '1' }] }],
          supportingInformation: [{ reference: 'DocumentReference/d1' }],
          requestedPeriod: [{ start: '2026-03-23T08:00:00+01:00', end: '2026-03-23T12:00:00+01:00' }],
        }),
      );
      assert.equal(booked.status, 201, errors(booked));
      appointmentId = booked.json.id;
      const after = await get(`Slot?schedule=${scheduleId}&start=2026-03-23`);
      assert.deepEqual(slotStarts(after.json, 'busy'), ['2026-03-23T09:00:00+01:00']);
      const proposed = await post('Appointment', { ...appointmentOf('proposed', '2026-03-23T10:00:00+01:00', '2026-03-23T11:00:00+01:00', [role]), identifier: [{ system: 'urn:test:rdv', value: 'req-1' }] });
      assert.equal(proposed.status, 201, errors(proposed));
      const tent = await get(`Slot?schedule=${scheduleId}&start=2026-03-23&status=busy-tentative`);
      assert.deepEqual(slotStarts(tent.json), ['2026-03-23T10:00:00+01:00']);
      // Every search parameter of the Gestionnaire's Appointment.
      const searches = [
        'GAP_Appointment_priority=5',
        'GAP_Appointment_description=Visite',
        'GAP_Appointment_created=2026-03-01',
        `GAP_Appointment_Actor=${role}`,
        'GAP_Appointment_earliestStart=ge2026-03-23T08:00:00%2B01:00',
        'GAP_Appointment_latestStart=le2026-03-23T12:00:00%2B01:00',
        'date=2026-03-23',
        'identifier=urn:test:rdv|rdv-1',
        'service-type=1',
        'status=booked',
        'supporting-info=DocumentReference/d1',
      ];
      for (const q of searches) {
        const r = await get(`Appointment?${q}`);
        assert.equal(r.status, 200, `${q}: ${r.text.slice(0, 300)}`);
        assert.ok((r.json.entry ?? []).some((e: Json) => e.resource.id === appointmentId), `found by ${q}`);
      }
    });

    it('refuses a second booking of a busy time (409), a slot in an unavailability and a slot outside the availabilities (409)', async () => {
      const again = await post('Appointment', appointmentOf('booked', '2026-03-23T09:30:00+01:00', '2026-03-23T10:00:00+01:00', [role]));
      assert.equal(again.status, 409, again.text);
      assert.equal(again.json.issue[0].code, 'conflict');
      assert.match(again.json.issue[0].details.text, /n’est pas libre/);
      assert.match(again.json.issue[0].diagnostics, new RegExp(`Appointment/${appointmentId}`));
      const unav = await post('Appointment', appointmentOf('booked', '2026-03-30T10:00:00+02:00', '2026-03-30T11:00:00+02:00', ['Patient/p2'], { slot: [{ reference: `Slot/${scheduleId}.0.202603300800` }] }));
      assert.equal(unav.status, 409, unav.text);
      assert.match(unav.json.issue[0].details.text, /indisponibilité/);
      assert.equal(unav.json.issue[0].expression[0], 'Appointment.slot[0]');
      const outside = await post('Appointment', appointmentOf('booked', '2026-03-24T09:00:00+01:00', '2026-03-24T10:00:00+01:00', ['Patient/p2'], { slot: [{ reference: `Slot/${scheduleId}.0.202603240800` }] }));
      assert.equal(outside.status, 409);
      // Someone without an agenda here (a usager) may have overlapping appointments.
      const usager = await post('Appointment', appointmentOf('booked', '2026-03-23T09:00:00+01:00', '2026-03-23T09:30:00+01:00', ['Patient/p1']));
      assert.equal(usager.status, 201, errors(usager));
    });

    it('conditional update on identifier: cancelling frees the slot; update of a known id', async () => {
      const cur = (await get(`Appointment/${appointmentId}`)).json;
      const cancelled = { ...cur, status: 'cancelled' };
      delete cancelled.id;
      delete cancelled.meta.versionId;
      delete cancelled.meta.lastUpdated;
      const r = await http(`${s.base}/Appointment?identifier=${encodeURIComponent('urn:test:rdv|rdv-1')}`, { method: 'PUT', body: cancelled });
      assert.equal(r.status, 200, errors(r));
      assert.equal(r.json.id, appointmentId);
      assert.equal(r.json.meta.versionId, '2');
      // The outbox (issue 15) has "booked" then "cancelled" for it, about the usager.
      await horizonPassed(s.repo.db);
      const events = (await readEvents(s.repo.db, undefined, 1000)).filter((e) => e.focus?.startsWith(`Appointment/${appointmentId}/`));
      assert.deepEqual(events.map((e) => `${e.type.code}:${e.patient}`), ['appointment-booked:Patient/p1', 'appointment-cancelled:Patient/p1']);
      const slots = await get(`Slot?schedule=${scheduleId}&start=2026-03-23&status=free`);
      assert.deepEqual(slotStarts(slots.json), ['2026-03-23T09:00:00+01:00', '2026-03-23T11:00:00+01:00']);
      // A conditional update matching nothing creates (the Gestionnaire allows update-as-create).
      const created = await http(`${s.base}/Appointment?identifier=${encodeURIComponent('urn:test:rdv|rdv-new')}`, { method: 'PUT', body: { ...appointmentOf('proposed', '2026-04-06T09:00:00+02:00', '2026-04-06T10:00:00+02:00', [role]), identifier: [{ system: 'urn:test:rdv', value: 'rdv-new' }] } });
      assert.equal(created.status, 201, errors(created));
      const put = await http(`${s.base}/Appointment/${created.json.id}`, { method: 'PUT', body: { ...created.json, status: 'booked' } });
      assert.equal(put.status, 200, errors(put));
    });

    it('two concurrent bookings of one slot: exactly one wins, the other gets a 409 OperationOutcome', async () => {
      const slot = `Slot/${scheduleId}.0.202604060800`; // 6 April 10:00 CEST
      const body = (n: number) => appointmentOf('booked', '2026-04-06T10:00:00+02:00', '2026-04-06T11:00:00+02:00', [`Patient/c${n}`], { slot: [{ reference: slot }] });
      for (let round = 0; round < 3; round++) {
        const start = `2026-04-${String(13 + round * 7)}`;
        const id = `Slot/${scheduleId}.0.${start.replace(/-/g, '')}0800`;
        const rs = await Promise.all([1, 2, 3, 4].map((n) => post('Appointment', { ...body(n), start: `${start}T10:00:00+02:00`, end: `${start}T11:00:00+02:00`, slot: [{ reference: id }] })));
        const statuses = rs.map((r) => r.status).sort();
        assert.deepEqual(statuses, [201, 409, 409, 409], JSON.stringify(rs.map((r) => r.text.slice(0, 200))));
        for (const r of rs.filter((x) => x.status === 409)) assert.equal(r.json.resourceType, 'OperationOutcome');
        const busy = await get(`Slot?schedule=${scheduleId}&start=${start}&status=busy`);
        assert.equal(busy.json.total, 1);
      }
      void body;
    });

    it('Schedule PATCH of availabilityTime (JSON Patch add, FHIRPath Patch replace and delete), PUT, DELETE', async () => {
      const mardi = availability('mardis', 'free', '2026-03-17T14:00:00+01:00', '2026-03-17T16:00:00+01:00', weekly('TU'));
      const add = await http(`${s.base}/Schedule/${scheduleId}`, { method: 'PATCH', type: 'application/json-patch+json', body: [{ op: 'add', path: '/extension/-', value: mardi }] });
      assert.equal(add.status, 200, errors(add));
      let r = await get(`Slot?schedule=${scheduleId}&start=2026-03-24`);
      assert.deepEqual(slotStarts(r.json), ['2026-03-24T14:00:00+01:00', '2026-03-24T15:00:00+01:00']);
      // FHIRPath Patch: replace the Tuesday availability's end (16:00 -> 17:00).
      const replace = {
        resourceType: 'Parameters',
        parameter: [
          {
            name: 'operation',
            part: [
              { name: 'type', valueCode: 'replace' },
              { name: 'path', valueString: "Schedule.extension.where(url = '" + AV + "' and extension.where(url = 'identifier').value.value = 'mardis').extension.where(url = 'end').value" },
              { name: 'value', valueDateTime: '2026-03-17T17:00:00+01:00' },
            ],
          },
        ],
      };
      const rep = await http(`${s.base}/Schedule/${scheduleId}`, { method: 'PATCH', type: 'application/fhir+json', body: replace });
      assert.equal(rep.status, 200, errors(rep));
      r = await get(`Slot?schedule=${scheduleId}&start=2026-03-24`);
      assert.equal(r.json.total, 3);
      const del = {
        resourceType: 'Parameters',
        parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'delete' }, { name: 'path', valueString: "Schedule.extension.where(url = '" + AV + "' and extension.where(url = 'identifier').value.value = 'mardis')" }] }],
      };
      const rem = await http(`${s.base}/Schedule/${scheduleId}`, { method: 'PATCH', type: 'application/fhir+json', body: del });
      assert.equal(rem.status, 200, errors(rem));
      r = await get(`Slot?schedule=${scheduleId}&start=2026-03-24`);
      assert.equal(r.json.total, 0);
      // A patch that makes the availabilities unreadable is refused, nothing changes.
      const broken = await http(`${s.base}/Schedule/${scheduleId}`, { method: 'PATCH', type: 'application/json-patch+json', body: [{ op: 'add', path: '/extension/-', value: availability('z', 'free', '2026-03-17T14:00:00+01:00', '2026-03-17T13:00:00+01:00') }] });
      assert.equal(broken.status, 422);
      // PUT: the planning horizon ends the slots; DELETE: no more slots, the Schedule is gone.
      const cur = (await get(`Schedule/${scheduleId}`)).json;
      const put = await http(`${s.base}/Schedule/${scheduleId}`, { method: 'PUT', body: { ...cur, planningHorizon: { start: '2026-03-01T00:00:00+01:00', end: '2026-03-20T00:00:00+01:00' } } });
      assert.equal(put.status, 200, errors(put));
      r = await get(`Slot?schedule=${scheduleId}&start=ge2026-03-16&start=lt2026-04-07`);
      assert.equal(r.json.total, 3);
      const gone = await http(`${s.base}/Schedule/${scheduleId}`, { method: 'DELETE' });
      assert.equal(gone.status, 204);
      assert.equal((await get(`Schedule/${scheduleId}`)).status, 410);
      r = await get(`Slot?schedule=${scheduleId}&start=ge2026-03-16&start=lt2026-04-07`);
      assert.equal(r.json.total, 0);
    });

    it('$find: the common free slot of circle members and the usager; $book (pending, needs-action); $respond (booked, or cancelled on a decline)', async () => {
      const pat = await post('Patient', { resourceType: 'Patient', name: [{ family: 'Martin', given: ['Paul'] }] });
      assert.equal(pat.status, 201, errors(pat));
      const patient = `Patient/${pat.json.id}`;
      const roles: string[] = [];
      for (const [family, avail] of [
        ['Infirmière', availability('a', 'free', '2026-05-04T09:00:00+02:00', '2026-05-04T12:00:00+02:00', weekly('MO'))],
        ['Kiné', availability('b', 'free', '2026-05-04T10:30:00+02:00', '2026-05-04T17:00:00+02:00', weekly('MO'))],
      ] as const) {
        const pr = await post('Practitioner', { resourceType: 'Practitioner', name: [{ family }] });
        const ro = await post('PractitionerRole', { resourceType: 'PractitionerRole', active: true, practitioner: { reference: `Practitioner/${pr.json.id}` } });
        roles.push(`PractitionerRole/${ro.json.id}`);
        assert.equal((await post('Schedule', scheduleOf(roles.at(-1)!, [avail, serviceDuration(30)]))).status, 201);
      }
      const outsiderRole = await post('PractitionerRole', { resourceType: 'PractitionerRole', active: true, practitioner: { reference: 'Practitioner/ailleurs' } });
      assert.equal(outsiderRole.status, 201, errors(outsiderRole));
      const outsider = outsiderRole.json.id;
      // The circle (CDS is not loaded here: stored directly).
      await s.repo.create({ resourceType: 'CareTeam', status: 'active', subject: { reference: patient }, participant: roles.map((r) => ({ member: { reference: r }, period: { start: '2020-01-01' } })) });
      // The usager already has an appointment on Monday 4 May 10:30-11:00.
      assert.equal((await post('Appointment', appointmentOf('booked', '2026-05-04T10:30:00+02:00', '2026-05-04T11:00:00+02:00', [patient]))).status, 201);
      const params = (extra: Json[] = []) => ({
        resourceType: 'Parameters',
        parameter: [
          { name: 'patient', valueReference: { reference: patient } },
          ...roles.map((r) => ({ name: 'practitioner', valueReference: { reference: r } })),
          { name: 'duration', valueInteger: 30 },
          { name: 'start', valueDateTime: '2026-05-04T00:00:00+02:00' },
          { name: 'end', valueDateTime: '2026-05-12T00:00:00+02:00' },
          ...extra,
        ],
      });
      const found = await post('Appointment/$find', params());
      assert.equal(found.status, 200, found.text);
      // Common: Mondays 10:30-12:00 (both), minus the usager's 10:30-11:00 on the 4th.
      assert.deepEqual(found.json.entry.map((e: Json) => e.resource.start), [
        '2026-05-04T11:00:00+02:00', '2026-05-04T11:15:00+02:00', '2026-05-04T11:30:00+02:00',
        '2026-05-11T10:30:00+02:00', '2026-05-11T10:45:00+02:00', '2026-05-11T11:00:00+02:00', '2026-05-11T11:15:00+02:00', '2026-05-11T11:30:00+02:00',
      ]);
      const p0 = found.json.entry[0].resource;
      assert.equal(p0.status, 'proposed');
      assert.deepEqual(p0.participant.map((x: Json) => `${x.actor.reference}:${x.status}`), [`${patient}:needs-action`, ...roles.map((r) => `${r}:needs-action`)]);
      const get1 = await get(`Appointment/$find?patient=${patient}&practitioner=${roles.join(',')}&duration=30&start=2026-05-04&end=2026-05-12&rank=spread`);
      assert.deepEqual(get1.json.entry.map((e: Json) => e.resource.start), ['2026-05-04T11:00:00+02:00', '2026-05-11T10:30:00+02:00']);
      // A professional outside the circle: 422 naming them.
      const out = await post('Appointment/$find', { ...params(), parameter: [...params().parameter, { name: 'practitioner', valueReference: { reference: `PractitionerRole/${outsider}` } }] });
      assert.equal(out.status, 422, out.text);
      assert.match(out.json.issue[0].details.text, /n’est pas membre actif du cercle/);
      assert.equal((await post('Appointment/$find', { resourceType: 'Parameters', parameter: [{ name: 'patient', valueReference: { reference: patient } }] })).status, 400);
      // Book the first proposal: pending, everyone needs-action; the time is held (a second booking is a 409).
      const booked = await post('Appointment/$book', p0);
      assert.equal(booked.status, 201, errors(booked));
      assert.equal(booked.json.status, 'pending');
      const id = booked.json.id;
      assert.equal((await post('Appointment/$book', p0)).status, 409);
      const again = await post('Appointment/$find', params());
      assert.ok(!again.json.entry.some((e: Json) => e.resource.start === '2026-05-04T11:00:00+02:00'), 'the booked time is no longer proposed');
      // Each participant answers; when all required have accepted, it is booked.
      for (const who of [patient, roles[0]!]) {
        const r = await post(`Appointment/${id}/$respond`, { resourceType: 'Parameters', parameter: [{ name: 'actor', valueReference: { reference: who } }, { name: 'answer', valueCode: 'accepted' }] });
        assert.equal(r.status, 200, errors(r));
        assert.equal(r.json.status, 'pending');
      }
      const last = await post(`Appointment/${id}/$respond`, { resourceType: 'Parameters', parameter: [{ name: 'actor', valueReference: { reference: roles[1] } }, { name: 'answer', valueCode: 'accepted' }] });
      assert.equal(last.json.status, 'booked');
      // Another booking, declined by a professional: cancelled, its time free again.
      const b2 = await post('Appointment/$book', again.json.entry[0].resource);
      assert.equal(b2.status, 201);
      const dec = await post(`Appointment/${b2.json.id}/$respond`, { resourceType: 'Parameters', parameter: [{ name: 'actor', valueReference: { reference: roles[1] } }, { name: 'answer', valueCode: 'declined' }] });
      assert.equal(dec.json.status, 'cancelled');
      const third = await post('Appointment/$find', params());
      assert.equal(third.json.entry[0].resource.start, again.json.entry[0].resource.start);
      const notParticipant = await post(`Appointment/${id}/$respond`, { resourceType: 'Parameters', parameter: [{ name: 'actor', valueReference: { reference: `PractitionerRole/${outsider}` } }, { name: 'answer', valueCode: 'accepted' }] });
      assert.equal(notParticipant.status, 400);
    });

    it('Gestionnaire de ressources: create, update and delete of each type it lists', async () => {
      const pat = await post('Patient', { resourceType: 'Patient', name: [{ family: 'Ressource' }] });
      const bodies: Json[] = [
        { resourceType: 'Patient', name: [{ family: 'Durand' }] },
        { resourceType: 'Practitioner', name: [{ family: 'Leroy' }] },
        { resourceType: 'PractitionerRole', active: true, practitioner: { reference: 'Practitioner/leroy' } },
        { resourceType: 'RelatedPerson', identifier: [{ system: 'urn:test:proche', value: 'p1' }], patient: { reference: `Patient/${pat.json.id}` }, name: [{ family: 'Durand' }] },
        { resourceType: 'Location', name: 'Domicile' },
        { resourceType: 'HealthcareService', name: 'Soins infirmiers à domicile' },
        { resourceType: 'Organization', name: 'SSIAD du Val' },
        { resourceType: 'Device', deviceName: [{ name: 'Lève-personne', type: 'user-friendly-name' }] },
      ];
      for (const b of bodies) {
        const c = await post(b.resourceType, b);
        assert.equal(c.status, 201, `${b.resourceType}: ${errors(c)}`);
        const u = await http(`${s.base}/${b.resourceType}/${c.json.id}`, { method: 'PUT', body: { ...c.json, active: b.resourceType === 'Device' || b.resourceType === 'Location' ? undefined : false, ...(b.resourceType === 'Device' || b.resourceType === 'Location' ? { status: 'inactive' } : {}) } });
        assert.equal(u.status, 200, `${b.resourceType} update: ${errors(u)}`);
        assert.equal(u.json.meta.versionId, '2');
        const d = await http(`${s.base}/${b.resourceType}/${c.json.id}`, { method: 'DELETE' });
        assert.equal(d.status, 204, b.resourceType);
        assert.equal((await get(`${b.resourceType}/${c.json.id}`)).status, 410);
      }
    });

    it('/metadata offers what the Gestionnaire statement lists', async () => {
      const cs = (await get('metadata')).json;
      const res = (t: string) => cs.rest[0].resource.find((r: Json) => r.type === t);
      assert.deepEqual(['create', 'update', 'patch', 'delete'].filter((c) => res('Schedule').interaction.some((i: Json) => i.code === c)), ['create', 'update', 'patch', 'delete']);
      assert.deepEqual(res('Slot').interaction.map((i: Json) => i.code), ['read', 'search-type']);
      // Every Slot parameter of the Gestionnaire statement is offered by the generated Slots.
      const offered = res('Slot').searchParam.map((p: Json) => p.name);
      for (const n of ['GAP_Slot_earliestStart', 'GAP_Slot_latestStart', 'GAP_Schedule_Actor', 'Schedule-actor', 'identifier', 'status']) assert.ok(offered.includes(n), n);
      assert.ok(res('Appointment').operation.some((o: Json) => o.name === 'find'));
      assert.ok(res('Appointment').interaction.some((i: Json) => i.code === 'create'));
    });
  });
}
