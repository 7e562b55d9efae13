// A complex fixed value (bindings.ts checkFixedPattern): each part that differs is its own
// finding at its own location (D-241). A package made here on top of the R4 core.
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/fhir/validation/fixed-value.test.js
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FhirValidator } from '../fhir-validator.js';

const URL = 'http://example.org/fhir/StructureDefinition/practitioner-fixed';
let dir: string;
let v: FhirValidator;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fixed-value-'));
  const pkg = join(dir, 'package');
  mkdirSync(pkg);
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'test.fixed-value', version: '0.1.0', fhirVersions: ['4.0.1'] }));
  const sd = {
    resourceType: 'StructureDefinition', id: 'practitioner-fixed', url: URL, name: 'PractitionerFixed', status: 'active', fhirVersion: '4.0.1', kind: 'resource',
    abstract: false, type: 'Practitioner', baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Practitioner', derivation: 'constraint',
    differential: {
      element: [
        { id: 'Practitioner.telecom', path: 'Practitioner.telecom', fixedContactPoint: { system: 'phone', use: 'work' } },
        { id: 'Practitioner.qualification.code', path: 'Practitioner.qualification.code', fixedCodeableConcept: { coding: [{ system: 'http://example.org/cs', code: 'a' }] } },
        { id: 'Practitioner.gender', path: 'Practitioner.gender', fixedCode: 'female' },
      ],
    },
  };
  writeFileSync(join(pkg, 'StructureDefinition-practitioner-fixed.json'), JSON.stringify(sd));
  v = await FhirValidator.create({ packages: [dir] });
});

after(() => rmSync(dir, { recursive: true, force: true }));

function errors(resource: object): string[] {
  return v.validate({ resourceType: 'Practitioner', ...resource }, { profile: URL }).issues.filter((i) => i.severity === 'error').map((i) => `${i.rule} ${i.expression}`).sort();
}

test('the fixed value itself passes', () => {
  assert.deepEqual(errors({ telecom: [{ system: 'phone', use: 'work' }], gender: 'female' }), []);
});

test('each part that differs from a complex fixed value is a finding at its location', () => {
  assert.deepEqual(errors({ telecom: [{ system: 'phone', value: '555', use: 'home' }] }), ['fhir-fixed-value Practitioner.telecom[0].use', 'fhir-fixed-value-extra Practitioner.telecom[0].value']);
  assert.deepEqual(errors({ telecom: [{ system: 'fax', value: '555' }] }), [
    'fhir-fixed-value Practitioner.telecom[0].system',
    'fhir-fixed-value-extra Practitioner.telecom[0].value',
    'fhir-fixed-value-missing Practitioner.telecom[0]',
  ]);
  // Nested: a coding of another code, and an array of another length as one finding.
  assert.deepEqual(errors({ qualification: [{ code: { coding: [{ system: 'http://example.org/cs', code: 'b' }] } }] }), ['fhir-fixed-value Practitioner.qualification[0].code.coding[0].code']);
  const two = [{ system: 'http://example.org/cs', code: 'a' }, { system: 'http://example.org/cs', code: 'c' }];
  assert.deepEqual(errors({ qualification: [{ code: { coding: two } }] }), ['fhir-fixed-value Practitioner.qualification[0].code.coding']);
});

test('a primitive fixed value is one finding, as before', () => {
  assert.deepEqual(errors({ gender: 'male' }), ['fhir-fixed-value Practitioner.gender']);
});
