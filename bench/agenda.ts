// bench/agenda: the shared agendas (GAP, src/coordination/agenda/).
//   1. Slot generation for 1,000 professionals over 3 months (weekday availabilities as weekly
//      RRULEs morning and afternoon, an unavailability, 30-min services, a few bookings): the
//      generator (RRULE expansion in Europe/Paris, grid, statuses), against an anchor that cuts
//      the same slots with a plain loop over days (no RRULE, no statuses) in the same run.
//   2. `Appointment/$find` over HTTP on a server holding 1,000 Schedules (4 professionals of the
//      usager's circle and the usager, a 3-week window), against a plain read of one Schedule
//      over the same HTTP in the same run. Target: under 200 ms.
// Medians of interleaved rounds.
//
//   node dist/bench/agenda.js [--rounds=7] [--professionals=1000]
import { performance } from 'node:perf_hooks';
import { readSchedule, type ScheduleModel } from '../src/coordination/agenda/availability.js';
import { generateSlots } from '../src/coordination/agenda/slots.js';
import { fromWall, isoLocal, parseDateTime } from '../src/coordination/agenda/time.js';
import { startServer } from '../src/server/app.js';
import { SHARED_FHIR } from '../src/testing/paths.js';
import { join } from 'node:path';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

function intFlag(name: string, dflt: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.slice(name.length + 3)) : dflt;
}
const ROUNDS = intFlag('rounds', 7);
const N = intFlag('professionals', 1000);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const AV = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-schedule-availability-time';
const DUR = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-service-type-duration';

