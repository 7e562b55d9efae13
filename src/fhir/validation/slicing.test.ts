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
import { createEngines } from '../engine.js';

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

test('a missing required slice is said at the element that came closest, with what differs, in English and French (issue 20)', async () => {
  // The official séjour Encounter, its identifier's type code changed: no identifier is an idStay.
  const sejour = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'Encounter-tddui-encounter-sejour-example.json'), 'utf8'));
  sejour.identifier[0].type.coding[0].code = 'SEJOUR';
  sejour.identifier.push({ system: 'urn:oid:1.2.3', value: 'autre' });
  const missing = v.validate(sejour).issues.filter((i) => i.rule === 'fhir-slice-cardinality-min');
  assert.equal(missing.length, 1, JSON.stringify(missing));
  const [m] = missing;
  // The identifier with the slice's system and display (2 of its 3 values) is the closest, not the other one.
  assert.equal(m.expression, 'Encounter.identifier[0]');
  assert.match(m.message, /^Encounter\.identifier:idStay: minimum required = 1, but only found 0 \(an element belongs to this slice when type\.coding\.system = "https:\/\/interop\.esante\.gouv\.fr\/ig\/fhir\/tddui\/CodeSystem\/tddui-encounter-identifier" and type\.coding\.code = "SEJ"/);
  assert.match(m.message, /; closest element: Encounter\.identifier\[0\], where type\.coding\.code is "SEJOUR", not "SEJ"$/);
  assert.match(m.messageFr!, /^Encounter\.identifier:idStay : minimum requis = 1, trouvé 0 \(un élément appartient à cette tranche quand .*type\.coding\.code = "SEJ"/);
  assert.match(m.messageFr!, / ; l’élément le plus proche est Encounter\.identifier\[0\], où type\.coding\.code vaut "SEJOUR" et non "SEJ"$/);
  // Without any identifier, nothing came close: said on the resource, as before.
  delete sejour.identifier;
  const none = v.validate(sejour).issues.filter((i) => i.rule === 'fhir-slice-cardinality-min');
  assert.deepEqual(none.map((i) => i.expression), ['Encounter']);
  assert.doesNotMatch(none[0].message, /closest|\{/);
  assert.doesNotMatch(none[0].messageFr!, /proche|\{/);
});

test('an element that matches no slice of a closed slicing names the closest slice and what differs (IHE MHD Generate Metadata input)', async () => {
  const set = await createEngines({ igs: ['ihe.iti.mhd#4.2.0'], paths: [SHARED_FHIR], useCache: false });
  const mhd = set.engineFor('ihe.iti.mhd')!;
  const params = { resourceType: 'Parameters', parameter: [{ name: 'documents', resource: { resourceType: 'Binary', contentType: 'text/plain' } }] };
  const issues = mhd.validator.validate(params, { profiles: ['https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.GenerateMetadata.Parameters.In'] });
  const closed = issues.filter((i) => i.rule === 'fhir-slice-closed');
  assert.deepEqual(closed.map((i) => i.expression), ['Parameters.parameter[0]']);
  assert.equal(closed[0].message, 'This element does not match any slice of Parameters.parameter and the slicing is closed; the closest slice is document: name is "documents", not "document"');
  assert.equal(closed[0].messageFr, 'Cet élément ne correspond à aucune tranche de Parameters.parameter et le découpage est fermé ; la tranche la plus proche est document : name vaut "documents" et non "document"');
});
