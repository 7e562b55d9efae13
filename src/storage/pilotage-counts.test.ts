// The Pilotage counts maintained by every write (migration 0161) against the full computation
// from the base tables (indicators.ts), after a seeded random mix of creates, updates (subject,
// dates, status, organisation, GIR changed, a Task turned into a transport or out of one), resends of the same content, deletes and
// multi-resource transactions, on both drivers, for several reference days.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDriver } from './testing.js';
import { activityByWeek, evaluationsByOrganisation, girByOrganisation, pilotageFigures, readAggregates, usagersByOrganisation } from './indicators.js';
import { prng } from '../testing/random.js';
import type { FhirResource } from './types.js';

const SYS = {
  local: 'https://identifiant-medicosocial-localusager.esante.gouv.fr',
  sejour: 'https://identifiant-medicosocial-sejour.esante.gouv.fr',
  evt: 'https://identifiant-medicosocial-evenement.esante.gouv.fr',
  trU: 'https://identifiant-medicosocial-transportusager.esante.gouv.fr',
  trP: 'https://identifiant-medicosocial-transportprofessionnel.esante.gouv.fr',
};
const AGGIR = 'https://interop.esante.gouv.fr/ig/fhir/tddui/Questionnaire/tddui-questionnaire-aggir-pa-ssiad';
const FINESS = ['480787529', '293178687', '596395145'];
// Every day a generated instant may fall on (Paris time), the days around them, and far ones.
const DAYS = ['2025-12-31', '2026-01-07', '2026-01-08', '2026-01-09', '2026-01-15', '2026-02-01', '2026-02-02', '2026-02-08', '2026-03-14', '2026-03-15', '2026-03-16', '2027-01-01'];

function generator(seed: number) {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number) => r() < p;
  // Instants around midnight Paris time (23:xx UTC) so the day boundaries are exercised.
  const instant = () => `2026-0${1 + Math.floor(r() * 3)}-${pick(['01', '08', '14', '15'])}T${pick(['22:30:00Z', '23:30:00Z', '10:00:00Z'])}`;
  const ident = (system: string, n: number) => (chance(0.9) ? [{ system, value: `3${pick(FINESS)}/${n}` }] : [{ system, value: `x${n}` }]);
  return {
    r,
    pick,
    chance,
    patient(n: number): FhirResource {
      return { resourceType: 'Patient', identifier: chance(0.9) ? ident(SYS.local, n) : [], name: [{ family: `N${n}` }] };
    },
    stay(n: number, patients: string[]): FhirResource {
      const period: Record<string, string> = {};
      if (chance(0.8)) period.start = instant();
      if (chance(0.5)) period.end = instant();
      return {
        resourceType: 'Encounter',
        identifier: ident(SYS.sejour, n),
        status: pick(['in-progress', 'finished', 'in-progress', 'planned', 'cancelled']),
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'HH' },
        ...(chance(0.9) ? { subject: { reference: `Patient/${pick(patients)}` } } : {}),
        ...(Object.keys(period).length && chance(0.9) ? { period } : {}),
      };
    },
    event(n: number, patients: string[]): FhirResource {
      return { resourceType: 'Encounter', identifier: ident(SYS.evt, n), status: 'finished', class: { code: 'HH' }, subject: { reference: `Patient/${pick(patients)}` }, ...(chance(0.9) ? { period: { start: instant() } } : {}) };
    },
    transport(n: number): FhirResource {
      return { resourceType: 'Task', identifier: ident(pick([SYS.trU, SYS.trP]), n), status: 'completed', intent: 'order', ...(chance(0.9) ? { executionPeriod: { start: instant() } } : {}) };
    },
    /** A Task that is not a transport (a PP-PA action): nothing counted — a write skips it when new (D-290). */
    action(n: number): FhirResource {
      return { resourceType: 'Task', identifier: chance(0.8) ? ident('https://identifiant-medicosocial-action.esante.gouv.fr', n) : [], status: 'in-progress', intent: 'plan', ...(chance(0.9) ? { executionPeriod: { start: instant() } } : {}) };
    },
    evaluation(n: number, patients: string[]): FhirResource {
      return {
        resourceType: 'QuestionnaireResponse',
        identifier: ident('urn:example:eval', n),
        questionnaire: chance(0.8) ? AGGIR : 'http://example.org/Questionnaire/other',
        status: chance(0.85) ? 'completed' : 'entered-in-error',
        subject: { reference: `Patient/${pick(patients)}` },
        ...(chance(0.85) ? { authored: instant() } : {}),
        item: [{ linkId: 'resultat-eval', answer: [{ valueCoding: { code: pick(['MED-339', 'MED-341', 'MED-344', 'MED-999']) } }] }],
      };
    },
  };
}

