// The Pilotage counts' slots (migration 0183, D-306) and the refresh functions' kept plans (D-305).
// Every Bundle of one facility adds to the same count rows (its usagers, its GIR and evaluation
// days): two concurrent writes of one facility must not queue on those rows until COMMIT, and the
// figures read (a sum over the slots) must stay those of the full computation. Since D-356 the
// writes leave the refresh to a drain (one at a time), but two refreshes can still run together: a
// server of the previous version refreshing in its writes during an upgrade, beside a drain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, forEachDriver, postgresUnavailable } from './testing.js';
import { openRepository } from './index.js';
import type { SqlRepository } from './repository.js';
import { writeVersions, stamp, type VersionToWrite } from './writer.js';
import { evaluationsByOrganisation, girByOrganisation, pilotageFigures, readAggregates, usagersByOrganisation } from './indicators.js';
import type { FhirResource, Queryable } from './types.js';

const FINESS = '480787529';
const LOCAL = 'https://identifiant-medicosocial-localusager.esante.gouv.fr';
const AGGIR = 'https://interop.esante.gouv.fr/ig/fhir/tddui/Questionnaire/tddui-questionnaire-aggir-pa-ssiad';
const NOW = '2026-12-01T10:00:00.000Z';

/** A new usager of the facility and its AGGIR evaluation (GIR 3), as one write. */
function usager(n: number): VersionToWrite[] {
  const patient: FhirResource = { resourceType: 'Patient', identifier: [{ system: LOCAL, value: `3${FINESS}/${n}` }], name: [{ family: `N${n}` }] };
  const qr: FhirResource = {
    resourceType: 'QuestionnaireResponse',
    identifier: [{ system: 'urn:example:eval', value: `3${FINESS}/e${n}` }],
    questionnaire: AGGIR,
    status: 'completed',
    subject: { reference: `Patient/p${n}` },
    authored: '2026-11-20T10:00:00Z',
    item: [{ linkId: 'resultat-eval', answer: [{ valueCoding: { code: 'MED-341' } }] }],
  };
  return [
    { resourceType: 'Patient', id: `p${n}`, versionId: 1, lastUpdated: NOW, owner: FINESS, existed: false, resource: stamp(patient, `p${n}`, 1, NOW) },
    { resourceType: 'QuestionnaireResponse', id: `q${n}`, versionId: 1, lastUpdated: NOW, owner: FINESS, existed: false, resource: stamp(qr, `q${n}`, 1, NOW) },
  ];
}

async function fullFigures(q: Queryable, day: string) {
  const usagers = await usagersByOrganisation(q, day);
  const gir = await girByOrganisation(q, day);
  const evaluations = await evaluationsByOrganisation(q, day);
  return {
    usagers: usagers.filter((u) => u.usagers).map((u) => `${u.finess}: ${u.usagers}`).sort(),
    gir: gir.filter((g) => g.usagers).map((g) => `${g.finess} ${g.gir ?? '?'}: ${g.usagers}`).sort(),
    evaluations: [...evaluations].filter(([, n]) => n).map(([f, n]) => `${f}: ${n}`).sort(),
  };
}

async function keptFigures(q: Queryable, day: string) {
  const k = await pilotageFigures(q, day);
  return {
    usagers: k.usagers.filter((u) => u.usagers).map((u) => `${u.finess}: ${u.usagers}`).sort(),
    gir: k.gir.filter((g) => g.usagers).map((g) => `${g.finess} ${g.gir ?? '?'}: ${g.usagers}`).sort(),
    evaluations: [...k.evaluations].filter(([, n]) => n).map(([f, n]) => `${f}: ${n}`).sort(),
  };
}

