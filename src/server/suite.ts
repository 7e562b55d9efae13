// The HTTP test suite, run once per database (api-embedded.test.ts, api-postgres.test.ts):
// a real server on a random port, real HTTP requests with fetch.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { jsonToXml, xmlToJson } from '../fhir/xml/index.js';
import { EXAMPLES_DIR } from '../testing/paths.js';
import type { SubmissionRecord } from '../storage/types.js';
import { dumpTables, http, parseLocation, readExample, startTestServer, type DbKind, type TestServer } from './test-support.js';

const EXAMPLE_FILES = readdirSync(EXAMPLES_DIR).filter((f) => !f.startsWith('.') && f.endsWith('.json')).sort();
const BUNDLES = EXAMPLE_FILES.filter((f) => f.startsWith('Bundle-'));
const STANDALONE = EXAMPLE_FILES.filter((f) => !f.startsWith('Bundle-'));
const PA_BUNDLE = 'Bundle-tddui-pp-pa-bundle-example.json';
const SSIAD_BUNDLE = 'Bundle-tddui-bundle-example.json';
const DOC_EXAMPLE = 'DocumentReference-tddui-pp-pa-documentreference-entrant-example.json';

let docSerial = 0;
/**
 * The official DocumentReference with a masterIdentifier of its own: a create whose
 * masterIdentifier is already stored is a new version of that document (resend overwrites),
 * so tests that expect a first version must not share one.
 */
function freshDocument(): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  const doc = readExample(DOC_EXAMPLE);
  delete doc.id;
  doc.masterIdentifier = { ...doc.masterIdentifier, value: `3480787529/123456789-PPER-entrant-t${process.pid}-${++docSerial}` };
  return doc;
}

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

function withoutVersionMeta(r: Json): Json {
  const c = structuredClone(r);
  if (c.meta) {
    delete c.meta.versionId;
    delete c.meta.lastUpdated;
    delete c.meta.tag; // the tags the resends below add to make each one a change
    if (Object.keys(c.meta).length === 0) delete c.meta;
  }
  return c;
}

/** The Bundle with a tag on every resource: a change of every business object (a new version each). */
function tagged(bundle: Json, code: string): Json {
  const b = structuredClone(bundle);
  for (const e of b.entry) e.resource.meta = { ...(e.resource.meta ?? {}), tag: [{ system: 'urn:tddui:test:resend', code }] };
  return b;
}

function errorsOf(oo: Json): Json[] {
  return (oo?.issue ?? []).filter((i: Json) => i.severity === 'error' || i.severity === 'fatal');
}

/** The business identifier (system|value) by which an entry's resource is found again, if any. */
function identifierOf(r: Json): string | undefined {
  const id = Array.isArray(r.identifier) ? r.identifier[0] : r.identifier;
  if (id?.system && id?.value) return `${id.system}|${id.value}`;
  return undefined;
}

