// Every official example of the TDDUI package validates with zero errors. The warnings that
// remain are listed here, each with the reason it is legitimate; a new kind of warning on an
// official example fails the test until it is understood and added (or fixed).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { EXAMPLES_DIR, SHARED_FHIR, REPO_ROOT } from '../testing/paths.js';
import { TdduiValidator } from './validator.js';
import { renderRulesDoc } from './rules-doc.js';

/** Rule id -> why official examples legitimately get this warning. */
const ALLOWED_WARNINGS: Record<string, string> = {
  'fhir-profile-partial': 'FR Core 2.1.0 profiles (bases of tddui-patient, -organization, -practitioner...) are not in ../shared/fhir',
  'fhir-profile-unknown': 'Location example declares fr-core-location, an FR Core profile that is not loaded',
  'fhir-slice-not-evaluable': 'slices (INS identifiers, birthPlace, idNatSt/idNatPs...) are defined in FR Core, not loaded',
  'fhir-extension-unknown': 'FR Core / R5 cross-version extensions (identity-reliability, insee-code, plannedEndDate...) are not loaded',
  'fhir-binding-not-checked': 'ANS value sets (JDV_*, TRE_*) and HL7 terminology are only partly available (MISSING-DEPENDENCIES.md)',
  'fhir-reference-outside-bundle': 'IG defects D-3/D-4: Bundles reference Location/CarePlan examples they do not contain',
  'tddui-nir-key': 'IG defect D-1: the official NIR 147720425367411 has key 11, the number gives 30',
  'tddui-finess-key': 'IG defect D-9: FINESS 480787529 used throughout the examples fails its Luhn key (expected 2)',
  'tddui-idnatps-format': 'IG defect D-10: practitioners carry bare RPPS numbers (10101234567) without the TRE_G08 prefix "8"',
  'tddui-business-id-prefix': 'IG defect D-5: SSIAD child identifiers are prefixed by the NIR, not the usager local id',
  'tddui-evaluation-actor': 'IG defect D-11: the PP AGGIR evaluation names no evaluator, responsible or author (rule I12)',
  'tddui-ssiad-window-age': 'the SSIAD example dates from April 2023, more than 5 weeks before the validation date',
};

let v: TdduiValidator;
before(async () => {
  v = await TdduiValidator.create({ packages: [SHARED_FHIR], useCache: false });
});

const files = readdirSync(EXAMPLES_DIR)
  .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
  .sort();

test('the examples folder holds the 44 official examples', () => {
  assert.ok(files.length >= 44, `found ${files.length}`);
  assert.ok(files.includes('Bundle-tddui-bundle-example.json'));
  assert.ok(files.includes('Bundle-tddui-pp-pa-bundle-example.json'));
});

for (const f of files) {
  test(`official example ${f}: zero errors, only known warnings`, () => {
    const doc = JSON.parse(readFileSync(join(EXAMPLES_DIR, f), 'utf8'));
    const report = v.validate(doc);
    const errors = report.issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
    assert.deepEqual(errors.map((e) => `${e.expression}: [${e.rule}] ${e.message}`), []);
    assert.equal(report.valid, true);
    for (const w of report.issues.filter((i) => i.severity === 'warning')) {
      assert.ok(ALLOWED_WARNINGS[w.rule], `unexpected warning on ${f} at ${w.expression}: [${w.rule}] ${w.message}`);
    }
  });
}

test('official Bundles without business rules: still zero errors (pure profile validation)', () => {
  for (const f of files.filter((x) => x.startsWith('Bundle-'))) {
    const report = v.validate(JSON.parse(readFileSync(join(EXAMPLES_DIR, f), 'utf8')), { profileOnly: true });
    assert.equal(report.valid, true, f);
    assert.ok(!report.issues.some((i) => i.rule.startsWith('tddui-')), 'no business rule ran');
  }
});

test('the SSIAD window warning disappears when validated at the export date', () => {
  const doc = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-bundle-example.json'), 'utf8'));
  const late = v.validate(doc, { now: new Date('2026-01-01T00:00:00Z') });
  assert.ok(late.issues.some((i) => i.rule === 'tddui-ssiad-window-age'));
  const onTime = v.validate(doc, { now: new Date('2023-04-20T00:00:00Z') });
  assert.ok(!onTime.issues.some((i) => i.rule === 'tddui-ssiad-window-age'));
});

test('single resources are matched to a TDDUI profile when they declare none', () => {
  const patient = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'Patient-tddui-patient-example.json'), 'utf8'));
  delete patient.meta;
  const report = v.validate(patient);
  assert.deepEqual(report.profiles, ['https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-patient']);
  assert.ok(report.issues.some((i) => i.rule === 'fhir-profile-chosen'));
});

test('validation is deterministic: same input, same OperationOutcome', () => {
  const doc = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-pp-pa-bundle-example.json'), 'utf8'));
  const now = new Date('2024-01-01T00:00:00Z');
  assert.deepEqual(v.validateToOutcome(doc, { now }), v.validateToOutcome(structuredClone(doc), { now }));
});

test('docs/rules.md is up to date with the rule catalogues (npm run docs:rules)', () => {
  const onDisk = readFileSync(join(REPO_ROOT, 'docs', 'rules.md'), 'utf8');
  assert.equal(onDisk, renderRulesDoc());
});
