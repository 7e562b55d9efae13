// The derived refresh of a large write grows linearly with the write (issue 19, D-329). Planned
// from statistics that did not include the write (a fresh database, a few rows before), the
// refresh's statements rescanned every stored row of a type for every written key: a 40 MB Bundle
// (13,070 versions) took 26-31 s in `pilotage_refresh` on PostgreSQL and blocked the embedded
// server 77.6 s. Not a timed test: the rows the write's transaction fetched from the tables the
// refresh reads (pg_stat_xact_user_tables, counted by the executor), at two sizes — a write adding
// only new versions, so nothing but the refresh reads those tables. And the figures stay those of
// the full computation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drainIn } from './derived.js';
import { forEachDriver } from './testing.js';
import { stamp, writeVersions, type VersionToWrite } from './writer.js';
import { activityByWeek, evaluationsByOrganisation, girByOrganisation, pilotageFigures, readAggregates, usagersByOrganisation } from './indicators.js';
import type { FhirResource, Queryable } from './types.js';

const FINESS = '480787529';
const SYS = {
  local: 'https://identifiant-medicosocial-localusager.esante.gouv.fr',
  sejour: 'https://identifiant-medicosocial-sejour.esante.gouv.fr',
  evt: 'https://identifiant-medicosocial-evenement.esante.gouv.fr',
  trU: 'https://identifiant-medicosocial-transportusager.esante.gouv.fr',
};
const AGGIR = 'https://interop.esante.gouv.fr/ig/fhir/tddui/Questionnaire/tddui-questionnaire-aggir-pa-ssiad';
const NOW = '2026-12-01T10:00:00.000Z';
const START = { start: '2026-11-08T10:00:00Z' };

/** `n` usagers of the facility, each with a séjour, an event, an AGGIR evaluation and a transport (5 versions each). */
function usagers(tag: string, n: number): VersionToWrite[] {
  const out: VersionToWrite[] = [];
  const add = (resource: FhirResource, id: string) => out.push({ resourceType: resource.resourceType, id, versionId: 1, lastUpdated: NOW, owner: FINESS, existed: false, resource: stamp(resource, id, 1, NOW) });
  for (let i = 0; i < n; i++) {
    const p = `${tag}p${i}`;
    const subject = { reference: `Patient/${p}` };
    add({ resourceType: 'Patient', identifier: [{ system: SYS.local, value: `3${FINESS}/${tag}${i}` }], name: [{ family: `N${i}` }] }, p);
    add({ resourceType: 'Encounter', identifier: [{ system: SYS.sejour, value: `3${FINESS}/${tag}s${i}` }], status: 'in-progress', class: { code: 'HH' }, subject, period: START }, `${tag}s${i}`);
    add({ resourceType: 'Encounter', identifier: [{ system: SYS.evt, value: `3${FINESS}/${tag}e${i}` }], status: 'finished', class: { code: 'HH' }, subject, period: START }, `${tag}e${i}`);
    add({
      resourceType: 'QuestionnaireResponse', identifier: [{ system: 'urn:example:eval', value: `3${FINESS}/${tag}q${i}` }], questionnaire: AGGIR, status: 'completed', subject, authored: START.start,
      item: [{ linkId: 'resultat-eval', answer: [{ valueCoding: { code: 'MED-341' } }] }],
    }, `${tag}q${i}`);
    add({ resourceType: 'Task', identifier: [{ system: SYS.trU, value: `3${FINESS}/${tag}t${i}` }], status: 'completed', intent: 'order', executionPeriod: START }, `${tag}t${i}`);
  }
  return out;
}

/** Rows the current transaction fetched from the tables the refresh reads (sequential and index scans). */
async function rowsFetched(tx: Queryable): Promise<number> {
  const r = await tx.query<{ n: string }>(
    `SELECT sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::text AS n FROM pg_stat_xact_user_tables
      WHERE relname IN ('resource', 'search_token', 'search_reference', 'search_date')`,
  );
  return Number(r.rows[0]!.n);
}

/** Figures with something in them, in a stable order. */
function shown(f: Awaited<ReturnType<typeof pilotageFigures>>) {
  return {
    usagers: f.usagers.filter((u) => u.usagers || u.active || u.activeStays).map((u) => `${u.finess}: ${u.usagers}/${u.active}/${u.activeStays}`).sort(),
    gir: f.gir.filter((g) => g.usagers).map((g) => `${g.finess} ${g.gir ?? '?'}: ${g.usagers}`).sort(),
    activity: f.activity.filter((a) => a.n).map((a) => `${a.finess} ${a.week} ${a.kind}: ${a.n}`).sort(),
    evaluations: [...f.evaluations].filter(([, n]) => n).map(([k, n]) => `${k}: ${n}`).sort(),
  };
}

await forEachDriver('the derived refresh of a large write', (getRepo) => {
  test('visits a number of rows linear in the versions written (no rescan per written key), and the figures are the full computation', async (t) => {
    const repo = getRepo();
    // A small write first, as a server's first Bundle: the refresh's plans are made on near-empty tables.
    await repo.db.transaction((tx) => writeVersions(tx, repo.searchParams, usagers('w', 2)));
    await repo.drainDerived();
    const fetched: number[] = [];
    const sizes = [100, 400];
    for (const [k, n] of sizes.entries()) {
      const items = usagers(`b${k}`, n);
      await repo.db.transaction((tx) => writeVersions(tx, repo.searchParams, items));
      // The refresh runs in the drain after the write (D-356): its rows, in the drain's transaction.
      fetched.push(await repo.db.transaction(async (tx) => {
        assert.equal((await drainIn(tx)).keys, n * 5, 'every key written (its Task a transport)');
        return rowsFetched(tx);
      }));
    }
    const [small, large] = fetched as [number, number];
    t.diagnostic(`rows fetched by the refresh: ${small} for ${sizes[0]! * 5} versions, ${large} for ${sizes[1]! * 5} (${(large / small).toFixed(1)}x for 4x the versions)`);
    // Linear: 4x the versions, ~4x the rows (and a few rows per version). Before D-329 the rows grew
    // with the square of the write (PostgreSQL: 29.6x here, 8,200 rows per version).
    assert.ok(large / small < 6, `rows fetched ${small} then ${large}: more than linear`);
    assert.ok(large / (sizes[1]! * 5) < 50, `${large} rows fetched for ${sizes[1]! * 5} versions`);

    const day = '2026-11-20';
    const full = await readAggregates(repo.db, async (q) => ({
      usagers: await usagersByOrganisation(q, day),
      gir: await girByOrganisation(q, day),
      activity: await activityByWeek(q),
      evaluations: await evaluationsByOrganisation(q, day),
    }));
    const kept = await pilotageFigures(repo.db, day);
    assert.deepEqual(shown(kept), shown(full));
    assert.deepEqual(shown(kept).usagers, [`${FINESS}: 502/502/502`]);
  });
});
