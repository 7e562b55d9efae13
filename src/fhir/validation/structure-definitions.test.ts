// A StructureDefinition validated as a resource (structure-definitions.ts): discriminator paths
// typed against the sliced element's types, and a slice restating its slicing differently. The
// suite case StructureDefinition-Slice23 covers the reference's own example.
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/fhir/validation/structure-definitions.test.js
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { FhirValidator } from '../fhir-validator.js';

let v: FhirValidator;
before(async () => {
  v = await FhirValidator.create({ packages: [] });
});

function profile(elements: unknown[]) {
  return {
    resourceType: 'StructureDefinition',
    url: 'https://example.org/StructureDefinition/p',
    name: 'P',
    status: 'draft',
    kind: 'resource',
    abstract: false,
    type: 'Patient',
    baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Patient',
    derivation: 'constraint',
    differential: { element: elements },
  };
}

function sdErrors(sd: unknown): [string | undefined, string | undefined][] {
  return v
    .validate(sd)
    .issues.filter((i) => i.severity === 'error' && /^fhir-sd-/.test(i.rule ?? ''))
    .map((i) => [i.rule, i.expression]);
}

const sliced = (path: string, discriminator: string, type = 'Identifier') => ({
  id: 'Patient.identifier',
  path: 'Patient.identifier',
  slicing: { discriminator: [{ type: 'value', path: discriminator }], rules: 'open' },
  type: [{ code: type }],
});

test('discriminator paths that lead somewhere in the sliced element\'s types: no error', () => {
  for (const p of ['system', 'type.coding.code', '$this', 'assigner.resolve()', "extension('https://example.org/x').value", 'period.start']) {
    assert.deepEqual(sdErrors(profile([sliced('Patient.identifier', p)])), [], p);
  }
  // Without types stated on the element, the path is not judged (as the reference).
  assert.deepEqual(sdErrors(profile([{ id: 'Patient.identifier', path: 'Patient.identifier', slicing: { discriminator: [{ type: 'value', path: 'nothing' }], rules: 'open' } }])), []);
});

test('a discriminator path naming no element of the types is an error', () => {
  assert.deepEqual(sdErrors(profile([sliced('Patient.identifier', 'sytem')])), [['fhir-sd-discriminator-path', 'StructureDefinition.differential.element[0].slicing.discriminator[0]']]);
  assert.deepEqual(sdErrors(profile([sliced('Patient.identifier', 'type.coding.nope')])), [['fhir-sd-discriminator-path', 'StructureDefinition.differential.element[0].slicing.discriminator[0]']]);
});

test('a slice restating its slicing differently is an error; the same slicing, or less of it, is not', () => {
  const ext = (slicing: unknown) => [
    { id: 'Patient.extension', path: 'Patient.extension', slicing: { discriminator: [{ type: 'value', path: 'url' }], ordered: false, rules: 'open' } },
    { id: 'Patient.extension:a', path: 'Patient.extension', sliceName: 'a', slicing, type: [{ code: 'Extension', profile: ['http://hl7.org/fhir/StructureDefinition/patient-birthPlace'] }] },
  ];
  assert.deepEqual(sdErrors(profile(ext({ discriminator: [{ type: 'value', path: 'url' }] }))), []);
  assert.deepEqual(sdErrors(profile(ext({ discriminator: [{ type: 'value', path: 'url' }], rules: 'closed' }))), [['fhir-sd-slicing-restated', 'StructureDefinition.differential.element[1].slicing']]);
  assert.deepEqual(sdErrors(profile(ext({ discriminator: [{ type: 'value', path: 'value' }], rules: 'open' }))), [['fhir-sd-slicing-restated', 'StructureDefinition.differential.element[1].slicing']]);
});