function availability(id: string, type: string, start: string, end: string, byDay?: string): Json {
  return {
    url: AV,
    extension: [
      { url: 'identifier', valueIdentifier: { value: id } },
      { url: 'type', valueCoding: { system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-schedule-type', code: type } },
      { url: 'start', valueDateTime: start },
      { url: 'end', valueDateTime: end },
      ...(byDay ? [{ url: 'rrule', extension: [{ url: 'freq', valueCoding: { system: 'https://www.ietf.org/rfc/rfc2445', code: 'WEEKLY' } }, ...byDay.split(',').map((d) => ({ url: 'byDay', valueString: d }))] }] : []),
    ],
  };
}

function schedule(i: number, actor: string): Json {
  const h = (i % 3) + 8; // 08:00, 09:00 or 10:00
  return {
    resourceType: 'Schedule',
    id: `s${i}`,
    active: true,
    actor: [{ reference: actor }],
    extension: [
      availability('matin', 'free', `2026-03-02T${String(h).padStart(2, '0')}:00:00+01:00`, '2026-03-02T12:30:00+01:00', 'MO,TU,WE,TH,FR'),
      availability('apres-midi', 'free', '2026-03-02T14:00:00+01:00', '2026-03-02T18:00:00+01:00', i % 2 ? 'MO,TU,TH' : 'MO,WE,FR'),
      availability('conges', 'busy-unavailable', '2026-04-06T00:00:00+02:00', '2026-04-11T00:00:00+02:00'),
      { url: DUR, extension: [{ url: 'serviceType', valueCodeableConcept: { text: 'visite' } }, { url: 'duration', valueDuration: { value: 30, code: 'min' } }] },
    ],
  };
}

const WINDOW = { start: parseDateTime('2026-03-01T00:00:00+01:00')!, end: parseDateTime('2026-06-01T00:00:00+02:00')! };

/** Anchor: the same weekday grid cut by a plain loop over days (wall clock -> instant), no RRULE, no status. */
function anchorSlots(i: number): number {
  let n = 0;
  const h = (i % 3) + 8;
  for (let day = Date.UTC(2026, 2, 1); day < Date.UTC(2026, 5, 1); day += 86_400_000) {
    const wd = new Date(day).getUTCDay();
    if (wd === 0 || wd === 6) continue;
    for (let t = fromWall(day + h * 3_600_000); t + 1_800_000 <= fromWall(day + 12.5 * 3_600_000); t += 1_800_000) n++;
    if ((i % 2 ? [1, 2, 4] : [1, 3, 5]).includes(wd)) for (let t = fromWall(day + 14 * 3_600_000); t + 1_800_000 <= fromWall(day + 18 * 3_600_000); t += 1_800_000) n++;
  }
  return n;
}

async function slotGeneration(): Promise<void> {
  const models: ScheduleModel[] = [];
  for (let i = 0; i < N; i++) models.push(readSchedule(schedule(i, `PractitionerRole/r${i}`)).model);
  const bookings = [{ start: parseDateTime('2026-03-10T10:00:00+01:00')!, end: parseDateTime('2026-03-10T11:00:00+01:00')!, tentative: false }];
  const ours: number[] = [];
  const anchor: number[] = [];
  let slots = 0;
  let anchorCount = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let t = performance.now();
    slots = 0;
    for (const m of models) slots += generateSlots(m, WINDOW, bookings).length;
    ours.push(performance.now() - t);
    t = performance.now();
    anchorCount = 0;
    for (let i = 0; i < N; i++) anchorCount += anchorSlots(i);
    anchor.push(performance.now() - t);
  }
  console.log(`slot generation: ${N} professionals x 3 months = ${slots} slots (the anchor cuts ${anchorCount}; the holiday week's slots are there as busy-unavailable)`);
  console.log(`  ours   ${median(ours).toFixed(0)} ms (${((median(ours) * 1000) / slots).toFixed(2)} µs per slot)`);
  console.log(`  anchor ${median(anchor).toFixed(0)} ms (plain loop over days)`);
  console.log(`  ratio  ${(median(ours) / median(anchor)).toFixed(2)}`);
}

async function find(): Promise<void> {
  process.env.FHIR_PACKAGE_CACHE = SHARED_FHIR;
  const server = await startServer({ port: 0, host: '127.0.0.1', dataDir: 'memory://', packages: [join(SHARED_FHIR, 'ans.fhir.fr.gap#3.0.0')], logLevel: 'silent' });
  try {
    const repo = server.repo;
    const t0 = performance.now();
    const patient = await repo.create({ resourceType: 'Patient', name: [{ family: 'Bench' }] });
    const roles: string[] = [];
    for (let i = 0; i < N; i++) {
      const role = `PractitionerRole/r${i}`;
      roles.push(role);
      await repo.execute({ ops: [{ method: 'create', resourceType: 'Schedule', resource: schedule(i, role) }] });
      // Two bookings a week for everyone.
      for (let w = 0; w < 3; w++) {
        const start = fromWall(Date.UTC(2026, 2, 3 + 7 * w, 9 + (i % 3), 0));
        await repo.execute({ ops: [{ method: 'create', resourceType: 'Appointment', resource: { resourceType: 'Appointment', status: 'booked', start: isoLocal(start), end: isoLocal(start + 3_600_000), participant: [{ actor: { reference: role }, status: 'accepted' }] } }] });
      }
    }
    const members = roles.slice(0, 4);
    await repo.create({ resourceType: 'CareTeam', status: 'active', subject: { reference: `Patient/${patient.id}` }, participant: members.map((m) => ({ member: { reference: m } })) });
    console.log(`$find: ${N} Schedules and ${N * 3} Appointments stored in ${((performance.now() - t0) / 1000).toFixed(1)} s (embedded database)`);
    const body = JSON.stringify({
      resourceType: 'Parameters',
      parameter: [
        { name: 'patient', valueReference: { reference: `Patient/${patient.id}` } },
        ...members.map((m) => ({ name: 'practitioner', valueReference: { reference: m } })),
        { name: 'duration', valueInteger: 45 },
        { name: 'start', valueDateTime: '2026-03-02T00:00:00+01:00' },
        { name: 'end', valueDateTime: '2026-03-23T00:00:00+01:00' },
      ],
    });
    const base = `${server.url}/fhir`;
    const call = async () => {
      const r = await fetch(`${base}/Appointment/$find`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body });
      const j = (await r.json()) as Json;
      if (r.status !== 200) throw new Error(JSON.stringify(j));
      return j.entry?.length ?? 0;
    };
    const read = async () => (await fetch(`${base}/Schedule/s0`)).text();
    for (let i = 0; i < 3; i++) (await call(), await read());
    const ours: number[] = [];
    const anchor: number[] = [];
    let proposals = 0;
    for (let r = 0; r < ROUNDS * 3; r++) {
      let t = performance.now();
      proposals = await call();
      ours.push(performance.now() - t);
      t = performance.now();
      await read();
      anchor.push(performance.now() - t);
    }
    console.log(`  $find (4 professionals + the usager, 3 weeks, 45 min): ${median(ours).toFixed(1)} ms median over ${ours.length} calls (${proposals} proposals) — target < 200 ms`);
    console.log(`  anchor GET /Schedule/id: ${median(anchor).toFixed(1)} ms; ratio ${(median(ours) / median(anchor)).toFixed(1)}`);
  } finally {
    await server.close();
  }
}

await slotGeneration();
await find();
