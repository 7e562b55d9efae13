// A MeasureReport against its Measure (measures.ts): groups, populations and stratifiers matched
// by code, each finding where the HL7 validator puts it. The Measure is contained (`#m`), so the
// base R4 definitions are enough; the suite case measure-report-ihe covers a Measure from a package.
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/fhir/validation/measures.test.js
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { FhirValidator } from '../fhir-validator.js';

let v: FhirValidator;
before(async () => {
  v = await FhirValidator.create({ packages: [] });
});

const POP = 'http://terminology.hl7.org/CodeSystem/measure-population';
const MC = 'https://example.org/measure-codes';
const pop = (code: string) => ({ code: { coding: [{ system: POP, code }] } });
const group = (code: string) => ({ coding: [{ system: MC, code }] });
/** A population of the Measure (its criteria are required). */
const def = (code: string) => ({ ...pop(code), criteria: { language: 'text/cql', expression: code } });

function measure(groups: unknown[]) {
  return { resourceType: 'Measure', id: 'm', status: 'active', group: groups };
}

function report(groups: unknown[], m: unknown, type = 'summary') {
  const r: Record<string, unknown> = { resourceType: 'MeasureReport', status: 'complete', type, measure: '#m', contained: [m], period: { start: '2025-01-01', end: '2025-01-31' } };
  if (groups.length > 0) r.group = groups;
  return r;
}

function errors(resource: unknown): [string | undefined, string | undefined][] {
  return v
    .validate(resource)
    .issues.filter((i) => i.severity === 'error' || i.severity === 'fatal')
    .map((i): [string | undefined, string | undefined] => [i.rule, i.expression])
    .sort((a, b) => `${a[1]} ${a[0]}`.localeCompare(`${b[1]} ${b[0]}`));
}

const twoGroups = measure([
  { code: group('a'), population: [def('initial-population'), def('measure-observation')], stratifier: [{ code: { text: 'age' } }] },
  { code: group('b'), population: [def('initial-population')] },
]);

test('a report that matches its Measure (stratifier by text, measure-observation left out): no error', () => {
  const ok = report(
    [
      { code: group('b'), population: [{ ...pop('initial-population'), count: 3 }] },
      { code: group('a'), population: [{ ...pop('initial-population'), count: 5 }], stratifier: [{ code: [{ text: 'age' }], stratum: [{ value: { text: '0-9' }, population: [{ ...pop('initial-population'), count: 2 }] }] }] },
    ],
    twoGroups,
  );
  assert.deepEqual(errors(ok), []);
});

test('groups, populations and stratifiers without a code, unknown, twice or missing', () => {
  const bad = report(
    [
      { code: group('a'), population: [pop('numerator'), { count: 1 }], stratifier: [{ stratum: [{ value: { text: 'x' } }] }, { code: [{ text: 'age' }] }, { code: [{ text: 'age' }] }] },
      { code: group('a') },
      { population: [pop('initial-population')] },
    ],
    twoGroups,
  );
  assert.deepEqual(errors(bad), [
    ['fhir-measurereport-missing', 'MeasureReport'],
    ['fhir-measurereport-missing', 'MeasureReport.group[0]'],
    ['fhir-measurereport-code-unknown', 'MeasureReport.group[0].population[0]'],
    ['fhir-measurereport-code-missing', 'MeasureReport.group[0].population[1]'],
    ['fhir-measurereport-code-missing', 'MeasureReport.group[0].stratifier[0]'],
    ['fhir-measurereport-code-duplicate', 'MeasureReport.group[0].stratifier[2]'],
    ['fhir-measurereport-code-duplicate', 'MeasureReport.group[1]'],
    ['fhir-measurereport-code-missing', 'MeasureReport.group[2]'],
  ]);
  // A data-collection report leaves the groups out (mrp-1).
  assert.deepEqual(errors(report([], twoGroups, 'data-collection')), []);
});

test('one group each: the report may leave it anonymous, and a code it has must be the Measure\'s', () => {
  const one = measure([{ code: group('a'), population: [def('initial-population')] }]);
  assert.deepEqual(errors(report([{ population: [pop('initial-population')] }], one)), []);
  assert.deepEqual(errors(report([{ code: group('z'), population: [pop('initial-population')] }], one)), [['fhir-measurereport-group-code', 'MeasureReport.group[0]']]);
});

test('a Measure that is not loaded: a not-checked warning, no error', () => {
  const r = report([{ population: [pop('initial-population')] }], measure([]));
  r.measure = 'https://example.org/Measure/unknown';
  delete r.contained;
  const issues = v.validate(r).issues;
  assert.deepEqual(issues.filter((i) => i.severity === 'error'), []);
  assert.ok(issues.some((i) => i.rule === 'fhir-measurereport-measure-unknown'));
});
