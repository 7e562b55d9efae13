// `$find`'s free-time algebra against a brute force on minutes: 4 professionals and a usager with
// seeded random schedules (one-off and weekly availabilities, unavailabilities inside them,
// booked / proposed / cancelled appointments), over a week that crosses the October change.
// Every proposal is free for all, within the window, on the grid; none is missed.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { availableTime, type Interval } from './availability.js';
import { commonFree, freeTime, respond } from './find.js';
import { occupationOf, type Occupation } from './slots.js';
import { prng } from '../../testing/random.js';
import { readSchedule } from './availability.js';
import { fromWall, isoLocal, parseDateTime } from './time.js';

const AV = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-schedule-availability-time';
const MIN = 60_000;


interface Raw {
  /** Wall-clock availabilities: day offset (0..6), from and to (minutes of the day), weekly or not. */
  free: { day: number; from: number; to: number; weekly: boolean }[];
  unavailable: { day: number; from: number; to: number }[];
  appointments: { start: number; end: number; status: string }[];
}

const BASE_WALL = Date.UTC(2026, 9, 22); // Thursday 22 October 2026, local midnight (the change is on Sunday 25)
const wallAt = (day: number, minute: number) => BASE_WALL + day * 86_400_000 + minute * MIN;

function randomRaw(r: () => number, window: Interval): Raw {
  const free: Raw['free'] = [];
  const unavailable: Raw['unavailable'] = [];
  // Typical opening hours (so that four agendas do meet), then odd ones.
  const blocks = [[8 * 60, 12 * 60], [9 * 60, 13 * 60], [13 * 60 + 30, 17 * 60 + 30], [14 * 60, 19 * 60]] as const;
  for (let day = 0; day < 7; day++) {
    if (r() < 0.7) {
      const b = blocks[Math.floor(r() * blocks.length)]!;
      free.push({ day, from: b[0], to: b[1], weekly: r() < 0.5 });
    }
  }
  for (let i = 0, n = Math.floor(r() * 3); i < n; i++) {
    const from = 6 * 60 + Math.floor(r() * 48) * 15;
    free.push({ day: Math.floor(r() * 7) - (r() < 0.3 ? 7 : 0), from, to: Math.min(from + 30 + Math.floor(r() * 24) * 15, 23 * 60 + 45), weekly: r() < 0.5 });
  }
  for (let i = 0, n = Math.floor(r() * 3); i < n; i++) {
    const from = 7 * 60 + Math.floor(r() * 140) * 5;
    unavailable.push({ day: Math.floor(r() * 7), from, to: from + 10 + Math.floor(r() * 30) * 5 });
  }
  const appointments: Raw['appointments'] = [];
  for (let i = 0, n = Math.floor(r() * 6); i < n; i++) {
    const start = window.start + Math.floor(r() * 7 * 24 * 12) * 5 * MIN;
    appointments.push({ start, end: start + (10 + Math.floor(r() * 20) * 5) * MIN, status: ['booked', 'pending', 'proposed', 'cancelled', 'fulfilled'][Math.floor(r() * 5)]! });
  }
  return { free, unavailable, appointments };
}

function scheduleOf(id: string, raw: Raw) {
  const iso = (day: number, m: number) => isoLocal(fromWall(wallAt(day, m)));
  const ext = (type: string, day: number, from: number, to: number, weekly = false) => ({
    url: AV,
    extension: [
      { url: 'identifier', valueIdentifier: { value: `${type}${day}-${from}` } },
      { url: 'type', valueCoding: { code: type } },
      { url: 'start', valueDateTime: iso(day, from) },
      { url: 'end', valueDateTime: iso(day, to) },
      ...(weekly ? [{ url: 'rrule', extension: [{ url: 'freq', valueCoding: { system: 'https://www.ietf.org/rfc/rfc2445', code: 'WEEKLY' } }] }] : []),
    ],
  });
  return {
    resourceType: 'Schedule',
    id,
    actor: [{ reference: id.replace('sch-', 'PractitionerRole/') }],
    extension: [...raw.free.map((f) => ext('free', f.day, f.from, f.to, f.weekly)), ...raw.unavailable.map((u) => ext('busy-unavailable', u.day, u.from, u.to))],
  };
}

function appointmentsOf(actor: string, raw: Raw) {
  return raw.appointments.map((a, i) => ({ resourceType: 'Appointment', id: `${actor}-${i}`, status: a.status, start: isoLocal(a.start), end: isoLocal(a.end), participant: [{ actor: { reference: actor }, status: 'accepted' }] }));
}

