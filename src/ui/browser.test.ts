// Browser tests: Debian chromium driven by playwright-core against a real server (embedded
// database in memory) holding the official examples, a rejected Bundle and generated usagers.
// Every page must load without console errors; screenshots go to test-output/screenshots/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServer, type RunningServer } from '../server/app.js';
import { REPO_ROOT, SHARED_FHIR } from '../testing/paths.js';
import { readExample, seedGenerated, seedOfficial, type OfficialSeed } from './testing/seed.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(REPO_ROOT, 'test-output', 'screenshots');
const available = existsSync(CHROMIUM);
if (!available && process.env.CI === 'true') throw new Error(`chromium not found at ${CHROMIUM} (required under CI=true)`);
const skip = available ? false : `chromium not found at ${CHROMIUM}: browser tests skipped (install Debian chromium)`;

let srv: RunningServer;
let seed: OfficialSeed;
let browser: Browser;
const ids: Record<string, string> = {};

before(async () => {
  if (!available) return;
  srv = await startServer({ port: 0, dataDir: 'memory://', packages: [SHARED_FHIR], logLevel: 'warn' });
  seed = await seedOfficial({ repo: srv.repo, validator: srv.validator });
  const statuses = await seedGenerated({ repo: srv.repo, validator: srv.validator }, 12, 'ui-browser');
  assert.deepEqual([...new Set(statuses)], [200]);
  const one = async (params: { name: string; values: string[] }[]) => (await srv.repo.search({ resourceType: 'Patient', params, count: 1, offset: 0 })).matches[0].id;
  ids.jeanne = await one([{ name: 'given', values: ['Jeanne'] }, { name: 'family', values: ['L.'] }]);
  ids.dupont = await one([{ name: 'family', values: ['DUPONT'] }]);
  // A generated usager with a séjour and evaluations (SSIAD).
  const stay = await srv.repo.db.query<{ id: string }>(
    `SELECT substring(content->'subject'->>'reference' from 9) AS id FROM resource WHERE resource_type = 'Encounter'
       AND content->'identifier' @> '[{"system": "https://identifiant-medicosocial-sejour.esante.gouv.fr"}]'
       AND content->'subject'->>'reference' <> $1 LIMIT 1`,
    [`Patient/${ids.dupont}`],
  );
  ids.ssiad = stay.rows[0].id;
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--lang=fr-FR'], env: { ...process.env, LANG: 'fr_FR.UTF-8', LANGUAGE: 'fr' } });
});

after(async () => {
  await browser?.close();
  await srv?.close();
});

/** A page that records console errors, uncaught exceptions and failed requests. */
async function open(): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ locale: 'fr-FR', timezoneId: 'Europe/Paris', viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return { page, problems };
}

async function visit(name: string, path: string, check: (page: Page) => Promise<void>): Promise<void> {
  const { page, problems } = await open();
  const res = await page.goto(srv.url + path, { waitUntil: 'load' });
  assert.equal(res?.status(), 200, path);
  await check(page);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  assert.deepEqual(problems, [], `${path}: ${problems.join('; ')}`);
  await page.context().close();
}

test('Envois reçus lists the submissions and filters them', { skip }, async () => {
  await visit('envois-rejetes', '/', async (page) => {
    assert.equal(await page.locator('h1').textContent(), 'Envois reçus');
    assert.equal(await page.locator('#envois tbody tr').count(), 15);
    await page.screenshot({ path: join(SHOTS, 'envois.png'), fullPage: true });
    await page.selectOption('select[name=resultat]', 'rejete');
    await Promise.all([page.waitForURL(/resultat=rejete/), page.click('form.filters button[type=submit]')]);
    assert.equal(await page.locator('#envois tbody tr').count(), 1);
    assert.match((await page.locator('#envois tbody tr').textContent()) ?? '', /rejeté/);
  });
});

test('the rejected submission report shows the offending excerpt', { skip }, async () => {
  await visit('rapport', `/envois/${seed.rejected.submissionId}`, async (page) => {
    assert.equal(await page.locator('h1').textContent(), 'Rapport de validation');
    const entry = page.locator('#entree-0');
    assert.equal(await entry.getAttribute('open'), '');
    const issue = entry.locator('li.issue-error', { hasText: 'surnom' });
    assert.match((await issue.locator('.msg').textContent()) ?? '', /Propriété « surnom » non reconnue/);
    const marked = await issue.locator('pre.json .j-mark').textContent();
    assert.match(marked ?? '', /"surnom": "<script>alert\(\\"tddui\\"\)<\/script>"/);
    // The markup stayed text: no script element was created from the data.
    assert.equal(await page.locator('main script').count(), 0);
    assert.match((await page.locator('#entree-2 li.issue-error .msg').first().textContent()) ?? '', /Encounter\.subject : minimum requis = 1/);
  });
});

test('Usagers searches by name', { skip }, async () => {
  await visit('usagers', '/usagers', async (page) => {
    assert.equal(await page.locator('#usagers tbody tr').count(), 14);
    await page.fill('input[name=q]', 'jeanne');
    await Promise.all([page.waitForURL(/q=jeanne/), page.press('input[name=q]', 'Enter')]);
    assert.match((await page.locator('#usagers tbody').textContent()) ?? '', /Jeanne L\./);
  });
});

