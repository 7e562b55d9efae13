// Browser test (Debian chromium, playwright-core) of *Qualité des envois* (issue 18): two ESSMS
// send over five weeks (one week without anything); the page shows the submissions over time —
// a chart and a table per organisation and week, accepted and rejected — equal to a direct count
// in the database, the period filter of the form narrows both, and the CSV link downloads the
// filtered rows (parsed by csv-parse, French headers).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import type { Browser } from 'playwright-core';
import { startServer, type RunningServer } from '../server/app.js';
import { SHARED_FHIR } from '../testing/paths.js';
import type { SubmissionRecord } from '../storage/types.js';
import { QUALITY_COLUMNS } from './exports.js';
import { SHOTS, browserAvailable, browserSkip as skip, launchBrowser, openPage } from './testing/browser.js';

const A = '480787529';
const B = '750000010';

/** Mondays of the weeks (November–December 2026: Paris is UTC+1 throughout). */
const WEEKS = ['2026-11-02', '2026-11-09', '2026-11-16', '2026-11-23', '2026-11-30'];

/** [FINESS, day, outcome]: week 3 (16/11) has nothing; A is rejected now and then, B once. */
const SENT: [string, string, 'accepted' | 'rejected'][] = [
  [A, '2026-11-02', 'accepted'], [A, '2026-11-03', 'rejected'], [A, '2026-11-05', 'accepted'],
  [B, '2026-11-04', 'accepted'],
  [A, '2026-11-10', 'accepted'], [A, '2026-11-12', 'accepted'], [B, '2026-11-11', 'rejected'], [B, '2026-11-13', 'accepted'],
  [A, '2026-11-24', 'rejected'], [A, '2026-11-25', 'rejected'], [A, '2026-11-26', 'accepted'],
  [A, '2026-12-01', 'accepted'], [B, '2026-12-02', 'accepted'], [B, '2026-12-03', 'accepted'],
  // Sunday 29 November at 23:30 in Paris (22:30 UTC) belongs to the week of 23/11.
  [B, '2026-11-29T22:30:00Z', 'accepted'],
];

function submission(finess: string, at: string, outcome: 'accepted' | 'rejected'): Omit<SubmissionRecord, 'id'> {
  return {
    receivedAt: at.includes('T') ? at : `${at}T10:00:00Z`,
    organizationFiness: finess,
    organizationName: `ESSMS ${finess}`,
    client: 'dui-vendor',
    usagers: [],
    resourceCount: 4,
    outcome,
    httpStatus: outcome === 'accepted' ? 200 : 422,
    errorCount: outcome === 'accepted' ? 0 : 1,
    warningCount: 0,
    report: { resourceType: 'OperationOutcome', issue: outcome === 'accepted' ? [] : [{ severity: 'error', code: 'invalid', details: { coding: [{ system: 'urn:tddui:validation-rule', code: 'tddui-nir-key' }] } }] },
  };
}

let srv: RunningServer;
let browser: Browser;

