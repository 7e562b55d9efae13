import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4';
import { EXAMPLES_DIR, SHARED_FHIR } from '../../testing/paths.js';
import { loadPackages } from '../packages/loader.js';
import { Profiles } from '../profiles/profiles.js';
import { Terminology } from '../terminology/terminology.js';
import { Validator } from '../validation/validator.js';
import { compileFast, Unsupported } from './fast.js';
import type { InvariantResult } from './invariants.js';

function reference(expression: string, node: unknown, root: unknown): unknown[] {
  return fhirpath.evaluate(node as object, expression, { resource: root, rootResource: root, context: node }, r4model, {
    traceFn: () => undefined,
  }) as unknown[];
}

const patient = {
  resourceType: 'Patient',
  id: 'p1',
  identifier: [
    { system: 'urn:a', value: '1' },
    { system: 'urn:b', value: '2' },
  ],
  name: [{ family: 'Dupont', given: ['Jean', 'Paul'] }],
  extension: [{ url: 'u1', valueCodeableConcept: { coding: [{ code: 'ORG-206' }] } }, { url: 'u2', valueString: 'x' }],
  contained: [{ resourceType: 'Organization', id: 'o1' }],
  active: true,
};

test('fast FHIRPath agrees with fhirpath.js on representative expressions', () => {
  const expressions = [
    'name.exists()',
    'name.given.count() = 2',
    "identifier.where(system = 'urn:b').value = '2'",
    "identifier.where(system = 'urn:c').exists().not()",
    "extension.where(url = 'u1').value.coding.code = 'ORG-206'",
    "Patient.extension.where(url='u2').exists() implies Patient.extension.where(url='u1').exists()",
    "extension('u2').value = 'x'",
    'active and name.exists()',
    'active.not() or telecom.empty()',
    "telecom.exists() or (name.family = 'Dupont')",
    'gender.empty() xor active',
    "identifier.all(system.startsWith('urn:'))",
    "('#' + 'o1') = '#o1'",
    "%resource.contained.id contains 'o1'",
    "'o1' in %rootResource.contained.id",
    'name.given.first() = \'Jean\'',
    "name.family.length() > 3",
    "identifier.first().value.matches('^[0-9]+$')",
    'identifier.select(system & value).isDistinct()',
    "iif(active, 'y', 'n') = 'y'",
    'birthDate.exists() implies birthDate.hasValue()',
    'children().count() > 3',
  ];
  for (const e of expressions) {
    const fast = compileFast(e)(patient, { resource: patient, rootResource: patient, context: patient });
    assert.deepEqual(fast, reference(e, patient, patient), e);
  }
});

test('expressions outside the subset are refused (and fall back to fhirpath.js)', () => {
  for (const e of ["value.ofType(Quantity).exists()", 'a is Quantity', '@2020-01-01 < birthDate', 'code.memberOf(%vs)', 'x * 2 > 1']) {
    assert.throws(() => compileFast(e), Unsupported, e);
  }
  // Dates need type-aware comparison: refused at run time.
  const f = compileFast('start <= end');
  assert.throws(() => f({ start: '2021', end: '2021-01-01' }, { resource: {}, rootResource: {}, context: {} }), Unsupported);
});

test('every invariant evaluated on the official examples agrees with fhirpath.js', async () => {
  const registry = await loadPackages({ paths: [SHARED_FHIR], useCache: false });
  const profiles = new Profiles(registry);
  const mismatches: string[] = [];
  let compared = 0;
  const verify = (key: string, expression: string, fast: InvariantResult, ref: InvariantResult) => {
    compared++;
    if (fast.ok !== ref.ok) mismatches.push(`${key}: ${expression} fast=${String(fast.ok)} fhirpath=${String(ref.ok)}`);
  };
  const validator = new Validator({ profiles, terminology: new Terminology(registry), verifyInvariants: verify });
  const files = readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json'));
  for (const f of files) {
    const json = JSON.parse(readFileSync(join(EXAMPLES_DIR, f), 'utf8'));
    validator.validate(json);
    // Mutations that make invariants fail: periods reversed, ressources-used detail without its type.
    const m = structuredClone(json);
    const s = JSON.stringify(m).replace(/"ORG-206"/g, '"ORG-999"').replace(/"ORG-207"/g, '"ORG-998"');
    validator.validate(JSON.parse(s));
  }
  assert.deepEqual(mismatches, []);
  assert.ok(compared > 100, `only ${compared} fast evaluations were compared`);
});