export function serverSuite(kind: DbKind, skip?: string): void {
  describe(`HTTP server on the ${kind} database`, { skip, concurrency: false }, () => {
    let s: TestServer;
    /** Locations answered for the first POST of each official Bundle. */
    const firstLocations = new Map<string, string[]>();

    before(async () => {
      s = await startTestServer(kind);
    });
    after(async () => {
      await s?.stop();
    });

    it('/healthz checks the database', async () => {
      const r = await http(`${s.url}/healthz`);
      assert.equal(r.status, 200);
      assert.equal(r.json.status, 'ok');
      assert.equal(r.json.database, kind === 'postgres' ? 'postgres' : 'pglite');
    });

    it('/fhir/metadata is a CapabilityStatement valid against the base definition, describing what the server does', async () => {
      const r = await http(`${s.base}/metadata`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^application\/fhir\+json/);
      const cs = r.json;
      assert.equal(cs.resourceType, 'CapabilityStatement');
      assert.equal(cs.kind, 'instance');
      assert.deepEqual(cs.format, ['application/fhir+json', 'application/fhir+xml']);
      assert.ok(cs.patchFormat.includes('application/json-patch+json'));
      const rest = cs.rest[0];
      assert.equal(rest.mode, 'server');
      assert.ok(rest.interaction.some((i: Json) => i.code === 'transaction'));
      assert.ok(rest.operation.some((o: Json) => o.name === 'validate'));
      // The IG's types, plus the submitted Bundles (read and search only).
      const bundleRes = rest.resource.find((x: Json) => x.type === 'Bundle');
      assert.deepEqual(bundleRes.interaction.map((i: Json) => i.code), ['read', 'search-type']);
      assert.deepEqual(bundleRes.searchParam.map((p: Json) => p.name), ['_lastUpdated']);
      // (AuditEvent: the audit trail, served by the server itself: metadata-operations.test.ts.)
      const types = rest.resource.map((x: Json) => x.type).filter((t: string) => t !== 'Bundle' && t !== 'AuditEvent');
      // The resource types of the IG's TDDUIConsommateur.
      const igTypes = s.validator.engine.registry
        .resolve<Json>('https://interop.esante.gouv.fr/ig/fhir/tddui/CapabilityStatement/TDDUIConsommateur')!
        .rest[0].resource.map((x: Json) => x.type);
      assert.deepEqual([...types].sort(), [...igTypes].sort());
      for (const res of rest.resource.filter((x: Json) => x.type !== 'Bundle' && x.type !== 'AuditEvent')) {
        const codes = res.interaction.map((i: Json) => i.code);
        for (const c of ['read', 'vread', 'history-instance', 'history-type', 'search-type']) assert.ok(codes.includes(c), `${res.type} ${c}`);
        assert.equal(codes.includes('create'), res.type === 'DocumentReference');
        assert.equal(codes.includes('patch'), res.type === 'DocumentReference');
        const names = res.searchParam.map((p: Json) => p.name);
        assert.ok(names.includes('_id') && names.includes('_lastUpdated'), res.type);
      }
      const byType = (t: string) => rest.resource.find((x: Json) => x.type === t).searchParam.map((p: Json) => p.name);
      for (const p of ['identifier', 'name', 'birthdate']) assert.ok(byType('Patient').includes(p), `Patient ${p}`);
      for (const p of ['date', 'type', 'status', 'patient', 'subject']) assert.ok(byType('Encounter').includes(p), `Encounter ${p}`);
      for (const p of ['status', 'period', 'patient']) assert.ok(byType('Task').includes(p), `Task ${p}`);
      for (const p of ['questionnaire', 'authored']) assert.ok(byType('QuestionnaireResponse').includes(p));
      assert.ok(byType('CarePlan').includes('status'));
      // Every advertised parameter is really searchable (no 400 "unknown parameter").
      for (const res of rest.resource.filter((x: Json) => x.type !== 'AuditEvent')) {
        for (const p of res.searchParam) {
          if (p.type === 'composite') {
            const q = await http(`${s.base}/${res.type}?${encodeURIComponent(p.name)}:missing=true&_count=1`);
            assert.equal(q.status, 200, `${res.type}?${p.name}: ${q.text.slice(0, 300)}`);
            continue;
          }
          const value = p.type === 'date' ? 'ge2000-01-01' : p.type === 'reference' ? 'Patient/x' : p.type === 'number' || p.type === 'quantity' ? 'gt1' : 'x';
          const q = await http(`${s.base}/${res.type}?${encodeURIComponent(p.name)}=${encodeURIComponent(value)}&_count=1`);
          assert.equal(q.status, 200, `${res.type}?${p.name}: ${q.text.slice(0, 300)}`);
        }
      }
      const report = s.validator.validate(cs, { profile: 'http://hl7.org/fhir/StructureDefinition/CapabilityStatement', profileOnly: true });
      assert.deepEqual(report.issues.filter((i) => i.severity === 'error' || i.severity === 'fatal'), []);
      assert.equal(report.valid, true);
      // The XML form is the same statement.
      const x = await http(`${s.base}/metadata?_format=xml`);
      assert.equal(x.status, 200);
      assert.match(x.headers.get('content-type') ?? '', /^application\/fhir\+xml/);
      assert.deepEqual(xmlToJson(x.text), cs);
    });

    it('accepts every official example Bundle (200, transaction-response, versioned locations)', async () => {
      assert.ok(BUNDLES.length >= 2);
      for (const f of BUNDLES) {
        const bundle = readExample(f);
        const r = await http(s.base, { body: bundle });
        assert.equal(r.status, 200, `${f}: ${r.text.slice(0, 800)}`);
        assert.equal(r.json.resourceType, 'Bundle');
        assert.equal(r.json.type, 'transaction-response');
        assert.equal(r.json.entry.length, bundle.entry.length);
        const locations: string[] = [];
        for (const e of r.json.entry) {
          assert.match(e.response.status, /^201/);
          assert.equal(e.fullUrl, `${s.base}/${e.response.location.replace(/\/_history\/\d+$/, '')}`);
          const loc = parseLocation(e.response.location);
          assert.equal(loc.version, 1);
          assert.equal(e.response.etag, 'W/"1"');
          locations.push(e.response.location);
        }
        firstLocations.set(f, locations);
      }
    });

    it('a resend keeps the ids; unchanged, it stores nothing (200, same version); changed, a new version of each business object', async () => {
      for (const f of BUNDLES) {
        const same = await http(s.base, { body: readExample(f) });
        assert.equal(same.status, 200, same.text.slice(0, 500));
        for (const e of same.json.entry) {
          assert.equal(e.response.status, '200 OK');
          assert.equal(parseLocation(e.response.location).version, 1);
          assert.equal(e.response.etag, 'W/"1"');
        }
        const r = await http(s.base, { body: tagged(readExample(f), 'renvoi') });
        assert.equal(r.status, 200, r.text.slice(0, 500));
        const before = firstLocations.get(f)!.map(parseLocation);
        const now = r.json.entry.map((e: Json) => parseLocation(e.response.location));
        assert.deepEqual(now.map((l: Json) => `${l.type}/${l.id}`), before.map((l) => `${l.type}/${l.id}`));
        for (const l of now) assert.equal(l.version, 2);
        for (const e of r.json.entry) assert.match(e.response.status, /^200/);
      }
    });

    it('read: current version with ETag and Last-Modified; vread; instance and type history', async () => {
      for (const loc of firstLocations.get(PA_BUNDLE)!) {
        const { type, id } = parseLocation(loc);
        const r = await http(`${s.base}/${type}/${id}`);
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('etag'), 'W/"2"');
        assert.equal(r.json.meta.versionId, '2');
        assert.equal(new Date(r.headers.get('last-modified')!).getTime(), Math.floor(Date.parse(r.json.meta.lastUpdated) / 1000) * 1000);
        assert.equal(r.json.id, id);
        const v1 = await http(`${s.base}/${type}/${id}/_history/1`);
        assert.equal(v1.status, 200);
        assert.equal(v1.json.meta.versionId, '1');
        assert.equal(v1.headers.get('etag'), 'W/"1"');
        assert.deepEqual(withoutVersionMeta(v1.json), withoutVersionMeta(r.json));
        const h = await http(`${s.base}/${type}/${id}/_history`);
        assert.equal(h.status, 200);
        assert.equal(h.json.type, 'history');
        assert.equal(h.json.total, 2);
        assert.deepEqual(h.json.entry.map((e: Json) => e.resource.meta.versionId), ['2', '1']);
        assert.equal(h.json.entry[1].request.method, 'POST');
        assert.equal(h.json.entry[0].request.method, 'PUT');
      }
      const { type, id } = parseLocation(firstLocations.get(PA_BUNDLE)![0]!);
      const notModified = await http(`${s.base}/${type}/${id}`, { headers: { 'if-none-match': 'W/"2"' } });
      assert.equal(notModified.status, 304);
      const th = await http(`${s.base}/Task/_history?_count=5`);
      assert.equal(th.status, 200);
      const taskCount = BUNDLES.flatMap((f) => readExample(f).entry).filter((e: Json) => e.resource.resourceType === 'Task').length;
      assert.equal(th.json.total, taskCount * 2);
      assert.equal(th.json.entry.length, 5);
      assert.ok(th.json.link.some((l: Json) => l.relation === 'next'));
      const sys = await http(`${s.base}/_history?_count=1`);
      assert.equal(sys.status, 200);
      assert.ok(sys.json.total >= taskCount * 2);
      const unknownVersion = await http(`${s.base}/${type}/${id}/_history/9`);
      assert.equal(unknownVersion.status, 404);
      assert.equal(unknownVersion.json.resourceType, 'OperationOutcome');
      const unknown = await http(`${s.base}/Patient/does-not-exist`);
      assert.equal(unknown.status, 404);
      assert.equal(unknown.json.resourceType, 'OperationOutcome');
      const unknownHistory = await http(`${s.base}/Patient/does-not-exist/_history`);
      assert.equal(unknownHistory.status, 404);
    });

    it('an invalid Bundle (one bad entry among many) is rejected with 422 pointing at it, and nothing is stored', async () => {
      const bundle = readExample(PA_BUNDLE);
      const bad = 7;
      bundle.entry[bad].resource.lifecycleStatus = 'not-a-status';
      // Changed elsewhere too, so that a partial write would show in the dump.
      bundle.entry[0].resource.name[0].family = 'Changée';
      const beforeDump = await dumpTables(s.repo);
      const beforeSubmissions = await s.repo.listSubmissions({ count: 1000, offset: 0 });
      const r = await http(s.base, { body: bundle });
      assert.equal(r.status, 422, r.text.slice(0, 500));
      assert.equal(r.json.resourceType, 'OperationOutcome');
      const errors = errorsOf(r.json);
      assert.ok(errors.length > 0);
      for (const e of errors) assert.ok(e.expression?.[0]?.startsWith(`Bundle.entry[${bad}]`), JSON.stringify(e));
      assert.deepEqual(await dumpTables(s.repo), beforeDump);
      // The rejection is logged (for the web UI), and only that.
      const afterSubmissions = await s.repo.listSubmissions({ count: 1000, offset: 0 });
      assert.equal(afterSubmissions.total, beforeSubmissions.total + 1);
      const rejected = afterSubmissions.items.find((x) => !beforeSubmissions.items.some((y) => y.id === x.id))!;
      assert.equal(rejected.outcome, 'rejected');
      assert.equal(rejected.httpStatus, 422);
      // Unreadable or not a transaction: 400.
      const notTx = await http(s.base, { body: { ...readExample(PA_BUNDLE), type: 'collection' } });
      assert.ok(notTx.status === 400 || notTx.status === 422, String(notTx.status));
      assert.equal(notTx.json.resourceType, 'OperationOutcome');
      const notJson = await http(s.base, { body: '{"resourceType": "Bundle", ', type: 'application/fhir+json' });
      assert.equal(notJson.status, 400);
      assert.equal(notJson.json.resourceType, 'OperationOutcome');
      assert.deepEqual(await dumpTables(s.repo), beforeDump);
    });

    it('concurrent resends end with one current version per business object', async () => {
      const bundle = readExample(PA_BUNDLE);
      const results = await Promise.all([1, 2, 3, 4].map((n) => http(s.base, { body: tagged(bundle, `renvoi-${n}`) })));
      for (const r of results) assert.equal(r.status, 200, r.text.slice(0, 500));
      const ids = results.map((r) => r.json.entry.map((e: Json) => `${parseLocation(e.response.location).type}/${parseLocation(e.response.location).id}`));
      for (const x of ids) assert.deepEqual(x, ids[0]);
      // Versions 3..6 were each given once per resource.
      for (let k = 0; k < bundle.entry.length; k++) {
        const versions = results.map((r) => parseLocation(r.json.entry[k].response.location).version).sort((a, b) => a - b);
        assert.deepEqual(versions, [3, 4, 5, 6], `entry ${k}`);
      }
      for (const e of bundle.entry) {
        const ident = identifierOf(e.resource);
        if (!ident) continue;
        const q = await http(`${s.base}/${e.resource.resourceType}?identifier=${encodeURIComponent(ident)}`);
        assert.equal(q.status, 200);
        assert.equal(q.json.total, 1, `${e.resource.resourceType} ${ident}`);
        assert.equal(q.json.entry[0].resource.meta.versionId, '6');
      }
      const all = BUNDLES.flatMap((f) => readExample(f).entry.map((e: Json) => e.resource.resourceType));
      for (const type of new Set(all)) {
        const q = await http(`${s.base}/${type}?_summary=count`);
        assert.equal(q.json.total, all.filter((t) => t === type).length, type);
      }
    });

    it('search: receiver parameters, sorting, paging links, _include and _revinclude', async () => {
      const pa = readExample(PA_BUNDLE);
      const patientIdent = identifierOf(pa.entry[0].resource)!;
      const p = await http(`${s.base}/Patient?identifier=${encodeURIComponent(patientIdent)}`);
      assert.equal(p.json.type, 'searchset');
      assert.equal(p.json.total, 1);
      assert.equal(p.json.entry[0].search.mode, 'match');
      const patientId = p.json.entry[0].resource.id;
      assert.equal(p.json.entry[0].fullUrl, `${s.base}/Patient/${patientId}`);

      const byId = await http(`${s.base}/Patient?_id=${patientId}`);
      assert.equal(byId.json.total, 1);
      const family = pa.entry[0].resource.name[0].family as string;
      const byName = await http(`${s.base}/Patient?name=${encodeURIComponent(family.slice(0, 3).toLowerCase())}`);
      assert.ok(byName.json.entry.some((e: Json) => e.resource.id === patientId));

      const goals = pa.entry.filter((e: Json) => e.resource.resourceType === 'Goal' && e.resource.subject);
      const forPatient = await http(`${s.base}/Goal?patient=Patient/${patientId}`);
      assert.equal(forPatient.json.total, goals.length);
      assert.ok(goals.length > 0);
      const allTasks = BUNDLES.flatMap((f) => readExample(f).entry).filter((e: Json) => e.resource.resourceType === 'Task');
      const status = allTasks[0].resource.status as string;
      const byStatus = await http(`${s.base}/Task?status=${status}&_count=100`);
      assert.equal(byStatus.json.total, allTasks.filter((e: Json) => e.resource.status === status).length);
      const noStatus = await http(`${s.base}/Task?status=entered-in-error`);
      assert.equal(noStatus.json.total, 0);

      const cp = pa.entry.find((e: Json) => e.resource.resourceType === 'CarePlan').resource;
      const carePlans = await http(`${s.base}/CarePlan?status=${cp.status}&subject=Patient/${patientId}`);
      assert.equal(carePlans.json.total, 1);
      const qr = pa.entry.find((e: Json) => e.resource.resourceType === 'QuestionnaireResponse').resource;
      const qrs = await http(`${s.base}/QuestionnaireResponse?questionnaire=${encodeURIComponent(qr.questionnaire)}`);
      assert.equal(qrs.json.total, 1);
      const recent = await http(`${s.base}/QuestionnaireResponse?_lastUpdated=${encodeURIComponent('ge' + new Date(Date.now() - 3600_000).toISOString())}`);
      assert.equal(recent.json.total, 1);
      const none = await http(`${s.base}/QuestionnaireResponse?authored=lt1900-01-01`);
      assert.equal(none.json.total, 0);
      assert.equal(none.json.entry, undefined);

      const ssiad = readExample(SSIAD_BUNDLE);
      const enc = ssiad.entry.find((e: Json) => e.resource.resourceType === 'Encounter').resource;
      const encDate = enc.period?.start?.slice(0, 10);
      if (encDate) {
        const e1 = await http(`${s.base}/Encounter?date=ge${encDate}`);
        assert.ok(e1.json.total >= 1);
      }
      const encByStatus = await http(`${s.base}/Encounter?status=${enc.status}`);
      assert.ok(encByStatus.json.entry.every((e: Json) => e.resource.status === enc.status));

      // Sorting on dates.
      const asc = await http(`${s.base}/Task?_sort=_lastUpdated&_count=100`);
      const desc = await http(`${s.base}/Task?_sort=-_lastUpdated&_count=100`);
      const au = asc.json.entry.map((e: Json) => e.resource.meta.lastUpdated);
      assert.deepEqual(au, [...au].sort());
      const du = desc.json.entry.map((e: Json) => e.resource.meta.lastUpdated);
      assert.deepEqual(du, [...du].sort().reverse());


      // Paging: follow `next` from the first page; every Task once.
      const total = asc.json.total as number;
      let url: string | undefined = `${s.base}/Task?_sort=_lastUpdated&_count=4`;
      const seen: string[] = [];
      let pages = 0;
      while (url) {
        const page = await http(url);
        assert.equal(page.status, 200);
        const links = Object.fromEntries(page.json.link.map((l: Json) => [l.relation, l.url]));
        assert.ok(links.self && links.first);
        if (pages > 0) assert.ok(links.previous, 'previous link');
        for (const e of page.json.entry ?? []) seen.push(e.resource.id);
        url = links.next;
        pages++;
        assert.ok(pages < 50);
      }
      assert.equal(seen.length, total);
      assert.equal(new Set(seen).size, total);
      assert.equal(pages, Math.ceil(total / 4));
      const bigCount = await http(`${s.base}/Task?_count=5000`);
      assert.ok(bigCount.json.link.find((l: Json) => l.relation === 'self').url.includes('_count=1000'));
      const badCount = await http(`${s.base}/Task?_count=abc`);
      assert.equal(badCount.status, 400);
      assert.equal(badCount.json.resourceType, 'OperationOutcome');

      // POST _search with a form body = GET.
      const posted = await http(`${s.base}/Goal/_search`, { body: `patient=Patient/${patientId}`, type: 'application/x-www-form-urlencoded' });
      assert.equal(posted.status, 200);
      assert.equal(posted.json.total, forPatient.json.total);

      // _include: the patient of the goals; _revinclude: what points at the patient.
      const inc = await http(`${s.base}/Goal?patient=${patientId}&_include=Goal:patient`);
      assert.equal(inc.json.total, goals.length);
      const included = inc.json.entry.filter((e: Json) => e.search.mode === 'include');
      assert.deepEqual(included.map((e: Json) => `${e.resource.resourceType}/${e.resource.id}`), [`Patient/${patientId}`]);
      const rev = await http(`${s.base}/Patient?_id=${patientId}&_revinclude=Goal:patient&_revinclude=CarePlan:subject`);
      const revTypes = rev.json.entry.filter((e: Json) => e.search.mode === 'include').map((e: Json) => e.resource.resourceType);
      assert.equal(revTypes.filter((t: string) => t === 'Goal').length, goals.length);
      assert.equal(revTypes.filter((t: string) => t === 'CarePlan').length, 1);
      assert.equal(rev.json.total, 1);
      // :iterate: patient <- needs (ServiceRequest.subject) -> their care plan (based-on), reached only by iterating.
      const needs = pa.entry.filter((e: Json) => e.resource.resourceType === 'ServiceRequest').length;
      const once = await http(`${s.base}/Patient?_id=${patientId}&_revinclude=ServiceRequest:subject&_include=ServiceRequest:based-on`);
      const iter = await http(`${s.base}/Patient?_id=${patientId}&_revinclude=ServiceRequest:subject&_include:iterate=ServiceRequest:based-on`);
      assert.equal(iter.status, 200, iter.text.slice(0, 300));
      const count = (r: Json, t: string) => (r.json.entry ?? []).filter((e: Json) => e.search.mode === 'include' && e.resource.resourceType === t).length;
      assert.equal(count(once, 'ServiceRequest'), needs);
      assert.equal(count(once, 'CarePlan'), 0);
      assert.equal(count(iter, 'ServiceRequest'), needs);
      assert.equal(count(iter, 'CarePlan'), 1);

      // Issue 12: unknown parameters are a 400 under Prefer: handling=strict; ignored and reported
      // in a searchset OperationOutcome entry under lenient handling (the FHIR default).
      const unknownParam = await http(`${s.base}/Patient?not-a-param=1`, { headers: { prefer: 'handling=strict' } });
      assert.equal(unknownParam.status, 400);
      assert.equal(unknownParam.json.resourceType, 'OperationOutcome');
      const lenient = await http(`${s.base}/Patient?not-a-param=1&_count=1`);
      assert.equal(lenient.status, 200);
      const oo = lenient.json.entry.find((e: Json) => e.search.mode === 'outcome');
      assert.equal(oo.resource.issue[0].expression[0], 'not-a-param');
      assert.equal(oo.resource.issue[0].severity, 'warning');
    });

    it('XML round trip of every official example through the server', async () => {
      for (const f of BUNDLES) {
        const bundle = readExample(f);
        const r = await http(s.base, { body: jsonToXml(bundle), type: 'application/fhir+xml', headers: { accept: 'application/fhir+xml' } });
        assert.equal(r.status, 200, r.text.slice(0, 500));
        assert.match(r.headers.get('content-type') ?? '', /^application\/fhir\+xml/);
        const response = xmlToJson(r.text) as Json;
        assert.equal(response.type, 'transaction-response');
        for (const e of response.entry) {
          const { type, id, version } = parseLocation(e.response.location);
          const asJson = await http(`${s.base}/${type}/${id}`);
          const asXml = await http(`${s.base}/${type}/${id}`, { headers: { accept: 'application/fhir+xml' } });
          assert.equal(asXml.status, 200);
          assert.deepEqual(xmlToJson(asXml.text), asJson.json, `${type}/${id} XML = JSON`);
          // What was sent as XML is what had been sent as JSON.
          const previous = await http(`${s.base}/${type}/${id}/_history/${version - 1}`);
          assert.deepEqual(withoutVersionMeta(asJson.json), withoutVersionMeta(previous.json), `${type}/${id} from XML = from JSON`);
        }
      }
      for (const f of STANDALONE) {
        const resource = readExample(f);
        const viaJson = await http(`${s.base}/${resource.resourceType}/$validate`, { body: resource });
        const viaXml = await http(`${s.base}/${resource.resourceType}/$validate`, { body: jsonToXml(resource), type: 'application/fhir+xml' });
        assert.equal(viaXml.status, 200, `${f}: ${viaXml.text.slice(0, 300)}`);
        assert.deepEqual(viaXml.json, viaJson.json, f);
        if (resource.resourceType === 'DocumentReference') {
          const created = await http(`${s.base}/DocumentReference`, { body: jsonToXml(resource), type: 'application/fhir+xml', headers: { accept: 'application/fhir+xml' } });
          // 200 when the PA Bundle sent earlier already stored this masterIdentifier (a resend).
          assert.ok([200, 201].includes(created.status), created.text.slice(0, 300));
          const back = xmlToJson(created.text) as Json;
          const { id: _id, ...sent } = withoutVersionMeta(resource);
          const { id: newId, ...got } = withoutVersionMeta(back);
          assert.ok(newId);
          assert.deepEqual(got, sent, f);
        }
      }
    });

    it('$validate: resource or Parameters, with profile; stores nothing', async () => {
      const beforeDump = await dumpTables(s.repo, []);
      const doc = readExample(DOC_EXAMPLE);
      const ok = await http(`${s.base}/$validate`, { body: doc });
      assert.equal(ok.status, 200);
      assert.equal(ok.json.resourceType, 'OperationOutcome');
      assert.deepEqual(errorsOf(ok.json), []);
      const bad = await http(`${s.base}/DocumentReference/$validate`, { body: { ...doc, status: 'nope' } });
      assert.equal(bad.status, 200);
      assert.ok(errorsOf(bad.json).some((i: Json) => i.expression?.[0]?.startsWith('DocumentReference.status')));
      const params = await http(`${s.base}/$validate`, {
        body: {
          resourceType: 'Parameters',
          parameter: [
            { name: 'resource', resource: { resourceType: 'Patient', gender: 'male' } },
            { name: 'profile', valueUri: 'http://hl7.org/fhir/StructureDefinition/Patient' },
          ],
        },
      });
      assert.equal(params.status, 200);
      assert.deepEqual(errorsOf(params.json), []);
      // The same patient against the TDDUI profile has errors (identifier is required).
      const strict = await http(`${s.base}/Patient/$validate?profile=${encodeURIComponent('https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-patient')}`, {
        body: { resourceType: 'Patient', gender: 'male' },
      });
      assert.equal(strict.status, 200);
      assert.ok(errorsOf(strict.json).length > 0);
      const bundle = await http(`${s.base}/$validate`, { body: readExample(PA_BUNDLE) });
      assert.deepEqual(errorsOf(bundle.json), []);
      const mismatch = await http(`${s.base}/Patient/$validate`, { body: doc });
      assert.equal(mismatch.status, 400);
      const unknownProfile = await http(`${s.base}/$validate?profile=http://example.org/nope`, { body: doc });
      assert.equal(unknownProfile.status, 400);
      assert.deepEqual(await dumpTables(s.repo, []), beforeDump);
    });

    it('v1 flows: POST DocumentReference (201, Location, ETag, Prefer), PATCH with JSON Patch and FHIRPath Patch, If-Match / 412', async () => {
      const doc = freshDocument();
      const created = await http(`${s.base}/DocumentReference`, { body: doc });
      assert.equal(created.status, 201, created.text.slice(0, 500));
      const loc = parseLocation(created.headers.get('location')!);
      assert.ok(created.headers.get('location')!.startsWith(`${s.base}/DocumentReference/`));
      assert.equal(loc.version, 1);
      assert.equal(created.headers.get('etag'), 'W/"1"');
      assert.ok(created.headers.get('last-modified'));
      assert.equal(created.json.id, loc.id);
      const url = `${s.base}/DocumentReference/${loc.id}`;

      // Resend of the same document (same masterIdentifier): a new version of it, not a duplicate.
      const again = freshDocument();
      const first = await http(`${s.base}/DocumentReference`, { body: again });
      assert.equal(first.status, 201);
      const resent = await http(`${s.base}/DocumentReference`, { body: { ...again, description: 'renvoi' } });
      assert.equal(resent.status, 200, resent.text.slice(0, 300));
      assert.equal(parseLocation(resent.headers.get('location')!).id, parseLocation(first.headers.get('location')!).id);
      assert.equal(resent.headers.get('etag'), 'W/"2"');
      assert.equal((await http(`${s.base}/DocumentReference?identifier=${encodeURIComponent(again.masterIdentifier.value)}`)).json.total, 1);

      const minimal = await http(`${s.base}/DocumentReference`, { body: freshDocument(), headers: { prefer: 'return=minimal' } });
      assert.equal(minimal.status, 201);
      assert.equal(minimal.text, '');
      assert.ok(minimal.headers.get('location'));
      const oo = await http(`${s.base}/DocumentReference`, { body: freshDocument(), headers: { prefer: 'return=OperationOutcome' } });
      assert.equal(oo.status, 201);
      assert.equal(oo.json.resourceType, 'OperationOutcome');

      // `_sort` on a date parameter (DocumentReference.date), both directions.
      const dates = ['2022-05-01T10:00:00+02:00', '2020-01-15T09:00:00Z', '2023-11-30T08:00:00Z'];
      for (const date of dates) assert.equal((await http(`${s.base}/DocumentReference`, { body: { ...freshDocument(), date }, headers: { prefer: 'return=minimal' } })).status, 201);
      const sorted = async (sort: string) =>
        (await http(`${s.base}/DocumentReference?date=ge2000-01-01&_sort=${sort}`)).json.entry.map((e: Json) => e.resource.date);
      assert.deepEqual(await sorted('date'), ['2020-01-15T09:00:00Z', '2022-05-01T10:00:00+02:00', '2023-11-30T08:00:00Z']);
      assert.deepEqual(await sorted('-date'), ['2023-11-30T08:00:00Z', '2022-05-01T10:00:00+02:00', '2020-01-15T09:00:00Z']);
      assert.deepEqual(
        (await http(`${s.base}/DocumentReference?date=lt2022-06-01&date=gt2021-01-01`)).json.entry.map((e: Json) => e.resource.date),
        ['2022-05-01T10:00:00+02:00'],
      );

      const invalid = await http(`${s.base}/DocumentReference`, { body: { ...doc, status: 'nope' } });
      assert.equal(invalid.status, 422);
      assert.ok(errorsOf(invalid.json).length > 0);
      const wrongType = await http(`${s.base}/DocumentReference`, { body: { resourceType: 'Patient' } });
      assert.equal(wrongType.status, 400);

      // JSON Patch on the content (the CDA / PDF), with the right version.
      const newData = Buffer.from('nouveau contenu').toString('base64');
      const p1 = await http(url, {
        method: 'PATCH',
        body: [{ op: 'replace', path: '/content/0/attachment/data', value: newData }],
        type: 'application/json-patch+json',
        headers: { 'if-match': 'W/"1"' },
      });
      assert.equal(p1.status, 200, p1.text.slice(0, 500));
      assert.equal(p1.headers.get('etag'), 'W/"2"');
      assert.equal(p1.json.meta.versionId, '2');
      assert.equal(p1.json.content[0].attachment.data, newData);

      // Stale If-Match: 412, nothing written.
      const stale = await http(url, {
        method: 'PATCH',
        body: [{ op: 'replace', path: '/content/0/attachment/title', value: 'x' }],
        type: 'application/json-patch+json',
        headers: { 'if-match': 'W/"1"' },
      });
      assert.equal(stale.status, 412);
      assert.equal(stale.json.resourceType, 'OperationOutcome');
      assert.equal((await http(url)).json.meta.versionId, '2');

      // FHIRPath Patch (Parameters), Prefer: return=minimal.
      const p2 = await http(url, {
        method: 'PATCH',
        body: {
          resourceType: 'Parameters',
          parameter: [
            {
              name: 'operation',
              part: [
                { name: 'type', valueCode: 'replace' },
                { name: 'path', valueString: 'DocumentReference.content.attachment.title' },
                { name: 'value', valueString: 'Titre mis à jour' },
              ],
            },
          ],
        },
        headers: { 'if-match': 'W/"2"', prefer: 'return=minimal' },
      });
      assert.equal(p2.status, 200, p2.text.slice(0, 500));
      assert.equal(p2.text, '');
      assert.equal(p2.headers.get('etag'), 'W/"3"');
      const now = await http(url);
      assert.equal(now.json.content[0].attachment.title, 'Titre mis à jour');
      assert.equal(now.json.content[0].attachment.data, newData);

      // FHIRPath Patch in XML.
      const p3 = await http(url, {
        method: 'PATCH',
        body: jsonToXml({
          resourceType: 'Parameters',
          parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'replace' }, { name: 'path', valueString: 'DocumentReference.content.attachment.title' }, { name: 'value', valueString: 'Titre XML' }] }],
        }),
        type: 'application/fhir+xml',
      });
      assert.equal(p3.status, 200, p3.text.slice(0, 500));
      assert.equal(p3.json.content[0].attachment.title, 'Titre XML');

      // The patched result is validated before it is stored.
      const breaks = await http(url, { method: 'PATCH', body: [{ op: 'replace', path: '/content/0/attachment/contentType', value: 42 }], type: 'application/json-patch+json' });
      assert.ok(!breaks.json.issue.some((i: Json) => i.details?.coding?.[0]?.code === 'tddui-v1-patch-content-only'));
      assert.equal(breaks.status, 422);
      assert.ok(errorsOf(breaks.json).length > 0);
      assert.equal((await http(url)).json.meta.versionId, '4');
      // Patches that cannot apply, or malformed ones.
      const noPath = await http(url, { method: 'PATCH', body: [{ op: 'replace', path: '/nope/0', value: 1 }], type: 'application/json-patch+json' });
      assert.ok(noPath.status === 422 || noPath.status === 400, String(noPath.status));
      assert.equal(noPath.json.resourceType, 'OperationOutcome');
      const malformed = await http(url, { method: 'PATCH', body: { op: 'replace' }, type: 'application/json-patch+json' });
      assert.equal(malformed.status, 400);
      const changesId = await http(url, { method: 'PATCH', body: [{ op: 'replace', path: '/id', value: 'other' }], type: 'application/json-patch+json' });
      assert.equal(changesId.status, 422);
      const notParams = await http(url, { method: 'PATCH', body: { resourceType: 'Patient' } });
      assert.equal(notParams.status, 400);
      const badIfMatch = await http(url, { method: 'PATCH', body: [], type: 'application/json-patch+json', headers: { 'if-match': 'abc' } });
      assert.equal(badIfMatch.status, 400);
      const unknownDoc = await http(`${s.base}/DocumentReference/nope`, { method: 'PATCH', body: [], type: 'application/json-patch+json' });
      assert.equal(unknownDoc.status, 404);
      const patchPatient = await http(`${s.base}/Patient/x`, { method: 'PATCH', body: [], type: 'application/json-patch+json' });
      assert.equal(patchPatient.status, 405);
      assert.equal((await http(url)).json.meta.versionId, '4');

      // A transaction of DocumentReferences (v1 flow 2), with Prefer: return=representation.
      const tx = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: 'urn:uuid:2b4e1c3a-9f5d-4e8b-a1c2-3d4e5f6a7b8c', resource: { ...readExample(DOC_EXAMPLE), id: undefined, masterIdentifier: { value: '3480787529/123456789-PPER-entrant-9999' } }, request: { method: 'POST', url: 'DocumentReference' } },
        ],
      };
      const txr = await http(s.base, { body: tx, headers: { prefer: 'return=representation' } });
      assert.equal(txr.status, 200, txr.text.slice(0, 800));
      assert.equal(txr.json.entry[0].resource.resourceType, 'DocumentReference');
      assert.equal(txr.json.entry[0].resource.masterIdentifier.value, '3480787529/123456789-PPER-entrant-9999');
    });

    it('v1 flow 1 creates are in the submission log: accepted (with the stored location) and rejected (with the resource and its outcome); PATCHes are not', async () => {
      const pa = readExample(PA_BUNDLE);
      const patientIdent = identifierOf(pa.entry[0].resource)!;
      const patient = (await http(`${s.base}/Patient?identifier=${encodeURIComponent(patientIdent)}`)).json.entry[0].resource;
      const before = (await s.repo.listSubmissions({ count: 1, offset: 0 })).total;

      // Accepted: about a stored usager; the organisation from the masterIdentifier (3<FINESS>/…).
      const doc = { ...freshDocument(), subject: { reference: `Patient/${patient.id}` } };
      const created = await http(`${s.base}/DocumentReference`, { body: doc });
      assert.equal(created.status, 201, created.text.slice(0, 500));
      const acceptedId = created.headers.get('x-tddui-submission');
      assert.ok(acceptedId, 'x-tddui-submission header');
      const accepted = (await s.repo.getSubmission(acceptedId))!;
      assert.equal(accepted.outcome, 'accepted');
      assert.equal(accepted.httpStatus, 201);
      assert.equal(accepted.resourceCount, 1);
      assert.equal(accepted.organizationFiness, '480787529');
      assert.deepEqual(accepted.bundle, doc);
      assert.equal(accepted.errorCount, 0);
      assert.equal((accepted.report as Json).resourceType, 'OperationOutcome');
      assert.equal(accepted.usagers.length, 1);
      assert.deepEqual(accepted.usagers[0], { id: patient.id, localId: '3480787529/123456789', identifier: '3480787529/123456789', name: 'L. Jeanne' });
      const response = accepted.response as Json;
      assert.equal(response.type, 'transaction-response');
      assert.equal(`${s.base}/${response.entry[0].response.location}`, created.headers.get('location'));
      assert.equal(response.entry[0].response.status, '201 Created');

      // Rejected (422): the submitted resource and the outcome answered are kept; the organisation
      // from an author Organization identifier (idNatSt 1<FINESS>), the usager from subject.identifier.
      const bad = {
        ...doc,
        status: 'nope',
        masterIdentifier: { value: 'sans-finess' },
        author: [{ type: 'Organization', identifier: { system: 'urn:oid:1.2.250.1.71.4.2.2', value: '1750000010' }, display: 'EHPAD Les Tilleuls' }],
        subject: { identifier: { system: 'urn:oid:1.2.250.1.213.1.4.8', value: '147720425367411' }, display: 'DUPONT Jean' },
      };
      const rejected = await http(`${s.base}/DocumentReference`, { body: bad });
      assert.equal(rejected.status, 422);
      const rejectedId = rejected.headers.get('x-tddui-submission');
      assert.ok(rejectedId);
      const r = (await s.repo.getSubmission(rejectedId))!;
      assert.equal(r.outcome, 'rejected');
      assert.equal(r.httpStatus, 422);
      assert.deepEqual(r.bundle, bad);
      assert.deepEqual(r.report, rejected.json);
      assert.equal(r.errorCount, errorsOf(rejected.json).length);
      assert.ok(r.errorCount > 0);
      assert.equal(r.response, undefined);
      assert.equal(r.organizationFiness, '750000010');
      assert.equal(r.organizationName, 'EHPAD Les Tilleuls');
      assert.deepEqual(r.usagers, [{ ins: '147720425367411', identifier: '147720425367411', name: 'DUPONT Jean' }]);

      // A resource of another type sent to the DocumentReference endpoint: 400, logged with it.
      const wrong = await http(`${s.base}/DocumentReference`, { body: { resourceType: 'Patient', gender: 'male' } });
      assert.equal(wrong.status, 400);
      const w = (await s.repo.getSubmission(wrong.headers.get('x-tddui-submission')!))!;
      assert.equal(w.outcome, 'rejected');
      assert.equal(w.httpStatus, 400);
      assert.deepEqual(w.bundle, { resourceType: 'Patient', gender: 'male' });

      // Newest first in the log the UI lists.
      const list = await s.repo.listSubmissions({ count: 3, offset: 0 });
      assert.equal(list.total, before + 3);
      assert.deepEqual(list.items.map((x) => x.id), [w.id, r.id, accepted.id]);

      // A PATCH (accepted or rejected) is not a submission.
      const url = created.headers.get('location')!.replace(/\/_history\/\d+$/, '');
      const patched = await http(url, { method: 'PATCH', body: [{ op: 'replace', path: '/content/0/attachment/title', value: 'Nouveau titre' }], type: 'application/json-patch+json' });
      assert.equal(patched.status, 200, patched.text.slice(0, 300));
      const refused = await http(url, { method: 'PATCH', body: [{ op: 'replace', path: '/content/0/attachment/contentType', value: 42 }], type: 'application/json-patch+json' });
      assert.equal(refused.status, 422);
      assert.equal((await s.repo.listSubmissions({ count: 1, offset: 0 })).total, before + 3);
    });

    it('v1 flow 3: a PATCH may change only content (and meta); anything else is a 422 naming the element, nothing stored', async () => {
      const doc = freshDocument();
      const created = await http(`${s.base}/DocumentReference`, { body: doc });
      assert.equal(created.status, 201);
      const url = `${s.base}/DocumentReference/${created.json.id}`;
      const jsonPatch = (ops: Json[]) => http(url, { method: 'PATCH', body: ops, type: 'application/json-patch+json' });
      const ruleIssues = (oo: Json) => oo.issue.filter((i: Json) => i.details?.coding?.some((c: Json) => c.system === 'urn:tddui:validation-rule' && c.code === 'tddui-v1-patch-content-only'));

      const status = await jsonPatch([{ op: 'replace', path: '/status', value: 'superseded' }]);
      assert.equal(status.status, 422, status.text.slice(0, 300));
      assert.equal(status.json.resourceType, 'OperationOutcome');
      const issues = ruleIssues(status.json);
      assert.equal(issues.length, 1);
      assert.deepEqual(issues[0].expression, ['DocumentReference.status']);
      assert.equal(issues[0].severity, 'error');
      assert.equal(issues[0].code, 'business-rule');
      assert.match(issues[0].details.text, /content/);

      // Content together with other elements: every other element is named, nothing is stored.
      const mixed = await jsonPatch([
        { op: 'replace', path: '/content/0/attachment/title', value: 'Nouveau titre' },
        { op: 'add', path: '/description', value: 'ajout' },
        { op: 'remove', path: '/author' },
      ]);
      assert.equal(mixed.status, 422);
      assert.deepEqual(ruleIssues(mixed.json).map((i: Json) => i.expression[0]), ['DocumentReference.author', 'DocumentReference.description']);
      const fhirPath = await http(url, {
        method: 'PATCH',
        body: { resourceType: 'Parameters', parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'add' }, { name: 'path', valueString: 'DocumentReference' }, { name: 'name', valueString: 'date' }, { name: 'value', valueInstant: '2024-01-01T00:00:00Z' }] }] },
      });
      assert.equal(fhirPath.status, 422, fhirPath.text.slice(0, 300));
      assert.deepEqual(ruleIssues(fhirPath.json).map((i: Json) => i.expression[0]), ['DocumentReference.date']);
      const read = await http(url);
      assert.equal(read.json.meta.versionId, '1');
      assert.equal(read.json.description, undefined);

      // Allowed: content, meta (tags), and operations that leave the other elements as they were.
      const ok = await jsonPatch([
        { op: 'replace', path: '/content/0/attachment/title', value: 'Nouveau titre' },
        { op: 'add', path: '/meta/tag', value: [{ system: 'http://example.org/tags', code: 'relu' }] },
        { op: 'replace', path: '/status', value: doc.status },
      ]);
      assert.equal(ok.status, 200, ok.text.slice(0, 300));
      assert.equal(ok.json.meta.versionId, '2');
      assert.equal(ok.json.content[0].attachment.title, 'Nouveau titre');
    });

    it('submitted Bundles: GET /fhir/Bundle/{submission id} (accepted and rejected), search newest first with paging and _lastUpdated; read-only', async () => {
      const sent = readExample(SSIAD_BUNDLE);
      const ok = await http(s.base, { body: sent });
      assert.equal(ok.status, 200);
      const okId = ok.headers.get('x-tddui-submission')!;
      const bad = readExample(PA_BUNDLE);
      bad.entry[7].resource.lifecycleStatus = 'not-a-status';
      const ko = await http(s.base, { body: bad });
      assert.equal(ko.status, 422);
      const koId = ko.headers.get('x-tddui-submission')!;
      const strip = (b: Json) => {
        const { id: _id, meta: _meta, ...rest } = b;
        return rest;
      };

      const read = await http(`${s.base}/Bundle/${okId}`);
      assert.equal(read.status, 200, read.text.slice(0, 300));
      assert.equal(read.json.resourceType, 'Bundle');
      assert.equal(read.json.id, okId);
      assert.equal(read.json.meta.versionId, '1');
      assert.equal(read.json.meta.lastUpdated, (await s.repo.getSubmission(okId))!.receivedAt);
      assert.deepEqual(read.json.meta.tag, [{ system: 'urn:tddui:submission-outcome', code: 'accepted', display: 'Envoi accepté (HTTP 200)' }]);
      assert.deepEqual(strip(read.json), strip(sent));
      assert.equal(read.headers.get('etag'), 'W/"1"');
      assert.ok(read.headers.get('last-modified'));
      assert.equal((await http(`${s.base}/Bundle/${okId}`, { headers: { 'if-none-match': 'W/"1"' } })).status, 304);
      const asXml = await http(`${s.base}/Bundle/${okId}?_format=xml`);
      assert.equal(asXml.status, 200);
      assert.deepEqual(xmlToJson(asXml.text), read.json);

      const rejected = await http(`${s.base}/Bundle/${koId}`);
      assert.equal(rejected.status, 200);
      assert.equal(rejected.json.meta.tag[0].code, 'rejected');
      assert.equal(rejected.json.entry[7].resource.lifecycleStatus, 'not-a-status');
      assert.deepEqual(strip(rejected.json), strip(bad));

      // What is not a Bundle (a v1 DocumentReference create) and unknown ids: 404.
      const doc = freshDocument();
      const docId = (await http(`${s.base}/DocumentReference`, { body: doc, headers: { prefer: 'return=minimal' } })).headers.get('x-tddui-submission')!;
      for (const id of [docId, 'does-not-exist', 'n%C3%A9']) {
        const r = await http(`${s.base}/Bundle/${id}`);
        assert.equal(r.status, 404, id);
        assert.equal(r.json.resourceType, 'OperationOutcome');
      }

      // Search: every submitted Bundle once, newest first, following `next`; DocumentReferences skipped.
      const log = (await s.repo.listSubmissions({ count: 1000, offset: 0 })).items;
      const full = await Promise.all(log.map((x) => s.repo.getSubmission(x.id)));
      const bundles = full.filter((x) => (x!.bundle as Json)?.resourceType === 'Bundle').map((x) => x!);
      assert.ok(bundles.length > 10 && bundles.length < log.length, `${bundles.length} of ${log.length}`);
      assert.equal(bundles[0]!.id, koId);
      let url: string | undefined = `${s.base}/Bundle?_count=7`;
      const seen: string[] = [];
      let pages = 0;
      while (url) {
        const page = await http(url);
        assert.equal(page.status, 200, page.text.slice(0, 300));
        assert.equal(page.json.type, 'searchset');
        assert.equal(page.json.total, bundles.length);
        const links = Object.fromEntries(page.json.link.map((l: Json) => [l.relation, l.url]));
        assert.ok(links.self && links.first);
        for (const e of page.json.entry ?? []) {
          assert.equal(e.fullUrl, `${s.base}/Bundle/${e.resource.id}`);
          assert.equal(e.search.mode, 'match');
          seen.push(e.resource.id);
        }
        if (links.next) assert.equal(page.json.entry.length, 7);
        url = links.next;
        assert.ok(++pages < 50);
      }
      assert.deepEqual(seen, bundles.map((b) => b.id));
      const first = await http(`${s.base}/Bundle`);
      assert.equal(first.json.entry.length, Math.min(20, bundles.length));
      assert.equal((await http(`${s.base}/Bundle?_total=none`)).json.total, undefined);
      const counted = await http(`${s.base}/Bundle?_count=0`);
      assert.equal(counted.json.total, bundles.length);
      assert.equal(counted.json.entry, undefined);
      assert.deepEqual(first.json.entry[0].resource, rejected.json);

      // _lastUpdated on the reception instant: prefixes and precisions, repeated = AND.
      const at = (b: SubmissionRecord) => Date.parse(b.receivedAt);
      const pivot = bundles[Math.floor(bundles.length / 2)]!;
      const ids = async (q: string) => {
        const r = await http(`${s.base}/Bundle?_count=100&${q}`);
        assert.equal(r.status, 200, `${q}: ${r.text.slice(0, 300)}`);
        return (r.json.entry ?? []).map((e: Json) => e.resource.id);
      };
      const enc = encodeURIComponent;
      assert.deepEqual(await ids(`_lastUpdated=${enc('ge' + pivot.receivedAt)}`), bundles.filter((b) => at(b) >= at(pivot)).map((b) => b.id));
      assert.deepEqual(await ids(`_lastUpdated=${enc('lt' + pivot.receivedAt)}`), bundles.filter((b) => at(b) < at(pivot)).map((b) => b.id));
      assert.deepEqual(await ids(`_lastUpdated=${enc('gt' + pivot.receivedAt)}&_lastUpdated=${enc('le' + bundles[0]!.receivedAt)}`), bundles.filter((b) => at(b) > at(pivot)).map((b) => b.id));
      assert.deepEqual(await ids(`_lastUpdated=${enc(pivot.receivedAt)}`), bundles.filter((b) => at(b) === at(pivot)).map((b) => b.id));
      assert.deepEqual(await ids(`_lastUpdated=${pivot.receivedAt.slice(0, 10)}`), bundles.filter((b) => b.receivedAt.startsWith(pivot.receivedAt.slice(0, 10))).map((b) => b.id));
      assert.deepEqual(await ids('_lastUpdated=lt2000'), []);
      assert.deepEqual(await ids('_lastUpdated=ge2030-01-01&_lastUpdated=le2020-01-01'), []);
      const posted = await http(`${s.base}/Bundle/_search`, { body: '_count=1', type: 'application/x-www-form-urlencoded' });
      assert.equal(posted.status, 200);
      assert.deepEqual(posted.json.entry.map((e: Json) => e.resource.id), [koId]);
      for (const q of ['_lastUpdated=yesterday', '_lastUpdated=ne2024-01-01', 'identifier=x', '_count=abc', '_sort=_lastUpdated']) {
        const r = await http(`${s.base}/Bundle?${q}`);
        assert.equal(r.status, 400, q);
        assert.equal(r.json.resourceType, 'OperationOutcome', q);
      }

      // Read-only: no writes, no history; $validate still takes a Bundle.
      for (const [method, path, status] of [
        ['POST', '/Bundle', 405],
        ['PUT', `/Bundle/${okId}`, 405],
        ['DELETE', `/Bundle/${okId}`, 405],
        ['PATCH', `/Bundle/${okId}`, 405],
        ['GET', '/Bundle/_search', 405],
        ['GET', '/Bundle/_history', 404],
        ['GET', `/Bundle/${okId}/_history`, 404],
        ['GET', `/Bundle/${okId}/_history/1`, 404],
      ] as const) {
        const r = await fetch(`${s.base}${path}`, { method, headers: method === 'GET' || method === 'DELETE' ? {} : { 'content-type': 'application/fhir+json' }, body: method === 'GET' || method === 'DELETE' ? undefined : JSON.stringify(sent) });
        assert.equal(r.status, status, `${method} ${path}`);
        assert.equal(((await r.json()) as Json).resourceType, 'OperationOutcome', `${method} ${path}`);
        if (status === 405) assert.ok(r.headers.get('allow'), `${method} ${path} Allow`);
      }
      const validated = await http(`${s.base}/Bundle/$validate`, { body: sent });
      assert.equal(validated.status, 200);
      assert.equal(validated.json.resourceType, 'OperationOutcome');
      assert.equal((await s.repo.listSubmissions({ count: 1, offset: 0 })).total, log.length);
    });

    it('formats and errors: _format, Accept, 415, 406, 400, 404, 405, Prefer', async () => {
      const { type, id } = parseLocation(firstLocations.get(SSIAD_BUNDLE)![0]!);
      const url = `${s.base}/${type}/${id}`;
      const json = await http(url, { headers: { accept: 'application/json' } });
      assert.match(json.headers.get('content-type') ?? '', /^application\/fhir\+json/);
      for (const [q, accept] of [['?_format=xml', undefined], ['?_format=application/fhir%2Bxml', undefined], ['', 'application/fhir+xml'], ['', 'application/xml;q=0.9, application/json;q=0.1']] as const) {
        const x = await http(url + q, { headers: accept ? { accept } : {} });
        assert.equal(x.status, 200);
        assert.match(x.headers.get('content-type') ?? '', /^application\/fhir\+xml/, `${q} ${accept}`);
        assert.deepEqual(xmlToJson(x.text), json.json);
      }
      const browser = await http(url, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
      assert.equal(browser.status, 200);
      assert.match(browser.headers.get('content-type') ?? '', /json/);
      // X-Forwarded-* are not trusted by default: links keep the Host the client used.
      const spoofed = await http(`${s.base}/Patient`, { headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } });
      assert.ok(spoofed.json.link[0].url.startsWith(`${s.base}/Patient?`));
      const pretty = await http(`${url}?_pretty=true`);
      assert.ok(pretty.text.includes('\n  "'));

      // Media-type parameters (charset, fhirVersion) are accepted on bodies.
      for (const type of ['application/fhir+json; charset=utf-8', 'application/fhir+json;fhirVersion=4.0', 'application/json']) {
        const v = await http(`${s.base}/$validate`, { body: { resourceType: 'Basic', code: { text: 'x' } }, type });
        assert.equal(v.status, 200, type);
      }
      const head = await fetch(url, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('etag'), json.headers.get('etag'));

      const notAcceptable = await http(url, { headers: { accept: 'text/csv' } });
      assert.equal(notAcceptable.status, 406);
      assert.equal(notAcceptable.json.resourceType, 'OperationOutcome');
      // Rejections come in the format asked for.
      const xmlError = await http(`${s.base}/Patient/does-not-exist?_format=xml`);
      assert.equal(xmlError.status, 404);
      assert.match(xmlError.headers.get('content-type') ?? '', /^application\/fhir\+xml/);
      assert.equal((xmlToJson(xmlError.text) as Json).resourceType, 'OperationOutcome');
      const badFormat = await http(`${url}?_format=csv`);
      assert.equal(badFormat.status, 406);

      const unsupported = await http(s.base, { body: 'hello', type: 'text/plain' });
      assert.equal(unsupported.status, 415);
      assert.equal(unsupported.json.resourceType, 'OperationOutcome');
      const form = await http(`${s.base}/DocumentReference`, { body: 'a=b', type: 'application/x-www-form-urlencoded' });
      assert.equal(form.status, 415);
      const badXml = await http(s.base, { body: '<Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/>', type: 'application/fhir+xml' });
      assert.equal(badXml.status, 400);
      assert.equal(badXml.json.resourceType, 'OperationOutcome');
      const emptyBody = await http(s.base, { body: '', type: 'application/fhir+json' });
      assert.equal(emptyBody.status, 400);
      const notResource = await http(s.base, { body: '[1,2]', type: 'application/fhir+json' });
      assert.equal(notResource.status, 400);

      for (const [method, path, status] of [
        ['GET', '/NotAType/1', 404],
        ['GET', '/NotAType', 404],
        ['GET', '/MedicationRequest?code=x', 404],
        ['GET', '/nothing/here/at/all/really', 404],
        ['DELETE', `/${type}/${id}`, 405],
        ['PUT', `/${type}/${id}`, 405],
        ['POST', '/Patient', 405],
        ['GET', '/$validate', 405],
        ['GET', '/Task/_search', 405],
        ['GET', '/Task/$validate', 405],
        ['PATCH', '/DocumentReference/_history', 405],
      ] as const) {
        const r = await fetch(`${s.base}${path}`, { method, headers: method === 'GET' || method === 'DELETE' ? {} : { 'content-type': 'application/fhir+json' }, body: method === 'GET' || method === 'DELETE' ? undefined : '{"resourceType":"Patient"}' });
        assert.equal(r.status, status, `${method} ${path}`);
        const body = (await r.json()) as Json;
        assert.equal(body.resourceType, 'OperationOutcome', `${method} ${path}`);
        if (status === 405) assert.ok(r.headers.get('allow'), `${method} ${path} Allow`);
      }

      const minimal = await http(s.base, { body: readExample(SSIAD_BUNDLE), headers: { prefer: 'return=minimal' } });
      assert.equal(minimal.status, 200);
      assert.ok(minimal.json.entry.every((e: Json) => !e.resource && e.response.location));
      const withOutcome = await http(s.base, { body: readExample(SSIAD_BUNDLE), headers: { prefer: 'return=OperationOutcome' } });
      assert.ok(withOutcome.json.entry.every((e: Json) => e.response.outcome?.resourceType === 'OperationOutcome'));
      assert.ok(minimal.headers.get('x-request-id'));
    });

    it('rejects bodies above the limit with 413 as an OperationOutcome', async () => {
      const big = JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [], padding: 'x'.repeat(51 * 1024 * 1024) });
      const r = await http(s.base, { body: big });
      assert.equal(r.status, 413);
      assert.equal(r.json.resourceType, 'OperationOutcome');
    });
  });
}
