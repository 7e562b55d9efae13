// A type profile that names an element of another profile (the `elementdefinition-profile-element`
// extension on ElementDefinition.type.profile): a document profile whose Composition.section
// slices each take their definition from a slice of a "section library" profile. That element
// (its children, their patterns and cardinalities) is the slice's type constraint: it tells the
// slices apart and checks each section. The two profiles are written here, as older and
// XML-converted profiles are: differential elements with `path` and `sliceName` but no `id`.
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/fhir/validation/profile-element.test.js
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FhirValidator } from '../fhir-validator.js';
import { differentialIds } from '../profiles/snapshot.js';

const BASE = 'http://example.org/fhir/StructureDefinition/';
const LIBRARY = `${BASE}section-library`;
const DOCUMENT = `${BASE}document-with-sections`;
const CS = 'http://example.org/fhir/CodeSystem/sections';
const PROFILE_ELEMENT = 'http://hl7.org/fhir/StructureDefinition/elementdefinition-profile-element';

const sectionCode = (code: string) => ({ coding: [{ system: CS, code }] });

const library = {
  resourceType: 'StructureDefinition',
  url: LIBRARY,
  name: 'SectionLibrary',
  status: 'draft',
  kind: 'resource',
  abstract: false,
  type: 'Composition',
  baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Composition',
  derivation: 'constraint',
  differential: {
    element: [
      { path: 'Composition' },
      { path: 'Composition.section', slicing: { discriminator: [{ type: 'pattern', path: 'code' }], rules: 'open' } },
      { path: 'Composition.section', sliceName: 'allergies' },
      { path: 'Composition.section.code', min: 1, patternCodeableConcept: sectionCode('allergies') },
      { path: 'Composition.section.focus', min: 1 },
      { path: 'Composition.section', sliceName: 'plan' },
      { path: 'Composition.section.title', min: 1 },
      { path: 'Composition.section.code', min: 1, patternCodeableConcept: sectionCode('plan') },
    ],
  },
};

const sliceOf = (name: string, min: number, element: string) => ({
  path: 'Composition.section',
  sliceName: name,
  min,
  type: [{ code: 'BackboneElement', profile: [LIBRARY], _profile: [{ extension: [{ url: PROFILE_ELEMENT, valueString: element }] }] }],
});

const document = {
  ...library,
  url: DOCUMENT,
  name: 'DocumentWithSections',
  differential: {
    element: [
      { path: 'Composition' },
      { path: 'Composition.section', slicing: { discriminator: [{ type: 'pattern', path: 'code' }], ordered: true, rules: 'closed' } },
      sliceOf('allergy-section', 1, 'Composition.section:allergies'),
      sliceOf('plan-section', 0, 'Composition.section:plan'),
    ],
  },
};

let dir: string;
let v: FhirValidator;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'profile-element-'));
  const pkg = join(dir, 'package');
  mkdirSync(pkg);
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'example.sections', version: '0.1.0', fhirVersions: ['4.0.1'], dependencies: {} }));
  writeFileSync(join(pkg, 'StructureDefinition-section-library.json'), JSON.stringify(library));
  writeFileSync(join(pkg, 'StructureDefinition-document-with-sections.json'), JSON.stringify(document));
  v = await FhirValidator.create({ packages: [pkg], useCache: false });
});
after(() => rmSync(dir, { recursive: true, force: true }));

function composition(sections: unknown[] | undefined): Record<string, unknown> {
  return {
    resourceType: 'Composition',
    text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Document</div>' },
    status: 'final',
    type: { text: 'a document' },
    date: '2026-12-06',
    author: [{ display: 'A. Author' }],
    title: 'A document',
    ...(sections ? { section: sections } : {}),
  };
}

function errors(resource: unknown): string[][] {
  return v
    .validate(resource, { profile: DOCUMENT })
    .issues.filter((i) => i.severity === 'error' || i.severity === 'fatal')
    .map((i) => [i.rule, i.expression ?? '', i.message]);
}

