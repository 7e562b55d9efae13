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
  srv = await startServer({ port: 0, dataDir: 'memory://', packages: [SHARED_FHIR], logLevel: 'warn' });
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
  assert.match(bad.body, /id="dates-invalides">Date non reconnue : « pas-une-date »/);
  // Past the last page: not "no submission yet", but how many there are and a link to the last page.
  const beyond = await get('/envois?page=999&resultat=accepte');
  assert.doesNotMatch(beyond.body, /Aucun envoi reçu pour le moment/);
  assert.match(beyond.body, /La page 999 n’existe pas : 2 envois sur 1 page\.\s*<a href="\/envois\?resultat=accepte">Aller à la dernière page \(1\)<\/a>/);
  // Inverted dates: a hint with the swapped period.
  const inverted = await get('/envois?du=2026-03-01&au=2026-02-01');
  assert.match(inverted.body, /id="dates-inversees">La date de début \(01\/03\/2026\) est postérieure à la date de fin \(01\/02\/2026\)/);
  assert.match(inverted.body, /href="\/envois\?du=2026-02-01&amp;au=2026-03-01">Inverser les dates/);
  const usagersBeyond = await get('/usagers?page=50');
  assert.match(usagersBeyond.body, /La page 50 n’existe pas : \d+ usagers sur 1 page\./);
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
  // Sorted on the name shown (DUPONT before L.), both ways; the organisation column and filter.
  assert.ok(list.body.indexOf('Jean DUPONT') < list.body.indexOf('Jeanne L.'));
  assert.match(list.body, /<th aria-sort="ascending"><a class="sort" href="\/usagers\?tri=-nom"/);
  const desc = await get('/usagers?tri=-nom');
  assert.ok(desc.body.indexOf('Jeanne L.') < desc.body.indexOf('Jean DUPONT'));
  assert.match(desc.body, /<th aria-sort="descending">/);
  assert.match(list.body, /<td data-label="Organisation">Les Chênes Verts<\/td>/);
  assert.match(list.body, /<option value="480787529">Les Chênes Verts \(480787529\)<\/option>/);
  assert.equal((await get('/usagers?organisation=480787529')).body.match(/<td data-label="Nom">/g)?.length, 2);
  assert.match((await get('/usagers?organisation=000000000')).body, /Aucun usager ne correspond à cette recherche/);
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
  assert.match(d.body, /<title>10:30–11:15 Visite à domicile pour soins infirmier\. \(terminé\)<\/title>/);
  // One event: "1 évènement", not "1 évènements".
  assert.match(d.body, /Agenda \(1 évènement, 2 transports\)/);
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

test('pilotage: the reference day drives every dated indicator; an empty chart says "Aucune donnée"; the title names no SSIAD', async () => {
  // A second AGGIR evaluation for Jean DUPONT, dated 2023-05-02, GIR 5 (MED-343).
  const dupont = (await srv.repo.search({ resourceType: 'Patient', params: [{ name: 'family', values: ['DUPONT'] }], count: 1, offset: 0 })).matches[0];
  await srv.repo.create({
    resourceType: 'QuestionnaireResponse',
    identifier: { system: 'https://identifiant-medicosocial-evaluation.esante.gouv.fr', value: '3480787529/194704032-EVAL-90001' },
    questionnaire: 'https://interop.esante.gouv.fr/ig/fhir/tddui/Questionnaire/tddui-questionnaire-aggir-pa-ssiad',
    status: 'completed',
    subject: { reference: `Patient/${dupont.id}` },
    authored: '2023-05-02',
    item: [{ linkId: 'resultat-eval', answer: [{ valueCoding: { system: 'https://smt.esante.gouv.fr/fhir/CodeSystem/terminologie-cisis', code: 'MED-343', display: 'GIR-5' } }] }],
  });
  const kpi = (body: string, id: string) => new RegExp(`<div class="v" id="${id}">([^<]*)</div>`).exec(body)?.[1];
  const before = await get('/pilotage?date=2023-04-20');
  assert.match(before.body, /<h1>Pilotage<\/h1>/);
  assert.doesNotMatch(before.body, /SSIAD<\/h1>|Pilotage SSIAD/);
  // On 20/04/2023: Jean's séjour is in progress; his evaluation of 02/05 does not exist yet (the
  // PA example's evaluation has no date and counts whatever the day).
  assert.equal(kpi(before.body, 'actifs'), '1');
  assert.equal(kpi(before.body, 'evalues'), '1');
  assert.match(before.body, /GIR 3 — Usagers : 1/);
  assert.match(before.body, /GIR 5 — Usagers : 0/);
  assert.equal(kpi(before.body, 'evenements'), '1');
  const after = await get('/pilotage?date=2023-05-10');
  assert.equal(kpi(after.body, 'evalues'), '2');
  assert.match(after.body, /GIR 5 — Usagers : 1/);
  // Weeks end with the reference day's week: the event of 14/04/2023 is out of a 4-week window ending in July.
  const july = await get('/pilotage?date=2023-07-31&semaines=4');
  assert.equal(kpi(july.body, 'evenements'), '0');
  assert.match(july.body, /id="sans-activite">Aucun évènement ni transport sur ces 4 semaines\. Les dernières données datent de la semaine du 10\/04\/2023/);
  assert.match(july.body, /<text class="no-data"[^>]*>Aucune donnée<\/text>/);
  // Long before any data: the GIR chart is empty too.
  const early = await get('/pilotage?date=2000-01-01');
  assert.equal(kpi(early.body, 'actifs'), '0');
  const bad = await get('/pilotage?date=31%2F12%2F2023');
  assert.match(bad.body, /id="date-invalide">Date non reconnue : « 31\/12\/2023 »/);
});

