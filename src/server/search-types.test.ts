// Search types and modifiers added by issue 12, on both databases, over HTTP: number and quantity
// (migration 0062: prefixes with the value's implicit precision, units, Ranges, :missing, _sort),
// the token modifiers :in / :not-in (value sets expanded from the loaded packages) and :of-type
// (typed identifiers), and the clear 400 of a malformed value or what is not supported.
// Composite parameters: search-composite.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { http, postgresSkipReason, startTestServer, type DbKind, type TestServer } from './test-support.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const UCUM = 'http://unitsofmeasure.org';
const TYPE_VS = 'https://interop.esante.gouv.fr/ig/fhir/tddui/ValueSet/tddui-encounter-type';
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
let inSet: { system: string; code: string };

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  const skip = kind === 'postgres' ? await postgresSkipReason() : undefined;
  describe(`number, quantity, :in, :not-in, :of-type [${kind}]`, { skip }, () => {
    let srv: TestServer;
    const ids: Record<string, string> = {};
    before(async () => {
      srv = await startTestServer(kind);
      const encounter = (key: string, length?: Json) => ({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, identifier: [{ system: 'urn:test', value: key }], ...(length ? { length } : {}) });
      const results = await srv.repo.execute({
        ops: [
          { method: 'create', resourceType: 'Encounter', resource: encounter('d3', { value: 3, unit: 'jours', system: UCUM, code: 'd' }) },
          { method: 'create', resourceType: 'Encounter', resource: encounter('d10', { value: 10, unit: 'jours', system: UCUM, code: 'd' }) },
          { method: 'create', resourceType: 'Encounter', resource: encounter('h36', { value: 36, unit: 'h', system: UCUM, code: 'h' }) },
          { method: 'create', resourceType: 'Encounter', resource: encounter('d2.5', { value: 2.5, unit: 'jours' }) },
          { method: 'create', resourceType: 'Encounter', resource: encounter('none') },
          // Numbers (RiskAssessment.prediction.probability: decimal or Range), through storage.
          { method: 'create', resourceType: 'RiskAssessment', resource: { resourceType: 'RiskAssessment', status: 'final', subject: { reference: 'Patient/x' }, prediction: [{ probabilityDecimal: 0.8 }] } },
          { method: 'create', resourceType: 'RiskAssessment', resource: { resourceType: 'RiskAssessment', status: 'final', subject: { reference: 'Patient/x' }, prediction: [{ probabilityRange: { low: { value: 0.2 }, high: { value: 0.4 } } }] } },
        ],
      });
      const keys = ['d3', 'd10', 'h36', 'd2.5', 'none', 'r0.8', 'r0.2-0.4'];
      results.forEach((r, i) => (ids[keys[i]!] = r.id!));
      // Encounter types: one of the TDDUI value set, one outside it.
      inSet = srv.validator.core.terminology.expand(TYPE_VS)![0]!;
      const typed = await srv.repo.execute({
        ops: [
          { method: 'create', resourceType: 'Encounter', resource: { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, type: [{ coding: [inSet] }] } },
          { method: 'create', resourceType: 'Encounter', resource: { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, type: [{ coding: [{ system: 'http://example.org/types', code: inSet.code }] }] } },
          {
            method: 'create',
            resourceType: 'Patient',
            resource: { resourceType: 'Patient', identifier: [{ type: { coding: [{ system: V2_0203, code: 'MR' }] }, system: 'urn:oid:1.2.3', value: '12345' }, { type: { coding: [{ system: V2_0203, code: 'PI' }] }, system: 'urn:oid:1.2.4', value: '777' }] },
          },
          { method: 'create', resourceType: 'Patient', resource: { resourceType: 'Patient', identifier: [{ type: { coding: [{ system: V2_0203, code: 'PI' }] }, system: 'urn:oid:1.2.4', value: '12345' }] } },
        ],
      });
      ['typeIn', 'typeOut', 'mr12345', 'pi12345'].forEach((k, i) => (ids[k] = typed[i]!.id!));
    });
    after(async () => srv?.stop());

    const found = async (query: string, type = 'Encounter'): Promise<string[]> => {
      const r = await http(`${srv.base}/${type}?${query}`, { headers: { prefer: 'handling=strict' } });
      assert.equal(r.status, 200, `${query}: ${r.text.slice(0, 400)}`);
      const byId = Object.fromEntries(Object.entries(ids).map(([k, v]) => [v, k]));
      return (r.json.entry ?? []).map((e: Json) => byId[e.resource.id]).sort();
    };

    it('prefixes, with the implicit precision of the value', async () => {
      assert.deepEqual(await found('length=3'), ['d2.5', 'd3'], '3 is [2.5, 3.5): 2.5 is in (search.html#number)');
      assert.deepEqual(await found('length=2.5'), ['d2.5']);
      assert.deepEqual(await found('length=3.0'), ['d3']);
      assert.deepEqual(await found('length=2'), [], '2 is [1.5, 2.5): 2.5 is out');
      assert.deepEqual(await found('length=gt3'), ['d10', 'h36']);
      assert.deepEqual(await found('length=ge3'), ['d10', 'd3', 'h36']);
      assert.deepEqual(await found('length=lt3'), ['d2.5']);
      assert.deepEqual(await found('length=le3'), ['d2.5', 'd3']);
      assert.deepEqual(await found('length=ne3.0'), ['d10', 'd2.5', 'h36']);
      assert.deepEqual(await found('length=ne3'), ['d10', 'h36']);
      assert.deepEqual(await found('length=ap9.5'), ['d10'], 'within 10 %');
      assert.deepEqual(await found('length=sa9'), ['d10', 'h36']);
      assert.deepEqual(await found('length=eb3'), ['d2.5']);
      assert.deepEqual(await found('length=lt3,gt20'), ['d2.5', 'h36'], 'OR of values');
    });

    it('units: system|code, ||code (code or unit), number||', async () => {
      // UCUM: converted (36 h is 1.5 d; 3 d is 72 h).
      assert.deepEqual(await found(`length=gt1|${encodeURIComponent(UCUM)}|d`), ['d10', 'd3', 'h36']);
      assert.deepEqual(await found(`length=gt2|${encodeURIComponent(UCUM)}|d`), ['d10', 'd3']);
      assert.deepEqual(await found(`length=gt1|${encodeURIComponent(UCUM)}|h`), ['d10', 'd3', 'h36']);
      assert.deepEqual(await found(`length=gt40|${encodeURIComponent(UCUM)}|h`), ['d10', 'd3']);
      assert.deepEqual(await found('length=gt1||jours'), ['d2.5'], 'no code: its unit');
      assert.deepEqual(await found('length=gt1||d'), ['d10', 'd3']);
      assert.deepEqual(await found('length=gt1||'), ['d10', 'd2.5', 'd3', 'h36']);
    });

    it('UCUM: a quantity found in another unit of its kind (5.4 mg is 5400 ug), the precision of the value searched kept', async () => {
      assert.deepEqual(await found(`length=1.5|${encodeURIComponent(UCUM)}|d`), ['h36']);
      assert.deepEqual(await found(`length=72|${encodeURIComponent(UCUM)}|h`), ['d3']);
      assert.deepEqual(await found(`length=3|${encodeURIComponent(UCUM)}|d`), ['d3'], 'd2.5 has no unit: not a UCUM quantity');
      assert.deepEqual(await found(`length=259200|${encodeURIComponent(UCUM)}|s`), ['d3']);
      assert.deepEqual(await found(`length=2|${encodeURIComponent(UCUM)}|d`), ['h36'], '2 d is [1.5 d, 2.5 d): 36 h = 1.5 d is in');
      assert.deepEqual(await found(`length=2.0|${encodeURIComponent(UCUM)}|d`), [], '2.0 d is [1.95 d, 2.05 d)');
      assert.deepEqual(await found(`length=3|${encodeURIComponent(UCUM)}|mg`), [], 'not the same kind');
      assert.deepEqual(await found(`length=gt1|${encodeURIComponent(UCUM)}|notaunit`), [], 'not UCUM: its code as written');
      const obs = (id: string, valueQuantity: Json) => ({ method: 'create' as const, resourceType: 'Observation', resource: { resourceType: 'Observation', status: 'final', code: { text: id }, valueQuantity } });
      const written = await srv.repo.execute({
        ops: [
          obs('ug', { value: 5400, unit: 'µg', system: UCUM, code: 'ug' }),
          obs('g', { value: 0.0054, unit: 'g', system: UCUM, code: 'g' }),
          obs('mg6', { value: 6, unit: 'mg', system: UCUM, code: 'mg' }),
          obs('cel', { value: 37, unit: '°C', system: UCUM, code: 'Cel' }),
          obs('mL', { value: 5.4, unit: 'mL', system: UCUM, code: 'mL' }),
        ],
      });
      ['ug', 'g', 'mg6', 'cel', 'mL'].forEach((k, i) => (ids[k] = written[i]!.id!));
      const q = (v: string) => found(`value-quantity=${encodeURIComponent(v)}`, 'Observation');
      assert.deepEqual(await q(`5.4|${UCUM}|mg`), ['g', 'ug']);
      assert.deepEqual(await q(`5.40|${UCUM}|mg`), ['g', 'ug']);
      assert.deepEqual(await q(`5.5|${UCUM}|mg`), []);
      assert.deepEqual(await q(`gt5.5|${UCUM}|mg`), ['mg6']);
      assert.deepEqual(await q(`le5400|${UCUM}|ug`), ['g', 'ug']);
      assert.deepEqual(await q(`ap5.5|${UCUM}|mg`), ['g', 'mg6', 'ug']);
      assert.deepEqual(await q(`98.6|${UCUM}|[degF]`), ['cel'], 'a temperature: not a mere factor');
      assert.deepEqual(await q(`5.4|${UCUM}|mL`), ['mL']);
      assert.deepEqual(await q(`5.4||mg`), [], 'no system: the code as written, no conversion');
    });

    it(':missing, :not, _sort', async () => {
      assert.deepEqual(await found('length:missing=true'), ['none', 'typeIn', 'typeOut']);
      assert.deepEqual(await found('length:missing=false'), ['d10', 'd2.5', 'd3', 'h36']);
      assert.deepEqual(await found('length:not=3.0'), ['d10', 'd2.5', 'h36', 'none', 'typeIn', 'typeOut']);
      const r = await http(`${srv.base}/Encounter?length:missing=false&_sort=-length`);
      assert.deepEqual(r.json.entry.map((e: Json) => e.resource.length.value), [36, 10, 3, 2.5]);
    });

    it('a malformed value or a modifier the type does not take: a 400 OperationOutcome', async () => {
      for (const q of ['length=abc', 'length=gt', 'length=3|d', 'length=1e', 'length:exact=3']) {
        const r = await http(`${srv.base}/Encounter?${q}`);
        assert.equal(r.status, 400, q);
        assert.equal(r.json.resourceType, 'OperationOutcome');
        assert.equal(r.json.issue[0].expression[0], 'length', q);
      }
    });

    it(':in / :not-in: the codes of a value set of the loaded packages (system and code)', async () => {
      assert.deepEqual(await found(`type:in=${encodeURIComponent(TYPE_VS)}`), ['typeIn'], 'the same code in another system is not in the set');
      const notIn = await found(`type:not-in=${encodeURIComponent(TYPE_VS)}`);
      assert.ok(notIn.includes('typeOut') && !notIn.includes('typeIn'), notIn.join(' '));
      // A `code` element (no system in the index) matches by its code.
      assert.deepEqual(await found(`gender:in=${encodeURIComponent('http://hl7.org/fhir/ValueSet/administrative-gender')}`, 'Patient'), []);
      const unknown = await http(`${srv.base}/Encounter?type:in=${encodeURIComponent('http://example.org/ValueSet/none')}`);
      assert.equal(unknown.status, 400);
      assert.match(unknown.json.issue[0].diagnostics, /not loaded/);
    });

    it(':of-type: the identifier\'s type and its value', async () => {
      assert.deepEqual(await found(`identifier:of-type=${encodeURIComponent(V2_0203)}|MR|12345`, 'Patient'), ['mr12345']);
      assert.deepEqual(await found(`identifier:of-type=${encodeURIComponent(V2_0203)}|PI|12345`, 'Patient'), ['pi12345']);
      assert.deepEqual(await found(`identifier:of-type=${encodeURIComponent(V2_0203)}|PI|777`, 'Patient'), ['mr12345']);
      assert.deepEqual(await found('identifier:of-type=|MR|12345', 'Patient'), ['mr12345'], 'any type system');
      const bad = await http(`${srv.base}/Patient?identifier:of-type=MR|12345`);
      assert.equal(bad.status, 400);
    });

    it('numbers, a Range among them (storage)', async () => {
      const search = async (v: string) => {
        const r = await srv.repo.search({ resourceType: 'RiskAssessment', params: [{ name: 'probability', values: [v] }], count: 10, offset: 0 });
        const byId = Object.fromEntries(Object.entries(ids).map(([k, id]) => [id, k]));
        return r.matches.map((m) => byId[m.id]).sort();
      };
      assert.deepEqual(await search('gt0.5'), ['r0.8']);
      assert.deepEqual(await search('0.8'), ['r0.8']);
      assert.deepEqual(await search('gt0.3'), ['r0.2-0.4', 'r0.8'], 'a Range above its low bound');
      assert.deepEqual(await search('lt0.3'), ['r0.2-0.4']);
      assert.deepEqual(await search('sa0.1'), ['r0.2-0.4', 'r0.8']);
      assert.deepEqual(await search('eb0.5'), ['r0.2-0.4']);
    });
  });
}
