// Writes by a token restricted to some organisations (issue 21, "scopes don't leak"), on a real
// server with real tokens, on both databases. A token that may write but read only ESSMS A must
// not use conditional writes (If-None-Exist, conditional update / patch / delete, conditional
// references in a transaction) as a yes/no lookup on ESSMS B's data, nor change B's resources by
// id: what it may not read is invisible to its writes too (decisions.md D-280). Each check is
// paired with the same request by an unrestricted token, which does reach B's data — so each
// check can fail.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CORE_TEST_MODULE } from './core-suite.js';
import { http, postgresSkipReason, signedTokens, startTestServer, type DbKind, type TestServer } from './test-support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const A = '480787529';
const B = '130000011';
const B_FAMILY = 'HORSPERIMETRE';
const SYSTEM = 'urn:scope-test';

const pgSkip = await postgresSkipReason();

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  describe(`writes of a token restricted to some organisations (${kind})`, { concurrency: false }, () => {
    const skip = kind === 'postgres' ? pgSkip : undefined;
    let s: TestServer;
    let all: string; // unrestricted, writes for A and B
    let onlyA: string; // writes, reads ESSMS A only
    let writeOnly: string; // writes Patient and Observation for A, reads nothing
    let noPatientRead: string; // reads and writes Observation, writes Patient, does not read Patient
    /** Patients owned by B (one per check, so that no check disturbs another) and one owned by A. */
    const ofB: Record<string, string> = {};
    let ofA = '';

    const auth = (t: string) => ({ authorization: `Bearer ${t}` });
    // Local identifiers `3` + FINESS + `/…` (the data designate their ESSMS, as a writer with a
    // FINESS must: a value of A's for the restricted token's bodies, B's in its criteria).
    const local = (value: string) => (value.startsWith('a-') || value.startsWith('new-') ? `3${A}/${value}` : `3${B}/${value}`);
    const patient = (value: string, family = 'Ordinaire') => ({ resourceType: 'Patient', identifier: [{ system: SYSTEM, value: local(value) }], name: [{ family }] });
    const crit = (value: string) => `identifier=${SYSTEM}|${local(value)}`;
    /** B's patient as stored: version and family name (unchanged by the restricted token's attempts). */
    const stored = async (id: string) => {
      const r = await s.repo.read('Patient', id).catch(() => undefined);
      return r && { version: r.versionId, family: (r.resource as Json).name?.[0]?.family as string, active: (r.resource as Json).active as unknown };
    };
    const matching = async (value: string) => (await s.repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient' AND NOT deleted AND content->'identifier'->0->>'value' = $1`, [local(value)])).rows[0]!.n;

    before(async () => {
      if (skip) return;
      const { auth, sign } = await signedTokens();
      s = await startTestServer(kind, { auth, modules: [CORE_TEST_MODULE] });
      all = await sign({ sub: 'cnsa', scope: 'system/*.read system/*.write', finess: [A, B] });
      onlyA = await sign({ sub: 'essms-a', scope: 'system/*.read system/*.write', finess: A, read_finess: A });
      writeOnly = await sign({ sub: 'writer', scope: 'system/Patient.write system/Observation.write', finess: A });
      noPatientRead = await sign({ sub: 'obs', scope: 'system/Observation.read system/Observation.write system/Patient.write', finess: A });
      for (const k of ['create', 'update', 'patch', 'delete', 'id', 'tx']) ofB[k] = (await s.repo.create(patient(`b-${k}`, B_FAMILY), { owner: B })).id;
      ofA = (await s.repo.create(patient('a-1'), { owner: A })).id;
    });
    after(async () => s?.stop());

    it('conditional create: If-None-Exist matches in scope only (no 200 with the other ESSMS’ resource)', { skip }, async () => {
      // Control: the unrestricted token finds B's patient (200, its id, nothing created).
      const ctl = await http(`${s.base}/Patient`, { body: patient('b-create'), headers: { ...auth(all), 'if-none-exist': crit('b-create') } });
      assert.equal(ctl.status, 200, ctl.text.slice(0, 300));
      assert.equal(ctl.json.id, ofB.create);
      // In scope, the restricted token's If-None-Exist still matches.
      const mine = await http(`${s.base}/Patient`, { body: patient('a-1'), headers: { ...auth(onlyA), 'if-none-exist': crit('a-1') } });
      assert.equal(mine.status, 200, mine.text.slice(0, 300));
      assert.equal(mine.json.id, ofA);
      // Outside it, B's patient is not seen: a create, never B's content in the answer.
      const r = await http(`${s.base}/Patient`, { body: patient('new-create'), headers: { ...auth(onlyA), 'if-none-exist': crit('b-create') } });
      assert.equal(r.status, 201, r.text.slice(0, 300));
      assert.notEqual(r.json.id, ofB.create);
      assert.ok(!r.text.includes(B_FAMILY));
      assert.deepEqual(await stored(ofB.create!), { version: 1, family: B_FAMILY, active: undefined });
    });

    it('conditional update: the other ESSMS’ resource is not matched, not changed', { skip }, async () => {
      const r = await http(`${s.base}/Patient?${crit('b-update')}`, { method: 'PUT', body: patient('new-update', 'Ecrase'), headers: auth(onlyA) });
      assert.equal(r.status, 201, r.text.slice(0, 300));
      assert.notEqual(r.json.id, ofB.update);
      assert.deepEqual(await stored(ofB.update!), { version: 1, family: B_FAMILY, active: undefined });
      // Control: the unrestricted token's conditional update matches B's patient.
      const ctl = await http(`${s.base}/Patient?${crit('b-update')}`, { method: 'PUT', body: patient('b-update', 'Remplace'), headers: auth(all) });
      assert.equal(ctl.status, 200, ctl.text.slice(0, 300));
      assert.equal(ctl.json.id, ofB.update);
    });

    it('conditional patch and delete: no match outside the scope', { skip }, async () => {
      const patch = [{ op: 'add', path: '/active', value: true }];
      const p = await http(`${s.base}/Patient?${crit('b-patch')}`, { method: 'PATCH', type: 'application/json-patch+json', body: patch, headers: auth(onlyA) });
      assert.ok(p.status === 404 || p.status === 412, `${p.status} ${p.text.slice(0, 300)}`);
      assert.ok(!p.text.includes(ofB.patch!));
      assert.deepEqual(await stored(ofB.patch!), { version: 1, family: B_FAMILY, active: undefined });
      const d = await http(`${s.base}/Patient?${crit('b-delete')}`, { method: 'DELETE', headers: auth(onlyA) });
      assert.ok(d.status === 200 || d.status === 204, `${d.status} ${d.text.slice(0, 300)}`);
      assert.deepEqual(await stored(ofB.delete!), { version: 1, family: B_FAMILY, active: undefined });
      // Controls: the unrestricted token patches and deletes them.
      const pc = await http(`${s.base}/Patient?${crit('b-patch')}`, { method: 'PATCH', type: 'application/json-patch+json', body: patch, headers: auth(all) });
      assert.equal(pc.status, 200, pc.text.slice(0, 300));
      assert.equal((await stored(ofB.patch!))?.active, true);
      const dc = await http(`${s.base}/Patient?${crit('b-delete')}`, { method: 'DELETE', headers: auth(all) });
      assert.ok(dc.status === 200 || dc.status === 204);
      assert.equal(await stored(ofB.delete!), undefined);
    });

    it('by id: update, patch and delete of the other ESSMS’ resource are "not found", nothing written', { skip }, async () => {
      const id = ofB.id!;
      const body = { ...patient('b-id', 'Ecrase'), id };
      const mineBody = { ...patient('new-id', 'Ecrase'), id };
      const u = await http(`${s.base}/Patient/${id}`, { method: 'PUT', body: mineBody, headers: auth(onlyA) });
      assert.equal(u.status, 404, u.text.slice(0, 300));
      const p = await http(`${s.base}/Patient/${id}`, { method: 'PATCH', type: 'application/json-patch+json', body: [{ op: 'add', path: '/active', value: false }], headers: auth(onlyA) });
      assert.equal(p.status, 404, p.text.slice(0, 300));
      const d = await http(`${s.base}/Patient/${id}`, { method: 'DELETE', headers: auth(onlyA) });
      assert.equal(d.status, 404, d.text.slice(0, 300));
      assert.deepEqual(await stored(id), { version: 1, family: B_FAMILY, active: undefined });
      // Its own ESSMS' patient it updates by id; the unrestricted token updates B's.
      const cur = (await s.repo.read('Patient', ofA)).resource;
      const mine = await http(`${s.base}/Patient/${ofA}`, { method: 'PUT', body: { ...cur, active: true }, headers: auth(onlyA) });
      assert.equal(mine.status, 200, mine.text.slice(0, 300));
      const ctl = await http(`${s.base}/Patient/${id}`, { method: 'PUT', body, headers: auth(all) });
      assert.equal(ctl.status, 200, ctl.text.slice(0, 300));
    });

    it('transaction: a conditional reference does not resolve to the other ESSMS’ resource', { skip }, async () => {
      const tx = (value: string) => ({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: 'urn:uuid:3f0c8a52-6f5e-4c53-9a43-0d8f1b9c0001',
            resource: { resourceType: 'Observation', identifier: [{ system: SYSTEM, value: `3${A}/obs-${value}` }], status: 'final', code: { text: 'poids' }, subject: { reference: `Patient?${crit(value)}` } },
            request: { method: 'POST', url: 'Observation' },
          },
        ],
      });
      const before = await matching('b-tx');
      const r = await http(s.base, { body: tx('b-tx'), headers: auth(onlyA) });
      assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${r.text.slice(0, 300)}`);
      assert.ok(!r.text.includes(ofB.tx!));
      const obs = await s.repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Observation' AND content->'subject'->>'reference' = $1`, [`Patient/${ofB.tx}`]);
      assert.equal(obs.rows[0]!.n, 0, 'nothing stored');
      assert.equal(await matching('b-tx'), before);
      // In scope it resolves; and the unrestricted token's reference resolves to B's patient.
      const mine = await http(s.base, { body: tx('a-1'), headers: auth(onlyA) });
      assert.equal(mine.status, 200, mine.text.slice(0, 300));
      const ctl = await http(s.base, { body: tx('b-tx'), headers: auth(all) });
      // (the unrestricted token writes for A and B)
      assert.equal(ctl.status, 200, ctl.text.slice(0, 300));
      const after = await s.repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Observation' AND content->'subject'->>'reference' = $1`, [`Patient/${ofB.tx}`]);
      assert.equal(after.rows[0]!.n, 1);
    });

    it('a conditional write is a read: it needs the read scopes of its type and of every type its criteria touch (D-281)', { skip }, async () => {
      const forbidden = (r: { status: number; text: string }, scope: string) => {
        assert.equal(r.status, 403, r.text.slice(0, 300));
        assert.ok(r.text.includes(scope), r.text.slice(0, 300));
      };
      const obs = (value: string, subject?: string) => ({ resourceType: 'Observation', identifier: [{ system: SYSTEM, value: `3${A}/obs-${value}` }], status: 'final', code: { text: 'poids' }, ...(subject ? { subject: { reference: subject } } : {}) });
      // A plain create is open to the write-only token (control)…
      assert.equal((await http(`${s.base}/Patient`, { body: patient('new-wo'), headers: auth(writeOnly) })).status, 201);
      // …a conditional one would answer with the stored resource: refused without Patient.read.
      forbidden(await http(`${s.base}/Patient`, { body: patient('a-1'), headers: { ...auth(writeOnly), 'if-none-exist': crit('a-1') } }), 'system/Patient.read');
      forbidden(await http(`${s.base}/Patient?${crit('a-1')}`, { method: 'PUT', body: patient('a-1'), headers: auth(writeOnly) }), 'system/Patient.read');
      forbidden(await http(`${s.base}/Patient?${crit('a-1')}`, { method: 'PATCH', type: 'application/json-patch+json', body: [{ op: 'add', path: '/active', value: true }], headers: auth(writeOnly) }), 'system/Patient.read');
      forbidden(await http(`${s.base}/Patient?${crit('a-1')}`, { method: 'DELETE', headers: auth(writeOnly) }), 'system/Patient.read');
      // A chain in the criteria reads the type it reaches.
      forbidden(await http(`${s.base}/Observation`, { body: obs('chain'), headers: { ...auth(noPatientRead), 'if-none-exist': 'subject:Patient.family=Ordinaire' } }), 'system/Patient.read');
      assert.equal((await http(`${s.base}/Observation`, { body: obs('plain'), headers: { ...auth(noPatientRead), 'if-none-exist': `identifier=${SYSTEM}|3${A}/obs-none` } })).status, 201);
      // In a transaction: a conditional entry and a conditional reference.
      const tx = (entry: Json) => ({ resourceType: 'Bundle', type: 'transaction', entry: [entry] });
      forbidden(await http(s.base, { body: tx({ fullUrl: 'urn:uuid:3f0c8a52-6f5e-4c53-9a43-0d8f1b9c0002', resource: obs('tx1', `Patient?${crit('a-1')}`), request: { method: 'POST', url: 'Observation' } }), headers: auth(noPatientRead) }), 'system/Patient.read');
      forbidden(await http(s.base, { body: tx({ fullUrl: 'urn:uuid:3f0c8a52-6f5e-4c53-9a43-0d8f1b9c0003', resource: patient('a-1'), request: { method: 'POST', url: 'Patient', ifNoneExist: crit('a-1') } }), headers: auth(writeOnly) }), 'system/Patient.read');
      forbidden(await http(s.base, { body: tx({ fullUrl: 'urn:uuid:3f0c8a52-6f5e-4c53-9a43-0d8f1b9c0004', resource: patient('a-1'), request: { method: 'PUT', url: `Patient?${crit('a-1')}` } }), headers: auth(writeOnly) }), 'system/Patient.read');
      // With the read scopes the same transaction goes through (control).
      const ok = await http(s.base, { body: tx({ fullUrl: 'urn:uuid:3f0c8a52-6f5e-4c53-9a43-0d8f1b9c0005', resource: obs('tx2', `Patient?${crit('a-1')}`), request: { method: 'POST', url: 'Observation' } }), headers: auth(all) });
      assert.equal(ok.status, 200, ok.text.slice(0, 300));
    });
  });
}
