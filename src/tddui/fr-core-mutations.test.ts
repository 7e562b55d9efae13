// Mutations that only FR Core catches. Each case changes one official TDDUI 2.2.0 example in a way
// that breaks a constraint FR Core 2.1.0 states (INS identifier slices, identity reliability, birth
// place and its INSEE code, the birth list of given names, FR Core extensions and their types...)
// and checks that:
// - with the complete packages (../shared/fhir-packages), the error is reported at the right
//   FHIRPath `expression` with the right rule;
// - with TDDUI and the ANS terminologies alone (FR Core missing: what the old ../shared/fhir
//   layout gave), nothing is reported there: the defect passed unnoticed.
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/tddui/fr-core-mutations.test.js
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ValidationIssue } from '../fhir/outcome/issue.js';
import { SHARED_FHIR, packageDir, tdduiExamplesDir, tdduiPackageDir } from '../testing/paths.js';
import { TdduiValidator } from './validator.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

const full = await TdduiValidator.create({ packages: [SHARED_FHIR], useCache: false, igs: ['2.2.0'] });
const partial = await TdduiValidator.create({ packages: [tdduiPackageDir('2.2.0'), packageDir('ans.fr.terminologies', '1.4.0')], useCache: false });

const PATIENT_INS = 'Patient-tddui-patient-ins-example.json';
const PATIENT = 'Patient-tddui-patient-example.json';
const ORG = 'Organization-tddui-organization-example.json';
const PRACTITIONER = 'Practitioner-tddui-practitioner-example.json';
const SSIAD = 'Bundle-tddui-bundle-example.json';
const FR = 'https://hl7.fr/ig/fhir/core/StructureDefinition/';
const NOW = new Date('2023-04-20T00:00:00Z');

