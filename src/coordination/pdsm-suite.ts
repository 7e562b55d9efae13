// PDSm 3.1.1 Gestionnaire de partage de documents over real HTTP, on one database: every
// interaction of its CapabilityStatement (transaction = ITI-65, DocumentReference read / search
// = ITI-67 / patch, List read / search = ITI-66, Binary read = ITI-68), ITI-105, the official
// examples (accepted, or refused where the HL7 validator reports them too: docs/decisions.md
// D-120), and the 405s of the interactions it does not offer.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { http, postgresSkipReason, type DbKind, startTestServer, type TestServer } from '../server/test-support.js';
import { REPO_ROOT } from '../testing/paths.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export const CACHE = join(REPO_ROOT, '..', 'shared', 'fhir-packages');
export const PDSM_DIR = join(CACHE, 'ans.fhir.fr.pdsm#3.1.1');
const PROVIDE = 'https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-comprehensive-provide-document-bundle';
const IS_ARCHIVED = 'https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-ext-is-archived';

export function pdsmExample(file: string): Json {
  const j = JSON.parse(readFileSync(join(PDSM_DIR, 'package', 'example', file), 'utf8'));
  delete j.text;
  return j;
}

const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('base64');
const sha256 = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');
const errors = (oo: Json) => (oo?.issue ?? []).filter((i: Json) => i.severity === 'error' || i.severity === 'fatal');
const U = (n: number) => `urn:uuid:1e0c4a43-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** The official simplified-publish example with its stated size and hash made true (the official one states 250,000 bytes for 11). */
export function correctedSimplified(): Json {
  const doc = pdsmExample('DocumentReference-PDSmSimplifiedExample.json');
  const bytes = Buffer.from(doc.content[0].attachment.data, 'base64');
  Object.assign(doc.content[0].attachment, { size: bytes.length, hash: sha1(bytes) });
  return doc;
}

/**
 * An ITI-65 Bundle of the official SubmissionSet, DocumentReference, Binary and Folder; with
 * `correct`, the defects the HL7 validator reports removed (dom-4: contained meta.versionId /
 * lastUpdated; dom-3: the contained Practitioner referenced as author; size and hash of the
 * Binary), and the Lists' items pointing at the Bundle's DocumentReference.
 */
export function provideBundle(correct: boolean): Json {
  const bin = pdsmExample('Binary-6789.json');
  const doc = pdsmExample('DocumentReference-exemple-pdsm-documentreference.json');
  const ss = pdsmExample('List-ExampleSubmissionSet.json');
  const folder = pdsmExample('List-ExampleFolder.json');
  doc.content[0].attachment.url = U(3);
  ss.entry = [{ item: { reference: U(2) } }];
  folder.entry = [{ item: { reference: U(2) } }];
  if (correct) {
    for (const r of [doc, ss]) for (const c of r.contained ?? []) if (c.meta) (delete c.meta.versionId, delete c.meta.lastUpdated);
    const bytes = Buffer.from(bin.data, 'base64');
    Object.assign(doc.content[0].attachment, { size: bytes.length, hash: sha1(bytes) });
    doc.author = [{ reference: '#practitioner-example' }];
  }
  return {
    resourceType: 'Bundle',
    meta: { profile: [PROVIDE] },
    type: 'transaction',
    entry: [
      { fullUrl: U(1), resource: ss, request: { method: 'POST', url: 'List' } },
      { fullUrl: U(2), resource: doc, request: { method: 'POST', url: 'DocumentReference' } },
      { fullUrl: U(3), resource: bin, request: { method: 'POST', url: 'Binary' } },
      { fullUrl: U(4), resource: folder, request: { method: 'POST', url: 'List' } },
    ],
  };
}

export async function pdsmSuite(kind: DbKind): Promise<void> {
  const skip = kind === 'postgres' ? await postgresSkipReason() : undefined;
  describe(`PDSm Gestionnaire de partage de documents on the ${kind} database`, { skip, concurrency: false }, () => {
    let s: TestServer;
    const previous = process.env.FHIR_PACKAGE_CACHE;
    before(async () => {
      process.env.FHIR_PACKAGE_CACHE = CACHE;
      s = await startTestServer(kind, { packages: [PDSM_DIR] });
    });
    after(async () => {
      await s?.stop();
      if (previous === undefined) delete process.env.FHIR_PACKAGE_CACHE;
      else process.env.FHIR_PACKAGE_CACHE = previous;
    });
    const count = async (type: string) => (await s.repo.search({ resourceType: type, params: [], count: 0, offset: 0, handling: 'lenient' })).total;

    it('/metadata: the Gestionnaire statement’s interactions, and ITI-105 (create) on DocumentReference', async () => {
      const r = await http(`${s.base}/metadata`);
      assert.equal(r.status, 200);
      const rest = r.json.rest[0];
      const codes = (t: string) => (rest.resource.find((x: Json) => x.type === t)?.interaction ?? []).map((i: Json) => i.code);
      for (const c of ['read', 'search-type', 'patch', 'create']) assert.ok(codes('DocumentReference').includes(c), `DocumentReference ${c}`);
      for (const c of ['read', 'search-type']) assert.ok(codes('List').includes(c), `List ${c}`);
      assert.ok(codes('Binary').includes('read'));
      assert.ok(!codes('List').includes('create') && !codes('Binary').includes('create') && !codes('DocumentReference').includes('delete'));
      assert.ok(rest.interaction.some((i: Json) => i.code === 'transaction'));
    });

    it('official examples: the HL7-clean ones pass $validate (Patient, Organization, Binary, the ITI-65 response Bundle)', async () => {
      for (const f of ['Patient-fr-patient-123.json', 'Organization-org-example.json', 'Binary-6789.json', 'Bundle-a9c10f8a-882d-4000-a280-7150e0aeb478.json']) {
        const r = await http(`${s.base}/$validate`, { body: pdsmExample(f) });
        assert.equal(r.status, 200);
        assert.deepEqual(errors(r.json), [], `${f}: ${JSON.stringify(errors(r.json)).slice(0, 800)}`);
      }
    });

    it('ITI-105: the official simplified example is refused as the HL7 validator refuses it (size and hash do not match the data), nothing stored', async () => {
      const r = await http(`${s.base}/DocumentReference`, { body: pdsmExample('DocumentReference-PDSmSimplifiedExample.json') });
      assert.equal(r.status, 422, r.text.slice(0, 500));
      const at = errors(r.json).map((i: Json) => i.expression[0]);
      assert.ok(at.includes('DocumentReference.content[0].attachment.size') && at.includes('DocumentReference.content[0].attachment.hash'), JSON.stringify(at));
      assert.equal(await count('DocumentReference'), 0);
      assert.equal(await count('Binary'), 0);
    });

    let published: Json;
    it('ITI-105: the corrected example is published (201), its document stored as a Binary at attachment.url; a resend is the same document; other bytes under its masterIdentifier are refused', async () => {
      const doc = correctedSimplified();
      const r = await http(`${s.base}/DocumentReference`, { body: doc });
      assert.equal(r.status, 201, r.text.slice(0, 1500));
      assert.match(r.headers.get('location')!, /\/DocumentReference\/[^/]+\/_history\/1$/);
      published = r.json;
      const att = published.content[0].attachment;
      assert.equal(att.data, undefined);
      assert.match(att.url, /^Binary\/[A-Za-z0-9\-.]+$/);
      assert.equal(att.size, 11);
      assert.equal(att.hash, doc.content[0].attachment.hash);
      assert.ok(!(published.meta?.profile ?? []).some((p: string) => p.includes('simplified')), 'the inline profile no longer holds');
      const again = await http(`${s.base}/DocumentReference`, { body: doc });
      assert.equal(again.status, 200);
      assert.equal(again.json.id, published.id);
      assert.equal(await count('Binary'), 1);
      const other = structuredClone(doc);
      const bytes = Buffer.from('autre contenu');
      Object.assign(other.content[0].attachment, { data: bytes.toString('base64'), size: bytes.length, hash: sha1(bytes) });
      const clash = await http(`${s.base}/DocumentReference`, { body: other });
      assert.equal(clash.status, 422);
      assert.ok(errors(clash.json).some((i: Json) => i.details.coding[0].code === 'pdsm-unique-id'));
    });

    it('ITI-68: attachment.url answers the same bytes with the document’s type; the Binary resource in FHIR JSON when asked', async () => {
      const sent = Buffer.from(correctedSimplified().content[0].attachment.data, 'base64');
      const r = await fetch(`${s.base}/${published.content[0].attachment.url}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'application/pdf');
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(sha256(new Uint8Array(await r.arrayBuffer())), sha256(sent));
      const j = await http(`${s.base}/${published.content[0].attachment.url}`, { headers: { accept: 'application/fhir+json' } });
      assert.equal(j.json.resourceType, 'Binary');
      assert.equal(j.json.data, sent.toString('base64'));
      assert.equal((await fetch(`${s.base}/Binary/nope-${Date.now()}`)).status, 404);
    });

    it('ITI-67: DocumentReference search needs patient and status (400 naming what is missing)', async () => {
      const subject = published.subject.reference;
      const ok = await http(`${s.base}/DocumentReference?patient=${encodeURIComponent(subject)}&status=current`);
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.json.entry.map((e: Json) => e.resource.id), [published.id]);
      assert.equal((await http(`${s.base}/DocumentReference?patient=${encodeURIComponent(subject)}&status=superseded`)).json.total, 0);
      const noStatus = await http(`${s.base}/DocumentReference?patient=${encodeURIComponent(subject)}`);
      assert.equal(noStatus.status, 400);
      assert.match(noStatus.json.issue[0].diagnostics, /status/);
      const noPatient = await http(`${s.base}/DocumentReference?status=current`);
      assert.equal(noPatient.status, 400);
      assert.match(noPatient.json.issue[0].details.text, /patient/);
    });

    it('ITI-65: the official documents as sent are refused (dom-3, dom-4, size and hash, as the HL7 validator reports), nothing stored', async () => {
      const before = await count('List');
      const r = await http(s.base, { body: provideBundle(false) });
      assert.equal(r.status, 422, r.text.slice(0, 500));
      assert.equal(await count('List'), before);
    });

    let ids: Record<string, string> = {};
    it('ITI-65: the corrected Provide Document Bundle is stored all at once; references and attachment.url point at the stored resources', async () => {
      const r = await http(s.base, { body: provideBundle(true) });
      assert.equal(r.status, 200, JSON.stringify(errors(r.json)).slice(0, 3000));
      assert.equal(r.json.type, 'transaction-response');
      assert.ok(r.json.entry.every((e: Json) => e.response.status === '201 Created'));
      const [ss, doc, bin, folder] = r.json.entry.map((e: Json) => e.response.location.split('/')[1]);
      ids = { ss, doc, bin, folder };
      const stored = (await http(`${s.base}/DocumentReference/${doc}`)).json;
      assert.equal(stored.content[0].attachment.url, `Binary/${bin}`);
      const list = (await http(`${s.base}/List/${ss}`)).json;
      assert.deepEqual(list.entry.map((e: Json) => e.item.reference), [`DocumentReference/${doc}`]);
      // The answer is an MHD Provide Document Bundle Response.
      const v = await http(`${s.base}/$validate`, { body: r.json });
      assert.deepEqual(errors(v.json), []);
      const bytes = Buffer.from(pdsmExample('Binary-6789.json').data, 'base64');
      const got = Buffer.from(await (await fetch(`${s.base}/Binary/${bin}`)).arrayBuffer());
      assert.equal(sha256(got), sha256(bytes));
    });

    it('ITI-65: a Bundle with two SubmissionSets, or a Patient entry, or a hash that is not its Binary’s, is refused with nothing stored', async () => {
      const before = await count('DocumentReference');
      const two = provideBundle(true);
      two.entry.push({ fullUrl: U(9), resource: structuredClone(two.entry[0].resource), request: { method: 'POST', url: 'List' } });
      const patient = provideBundle(true);
      patient.entry.push({ fullUrl: U(8), resource: pdsmExample('Patient-fr-patient-123.json'), request: { method: 'POST', url: 'Patient' } });
      const hash = provideBundle(true);
      hash.entry[1].resource.content[0].attachment.hash = sha1(Buffer.from('x'));
      // (Two SubmissionSets: the Bundle profile's slice says it first.)
      for (const [b, rule] of [[two, 'fhir-slice-cardinality-max'], [patient, 'pdsm-entry-type'], [hash, 'pdsm-attachment-hash']] as const) {
        const r = await http(s.base, { body: b });
        assert.equal(r.status, 422, rule);
        assert.ok(errors(r.json).some((i: Json) => i.details.coding[0].code === rule), `${rule}: ${JSON.stringify(errors(r.json)).slice(0, 600)}`);
      }
      assert.equal(await count('DocumentReference'), before);
    });

    it('ITI-66: List search by patient (SubmissionSet and Folder), by code; without patient a 400', async () => {
      const subject = 'Patient/fr-patient-123';
      const all = await http(`${s.base}/List?patient=${encodeURIComponent(subject)}`);
      assert.equal(all.status, 200);
      assert.deepEqual(all.json.entry.map((e: Json) => e.resource.id).sort(), [ids.ss, ids.folder].sort());
      const sets = await http(`${s.base}/List?patient=${encodeURIComponent(subject)}&code=https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes|submissionset`);
      assert.deepEqual(sets.json.entry.map((e: Json) => e.resource.id), [ids.ss]);
      assert.equal((await http(`${s.base}/List/${ids.folder}`)).json.title, 'Classeur de suivi diabète');
      assert.equal((await http(`${s.base}/List?status=current`)).status, 400);
    });

    it('metadata update: PATCH of status, securityLabel, isArchived (instance and conditional); any other element 422; 405 for what the statement does not offer', async () => {
      const url = `${s.base}/DocumentReference/${ids.doc}`;
      const patch = (ops: Json[], target = url, headers: Record<string, string> = {}) => http(target, { method: 'PATCH', body: ops, type: 'application/json-patch+json', headers });
      const st = await patch([{ op: 'replace', path: '/status', value: 'superseded' }], url, { 'if-match': 'W/"1"' });
      assert.equal(st.status, 200, JSON.stringify(errors(st.json)).slice(0, 1500));
      assert.equal(st.json.status, 'superseded');
      const arch = await patch([{ op: 'add', path: '/extension', value: [{ url: IS_ARCHIVED, valueBoolean: true }] }]);
      assert.equal(arch.status, 200, JSON.stringify(errors(arch.json)).slice(0, 1500));
      const found = await http(`${s.base}/DocumentReference?patient=Patient/fr-patient-123&status=superseded&PDSm_isArchived=true`);
      assert.deepEqual(found.json.entry.map((e: Json) => e.resource.id), [ids.doc]);
      const label = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] };
      const cond = await patch([{ op: 'add', path: '/securityLabel', value: [label] }], `${s.base}/DocumentReference?identifier=${encodeURIComponent(`${published.masterIdentifier.system}|${published.masterIdentifier.value}`)}`);
      assert.equal(cond.status, 200, JSON.stringify(errors(cond.json)).slice(0, 1500));
      assert.deepEqual(cond.json.securityLabel, [label]);
      assert.equal(cond.json.id, published.id);
      const other = await patch([{ op: 'replace', path: '/description', value: 'changée' }]);
      assert.equal(other.status, 422);
      assert.deepEqual(errors(other.json).map((i: Json) => [i.details.coding[0].code, i.expression[0]]), [['pdsm-patch-metadata-only', 'DocumentReference.description']]);
      const version = Number((await http(url)).json.meta.versionId);
      assert.equal(version, 3);
      // Not offered by the Gestionnaire statement: 405.
      assert.equal((await http(url, { method: 'PUT', body: { ...(await http(url)).json } })).status, 405);
      assert.equal((await http(url, { method: 'DELETE' })).status, 405);
      assert.equal((await http(`${s.base}/List/${ids.ss}`, { method: 'PATCH', body: [{ op: 'replace', path: '/title', value: 'x' }], type: 'application/json-patch+json' })).status, 405);
      assert.equal((await http(`${s.base}/List`, { body: pdsmExample('List-ExampleFolder.json') })).status, 405);
      assert.equal((await http(`${s.base}/Binary`, { body: pdsmExample('Binary-6789.json') })).status, 405);
      assert.equal((await http(url)).json.meta.versionId, '3', 'nothing written by the refused requests');
    });

    it('read, vread and history of each stored type', async () => {
      for (const [type, id] of [['DocumentReference', ids.doc], ['List', ids.ss], ['Binary', ids.bin]] as const) {
        const j = { accept: 'application/fhir+json' };
        assert.equal((await http(`${s.base}/${type}/${id}`, { headers: j })).status, 200);
        assert.equal((await http(`${s.base}/${type}/${id}/_history/1`, { headers: j })).json.id, id);
        assert.ok((await http(`${s.base}/${type}/${id}/_history`, { headers: j })).json.total >= 1);
      }
    });
  });
}
