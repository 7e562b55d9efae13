// Browser test (Debian chromium, playwright-core) of the Coordination page (issue 14): for the
// usager of the official TDDUI SSIAD Bundle, a member proposed from the DUI's data is accepted,
// a note with an attachment is written as urgent (highlighted), a reply is threaded under it, a
// note is withdrawn; a file attached to a note is served back; a professional of the circle
// sees the notebook in "Mes cahiers de liaison" once the usager authorised them; no console
// error. Screenshots: coordination-cercle.png, coordination-cahier.png,
// coordination-mes-cahiers.png in $TDDUI_SCREENSHOTS, else <OS temp dir>/tddui-ui-screenshots/.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { SHOTS, browserAvailable, browserSkip, launchBrowser } from './testing/browser.js';
import { startServer, type RunningServer } from '../server/app.js';
import { SHARED_FHIR, tdduiExamplesDir } from '../testing/paths.js';

// The shared chromium set-up (src/ui/testing/browser.ts).
const available = browserAvailable;
const skip = browserSkip;

let srv: RunningServer;
let browser: Browser;
let patient: string;

before(async () => {
  if (!available) return;
  srv = await startServer({ port: 0, dataDir: 'memory://', packages: [SHARED_FHIR], igs: ['ans.fhir.fr.cds#2.0.1', 'ans.fhir.fr.cdl#3.0.1'], logLevel: 'warn' });
  const bundle = readFileSync(join(tdduiExamplesDir('2.3.0'), 'Bundle-tddui-bundle-example.json'), 'utf8');
  const r = await fetch(`${srv.url}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: bundle });
  assert.equal(r.status, 200);
  const loc = ((await r.json()) as { entry: { response: { location: string } }[] }).entry.map((e) => e.response.location);
  patient = loc.find((l) => l.startsWith('Patient/'))!.split('/')[1]!;
  browser = await launchBrowser();
  mkdirSync(SHOTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  await srv?.close();
});

test('Coordination: prefill accepted, urgent note with an attachment, threaded reply, withdrawal', { skip }, async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${srv.url}/usagers/${patient}`);
  await page.click('nav.tabs >> text=Coordination');
  await page.waitForSelector('h2:has-text("Cercle de santé et d’accompagnement")');
  assert.match(await page.textContent('#cercle') ?? '', /Aucun cercle/);
  // The ESSMS of the current séjour is proposed; accepting it creates the circle.
  const proposal = page.locator('li.proposal', { hasText: 'ESSMS du séjour en cours' });
  assert.equal(await proposal.count(), 1);
  await proposal.locator('button:has-text("Accepter")').click();
  await page.waitForSelector('p.notice:has-text("Membre ajouté au cercle")');
  assert.equal(await page.locator('#cercle tr.member-active').count(), 1);
  assert.equal(await page.locator('li.proposal', { hasText: 'ESSMS du séjour en cours' }).count(), 0);
  await page.screenshot({ path: join(SHOTS, 'coordination-cercle.png'), fullPage: true });
  // A note with an attachment, urgent.
  await page.fill('.note-form textarea[name="texte"]', 'Chute ce matin, pas de blessure. Surveillance renforcée.');
  await page.fill('.note-form textarea[name="piece"]', 'Compte rendu de passage : tension 13/8.');
  await page.check('.note-form input[name="urgent"]');
  // And a file (read by the page's script into the form).
  const pdf = Buffer.from('%PDF-1.4\n% ordonnance de soins infirmiers\n%%EOF\n');
  await page.setInputFiles('.note-form input[data-attach]', { name: 'ordonnance.pdf', mimeType: 'application/pdf', buffer: pdf });
  await page.waitForSelector('.note-form .attach-status:has-text("sera joint")');
  await page.click('.note-form button[type="submit"]');
  await page.waitForSelector('p.notice:has-text("Note enregistrée")');
  const urgent = page.locator('article.note-urgent');
  assert.equal(await urgent.count(), 1);
  assert.match((await urgent.textContent()) ?? '', /Urgent[\s\S]*Chute ce matin[\s\S]*tension 13\/8/);
  // The file is a link to the attachment, served with its type and bytes.
  const link = urgent.locator('a.attachment', { hasText: 'ordonnance.pdf' }).first();
  assert.equal(await link.count(), 1);
  const served = await fetch(`${srv.url}${await link.getAttribute('href')}`);
  assert.equal(served.status, 200);
  assert.match(served.headers.get('content-type') ?? '', /^application\/pdf/);
  assert.deepEqual(Buffer.from(await served.arrayBuffer()), pdf);
  // A reply, threaded under it.
  await urgent.locator('summary:has-text("Répondre")').click();
  await urgent.locator('textarea[name="texte"]').fill('Vu, je passe demain matin.');
  await urgent.locator('button:has-text("Envoyer la réponse")').click();
  await page.waitForSelector('p.notice:has-text("Réponse enregistrée")');
  assert.equal(await page.locator('article.note-urgent .replies article.note').count(), 1);
  assert.match((await page.locator('article.note-urgent .replies').textContent()) ?? '', /je passe demain matin/);
  // A second note, withdrawn.
  await page.fill('.note-form textarea[name="texte"]', 'Note saisie par erreur');
  await page.click('.note-form button[type="submit"]');
  await page.waitForSelector('p.notice:has-text("Note enregistrée")');
  const wrong = page.locator('article.note', { hasText: 'Note saisie par erreur' }).first();
  await wrong.locator('button:has-text("Retirer la note")').click();
  await page.waitForSelector('p.notice:has-text("Note retirée")');
  assert.equal(await page.locator('article.note-withdrawn', { hasText: 'Note saisie par erreur' }).count(), 1);
  await page.screenshot({ path: join(SHOTS, 'coordination-cahier.png'), fullPage: true });
  // What the page wrote is FHIR: the circle valid against CDS, the notes CdL notes.
  const team = await (await fetch(`${srv.url}/fhir/CareTeam?patient=Patient/${patient}`)).json() as { total?: number; entry: { resource: { meta: { profile: string[] } } }[] };
  assert.equal(team.entry.length, 1);
  const notes = await (await fetch(`${srv.url}/fhir/DocumentReference?patient=Patient/${patient}&type=DEM-AVIS`)).json() as { entry: unknown[] };
  assert.equal(notes.entry.length, 3);
  assert.deepEqual(errors, []);
  await page.close();
});

