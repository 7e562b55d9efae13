// /metadata says what the server itself adds to the IGs (issue 18): the Bulk Data `$export`
// (system and Patient level, the Bulk Data server statement instantiated) and the audit trail
// (AuditEvent, read and search, every advertised parameter really searchable).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { http, startTestServer, type TestServer } from './test-support.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('/metadata: $export and AuditEvent', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer('embedded');
  });
  after(async () => srv?.stop());

  it('advertises $export at system and Patient level, and the audit trail', async () => {
    const cs = (await http(`${srv.base}/metadata`)).json;
    const rest = cs.rest[0];
    assert.ok(cs.instantiates.includes('http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data'));
    assert.deepEqual(rest.operation.map((o: Json) => o.name), ['validate', 'export']);
    assert.equal(rest.operation[1].definition, 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export');
    const patient = rest.resource.find((r: Json) => r.type === 'Patient');
    assert.ok(patient.operation.some((o: Json) => o.name === 'export' && o.definition === 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export'));
    const audit = rest.resource.find((r: Json) => r.type === 'AuditEvent');
    assert.deepEqual(audit.interaction.map((i: Json) => i.code), ['read', 'search-type']);
    // Every advertised AuditEvent parameter is accepted by /fhir/AuditEvent.
    const values: Record<string, string> = { date: 'ge2020-01-01', agent: 'x', patient: 'Patient/x', entity: 'Patient/x', 'entity-type': 'Patient', action: 'R', subtype: 'read', outcome: '0', address: '127.0.0.1' };
    for (const p of audit.searchParam) {
      const r = await http(`${srv.base}/AuditEvent?${p.name}=${encodeURIComponent(values[p.name] ?? 'x')}&_count=1`);
      assert.equal(r.status, 200, `AuditEvent?${p.name}: ${r.text.slice(0, 300)}`);
    }
    // The advertised $export answers as the Bulk Data IG says: 202 with Content-Location.
    const kick = await fetch(`${srv.base}/$export`, { headers: { prefer: 'respond-async', accept: 'application/fhir+json' } });
    assert.equal(kick.status, 202);
    assert.ok(kick.headers.get('content-location'));
    await fetch(kick.headers.get('content-location')!, { method: 'DELETE' });
  });
});
