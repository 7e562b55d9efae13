// The derived refresh restated by migration 0200 (D-353: fewer statements, sections a write has
// nothing for skipped, the counts' upsert apart) keeps exactly the rows of the functions it
// replaces: after a seeded random mix of writes of every derived type — usagers, séjours, events,
// transports and other Tasks, evaluations, projets and accords; creates, updates moving séjours,
// evaluations and plans between usagers, identical resends, deletes, and transactions mixing types
// (a PP-PA-like usager with its evaluation, projet and accord; séjours with transports) — every
// derived table kept by the writes equals what 0183's `pilotage_refresh` and 0180's `ppa_refresh`
// compute from scratch over every stored resource: the parts row by row, the counts summed over
// their slots, the usagers' sort keys and counts, the links and the validation dates. On both drivers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BID, QUESTIONNAIRE } from '../producer/pivot/constants.js';
import { prng } from '../testing/random.js';
import { statements as s0180 } from './migrations/0180-ppa-validation.js';
import { statements as s0183 } from './migrations/0183-pilotage-slots.js';
import { forEachDriver } from './testing.js';
import type { FhirResource, Queryable, Repository } from './types.js';
import type { WriteOp } from './unit-of-work.js';

// The TDDUI identifier systems and questionnaire, as the producer writes them.
const SYS = {
  local: BID.localUsager,
  sejour: BID.sejour.system,
  evt: BID.evenement.system,
  trU: BID.transportUsager.system,
  trP: BID.transportPro.system,
  action: BID.action.system,
};
const AGGIR = QUESTIONNAIRE['aggir-pa'];
const FINESS = ['480787529', '293178687'];
const TYPES = ['Patient', 'Encounter', 'Task', 'QuestionnaireResponse', 'CarePlan', 'Consent'];

/** The functions as they were before 0200, under other names (the reference computation). */
const BEFORE = [
  s0183.find((s) => s.startsWith('CREATE OR REPLACE FUNCTION pilotage_refresh('))!.replace('FUNCTION pilotage_refresh(', 'FUNCTION pilotage_refresh_before('),
  s0180.find((s) => s.startsWith('CREATE FUNCTION ppa_refresh('))!.replace('CREATE FUNCTION ppa_refresh(', 'CREATE OR REPLACE FUNCTION ppa_refresh_before('),
];

function generator(seed: number) {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number) => r() < p;
  const instant = () => `2026-0${1 + Math.floor(r() * 3)}-${pick(['01', '08', '15'])}T${pick(['22:30:00Z', '10:00:00Z'])}`;
  const ident = (system: string, n: number) => (chance(0.9) ? [{ system, value: `3${pick(FINESS)}/${n}` }] : [{ system, value: `x${n}` }]);
  const ref = (type: string, ids: string[]) => ({ reference: `${type}/${pick(ids)}` });
  return {
    r,
    pick,
    chance,
    make(type: string, n: number, ids: Record<string, string[]>): FhirResource {
      const pats = ids.Patient!;
      switch (type) {
        case 'Patient': {
          const names = [
            ...(chance(0.4) ? [{ use: 'usual', family: `Éloïse${n}`, given: [`Zoé${n}`] }] : []),
            ...(chance(0.7) ? [{ use: 'official', family: `NOM${n}`, given: [`P${n}`] }] : []),
            ...(chance(0.3) ? [{ family: `Œdipe${n}` }] : []),
          ];
          return {
            resourceType: 'Patient', identifier: chance(0.9) ? ident(SYS.local, n) : [], name: names,
            ...(chance(0.7) ? { birthDate: `19${40 + (n % 50)}-0${1 + (n % 9)}-1${n % 10}` } : {}), ...(chance(0.7) ? { gender: pick(['female', 'male']) } : {}),
          };
        }
        case 'Encounter': {
          if (chance(0.35)) return { resourceType: 'Encounter', identifier: ident(SYS.evt, n), status: 'finished', class: { code: 'HH' }, subject: ref('Patient', pats), ...(chance(0.9) ? { period: { start: instant() } } : {}) };
          const period: Record<string, string> = {};
          if (chance(0.8)) period.start = instant();
          if (chance(0.4)) period.end = instant();
          return {
            resourceType: 'Encounter', identifier: ident(SYS.sejour, n), status: pick(['in-progress', 'in-progress', 'finished', 'planned', 'cancelled']), class: { code: 'HH' },
            ...(chance(0.9) ? { subject: ref('Patient', pats) } : {}), ...(Object.keys(period).length ? { period } : {}),
          };
        }
        case 'Task':
          return chance(0.6)
            ? { resourceType: 'Task', identifier: ident(pick([SYS.trU, SYS.trP]), n), status: 'completed', intent: 'order', ...(chance(0.9) ? { executionPeriod: { start: instant() } } : {}) }
            : { resourceType: 'Task', identifier: ident(SYS.action, n), status: 'in-progress', intent: 'plan', executionPeriod: { start: instant() } };
        case 'QuestionnaireResponse':
          return {
            resourceType: 'QuestionnaireResponse', identifier: ident('urn:example:eval', n), questionnaire: chance(0.8) ? AGGIR : 'http://example.org/Questionnaire/other',
            status: chance(0.85) ? 'completed' : 'entered-in-error', subject: ref('Patient', pats), ...(chance(0.85) ? { authored: instant() } : {}),
            item: [{ linkId: 'resultat-eval', answer: [{ valueCoding: { code: pick(['MED-339', 'MED-341', 'MED-344', 'MED-999']) } }] }],
          };
        case 'CarePlan': {
          const consents = ids.Consent!;
          const refs = consents.length ? Array.from({ length: 1 + Math.floor(r() * 2) }, () => pick([`Consent/${pick(consents)}`, `http://h.example/fhir/Consent/${pick(consents)}`, 'DocumentReference/d1'])) : [];
          return {
            resourceType: 'CarePlan', status: pick(['active', 'active', 'active', 'draft']), intent: 'plan', subject: ref('Patient', pats),
            ...(refs.length ? { supportingInfo: refs.map((reference) => ({ reference })) } : {}),
          };
        }
        default: {
          const who = pick(pats);
          return {
            resourceType: 'Consent', status: pick(['active', 'active', 'active', 'inactive']), scope: { coding: [{ code: 'treatment' }] }, category: [{ coding: [{ code: 'x' }] }],
            patient: { reference: `Patient/${who}` }, performer: [{ reference: pick([`Patient/${who}`, `RelatedPerson/r${who}`, 'Practitioner/p1']) }],
            ...(chance(0.9) ? { dateTime: pick(['2025-01-15', '2025-06-30T10:00:00+02:00', '2024-03', '2025-02-30']) } : {}),
          };
        }
      }
    },
  };
}