test('pilotage reads counts the writes keep current: a send shows at once, an unchanged resend changes nothing', async () => {
  const kpi = async (id: string) => new RegExp(`<div class="v" id="${id}">([^<]*)</div>`).exec((await get('/pilotage')).body)?.[1];
  const usagers = await kpi('usagers-total');
  const first = await get('/pilotage');
  assert.match(first.body, /id="fraicheur">Indicateurs à jour : tenus à chaque envoi reçu \(lus en \d+ ms\)/);
  // A resend of the official SSIAD Bundle (sent before by the seed): every entry unchanged.
  const sent = await fetch(`${srv.url}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(readExample('Bundle-tddui-bundle-example.json')) });
  assert.equal(sent.status, 200);
  const report = await get(`/envois/${sent.headers.get('x-tddui-submission')}`);
  assert.match(report.body, /id="inchangees">dont \d+ inchangées? : renvoyées? à l’identique/);
  assert.equal(await kpi('usagers-total'), usagers);
  // A new usager counts on the very next view (nothing computed in the background).
  await srv.repo.create({ resourceType: 'Patient', identifier: [{ system: 'https://identifiant-medicosocial-localusager.esante.gouv.fr', value: '3480787529/pilotage-1' }], name: [{ family: 'NOUVEAU' }] });
  assert.equal(Number(await kpi('usagers-total')), Number(usagers) + 1);
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

test('attached documents open and download from the PP tree: their bytes, type and file name, no script', async () => {
  const jeanne = (await srv.repo.search({ resourceType: 'Patient', params: [{ name: 'given', values: ['Jeanne'] }], count: 1, offset: 0 })).matches[0];
  const page = await get(`/usagers/${jeanne.id}`);
  const tree = page.body.slice(page.body.indexOf('id="projet"'), page.body.indexOf('id="documents"'));
  // Every document is listed in "Documents" too, with what it is attached to.
  const listed = page.body.slice(page.body.indexOf('id="documents"'));
  assert.match(listed, /<strong>bilanobj1\.pdf<\/strong>[^]*joint à : objectif 3480787529\/123456789-OBJE-1234/);
  const links = [...tree.matchAll(/<a href="(\/documents\/[^"?]+)" target="_blank" rel="noopener" class="doc-open">Ouvrir<\/a> · <a href="(\/documents\/[^"]+\?telecharger=1)" class="doc-download" download>Télécharger<\/a>/g)];
  // The PP's entrant document and the one attached to objectif 1.
  assert.equal(links.length, 2);
  const example = readExample('DocumentReference-tddui-pp-pa-documentreference-entrant-example.json') as { content: { attachment: { data: string; title: string } }[] };
  const expected = Buffer.from(example.content[0].attachment.data, 'base64');
  const opened = await Promise.all(links.map((m) => fetch(srv.url + m[1])));
  const entrant = opened.find((r) => (r.headers.get('content-disposition') ?? '').includes('contexte-actuel'))!;
  assert.equal(entrant.status, 200);
  assert.equal(entrant.headers.get('content-type'), 'application/pdf');
  assert.equal(entrant.headers.get('content-disposition'), `inline; filename="contexte-actuel-Jeanne-L.pdf"; filename*=UTF-8''contexte-actuel-Jeanne-L.pdf`);
  assert.equal(entrant.headers.get('x-content-type-options'), 'nosniff');
  const csp = entrant.headers.get('content-security-policy') ?? '';
  assert.match(csp, /^default-src 'none'; object-src 'self'/);
  assert.doesNotMatch(csp, /script-src/);
  assert.deepEqual(Buffer.from(await entrant.arrayBuffer()), expected);
  const download = links.find((m) => m[1] === new URL(entrant.url).pathname)![2];
  const saved = await fetch(srv.url + download);
  assert.match(saved.headers.get('content-disposition') ?? '', /^attachment; filename="contexte-actuel-Jeanne-L\.pdf"/);
  // A document a browser would run (HTML) is never shown inline, and keeps the UI's policy.
  const html = await srv.repo.create({ resourceType: 'DocumentReference', status: 'current', subject: { reference: `Patient/${jeanne.id}` }, content: [{ attachment: { contentType: 'text/html', title: 'Compte rendu é', data: Buffer.from('<script>alert(1)</script>').toString('base64') } }] });
  const risky = await fetch(`${srv.url}/documents/${html.id}/0`);
  assert.equal(risky.status, 200);
  assert.equal(risky.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(risky.headers.get('content-disposition'), `attachment; filename="Compte rendu e.html"; filename*=UTF-8''Compte%20rendu%20%C3%A9.html`);
  assert.match(risky.headers.get('content-security-policy') ?? '', /^default-src 'none'; style-src 'self'; script-src 'self'/);
  // Unknown document, attachment or index: a French 404.
  assert.equal((await get(`/documents/${html.id}/1`)).status, 404);
  assert.equal((await get('/documents/inconnu/0')).status, 404);
  const notNumber = await get(`/documents/${html.id}/x`);
  assert.equal(notNumber.status, 404);
  assert.match(notNumber.body, /Ce document est introuvable/);
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
