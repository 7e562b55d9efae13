// "Revues à prévoir" one page at a time (issue 19, D-300): with more projets due than a page
// holds, the page lists REVUES_PAGE_SIZE of them, most late first, and the pager walks the rest —
// every due projet exactly once over the pages, the same set as dueReviews; one ESSMS's list
// holds its projets only; a page past the last says so. The page read every due projet at once
// before (1,154 rows, 382 KiB at 20,000 usagers).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildBundle } from '../producer/index.js';
import { http, startTestServer, type TestServer } from '../server/test-support.js';
import { dueReviewPage, dueReviews } from '../coordination/ppa-reviews.js';
import { generatedPpa } from './testing/ppa.js';
import { cloneUsagers, seedOfficial } from './testing/seed.js';
import { REVUES_PAGE_SIZE } from './pages/revues.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

// Every generated projet is validated before the generator's end date (2026-06-30): all are due by then.
const DAY = '2030-01-15';
const COPIES = 130;

const rowsOf = (text: string) => [...text.matchAll(/<tr data-careplan="([^"]+)" data-finess="([^"]*)">.*?<td class="num">(-?\d+)<\/td><\/tr>/g)].map((m) => ({ carePlan: m[1]!, finess: m[2]!, daysLate: Number(m[3]) }));

describe('Revues à prévoir: paginated', { concurrency: false }, () => {
  let s: TestServer;
  let due: Awaited<ReturnType<typeof dueReviews>>;
  const get = async (query: string) => {
    const r = await http(`${s.url}/revues?${query}`, { headers: { accept: 'text/html' } });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    return r.text;
  };
  before(async () => {
    s = await startTestServer('embedded');
    await seedOfficial({ repo: s.repo, validator: s.validator });
    const b = buildBundle(structuredClone(generatedPpa())) as Json;
    assert.equal((await http(s.base, { body: b.bundle ?? b })).status, 200);
    const have = Number((await s.repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient'`)).rows[0]!.n);
    await cloneUsagers(s.repo, have + COPIES, { ppShare: 1 });
    due = await dueReviews(s.repo, { now: new Date(`${DAY}T12:00:00Z`) });
    assert.ok(due.length > REVUES_PAGE_SIZE, `${due.length} due: more than a page`);
  });
  after(async () => s?.stop());

  it('lists a page at a time, most late first; the pages hold every due projet once', async () => {
    const pages = Math.ceil(due.length / REVUES_PAGE_SIZE);
    const seen: ReturnType<typeof rowsOf> = [];
    for (let p = 1; p <= pages; p++) {
      const text = await get(`date=${DAY}${p > 1 ? `&page=${p}` : ''}`);
      const rows = rowsOf(text);
      assert.equal(rows.length, p < pages ? REVUES_PAGE_SIZE : due.length - (pages - 1) * REVUES_PAGE_SIZE, `page ${p}`);
      assert.ok(text.includes(`page ${p} / ${pages}`), `page ${p}: the pager`);
      if (p < pages) assert.match(text, new RegExp(`href="/revues\\?date=${DAY}&amp;page=${p + 1}" rel="next"`));
      // The count per ESSMS is on every page, whatever the page shows.
      assert.match(text, new RegExp(`\\(${due.length} projets à réviser\\)`));
      seen.push(...rows);
    }
    assert.equal(new Set(seen.map((r) => r.carePlan)).size, seen.length, 'no projet twice');
    assert.deepEqual(seen.map((r) => r.carePlan).sort(), due.map((r) => r.carePlan).sort());
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1]!.daysLate >= seen[i]!.daysLate, `most late first (${i})`);
    const beyond = await get(`date=${DAY}&page=${pages + 5}`);
    assert.match(beyond, /id="page-hors-limites"/);
    assert.equal(rowsOf(beyond).length, 0);
  });

  it('one ESSMS: its projets only, as many as its count', async () => {
    const finess = due.find((r) => r.finess)!.finess!;
    const mine = due.filter((r) => r.finess === finess);
    const text = await get(`date=${DAY}&organisation=${finess}`);
    assert.match(text, new RegExp(`<tr data-finess="${finess}" class="selected"><td>ESSMS FINESS ${finess}</td><td class="num">${mine.length}</td>`));
    const rows = rowsOf(text);
    assert.equal(rows.length, Math.min(mine.length, REVUES_PAGE_SIZE));
    assert.ok(rows.every((r) => r.finess === finess));
    const page = await dueReviewPage(await s.repo.reader(), { today: DAY, finess, limit: 1000, offset: 0 });
    assert.equal(page.total, mine.length);
    assert.deepEqual(page.items.map((r) => r.carePlan).sort(), mine.map((r) => r.carePlan).sort());
  });

  it('the page function agrees with dueReviews: titles, names, days late', async () => {
    const page = await dueReviewPage(await s.repo.reader(), { today: DAY, limit: 1000, offset: 0 });
    assert.equal(page.total, due.length);
    const byPlan = new Map(due.map((r) => [r.carePlan, r]));
    for (const r of page.items) assert.deepEqual(r, byPlan.get(r.carePlan));
  });
});
