// The UI bench's copies (cloneUsagers): with `ppShare`, a share of the copied usagers carry a
// projet personnalisé copied whole (CarePlan, accords, goals, tasks…) with new ids and local
// identifiers, references rewritten to the copy's own resources, dates spread; the tables derived
// on write then equal their full recomputation (derivedTablesDiffer, which sees a difference),
// on both databases.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dueReviews } from '../../coordination/ppa-reviews.js';
import { postgresSkipReason, startTestServer, type DbKind, type TestServer } from '../../server/test-support.js';
import { cloneUsagers, derivedTablesDiffer, seedGenerated, seedOfficial, shiftDates } from './seed.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const LOCAL = 'https://identifiant-medicosocial-localusager.esante.gouv.fr';
const pgSkip = await postgresSkipReason();

it('shiftDates moves dates and dateTimes back, time and offset kept, birth dates and meta untouched', () => {
  const r: Json = { birthDate: '1940-03-01', meta: { lastUpdated: '2026-01-01T00:00:00Z' }, period: { start: '2026-03-01', end: '2026-03-01T10:30:00+01:00' }, note: [{ text: '2026-03-01 noted' }], x: ['2024-03-01T23:59:59.5Z'] };
  shiftDates([r], 1);
  assert.deepEqual(r, { birthDate: '1940-03-01', meta: { lastUpdated: '2026-01-01T00:00:00Z' }, period: { start: '2026-02-28', end: '2026-02-28T10:30:00+01:00' }, note: [{ text: '2026-03-01 noted' }], x: ['2024-02-29T23:59:59.5Z'] });
});

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  describe(`cloneUsagers with projets personnalisés (${kind})`, { skip: kind === 'postgres' ? pgSkip : undefined, concurrency: false }, () => {
    let s: TestServer;
    const TOTAL = 60;
    let templates: { patients: Set<string>; carePlans: number; validated: number };
    before(async () => {
      s = await startTestServer(kind);
      const statuses = await seedGenerated({ repo: s.repo, validator: s.validator }, 12, 'clone-pp');
      assert.deepEqual(statuses, Array(12).fill(200));
      const q = async (sql: string) => (await s.repo.db.query<{ n: number }>(sql)).rows[0]!.n;
      templates = {
        patients: new Set((await s.repo.db.query<{ id: string }>(`SELECT id FROM resource WHERE resource_type = 'Patient'`)).rows.map((r) => r.id)),
        carePlans: await q(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'CarePlan'`),
        validated: await q(`SELECT count(*)::int AS n FROM ppa_validation`),
      };
      assert.ok(templates.carePlans > 0 && templates.carePlans < 12, 'the generated usagers have and lack projets');
      await cloneUsagers(s.repo, TOTAL, { ppShare: 'stored' });
    });
    after(async () => s?.stop());

    it('copies usagers with a projet in their stored share, each whole and self-consistent', async () => {
      const all = (await s.repo.db.query<{ resource_type: string; id: string; content: Json }>(`SELECT resource_type, id, content FROM resource WHERE NOT deleted`)).rows.map((r) => ({ ...r, content: typeof r.content === 'string' ? JSON.parse(r.content) : r.content }));
      const byKey = new Map(all.map((r) => [`${r.resource_type}/${r.id}`, r.content]));
      const patients = all.filter((r) => r.resource_type === 'Patient');
      assert.equal(patients.length, TOTAL);
      const plans = all.filter((r) => r.resource_type === 'CarePlan' && !templates.patients.has(r.content.subject.reference.slice(8)));
      const share = templates.carePlans / 12;
      // The share of the 48 copies with a projet is the stored one (rounded per copy).
      assert.ok(Math.abs(plans.length - 48 * share) <= 1, `${plans.length} copied projets for a share of ${share}`);
      const localIds = new Set<string>();
      for (const plan of plans) {
        const patientKey = plan.content.subject.reference as string;
        const patient = byKey.get(patientKey);
        assert.ok(patient, `${patientKey} exists`);
        const local = patient.identifier.find((i: Json) => i.system === LOCAL).value as string;
        assert.ok(!localIds.has(local), 'one local identifier per copy');
        localIds.add(local);
        assert.match(plan.content.identifier[0].value, new RegExp(`^${local.replace('/', '\\/')}-PPER-`), 'business identifiers follow the new local identifier');
        assert.ok(plan.content.title.includes(patient.name[0].family), 'the title names the copy');
        // Everything about this usager: references to Patients are to them, every reference to a
        // resource of the usager's own resolves, and none leads to a template's usager.
        const mine = all.filter((r) => JSON.stringify(r.content).includes(`"${patientKey}"`));
        assert.ok(['Consent', 'Goal', 'Task'].every((t) => mine.some((r) => r.resource_type === t)), 'accords, goals and actions copied');
        const text = JSON.stringify(mine.map((r) => r.content));
        for (const [, ref] of text.matchAll(/"reference":"([A-Za-z]+\/[^"]+)"/g)) {
          assert.ok(byKey.has(ref!), `${ref} resolves`);
          if (ref!.startsWith('Patient/')) assert.equal(ref, patientKey);
        }
      }
    });

    it('keeps the derived tables equal to their full recomputation; copied validation dates are spread', async () => {
      const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
      assert.deepEqual(await derivedTablesDiffer(s.repo, [day(0), day(-182), day(365)]), []);
      const validated = (await s.repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ppa_validation`)).rows[0]!.n;
      assert.ok(validated > templates.validated, 'the copies’ projets are validated');
      // The copies of one projet are validated on different days (moved back by up to 200 days),
      // all due in 600 days' time.
      const days = (await s.repo.db.query<{ n: number }>(`SELECT count(DISTINCT validated_day)::int AS n FROM ppa_validation`)).rows[0]!.n;
      assert.ok(days > templates.validated, `${days} validation days for ${templates.validated} generated projets`);
      assert.equal((await dueReviews(s.repo, { now: new Date(`${day(600)}T12:00:00Z`) })).length, validated);
    });

    it('derivedTablesDiffer sees a difference in each table', async () => {
      // Last test: the tables are left wrong. Each wrong row is seen by the check named.
      const today = new Date().toISOString().slice(0, 10);
      for (const [sql, seen] of [
        [`UPDATE usager_sort SET name_key = 'zz' WHERE id = (SELECT min(id) FROM usager_sort)`, ['usager_sort']],
        [`UPDATE pilotage_count SET n = n + 1 WHERE ctid = (SELECT min(ctid) FROM pilotage_count WHERE kind = 'usagers')`, ['Pilotage figures']],
        [`UPDATE usager_count SET n = n + 1 WHERE ctid = (SELECT min(ctid) FROM usager_count)`, ['usager counts']],
        [`UPDATE ppa_validation SET validated_day = validated_day - 400 WHERE careplan = (SELECT min(careplan) FROM ppa_validation)`, ['ppa_validation', 'due reviews']],
      ] as const) {
        await s.repo.db.query(sql);
        const problems = await derivedTablesDiffer(s.repo, [today]);
        for (const what of seen) assert.ok(problems.some((p) => p.startsWith(what)), `${sql}: ${what} expected in ${problems.join('; ')}`);
      }
    });
  });
}