before(async () => {
  if (!browserAvailable) return;
  srv = await startServer({ port: 0, dataDir: 'memory://', packages: [SHARED_FHIR], logLevel: 'warn' });
  for (const [f, at, o] of SENT) await srv.repo.recordSubmission(submission(f, at, o));
  mkdirSync(SHOTS, { recursive: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await srv?.close();
});

/** Submissions (and rejected ones) of an ESSMS in the Paris week of `monday`, counted by the database. */
async function counted(finess: string, monday: string): Promise<{ n: number; rejected: number }> {
  const next = new Date(Date.parse(`${monday}T00:00:00+01:00`) + 7 * 86_400_000).toISOString();
  const r = await srv.repo.db.query<{ n: number; rejected: number }>(
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE outcome = 'rejected')::int AS rejected FROM submission
      WHERE organization_finess = $1 AND received_at >= $2::timestamptz AND received_at < $3::timestamptz`,
    [finess, `${monday}T00:00:00+01:00`, next],
  );
  return { n: Number(r.rows[0]!.n), rejected: Number(r.rows[0]!.rejected) };
}

const frDay = (d: string) => `${d.slice(8, 10)}/${d.slice(5, 7)}/${d.slice(0, 4)}`;

test('Qualité des envois shows the submissions over time, equal to the database, and filters them', { skip }, async () => {
  const { page, problems } = await openPage(browser);
  const res = await page.goto(`${srv.url}/qualite`, { waitUntil: 'load' });
  assert.equal(res?.status(), 200);
  assert.equal(await page.locator('h1').textContent(), 'Qualité des envois');
  // The chart: one group of bars per week, from the first to the last (the empty week included).
  const chart = page.locator('#qualite-evolution svg');
  assert.equal(await chart.count(), 1);
  const chartText = (await chart.textContent()) ?? '';
  for (const w of WEEKS) assert.ok(chartText.includes(`${w.slice(8, 10)}/${w.slice(5, 7)}`), `week of ${w} on the chart`);
  assert.match((await page.locator('#qualite-evolution').textContent()) ?? '', /Acceptés[\s\S]*Rejetés/);
  // The table: a column per week, a row per ESSMS, each cell equal to a direct count.
  const headers = await page.locator('#qualite-semaines thead th').allTextContents();
  assert.deepEqual(headers, ['Organisation', ...WEEKS.map(frDay)]);
  for (const f of [A, B]) {
    const row = page.locator(`#qualite-semaines tr[data-finess="${f}"]`);
    assert.equal(await row.count(), 1, f);
    for (const w of WEEKS) {
      const cell = ((await row.locator(`td[data-semaine="${w}"]`).textContent()) ?? '').trim();
      const c = await counted(f, w);
      const n = Number(/^\d+/.exec(cell)?.[0]);
      assert.equal(n, c.n, `${f}, week of ${w}: "${cell}"`);
      const rejected = Number(/\((\d+) rejeté/.exec(cell)?.[1] ?? 0);
      assert.equal(rejected, c.rejected, `${f}, week of ${w}: rejected in "${cell}"`);
    }
  }
  // Sanity of the fixture: the empty week is empty, and Sunday night counts in its Paris week.
  assert.deepEqual(await counted(A, '2026-11-16'), { n: 0, rejected: 0 });
  assert.equal((await counted(B, '2026-11-23')).n, 1);
  await page.screenshot({ path: join(SHOTS, 'qualite.png'), fullPage: true });

  // The period filter: the form narrows the series to the weeks of 9 to 25 November.
  await page.fill('input[name=du]', '2026-11-09');
  await page.fill('input[name=au]', '2026-11-25');
  await Promise.all([page.waitForURL(/\/qualite\?du=2026-11-09&au=2026-11-25/), page.click('form.filters button[type=submit]')]);
  const narrowed = await page.locator('#qualite-semaines thead th').allTextContents();
  assert.deepEqual(narrowed, ['Organisation', ...['2026-11-09', '2026-11-16', '2026-11-23'].map(frDay)]);
  // 23/11 within the period: only A's 24 and 25 November (both rejected), not the 26th.
  const a23 = ((await page.locator(`#qualite-semaines tr[data-finess="${A}"] td[data-semaine="2026-11-23"]`).textContent()) ?? '').trim();
  assert.match(a23, /^2 \(2 rejetés\)$/);

  // The CSV of what the page shows (its filter), parsed by a CSV library.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#qualite-csv')]);
  const file = await download.path();
  const rows = parse(readFileSync(file!, 'utf8'), { bom: true, delimiter: ';', columns: true }) as Record<string, string>[];
  assert.deepEqual(Object.keys(rows[0]!), QUALITY_COLUMNS);
  for (const f of [A, B]) {
    const r = await srv.repo.db.query<{ n: number; rejected: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE outcome = 'rejected')::int AS rejected FROM submission
        WHERE organization_finess = $1 AND received_at >= '2026-11-09T00:00:00+01:00' AND received_at <= '2026-11-25T23:59:59.999+01:00'`,
      [f],
    );
    const row = rows.find((x) => x.FINESS === f)!;
    assert.equal(Number(row.Envois), Number(r.rows[0]!.n), `${f}: submissions in the CSV`);
    assert.equal(Number(row['Rejetés']), Number(r.rows[0]!.rejected), `${f}: rejected in the CSV`);
  }
  // (A download ends its navigation: Chromium reports the request aborted, which is no problem.)
  const real = problems.filter((x) => !(x.startsWith('request failed: ') && x.includes('/qualite.csv?')));
  assert.deepEqual(real, [], real.join('; '));
  await page.context().close();
});
