// Slot generation against hand-computed expectations, across the daylight-saving changes of
// March (2026-03-29: 02:00 CET -> 03:00 CEST) and October (2026-10-25: 03:00 CEST -> 02:00 CET)
// in Europe/Paris, with an unavailability inside a recurring availability.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readSchedule } from './availability.js';
import { generateSlots, parseSlotId, slotId, slotResource } from './slots.js';
import { fromWall, isoLocal, parseDateTime, toWall } from './time.js';

const AV = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-schedule-availability-time';
const DUR = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-service-type-duration';

function availability(type: 'free' | 'busy-unavailable', start: string, end: string, rrule?: Record<string, unknown>[]) {
  return {
    url: AV,
    extension: [
      { url: 'identifier', valueIdentifier: { value: `${type}-${start}` } },
      { url: 'type', valueCoding: { system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-schedule-type', code: type } },
      { url: 'start', valueDateTime: start },
      { url: 'end', valueDateTime: end },
      ...(rrule ? [{ url: 'rrule', extension: rrule }] : []),
    ],
  };
}
const freq = (code: string) => ({ url: 'freq', valueCoding: { system: 'https://www.ietf.org/rfc/rfc2445', code } });
const duration = (minutes: number) => ({ url: DUR, extension: [{ url: 'serviceType', valueCodeableConcept: { text: 'visite' } }, { url: 'duration', valueDuration: { value: minutes, unit: 'min', system: 'http://unitsofmeasure.org', code: 'min' } }] });

function schedule(extension: unknown[]) {
  return { resourceType: 'Schedule', id: 'sch1', active: true, actor: [{ reference: 'PractitionerRole/pr1' }], extension };
}
const t = (iso: string) => parseDateTime(iso)!;
const win = (a: string, b: string) => ({ start: t(a), end: t(b) });
const starts = (slots: { start: number; status: string }[], status?: string) => slots.filter((s) => !status || s.status === status).map((s) => new Date(s.start).toISOString());

describe('Europe/Paris wall time', () => {
  it('reads a skipped local time (March) with the offset before the gap, a repeated one (October) as the first', () => {
    assert.equal(new Date(fromWall(Date.UTC(2026, 2, 29, 2, 30))).toISOString(), '2026-03-29T01:30:00.000Z'); // 03:30 CEST
    assert.equal(new Date(fromWall(Date.UTC(2026, 9, 25, 2, 30))).toISOString(), '2026-10-25T00:30:00.000Z'); // 02:30 CEST, the first
    assert.equal(new Date(fromWall(Date.UTC(2026, 0, 5, 9, 0))).toISOString(), '2026-01-05T08:00:00.000Z');
    assert.equal(new Date(fromWall(Date.UTC(2026, 6, 6, 9, 0))).toISOString(), '2026-07-06T07:00:00.000Z');
    assert.equal(isoLocal(t('2026-03-30T07:00:00Z')), '2026-03-30T09:00:00+02:00');
    assert.equal(toWall(t('2026-10-26T08:00:00Z')), Date.UTC(2026, 9, 26, 9, 0));
  });
});

describe('slot generation', () => {
  it('weekly availability stays 09:00-12:00 local across the March change; an unavailability inside it makes its slot busy-unavailable', () => {
    const { model, issues } = readSchedule(
      schedule([
        availability('free', '2026-03-16T09:00:00+01:00', '2026-03-16T12:00:00+01:00', [freq('WEEKLY'), { url: 'byDay', valueString: 'MO' }]),
        availability('busy-unavailable', '2026-03-30T10:00:00+02:00', '2026-03-30T11:00:00+02:00'),
        duration(60),
      ]),
    );
    assert.deepEqual(issues, []);
    const slots = generateSlots(model, win('2026-03-16T00:00:00+01:00', '2026-04-07T00:00:00+02:00'), []);
    // Hand-computed: Mondays 16 and 23 March are CET (09:00 = 08:00Z), 30 March and 6 April CEST (09:00 = 07:00Z).
    assert.deepEqual(starts(slots), [
      '2026-03-16T08:00:00.000Z', '2026-03-16T09:00:00.000Z', '2026-03-16T10:00:00.000Z',
      '2026-03-23T08:00:00.000Z', '2026-03-23T09:00:00.000Z', '2026-03-23T10:00:00.000Z',
      '2026-03-30T07:00:00.000Z', '2026-03-30T08:00:00.000Z', '2026-03-30T09:00:00.000Z',
      '2026-04-06T07:00:00.000Z', '2026-04-06T08:00:00.000Z', '2026-04-06T09:00:00.000Z',
    ]);
    assert.deepEqual(starts(slots, 'busy-unavailable'), ['2026-03-30T08:00:00.000Z']);
    assert.equal(slots.filter((s) => s.status === 'free').length, 11);
    const r = slotResource(slots[6]!, model, '2026-01-01T00:00:00.000Z');
    assert.equal(r.start, '2026-03-30T09:00:00+02:00');
    assert.equal(r.end, '2026-03-30T10:00:00+02:00');
  });

  it('weekly availability stays 09:00-12:00 local across the October change', () => {
    const { model } = readSchedule(schedule([availability('free', '2026-10-12T09:00:00+02:00', '2026-10-12T12:00:00+02:00', [freq('WEEKLY'), { url: 'until', valueDateTime: '2026-11-02' }]), duration(90)]));
    const slots = generateSlots(model, win('2026-10-01T00:00:00Z', '2026-12-01T00:00:00Z'), []);
    // 12, 19 October CEST (07:00Z), 26 October and 2 November CET (08:00Z); until includes 2 November; 2 slots of 90 min.
    assert.deepEqual(starts(slots), [
      '2026-10-12T07:00:00.000Z', '2026-10-12T08:30:00.000Z',
      '2026-10-19T07:00:00.000Z', '2026-10-19T08:30:00.000Z',
      '2026-10-26T08:00:00.000Z', '2026-10-26T09:30:00.000Z',
      '2026-11-02T08:00:00.000Z', '2026-11-02T09:30:00.000Z',
    ]);
  });

  it('a night availability 01:00-04:00 lasts 2 hours on the March night, 4 hours on the October night', () => {
    const { model } = readSchedule(schedule([availability('free', '2026-03-27T01:00:00+01:00', '2026-03-27T04:00:00+01:00', [freq('DAILY')]), duration(60)]));
    const march = generateSlots(model, win('2026-03-29T00:00:00+01:00', '2026-03-29T12:00:00+02:00'), []);
    // 01:00 CET = 00:00Z; 04:00 CEST = 02:00Z.
    assert.deepEqual(starts(march), ['2026-03-29T00:00:00.000Z', '2026-03-29T01:00:00.000Z']);
    const october = generateSlots(model, win('2026-10-25T00:00:00+02:00', '2026-10-25T12:00:00+01:00'), []);
    // 01:00 CEST = 23:00Z the day before; 04:00 CET = 03:00Z.
    assert.deepEqual(starts(october), ['2026-10-24T23:00:00.000Z', '2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z', '2026-10-25T02:00:00.000Z']);
  });

  it('booked appointments make their slots busy, proposed ones busy-tentative; the planning horizon and active=false cut the slots', () => {
    const { model } = readSchedule({ ...schedule([availability('free', '2026-05-04T09:00:00+02:00', '2026-05-04T11:00:00+02:00', [freq('DAILY'), { url: 'count', valueInteger: 3 }]), duration(30)]), planningHorizon: { end: '2026-05-06T00:00:00+02:00' } });
    const occupied = [
      { start: t('2026-05-04T09:15:00+02:00'), end: t('2026-05-04T09:45:00+02:00'), tentative: false },
      { start: t('2026-05-05T10:30:00+02:00'), end: t('2026-05-05T11:00:00+02:00'), tentative: true },
    ];
    const slots = generateSlots(model, win('2026-05-01T00:00:00Z', '2026-06-01T00:00:00Z'), occupied);
    assert.equal(slots.length, 8, 'count=3 gives three days, the horizon keeps two');
    assert.deepEqual(starts(slots, 'busy'), ['2026-05-04T07:00:00.000Z', '2026-05-04T07:30:00.000Z']);
    assert.deepEqual(starts(slots, 'busy-tentative'), ['2026-05-05T08:30:00.000Z']);
    assert.deepEqual(generateSlots({ ...model, active: false }, win('2026-05-01T00:00:00Z', '2026-06-01T00:00:00Z'), []), []);
  });

  it('slot ids name their Schedule, service and start', () => {
    const id = slotId({ scheduleId: 'a.b-1', service: 2, start: t('2026-03-30T07:00:00Z') });
    assert.equal(id, 'a.b-1.2.202603300700');
    assert.deepEqual(parseSlotId(id), { scheduleId: 'a.b-1', service: 2, start: t('2026-03-30T07:00:00Z') });
    assert.equal(parseSlotId('nope'), undefined);
  });

  it('reports unreadable availabilities and durations', () => {
    const { issues } = readSchedule(
      schedule([
        availability('free', '2026-03-16T09:00:00+01:00', '2026-03-16T08:00:00+01:00'),
        availability('free', '2026-03-16T09:00:00+01:00', '2026-03-16T12:00:00+01:00', [freq('FORTNIGHTLY')]),
        availability('free', '2026-03-16T09:00:00+01:00', '2026-03-16T12:00:00+01:00', [freq('WEEKLY'), { url: 'byDay', valueString: 'XX' }]),
        duration(3),
      ]),
    );
    assert.deepEqual(issues.map((i) => i.rule).sort(), ['gap-availability-period', 'gap-rrule-byday', 'gap-rrule-freq', 'gap-service-duration']);
    assert.ok(issues.every((i) => i.messageFr && i.expression.startsWith('Schedule.extension[')));
  });
});