const narrative = { status: 'additional', div: '<div xmlns="http://www.w3.org/1999/xhtml">Section</div>' };

test('differential elements without ids are numbered by path and the slice they follow', () => {
  assert.deepEqual(differentialIds(library.differential.element), [
    'Composition',
    'Composition.section',
    'Composition.section:allergies',
    'Composition.section:allergies.code',
    'Composition.section:allergies.focus',
    'Composition.section:plan',
    'Composition.section:plan.title',
    'Composition.section:plan.code',
  ]);
  // An unsliced mention of the sliced path ends the slice; explicit ids are kept.
  assert.deepEqual(
    differentialIds([
      { id: 'Patient', path: 'Patient' },
      { path: 'Patient.identifier', sliceName: 'a' },
      { path: 'Patient.identifier' },
      { path: 'Patient.identifier.system' },
      { id: 'Patient.name:x', path: 'Patient.name', sliceName: 'x' },
      { path: 'Patient.name.family' },
    ]),
    ['Patient', 'Patient.identifier:a', 'Patient.identifier', 'Patient.identifier.system', 'Patient.name:x', 'Patient.name:x.family'],
  );
});

test('the slices are told apart by the library element\'s pattern: a required one that is absent is reported', () => {
  const none = errors(composition(undefined));
  assert.deepEqual(none.map(([rule, at]) => [rule, at]), [['fhir-slice-cardinality-min', 'Composition']]);
  assert.match(none[0][2], /allergy-section/);
  // A plan section alone does not stand for the allergy section.
  const planOnly = errors(composition([{ title: 'Plan', code: sectionCode('plan'), text: narrative }]));
  assert.deepEqual(planOnly.map(([rule]) => rule), ['fhir-slice-cardinality-min']);
});

test('each section is checked against the library element of its slice', () => {
  const valid = composition([
    { code: sectionCode('allergies'), focus: { display: 'the usager' }, text: narrative },
    { title: 'Plan', code: sectionCode('plan'), text: narrative },
  ]);
  assert.deepEqual(errors(valid), []);
  const bad = composition([
    { code: sectionCode('allergies'), text: narrative },
    { code: sectionCode('plan'), text: narrative },
  ]);
  assert.deepEqual(
    errors(bad).map(([rule, at, message]) => [rule, at, message.split(':')[0]]),
    [
      ['fhir-cardinality-min', 'Composition.section[0]', 'Composition.section.focus'],
      ['fhir-cardinality-min', 'Composition.section[1]', 'Composition.section.title'],
    ],
  );
  // The document's slicing is closed: a section of no slice is an error.
  const other = composition([
    { code: sectionCode('allergies'), focus: { display: 'the usager' }, text: narrative },
    { title: 'Other', code: sectionCode('other'), text: narrative },
  ]);
  assert.deepEqual(errors(other).map(([rule, at]) => [rule, at]), [['fhir-slice-closed', 'Composition.section[1]']]);
});

test('the library\'s root invariants are not applied to the section (only the named element is the type constraint)', () => {
  const issues = v.validate(
    // An entry and no narrative: cmp-1 is met; dom-6 would fail on the section if applied there.
    composition([{ code: sectionCode('allergies'), focus: { display: 'the usager' }, entry: [{ display: 'an allergy' }] }]),
    { profile: DOCUMENT },
  ).issues;
  // dom-6 (a resource should have narrative) belongs to the library's root, not to its section element.
  assert.deepEqual(issues.filter((i) => i.expression?.startsWith('Composition.section')).map((i) => i.message), []);
});

test('the document profile validated as a resource: its type profile names a BackboneElement, as the type says', () => {
  const rules = v.validate(document).issues.map((i) => i.rule);
  assert.ok(!rules.includes('fhir-sd-type-profile'), rules.join(', '));
  // A profile element of another type is still reported.
  const wrong = structuredClone(document);
  (wrong.differential.element[2] as ReturnType<typeof sliceOf>).type[0].code = 'Extension';
  assert.ok(v.validate(wrong).issues.some((i) => i.rule === 'fhir-sd-type-profile'));
});
