// Slice matching with the slice index (slicing.ts SliceIndex): an item is only tried against
// the slices whose discriminator value it has, plus those without one, in slice order. The
// expected outcomes below are those of trying every slice in order (the engine before the
// index), on the official SSIAD Task (tddui-task-transport-usager: Task.input sliced by the
// pattern of input.type, one slice per code, each with its own value type).
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/fhir/validation/slicing.test.js
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { EXAMPLES_DIR, SHARED_FHIR } from '../../testing/paths.js';
import { TdduiValidator } from '../../tddui/validator.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;
const TDDUI = 'https://interop.esante.gouv.fr/ig/fhir/tddui/';
const PROFILE = `${TDDUI}StructureDefinition/tddui-task-transport-usager`;
const SYSTEM = `${TDDUI}CodeSystem/tddui-task-input-transport`;

let v: TdduiValidator;
let task: Doc;
before(async () => {
  v = await TdduiValidator.create({ packages: [SHARED_FHIR] });
  const bundle = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-bundle-example.json'), 'utf8'));
  task = bundle.entry.find((e: Doc) => e.resource.meta?.profile?.includes(PROFILE)).resource;
});

function findings(mutate: (t: Doc) => void): string[][] {
  const t = structuredClone(task);
  mutate(t);
  return v
    .validate(t, { profile: PROFILE, profileOnly: true })
    .issues.filter((i) => i.severity === 'error' || i.severity === 'fatal')
    .map((i) => [i.rule, i.expression]);
}

test('the Task inputs match their slices in any order', () => {
  assert.equal(task.input[2].type.coding[0].code, 'distance');
  assert.deepEqual(findings(() => {}), []);
  assert.deepEqual(findings((t) => t.input.reverse()), []);
});

test('an input is checked against the slice of its code', () => {
  // The `distance` slice allows valueDistance only.
  assert.deepEqual(
    findings((t) => {
      delete t.input[2].valueDistance;
      t.input[2].valueBoolean = true;
    }),
    [['fhir-type-not-allowed', 'Task.input[2].valueBoolean']],
  );
});

test('an input with two codes, or with a code no slice has', () => {
  // Two keys: every slice is tried, in order (the item contains the `distance` pattern).
  assert.deepEqual(findings((t) => t.input[2].type.coding.push({ system: SYSTEM, code: 'asepsie' })), []);
  // No slice expects this code: only the slices without a key are tried; the code is not in the
  // value set, nor in its (complete) code system.
  assert.deepEqual(
    findings((t) => (t.input[2].type.coding[0].code = 'nope')),
    [
      ['fhir-code-invalid', 'Task.input[2].type'],
      ['fhir-code-unknown', 'Task.input[2].type.coding[0].code'],
    ],
  );
});
