// Browser test (Debian chromium, playwright-core) of the Notifications page (issue 15): my
// subscriptions with their nature, frequency and channel; an alert (a `websocket` subscription,
// server-sent events) appears within a second of the event that causes it; what was sent is then
// listed; no console error (the page's CSP allows its own event stream and nothing else).
// Screenshot: notifications.png in $TDDUI_SCREENSHOTS, else <OS temp dir>/tddui-ui-screenshots/.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { SHOTS, browserAvailable, browserSkip, launchBrowser } from './testing/browser.js';
import { startServer, type RunningServer } from '../server/app.js';
import { SHARED_FHIR } from '../testing/paths.js';
import { ndeExample, subscription } from '../notification/testing.js';

// The shared chromium set-up (src/ui/testing/browser.ts).
const available = browserAvailable;
const skip = browserSkip;

let srv: RunningServer;
let browser: Browser;

const post = async (path: string, body: unknown) => {
  const r = await fetch(`${srv.url}/fhir/${path}`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
  const text = await r.text();
  assert.ok(r.status < 300, text);
  return JSON.parse(text) as { id: string };
};

before(async () => {
  if (!available) return;
  srv = await startServer({ port: 0, dataDir: 'memory://', packages: [SHARED_FHIR], igs: ['ans.fhir.fr.nde#3.0.0-ballot'], logLevel: 'warn', notifications: { pollMs: 5000 } });
  browser = await launchBrowser();
  mkdirSync(SHOTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  await srv?.close();
});

test('Notifications: my subscriptions, an alert within a second of the event, what was sent', { skip }, async () => {
  await post('Subscription', subscription({ channel: { type: 'websocket' } }));
  await post('Subscription', subscription({ channel: { type: 'email', endpoint: 'mailto:cadre@essms.example' }, criteria: 'CommunicationRequest?event-type=ADM,SOR', frequency: { frequency: 'weekly', hour: 9, dayOfWeek: 'fri' } }));
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${srv.url}/`);
  await page.click('nav >> text=Notifications');
  await page.waitForSelector('h2:has-text("Mes abonnements")');
  const rows = await page.locator('#abonnements tbody tr').allTextContents();
  assert.equal(rows.length, 2);
  assert.ok(rows.some((r) => /Langdon Robert/.test(r) && /Sortie d’un patient/.test(r) && /Immédiate/.test(r) && /Alerte dans le DUI/.test(r) && /Actif/.test(r)), rows.join('\n'));
  assert.ok(rows.some((r) => /Admission d’un usager dans l’établissement, Sortie/.test(r) && /Résumé hebdomadaire le vendredi à 9 h/.test(r) && /Courriel/.test(r) && /cadre@essms\.example/.test(r)), rows.join('\n'));
  await page.waitForSelector('#alertes-etat:has-text("connecté")');

  // The event: an event declaration received (the NdE example, a discharge).
  const declaration = ndeExample('CommunicationRequest-com2.json');
  delete declaration.id;
  const t0 = Date.now();
  await post('CommunicationRequest', declaration);
  await page.waitForSelector('#alertes li.alerte', { timeout: 5000 });
  const elapsed = Date.now() - t0;
  assert.ok(elapsed < 1000, `the alert took ${elapsed} ms`);
  assert.match((await page.textContent('#alertes li.alerte')) ?? '', /^Sortie d'un patient de l'établissement de santé \(usager : Langdon Robert\), le mardi 1 janvier 2019 à 01:00/);
  await page.screenshot({ path: join(SHOTS, 'notifications.png'), fullPage: true });

  await page.reload();
  await page.waitForSelector('#envoyees');
  const sent = await page.locator('#envoyees tbody tr').allTextContents();
  // The alert was sent; the weekly e-mail digest holds the same event until Friday 9:00.
  assert.equal(sent.length, 2, sent.join('\n'));
  assert.ok(sent.some((r) => /Sortie d'un patient/.test(r) && /Alerte dans le DUI/.test(r) && /Envoyée/.test(r)), sent.join('\n'));
  assert.ok(sent.some((r) => /Sortie d'un patient/.test(r) && /Courriel/.test(r) && /En attente du résumé/.test(r)), sent.join('\n'));
  assert.deepEqual(errors, []);
});
