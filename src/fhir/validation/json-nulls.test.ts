// JSON FHIR primitive arrays with extensions only: `"line": [null], "_line": [{"extension": [...]}]`
// is valid (R4 JSON §2.6.2: null keeps the two arrays aligned); a null with no extension is not.
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/fhir/validation/json-nulls.test.js
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { SHARED_FHIR, tdduiExamplesDir } from '../../testing/paths.js';
import { TdduiValidator } from '../../tddui/validator.js';

let v: TdduiValidator;
before(async () => {
  v = await TdduiValidator.create({ packages: [SHARED_FHIR], useCache: false, igs: ['2.3.0'] });
});

const patient = () => JSON.parse(readFileSync(join(tdduiExamplesDir('2.3.0'), 'Patient-tddui-patient-example.json'), 'utf8'));
const HOUSE = { url: 'http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-houseNumber', valueString: '12' };
const errorsAt = (doc: unknown) =>
  v.validate(doc).issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').map((i) => `${i.rule} @ ${i.expression}`);

test('a null entry whose extensions are in the _name array is valid', () => {
  const p = patient();
  p.address[0].line = [null, 'rue des Lilas'];
  p.address[0]._line = [{ extension: [HOUSE] }, null];
  assert.deepEqual(errorsAt(p), []);
  // Only the extension-bearing line (no value array at all).
  const q = patient();
  delete q.address[0].line;
  q.address[0]._line = [{ extension: [HOUSE] }];
  assert.deepEqual(errorsAt(q), []);
});

test('a null entry with no extension, or a null on both sides, stays an empty-element error', () => {
  const p = patient();
  p.address[0].line = [null];
  delete p.address[0]._line;
  assert.deepEqual(errorsAt(p), ['fhir-empty-element @ Patient.address[0].line[0]']);
  const q = patient();
  q.address[0].line = [null];
  q.address[0]._line = [null];
  assert.deepEqual(errorsAt(q), ['fhir-empty-element @ Patient.address[0].line[0]']);
});

test('the extensions of a null entry are still checked', () => {
  const p = patient();
  p.address[0].line = [null];
  p.address[0]._line = [{ extension: [{ url: HOUSE.url, valueBoolean: true }] }];
  assert.ok(errorsAt(p).some((e) => e.startsWith('fhir-type-not-allowed @ Patient.address[0].line[0].extension[0]')), errorsAt(p).join('\n'));
});
