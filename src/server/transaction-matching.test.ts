// Conditional matching inside a transaction (issue 12), on both databases, over HTTP: conditional
// references (`Observation?code-value-quantity=…`), conditional creates (`ifNoneExist`) and
// conditional updates (`PUT Type?criteria`) with the search types and modifiers that memory
// could not evaluate — number, quantity with UCUM conversion, composite, `:in`, `:of-type`,
// `:below`, chains — matched by the search SQL on the state the transaction leaves (D-203): a
// resource created by an earlier entry is found, one the transaction deletes or changes is matched
// on its new state, and a value that does not match is a 400 with nothing written.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IgModule } from '../rest/modules.js';
import type { Interaction } from '../rest/served.js';
import { dumpTables, http, parseLocation, postgresSkipReason, startTestServer, type DbKind, type TestServer } from './test-support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const ALL: Interaction[] = ['read', 'vread', 'search-type', 'history-instance', 'history-type', 'create', 'update', 'patch', 'delete'];
const MODULE: IgModule = {
  name: 'transaction-matching-test',
  served: () => ['Patient', 'Observation', 'Encounter', 'RiskAssessment'].map((type) => ({ type, interactions: ALL })),
};
const UCUM = 'http://unitsofmeasure.org';
const LOINC = 'http://loinc.org';
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const ACT = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const TYPE_VS = 'https://interop.esante.gouv.fr/ig/fhir/tddui/ValueSet/tddui-encounter-type';