test('PostgreSQL: two refreshes of one facility add to its counts concurrently (no wait on the count rows), and the figures are the full computation', async (t) => {
  const why = await postgresUnavailable();
  if (why) return t.skip(why);
  const { url, drop } = await createTestDatabase();
  const repo = await openRepository({ url });
  (repo as SqlRepository).derived.setBackground(false);
  try {
    const db = repo.db;
    // A usager written and refreshed before: the facility's rows exist (slot 0).
    await db.transaction((tx) => writeVersions(tx, repo.searchParams, usager(1)));
    await repo.drainDerived();
    // Two more, written (their keys pending), refreshed below by two transactions at once.
    for (const n of [2, 3]) await db.transaction((tx) => writeVersions(tx, repo.searchParams, usager(n)));
    await db.query('DELETE FROM derived_pending');
    const refresh = (tx: Queryable, n: number) => tx.query(`SELECT derived_refresh($1::text[], $2::text[])`, [['Patient', 'QuestionnaireResponse'], [`p${n}`, `q${n}`]]);
    let release!: () => void;
    const hold = new Promise<void>((res) => (release = res));
    let firstWrote!: () => void;
    const wrote = new Promise<void>((res) => (firstWrote = res));
    const one = db.transaction(async (tx) => {
      await refresh(tx, 2);
      firstWrote();
      await hold; // still open: its row locks are held
    });
    await wrote;
    // Before migration 0183 this waited for the first refresh's COMMIT on (usagers, FINESS, 0,
    // -infinity) and the GIR and evaluation rows: lock_timeout ends it instead of hanging.
    const started = Date.now();
    try {
      await db.transaction(async (tx) => {
        await tx.query(`SET LOCAL lock_timeout = '3s'`);
        await refresh(tx, 3);
      });
    } finally {
      release();
      await one;
    }
    assert.ok(Date.now() - started < 3000, 'the second refresh did not wait for the first');
    const slots = await db.query<{ n: number }>(`SELECT count(DISTINCT slot)::int AS n FROM pilotage_count WHERE kind = 'usagers' AND finess = $1`, [FINESS]);
    assert.equal(slots.rows[0]!.n, 2, 'the second write added to another slot');
    for (const day of ['2026-11-19', '2026-11-20', '2026-12-31']) {
      const full = await readAggregates(db, (q) => fullFigures(q, day));
      assert.deepEqual(await keptFigures(db, day), full, day);
    }
    assert.deepEqual((await keptFigures(db, '2026-12-31')).usagers, [`${FINESS}: 3`]);
    assert.deepEqual((await keptFigures(db, '2026-12-31')).gir, [`${FINESS} 3: 3`]);
  } finally {
    await repo.close();
    await drop();
  }
});

forEachDriver('Pilotage refresh', (getRepo) => {
  test('a refresh takes one slot, and a sequential one reuses the first (the rows do not multiply)', async () => {
    const repo = getRepo();
    for (let n = 10; n < 14; n++) {
      await repo.db.transaction((tx) => writeVersions(tx, repo.searchParams, usager(n)));
      await repo.drainDerived();
    }
    const slots = await repo.db.query<{ slot: number; n: string }>(`SELECT slot, n FROM pilotage_count WHERE kind = 'usagers' AND finess = $1`, [FINESS]);
    assert.deepEqual(slots.rows.map((r) => [Number(r.slot), Number(r.n)]), [[0, 4]]);
    // The slot lock is the transaction's: none is left once it committed.
    const full = await readAggregates(repo.db, (q) => fullFigures(q, '2026-12-31'));
    assert.deepEqual(await keptFigures(repo.db, '2026-12-31'), full);
  });

  test('the refresh functions run with a generic plan (D-305: not planned again on every call)', async () => {
    const r = await getRepo().db.query<{ proname: string; proconfig: string[] | null }>(
      `SELECT proname, proconfig FROM pg_proc WHERE proname IN ('pilotage_refresh', 'ppa_refresh') ORDER BY proname`,
    );
    assert.deepEqual(r.rows.map((x) => [x.proname, x.proconfig]), [
      ['pilotage_refresh', ['plan_cache_mode=force_generic_plan']],
      ['ppa_refresh', ['plan_cache_mode=force_generic_plan']],
    ]);
  });
});
