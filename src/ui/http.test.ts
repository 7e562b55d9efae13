// HTTP tests of the UI pages on a real server (embedded database in memory) fed through the
// ingest pipeline with the official examples and a rejected Bundle.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../server/app.js';
import { EXAMPLES_DIR, SHARED_FHIR } from '../testing/paths.js';
import { REJECTED_MARKER, readExample, seedOfficial, type OfficialSeed } from './testing/seed.js';

let srv: RunningServer;
let seed: OfficialSeed;

before(async () => {
  srv = await startServer({ port: 0, dataDir: 'memory://', packages: [SHARED_FHIR], logLevel: 'warn', pilotageWarmupMs: 50 });
  seed = await seedOfficial({ repo: srv.repo, validator: srv.validator });
  assert.equal(seed.ssiad.status, 200);
  assert.equal(seed.pa.status, 200);
  assert.equal(seed.rejected.status, 422);
});

after(async () => {
  await srv?.close();
});

async function get(path: string, accept = 'text/html'): Promise<{ status: number; type: string; body: string; headers: Headers }> {
  const res = await fetch(srv.url + path, { headers: { accept } });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text(), headers: res.headers };
}

async function postForm(path: string, fields: Record<string, string>): Promise<{ status: number; body: string }> {
  const res = await fetch(srv.url + path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
  return { status: res.status, body: await res.text() };
}

test('every page answers French HTML with a strict CSP', async () => {
  const patients = await srv.repo.search({ resourceType: 'Patient', params: [], count: 10, offset: 0 });
  const paths = ['/', '/envois', `/envois/${seed.rejected.submissionId}`, '/usagers', `/usagers/${patients.matches[0].id}`, '/pilotage', '/valider'];
  for (const p of paths) {
    const r = await get(p);
    assert.equal(r.status, 200, p);
    assert.match(r.type, /^text\/html; charset=utf-8/, p);
    assert.match(r.body, /^<!doctype html>\n<html lang="fr">/, p);
    assert.match(r.headers.get('content-security-policy') ?? '', /script-src 'self'/, p);
    assert.doesNotMatch(r.body, /undefined|\[object Object\]|NaN/, p);
  }
  const css = await get('/ui/style.css');
  assert.equal(css.status, 200);
  assert.match(css.type, /^text\/css/);
  const js = await get('/ui/valider.js');
  assert.match(js.type, /^text\/javascript/);
});

test('the submissions list shows both outcomes, filters by outcome and organisation, and pages', async () => {
  const all = await get('/envois');
  assert.match(all.body, /Les Chênes Verts/);
  assert.equal((all.body.match(/badge ok">accepté/g) ?? []).length, 2);
  assert.equal((all.body.match(/badge ko">rejeté/g) ?? []).length, 1);
  assert.match(all.body, /1–3 sur 3/);
  const rejected = await get('/envois?resultat=rejete');
  assert.equal((rejected.body.match(/<tr>/g) ?? []).length - 1, 1);
  const none = await get('/envois?organisation=000000000');
  assert.match(none.body, /Aucun envoi ne correspond à ces critères/);
  const future = await get('/envois?du=2999-01-01');
  assert.match(future.body, /Aucun envoi ne correspond/);
  const bad = await get('/envois?du=pas-une-date&page=-3');
  assert.equal(bad.status, 200);
});

test('a rejected submission keeps its Bundle and shows the escaped offending excerpt', async () => {
  const r = await get(`/envois/${seed.rejected.submissionId}`);
  assert.equal(r.status, 200);
  assert.match(r.body, /Envoi rejeté : rien n’a été enregistré/);
  // The unknown element, its rule and its excerpt, escaped.
  assert.match(r.body, /Bundle\.entry\[0\]\.resource\.surnom/);
  assert.match(r.body, /fhir-unknown-element/);
  assert.ok(!r.body.includes(REJECTED_MARKER), 'submitted markup must never be output raw');
  assert.ok(r.body.includes('&lt;script&gt;alert(\\&quot;tddui\\&quot;)&lt;/script&gt;'));
  assert.match(r.body, /j-mark">.*surnom/);
  // The séjour without subject: the missing element named where it should be.
  assert.match(r.body, /Encounter\.subject : minimum requis = 1/);
  assert.match(r.body, /élément absent : <code>subject<\/code> dans <code>Bundle\.entry\[2\]\.resource<\/code>/);
  const bundle = await fetch(`${srv.url}/envois/${seed.rejected.submissionId}/bundle.json`);
  assert.equal(bundle.status, 200);
  assert.equal(((await bundle.json()) as { entry: { resource: { surnom?: string } }[] }).entry[0].resource.surnom, REJECTED_MARKER);
});

test('usagers: search by name and identifier, usager page with GIR and PP tree', async () => {
  const list = await get('/usagers');
  assert.match(list.body, /DUPONT/);
  assert.match(list.body, /L\./);
  const byName = await get('/usagers?q=jeanne');
  assert.match(byName.body, /Jeanne L\./);
  assert.doesNotMatch(byName.body, /DUPONT/);
  const byId = await get('/usagers?q=3480787529%2F194704032');
  assert.match(byId.body, /DUPONT/);
  assert.doesNotMatch(byId.body, /Jeanne/);
  const jeanne = (await srv.repo.search({ resourceType: 'Patient', params: [{ name: 'given', values: ['Jeanne'] }], count: 1, offset: 0 })).matches[0];
  const page = await get(`/usagers/${jeanne.id}`);
  assert.match(page.body, /<span class="gir" id="gir">GIR 3<\/span>/);
  assert.match(page.body, /class="tree pp-tree"/);
  for (const kind of ['pp', 'attente', 'besoin', 'objectif', 'action', 'moyen', 'accord']) assert.match(page.body, new RegExp(`data-kind="${kind}"`), kind);
  assert.match(page.body, /Action du kinésithérapeute pour atteindre l&#39;objectif 1/);
  assert.match(page.body, /Versions du projet/);
  const dupont = (await srv.repo.search({ resourceType: 'Patient', params: [{ name: 'family', values: ['DUPONT'] }], count: 1, offset: 0 })).matches[0];
  const d = await get(`/usagers/${dupont.id}`);
  assert.match(d.body, /INS-NIR<\/span> <code>147720425367411<\/code> — Identité validée/);
  assert.match(d.body, /aria-label="Frise des séjours"/);
  assert.match(d.body, /<title>10:30–11:15 Visite à domicile pour soins infirmier\. — terminé<\/title>/);
  assert.match(d.body, /Transport Taxi/);
  // Both submissions about him: the accepted one (by id) and the rejected one (by local id).
  const envois = d.body.slice(d.body.indexOf('id="envois-usager"'));
  assert.match(envois, /badge ok">accepté.*badge ko">rejeté|badge ko">rejeté.*badge ok">accepté/s);
  assert.ok(envois.includes(`/envois/${seed.rejected.submissionId}`));
  const missing = await get('/usagers/inconnu');
  assert.equal(missing.status, 404);
  assert.match(missing.body, /L’usager inconnu est introuvable/);
});

test('pilotage shows the indicators of the stored data', async () => {
  const r = await get('/pilotage?date=2023-04-20');
  assert.match(r.body, /<div class="v" id="actifs">1<\/div>/);
  assert.match(r.body, /aria-label="Usagers par GIR"/);
  assert.match(r.body, /GIR 3 — Usagers : 1/);
  assert.match(r.body, /10\/04 — Évènements : 1/);
  assert.match(r.body, /Les Chênes Verts/);
  const again = await get('/pilotage?date=2023-04-20');
  assert.match(again.body, /Indicateurs à jour/);
});

test('pilotage, once viewed, is computed again in the background after an accepted write', async () => {
  const first = await get('/pilotage');
  assert.equal(first.status, 200);
  assert.match((await get('/pilotage')).body, /Indicateurs à jour/);
  // New data through the FHIR API: a resend of the official SSIAD Bundle (new versions).
  const sent = await fetch(`${srv.url}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(readExample('Bundle-tddui-bundle-example.json')) });
  assert.equal(sent.status, 200);
  // Without the warm-up this view would compute ("Indicateurs calculés en … ms").
  await new Promise((r) => setTimeout(r, 1500));
  assert.match((await get('/pilotage')).body, /Indicateurs à jour/);
  // A rejected send or a validation changes nothing and schedules nothing.
  const rejected = await fetch(`${srv.url}/fhir/$validate`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: '{"resourceType":"Patient"}' });
  assert.equal(rejected.status, 200);
});

test('valider: unreadable files get a French message, a valid Bundle a clean report, nothing is stored', async () => {
  const before = (await srv.repo.listSubmissions({ count: 1, offset: 0 })).total;
  const notJson = await postForm('/valider', { contenu: '{"resourceType": "Bundle", ', nom: 'export.json' });
  assert.equal(notJson.status, 200);
  assert.match(notJson.body, /id="resultat" data-valid="false">Le fichier n’est pas un JSON valide \(ligne 1, colonne 28\)/);
  const empty = await postForm('/valider', { contenu: '  ', nom: 'vide.json' });
  assert.match(empty.body, /Le fichier est vide\./);
  const ok = await postForm('/valider', { contenu: JSON.stringify(readExample('Bundle-tddui-pp-pa-bundle-example.json')), nom: 'pa.json' });
  assert.match(ok.body, /data-valid="true"/);
  assert.match(ok.body, /« pa\.json » est conforme : aucune erreur\./);
  const bad = readExample('Patient-tddui-patient-ins-example.json');
  bad.gender = '<b>homme</b>';
  const ko = await postForm('/valider', { contenu: JSON.stringify(bad), nom: '<patient>.json' });
  assert.match(ko.body, /data-valid="false"/);
  assert.match(ko.body, /« &lt;patient&gt;\.json » n’est pas conforme/);
  assert.match(ko.body, /Patient\.gender/);
  assert.ok(!ko.body.includes('<b>homme</b>'));
  assert.equal((await srv.repo.listSubmissions({ count: 1, offset: 0 })).total, before);
});

test('a resent projet personnalisé shows its versions, the newest first', async () => {
  const pa = readExample('Bundle-tddui-pp-pa-bundle-example.json') as { entry: { resource: Record<string, unknown> }[] };
  const plan = pa.entry.find((e) => e.resource.resourceType === 'CarePlan')!.resource;
  plan.title = 'Projet personnalisé de Mme Jeanne L. (révisé)';
  const { ingestTransaction } = await import('../ingest/index.js');
  assert.equal((await ingestTransaction({ repo: srv.repo, validator: srv.validator }, pa)).status, 200);
  const jeanne = (await srv.repo.search({ resourceType: 'Patient', params: [{ name: 'given', values: ['Jeanne'] }], count: 1, offset: 0 })).matches[0];
  const page = await get(`/usagers/${jeanne.id}`);
  const versions = page.body.slice(page.body.indexOf('table class="list versions"'));
  assert.match(versions, /<td>2 \(actuelle\)<\/td>.*\(révisé\).*<td>1<\/td>/s);
  assert.match(page.body, /<span class="kind kind-pp">Projet personnalisé<\/span>Projet personnalisé de Mme Jeanne L\. \(révisé\)/);
});

test('valider renders the report of every official example, in JSON and in XML', async () => {
  const { readdirSync } = await import('node:fs');
  const { jsonToXml } = await import('../fhir/xml/index.js');
  const files = readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json') && !f.startsWith('.'));
  assert.ok(files.length >= 40);
  for (const f of files) {
    const example = readExample(f);
    for (const [name, contenu] of [
      [f, JSON.stringify(example)],
      [f.replace(/\.json$/, '.xml'), jsonToXml(example)],
    ]) {
      const r = await postForm('/valider', { contenu, nom: name });
      assert.equal(r.status, 200, name);
      assert.match(r.body, /id="resultat" data-valid="(true|false)"/, name);
      assert.doesNotMatch(r.body, /undefined|\[object Object\]|NaN/, name);
    }
  }
});

test('unknown pages: a French 404 for browsers, an OperationOutcome otherwise; /fhir untouched', async () => {
  const page = await get('/nulle-part');
  assert.equal(page.status, 404);
  assert.match(page.body, /La page \/nulle-part n’existe pas/);
  const api = await get('/nulle-part', 'application/fhir+json');
  assert.equal(api.status, 404);
  assert.equal((JSON.parse(api.body) as { resourceType: string }).resourceType, 'OperationOutcome');
  const fhir = await get('/fhir/metadata', 'application/fhir+json');
  assert.equal(fhir.status, 200);
  const sub = await get('/envois/00000000-0000-0000-0000-000000000000');
  assert.equal(sub.status, 404);
});
