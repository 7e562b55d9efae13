// The PPA validation dates maintained on write (migration 0180, D-254) against the full
// recomputation from the stored CarePlans, Consents and Patients (recomputeDueReviews), after a
// seeded random mix of creates, updates (status, accords, performers, dates, subject, the
// usager's ESSMS), identical resends, deletes and multi-resource transactions, on both drivers,
// for several days and review periods; and the due-day bound against a day-by-day search.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDriver } from '../storage/testing.js';
import { prng } from '../testing/random.js';
import type { FhirResource } from '../storage/types.js';
import { addMonths, dueReviewCounts, dueReviews, lastDueValidationDay, recomputeDueReviews, validationDay } from './ppa-reviews.js';

const LOCAL = 'https://identifiant-medicosocial-localusager.esante.gouv.fr';
const DAYS = ['2025-01-31', '2025-02-28', '2025-03-01', '2025-06-15', '2025-12-31', '2026-02-28', '2026-03-31', '2026-06-30', '2027-01-01'];
const MONTHS = [12, 1, 18];

test('lastDueValidationDay: a validation day is due by today exactly when it is on or before the bound', () => {
  const day = (n: number) => new Date(Date.UTC(2023, 0, 1) + n * 86_400_000).toISOString().slice(0, 10);
  for (let t = 400; t < 1200; t += 1) {
    const today = day(t);
    for (const months of [1, 12, 13, 18]) {
      const bound = lastDueValidationDay(today, months);
      for (let v = t - months * 31 - 5; v <= t - months * 28 + 5; v++) {
        const d = day(v);
        assert.equal(d <= bound, addMonths(d, months) <= today, `${d} + ${months} months vs ${today} (bound ${bound})`);
      }
    }
  }
});

test('validationDay: the date as written; a year or a month alone is its first day; not a day: none', () => {
  assert.equal(validationDay('2025-09-28T23:30:00-05:00'), '2025-09-28');
  assert.equal(validationDay('2024-02-29'), '2024-02-29');
  assert.equal(validationDay('2025-03'), '2025-03-01');
  assert.equal(validationDay('2025'), '2025-01-01');
  for (const bad of ['2025-02-29', '2025-13-01', '0000-01-01', 'hier', '25-01-01', '2025-1-01']) assert.equal(validationDay(bad), undefined, bad);
});

function generator(seed: number) {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number) => r() < p;
  const dateTime = () =>
    chance(0.9)
      ? `${pick(['2024', '2025'])}-${pick(['01', '02', '03', '06', '12'])}-${pick(['01', '15', '28', '29', '31'])}${pick(['', 'T10:30:00+02:00', 'T23:30:00Z'])}`
      : pick(['2024-03', '2025', '2025-02-30', '']);
  return {
    r,
    pick,
    chance,
    patient(n: number): FhirResource {
      const value = chance(0.85) ? `3${pick(['480787529', '293178687', '596395145'])}/${n}` : pick([`x${n}`, `ESSMS/${n}`, `/${n}`]);
      return { resourceType: 'Patient', identifier: chance(0.9) ? [{ system: LOCAL, value }] : [], name: [{ family: `NOM${n}`, given: [`P${n}`] }] };
    },
    consent(patients: string[]): FhirResource {
      const who = pick(patients);
      const performer = pick([`Patient/${who}`, `Patient/${who}`, `RelatedPerson/r${who}`, 'Organization/o1', `https://h.example/fhir/Patient/${who}`, `Patient/${who}/_history/2`, 'Practitioner/p1']);
      const dt = dateTime();
      return {
        resourceType: 'Consent',
        status: pick(['active', 'active', 'active', 'active', 'active', 'inactive', 'draft']),
        scope: { coding: [{ code: 'treatment' }] },
        category: [{ coding: [{ code: 'x' }] }],
        ...(chance(0.9) ? { patient: { reference: `Patient/${who}` } } : {}),
        ...(chance(0.9) ? { performer: [{ reference: performer }, ...(chance(0.3) ? [{ reference: 'Organization/o2' }] : [])] } : {}),
        ...(dt ? { dateTime: dt } : {}),
      };
    },
    carePlan(patients: string[], consents: string[]): FhirResource {
      const refs = consents.length ? Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick([`Consent/${pick(consents)}`, `Consent/${pick(consents)}`, `http://h.example/fhir/Consent/${pick(consents)}`, 'DocumentReference/d1'])) : [];
      return {
        resourceType: 'CarePlan',
        status: pick(['active', 'active', 'active', 'active', 'active', 'draft', 'completed']),
        intent: 'plan',
        ...(chance(0.8) ? { title: `Projet ${Math.floor(r() * 100)}` } : {}),
        subject: { reference: chance(0.9) ? `Patient/${pick(patients)}` : `http://h.example/fhir/Patient/${pick(patients)}` },
        ...(refs.length ? { supportingInfo: refs.map((reference) => ({ reference })) } : {}),
      };
    },
  };
}

