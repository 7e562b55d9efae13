// The audit trail on a real server with real tokens, on both databases: one access of each kind
// (write, read, search, export, refusal without and with a token, a UI page) gives exactly one
// AuditEvent with the right actor; /fhir/AuditEvent needs a scope naming AuditEvent; the
// AuditEvents are valid R4; a request whose record cannot be written is not a success.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { http, postgresSkipReason, readExample, signedTokens, startTestServer, type DbKind, type TestServer } from './test-support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const FINESS = '480787529';

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
const requestor = (ev: Json): string | undefined => ev.agent.find((a: Json) => a.requestor && a.type?.coding?.[0]?.code === 'UserOauthAgent')?.who?.identifier?.value;
const patientsOf = (ev: Json): string[] => (ev.entity ?? []).filter((e: Json) => e.role?.code === '1').map((e: Json) => e.what.reference);

// Asked before any server starts: loading the packages keeps the event loop busy for seconds.
const pgSkip = await postgresSkipReason();

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  describe(`audit trail (${kind})`, () => {
    const skip = kind === 'postgres' ? pgSkip : undefined;
    let s: TestServer;
    let vendor: string;
    let department: string;
    let dpo: string;
    before(async () => {
      if (skip) return;
      const tokens = await signedTokens();
      s = await startTestServer(kind, { auth: tokens.auth });
      vendor = await tokens.sign({ sub: 'dui-vendor-1', client_id: 'dui-app', jti: 'tok-vendor', scope: 'system/*.write system/*.read', finess: FINESS });
      department = await tokens.sign({ sub: 'departement-13', scope: 'system/*.read' });
      dpo = await tokens.sign({ sub: 'dpo', scope: 'system/AuditEvent.read' });
    });
    after(async () => s?.stop());

    it('records one AuditEvent per access, with its actor, kind and usager', { skip }, async () => {
      // write
      const sent = await http(`${s.base}`, { body: readExample('Bundle-tddui-bundle-example.json'), headers: bearer(vendor) });
      assert.equal(sent.status, 200, sent.text.slice(0, 400));
      const patientLoc = (sent.json.entry as Json[]).map((e) => e.response.location as string).find((l) => /Patient\//.test(l))!;
      const patientId = /Patient\/([^/]+)/.exec(patientLoc)![1]!;
      // read, search (FHIR), read (UI), refusals (no token; a token without the scope)
      assert.equal((await http(`${s.base}/Patient/${patientId}`, { headers: bearer(department) })).status, 200);
      assert.equal((await http(`${s.base}/Encounter?subject=Patient/${patientId}`, { headers: bearer(department) })).status, 200);
      assert.equal((await http(`${s.url}/usagers/${patientId}`, { headers: { ...bearer(department), accept: 'text/html' } })).status, 200);
      assert.equal((await http(`${s.base}/Patient/${patientId}`)).status, 401);
      assert.equal((await http(`${s.base}/Patient/${patientId}`, { headers: bearer(dpo) })).status, 403);
      // /metadata and the UI's stylesheet are not accesses to health data
      assert.equal((await http(`${s.base}/metadata`)).status, 200);
      assert.equal((await http(`${s.url}/ui/style.css`, { headers: bearer(department) })).status, 200);
      // the trail is closed to a token whose scope does not name AuditEvent (this is a refusal too)
      assert.equal((await http(`${s.base}/AuditEvent`, { headers: bearer(department) })).status, 403);

      const all = await http(`${s.base}/AuditEvent?_count=100`, { headers: bearer(dpo) });
      assert.equal(all.status, 200, all.text.slice(0, 400));
      const events = (all.json.entry as Json[]).map((e) => e.resource).reverse(); // oldest first
      const summary = events.map((e) => `${e.subtype[0].code} ${e.action} ${e.outcome} ${requestor(e) ?? '-'} ${e.source.site}`);
      assert.deepEqual(summary, [
        'transaction E 0 dui-vendor-1 FHIR API',
        'read R 0 departement-13 FHIR API',
        'search-type E 0 departement-13 FHIR API',
        'read R 0 departement-13 web UI',
        'read R 4 - FHIR API',
        'read R 4 dpo FHIR API',
        'search-type E 4 departement-13 FHIR API',
      ]);
      const [write, read, search, uiRead, noToken, noScope, auditRefused] = events;
      assert.deepEqual(patientsOf(write), [`Patient/${patientId}`]);
      assert.equal(write.agent.find((a: Json) => a.type.coding?.[0]?.code === '110153').who.identifier.value, 'dui-app');
      assert.deepEqual(write.agent.find((a: Json) => a.requestor).policy, ['tok-vendor']);
      assert.ok(write.agent.some((a: Json) => a.who?.identifier?.value === FINESS), 'the token’s FINESS');
      assert.deepEqual(patientsOf(read), [`Patient/${patientId}`]);
      assert.ok(read.entity.some((e: Json) => e.what?.reference === `Patient/${patientId}` && e.role.code === '4'));
      const q = search.entity.find((e: Json) => e.role?.code === '24');
      assert.equal(decode(q.query), `subject=Patient/${patientId}`);
      assert.deepEqual(patientsOf(uiRead), [`Patient/${patientId}`]);
      assert.match(noToken.outcomeDesc, /HTTP 401/);
      assert.equal(noToken.agent.find((a: Json) => a.type.coding?.[0]?.code === '110153').network.address, '127.0.0.1');
      assert.match(noScope.outcomeDesc, /HTTP 403/);
      assert.deepEqual(auditRefused.entity.map((e: Json) => e.type.code), ['XrequestId'], 'nothing read: only the request id');
      for (const ev of events) assert.ok(ev.entity.some((e: Json) => e.type.code === 'XrequestId'), 'the request id');

      // Valid R4 AuditEvents.
      for (const ev of events) {
        const issues = s.validator.core.validator.validate(ev, {});
        const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
        assert.deepEqual(errors.map((i) => `${i.expression}: ${i.message}`), [], ev.subtype[0].code);
      }

      // Filters: by agent, patient, action, outcome, date; read one; unknown parameter refused.
      const byAgent = await http(`${s.base}/AuditEvent?agent=departement-13&outcome=0`, { headers: bearer(dpo) });
      assert.equal(byAgent.json.total, 3);
      const byPatient = await http(`${s.base}/AuditEvent?patient=Patient/${patientId}`, { headers: bearer(dpo) });
      assert.equal(byPatient.json.total, 4, 'written, read, found by the search of its Encounters, read in the UI');
      assert.deepEqual(patientsOf(search), [`Patient/${patientId}`], 'the Patients of the results');
      const today = new Date().toISOString().slice(0, 10);
      assert.equal((await http(`${s.base}/AuditEvent?date=ge${today}&action=E&outcome=0&agent=dui-vendor-1`, { headers: bearer(dpo) })).json.total, 1);
      assert.equal((await http(`${s.base}/AuditEvent?date=lt${today}`, { headers: bearer(dpo) })).json.total, 0);
      const one = await http(`${s.base}/AuditEvent/${write.id}`, { headers: bearer(dpo) });
      assert.equal(one.status, 200);
      assert.equal(one.json.id, write.id);
      const bad = await http(`${s.base}/AuditEvent?name=x`, { headers: bearer(dpo) });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.resourceType, 'OperationOutcome');

      // The Journal des accès page: the same trail, filtered; closed to tokens without the scope.
      const html = { accept: 'text/html' };
      const page = await http(`${s.url}/journal?utilisateur=departement-13&action=lecture`, { headers: { ...bearer(dpo), ...html } });
      assert.equal(page.status, 200);
      assert.match(page.text, /<h1>Journal des accès<\/h1>/);
      const rows = page.text.split('<tbody>')[1]!.split('</tbody>')[0]!.match(/<tr>/g) ?? [];
      assert.equal(rows.length, 2, 'the department’s two reads (FHIR and UI)');
      assert.ok(page.text.includes(`/usagers/${patientId}`));
      const inverted = await http(`${s.url}/journal?action=lecture&du=2026-03-01&au=2026-02-01`, { headers: { ...bearer(dpo), ...html } });
      assert.match(inverted.text, /id="dates-inversees">La date de début \(01\/03\/2026\) est postérieure à la date de fin \(01\/02\/2026\) : aucun accès ne peut correspondre/);
      assert.match(inverted.text, /href="\/journal\?du=2026-02-01&amp;au=2026-03-01&amp;action=lecture">Inverser les dates/);
      const refusals = await http(`${s.url}/journal?action=refus`, { headers: { ...bearer(dpo), ...html } });
      assert.ok((refusals.text.match(/badge ko">refusé/g) ?? []).length >= 3);
      assert.equal((await http(`${s.url}/journal`, { headers: { ...bearer(department), ...html } })).status, 403);
      const last = await http(`${s.base}/AuditEvent?_count=1`, { headers: bearer(dpo) });
      assert.equal(last.json.entry[0].resource.source.site, 'web UI', 'the Journal refused to the department is itself recorded');
      assert.equal(last.json.entry[0].resource.outcome, '4');
    });

    it('answers 500, not a success, when the access cannot be recorded', { skip }, async () => {
      await s.repo.db.query('ALTER TABLE audit_event RENAME TO audit_event_away');
      try {
        const r = await http(`${s.base}/Patient?_count=1`, { headers: bearer(department) });
        assert.equal(r.status, 500);
      } finally {
        await s.repo.db.query('ALTER TABLE audit_event_away RENAME TO audit_event');
      }
      assert.equal((await http(`${s.base}/Patient?_count=1`, { headers: bearer(department) })).status, 200);
    });
  });
}