/** Every derived table, in a form two computations can be compared in (counts summed over their slots). */
async function derived(q: Queryable): Promise<Record<string, string[]>> {
  const rows = async (sql: string) => (await q.query<{ j: string }>(sql)).rows.map((x) => x.j);
  return {
    pilotage_part: await rows(`SELECT concat_ws('|', src, kind, finess, key, day, n, patient) AS j FROM pilotage_part ORDER BY 1`),
    pilotage_count: await rows(`SELECT concat_ws('|', kind, finess, key, day, sum(n)) AS j FROM pilotage_count GROUP BY kind, finess, key, day HAVING sum(n) <> 0 ORDER BY 1`),
    usager_sort: await rows(`SELECT row_to_json(u)::text AS j FROM usager_sort u ORDER BY id`),
    usager_count: await rows(`SELECT concat_ws('|', owner, finess, no_finess, no_name, no_local, no_birth, no_gender, sum(n)) AS j FROM usager_count
                                GROUP BY owner, finess, no_finess, no_name, no_local, no_birth, no_gender HAVING sum(n) <> 0 ORDER BY 1`),
    ppa_accord_link: await rows(`SELECT row_to_json(l)::text AS j FROM ppa_accord_link l ORDER BY careplan, consent`),
    ppa_validation: await rows(`SELECT row_to_json(v)::text AS j FROM ppa_validation v ORDER BY careplan`),
  };
}

/** The derived tables as the functions before 0200 compute them from every stored resource (in a transaction rolled back). */
async function before(repo: Repository): Promise<Record<string, string[]>> {
  const ROLLBACK = new Error('rollback');
  let out: Record<string, string[]> = {};
  await repo.db
    .transaction(async (tx) => {
      for (const sql of BEFORE) await tx.query(sql);
      await tx.query(`TRUNCATE usager_sort, usager_count, pilotage_part, pilotage_count, ppa_accord_link, ppa_validation`);
      await tx.query(`SELECT set_config('tddui.backfill', 'on', true)`);
      const all = (await tx.query<{ t: string[] | null; i: string[] | null }>(
        `SELECT array_agg(resource_type) AS t, array_agg(id) AS i FROM resource WHERE NOT deleted AND resource_type = ANY($1::text[])`, [TYPES],
      )).rows[0]!;
      await tx.query(`SELECT pilotage_refresh_before($1::text[], $2::text[])`, [all.t ?? [], all.i ?? []]);
      await tx.query(`SELECT ppa_refresh_before($1::text[], $2::text[], false)`, [all.t ?? [], all.i ?? []]);
      out = await derived(tx);
      throw ROLLBACK;
    })
    .catch((e: unknown) => {
      if (e !== ROLLBACK) throw e;
    });
  return out;
}

