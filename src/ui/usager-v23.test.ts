// The usager page shows what TDDUI 2.3.0 adds (Patient extensions and identifiers, the
// Observations) and the IG version of each submission; the report keeps "could not check"
// notices apart from the data findings.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { buildBundle } from '../producer/build/index.js';
import { generateUsagers } from '../producer/generate/index.js';
import { parsePivot, type Pivot } from '../producer/pivot/schema.js';
import { startServer, type RunningServer } from '../server/app.js';
import { SHARED_FHIR } from '../testing/paths.js';
import { renderReport } from './report.js';

let srv: RunningServer;
before(async () => {
  srv = await startServer({ port: 0, dataDir: 'memory://', packages: [SHARED_FHIR], logLevel: 'silent' });
});
after(() => srv?.close());

/** A generated 2.3.0 usager with observations and the new identity fields. */
function rich(): Pivot {
  const all = generateUsagers({ count: 200, seed: 'ui-v23', endDate: '2026-11-30', igVersion: '2.3.0' }).map((d, i) => parsePivot(d, `#${i}`));
  const p = all.find((x) => (x.observations ?? []).some((o) => o.type === 'periode-scolaire'))!;
  p.usager.nationalite = { code: 'FRA', display: 'France' };
  p.usager.commentaire = 'Préfère être appelé le matin';
  p.usager.permisConduire = [{ numero: '822146819', systeme: 'https://ants.gouv.fr/', debut: '1980-01-01' }];
  p.usager.situationFoyer = { situationFamiliale: { system: 'https://mos.esante.gouv.fr/NOS/TRE_R317-SituationVieQuotidienne/FHIR/TRE-R317-SituationVieQuotidienne', code: '01', display: 'Seul' }, description: 'Vit avec sa mère' };
  p.observations!.push({ type: 'mobilite', mode: { code: 'ORG-160', display: 'VSL' }, amenagement: 'Fauteuil roulant', date: '2026-11-02' });
  return p;
}

test('the usager page shows the 2.3.0 Patient fields, the Observations and the IG version of each submission', async () => {
  const { bundle } = buildBundle(rich(), { skipWindow: true });
  const r = await fetch(`${srv.url}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(bundle) });
  assert.equal(r.status, 200, await r.clone().text());
  const loc = ((await r.json()) as { entry: { response: { location: string } }[] }).entry.map((e) => e.response.location);
  const patientId = loc.find((l) => l.startsWith('Patient/'))!.split('/')[1];
  const page = await (await fetch(`${srv.url}/usagers/${patientId}`)).text();
  assert.match(page, /id="identite-2-3"/);
  for (const s of ['Nationalité', 'France', 'Situation du foyer', 'Seul', 'Vit avec sa mère', 'Commentaire', 'Préfère être appelé le matin', 'Permis de conduire', '822146819']) assert.ok(page.includes(s), s);
  assert.match(page, /<section class="card" id="observations"><h2>Observations \(TDDUI 2\.3\.0\)<\/h2>/);
  assert.match(page, /Période scolaire/);
  assert.match(page, /Mobilité<\/td><td>[^<]*<\/td><td>VSL — Fauteuil roulant/);
  assert.match(page, /référent : /);
  assert.match(page, /<td class="ig">TDDUI 2\.3\.0<\/td>/);
  const list = await (await fetch(`${srv.url}/envois`)).text();
  assert.match(list, /<span class="muted ig">TDDUI 2\.3\.0<\/span>/);
});

test('the report: notices folded per missing package apart from the data findings, nothing dropped; counts apart', () => {
  const oo = {
    resourceType: 'OperationOutcome',
    issue: [
      { severity: 'warning', code: 'value', details: { coding: [{ system: 'urn:tddui:validation-rule', code: 'tddui-nir-key' }, { system: 'urn:tddui:issue-category', code: 'data' }], text: 'Clé du NIR' }, diagnostics: 'NIR key', expression: ['Patient.identifier[0].value'] },
      { severity: 'warning', code: 'not-supported', details: { coding: [{ system: 'urn:tddui:validation-rule', code: 'fhir-binding-not-checked' }, { system: 'urn:tddui:issue-category', code: 'not-checked' }], text: 'Codes non vérifiés A' }, diagnostics: 'Codes bound to A were not checked: A (package ans.fr.terminologies#1.7.0) is not loaded', expression: ['Patient.extension[0]'] },
      { severity: 'warning', code: 'not-supported', details: { coding: [{ system: 'urn:tddui:validation-rule', code: 'fhir-binding-not-checked' }, { system: 'urn:tddui:issue-category', code: 'not-checked' }], text: 'Codes non vérifiés B' }, diagnostics: 'Codes bound to B were not checked: B (package ans.fr.terminologies#1.7.0) is not loaded', expression: ['Patient.address[0].country'] },
      { severity: 'warning', code: 'code-invalid', details: { coding: [{ system: 'urn:tddui:validation-rule', code: 'fhir-code-not-in-extensible-ig-defect' }, { system: 'urn:tddui:issue-category', code: 'ig-defect' }], text: 'Défaut du guide' }, diagnostics: 'IG defect', expression: ['Patient.identifier[1].type'] },
    ],
  };
  const page = renderReport(oo, { resourceType: 'Patient' }).value;
  assert.match(page, /1 avertissement, 0 information ; 3 vérifications non faites ou défauts du guide/);
  assert.match(page, /Vérifications non faites \(2\)/);
  assert.match(page, /Paquet <code>ans\.fr\.terminologies#1\.7\.0<\/code> absent ou partiel — 2 vérifications non faites/);
  assert.ok(page.includes('Codes non vérifiés A') && page.includes('Codes non vérifiés B'), 'every notice is still there');
  assert.match(page, /Défauts du guide d’implémentation \(1\)/);
});

test("the agenda says when the usager confirmed an event took place (2.3.0's tddui-patient-validation)", async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tdduiExamplesDir } = await import('../testing/paths.js');
  const bundle = JSON.parse(readFileSync(join(tdduiExamplesDir('2.3.0'), 'Bundle-tddui-bundle-example.json'), 'utf8'));
  const validated = bundle.entry
    .map((e: { resource: Record<string, unknown> }) => e.resource)
    .find((r: Record<string, unknown>) => r.resourceType === 'Encounter' && JSON.stringify(r.extension ?? []).includes('tddui-patient-validation')) as { period: { start: string } };
  assert.ok(validated, 'the official 2.3.0 Bundle has a validated event');
  const r = await fetch(`${srv.url}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(bundle) });
  assert.equal(r.status, 200, await r.clone().text());
  const loc = ((await r.json()) as { entry: { response: { location: string } }[] }).entry.map((e) => e.response.location);
  const patientId = loc.find((l) => l.startsWith('Patient/'))!.split('/')[1];
  const page = await (await fetch(`${srv.url}/usagers/${patientId}?semaine=${validated.period.start.slice(0, 10)}`)).text();
  assert.match(page, /confirmé par l’usager/);
  assert.doesNotMatch(page, /non confirmé par l’usager/);
});
