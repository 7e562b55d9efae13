// Composite search parameters (issue 12), on both databases, over HTTP: tuples of component
// values indexed on write (migration 0150), `$`-separated values with each component's own
// syntax and escapes (`\$`, `\,`), the tuple kept together (a code with another component's
// value does not match), DocumentReference `relationship` (a reference component), `:missing`,
// `:not`, a clear 400 for a malformed value, and existing rows found again after a re-index.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FhirResource } from '../fhir/json.js';
import { http, postgresSkipReason, startTestServer, type DbKind, type TestServer } from './test-support.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const UCUM = 'http://unitsofmeasure.org';
const LOINC = 'http://loinc.org';
const e = encodeURIComponent;

const quantity = (value: number, code: string) => ({ value, unit: code, system: UCUM, code });
const cc = (system: string, code: string) => ({ coding: [{ system, code }] });

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  const skip = kind === 'postgres' ? await postgresSkipReason() : undefined;
  describe(`composite search parameters [${kind}]`, { skip }, () => {
    let srv: TestServer;
    const ids: Record<string, string> = {};
    before(async () => {
      srv = await startTestServer(kind);
      const obs = (code: Json, rest: Json): FhirResource => ({ resourceType: 'Observation', status: 'final', code, subject: { reference: 'Patient/p' }, ...rest });
      const docs: [string, FhirResource][] = [
        ['sys150', obs(cc(LOINC, '8480-6'), { valueQuantity: quantity(150, 'mm[Hg]') })],
        ['sys110', obs(cc(LOINC, '8480-6'), { valueQuantity: quantity(110, 'mm[Hg]') })],
        ['dia150', obs(cc(LOINC, '8462-4'), { valueQuantity: quantity(150, 'mm[Hg]') })],
        // Blood pressure panel: systolic 100 and diastolic 160 (the tuple must stay together).
        [
          'panel',
          obs(cc(LOINC, '85354-9'), {
            component: [
              { code: cc(LOINC, '8480-6'), valueQuantity: quantity(100, 'mm[Hg]') },
              { code: cc(LOINC, '8462-4'), valueQuantity: quantity(160, 'mm[Hg]') },
            ],
          }),
        ],
        ['gir2', obs(cc('https://example.org/aggir', 'GIR'), { valueCodeableConcept: cc('https://example.org/gir', '2') })],
        // A code with `$` and `,` in it (escaped in the search value).
        ['odd', obs(cc('urn:odd', 'a$b,c'), { valueCodeableConcept: cc('urn:odd', 'x') })],
        ['str', obs(cc(LOINC, 'note'), { valueString: 'Très autonome' })],
        ['date', obs(cc(LOINC, 'dt'), { valueDateTime: '2024-03-10T10:00:00Z' })],
        ['none', obs(cc(LOINC, '8480-6'), {})],
      ];
      const written = await srv.repo.execute({ ops: docs.map(([, r]) => ({ method: 'create' as const, resourceType: 'Observation', resource: r })) });
      docs.forEach(([k], i) => (ids[k] = written[i]!.id!));
      const refs = await srv.repo.execute({
        ops: [
          { method: 'create', resourceType: 'DocumentReference', resource: { resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { contentType: 'text/plain' } }], relatesTo: [{ code: 'replaces', target: { reference: 'DocumentReference/old' } }] } },
          { method: 'create', resourceType: 'DocumentReference', resource: { resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { contentType: 'text/plain' } }], relatesTo: [{ code: 'appends', target: { reference: 'DocumentReference/old' } }] } },
        ],
      });
      ids.replaces = refs[0]!.id!;
      ids.appends = refs[1]!.id!;
    });
    after(async () => srv?.stop());

    const found = async (query: string, type = 'Observation'): Promise<string[]> => {
      const r = await http(`${srv.base}/${type}?${query}`, { headers: { prefer: 'handling=strict' } });
      assert.equal(r.status, 200, `${query}: ${r.text.slice(0, 400)}`);
      const byId = Object.fromEntries(Object.entries(ids).map(([k, v]) => [v, k]));
      return (r.json.entry ?? []).map((x: Json) => byId[x.resource.id] ?? x.resource.id).sort();
    };

    it('code-value-quantity: the code and the value of one observation', async () => {
      assert.deepEqual(await found(`code-value-quantity=${e(`${LOINC}|8480-6$gt120`)}`), ['sys150']);
      assert.deepEqual(await found(`code-value-quantity=${e(`${LOINC}|8480-6$lt120|${UCUM}|mm[Hg]`)}`), ['sys110']);
      assert.deepEqual(await found(`code-value-quantity=${e(`8480-6$150`)}`), ['sys150']);
      assert.deepEqual(await found(`code-value-quantity=${e(`${LOINC}|8480-6$gt200`)}`), []);
      // UCUM: 150 mm[Hg] is 20.0 kPa, 110 mm[Hg] 14.7 kPa.
      assert.deepEqual(await found(`code-value-quantity=${e(`${LOINC}|8480-6$gt19|${UCUM}|kPa`)}`), ['sys150']);
      assert.deepEqual(await found(`code-value-quantity=${e(`${LOINC}|8480-6$20|${UCUM}|kPa`)}`), ['sys150']);
      assert.deepEqual(await found(`code-value-quantity=${e(`${LOINC}|8462-4$lt120`)}`), [], 'diastolic 150 only');
      assert.deepEqual(await found(`code-value-quantity=${e(`${LOINC}|8480-6$gt140`)},${e(`${LOINC}|8462-4$gt140`)}`), ['dia150', 'sys150'], 'OR of values');
    });

    it('component-code-value-quantity keeps each component\'s code with its own value', async () => {
      assert.deepEqual(await found(`component-code-value-quantity=${e(`${LOINC}|8462-4$gt150`)}`), ['panel']);
      assert.deepEqual(await found(`component-code-value-quantity=${e(`${LOINC}|8480-6$gt150`)}`), [], 'systolic is 100: 160 is the diastolic');
      assert.deepEqual(await found(`component-code-value-quantity=${e(`${LOINC}|8480-6$100`)}`), ['panel']);
      // combo: the observation's own code and value, or a component's.
      assert.deepEqual(await found(`combo-code-value-quantity=${e(`${LOINC}|8480-6$le150`)}`), ['panel', 'sys110', 'sys150']);
    });

    it('code-value-concept, code-value-string, code-value-date', async () => {
      assert.deepEqual(await found(`code-value-concept=${e('https://example.org/aggir|GIR$https://example.org/gir|2')}`), ['gir2']);
      assert.deepEqual(await found(`code-value-concept=${e('GIR$3')}`), []);
      assert.deepEqual(await found(`code-value-concept=${e(`${LOINC}|8480-6$${UCUM}|mm[Hg]`)}`), [], 'a quantity\'s unit is not a concept');
      assert.deepEqual(await found(`code-value-string=${e('note$tres auto')}`), ['str'], 'starts with, accents and case ignored');
      assert.deepEqual(await found(`code-value-string=${e('note$autonome')}`), []);
      assert.deepEqual(await found(`code-value-date=${e('dt$2024-03')}`), ['date']);
      assert.deepEqual(await found(`code-value-date=${e('dt$gt2024-04')}`), []);
    });

    it('escapes: \\$ and \\, inside a component', async () => {
      assert.deepEqual(await found(`code-value-concept=${e('urn:odd|a\\$b\\,c$x')}`), ['odd']);
      assert.deepEqual(await found(`code-value-concept=${e('urn:odd|a\\$b\\,c$y')}`), []);
    });

    it('DocumentReference relationship: the relation code and its target (a reference)', async () => {
      assert.deepEqual(await found(`relationship=${e('replaces$DocumentReference/old')}`, 'DocumentReference'), ['replaces']);
      assert.deepEqual(await found(`relationship=${e('appends$DocumentReference/old')}`, 'DocumentReference'), ['appends']);
      assert.deepEqual(await found(`relationship=${e('replaces$DocumentReference/other')}`, 'DocumentReference'), []);
    });

    it(':missing and :not', async () => {
      const missing = await found('code-value-quantity:missing=true');
      assert.ok(missing.includes('none') && missing.includes('gir2') && !missing.includes('sys150'), missing.join(' '));
      const not = await found(`code-value-quantity:not=${e(`${LOINC}|8480-6$gt120`)}`);
      assert.ok(!not.includes('sys150') && not.includes('sys110') && not.includes('none'), not.join(' '));
    });

    it('a malformed value, a modifier or a sort it does not take: a 400 OperationOutcome naming it', async () => {
      for (const q of [`code-value-quantity=${e(`${LOINC}|8480-6`)}`, `code-value-quantity=${e('8480-6$abc')}`, `code-value-quantity=${e('a$1$2')}`, `code-value-quantity=${e('$1')}`, `code-value-quantity:exact=${e('a$1')}`]) {
        const r = await http(`${srv.base}/Observation?${q}`);
        assert.equal(r.status, 400, q);
        assert.equal(r.json.resourceType, 'OperationOutcome');
        assert.equal(r.json.issue[0].expression[0], 'code-value-quantity', q);
      }
      const sort = await http(`${srv.base}/Observation?_sort=code-value-quantity`);
      assert.equal(sort.status, 400);
    });

    it('listed in /metadata with type composite', async () => {
      const cs = (await http(`${srv.base}/metadata`)).json;
      const obs = cs.rest[0].resource.find((r: Json) => r.type === 'Observation');
      const p = obs.searchParam.find((x: Json) => x.name === 'code-value-quantity');
      assert.equal(p?.type, 'composite');
    });

    it('rows of resources stored before: written again by the re-index', async () => {
      await srv.repo.db.query(`DELETE FROM search_composite`);
      assert.deepEqual(await found(`code-value-quantity=${e(`${LOINC}|8480-6$gt120`)}`), []);
      await srv.repo.reindex();
      assert.deepEqual(await found(`code-value-quantity=${e(`${LOINC}|8480-6$gt120`)}`), ['sys150']);
    });
  });
}