const example = (f: string): Doc => JSON.parse(readFileSync(join(tdduiExamplesDir('2.2.0'), f), 'utf8'));
const reliability = (p: Doc) => p.extension.find((e: Doc) => e.url === FR + 'fr-core-identity-reliability');
const birthPlace = (p: Doc) => p.extension.find((e: Doc) => e.url === 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace');

interface Case {
  name: string;
  file: string;
  mutate: (d: Doc) => void;
  rule: string;
  expression: string;
  /** Default error. */
  severity?: 'error' | 'warning';
}

const CASES: Case[] = [
  // -- INS identifier slices (fr-core-patient-ins)
  { name: 'INS-NIR with the NIA system', file: PATIENT_INS, mutate: (p) => (p.identifier[0].system = 'urn:oid:1.2.250.1.213.1.4.9'), rule: 'fhir-pattern-value', expression: 'Patient.identifier[0].system' },
  { name: 'INS-NIR without value', file: PATIENT_INS, mutate: (p) => delete p.identifier[0].value, rule: 'fhir-cardinality-min', expression: 'Patient.identifier[0]' },
  { name: 'INS-NIA typed identifier with the NIR system', file: PATIENT_INS, mutate: (p) => (p.identifier[0].type.coding[0].code = 'INS-NIA'), rule: 'fhir-pattern-value', expression: 'Patient.identifier[0].system' },
  { name: 'INS-NIR-TEST typed identifier with the NIR system', file: PATIENT_INS, mutate: (p) => (p.identifier[0].type.coding[0].code = 'INS-NIR-TEST'), rule: 'fhir-pattern-value', expression: 'Patient.identifier[0].system' },
  { name: 'INS-NIR-DEMO typed identifier with the NIR system', file: PATIENT_INS, mutate: (p) => (p.identifier[0].type.coding[0].code = 'INS-NIR-DEMO'), rule: 'fhir-pattern-value', expression: 'Patient.identifier[0].system' },
  { name: 'INS type code unknown to FR Core\'s identifier type code system', file: PATIENT_INS, mutate: (p) => (p.identifier[0].type.coding[0].code = 'INS-XYZ'), rule: 'fhir-code-unknown', expression: 'Patient.identifier[0].type.coding[0].code' },
  { name: 'NSS identifier (NH) with another system than the NIR\'s', file: PATIENT, mutate: (p) => p.identifier.push({ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'NH' }] }, system: 'urn:oid:1.2.250.1.213.1.4.9', value: '147720425367411' }), rule: 'fhir-pattern-value', expression: 'Patient.identifier[1].system' },
  { name: 'two NSS identifiers (max 1)', file: PATIENT, mutate: (p) => { const nss = { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'NH' }] }, system: 'urn:oid:1.2.250.1.213.1.4.8', value: '147720425367411' }; p.identifier.push(nss, structuredClone(nss)); }, rule: 'fhir-slice-cardinality-max', expression: 'Patient.identifier' },
  { name: 'INS-C identifier without value', file: PATIENT, mutate: (p) => p.identifier.push({ type: { coding: [{ system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203', code: 'INS-C', display: 'Identifiant National de Santé Calculé' }] }, system: 'urn:oid:1.2.250.1.213.1.4.2' }), rule: 'fhir-cardinality-min', expression: 'Patient.identifier[1]' },
  // -- identity reliability (fr-core-identity-reliability)
  { name: 'identity status QUAL (not in FR Core 2.1.0\'s code system, D-27)', file: PATIENT_INS, mutate: (p) => (reliability(p).extension[0].valueCoding.code = 'QUAL'), rule: 'fhir-code-unknown', expression: 'Patient.extension[0].extension[0].valueCoding.code' },
  { name: 'identity status RECUP', file: PATIENT_INS, mutate: (p) => (reliability(p).extension[0].valueCoding.code = 'RECUP'), rule: 'fhir-code-unknown', expression: 'Patient.extension[0].extension[0].valueCoding.code' },
  { name: 'identity status as a string', file: PATIENT_INS, mutate: (p) => (reliability(p).extension[0] = { url: 'identityStatus', valueString: 'VALI' }), rule: 'fhir-type-not-allowed', expression: 'Patient.extension[0].extension[0].valueString' },
  { name: 'identity reliability with an undefined sub-extension', file: PATIENT_INS, mutate: (p) => reliability(p).extension.push({ url: 'statut', valueString: 'x' }), rule: 'fhir-sub-extension-unknown', expression: 'Patient.extension[0].extension[1]' },
  { name: 'identity validation date as a dateTime with a time', file: PATIENT_INS, mutate: (p) => reliability(p).extension.push({ url: 'validationDate', valueDateTime: '2023-01-01T10:00:00Z' }), rule: 'fhir-type-not-allowed', expression: 'Patient.extension[0].extension[1].valueDateTime' },
  { name: 'identity validation mode outside its required value set', file: PATIENT_INS, mutate: (p) => reliability(p).extension.push({ url: 'validationMode', valueCoding: { system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0445', code: 'VALI' } }), rule: 'fhir-code-invalid', expression: 'Patient.extension[0].extension[1].valueCoding' },
  { name: 'identity reliability with a value of its own (value[x] 0..0)', file: PATIENT_INS, mutate: (p) => (reliability(p).valueString = 'VALI'), rule: 'fhir-cardinality-max', expression: 'Patient.extension[0].valueString' },
  { name: 'identity status twice', file: PATIENT_INS, mutate: (p) => reliability(p).extension.push(structuredClone(reliability(p).extension[0])), rule: 'fhir-slice-cardinality-max', expression: 'Patient.extension[0].extension' },
  { name: 'INS patient without identity reliability (1..1 in FR Core INS)', file: PATIENT_INS, mutate: (p) => p.extension.splice(0, 1), rule: 'fhir-slice-cardinality-min', expression: 'Patient' },
  { name: 'fr-core-1: validated identity (VALI) without any INS identifier', file: PATIENT_INS, mutate: (p) => p.identifier.splice(0, 1), rule: 'fhir-invariant', expression: 'Patient' },
  // -- birth place and INSEE codes (fr-core-address, fr-core-address-insee-code)
  { name: 'INS patient without birth place', file: PATIENT_INS, mutate: (p) => p.extension.splice(1, 1), rule: 'fhir-slice-cardinality-min', expression: 'Patient' },
  { name: 'birth place without its INSEE code', file: PATIENT_INS, mutate: (p) => delete birthPlace(p).valueAddress.extension, rule: 'fhir-cardinality-min', expression: 'Patient.extension[1].valueAddress' },
  { name: 'birth place INSEE code as a string', file: PATIENT_INS, mutate: (p) => (birthPlace(p).valueAddress.extension[0] = { url: FR + 'fr-core-address-insee-code', valueString: '63220' }), rule: 'fhir-type-not-allowed', expression: 'Patient.extension[1].valueAddress.extension[0].valueString' },
  { name: 'two INSEE codes on one address', file: PATIENT_INS, mutate: (p) => birthPlace(p).valueAddress.extension.push(structuredClone(birthPlace(p).valueAddress.extension[0])), rule: 'fhir-slice-cardinality-max', expression: 'Patient.extension[1].valueAddress.extension' },
  { name: 'INSEE code extension on the home address with a wrong value type', file: PATIENT_INS, mutate: (p) => (p.address[0].extension = [{ url: FR + 'fr-core-address-insee-code', valueCode: '76748' }]), rule: 'fhir-type-not-allowed', expression: 'Patient.address[0].extension[0].valueCode' },
  // -- names (fr-core-human-name, birth list of given names)
  { name: 'INS official name without the birth list of given names', file: PATIENT_INS, mutate: (p) => delete p.name[0].extension, rule: 'fhir-cardinality-min', expression: 'Patient.name[0]' },
  { name: 'INS official name with two given names (max 1)', file: PATIENT_INS, mutate: (p) => p.name[0].given.push('Stéphane'), rule: 'fhir-cardinality-max', expression: 'Patient.name[0].given' },
  { name: 'INS patient without an official name', file: PATIENT_INS, mutate: (p) => (p.name[0].use = 'usual'), rule: 'fhir-slice-cardinality-min', expression: 'Patient' },
  { name: 'birth list of given names as an integer', file: PATIENT_INS, mutate: (p) => (p.name[0].extension[0] = { url: FR + 'fr-core-patient-birth-list-given-name', valueInteger: 3 }), rule: 'fhir-type-not-allowed', expression: 'Patient.name[0].extension[0].valueInteger' },
  { name: 'INS patient of gender other (fr-core-vs-patient-gender-INS)', file: PATIENT_INS, mutate: (p) => (p.gender = 'other'), rule: 'fhir-code-invalid', expression: 'Patient.gender' },
  { name: 'INS patient without birth date', file: PATIENT_INS, mutate: (p) => delete p.birthDate, rule: 'fhir-cardinality-min', expression: 'Patient' },
  // -- other FR Core extensions and types
  { name: 'nationality extension with a code instead of its complex content', file: PATIENT, mutate: (p) => (p.extension = [...(p.extension ?? []), { url: FR + 'fr-core-patient-nationality', valueCode: 'FRA' }]), rule: 'fhir-cardinality-max', expression: 'Patient.extension[1].valueCode' },
  { name: 'death place as a boolean', file: PATIENT, mutate: (p) => (p.extension = [...(p.extension ?? []), { url: FR + 'fr-core-patient-death-place', valueBoolean: true }]), rule: 'fhir-type-not-allowed', expression: 'Patient.extension[1].valueBoolean' },
  { name: 'telecom email without a value (fr-core-contact-point)', file: PATIENT, mutate: (p) => (p.telecom = [{ system: 'email', extension: [{ url: FR + 'fr-core-contact-point-email-type', valueCoding: { system: 'https://mos.esante.gouv.fr/NOS/TRE_R256-TypeMessagerie/FHIR/TRE-R256-TypeMessagerie', code: 'MSSANTE' } }] }]), rule: 'fhir-cardinality-min', expression: 'Patient.telecom[0]' },
  { name: 'organisation short name as a number', file: ORG, mutate: (o) => (o.extension = [{ url: FR + 'fr-core-organization-short-name', valueInteger: 1 }]), rule: 'fhir-type-not-allowed', expression: 'Organization.extension[0].valueInteger' },
  { name: 'organisation idNatSt with the RPPS system', file: ORG, mutate: (o) => (o.identifier[0].system = 'urn:oid:1.2.250.1.71.4.2.1'), rule: 'fhir-slice-cardinality-min', expression: 'Organization.identifier[0]' },
  { name: 'organisation identifier without system (FR Core 1..1)', file: ORG, mutate: (o) => o.identifier.push({ value: '123' }), rule: 'fhir-cardinality-min', expression: 'Organization.identifier[1]' },
  { name: 'practitioner idNatPs with the FINESS system', file: PRACTITIONER, mutate: (p) => (p.identifier[0].system = 'urn:oid:1.2.250.1.71.4.2.2'), rule: 'fhir-slice-cardinality-min', expression: 'Practitioner.identifier[0]' },
  { name: 'identity status QUAL in the SSIAD Bundle', file: SSIAD, mutate: (b) => (reliability(b.entry[0].resource).extension[0].valueCoding.code = 'QUAL'), rule: 'fhir-code-unknown', expression: 'Bundle.entry[0].resource.extension[0].extension[0].valueCoding.code' },
];

const show = (issues: ValidationIssue[]) => issues.map((i) => `  ${i.severity} ${i.rule} @ ${i.expression}: ${i.message}`).join('\n');

test('at least 30 mutations that only FR Core catches', () => {
  assert.ok(CASES.length >= 30, `${CASES.length}`);
  assert.equal(new Set(CASES.map((c) => c.name)).size, CASES.length);
});

for (const c of CASES) {
  test(`[FR Core] ${c.name} (${c.file})`, () => {
    const doc = example(c.file);
    c.mutate(doc);
    const withFrCore = full.validate(doc, { now: NOW });
    const severity = c.severity ?? 'error';
    const hit = withFrCore.issues.filter((i) => i.rule === c.rule && i.expression === c.expression && i.severity === severity);
    assert.ok(hit.length > 0, `expected ${severity} ${c.rule} @ ${c.expression}; got:\n${show(withFrCore.issues.filter((i) => i.severity !== 'information'))}`);
    if (severity === 'error') assert.equal(withFrCore.valid, false);
    const without = partial.validate(doc, { now: NOW });
    const there = without.issues.filter((i) => i.expression === c.expression && (i.severity === 'error' || i.severity === 'fatal'));
    assert.deepEqual(there, [], `without FR Core it was already caught:\n${show(there)}`);
  });
}
