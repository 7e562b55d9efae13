// More HTTP tests of the FHIR server core (issue 12's remaining gaps), run once per database
// (core-extra-embedded.test.ts, core-extra-postgres.test.ts): conditional references to
// resources created earlier in the same transaction, no-op writes (an identical PUT, PATCH or
// transaction entry makes no new version), GET entries of a batch paged like a search, and the
// interactions in XML. A real server on a random port, real HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jsonToXml, xmlToJson } from '../fhir/xml/index.js';
import { CORE_TEST_MODULE } from './core-suite.js';
import { dumpTables, http, parseLocation, startTestServer, type DbKind, type TestServer } from './test-support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

let serial = 0;
const uniq = (p: string) => `${p}-${process.pid}-${Date.now()}-${++serial}`;

export function coreExtraSuite(kind: DbKind, skip?: string): void {
  describe(`FHIR server core, more interactions, on the ${kind} database`, { skip, concurrency: false }, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(kind, { modules: [CORE_TEST_MODULE] });
    });
    after(async () => {
      await s?.stop();
    });
    const post = (type: string, body: Json) => http(`${s.base}/${type}`, { body });
    const put = (path: string, body: Json, headers: Record<string, string> = {}) => http(`${s.base}/${path}`, { method: 'PUT', body, headers });
    const get = (path: string, headers: Record<string, string> = {}) => http(`${s.base}/${path}`, { headers });
    const patient = (system: string, value: string, extra: Json = {}) => ({ resourceType: 'Patient', identifier: [{ system, value }], ...extra });
    const historyCount = async () => Number((await s.repo.db.query<{ n: number }>('SELECT count(*)::int AS n FROM resource_history')).rows[0]!.n);

    it('transaction: a conditional reference finds the resource an earlier entry creates (and one it updates)', async () => {
      const v = uniq('cr');
      const known = await post('Patient', patient('urn:cr', `${v}-known`, { active: false }));
      const tx = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          // Referred to by criteria only: no fullUrl in common.
          { resource: patient('urn:cr', v, { name: [{ family: 'Nouveau' }] }), request: { method: 'POST', url: 'Patient' } },
          { resource: { resourceType: 'Observation', status: 'final', code: { text: 'poids' }, subject: { reference: `Patient?identifier=urn:cr|${v}` } }, request: { method: 'POST', url: 'Observation' } },
          { resource: { resourceType: 'Observation', status: 'final', code: { text: 'taille' }, subject: { reference: `Patient?family=Nouveau&identifier=urn:cr|${v}` } }, request: { method: 'POST', url: 'Observation' } },
          // A stored Patient updated in the transaction: matched once, on its new content.
          { resource: { ...patient('urn:cr', `${v}-known`, { active: true }), id: known.json.id }, request: { method: 'PUT', url: `Patient/${known.json.id}` } },
          { resource: { resourceType: 'Observation', status: 'final', code: { text: 'pouls' }, subject: { reference: `Patient?identifier=urn:cr|${v}-known&active=true` } }, request: { method: 'POST', url: 'Observation' } },
        ],
      };
      const r = await http(s.base, { body: tx });
      assert.equal(r.status, 200, r.text);
      const pid = parseLocation(r.json.entry[0].response.location).id;
      for (const [n, expected] of [[1, pid], [2, pid], [4, known.json.id]] as const) {
        const obs = await get(`Observation/${parseLocation(r.json.entry[n].response.location).id}`);
        assert.equal(obs.json.subject.reference, `Patient/${expected}`, `entry ${n}`);
      }
      // Two Patients of the transaction match: 412-like refusal (several), nothing written.
      const before = await dumpTables(s.repo, []);
      const w = uniq('cr2');
      const two = await http(s.base, {
        body: {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            { resource: patient('urn:cr', w), request: { method: 'POST', url: 'Patient' } },
            { resource: patient('urn:cr', w), request: { method: 'POST', url: 'Patient' } },
            { resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient?identifier=urn:cr|${w}` } }, request: { method: 'POST', url: 'Observation' } },
          ],
        },
      });
      assert.equal(two.status, 400, two.text);
      assert.match(two.text, /Patient\?identifier=urn:cr/);
      assert.deepEqual(await dumpTables(s.repo, []), before, 'nothing written');
      // Deleted in the same transaction: no longer found.
      const gone = await http(s.base, {
        body: {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            { request: { method: 'DELETE', url: `Patient/${pid}` } },
            { resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient?identifier=urn:cr|${v}` } }, request: { method: 'POST', url: 'Observation' } },
          ],
        },
      });
      assert.equal(gone.status, 400, gone.text);
    });

    it('no-op writes: an identical PUT, PATCH, conditional update or transaction resend makes no new version', async () => {
      const v = uniq('noop');
      const created = await post('Patient', patient('urn:noop', v, { name: [{ family: 'Même', given: ['Anne'] }], birthDate: '1930-02-03' }));
      const id = created.json.id;
      const body = { ...created.json };
      const h0 = await historyCount();
      // Same content, keys in another order, the server's meta sent back or not.
      const same = await put(`Patient/${id}`, { birthDate: '1930-02-03', name: [{ given: ['Anne'], family: 'Même' }], identifier: [{ value: v, system: 'urn:noop' }], id, resourceType: 'Patient' });
      assert.equal(same.status, 200, same.text);
      assert.equal(same.headers.get('etag'), 'W/"1"');
      assert.equal(same.json.meta.versionId, '1');
      assert.equal((await put(`Patient/${id}`, body)).headers.get('etag'), 'W/"1"');
      assert.equal((await put(`Patient/${id}`, body, { 'if-match': 'W/"1"' })).status, 200);
      assert.equal((await put(`Patient/${id}`, body, { 'if-match': 'W/"9"' })).status, 412, 'If-Match is still checked');
      assert.equal((await put(`Patient?identifier=urn:noop|${v}`, body)).headers.get('etag'), 'W/"1"');
      const patch = await http(`${s.base}/Patient/${id}`, { method: 'PATCH', type: 'application/json-patch+json', body: [{ op: 'replace', path: '/birthDate', value: '1930-02-03' }] });
      assert.equal(patch.status, 200, patch.text);
      assert.equal(patch.headers.get('etag'), 'W/"1"');
      assert.equal(await historyCount(), h0, 'no history copy');
      assert.equal((await get(`Patient/${id}/_history`)).json.total, 1);
      // A changed security label is content: a new version.
      const labelled = await put(`Patient/${id}`, { ...body, meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] } });
      assert.equal(labelled.headers.get('etag'), 'W/"2"');
      // A transaction resent as it is: 200 with the current versions, nothing written.
      const org = await post('Organization', { resourceType: 'Organization', name: `Org ${v}` });
      const tx = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { resource: { resourceType: 'Organization', id: org.json.id, name: `Org ${v}` }, request: { method: 'PUT', url: `Organization/${org.json.id}` } },
          { resource: { ...labelled.json, managingOrganization: { reference: `Organization/${org.json.id}` } }, request: { method: 'PUT', url: `Patient/${id}` } },
        ],
      };
      const first = await http(s.base, { body: tx });
      assert.deepEqual(first.json.entry.map((e: Json) => e.response.etag), ['W/"1"', 'W/"3"']);
      const before = await dumpTables(s.repo);
      const again = await http(s.base, { body: tx });
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(again.json.entry.map((e: Json) => [e.response.status, e.response.etag]), [['200 OK', 'W/"1"'], ['200 OK', 'W/"3"']]);
      assert.deepEqual(await dumpTables(s.repo), before, 'the resend wrote nothing');
    });

    it('batch and transaction: GET entries page like the search they name (links, _count, _offset, _summary, errors)', async () => {
      const tag = uniq('page');
      for (let n = 0; n < 5; n++) await post('Organization', { resourceType: 'Organization', name: `Page ${tag} ${n}` });
      const name = encodeURIComponent(`Page ${tag}`);
      const r = await http(s.base, {
        body: {
          resourceType: 'Bundle',
          type: 'batch',
          entry: [
            { request: { method: 'GET', url: `Organization?name=${name}&_count=2&_sort=name` } },
            { request: { method: 'GET', url: `Organization?name=${name}&_count=2&_offset=4&_sort=name` } },
            { request: { method: 'GET', url: `Organization?name=${name}&_summary=count` } },
            { request: { method: 'GET', url: 'Organization?_count=beaucoup' } },
            { request: { method: 'GET', url: `Organization/${uniq('absent')}` } },
          ],
        },
      });
      assert.equal(r.status, 200, r.text);
      const [p1, p3, count, bad, absent] = r.json.entry;
      assert.equal(p1.response.status, '200 OK');
      assert.equal(p1.resource.total, 5);
      assert.deepEqual(p1.resource.entry.map((e: Json) => e.resource.name), [`Page ${tag} 0`, `Page ${tag} 1`]);
      const link = (b: Json, rel: string) => b.link.find((l: Json) => l.relation === rel)?.url;
      assert.match(link(p1.resource, 'next'), new RegExp(`^${s.base}/Organization\\?.*_offset=2`));
      assert.match(link(p1.resource, 'last'), /_offset=4/);
      // The next link is a working URL.
      const next = await get(link(p1.resource, 'next').slice(s.base.length + 1));
      assert.deepEqual(next.json.entry.map((e: Json) => e.resource.name), [`Page ${tag} 2`, `Page ${tag} 3`]);
      assert.deepEqual(p3.resource.entry.map((e: Json) => e.resource.name), [`Page ${tag} 4`]);
      assert.ok(link(p3.resource, 'previous'));
      assert.equal(count.resource.total, 5);
      assert.equal(count.resource.entry, undefined);
      assert.equal(bad.response.status, '400');
      assert.equal(bad.response.outcome.resourceType, 'OperationOutcome');
      assert.equal(absent.response.status, '404');
      // In a transaction, after the writes.
      const t = await http(s.base, {
        body: {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            { request: { method: 'GET', url: `Organization?name=${name}&_count=1` } },
            { resource: { resourceType: 'Organization', name: `Page ${tag} 5` }, request: { method: 'POST', url: 'Organization' } },
          ],
        },
      });
      assert.equal(t.status, 200, t.text);
      assert.equal(t.json.entry[0].resource.total, 6, 'reads see the writes of the transaction');
      assert.equal(t.json.entry[0].resource.entry.length, 1);
      assert.ok(link(t.json.entry[0].resource, 'next'));
    });

    it('XML: create, read, conditional create, update, PATCH (FHIRPath Patch), search, history, transaction, errors — as JSON', async () => {
      const XML = 'application/fhir+xml';
      const xml = (path: string, init: { method?: string; body?: Json; headers?: Record<string, string> } = {}) =>
        http(`${s.base}/${path}`, { ...init, ...(init.body ? { body: jsonToXml(init.body), type: XML } : {}), headers: { accept: XML, ...(init.headers ?? {}) } });
      const v = uniq('xml');
      const isXml = (r: { headers: Headers }) => assert.match(r.headers.get('content-type') ?? '', /^application\/fhir\+xml/);
      const created = await xml('Patient', { method: 'POST', body: patient('urn:xml', v, { name: [{ family: 'Xéhème', given: ['Aïda'] }], birthDate: '1931-04-05' }) });
      assert.equal(created.status, 201, created.text);
      isXml(created);
      const c = xmlToJson(created.text) as Json;
      assert.equal(c.name[0].family, 'Xéhème');
      const id = c.id;
      // Read in XML equals read in JSON.
      const asXml = await xml(`Patient/${id}`);
      isXml(asXml);
      assert.deepEqual(xmlToJson(asXml.text), (await get(`Patient/${id}`)).json);
      // Conditional create (If-None-Exist) finds it.
      const cond = await xml('Patient', { method: 'POST', body: patient('urn:xml', v), headers: { 'if-none-exist': `identifier=urn:xml|${v}` } });
      assert.equal(cond.status, 200, cond.text);
      assert.equal((xmlToJson(cond.text) as Json).id, id);
      // Update, then an identical update (no new version).
      const upd = await xml(`Patient/${id}`, { method: 'PUT', body: { ...c, active: true } });
      assert.equal(upd.status, 200, upd.text);
      assert.equal(upd.headers.get('etag'), 'W/"2"');
      assert.equal((await xml(`Patient/${id}`, { method: 'PUT', body: { ...c, active: true } })).headers.get('etag'), 'W/"2"');
      // FHIRPath Patch as an XML Parameters resource.
      const patch = await xml(`Patient/${id}`, {
        method: 'PATCH',
        body: { resourceType: 'Parameters', parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'replace' }, { name: 'path', valueString: 'Patient.birthDate' }, { name: 'value', valueDate: '1932-01-01' }] }] },
      });
      assert.equal(patch.status, 200, patch.text);
      assert.equal((xmlToJson(patch.text) as Json).birthDate, '1932-01-01');
      // Search and history bundles in XML.
      const found = await xml(`Patient?identifier=${encodeURIComponent(`urn:xml|${v}`)}`);
      isXml(found);
      const fb = xmlToJson(found.text) as Json;
      assert.equal(fb.type, 'searchset');
      assert.equal(fb.total, 1);
      assert.equal(fb.entry[0].resource.birthDate, '1932-01-01');
      const hist = xmlToJson((await xml(`Patient/${id}/_history`)).text) as Json;
      assert.deepEqual(hist.entry.map((e: Json) => e.resource.meta.versionId), ['3', '2', '1']);
      // A transaction in XML, answered in XML.
      const tx = await http(s.base, {
        body: jsonToXml({
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            { fullUrl: 'urn:uuid:0b5f0c38-0000-4000-8000-00000000a001', resource: { resourceType: 'Organization', name: `XML ${v}` }, request: { method: 'POST', url: 'Organization' } },
            { resource: { resourceType: 'Observation', status: 'final', code: { text: 'poids' }, subject: { reference: `Patient?identifier=urn:xml|${v}` }, performer: [{ reference: 'urn:uuid:0b5f0c38-0000-4000-8000-00000000a001' }] }, request: { method: 'POST', url: 'Observation' } },
            { request: { method: 'DELETE', url: `Patient?identifier=urn:xml|${uniq('none')}` } },
          ],
        }),
        type: XML,
        headers: { accept: XML },
      });
      assert.equal(tx.status, 200, tx.text);
      isXml(tx);
      const tr = xmlToJson(tx.text) as Json;
      assert.deepEqual(tr.entry.map((e: Json) => e.response.status), ['201 Created', '201 Created', '204 No Content']);
      const obs = (await get(`Observation/${parseLocation(tr.entry[1].response.location).id}`)).json;
      assert.equal(obs.subject.reference, `Patient/${id}`);
      assert.equal(obs.performer[0].reference, `Organization/${parseLocation(tr.entry[0].response.location).id}`);
      // Errors are OperationOutcomes in XML: invalid content (422), bad XML (400), 404, 412.
      const invalid = await xml('Observation', { method: 'POST', body: { resourceType: 'Observation', status: 'pas-un-statut', code: { text: 'x' } } });
      assert.equal(invalid.status, 422);
      isXml(invalid);
      const oo = xmlToJson(invalid.text) as Json;
      assert.equal(oo.resourceType, 'OperationOutcome');
      assert.ok(oo.issue.some((i: Json) => i.severity === 'error' && (i.expression ?? []).some((e: string) => e.startsWith('Observation.status'))), invalid.text);
      const broken = await http(`${s.base}/Patient`, { body: '<Patient xmlns="http://hl7.org/fhir"><active value="true"></Patient>', type: XML, headers: { accept: XML } });
      assert.equal(broken.status, 400);
      assert.equal((xmlToJson(broken.text) as Json).resourceType, 'OperationOutcome');
      assert.equal((await xml(`Patient/${uniq('absent')}`)).status, 404);
      assert.equal((await xml(`Patient/${id}`, { method: 'PUT', body: { ...c, active: false }, headers: { 'if-match': 'W/"1"' } })).status, 412);
      // Delete in XML with an OperationOutcome asked for.
      const d = await xml(`Patient/${id}`, { method: 'DELETE', headers: { prefer: 'return=OperationOutcome' } });
      assert.equal(d.status, 200);
      assert.equal((xmlToJson(d.text) as Json).resourceType, 'OperationOutcome');
      assert.equal((await xml(`Patient/${id}`)).status, 410);
    });
  });
}