// The official PA example's actions name another CarePlan and no usager: they belong to the usager
// by their identifiers (the local identifier's prefix), as the usager page finds them. A copy
// carries its own actions, and its moyens are parts of them — not of the template's actions
// (before, 116 copies' moyens hung under the official usager's actions: 696 moyens on one page).
describe('cloneUsagers copies the Tasks named by the local identifier (official PA example)', { concurrency: false }, () => {
  let s: TestServer;
  after(async () => s?.stop());
  it('each copy has as many Tasks as the template, parts of its own', async () => {
    s = await startTestServer('embedded');
    await seedOfficial({ repo: s.repo, validator: s.validator });
    const tasks = async () =>
      (await s.repo.db.query<{ id: string; content: Json }>(`SELECT id, content FROM resource WHERE resource_type = 'Task' AND NOT deleted`)).rows.map((r) => ({ id: r.id, content: typeof r.content === 'string' ? JSON.parse(r.content) : r.content }));
    const prefixOf = (t: { content: Json }) => String(t.content.identifier?.[0]?.value ?? '').replace(/-[A-Z]{4}-\d+$/, '');
    const before = await tasks();
    const templateIds = new Set(before.map((t) => t.id));
    const template = before.filter((t) => prefixOf(t) === '3480787529/123456789');
    assert.ok(template.some((t) => t.content.partOf) && template.some((t) => !t.content.for), 'actions without usager, moyens parts of them');
    const have = (await s.repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient'`)).rows[0]!.n;
    await cloneUsagers(s.repo, have + 3, { ppShare: 1 });
    const copies = (await tasks()).filter((t) => !templateIds.has(t.id));
    const byPrefix = new Map<string, typeof copies>();
    for (const t of copies) byPrefix.set(prefixOf(t), [...(byPrefix.get(prefixOf(t)) ?? []), t]);
    assert.equal(byPrefix.size, 3, [...byPrefix.keys()].join(', '));
    for (const [prefix, mine] of byPrefix) {
      assert.equal(mine.length, template.length, `${prefix}: as many Tasks as the template`);
      const ids = new Set(mine.map((t) => t.id));
      for (const t of mine) for (const p of t.content.partOf ?? []) assert.ok(ids.has(String(p.reference).slice(5)), `${prefix}: ${p.reference} is one of its own Tasks`);
    }
  });
});
