// The controls a profile states on an element (element-controls.ts): Quantity limits after UCUM
// conversion, date limits relative to now, mustHaveValue / valueAlternatives, the narrative
// source and language controls. A package made here (a folder with package.json and the
// profiles' differentials, no dependencies) on top of the R4 core, as a user's own profiles.
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/fhir/validation/element-controls.test.js
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FhirValidator } from '../fhir-validator.js';

const BASE = 'http://example.org/fhir/StructureDefinition/';
let dir: string;
let v: FhirValidator;

function profile(id: string, type: string, elements: object[]): object {
  return {
    resourceType: 'StructureDefinition', id, url: BASE + id, name: id.replace(/-/g, ''), status: 'active', fhirVersion: '4.0.1', kind: 'resource',
    abstract: false, type, baseDefinition: `http://hl7.org/fhir/StructureDefinition/${type}`, derivation: 'constraint', differential: { element: elements },
  };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'controls-'));
  const pkg = join(dir, 'package');
  mkdirSync(pkg);
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'test.controls', version: '0.1.0', fhirVersions: ['4.0.1'] }));
  const sds = [
    profile('obs-max', 'Observation', [
      { id: 'Observation.value[x]', path: 'Observation.value[x]', type: [{ code: 'Quantity' }] },
      { id: 'Observation.value[x]', path: 'Observation.valueQuantity', maxValueQuantity: { value: 5, system: 'http://unitsofmeasure.org', code: 'kg' } },
    ]),
    profile('patient-birth', 'Patient', [{ id: 'Patient.birthDate', path: 'Patient.birthDate', maxValueDuration: { value: 1, system: 'http://unitsofmeasure.org', code: 'a' } }]),
    profile('patient-active', 'Patient', [
      { id: 'Patient.active', path: 'Patient.active', extension: [{ url: 'http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.mustHaveValue', valueBoolean: true }] },
      { id: 'Patient.gender', path: 'Patient.gender', extension: [{ url: 'http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.valueAlternatives', valueCanonical: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason' }] },
    ]),
    profile('patient-lang', 'Patient', [{ id: 'Patient.text', path: 'Patient.text', extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/narrative-language-control', valueCode: '_resource' }] }]),
    profile('patient-source', 'Patient', [{ id: 'Patient.text', path: 'Patient.text', extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/narrative-source-control', valueCode: 'error' }] }]),
  ];
  for (const sd of sds) writeFileSync(join(pkg, `StructureDefinition-${(sd as { id: string }).id}.json`), JSON.stringify(sd));
  v = await FhirValidator.create({ packages: [dir] });
});

after(() => rmSync(dir, { recursive: true, force: true }));

function errors(resource: object, id: string): string[] {
  return v.validate(resource, { profile: BASE + id }).issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').map((i) => `${i.rule} ${i.expression}`);
}

const obs = (q: object) => ({ resourceType: 'Observation', status: 'final', code: { text: 'poids' }, valueQuantity: q });
const UCUM = 'http://unitsofmeasure.org';

test('a Quantity is compared with maxValueQuantity after UCUM conversion', () => {
  assert.deepEqual(errors(obs({ value: 4000, system: UCUM, code: 'g' }), 'obs-max'), []);
  assert.deepEqual(errors(obs({ value: 5, system: UCUM, code: 'kg' }), 'obs-max'), []);
  assert.deepEqual(errors(obs({ value: 6000, system: UCUM, code: 'g' }), 'obs-max'), ['fhir-quantity-range Observation.valueQuantity']);
  // Not comparable: another kind of unit, or no formal unit at all.
  assert.deepEqual(errors(obs({ value: 1, system: UCUM, code: 'm' }), 'obs-max'), ['fhir-quantity-range Observation.valueQuantity']);
  assert.deepEqual(errors(obs({ value: 1, unit: 'kg' }), 'obs-max'), ['fhir-quantity-range Observation.valueQuantity']);
});

test('maxValueDuration limits a date relative to today', () => {
  const year = new Date().getUTCFullYear();
  assert.deepEqual(errors({ resourceType: 'Patient', birthDate: `${year}-01-01` }, 'patient-birth'), []);
  assert.deepEqual(errors({ resourceType: 'Patient', birthDate: `${year + 2}-01-01` }, 'patient-birth'), ['fhir-date-range-now Patient.birthDate']);
});

test('mustHaveValue: extensions alone do not do; valueAlternatives names the extensions that may', () => {
  const dar = { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] };
  const other = { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/iso21090-nullFlavor', valueCode: 'MSK' }] };
  assert.deepEqual(errors({ resourceType: 'Patient', active: true, gender: 'female' }, 'patient-active'), []);
  assert.deepEqual(errors({ resourceType: 'Patient', _active: dar }, 'patient-active'), ['fhir-value-required Patient.active']);
  assert.deepEqual(errors({ resourceType: 'Patient', _gender: dar }, 'patient-active'), []);
  assert.deepEqual(errors({ resourceType: 'Patient', _gender: other }, 'patient-active'), ['fhir-value-required Patient.gender']);
});

test('narrative controls: a section in the resource language, a source on every part', () => {
  const div = (body: string) => ({ status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${body}</div>` });
  const two = '<div lang="fr">Bonjour</div><div lang="de">Hallo</div>';
  assert.deepEqual(errors({ resourceType: 'Patient', language: 'fr', text: div(two) }, 'patient-lang'), []);
  assert.deepEqual(errors({ resourceType: 'Patient', language: 'en', text: div(two) }, 'patient-lang'), ['fhir-narrative-language Patient.text']);
  assert.deepEqual(errors({ resourceType: 'Patient', text: div('<p class="generated">Nom</p>') }, 'patient-source'), []);
  assert.deepEqual(errors({ resourceType: 'Patient', text: div('loose <p class="original">Nom</p><p>Prénom</p>') }, 'patient-source'), [
    'fhir-narrative-source Patient.text',
    'fhir-narrative-source Patient.text',
  ]);
});
