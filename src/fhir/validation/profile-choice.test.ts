// Several profiles on the one type of an element (profile-choice.ts): alternatives, the value
// must conform to one of them. A package made here (a folder with package.json and the
// profiles' differentials) on top of the R4 core.
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/fhir/validation/profile-choice.test.js
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FhirValidator } from '../fhir-validator.js';

const BASE = 'http://example.org/fhir/StructureDefinition/';
let dir: string;
let v: FhirValidator;

function sd(id: string, type: string, kind: string, base: string, elements: object[]): object {
  return {
    resourceType: 'StructureDefinition', id, url: BASE + id, name: id.replace(/-/g, ''), status: 'active', fhirVersion: '4.0.1', kind,
    abstract: false, type, baseDefinition: base, derivation: 'constraint', differential: { element: elements },
  };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'profile-choice-'));
  const pkg = join(dir, 'package');
  mkdirSync(pkg);
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'test.profile-choice', version: '0.1.0', fhirVersions: ['4.0.1'] }));
  const core = 'http://hl7.org/fhir/StructureDefinition/';
  const sds = [
    sd('address-use', 'Address', 'complex-type', core + 'Address', [{ id: 'Address.use', path: 'Address.use', min: 1 }]),
    sd('address-type', 'Address', 'complex-type', core + 'Address', [{ id: 'Address.type', path: 'Address.type', min: 1 }]),
    sd('name-a', 'HumanName', 'complex-type', core + 'HumanName', [
      { id: 'HumanName.given', path: 'HumanName.given', constraint: [{ key: 'nm-1', severity: 'error', human: 'no digits', expression: "matches('^[^0-9]*$')" }] },
    ]),
    // Inherits nm-1 from name-a and adds its own requirement.
    sd('name-b', 'HumanName', 'complex-type', BASE + 'name-a', [{ id: 'HumanName.family', path: 'HumanName.family', min: 1 }]),
    sd('patient-choice', 'Patient', 'resource', core + 'Patient', [
      { id: 'Patient.address', path: 'Patient.address', type: [{ code: 'Address', profile: [BASE + 'address-use', BASE + 'address-type'] }] },
      { id: 'Patient.name', path: 'Patient.name', type: [{ code: 'HumanName', profile: [BASE + 'name-a', BASE + 'name-b'] }] },
      { id: 'Patient.contact.address', path: 'Patient.contact.address', type: [{ code: 'Address', profile: [BASE + 'address-use', BASE + 'not-loaded'] }] },
    ]),
  ];
  for (const s of sds) writeFileSync(join(pkg, `StructureDefinition-${(s as { id: string }).id}.json`), JSON.stringify(s));
  v = await FhirValidator.create({ packages: [dir] });
});

after(() => rmSync(dir, { recursive: true, force: true }));

function errors(resource: object): string[] {
  return v.validate(resource, { profile: BASE + 'patient-choice' }).issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').map((i) => `${i.rule} ${i.expression} ${i.message}`);
}

const patient = (extra: object) => ({ resourceType: 'Patient', ...extra });

test('a value that fits one of the alternatives (or both) is valid', () => {
  assert.deepEqual(errors(patient({ address: [{ use: 'home', text: 'x' }] })), []);
  assert.deepEqual(errors(patient({ address: [{ type: 'postal', text: 'x' }] })), []);
  assert.deepEqual(errors(patient({ address: [{ use: 'home', type: 'postal' }] })), []);
});

test('a value that fits none: one error, then the findings against each alternative, naming it', () => {
  assert.deepEqual(errors(patient({ address: [{ text: 'x' }] })).sort(), [
    `fhir-cardinality-min Patient.address[0] Address.type: minimum required = 1, but only found 0 (validating against ${BASE}address-type)`,
    `fhir-cardinality-min Patient.address[0] Address.use: minimum required = 1, but only found 0 (validating against ${BASE}address-use)`,
    `fhir-profile-choice-unmatched Patient.address[0] The value conforms to none of the profiles allowed here (${BASE}address-use, ${BASE}address-type); the findings against each follow`,
  ]);
});

test('a constraint failing against both alternatives (one inherits it) is one finding naming both', () => {
  const e = errors(patient({ name: [{ given: ['J0hn'] }] }));
  assert.equal(e.length, 3, e.join('\n'));
  assert.ok(e.some((x) => x.startsWith('fhir-profile-choice-unmatched Patient.name[0]')), e.join('\n'));
  assert.ok(e.some((x) => x.startsWith('fhir-invariant Patient.name[0].given[0]') && x.endsWith(`(validating against ${BASE}name-a, ${BASE}name-b)`)), e.join('\n'));
  assert.ok(e.some((x) => x.startsWith('fhir-cardinality-min Patient.name[0] HumanName.family') && x.endsWith(`(validating against ${BASE}name-b)`)), e.join('\n'));
  // name-b requires a family, name-a does not: with the digit fixed, name-a fits.
  assert.deepEqual(errors(patient({ name: [{ given: ['John'] }] })), []);
});

test('an alternative that is not loaded might be the one that fits: no error, a note', () => {
  const r = v.validate(patient({ contact: [{ address: { text: 'x' } }] }), { profile: BASE + 'patient-choice' });
  assert.deepEqual(r.issues.filter((i) => i.severity === 'error'), []);
  assert.ok(r.issues.some((i) => i.rule === 'fhir-profile-unknown' && i.message.includes(`${BASE}not-loaded`)));
});

test('inside a slice or reference check, a value fitting no alternative makes the resource not conform', () => {
  // The same profile reached as meta.profile: the verdict is the same as when named by the caller.
  const r = v.validate({ resourceType: 'Patient', meta: { profile: [BASE + 'patient-choice'] }, address: [{ text: 'x' }] });
  assert.ok(r.issues.some((i) => i.rule === 'fhir-profile-choice-unmatched'));
});
