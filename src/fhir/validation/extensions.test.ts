// Extensions at plain extension elements (no type profile): walked once, against the
// definition their url names (extensions.ts extensionDefinition). Uses the TDDUI package's
// tddui-comment extension (value[x]: string only; context Encounter, QuestionnaireResponse).
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/fhir/validation/extensions.test.js
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { SHARED_FHIR } from '../../testing/paths.js';
import { TdduiValidator } from '../../tddui/validator.js';

const COMMENT = 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-comment';
let v: TdduiValidator;
before(async () => {
  v = await TdduiValidator.create({ packages: [SHARED_FHIR] });
});

function issues(resource: unknown) {
  return v.engine.validator.validate(resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');
}

test('a known extension is checked against its definition, each finding once', () => {
  const enc = (ext: unknown) => ({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, extension: [ext] });
  // Valid against the definition: no error at all.
  assert.deepEqual(issues(enc({ url: COMMENT, valueString: 'RAS' })), []);
  // Extension allows any value type; the definition allows only string.
  const wrongType = issues(enc({ url: COMMENT, valueBoolean: true }));
  assert.deepEqual(
    wrongType.map((i) => [i.rule, i.expression]),
    [['fhir-type-not-allowed', 'Encounter.extension[0].valueBoolean']],
  );
  // No value: ext-1 fails, reported once by the engine itself (the walk against Extension and
  // then again against the definition reported it three times), from the definition.
  const noValue = issues(enc({ url: COMMENT }));
  assert.deepEqual(
    noValue.map((i) => [i.rule, i.expression, i.source, i.message.slice(0, 22)]),
    [['fhir-invariant', 'Encounter.extension[0]', COMMENT, 'Constraint ext-1 faile']],
  );
});

test('the context of a known extension is still checked', () => {
  // tddui-comment: Encounter, QuestionnaireResponse (and Patient, Patient.address since 2.3.0), not Organization.
  const org = { resourceType: 'Organization', extension: [{ url: COMMENT, valueString: 'RAS' }] };
  const found = v.engine.validator.validate(org).filter((i) => i.rule.startsWith('fhir-extension-context'));
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0].expression, 'Organization.extension[0]');
  // The context depends on the IG version: Patient is allowed from 2.3.0 on.
  const patient = { resourceType: 'Patient', extension: [{ url: COMMENT, valueString: 'RAS' }] };
  const in22 = v.igFor('2.2.0')!.engine.validator.validate(patient).filter((i) => i.rule.startsWith('fhir-extension-context'));
  const in23 = v.igFor('2.3.0')!.engine.validator.validate(patient).filter((i) => i.rule.startsWith('fhir-extension-context'));
  assert.equal(in22.length, 1);
  assert.equal(in23.length, 0);
});

test('an extension of a package loaded only partly is not checked, said in French in the French text (issue 20)', () => {
  const enc = { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, extension: [{ url: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-event-colour', valueString: 'bleu' }] };
  const notice = v.engine.validator.validate(enc).find((i) => i.rule === 'fhir-extension-unknown');
  assert.ok(notice, 'the unknown extension is reported');
  assert.match(notice.message, /expected in hl7\.fhir\.fr\.core#[\d.]+, which is loaded only partly/);
  assert.match(notice.messageFr ?? '', /attendu dans hl7\.fhir\.fr\.core#[\d.]+, chargé seulement en partie/);
  assert.doesNotMatch(notice.messageFr ?? '', /expected|loaded|\{detail/);
});

test('a plain-path FHIRPath context (Patient.name) selects what fhirpath.js selects, without it', async () => {
  const { default: fhirpath } = await import('fhirpath');
  const { default: r4model } = await import('fhirpath/fhir-context/r4');
  const name0 = { family: 'A' };
  const name1 = { given: ['B'], _given: [{ extension: [] }] };
  const patient = { resourceType: 'Patient', name: [name0, name1], birthDate: '2000-01-01', _birthDate: { extension: [] }, contact: [{ name: { family: 'C' } }] };
  const obs = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueQuantity: { value: 1 } };
  const cases: [string, unknown, unknown][] = [
    ['Patient.name', patient, name0],
    ['Patient.name', patient, name1],
    ['Patient.name', patient, patient.contact[0].name],
    ['Patient.contact.name', patient, patient.contact[0].name],
    ['Patient.birthDate', patient, patient._birthDate],
    ['Patient.name.given', patient, name1._given[0]],
    ['Encounter.status', patient, patient],
    ['Observation.value', obs, obs.valueQuantity],
    ['Resource.meta', patient, patient],
  ];
  for (const [expr, resource, target] of cases) {
    const reference = (fhirpath.evaluate(resource, expr, { resource, rootResource: resource }, r4model) as unknown[]).some(
      (x) => x === target || (typeof x === 'object' && x !== null && (x as { data?: unknown }).data === target),
    );
    assert.equal(v.engine.validator.selects(expr, resource, target), reference, expr);
  }
});