let serial = 0;
const uniq = (p: string) => `${p}-${process.pid}-${Date.now()}-${++serial}`;

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  const skip = kind === 'postgres' ? await postgresSkipReason() : undefined;
  describe(`conditional matching inside a transaction [${kind}]`, { skip, concurrency: false }, () => {
    let s: TestServer;
    let inSet: { system: string; code: string };
    before(async () => {
      s = await startTestServer(kind, { modules: [MODULE] });
      inSet = s.validator.core.terminology.expand(TYPE_VS)![0]!;
    });
    after(async () => s?.stop());

    const tx = (entry: Json[]) => http(s.base, { body: { resourceType: 'Bundle', type: 'transaction', entry } });
    const post = (resource: Json, extra: Json = {}) => ({ resource, request: { method: 'POST', url: resource.resourceType, ...extra } });
    const get = async (ref: string) => (await http(`${s.base}/${ref}`)).json;
    const idOf = (r: Json, n: number) => parseLocation(r.json.entry[n].response.location).id;
    const obs = (code: string, extra: Json) => ({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code }] }, ...extra });

    it('conditional references to entries of the same transaction: quantity (UCUM), composite, number, :of-type, :in, :below, a chain', async () => {
      const v = uniq('m');
      const r = await tx([
        post({ resourceType: 'Patient', identifier: [{ type: { coding: [{ system: V2_0203, code: 'MR' }] }, system: 'urn:tm', value: v }] }),
        post(obs(v, { valueQuantity: { value: 5400, unit: 'µg', system: UCUM, code: 'ug' } })),
        post({ resourceType: 'RiskAssessment', status: 'final', subject: { reference: 'Patient/x' }, identifier: [{ system: 'urn:tm', value: v }], prediction: [{ probabilityDecimal: 0.8 }] }),
        post({ resourceType: 'Encounter', status: 'finished', identifier: [{ system: 'urn:tm', value: v }], class: { system: ACT, code: 'ACUTE' }, type: [{ coding: [inSet] }] }),
        // The references, by criteria only.
        post(obs('ref', {
          subject: { reference: `Patient?identifier:of-type=${V2_0203}|MR|${v}` },
          hasMember: [
            { reference: `Observation?value-quantity=5.4|${UCUM}|mg&code=${v}` },
            { reference: `Observation?code-value-quantity=${LOINC}|${v}$le5.4|${UCUM}|mg` },
          ],
          focus: [
            { reference: `RiskAssessment?probability=gt0.5&identifier=urn:tm|${v}` },
            { reference: `Encounter?type:in=${TYPE_VS}&identifier=urn:tm|${v}` },
            { reference: `Encounter?class:below=${ACT}|IMP&identifier=urn:tm|${v}` },
          ],
        })),
        // A chain to the Patient created above.
        post(obs('chained', { subject: { reference: `Patient?identifier=urn:tm|${v}` }, hasMember: [{ reference: `Observation?subject:Patient.identifier=urn:tm|${v}&code=ref` }] })),
      ]);
      assert.equal(r.status, 200, JSON.stringify(r.json.issue?.filter((i: Json) => i.severity === 'error').map((i: Json) => [i.diagnostics, i.expression])));
      const [patient, quantityObs, risk, encounter, ref] = [0, 1, 2, 3, 4].map((n) => idOf(r, n));
      const o = await get(`Observation/${ref}`);
      assert.equal(o.subject.reference, `Patient/${patient}`);
      assert.deepEqual(o.hasMember.map((m: Json) => m.reference), [`Observation/${quantityObs}`, `Observation/${quantityObs}`]);
      assert.deepEqual(o.focus.map((m: Json) => m.reference), [`RiskAssessment/${risk}`, `Encounter/${encounter}`, `Encounter/${encounter}`]);
      const chained = await get(`Observation/${idOf(r, 5)}`);
      assert.equal(chained.hasMember[0].reference, `Observation/${ref}`, 'a chain through a Patient of the same transaction');
    });

    it('a value that does not match (another unit\'s kind, another code, outside the value set): 400, nothing written', async () => {
      const v = uniq('n');
      for (const criteria of [
        `Observation?value-quantity=5.4|${UCUM}|mL&code=${v}`,
        `Observation?value-quantity=5.5|${UCUM}|mg&code=${v}`,
        `Observation?code-value-quantity=${LOINC}|other$5.4|${UCUM}|mg`,
        `Patient?identifier:of-type=${V2_0203}|PI|${v}`,
        `Encounter?type:not-in=${TYPE_VS}&identifier=urn:tm|${v}`,
        `Encounter?class:below=${ACT}|AMB&identifier=urn:tm|${v}`,
      ]) {
        const before = await dumpTables(s.repo, []);
        const r = await tx([
          post({ resourceType: 'Patient', identifier: [{ type: { coding: [{ system: V2_0203, code: 'MR' }] }, system: 'urn:tm', value: v }] }),
          post(obs(v, { valueQuantity: { value: 5400, unit: 'µg', system: UCUM, code: 'ug' } })),
          post({ resourceType: 'Encounter', status: 'finished', identifier: [{ system: 'urn:tm', value: v }], class: { system: ACT, code: 'ACUTE' }, type: [{ coding: [inSet] }] }),
          post(obs('ref', { focus: [{ reference: criteria }] })),
        ]);
        assert.equal(r.status, 400, `${criteria}: ${r.text.slice(0, 300)}`);
        assert.deepEqual(await dumpTables(s.repo, []), before, `${criteria}: nothing written`);
      }
      // A composite that is malformed: the search's own 400, not a silent mismatch.
      const bad = await tx([post(obs('ref', { focus: [{ reference: `Observation?code-value-quantity=${LOINC}|x` }] }))]);
      assert.equal(bad.status, 400);
      assert.match(bad.text, /code-value-quantity/);
    });

    it('matched on the state the transaction leaves: a resource it changes is matched on its new content', async () => {
      const v = uniq('u');
      const stored = await http(`${s.base}/Observation`, { body: obs(v, { valueQuantity: { value: 10, unit: 'mg', system: UCUM, code: 'mg' } }) });
      assert.equal(stored.status, 201, stored.text);
      const id = stored.json.id;
      const r = await tx([
        { resource: { ...obs(v, { valueQuantity: { value: 20, unit: 'mg', system: UCUM, code: 'mg' } }), id }, request: { method: 'PUT', url: `Observation/${id}` } },
        post(obs('ref', { focus: [{ reference: `Observation?code-value-quantity=${LOINC}|${v}$0.02|${UCUM}|g` }] })),
      ]);
      assert.equal(r.status, 200, r.text);
      assert.equal((await get(`Observation/${idOf(r, 1)}`)).focus[0].reference, `Observation/${id}`);
      const old = await tx([
        { resource: { ...obs(v, { valueQuantity: { value: 30, unit: 'mg', system: UCUM, code: 'mg' } }), id }, request: { method: 'PUT', url: `Observation/${id}` } },
        post(obs('ref', { focus: [{ reference: `Observation?code-value-quantity=${LOINC}|${v}$20|${UCUM}|mg` }] })),
      ]);
      assert.equal(old.status, 400, 'the stored value 20 mg is replaced by 30 mg in this transaction');
    });

    it('conditional create and update in a transaction with these types (stored resources)', async () => {
      const v = uniq('c');
      const stored = await http(`${s.base}/Observation`, { body: obs(v, { valueQuantity: { value: 5400, unit: 'µg', system: UCUM, code: 'ug' } }) });
      const id = stored.json.id;
      const r = await tx([
        // Exists (composite with UCUM): not created again.
        post(obs(v, { valueQuantity: { value: 5.4, unit: 'mg', system: UCUM, code: 'mg' } }), { ifNoneExist: `code-value-quantity=${LOINC}|${v}$5.4|${UCUM}|mg` }),
        // No match (another value): created.
        post(obs(v, { valueQuantity: { value: 7, unit: 'mg', system: UCUM, code: 'mg' } }), { ifNoneExist: `code-value-quantity=${LOINC}|${v}$7|${UCUM}|mg` }),
        // Conditional update on a quantity in another unit.
        { resource: obs(`${v}-u`, { valueQuantity: { value: 5.4, unit: 'mg', system: UCUM, code: 'mg' } }), request: { method: 'PUT', url: `Observation?value-quantity=0.0054|${UCUM}|g&code=${v}` } },
      ]);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.entry[0].response.status, '200 OK');
      assert.equal(idOf(r, 0), id);
      assert.equal(r.json.entry[1].response.status, '201 Created');
      assert.equal(idOf(r, 2), id, 'the conditional update found the stored 5400 ug');
      assert.equal((await get(`Observation/${id}`)).code.coding[0].code, `${v}-u`);
    });
  });
}
