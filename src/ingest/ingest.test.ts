// Ingestion of transaction Bundles on both drivers: official examples, resend matching,
// atomic rejection, reference fixing, concurrent resends, submissions log.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { databaseFingerprint, forEachDriver } from '../storage/testing.js';
import type { FhirResource, Repository } from '../storage/types.js';
import { EXAMPLES_DIR, SHARED_FHIR } from '../testing/paths.js';
import { TdduiValidator } from '../tddui/validator.js';
import { ingestTransaction, type IngestContext } from './index.js';

type Json = Record<string, any>;

const SSIAD = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-bundle-example.json'), 'utf8')) as Json;
const PP_PA = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-pp-pa-bundle-example.json'), 'utf8')) as Json;
const NOW = () => new Date('2023-04-20T10:00:00Z');

let validator: TdduiValidator;
before(async () => {
  validator = await TdduiValidator.create({ packages: [SHARED_FHIR] });
});

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** The PP-PA bundle for another usager (another local id everywhere), so its objects are new. */
function otherUsager(localId: string): Json {
  return JSON.parse(JSON.stringify(PP_PA).replaceAll('3480787529/123456789', `3480787529/${localId}`)) as Json;
}

/** The SSIAD bundle with urn:uuid fullUrls and references (fresh uuids on each call). */
function withUrnUuids(b: Json): Json {
  const out = clone(b);
  const map = new Map<string, string>();
  for (const e of out.entry) {
    const uuid = `urn:uuid:${crypto.randomUUID()}`;
    map.set(`${e.resource.resourceType}/${e.resource.id}`, uuid);
    e.fullUrl = uuid;
  }
  const visit = (v: any): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') {
      if (typeof v.reference === 'string' && map.has(v.reference)) v.reference = map.get(v.reference);
      Object.values(v).forEach(visit);
    }
  };
  visit(out.entry);
  return out;
}

function locations(body: FhirResource): { type: string; id: string; version: number; status: string }[] {
  return (body.entry as Json[]).map((e) => {
    const [type, id, , v] = String(e.response.location).split('/');
    return { type, id, version: Number(v), status: e.response.status };
  });
}