/** Rows with something in them, in a stable order (the two computations may list zeros differently). */
function normalised(figures: { usagers: { finess: string; usagers: number; active: number; activeStays: number }[]; gir: { finess: string; gir?: number; usagers: number }[]; activity: { finess: string; week: string; kind: string; n: number }[]; evaluations: Map<string, number> }) {
  const girs = new Map<string, number>();
  for (const g of figures.gir) girs.set(`${g.finess}|${g.gir ?? '?'}`, (girs.get(`${g.finess}|${g.gir ?? '?'}`) ?? 0) + g.usagers);
  return {
    usagers: figures.usagers.filter((u) => u.usagers || u.active || u.activeStays).map((u) => `${u.finess}: ${u.usagers}/${u.active}/${u.activeStays}`).sort(),
    gir: [...girs].filter(([, n]) => n).map(([k, n]) => `${k}: ${n}`).sort(),
    activity: figures.activity.filter((a) => a.n).map((a) => `${a.finess} ${a.week} ${a.kind}: ${a.n}`).sort(),
    evaluations: [...figures.evaluations].filter(([, n]) => n).map(([f, n]) => `${f}: ${n}`).sort(),
  };
}

await forEachDriver('Pilotage counts maintained on write', (getRepo) => {
  test('equal the full computation after a random mix of writes, on every reference day', async () => {
    const repo = getRepo();
    const g = generator(19);
    const patients: string[] = [];
    const live: { type: string; id: string; make: (n: number) => FhirResource }[] = [];
    for (let n = 0; n < 8; n++) patients.push((await repo.create(g.patient(n))).id);
    const makers: [string, (n: number) => FhirResource][] = [
      ['Encounter', (n) => g.stay(n, patients)],
      ['Encounter', (n) => g.event(n, patients)],
      ['Task', (n) => g.transport(n)],
      // A Task that is a transport in one version and not in another: created as either, updated
      // to either (the skip of new non-transport Tasks must not leave an old transport counted).
      ['Task', (n) => (g.chance(0.5) ? g.transport(n) : g.action(n))],
      ['QuestionnaireResponse', (n) => g.evaluation(n, patients)],
      ['Patient', (n) => g.patient(n)],
    ];
    const check = async (label: string) => {
      // The writes since the last drain refreshed together (D-356).
      await repo.drainDerived();
      const db = repo.db;
      for (const day of DAYS) {
        const full = await readAggregates(db, async (q) => ({
          usagers: await usagersByOrganisation(q, day),
          gir: await girByOrganisation(q, day),
          activity: await activityByWeek(q),
          evaluations: await evaluationsByOrganisation(q, day),
        }));
        const kept = await pilotageFigures(db, day);
        assert.deepEqual(normalised(kept), normalised(full), `${label}, day ${day}`);
      }
    };
    let n = 100;
    for (let step = 0; step < 160; step++) {
      const op = g.r();
      if (op < 0.45 || live.length < 5) {
        const [type, make] = g.pick(makers);
        const rec = await repo.create(make(n++));
        live.push({ type, id: rec.id, make });
        if (type === 'Patient') patients.push(rec.id);
      } else if (op < 0.7) {
        const o = g.pick(live);
        await repo.update({ ...o.make(n++), id: o.id });
      } else if (op < 0.78) {
        // An identical resend: nothing written, nothing counted twice.
        const o = g.pick(live);
        const cur = await repo.read(o.type, o.id);
        if (cur && !cur.deleted) await repo.update({ ...cur.resource, id: o.id });
      } else if (op < 0.9) {
        const i = Math.floor(g.r() * live.length);
        const o = live.splice(i, 1)[0]!;
        await repo.delete(o.type, o.id);
      } else {
        // One transaction: several resources of one usager changed together.
        const ops = Array.from({ length: 3 }, () => {
          const o = g.pick(live);
          return { method: 'update' as const, resourceType: o.type, id: o.id, resource: { ...o.make(n++), id: o.id } };
        });
        const seen = new Set<string>();
        await repo.execute({ ops: ops.filter((x) => !seen.has(x.id) && seen.add(x.id)) });
      }
      if (step % 40 === 39) await check(`after ${step + 1} writes`);
    }
    await check('at the end');
    // Something was counted (the test would pass on empty tables otherwise).
    const some = await pilotageFigures(repo.db, '2026-02-01');
    assert.ok(some.usagers.some((u) => u.active > 0) && some.gir.length > 0 && some.activity.length > 0 && some.evaluations.size > 0);
  });
});
