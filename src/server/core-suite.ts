// HTTP tests of the general FHIR server core (issue 12), run once per database
// (core-embedded.test.ts, core-postgres.test.ts): a real server on a random port, real HTTP.
// A test IG module (the registration point of src/rest/modules.ts) serves a few base types
// with every interaction, validated against the base R4 definitions.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IgModule } from '../rest/modules.js';
import type { Interaction } from '../rest/served.js';
import { dumpTables, http, parseLocation, startTestServer, type DbKind, type TestServer } from './test-support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const ALL: Interaction[] = ['read', 'vread', 'search-type', 'history-instance', 'history-type', 'create', 'update', 'patch', 'delete'];

/** A test IG: base types with every interaction (Patient with update-as-create). */
export const CORE_TEST_MODULE: IgModule = {
  name: 'core-test',
  served: () => [
    { type: 'Patient', interactions: ALL, updateCreate: true },
    { type: 'Observation', interactions: ALL },
    { type: 'Organization', interactions: ALL },
    { type: 'Practitioner', interactions: ALL },
  ],
};

let serial = 0;
const uniq = (p: string) => `${p}-${process.pid}-${Date.now()}-${++serial}`;

export function coreSuite(kind: DbKind, skip?: string): void {
  describe(`FHIR server core on the ${kind} database`, { skip, concurrency: false }, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(kind, { modules: [CORE_TEST_MODULE] });
    });
    after(async () => {
      await s?.stop();
    });

    const post = (type: string, body: Json, headers: Record<string, string> = {}) => http(`${s.base}/${type}`, { body, headers });
    const put = (path: string, body: Json, headers: Record<string, string> = {}) => http(`${s.base}/${path}`, { method: 'PUT', body, headers });
    const del = (path: string, headers: Record<string, string> = {}) => http(`${s.base}/${path}`, { method: 'DELETE', headers });
    const get = (path: string, headers: Record<string, string> = {}) => http(`${s.base}/${path}`, { headers });
    const patient = (system: string, value: string, extra: Json = {}) => ({ resourceType: 'Patient', identifier: [{ system, value }], ...extra });

    it('create, read, update (If-Match), vread, update-as-create, conditional read headers', async () => {
      const c = await post('Patient', patient('urn:t', uniq('p'), { name: [{ family: 'Martin' }] }));
      assert.equal(c.status, 201, c.text);
      const loc = parseLocation(c.headers.get('location')!);
      assert.equal(loc.version, 1);
      const id = loc.id;
      const r = await get(`Patient/${id}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('etag'), 'W/"1"');
      assert.equal((await get(`Patient/${id}`, { 'if-none-match': 'W/"1"' })).status, 304);
      assert.equal((await get(`Patient/${id}`, { 'if-modified-since': new Date(Date.now() + 60_000).toUTCString() })).status, 304);
      assert.equal((await get(`Patient/${id}`, { 'if-modified-since': 'Mon, 01 Jan 2001 00:00:00 GMT' })).status, 200);
      const u = await put(`Patient/${id}`, { ...r.json, name: [{ family: 'Martin-Durand' }] }, { 'if-match': 'W/"1"' });
      assert.equal(u.status, 200, u.text);
      assert.equal(u.json.meta.versionId, '2');
      const stale = await put(`Patient/${id}`, { ...r.json, name: [{ family: 'X' }] }, { 'if-match': 'W/"1"' });
      assert.equal(stale.status, 412);
      assert.equal(stale.json.issue[0].code, 'conflict');
      assert.equal(stale.json.issue[0].details.coding[0].code, 'http-version-conflict');
      assert.equal((await get(`Patient/${id}/_history/1`)).json.name[0].family, 'Martin');
      const mismatch = await put(`Patient/${id}`, { ...r.json, id: 'other' });
      assert.equal(mismatch.status, 400);
      // Update-as-create: the test IG allows it for Patient, not for Observation (405).
      const newId = uniq('client-id');
      const uc = await put(`Patient/${newId}`, { resourceType: 'Patient', id: newId, active: true });
      assert.equal(uc.status, 201, uc.text);
      assert.equal(uc.json.id, newId);
      const oc = await put(`Observation/${uniq('o')}`, { resourceType: 'Observation', id: 'x', status: 'final', code: { text: 'x' } });
      assert.equal(oc.status, 400, 'id mismatch first');
      const obsId = uniq('o');
      const noCreate = await put(`Observation/${obsId}`, { resourceType: 'Observation', id: obsId, status: 'final', code: { text: 'x' } });
      assert.equal(noCreate.status, 405, noCreate.text);
      // Validation on write: the base definition (here) or the IG's profile.
      const invalid = await post('Patient', { resourceType: 'Patient', gender: 'robot' });
      assert.equal(invalid.status, 422);
      assert.ok(invalid.json.issue.some((i: Json) => i.severity === 'error'));
      // An interaction the loaded IGs do not offer: 405 (TDDUI serves Encounter read-only).
      const enc = await post('Encounter', { resourceType: 'Encounter', status: 'planned', class: { code: 'AMB' } });
      assert.equal(enc.status, 405, enc.text);
    });

    it('conditional create raced 50 times concurrently makes one resource', async () => {
      const value = uniq('race');
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => post('Patient', patient('urn:race', value), { 'if-none-exist': `identifier=urn:race|${value}` })),
      );
      const statuses = answers.map((a) => a.status).sort();
      assert.equal(statuses.filter((x) => x === 201).length, 1, JSON.stringify(statuses));
      assert.equal(statuses.filter((x) => x === 200).length, 49, JSON.stringify(statuses));
      const ids = new Set(answers.map((a) => a.json.id));
      assert.equal(ids.size, 1);
      const found = await get(`Patient?identifier=${encodeURIComponent(`urn:race|${value}`)}`);
      assert.equal(found.json.total, 1);
    });

    it('conditional update: 0 matches creates, 1 updates, 2 are a 412; conditional delete and patch', async () => {
      const v = uniq('cu');
      const crit = `identifier=${encodeURIComponent(`urn:cu|${v}`)}`;
      const created = await put(`Patient?${crit}`, patient('urn:cu', v, { active: true }));
      assert.equal(created.status, 201, created.text);
      const updated = await put(`Patient?${crit}`, patient('urn:cu', v, { active: false }));
      assert.equal(updated.status, 200, updated.text);
      assert.equal(updated.json.id, created.json.id);
      assert.equal(updated.json.meta.versionId, '2');
      const w = uniq('two');
      for (let i = 0; i < 2; i++) assert.equal((await post('Patient', patient('urn:two', w))).status, 201);
      const before = await dumpTables(s.repo);
      const two = await put(`Patient?identifier=${encodeURIComponent(`urn:two|${w}`)}`, patient('urn:two', w, { active: true }));
      assert.equal(two.status, 412, two.text);
      assert.equal(two.json.issue[0].code, 'multiple-matches');
      assert.deepEqual(await dumpTables(s.repo), before, '412: nothing written');
      // Conditional patch (JSON Patch) and conditional delete.
      const patched = await http(`${s.base}/Patient?${crit}`, {
        method: 'PATCH',
        type: 'application/json-patch+json',
        body: [{ op: 'add', path: '/gender', value: 'female' }],
      });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.json.gender, 'female');
      assert.equal((await del(`Patient?identifier=${encodeURIComponent(`urn:two|${w}`)}`)).status, 412);
      assert.equal((await del(`Patient?${crit}`)).status, 204);
      assert.equal((await get(`Patient/${created.json.id}`)).status, 410);
      assert.equal((await del(`Patient?${crit}`)).status, 204, 'nothing left to delete');
    });

    it('delete: a tombstone version; read 410, _history shows it, vread of the deleted version 410, update revives', async () => {
      const c = await post('Organization', { resourceType: 'Organization', name: 'À supprimer' });
      const id = c.json.id;
      const d = await del(`Organization/${id}`);
      assert.equal(d.status, 204);
      const r = await get(`Organization/${id}`);
      assert.equal(r.status, 410);
      assert.equal(r.json.issue[0].code, 'deleted');
      const h = await get(`Organization/${id}/_history`);
      assert.equal(h.status, 200);
      assert.equal(h.json.total, 2);
      assert.equal(h.json.entry[0].request.method, 'DELETE');
      assert.equal(h.json.entry[0].resource, undefined);
      assert.equal(h.json.entry[1].resource.name, 'À supprimer');
      assert.equal((await get(`Organization/${id}/_history/2`)).status, 410);
      assert.equal((await get(`Organization/${id}/_history/1`)).status, 200);
      assert.equal((await get(`Organization?_id=${id}`)).json.total, 0, 'not found by search');
      assert.equal((await del(`Organization/${id}`)).status, 204, 'deleting again is a no-op');
      assert.equal((await get(`Organization/${id}/_history`)).json.total, 2);
      assert.equal((await del(`Organization/${uniq('none')}`)).status, 404);
      const ifm = await post('Organization', { resourceType: 'Organization', name: 'B' });
      assert.equal((await del(`Organization/${ifm.json.id}`, { 'if-match': 'W/"7"' })).status, 412);
    });

    it('transaction: POST / PUT / PATCH / DELETE / conditional entries and conditional references, all or nothing', async () => {
      const org = await post('Organization', { resourceType: 'Organization', name: 'Ancienne' });
      const gone = await post('Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Sortant' }] });
      const v = uniq('tx');
      const known = await post('Patient', patient('urn:tx', `${v}-known`));
      const tx = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: 'urn:uuid:6a0d6b0e-0000-4000-8000-000000000001', resource: patient('urn:tx', v, { managingOrganization: { reference: `Organization/${org.json.id}` } }), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=urn:tx|${v}` } },
          { resource: { resourceType: 'Observation', status: 'final', code: { text: 'poids' }, subject: { reference: 'urn:uuid:6a0d6b0e-0000-4000-8000-000000000001' } }, request: { method: 'POST', url: 'Observation' } },
          { resource: { resourceType: 'Observation', status: 'final', code: { text: 'taille' }, subject: { reference: `Patient?identifier=urn:tx|${v}-known` } }, request: { method: 'POST', url: 'Observation' } },
          { resource: { resourceType: 'Organization', id: org.json.id, name: 'Nouvelle' }, request: { method: 'PUT', url: `Organization/${org.json.id}` } },
          { request: { method: 'DELETE', url: `Practitioner/${gone.json.id}` } },
          { resource: { resourceType: 'Parameters', parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'add' }, { name: 'path', valueString: 'Patient' }, { name: 'name', valueString: 'active' }, { name: 'value', valueBoolean: true }] }] }, request: { method: 'PATCH', url: `Patient/${known.json.id}` } },
        ],
      };
      const r = await http(s.base, { body: tx });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.type, 'transaction-response');
      assert.deepEqual(r.json.entry.map((e: Json) => e.response.status), ['201 Created', '201 Created', '201 Created', '200 OK', '204 No Content', '200 OK']);
      const pid = parseLocation(r.json.entry[0].response.location).id;
      const obs = (await get(`Observation/${parseLocation(r.json.entry[1].response.location).id}`)).json;
      assert.equal(obs.subject.reference, `Patient/${pid}`, 'urn:uuid reference rewritten');
      const obs2 = (await get(`Observation/${parseLocation(r.json.entry[2].response.location).id}`)).json;
      assert.equal(obs2.subject.reference, `Patient/${known.json.id}`, 'conditional reference resolved');
      assert.equal((await get(`Organization/${org.json.id}`)).json.name, 'Nouvelle');
      assert.equal((await get(`Practitioner/${gone.json.id}`)).status, 410);
      assert.equal((await get(`Patient/${known.json.id}`)).json.active, true);
      // Sent again: the conditional create matches (200), the rest is written again.
      const again = await http(s.base, { body: { ...tx, entry: tx.entry.slice(0, 2) } });
      assert.equal(again.json.entry[0].response.status, '200 OK');
      assert.equal(parseLocation(again.json.entry[0].response.location).id, pid);

      // All or nothing: a failing LAST entry leaves every table as it was.
      const before = await dumpTables(s.repo, []);
      const failing = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: 'urn:uuid:6a0d6b0e-0000-4000-8000-000000000002', resource: patient('urn:tx', uniq('nope')), request: { method: 'POST', url: 'Patient' } },
          { resource: { resourceType: 'Organization', id: org.json.id, name: 'Jamais' }, request: { method: 'PUT', url: `Organization/${org.json.id}` } },
          { request: { method: 'DELETE', url: `Patient/${known.json.id}` } },
          { resource: { resourceType: 'Observation', status: 'not-a-status', code: { text: 'x' } }, request: { method: 'POST', url: 'Observation' } },
        ],
      };
      const f = await http(s.base, { body: failing });
      assert.equal(f.status, 422, f.text);
      assert.ok(f.json.issue.some((i: Json) => (i.expression ?? []).some((e: string) => e.startsWith('Bundle.entry[3]'))), JSON.stringify(f.json.issue));
      assert.deepEqual(await dumpTables(s.repo, []), before, 'nothing written');
      const unresolved = await http(s.base, {
        body: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient?identifier=urn:none|none' } }, request: { method: 'POST', url: 'Observation' } }] },
      });
      assert.equal(unresolved.status, 400, unresolved.text);
      assert.deepEqual(await dumpTables(s.repo, []), before, 'nothing written');
    });

    it('batch: each entry on its own', async () => {
      const r = await http(s.base, {
        body: {
          resourceType: 'Bundle',
          type: 'batch',
          entry: [
            { resource: { resourceType: 'Organization', name: 'Batch 1' }, request: { method: 'POST', url: 'Organization' } },
            { resource: { resourceType: 'Organization', name: 'Batch 2', active: 'oui' }, request: { method: 'POST', url: 'Organization' } },
            { request: { method: 'GET', url: 'Organization?name=Batch' } },
          ],
        },
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.type, 'batch-response');
      assert.equal(r.json.entry[0].response.status, '201 Created');
      assert.equal(r.json.entry[1].response.status, '422');
      assert.equal(r.json.entry[2].resource.total, 1);
    });

    it('search: chains three levels deep, _has, _include:iterate, _revinclude, _sort, _elements, _summary, modifiers', async () => {
      const tag = uniq('grp');
      const group = await post('Organization', { resourceType: 'Organization', name: `Groupe ${tag}` });
      const member = await post('Organization', { resourceType: 'Organization', name: 'Établissement', partOf: { reference: `Organization/${group.json.id}` } });
      const p1 = await post('Patient', patient('urn:s', uniq('s'), { name: [{ family: 'Zola' }], birthDate: '1940-01-01', managingOrganization: { reference: `Organization/${member.json.id}` }, generalPractitioner: [{ identifier: { system: 'urn:rpps', value: tag } }] }));
      const p2 = await post('Patient', patient('urn:s', uniq('s'), { name: [{ family: 'Aubert' }], birthDate: '1950-01-01', managingOrganization: { reference: `Organization/${member.json.id}` } }));
      const o1 = await post('Observation', { resourceType: 'Observation', status: 'final', category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }], code: { coding: [{ system: 'http://loinc.org', code: '29463-7', display: 'Body weight' }], text: 'Poids' }, subject: { reference: `Patient/${p1.json.id}` }, effectiveDateTime: '2026-03-02T10:00:00+01:00', valueQuantity: { value: 72, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' } });
      const ids = (r: Json) => (r.json.entry ?? []).filter((e: Json) => e.search.mode === 'match').map((e: Json) => e.resource.id).sort();
      // Observation -> Patient -> Organization -> Organization (3 links), then a string parameter.
      const chain = await get(`Observation?subject:Patient.organization.partof.name=${encodeURIComponent(`Groupe ${tag}`)}`);
      assert.equal(chain.status, 200, chain.text);
      assert.deepEqual(ids(chain), [o1.json.id]);
      assert.deepEqual(ids(await get(`Observation?subject:Patient.organization.partof.name=nothing`)), []);
      // _has: patients with a weight observation.
      const has = await get(`Patient?_has:Observation:subject:code=http://loinc.org|29463-7&organization=${member.json.id}`);
      assert.deepEqual(ids(has), [p1.json.id]);
      // _include with :iterate follows Patient -> Organization -> parent Organization.
      const inc = await get(`Observation?_id=${o1.json.id}&_include=Observation:subject&_include:iterate=Patient:organization&_include:iterate=Organization:partof`);
      const included = inc.json.entry.filter((e: Json) => e.search.mode === 'include').map((e: Json) => `${e.resource.resourceType}/${e.resource.id}`).sort();
      assert.deepEqual(included, [`Organization/${group.json.id}`, `Organization/${member.json.id}`, `Patient/${p1.json.id}`].sort());
      const rev = await get(`Organization?_id=${member.json.id}&_revinclude=Patient:organization`);
      assert.equal(rev.json.entry.filter((e: Json) => e.search.mode === 'include').length, 2);
      // _sort on any indexed parameter.
      const sorted = await get(`Patient?organization=${member.json.id}&_sort=-birthdate`);
      assert.deepEqual(sorted.json.entry.map((e: Json) => e.resource.id), [p2.json.id, p1.json.id]);
      const byName = await get(`Patient?organization=${member.json.id}&_sort=family`);
      assert.deepEqual(byName.json.entry.map((e: Json) => e.resource.id), [p2.json.id, p1.json.id]);
      // Modifiers: :identifier, :text, :not, :missing, :exact, :contains.
      assert.deepEqual(ids(await get(`Patient?general-practitioner:identifier=${encodeURIComponent(`urn:rpps|${tag}`)}`)), [p1.json.id]);
      assert.deepEqual(ids(await get(`Observation?code:text=poi&subject=${p1.json.id}`)), [o1.json.id]);
      assert.deepEqual(ids(await get(`Observation?code:text=body&subject=${p1.json.id}`)), [o1.json.id]);
      assert.deepEqual(ids(await get(`Patient?organization=${member.json.id}&family:not=Zola`)), [p2.json.id]);
      assert.deepEqual(ids(await get(`Patient?organization=${member.json.id}&general-practitioner:missing=true`)), [p2.json.id]);
      assert.deepEqual(ids(await get(`Patient?organization=${member.json.id}&family:exact=Zola`)), [p1.json.id]);
      assert.deepEqual(ids(await get(`Patient?organization=${member.json.id}&family:contains=ube`)), [p2.json.id]);
      // _elements and _summary.
      const el = await get(`Patient?_id=${p1.json.id}&_elements=birthDate`);
      const r = el.json.entry[0].resource;
      assert.equal(r.birthDate, '1940-01-01');
      assert.equal(r.name, undefined);
      assert.ok(r.meta.tag.some((t: Json) => t.code === 'SUBSETTED'));
      const sum = await get(`Patient/${p1.json.id}?_summary=true`);
      assert.ok(sum.json.name && sum.json.identifier);
      assert.equal(sum.json.generalPractitioner, undefined, 'not a summary element');
      assert.equal((await get(`Patient?_id=${p1.json.id}&_summary=count`)).json.total, 1);
      // Unknown parameter: strict 400, lenient ignored and reported.
      assert.equal((await get(`Patient?nope=1`, { prefer: 'handling=strict' })).status, 400);
      assert.equal((await get(`Patient?nope=1&_id=${p1.json.id}`)).json.total, 1);
    });

    it('PATCH: JSON Patch and FHIRPath Patch validated like any write; 404, 410, If-Match', async () => {
      const c = await post('Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Patch' }] });
      const id = c.json.id;
      const jp = await http(`${s.base}/Practitioner/${id}`, { method: 'PATCH', type: 'application/json-patch+json', body: [{ op: 'add', path: '/gender', value: 'male' }], headers: { 'if-match': 'W/"1"' } });
      assert.equal(jp.status, 200, jp.text);
      assert.equal(jp.json.gender, 'male');
      const bad = await http(`${s.base}/Practitioner/${id}`, { method: 'PATCH', type: 'application/json-patch+json', body: [{ op: 'replace', path: '/gender', value: 'robot' }] });
      assert.equal(bad.status, 422);
      const stale = await http(`${s.base}/Practitioner/${id}`, { method: 'PATCH', type: 'application/json-patch+json', body: [{ op: 'add', path: '/active', value: true }], headers: { 'if-match': 'W/"1"' } });
      assert.equal(stale.status, 412);
      assert.equal((await http(`${s.base}/Practitioner/${uniq('x')}`, { method: 'PATCH', type: 'application/json-patch+json', body: [] })).status, 404);
      await del(`Practitioner/${id}`);
      assert.equal((await http(`${s.base}/Practitioner/${id}`, { method: 'PATCH', type: 'application/json-patch+json', body: [] })).status, 410);
    });
  });
}
