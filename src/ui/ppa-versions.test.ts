// The PPA over time (issue 17): a generated PPA sent, then resent with one goal added, one
// action closed and one goal reworded. The usager's versions are 1 and 2; the diff lists exactly
// those three changes — by the API operation (`$ppa-diff`), and in the UI (Debian chromium,
// screenshot ppa-diff.png in $TDDUI_SCREENSHOTS, else <OS temp dir>/tddui-ui-screenshots/). An
// identical resend makes no version. Plus the pure diff on hand-made states.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { buildBundle, type PivotInput } from '../producer/index.js';
import { generatedPpa, threeChanges } from './testing/ppa.js';
import { http, startTestServer, type TestServer } from '../server/test-support.js';
import { browserAvailable, browserSkip, launchBrowser, openPage, SHOTS } from './testing/browser.js';
import { diffPpa } from './ppa-versions.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any


const bundleOf = (p: PivotInput) => {
  const r = buildBundle(structuredClone(p)) as Json;
  return r.bundle ?? r;
};

describe('PPA versions and diff (API and UI)', { concurrency: false }, () => {
  let s: TestServer;
  let browser: Browser | undefined;
  let patient: string;
  const u = generatedPpa();
  before(async () => {
    s = await startTestServer('embedded');
    for (const b of [bundleOf(u), bundleOf(u), bundleOf(threeChanges(u))]) {
      const r = await http(s.base, { body: b });
      assert.equal(r.status, 200, r.text.slice(0, 500));
    }
    patient = (await http(`${s.base}/Patient`)).json.entry[0].resource.id;
    if (browserAvailable) browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await s?.stop();
  });

  it('$ppa-versions: two versions (the identical resend made none), each with its plan', async () => {
    const r = await http(`${s.base}/Patient/${patient}/$ppa-versions`);
    assert.equal(r.status, 200, r.text.slice(0, 400));
    const versions = r.json.parameter.map((p: Json) => Object.fromEntries(p.part.map((x: Json) => [x.name, x.valueInteger ?? x.valueInstant ?? x.valueBoolean ?? x.valueReference?.reference])));
    assert.deepEqual(versions.map((v: Json) => v.number), [1, 2]);
    assert.ok(versions.every((v: Json) => String(v.carePlan).startsWith('CarePlan/')));
    assert.equal(versions[1].changedElements, 3, 'the resend wrote the new goal, the closed action and the reworded goal');
    assert.equal(versions[0].validated, true, 'active plan with the usager’s accord');
  });

  it('one pp-new-version event per PPA version (none for the identical resend), through the outbox', async () => {
    const rows = (await s.repo.db.query<Json>(`SELECT patient, focus, detail FROM event_outbox WHERE code = 'pp-new-version' ORDER BY seq`)).rows;
    assert.equal(rows.length, 2);
    assert.ok(rows.every((r: Json) => r.patient === `Patient/${patient}`));
    assert.equal(rows[1].detail.elements, 3);
  });

  it('$ppa-diff: exactly the three changes, in French', async () => {
    const r = await http(`${s.base}/Patient/${patient}/$ppa-diff?from=1&to=2`);
    assert.equal(r.status, 200, r.text.slice(0, 400));
    const changes = r.json.parameter.filter((p: Json) => p.name === 'change').map((p: Json) => Object.fromEntries(p.part.map((x: Json) => [x.name, x.valueCode ?? x.valueString ?? x.valueReference?.display])));
    const pp = u.projetsPersonnalises[0];
    assert.deepEqual(
      changes.map((c: Json) => [c.element, c.change, c.reference]),
      [
        ['objectif', 'reformulation', 'Marcher sans aide dans le jardin'],
        ['objectif', 'ajout', 'Maintenir le lien social'],
        ['action', 'cloture', pp.actions[0].titre],
      ],
    );
    const texts = changes.map((c: Json) => c.text);
    assert.ok(texts.includes('Objectif ajouté : « Maintenir le lien social »'), texts.join('\n'));
    assert.ok(texts.includes(`Objectif reformulé : « ${pp.objectifs[0].titre} » devient « Marcher sans aide dans le jardin »`), texts.join('\n'));
    assert.ok(texts.some((t: string) => t.startsWith(`Action clôturée : « ${pp.actions[0].titre} »`)), texts.join('\n'));
    // Default: the last two versions; a version that does not exist is a 400.
    assert.equal((await http(`${s.base}/Patient/${patient}/$ppa-diff`)).json.parameter.filter((p: Json) => p.name === 'change').length, 3);
    assert.equal((await http(`${s.base}/Patient/${patient}/$ppa-diff?from=0&to=2`)).status, 400);
    assert.equal((await http(`${s.base}/Patient/${patient}/$ppa-diff?to=3`)).status, 400);
    assert.equal((await http(`${s.base}/Patient/nobody/$ppa-versions`)).status, 404);
  });

  it('the UI shows the versions and the same three changes (chromium, screenshot)', { skip: browserSkip }, async () => {
    const { page, problems } = await openPage(browser!);
    await page.goto(`${s.url}/usagers/${patient}`);
    await page.click('a.ppa-versions-link');
    await page.waitForSelector('h1:has-text("Versions du projet personnalisé")');
    assert.equal(await page.locator('table.ppa-versions tbody tr').count(), 2);
    assert.match((await page.textContent('#differences h2')) ?? '', /version 1 et la version 2/);
    const items = await page.locator('ul.ppa-diff li').allTextContents();
    assert.equal(items.length, 3, items.join('\n'));
    assert.deepEqual(await page.locator('ul.ppa-diff li').evaluateAll((ls) => ls.map((l) => l.getAttribute('data-change'))), ['reformulation', 'ajout', 'cloture']);
    assert.ok(items.some((t) => t.includes('Objectif ajouté : « Maintenir le lien social »')));
    // Choosing the same version twice: no difference.
    await page.selectOption('select[name="de"]', '2');
    await page.click('button:has-text("Comparer")');
    await page.waitForSelector('.ppa-no-change');
    await page.goto(`${s.url}/usagers/${patient}/projet/versions?de=1&a=2`);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'ppa-diff.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });
});

describe('diffPpa on hand-made states', () => {
  const goal = (id: string, title: string, status = 'active', extra: Json = {}) => ({
    resourceType: 'Goal',
    id,
    meta: { profile: ['https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-goal-objectif'] },
    lifecycleStatus: status,
    description: { text: title },
    ...extra,
  });
  it('removal, status change that is not a closure, and nothing for identical states', () => {
    const a = [goal('1', 'Marcher'), goal('2', 'Lire', 'on-hold')];
    const b = [goal('2', 'Lire', 'active')];
    assert.deepEqual(diffPpa(a, b).map((c) => [c.change, c.title]), [['retrait', 'Marcher'], ['statut', 'Lire']]);
    assert.deepEqual(diffPpa(a, structuredClone(a)), []);
    // A closure said once; references and meta are not changes.
    const closed = diffPpa([goal('3', 'Dormir')], [goal('3', 'Dormir', 'completed', { meta: { versionId: '4', profile: ['https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-goal-objectif'] } })]);
    assert.deepEqual(closed.map((c) => c.text), ['Objectif clôturé : « Dormir » (actif → terminé)']);
  });
});