async function currentCount(repo: Repository, type?: string): Promise<number> {
  const r = await repo.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM resource${type ? ' WHERE resource_type = $1' : ''}`,
    type ? [type] : [],
  );
  return Number(r.rows[0].n);
}

await forEachDriver('ingestTransaction', (getRepo, driver) => {
  const ctx = (): IngestContext => ({ repo: getRepo(), validator, now: NOW });
  let ssiadIds: string[] = [];
  let ppIds: string[] = [];

  test('the official SSIAD Bundle is accepted: 201 per entry, location/etag/lastModified, references fixed', async () => {
    const res = await ingestTransaction(ctx(), clone(SSIAD));
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 2000));
    assert.equal(res.body.resourceType, 'Bundle');
    assert.equal(res.body.type, 'transaction-response');
    const locs = locations(res.body);
    assert.equal(locs.length, SSIAD.entry.length);
    for (const [i, l] of locs.entries()) {
      assert.equal(l.status, '201 Created');
      assert.equal(l.type, SSIAD.entry[i].resource.resourceType);
      assert.equal(l.version, 1);
      assert.notEqual(l.id, SSIAD.entry[i].resource.id, 'the server assigns ids');
      const e = (res.body.entry as Json[])[i].response;
      assert.equal(e.etag, 'W/"1"');
      assert.match(e.lastModified, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    }
    ssiadIds = locs.map((l) => l.id);
    const repo = getRepo();
    const enc = await repo.read('Encounter', locs[2].id);
    assert.equal(enc.resource.id, locs[2].id);
    assert.equal((enc.resource.meta as Json).versionId, '1');
    assert.equal((enc.resource as Json).subject.reference, `Patient/${locs[0].id}`);
    assert.equal((enc.resource as Json).serviceProvider?.reference ?? `Organization/${locs[1].id}`, `Organization/${locs[1].id}`);
    const role = await repo.read('PractitionerRole', locs[5].id);
    assert.equal((role.resource as Json).practitioner.reference, `Practitioner/${locs[4].id}`);
    assert.equal((role.resource as Json).organization.reference, `Organization/${locs[1].id}`);
    assert.ok(res.submissionId);
    // The IG's examples reference a Location they do not contain: kept as it is.
    const evt = (await repo.read('Encounter', locs[3].id)).resource as Json;
    assert.ok(JSON.stringify(evt).includes('Location/'), 'reference outside the bundle kept');
  });

  test('resend of the SSIAD Bundle unchanged: same ids, 200 OK, no new version (the no-op rule), counted in the log', async () => {
    const repo = getRepo();
    const before = await currentCount(repo);
    const versionsBefore = await repo.db.query<{ n: number }>('SELECT count(*)::int AS n FROM resource_history');
    const res = await ingestTransaction(ctx(), clone(SSIAD));
    assert.equal(res.status, 200);
    const locs = locations(res.body);
    assert.deepEqual(locs.map((l) => l.id), ssiadIds);
    assert.ok(locs.every((l) => l.version === 1 && l.status === '200 OK'), JSON.stringify(locs));
    assert.ok((res.body.entry as Json[]).every((e) => e.response.etag === 'W/"1"'));
    assert.equal(await currentCount(repo), before, 'no duplicate');
    const hist = await repo.history({ resourceType: 'Patient', id: ssiadIds[0], count: 10, offset: 0 });
    assert.deepEqual(hist.entries.map((e) => e.versionId), [1]);
    const versionsAfter = await repo.db.query<{ n: number }>('SELECT count(*)::int AS n FROM resource_history');
    assert.equal(versionsAfter.rows[0].n, versionsBefore.rows[0].n, 'zero versions added');
    const logged = await repo.getSubmission(res.submissionId!);
    assert.equal(logged?.unchangedCount, SSIAD.entry.length);
    // One change: only that object gets a version; the log says how many entries changed nothing.
    const b = clone(SSIAD);
    b.entry[0].resource.telecom = [{ system: 'phone', value: '0102030405' }];
    const changed = await ingestTransaction(ctx(), b);
    assert.equal(changed.status, 200, JSON.stringify(changed.body).slice(0, 1500));
    const cl = locations(changed.body);
    assert.equal(cl[0].version, 2);
    assert.ok(cl.slice(1).every((l) => l.version === 1));
    assert.equal((await repo.getSubmission(changed.submissionId!))?.unchangedCount, SSIAD.entry.length - 1);
    // Back to the original: version 3 (a change again).
    assert.equal(locations((await ingestTransaction(ctx(), clone(SSIAD))).body)[0].version, 3);
  });

  test('resend with urn:uuid fullUrls and references (new uuids): matched by business keys, references fixed', async () => {
    const repo = getRepo();
    const b = withUrnUuids(SSIAD);
    const res = await ingestTransaction(ctx(), b);
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 2000));
    const locs = locations(res.body);
    assert.deepEqual(locs.map((l) => l.id), ssiadIds);
    // Same content once the references are rewritten: nothing new.
    assert.ok(locs.slice(1).every((l) => l.version === 1) && locs[0].version === 3, JSON.stringify(locs));
    const enc = (await repo.read('Encounter', ssiadIds[2])).resource as Json;
    assert.equal(enc.subject.reference, `Patient/${ssiadIds[0]}`);
    assert.ok(!JSON.stringify(enc).includes('urn:uuid:'));
  });

  test('the official PP-PA Bundle (25 entries, no Organization, a Consent without identifier) is accepted and resent', async () => {
    const repo = getRepo();
    const first = await ingestTransaction(ctx(), clone(PP_PA));
    assert.equal(first.status, 200, JSON.stringify(first.body).slice(0, 2000));
    ppIds = locations(first.body).map((l) => l.id);
    assert.equal(new Set(ppIds).size, PP_PA.entry.length);
    const count = await currentCount(repo);
    const again = await ingestTransaction(ctx(), clone(PP_PA));
    assert.equal(again.status, 200);
    assert.deepEqual(locations(again.body).map((l) => l.id), ppIds);
    assert.ok(locations(again.body).every((l) => l.version === 1 && l.status === '200 OK'));
    assert.equal(await currentCount(repo), count);
    const consent = await repo.read('Consent', ppIds[1]);
    assert.equal(consent.versionId, 1);
    // Owner of the keys: the FINESS prefix of the local ids (the bundle has no Organization).
    const owners = await repo.db.query<{ owner: string }>(`SELECT DISTINCT owner FROM business_key`);
    assert.deepEqual(owners.rows.map((r) => r.owner), ['480787529']);
  });

  test('R5: two Consents of one PP differing only by performer or by dateTime are stored apart; a resend matches each to itself', async () => {
    const repo = getRepo();
    const b = otherUsager('777000222');
    const base = b.entry[1];
    assert.equal(base.resource.resourceType, 'Consent');
    const copy = (id: string, change: (r: Json) => void): Json => {
      const e = clone(base);
      e.fullUrl = `https://test-server.fr/Consent/${id}`;
      e.resource.id = id;
      change(e.resource);
      return e;
    };
    // Same performer, another date (a second structure agreement); same date, the usager as signatory.
    const later = copy('consent-later', (r) => (r.dateTime = '2024-06-01T10:00:00+02:00'));
    const usager = copy('consent-usager', (r) => (r.performer = [{ reference: `Patient/${b.entry[0].resource.id}` }]));
    b.entry.splice(2, 0, later, usager);
    const carePlan = b.entry.find((e: Json) => e.resource.resourceType === 'CarePlan').resource;
    const info = carePlan.supportingInfo[0];
    carePlan.supportingInfo.push(
      { ...clone(info), reference: 'Consent/consent-later' },
      { extension: [{ ...clone(info.extension[0]), valueCodeableConcept: { coding: [{ ...info.extension[0].valueCodeableConcept.coding[0], code: 'accordUsager' }] } }], reference: 'Consent/consent-usager' },
    );
    const before = await currentCount(repo, 'Consent');
    const first = await ingestTransaction(ctx(), clone(b));
    assert.equal(first.status, 200, JSON.stringify(first.body).slice(0, 2000));
    const ids = locations(first.body).slice(1, 4).map((l) => l.id);
    assert.equal(new Set(ids).size, 3, 'three Consents');
    assert.equal(await currentCount(repo, 'Consent'), before + 3);
    // Resend with the entries in another order and fresh urn:uuid identities: each finds its own.
    const again = clone(b);
    [again.entry[1], again.entry[3]] = [again.entry[3], again.entry[1]];
    const res = await ingestTransaction(ctx(), withUrnUuids(again));
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 2000));
    const locs = locations(res.body);
    assert.deepEqual([locs[3].id, locs[2].id, locs[1].id], ids);
    assert.ok(locs.slice(1, 4).every((l) => l.version === 1 && l.status === '200 OK'), 'each found itself, unchanged');
    assert.equal(await currentCount(repo, 'Consent'), before + 3);
    const usagerConsent = (await repo.read('Consent', ids[2])).resource as Json;
    assert.match(usagerConsent.performer[0].reference, /^Patient\//);
  });

  test('a DocumentReference first sent by a plain create is matched by a later transaction, and the other way round', async () => {
    const repo = getRepo();
    const b = otherUsager('777000333');
    const i = b.entry.findIndex((e: Json) => e.resource.resourceType === 'DocumentReference');
    const { id: _local, ...doc } = clone(b.entry[i].resource);
    doc.subject = { reference: 'Patient/somewhere' };
    delete doc.author;
    const created = await repo.create(doc as FhirResource);
    assert.equal(created.versionId, 1);
    const res = await ingestTransaction(ctx(), clone(b));
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 2000));
    const loc = locations(res.body)[i];
    assert.deepEqual([loc.id, loc.version, loc.status], [created.id, 2, '200 OK']);
    assert.equal(((await repo.read('DocumentReference', created.id)).resource as Json).subject.reference, `Patient/${locations(res.body)[0].id}`);
    // Transaction first, plain create next: a new version of the transaction's document.
    const j = b.entry.findIndex((e: Json, n: number) => n > i && e.resource.resourceType === 'DocumentReference');
    const again = await repo.create({ ...clone(b.entry[j].resource), id: undefined } as FhirResource);
    assert.deepEqual([again.id, again.versionId], [locations(res.body)[j].id, 2]);
  });

  test('an invalid bundle (one bad entry among 25) is rejected with 422, expression on that entry, database unchanged', async () => {
    const repo = getRepo();
    const bad = clone(PP_PA);
    delete bad.entry[7].resource.identifier; // Goal objectif: identifier 1..1
    bad.entry[7].resource.foo = 'bar';
    const snapshot = await databaseFingerprint(repo, ['submission']);
    const submissionsBefore = await repo.listSubmissions({ count: 1, offset: 0 });
    const res = await ingestTransaction(ctx(), bad);
    assert.equal(res.status, 422);
    assert.equal(res.body.resourceType, 'OperationOutcome');
    const errors = (res.body.issue as Json[]).filter((i) => i.severity === 'error');
    assert.ok(errors.length >= 1);
    assert.ok(errors.every((i) => String(i.expression?.[0]).startsWith('Bundle.entry[7]')), JSON.stringify(errors));
    assert.deepEqual(await databaseFingerprint(repo, ['submission']), snapshot);
    const after = await repo.listSubmissions({ count: 1, offset: 0 });
    assert.equal(after.total, submissionsBefore.total + 1);
    const logged = await repo.getSubmission(res.submissionId!);
    assert.equal(logged?.outcome, 'rejected');
    assert.equal(logged?.httpStatus, 422);
    assert.ok(logged!.errorCount >= 1);
    assert.deepEqual(logged?.report, res.body);
    assert.equal((logged?.bundle as Json).entry[7].resource.foo, 'bar', 'the rejected bundle is kept as sent');
  });

  test('a rejected Bundle larger than 8 MiB once bounded keeps its record and report, not its document (D-85)', async () => {
    const repo = getRepo();
    const big = clone(PP_PA);
    // 160 notes of 60,000 characters (each under the 64 KiB cut): 9.6 MB kept otherwise.
    big.entry[7].resource.note = Array.from({ length: 160 }, (_, i) => ({ text: String(i % 10).repeat(60_000) }));
    big.entry[7].resource.foo = 'bar';
    const res = await ingestTransaction(ctx(), big);
    assert.equal(res.status, 422);
    const logged = await repo.getSubmission(res.submissionId!);
    assert.equal(logged?.bundle, undefined);
    assert.equal(logged?.bundleDropped, 'size');
    assert.deepEqual(logged?.report, res.body);
    assert.equal(logged?.resourceCount, 25, 'the record describes it');
  });

  test('a rejected submission keeps the first issues of its report in the log (at most 2,000 and 512 KiB), the client gets them all (D-191, D-270)', async () => {
    const repo = getRepo();
    const bad = clone(PP_PA);
    for (let i = 0; i < 2_100; i++) bad.entry[7].resource[`foo${i}`] = 'bar';
    const res = await ingestTransaction(ctx(), bad);
    assert.equal(res.status, 422);
    const all = res.body.issue as Json[];
    assert.ok(all.length > 2_100, `${all.length} issues`);
    const logged = await repo.getSubmission(res.submissionId!);
    const kept = (logged?.report as Json).issue as Json[];
    const n = kept.length - 1;
    assert.ok(n > 100 && n <= 2_000, `${n} issues kept and a note`);
    assert.deepEqual(kept.slice(0, n), all.slice(0, n), 'the first ones');
    const bytes = kept.slice(0, n).reduce((sum, i) => sum + Buffer.byteLength(JSON.stringify(i)) + 1, 0);
    assert.ok(bytes <= 512 * 1024, `${bytes} bytes kept`);
    assert.ok(bytes + Buffer.byteLength(JSON.stringify(all[n])) + 1 > 512 * 1024 || n === 2_000, 'as many as fit');
    assert.match(kept[n].diagnostics, new RegExp(`${all.length - n} more issues are not kept`));
    assert.match(kept[n].details.text, new RegExp(`${all.length - n} autres problèmes ne sont pas conservés`));
    assert.equal(logged?.errorCount, all.filter((i) => i.severity === 'error').length, 'the counts are of the whole report');
  });

  test('an entry that is not a POST is refused (TDDUI transactions create only): 422, nothing stored', async () => {
    const repo = getRepo();
    const b = clone(SSIAD);
    b.entry[3].request = { method: 'PUT', url: `Encounter/${ssiadIds[3]}` };
    const snapshot = await databaseFingerprint(repo, ['submission']);
    const res = await ingestTransaction(ctx(), b);
    assert.equal(res.status, 422);
    const errors = (res.body.issue as Json[]).filter((i) => i.severity === 'error');
    assert.ok(errors.some((i) => String(i.expression?.[0]).startsWith('Bundle.entry[3].request')), JSON.stringify(errors));
    assert.deepEqual(await databaseFingerprint(repo, ['submission']), snapshot);
    const logged = await repo.getSubmission(res.submissionId!);
    assert.equal(logged?.errorCount, errors.length);
  });

  test('urn:uuid fullUrls with relative references to the entries\' ids resolve to the entries', async () => {
    const repo = getRepo();
    const b = clone(SSIAD);
    for (const e of b.entry) e.fullUrl = `urn:uuid:${crypto.randomUUID()}`;
    const res = await ingestTransaction(ctx(), b);
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 1500));
    assert.deepEqual(locations(res.body).map((l) => l.id), ssiadIds);
    const enc = (await repo.read('Encounter', ssiadIds[2])).resource as Json;
    assert.equal(enc.subject.reference, `Patient/${ssiadIds[0]}`);
  });

  test('a resend with changed content replaces the current version and its index', async () => {
    const repo = getRepo();
    const b = clone(SSIAD);
    const enc = b.entry[3].resource;
    const before = (await repo.read('Encounter', ssiadIds[3])).resource as Json;
    const newStatus = before.status === 'cancelled' ? 'finished' : 'cancelled';
    enc.status = newStatus;
    const res = await ingestTransaction(ctx(), b);
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 1500));
    const after = await repo.read('Encounter', ssiadIds[3]);
    assert.equal((after.resource as Json).status, newStatus);
    const found = await repo.search({ resourceType: 'Encounter', params: [{ name: 'status', values: [newStatus] }, { name: '_id', values: [ssiadIds[3]] }], count: 5, offset: 0 });
    assert.equal(found.total, 1);
    const old = await repo.search({ resourceType: 'Encounter', params: [{ name: 'status', values: [before.status] }, { name: '_id', values: [ssiadIds[3]] }], count: 5, offset: 0 });
    assert.equal(old.total, 0);
    const prev = await repo.vread('Encounter', ssiadIds[3], after.versionId - 1);
    assert.equal((prev.resource as Json).status, before.status, 'the previous version is kept');
  });

  test('not a Bundle / not a transaction: 400 OperationOutcome, logged', async () => {
    const r1 = await ingestTransaction(ctx(), { resourceType: 'Patient' });
    assert.equal(r1.status, 400);
    assert.equal(r1.body.resourceType, 'OperationOutcome');
    const r2 = await ingestTransaction(ctx(), { ...clone(SSIAD), type: 'batch' });
    assert.equal(r2.status, 400);
    assert.deepEqual((r2.body.issue as Json[])[0].expression, ['Bundle.type']);
    const r3 = await ingestTransaction(ctx(), 'garbage');
    assert.equal(r3.status, 400);
    const s = await getRepo().getSubmission(r2.submissionId!);
    assert.equal(s?.outcome, 'rejected');
    assert.equal(s?.httpStatus, 400);
  });

  test('concurrent first sends and resends of one bundle end with one current version per business object', async () => {
    const repo = getRepo();
    const b = otherUsager('555000111');
    const before = await currentCount(repo);
    // Four variants (another phone number each): each send changes the Patient.
    const variant = (n: number) => {
      const x = clone(b);
      x.entry[0].resource.telecom = [{ system: 'phone', value: `010203040${n}` }];
      return x;
    };
    const results = await Promise.all([1, 2, 3, 4].map((n) => ingestTransaction(ctx(), variant(n))));
    for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 1000));
    // One new object per entry, except the Practitioner: same idNatPs, same professional.
    assert.equal(await currentCount(repo), before + b.entry.length - 1, 'no duplicate');
    const ids = results.map((r) => locations(r.body).map((l) => l.id));
    for (const x of ids) assert.deepEqual(x, ids[0]);
    assert.equal(ids[0][10], ppIds[10], 'shared Practitioner');
    assert.notEqual(ids[0][1], ppIds[1], 'the Consent of another usager is another Consent');
    // The versions 1..4 were each given once per object.
    const versions = results.map((r) => locations(r.body)[0].version).sort((a, b) => a - b);
    assert.deepEqual(versions, [1, 2, 3, 4]);
    const pat = await repo.search({ resourceType: 'Patient', params: [{ name: 'identifier', values: ['https://identifiant-medicosocial-localusager.esante.gouv.fr|3480787529/555000111'] }], count: 10, offset: 0 });
    assert.equal(pat.total, 1);
    assert.equal(pat.matches[0].versionId, 4);
    // Resends in parallel on existing objects too.
    const v0 = (await repo.read('Patient', ssiadIds[0])).versionId;
    const again = await Promise.all([1, 2, 3].map(() => ingestTransaction(ctx(), withUrnUuids(SSIAD))));
    for (const r of again) assert.deepEqual(locations(r.body).map((l) => l.id), ssiadIds);
    // Unchanged: no new version, whatever the concurrency.
    assert.deepEqual(again.map((r) => locations(r.body)[0].version), [v0, v0, v0]);
    // Changed in parallel: each change is one version.
    const changes = await Promise.all([1, 2, 3].map((n) => {
      const x = withUrnUuids(SSIAD);
      x.entry[0].resource.telecom = [{ system: 'phone', value: `060000000${n}` }];
      return ingestTransaction(ctx(), x);
    }));
    assert.deepEqual(changes.map((r) => locations(r.body)[0].version).sort((a, b) => a - b), [v0 + 1, v0 + 2, v0 + 3]);
    assert.equal(await currentCount(repo), before + b.entry.length - 1);
    void driver;
  });

  test('warnings are returned in the entries\' response.outcome', async () => {
    const res = await ingestTransaction({ repo: getRepo(), validator, now: () => new Date('2026-01-01T00:00:00Z') }, clone(SSIAD));
    assert.equal(res.status, 200);
    const outcomes = (res.body.entry as Json[]).map((e) => e.response.outcome).filter(Boolean);
    assert.ok(outcomes.length > 0);
    for (const o of outcomes) {
      assert.equal(o.resourceType, 'OperationOutcome');
      assert.ok(o.issue.every((i: Json) => i.severity === 'warning'));
    }
  });

  test('request.url: a profile name is accepted silently, a wrong type is a warning in the response (validator rule B3)', async () => {
    const b = clone(SSIAD);
    assert.equal(b.entry[0].request.url, 'TDDUIPatientINS');
    b.entry[1].request.url = 'Organization';
    b.entry[2].request.url = 'Patient';
    const res = await ingestTransaction(ctx(), b);
    assert.equal(res.status, 200);
    const outcomes = (res.body.entry as Json[]).map((e) => (e.response.outcome?.issue ?? []).filter((i: Json) => String(i.expression) .includes('request.url')));
    assert.deepEqual(outcomes.map((o) => o.length), [0, 0, 1, 0, 0, 0, 0, 0]);
    assert.equal(outcomes[2][0].severity, 'warning');
    assert.match(JSON.stringify(outcomes[2][0]), /tddui-request-url/);
    assert.deepEqual(locations(res.body).map((l) => l.id), ssiadIds, 'still the same objects');
  });

  test('submissions log: newest first, filters, full record by id', async () => {
    const repo = getRepo();
    const all = await repo.listSubmissions({ count: 100, offset: 0 });
    assert.ok(all.total >= 10);
    for (let i = 1; i < all.items.length; i++) assert.ok(all.items[i - 1].receivedAt >= all.items[i].receivedAt);
    assert.equal(all.items[0].bundle, undefined, 'the list is light');
    const accepted = await repo.listSubmissions({ outcome: 'accepted', count: 100, offset: 0 });
    const rejected = await repo.listSubmissions({ outcome: 'rejected', count: 100, offset: 0 });
    assert.equal(accepted.total + rejected.total, all.total);
    assert.ok(accepted.items.every((s) => s.outcome === 'accepted' && s.httpStatus === 200));
    const org = await repo.listSubmissions({ organizationFiness: '480787529', outcome: 'accepted', count: 2, offset: 1 });
    assert.equal(org.items.length, 2);
    assert.equal(org.total, accepted.total);
    const full = await repo.getSubmission(accepted.items[0].id);
    assert.ok(full);
    assert.equal((full!.bundle as Json).resourceType, 'Bundle');
    assert.equal((full!.response as Json).type, 'transaction-response');
    assert.equal((full!.report as Json).resourceType, 'OperationOutcome');
    assert.equal(full!.organizationFiness, '480787529');
    assert.ok(full!.usagers.length >= 1 && full!.usagers[0].id, 'usager with its server id');
    const ssiad = all.items.find((s) => s.organizationName && s.outcome === 'accepted');
    assert.ok(ssiad, 'the SSIAD bundle names its organisation');
    const none = await repo.listSubmissions({ from: '2099-01-01', count: 10, offset: 0 });
    assert.equal(none.total, 0);
    assert.equal(await repo.getSubmission('nope'), undefined);
  });
});

