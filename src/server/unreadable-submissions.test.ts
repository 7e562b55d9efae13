// Issue 20: a transaction body that cannot be read (not JSON, not FHIR XML, empty) is answered
// 400 and kept in the submission log with its text and reason, shown in Envois reçus as
// illisible; a resource that is not a Bundle is shown with its type.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type RunningServer } from './app.js';
import { SHARED_FHIR } from '../testing/paths.js';

let srv: RunningServer;

before(async () => {
  srv = await startServer({ port: 0, dataDir: 'memory://', packages: [SHARED_FHIR], logLevel: 'warn' });
});

after(async () => {
  await srv?.close();
});

const post = async (body: string, type: string) => {
  const res = await fetch(`${srv.url}/fhir`, { method: 'POST', headers: { 'content-type': type, accept: 'application/fhir+json' }, body });
  return { status: res.status, json: (await res.json()) as { resourceType: string; issue: { details?: { text?: string }; diagnostics?: string }[] } };
};

test('malformed JSON and XML bodies and a non-Bundle are logged; Envois reçus shows them with their reason', async () => {
  const before = (await srv.repo.listSubmissions({ count: 1, offset: 0 })).total;
  const json = await post('{"resourceType": "Bundle", "type": "transaction", "entry": [', 'application/fhir+json');
  assert.equal(json.status, 400);
  assert.equal(json.json.resourceType, 'OperationOutcome');
  const xml = await post('<Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/>', 'application/fhir+xml');
  assert.equal(xml.status, 400);
  const patient = await post(JSON.stringify({ resourceType: 'Patient', gender: 'female' }), 'application/fhir+json');
  assert.equal(patient.status, 400);
  // Like every rejection: French in details.text, English in diagnostics (issue 20).
  assert.equal(patient.json.issue[0]!.details!.text, 'Le corps de la requête n’est pas un Bundle FHIR');
  assert.equal(patient.json.issue[0]!.diagnostics, 'The request body is not a FHIR Bundle');
  assert.match(json.json.issue[0]!.details!.text!, /^Le corps de la requête n’est pas du JSON valide : ligne 1, colonne \d+ : le texte s’arrête avant la fin du JSON$/);
  assert.match(json.json.issue[0]!.diagnostics!, /^The request body is not valid JSON: /);
  assert.match(xml.json.issue[0]!.details!.text!, /^Le corps de la requête n’est pas une ressource FHIR XML lisible : XML mal formé : l’élément <Bundle> n’est pas fermé \(ligne 1, colonne 1\)$/);
  const list = await srv.repo.listSubmissions({ count: 10, offset: 0 });
  assert.equal(list.total, before + 3);
  const [p, x, j] = list.items;
  assert.equal(p!.submittedType, 'Patient');
  for (const s of [x!, j!]) {
    assert.equal(s.outcome, 'rejected');
    assert.equal(s.httpStatus, 400);
    assert.equal(s.submittedType, undefined);
  }
  const logged = await srv.repo.getSubmission(j!.id);
  assert.deepEqual(logged?.bundle, { unreadableBody: '{"resourceType": "Bundle", "type": "transaction", "entry": [' });
  const page = await (await fetch(`${srv.url}/envois`, { headers: { accept: 'text/html' } })).text();
  assert.equal((page.match(/badge ko illisible">illisible/g) ?? []).length, 2);
  assert.match(page, /Patient, pas un Bundle/);
  const detail = await (await fetch(`${srv.url}/envois/${j!.id}`, { headers: { accept: 'text/html' } })).text();
  assert.match(detail, /Envoi illisible/);
  assert.match(detail, /&quot;entry&quot;: \[/);
  assert.match(detail, new RegExp(json.json.issue[0]!.details!.text!.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/'/g, '&#39;').replace(/"/g, '&quot;')));
});

test('a long unreadable body is kept cut at 64 KiB', async () => {
  const big = '{' + 'x'.repeat(200_000);
  assert.equal((await post(big, 'application/fhir+json')).status, 400);
  const last = (await srv.repo.listSubmissions({ count: 1, offset: 0 })).items[0]!;
  const logged = await srv.repo.getSubmission(last.id);
  assert.equal((logged?.bundle as { unreadableBody: string }).unreadableBody.length, 64 * 1024);
});

test('an unknown search parameter has its French text, in the outcome entry and in a strict refusal', async () => {
  const lenient = (await (await fetch(`${srv.url}/fhir/Patient?foo=bar`, { headers: { accept: 'application/fhir+json' } })).json()) as { entry: { resource: { issue: { details: { text: string }; diagnostics: string }[] } }[] };
  const issue = lenient.entry.find((e) => e.resource.issue)!.resource.issue[0]!;
  assert.equal(issue.details.text, 'Paramètre de recherche inconnu « foo » pour Patient : ignoré');
  assert.equal(issue.diagnostics, 'Unknown search parameter "foo" for Patient: ignored');
  const strict = await fetch(`${srv.url}/fhir/Patient?foo=bar`, { headers: { accept: 'application/fhir+json', prefer: 'handling=strict' } });
  assert.equal(strict.status, 400);
  const oo = (await strict.json()) as { issue: { details: { text: string } }[] };
  assert.equal(oo.issue[0]!.details.text, 'Paramètre de recherche inconnu « foo » pour Patient');
});
