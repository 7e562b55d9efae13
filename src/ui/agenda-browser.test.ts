// Browser test (Debian chromium, playwright-core) of the shared agendas (issue 16): for a usager
// whose circle holds two professionals with weekly availabilities, "Trouver un créneau commun"
// proposes the common free times, one is booked (pending, every participant invited), the usager
// and both professionals accept from their week views, and the appointment is confirmed; the
// professional's week shows the free slots around it. No console error. Screenshots:
// agenda-creneau-commun.png, agenda-usager-semaine.png, agenda-professionnel-semaine.png in
// $TDDUI_SCREENSHOTS, else <OS temp dir>/tddui-ui-screenshots/.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { SHOTS, browserAvailable, browserSkip, launchBrowser } from './testing/browser.js';
import { fromWall, isoLocal, toWall } from '../coordination/agenda/time.js';
import { startServer, type RunningServer } from '../server/app.js';
import { availability, GAP_PATH, scheduleOf, serviceDuration, weekly } from '../server/gap-suite.js';
import { SHARED_FHIR } from '../testing/paths.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

// The shared chromium set-up (src/ui/testing/browser.ts).
const available = browserAvailable;
const skip = browserSkip;

let srv: RunningServer;
let browser: Browser;
let patient = '';
const roles: string[] = [];
const DAY = 86_400_000;
// The Monday two weeks ahead (local wall clock), and a helper for its times.
const todayWall = Math.floor(toWall(Date.now()) / DAY) * DAY;
const monday = todayWall + (((8 - new Date(todayWall).getUTCDay()) % 7) + 7) * DAY;
const at = (days: number, hh: number, mm = 0) => isoLocal(fromWall(monday + days * DAY + (hh * 60 + mm) * 60_000));
const mondayDate = isoLocal(fromWall(monday)).slice(0, 10);
const frMonday = `${mondayDate.slice(8, 10)}/${mondayDate.slice(5, 7)}/${mondayDate.slice(0, 4)}`;

before(async () => {
  if (!available) return;
  process.env.FHIR_PACKAGE_CACHE = SHARED_FHIR;
  srv = await startServer({ port: 0, dataDir: 'memory://', packages: [GAP_PATH], logLevel: 'warn' });
  const post = async (type: string, body: Json) => {
    const r = await fetch(`${srv.url}/fhir/${type}`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
    const j = (await r.json()) as Json;
    assert.ok(r.status < 300, JSON.stringify(j).slice(0, 500));
    return j;
  };
  patient = (await post('Patient', { resourceType: 'Patient', name: [{ family: 'Dupont', given: ['Jeanne'] }] })).id;
  for (const [family, given, from, to] of [['Morel', 'Claire', [9, 0], [12, 0]], ['Petit', 'Hugo', [10, 30], [17, 0]]] as const) {
    const pr = await post('Practitioner', { resourceType: 'Practitioner', name: [{ family, given: [given] }] });
    const ro = await post('PractitionerRole', { resourceType: 'PractitionerRole', active: true, practitioner: { reference: `Practitioner/${pr.id}` } });
    roles.push(`PractitionerRole/${ro.id}`);
    await post('Schedule', scheduleOf(roles.at(-1)!, [availability('lundis', 'free', at(0, from[0], from[1]), at(0, to[0], to[1]), weekly('MO')), serviceDuration(30)]));
  }
  await srv.repo.create({ resourceType: 'CareTeam', status: 'active', subject: { reference: `Patient/${patient}` }, participant: roles.map((r) => ({ member: { reference: r } })) });
  browser = await launchBrowser();
  mkdirSync(SHOTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  await srv?.close();
});

test('Trouver un créneau commun: proposals, booking, each participant accepts, confirmed', { skip }, async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 950 } });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${srv.url}/usagers/${patient}/creneau-commun`);
  await page.waitForSelector('h1:has-text("Trouver un créneau commun — Jeanne Dupont")');
  assert.equal(await page.locator('input[name="membres"]').count(), 2);
  for (const r of roles) await page.check(`input[name="membres"][value="${r}"]`);
  await page.fill('input[name="duree"]', '60');
  await page.fill('input[name="debut"]', mondayDate);
  await page.fill('input[name="fin"]', isoLocal(fromWall(monday + 6 * DAY)).slice(0, 10));
  await page.click('button:has-text("Chercher")');
  await page.waitForSelector('#propositions');
  // Common: Monday 10:30-12:00 -> 60 min at 10:30, 10:45, 11:00.
  const proposals = await page.locator('li.proposal strong').allTextContents();
  assert.deepEqual(proposals, [`lundi ${frMonday}, 10:30–11:30`, `lundi ${frMonday}, 10:45–11:45`, `lundi ${frMonday}, 11:00–12:00`]);
  await page.screenshot({ path: join(SHOTS, 'agenda-creneau-commun.png'), fullPage: true });
  await page.locator('li.proposal').first().locator('button:has-text("Réserver")').click();
  await page.waitForSelector('p.notice:has-text("Rendez-vous proposé aux participants")');
  const rdv = page.locator('li.rdv');
  assert.equal(await rdv.count(), 1);
  assert.match((await rdv.textContent()) ?? '', /10:30–11:30.*en attente de réponses/s);
  // The usager accepts from their week.
  await rdv.locator('button:has-text("Accepter")').click();
  await page.waitForSelector('p.notice:has-text("Réponse enregistrée")');
  await page.screenshot({ path: join(SHOTS, 'agenda-usager-semaine.png'), fullPage: true });
  // Each professional accepts from theirs; the second one confirms it.
  for (const [k, r] of roles.entries()) {
    await page.goto(`${srv.url}/agendas/${r.replace('/', '/')}?semaine=${mondayDate}`);
    await page.locator('li.rdv button:has-text("Accepter")').click();
    await page.waitForSelector(k === roles.length - 1 ? 'p.notice:has-text("le rendez-vous est confirmé")' : 'p.notice:has-text("Réponse enregistrée")');
  }
  assert.match((await page.locator('li.rdv').textContent()) ?? '', /confirmé/);
  // The professional's free slots around it: 10:30-17:00 in 30 min, minus 10:30-11:30 = 11 free.
  assert.equal(await page.locator('li.libre').count(), 11);
  await page.screenshot({ path: join(SHOTS, 'agenda-professionnel-semaine.png'), fullPage: true });
  // Booked: the same time is no longer proposed.
  await page.goto(`${srv.url}/usagers/${patient}/creneau-commun?membres=${encodeURIComponent(roles[0]!)}&membres=${encodeURIComponent(roles[1]!)}&duree=60&debut=${mondayDate}&fin=${mondayDate}`);
  assert.equal(await page.locator('li.proposal').count(), 0);
  assert.match((await page.textContent('main')) ?? '', /Aucun créneau commun/);
  assert.deepEqual(errors, []);
});