// D-336: the answer's text and the log's copy of the transaction-response are made from each
// entry's `response` serialised once — they must be the texts JSON.stringify gives of the Bundle
// (and of it with absolute fullUrls, as the server route answers it).
await forEachDriver('ingestTransaction response text', (getRepo) => {
  const ctx = (): IngestContext => ({ repo: getRepo(), validator, now: NOW });
  /** fhir-api's absoluteFullUrls, as the answer made it before D-336. */
  const absolute = (bundle: Json, base: string): Json => ({
    ...bundle,
    entry: (bundle.entry as Json[]).map((e) => (typeof e.fullUrl === 'string' && /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(e.fullUrl) ? { ...e, fullUrl: `${base}/${e.fullUrl}` } : e)),
  });

  test('the answer and the logged response are the texts of serialising the transaction-response', async () => {
    const bundles = [clone(SSIAD), otherUsager('text-1'), otherUsager('text-1'), withUrnUuids(otherUsager('text-2')), otherUsager('text-2')];
    const outcomes = new Set<string>();
    for (const b of bundles) {
      const res = await ingestTransaction(ctx(), b);
      assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 500));
      for (const e of res.body.entry as Json[]) outcomes.add(e.response.status);
      assert.ok((res.body.entry as Json[]).some((e) => e.response.outcome), 'warnings in the answer');
      assert.equal(res.json!(), JSON.stringify(res.body));
      for (const base of ['http://localhost:8080/fhir', 'https://dui.example/a "quoted" base/fhir']) assert.equal(res.json!(base), JSON.stringify(absolute(res.body, base)));
      const row = (await getRepo().db.query<{ response: string }>('SELECT response::text AS response FROM submission WHERE id = $1', [res.submissionId])).rows[0]!;
      assert.equal(row.response, JSON.stringify(res.body));
    }
    // New objects and resent ones (unchanged) both met.
    assert.deepEqual([...outcomes].sort(), ['200 OK', '201 Created']);
  });
});