test('the usager page of the official PA example shows the projet personnalisé tree and GIR 3', { skip }, async () => {
  await visit('usager-pp-pa', `/usagers/${ids.jeanne}`, async (page) => {
    assert.equal(await page.locator('#gir').textContent(), 'GIR 3');
    const tree = page.locator('ul.pp-tree');
    assert.ok(await tree.isVisible());
    assert.equal(await tree.locator('[data-kind=besoin]').count(), 3);
    assert.equal(await tree.locator('[data-kind=objectif]').count(), 3);
    assert.equal(await tree.locator('[data-kind=action]').count(), 6);
    assert.equal(await tree.locator('[data-kind=moyen]').count(), 4);
    assert.equal(await tree.locator('[data-kind=attente]').count(), 2);
    // Hierarchy: besoin → objectif → action → moyen.
    const kine = tree.locator('li', { has: page.locator('[data-kind=action]', { hasText: 'kinésithérapeute' }) }).last();
    assert.match((await kine.locator('[data-kind=moyen]').textContent()) ?? '', /30 h de kinésithérapie/);
    assert.equal(await page.locator('table.versions tbody tr').count(), 1);
  });
});

test('the usager page of the official SSIAD example shows INS, séjour timeline and week calendar', { skip }, async () => {
  await visit('usager-ssiad-officiel', `/usagers/${ids.dupont}`, async (page) => {
    assert.match((await page.locator('#ins-status').textContent()) ?? '', /INS-NIR 147720425367411 — Identité validée/);
    assert.equal(await page.locator('#sejours svg rect').count(), 1);
    assert.equal(await page.locator('#agenda svg rect.cal-evt').count(), 1);
    assert.equal(await page.locator('#agenda svg rect.cal-tr').count(), 2);
  });
});

test('a generated SSIAD usager shows the AGGIR variables and the agenda', { skip }, async () => {
  await visit('usager-ssiad-genere', `/usagers/${ids.ssiad}`, async (page) => {
    assert.match((await page.locator('h1 .gir').textContent()) ?? '', /^GIR [1-6]$/);
    assert.ok((await page.locator('table.aggir tbody tr').count()) >= 10);
    assert.ok((await page.locator('#agenda svg rect.cal-evt').count()) >= 1);
  });
});

test('Pilotage SSIAD shows indicators and charts', { skip }, async () => {
  await visit('pilotage', '/pilotage', async (page) => {
    assert.ok(Number(await page.locator('#actifs').textContent()) >= 1);
    assert.equal(await page.locator('#gir-chart svg rect').count(), 6);
    assert.ok((await page.locator('#activite-chart svg rect title').count()) >= 12);
    assert.ok((await page.locator('#par-organisation tbody tr').count()) >= 2);
  });
});

/** Drops a file on the drop zone the way a browser does (a DataTransfer with one File). */
async function dropFile(page: Page, name: string, content: string, type: string): Promise<void> {
  const dt = await page.evaluateHandle(
    ([n, c, t]) => {
      const d = new DataTransfer();
      d.items.add(new File([c], n, { type: t }));
      return d;
    },
    [name, content, type] as const,
  );
  await Promise.all([page.waitForURL(/\/valider$/), page.waitForEvent('load'), page.dispatchEvent('#dropzone', 'drop', { dataTransfer: dt })]);
}

test('Valider un fichier: dropping an unreadable file shows the right message', { skip }, async () => {
  await visit('valider', '/valider', async (page) => {
    assert.ok(await page.locator('#dropzone').isVisible());
  });
  const { page, problems } = await open();
  await page.goto(srv.url + '/valider');
  await dropFile(page, 'export-casse.json', '{"resourceType": "Bundle",\n  "type": "transaction",\n  "entry": [,]\n}', 'application/json');
  assert.equal(await page.locator('#resultat').getAttribute('data-valid'), 'false');
  assert.equal(await page.locator('#resultat').textContent(), 'Le fichier n’est pas un JSON valide (ligne 3, colonne 13) : ' + jsonMessage('{"resourceType": "Bundle",\n  "type": "transaction",\n  "entry": [,]\n}'));
  await page.screenshot({ path: join(SHOTS, 'valider-illisible.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.context().close();
});

function jsonMessage(text: string): string {
  try {
    JSON.parse(text);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

test('Valider un fichier: dropping an invalid Bundle shows its errors; choosing an XML file works too', { skip }, async () => {
  const { page, problems } = await open();
  await page.goto(srv.url + '/valider');
  const bundle = readExample('Bundle-tddui-bundle-example.json') as { entry: { resource: Record<string, unknown> }[] };
  delete bundle.entry[2].resource.serviceProvider;
  await dropFile(page, 'bundle-sans-structure.json', JSON.stringify(bundle), 'application/json');
  assert.equal(await page.locator('#resultat').getAttribute('data-valid'), 'false');
  assert.match((await page.locator('#resultat').textContent()) ?? '', /« bundle-sans-structure\.json » n’est pas conforme : 1 erreur\(s\)\./);
  assert.match((await page.locator('#entree-2 li.issue-error .msg').textContent()) ?? '', /Encounter\.serviceProvider : minimum requis = 1/);
  await page.screenshot({ path: join(SHOTS, 'valider-rapport.png'), fullPage: true });
  // The file chooser with an XML resource.
  const xml = '<Patient xmlns="http://hl7.org/fhir"><id value="p1"/><gender value="femme"/></Patient>';
  const file = join(REPO_ROOT, 'test-output', 'patient.xml');
  writeFileSync(file, xml);
  await Promise.all([page.waitForEvent('load'), page.setInputFiles('#fichier', file)]);
  assert.match((await page.locator('.kv').textContent()) ?? '', /XML \(converti en JSON pour les extraits\)/);
  assert.ok((await page.locator('li.issue-error', { hasText: 'Patient.gender' }).count()) >= 1);
  assert.deepEqual(problems, []);
  await page.context().close();
});