test('Mes cahiers de liaison: a professional of the circle, authorised by the usager, sees the notebook; without consent, it is closed', { skip }, async () => {
  // A professional joins the circle (as the DUI would record it) and the usager authorises them.
  const post = async (type: string, body: unknown) => {
    const r = await fetch(`${srv.url}/fhir/${type}`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
    const text = await r.text();
    assert.ok(r.status < 300, `${type}: ${r.status} ${text}`);
    return JSON.parse(text) as { id: string };
  };
  const pr = await post('Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Leroy', given: ['Inès'] }] });
  const role = await post('PractitionerRole', { resourceType: 'PractitionerRole', active: true, practitioner: { reference: `Practitioner/${pr.id}` } });
  const other = await post('Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Moreau', given: ['Hugo'] }] });
  const otherRole = await post('PractitionerRole', { resourceType: 'PractitionerRole', active: true, practitioner: { reference: `Practitioner/${other.id}` } });
  const bundle = (await (await fetch(`${srv.url}/fhir/CareTeam?patient=Patient/${patient}`)).json()) as { entry: { resource: { id: string; participant: unknown[] } }[] };
  const team = bundle.entry[0]!.resource;
  team.participant.push({ member: { reference: `PractitionerRole/${role.id}` }, period: { start: '2026-01-01' } }, { member: { reference: `PractitionerRole/${otherRole.id}` }, period: { start: '2026-01-01' } });
  const put = await fetch(`${srv.url}/fhir/CareTeam/${team.id}`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(team) });
  const putText = await put.text();
  assert.equal(put.status, 200, putText);
  await post('Consent', {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/${patient}` },
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    provision: { type: 'permit', actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] }, reference: { reference: `PractitionerRole/${role.id}` } }], class: [{ system: 'http://hl7.org/fhir/resource-types', code: 'DocumentReference' }] },
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  // The circle page says who the usager authorised.
  await page.goto(`${srv.url}/usagers/${patient}/coordination`);
  assert.equal(await page.textContent(`#cercle tr:has-text("Leroy") td.consent`), 'cahier de liaison');
  assert.equal(await page.textContent(`#cercle tr:has-text("Moreau") td.consent`), 'non');
  await page.goto(`${srv.url}/`);
  await page.click('nav >> text=Cahiers de liaison');
  await page.selectOption('select[name="personne"]', { label: 'Inès Leroy' });
  await page.click('button:has-text("Afficher")');
  await page.waitForSelector('section.notebook');
  const open = page.locator('section.notebook:not(.notebook-closed)');
  assert.equal(await open.count(), 1);
  assert.match((await open.textContent()) ?? '', /Chute ce matin[\s\S]*je passe demain matin/);
  assert.equal(await open.locator('article.note-urgent').count(), 1);
  await page.screenshot({ path: join(SHOTS, 'coordination-mes-cahiers.png'), fullPage: true });
  // The colleague of the same circle without the usager's consent: the notebook is closed.
  await page.selectOption('select[name="personne"]', { label: 'Hugo Moreau' });
  await page.click('button:has-text("Afficher")');
  await page.waitForSelector('section.notebook-closed');
  assert.match((await page.textContent('section.notebook-closed')) ?? '', /n’a pas autorisé/);
  assert.doesNotMatch((await page.textContent('main')) ?? '', /Chute ce matin/);
  assert.deepEqual(errors, []);
  await page.close();
});