/** Brute force: per minute of the window, whether the participant is free (from the raw data only). */
function freeMinutes(raw: Raw, window: Interval, professional: boolean): boolean[] {
  const n = (window.end - window.start) / MIN;
  const free = new Array<boolean>(n).fill(!professional);
  const mark = (s: number, e: number, v: boolean) => {
    for (let t = Math.max(s, window.start); t < Math.min(e, window.end); t += MIN) free[(t - window.start) / MIN] = v;
  };
  if (professional) {
    for (const f of raw.free) {
      for (let week = 0; week < (f.weekly ? 3 : 1); week++) mark(fromWall(wallAt(f.day + 7 * week, f.from)), fromWall(wallAt(f.day + 7 * week, f.to)), true);
    }
    for (const u of raw.unavailable) mark(fromWall(wallAt(u.day, u.from)), fromWall(wallAt(u.day, u.to)), false);
  }
  for (const a of raw.appointments) if (a.status !== 'cancelled') mark(a.start, a.end, false);
  return free;
}

describe('$find against a brute force on minutes (seeded random schedules, 4 professionals and a usager)', () => {
  const window = { start: fromWall(wallAt(0, 0)), end: fromWall(wallAt(7, 0)) };
  let withProposals = 0;
  after(() => assert.ok(withProposals >= 10, `only ${withProposals} seeds had proposals: the test would not see a wrong one`));
  for (let seed = 1; seed <= 60; seed++) {
    it(`seed ${seed}`, () => {
      const r = prng(seed);
      const minutes = [15, 30, 45, 60, 90][Math.floor(r() * 5)]!;
      const step = [5, 15, 30][Math.floor(r() * 3)]!;
      const pros = [0, 1, 2, 3].map(() => randomRaw(r, window));
      const usager = randomRaw(r, window);
      const frees: Interval[][] = [];
      pros.forEach((raw, k) => {
        const { model, issues } = readSchedule(scheduleOf(`sch-${k}`, raw));
        assert.deepEqual(issues, []);
        const actor = `PractitionerRole/${k}`;
        const occ = appointmentsOf(actor, raw).map((a) => occupationOf(a, new Set([actor]))).filter((o): o is Occupation => !!o);
        frees.push(freeTime(availableTime(model, window).free, window, occ));
      });
      const uOcc = appointmentsOf('Patient/u', usager).map((a) => occupationOf(a, new Set(['Patient/u']))).filter((o): o is Occupation => !!o);
      frees.push(freeTime(undefined, window, uOcc));
      const got = commonFree(frees, { minutes, window, step, count: 100_000 }).map((s) => s.start);
      // Brute force.
      const grids = [...pros.map((p) => freeMinutes(p, window, true)), freeMinutes(usager, window, false)];
      const expected: number[] = [];
      const total = (window.end - window.start) / MIN;
      for (let m = 0; m + minutes <= total; m++) {
        const t = window.start + m * MIN;
        if (t % (step * MIN) !== 0) continue;
        let ok = true;
        for (const g of grids) {
          for (let k = m; k < m + minutes && ok; k++) if (!g[k]) ok = false;
          if (!ok) break;
        }
        if (ok) expected.push(t);
      }
      assert.deepEqual(got, expected);
      if (expected.length) withProposals++;
      // Ranked earliest first; the first N are the N earliest.
      const firstFive = commonFree(frees, { minutes, window, step, count: 5 }).map((s) => s.start);
      assert.deepEqual(firstFive, expected.slice(0, 5));
      // rank=spread: one per common free period, each free for all.
      for (const s of commonFree(frees, { minutes, window, step, count: 100, rank: 'spread' })) assert.ok(expected.includes(s.start));
    });
  }
});

describe('answers of the participants', () => {
  const a = {
    resourceType: 'Appointment',
    status: 'pending',
    participant: [
      { actor: { reference: 'Patient/u' }, required: 'required', status: 'needs-action' },
      { actor: { reference: 'PractitionerRole/1' }, required: 'required', status: 'accepted' },
      { actor: { reference: 'RelatedPerson/f' }, required: 'optional', status: 'needs-action' },
    ],
  };
  it('all required accepted: booked; a required one declines: cancelled; an optional decline changes nothing', () => {
    assert.equal(respond(a, 'Patient/u', 'accepted').status, 'booked');
    assert.equal(respond(a, 'Patient/u', 'declined').status, 'cancelled');
    assert.equal(respond(a, 'RelatedPerson/f', 'declined').status, 'pending');
    assert.equal(respond(respond(a, 'Patient/u', 'tentative'), 'RelatedPerson/f', 'accepted').status, 'pending');
    assert.throws(() => respond(a, 'Practitioner/x', 'accepted'), /ne participe pas|not a participant/);
  });
  it('parses local dates as Europe/Paris', () => {
    assert.equal(parseDateTime('2026-10-25T02:30:00'), Date.UTC(2026, 9, 25, 0, 30));
  });
});