await forEachDriver('Derived refresh in sections (migration 0200)', (getRepo) => {
  test('keeps every derived row of the functions it replaces, after a random mix of writes of every derived type', async () => {
    const repo = getRepo();
    const g = generator(353);
    const ids: Record<string, string[]> = Object.fromEntries(TYPES.map((t) => [t, []]));
    const live: { type: string; id: string }[] = [];
    let n = 0;
    const add = (type: string, id: string) => {
      ids[type]!.push(id);
      live.push({ type, id });
    };
    for (let k = 0; k < 6; k++) add('Patient', (await repo.create(g.make('Patient', n++, ids))).id);
    for (let k = 0; k < 3; k++) add('Consent', (await repo.create(g.make('Consent', n++, ids))).id);
    // (The writes since the last drain refreshed together first, D-356.)
    const check = async (label: string) => (await repo.drainDerived(), assert.deepEqual(await derived(repo.db), await before(repo), label));
    const createOp = (type: string): WriteOp => {
      const id = `n${n}`;
      return { method: 'update', createOnUpdate: true, resourceType: type, id, resource: { ...g.make(type, n++, ids), id } };
    };
    for (let step = 0; step < 180; step++) {
      const op = g.r();
      if (op < 0.3 || live.length < 8) {
        const type = g.pick(TYPES);
        add(type, (await repo.create(g.make(type, n++, ids))).id);
      } else if (op < 0.55) {
        // Updates: séjours, evaluations and plans may name another usager (their parts and plans move).
        const o = g.pick(live);
        await repo.update({ ...g.make(o.type, n++, ids), id: o.id });
      } else if (op < 0.6) {
        const o = g.pick(live);
        const cur = await repo.read(o.type, o.id);
        if (cur && !cur.deleted) await repo.update({ ...cur.resource, id: o.id });
      } else if (op < 0.7) {
        const o = live.splice(Math.floor(g.r() * live.length), 1)[0]!;
        await repo.delete(o.type, o.id);
      } else if (op < 0.82) {
        // A PP-PA-like transaction: a new usager, its evaluation, projet and accord, and action Tasks.
        const [pid, aid] = [`n${n++}`, `n${n++}`];
        const own = { ...ids, Patient: [pid], Consent: [aid] };
        const ops: WriteOp[] = ['Patient', 'Consent', 'QuestionnaireResponse', 'CarePlan', 'Task', 'Task'].map((type, k) => {
          const id = k === 0 ? pid : k === 1 ? aid : `n${n++}`;
          return { method: 'update', createOnUpdate: true, resourceType: type, id, resource: { ...g.make(type, n++, own), id } };
        });
        await repo.execute({ ops });
        for (const o of ops) add(o.resourceType, o.id!);
      } else {
        // Several resources of several types together: séjours, events and transports with other writes.
        const ops: WriteOp[] = [];
        const seen = new Set<string>();
        for (let k = 0; k < 4; k++) {
          if (g.chance(0.5)) ops.push(createOp(g.pick(['Encounter', 'Task', 'QuestionnaireResponse', 'Encounter'])));
          else {
            const o = g.pick(live);
            if (!seen.has(o.id)) ops.push({ method: 'update', resourceType: o.type, id: o.id, resource: { ...g.make(o.type, n++, ids), id: o.id } });
            seen.add(o.id);
          }
        }
        await repo.execute({ ops });
        for (const o of ops) if (o.id!.startsWith('n') && !live.some((x) => x.id === o.id)) add(o.resourceType, o.id!);
      }
      if (step % 60 === 59) await check(`after ${step + 1} writes`);
    }
    await check('at the end');
    // Every section had something to compute (the comparison would hold on empty tables otherwise).
    const kinds = (await repo.db.query<{ k: string }>(`SELECT DISTINCT kind AS k FROM pilotage_part ORDER BY 1`)).rows.map((x) => x.k);
    for (const k of ['active', 'eval', 'evt', 'gir', 'link', 'stays', 'usagers']) assert.ok(kinds.includes(k), `${k} in ${kinds.join(' ')}`);
    assert.ok(kinds.includes('pro') || kinds.includes('usager'), kinds.join(' '));
    const ppa = (await repo.db.query<{ v: number; l: number }>(`SELECT (SELECT count(*)::int FROM ppa_validation) AS v, (SELECT count(*)::int FROM ppa_accord_link) AS l`)).rows[0]!;
    assert.ok(ppa.v >= 3 && ppa.l >= 5, JSON.stringify(ppa));
  });
});