await forEachDriver('PPA validation dates maintained on write', (getRepo) => {
  test('equal the full recomputation after a random mix of writes, for every day and period', async () => {
    const repo = getRepo();
    const g = generator(254);
    const patients: string[] = [];
    const consents: string[] = [];
    const live: { type: string; id: string }[] = [];
    const make = (type: string, n: number): FhirResource => (type === 'Patient' ? g.patient(n) : type === 'Consent' ? g.consent(patients) : g.carePlan(patients, consents));
    for (let n = 0; n < 6; n++) patients.push((await repo.create(g.patient(n))).id);
    for (let n = 0; n < 8; n++) consents.push((await repo.create(g.consent(patients))).id);
    for (let n = 0; n < 8; n++) live.push({ type: 'CarePlan', id: (await repo.create(g.carePlan(patients, consents))).id });
    let due = 0;
    const check = async (label: string) => {
      for (const day of DAYS) {
        for (const months of MONTHS) {
          const now = new Date(`${day}T12:00:00Z`);
          const full = await recomputeDueReviews(repo, { now, months });
          assert.deepEqual(await dueReviews(repo, { now, months }), full, `${label}, ${day}, ${months} months`);
          const counts = new Map<string, number>();
          for (const x of full) counts.set(x.finess ?? '', (counts.get(x.finess ?? '') ?? 0) + 1);
          assert.deepEqual(await dueReviewCounts(repo.db, day, months), counts, `${label}, ${day}, ${months} months (counts)`);
          due += full.length;
        }
      }
    };
    let n = 100;
    for (let step = 0; step < 150; step++) {
      const op = g.r();
      if (op < 0.4 || live.length < 6) {
        const type = g.pick(['CarePlan', 'CarePlan', 'CarePlan', 'Consent', 'Consent', 'Patient']);
        const rec = await repo.create(make(type, n++));
        live.push({ type, id: rec.id });
        if (type === 'Patient') patients.push(rec.id);
        if (type === 'Consent') consents.push(rec.id);
      } else if (op < 0.7) {
        const o = g.pick(live);
        await repo.update({ ...make(o.type, n++), id: o.id });
      } else if (op < 0.78) {
        // An identical resend: nothing written.
        const o = g.pick(live);
        const cur = await repo.read(o.type, o.id);
        if (cur && !cur.deleted) await repo.update({ ...cur.resource, id: o.id });
      } else if (op < 0.84) {
        const o = live.splice(Math.floor(g.r() * live.length), 1)[0]!;
        await repo.delete(o.type, o.id);
      } else {
        // One transaction: a plan, an accord and a usager changed together.
        const ops = Array.from({ length: 3 }, () => {
          const o = g.pick(live);
          return { method: 'update' as const, resourceType: o.type, id: o.id, resource: { ...make(o.type, n++), id: o.id } };
        });
        const seen = new Set<string>();
        await repo.execute({ ops: ops.filter((x) => !seen.has(x.id) && seen.add(x.id)) });
      }
      if (step % 50 === 49) await check(`after ${step + 1} writes`);
    }
    await check('at the end');
    // Something was due (the test would pass on an empty table otherwise), in several ESSMS.
    assert.ok(due > 50, String(due));
    const rows = (await repo.db.query<{ n: number; f: number }>(`SELECT count(*)::int AS n, count(DISTINCT finess)::int AS f FROM ppa_validation`)).rows[0]!;
    assert.ok(rows.n >= 5 && rows.f >= 2, JSON.stringify(rows));
  });
});
