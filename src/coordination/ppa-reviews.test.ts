// The yearly review of the PPA with a fake clock: a generated PPA whose usager's accord is 13
// months old appears in "Revues à prévoir" (its ESSMS), counts on Pilotage, and raises exactly
// one `pp-review-due` event however often the check runs; 11 months after the accord it is not
// due. The configurable period (months) moves the due day.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildBundle } from '../producer/index.js';
import { http, startTestServer, type TestServer } from '../server/test-support.js';
import { generatedPpa } from '../ui/testing/ppa.js';
import { addMonths, dueReviews, raiseDueReviewEvents } from './ppa-reviews.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('PPA yearly review (fake clock)', { concurrency: false }, () => {
  let s: TestServer;
  const u = generatedPpa();
  const accord = (u.projetsPersonnalises[0].accords as Json[]).find((a) => a.type === 'usager').date as string;
  const finess = String((u as Json).structure.finess);
  const at = (months: number, days = 0) => new Date(Date.parse(`${addMonths(accord.slice(0, 10), months)}T12:00:00Z`) + days * 86_400_000);
  const day = (d: Date) => d.toISOString().slice(0, 10);
  before(async () => {
    s = await startTestServer('embedded');
    const b = buildBundle(structuredClone(u)) as Json;
    const r = await http(s.base, { body: b.bundle ?? b });
    assert.equal(r.status, 200, r.text.slice(0, 300));
  });
  after(async () => s?.stop());

  it('addMonths keeps the day, or the last day of a shorter month', () => {
    assert.equal(addMonths('2025-01-31', 1), '2025-02-28');
    assert.equal(addMonths('2024-02-29', 12), '2025-02-28');
    assert.equal(addMonths('2025-09-28T10:30:00+02:00', 12), '2026-09-28');
  });

  it('not due 11 months after the accord; due 13 months after, in its ESSMS', async () => {
    assert.deepEqual(await dueReviews(s.repo, { now: at(11) }), []);
    const due = await dueReviews(s.repo, { now: at(13) });
    assert.equal(due.length, 1);
    assert.equal(due[0]!.finess, finess);
    assert.equal(due[0]!.validatedOn, accord);
    assert.equal(due[0]!.dueOn, addMonths(accord, 12));
    assert.ok(due[0]!.daysLate >= 28 && due[0]!.daysLate <= 31, String(due[0]!.daysLate));
    // Configurable: with 18 months it is not due yet.
    assert.deepEqual(await dueReviews(s.repo, { now: at(13), months: 18 }), []);
  });

  it('"Revues à prévoir" lists it under its ESSMS; Pilotage counts it; neither before it is due', async () => {
    const page = await http(`${s.url}/revues?date=${day(at(13))}`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(page.text, new RegExp(`data-finess="${finess}"`));
    assert.match(page.text, /<tr data-careplan="CarePlan\//);
    const early = await http(`${s.url}/revues?date=${day(at(11))}`, { headers: { accept: 'text/html' } });
    assert.match(early.text, /id="aucune-revue"/);
    const pilotage = await http(`${s.url}/pilotage?date=${day(at(13))}`, { headers: { accept: 'text/html' } });
    assert.match(pilotage.text, /id="revues-en-retard"><a href="[^"]*">1<\/a>/);
    const before = await http(`${s.url}/pilotage?date=${day(at(11))}`, { headers: { accept: 'text/html' } });
    assert.match(before.text, /id="revues-en-retard"><a href="[^"]*">0<\/a>/);
  });

  it('raises exactly one pp-review-due event, however often the check runs', async () => {
    const events = async () => (await s.repo.db.query<Json>(`SELECT code, patient, focus, source, detail FROM event_outbox WHERE code = 'pp-review-due'`)).rows;
    assert.deepEqual(await raiseDueReviewEvents(s.repo, { now: at(11) }), []);
    assert.equal((await events()).length, 0);
    const first = await raiseDueReviewEvents(s.repo, { now: at(13) });
    assert.equal(first.length, 1);
    assert.equal((await raiseDueReviewEvents(s.repo, { now: at(13, 1) })).length, 0);
    await Promise.all([raiseDueReviewEvents(s.repo, { now: at(14) }), raiseDueReviewEvents(s.repo, { now: at(14) })]);
    const rows = await events();
    assert.equal(rows.length, 1);
    assert.equal(rows[0].focus, first[0]!.carePlan);
    assert.equal(rows[0].patient, first[0]!.patient);
    assert.equal(rows[0].source, 'ppa-review');
    assert.match(rows[0].detail.text, /Révision du projet personnalisé .* à échéance depuis le/);
  });
});
