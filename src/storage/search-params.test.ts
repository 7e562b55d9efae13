import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extractIndex, paramDef, paramsOf } from './search-params.js';

test('base SearchParameters compiled for the TDDUI types, with their types and targets', () => {
  for (const [type, name, kind] of [
    ['Patient', 'name', 'string'], ['Patient', 'birthdate', 'date'], ['Patient', 'identifier', 'token'],
    ['Encounter', 'date', 'date'], ['Encounter', 'type', 'token'], ['Encounter', 'status', 'token'], ['Encounter', 'subject', 'reference'],
    ['Task', 'status', 'token'], ['Task', 'period', 'date'], ['Task', 'patient', 'reference'], ['Task', 'for', 'reference'],
    ['QuestionnaireResponse', 'questionnaire', 'reference'], ['QuestionnaireResponse', 'authored', 'date'],
    ['CarePlan', 'status', 'token'], ['Consent', 'patient', 'reference'], ['DocumentReference', 'subject', 'reference'],
    ['Goal', 'subject', 'reference'], ['ServiceRequest', 'subject', 'reference'], ['Patient', '_profile', 'uri'],
  ] as const) {
    assert.equal(paramDef(type, name)?.type, kind, `${type}.${name}`);
  }
  assert.deepEqual(paramDef('Encounter', 'patient')?.resolveIs, ['Patient']);
  assert.equal(paramDef('Patient', 'phonetic'), undefined);
  assert.equal(paramDef('Patient', 'telecom-use-where'), undefined);
  assert.ok(paramsOf('Patient').length > 15);
});

test('extraction: choice elements by their type suffix only, resolve() filters, canonicals without version', () => {
  const sr = extractIndex({ resourceType: 'ServiceRequest', occurrencePeriod: { start: '2024-01-01', end: '2024-01-31' }, subject: { reference: 'Group/g' } });
  assert.deepEqual(sr.dates.filter((d) => d.param === 'occurrence'), [
    { param: 'occurrence', low: '2024-01-01T00:00:00.000Z', high: '2024-01-31T23:59:59.999Z' },
  ]);
  assert.deepEqual(sr.references.map((r) => r.param).sort(), ['subject'], 'patient only for Patient targets');
  const goal = extractIndex({ resourceType: 'Goal', startDate: '2024-02-03', subject: { reference: 'Patient/p' } });
  assert.ok(goal.dates.some((d) => d.param === 'start-date' && d.low === '2024-02-03T00:00:00.000Z'));
  // `patient` is `subject` restricted to Patient targets: served from subject's rows, none of its own (D-354).
  assert.deepEqual(goal.references, [{ param: 'subject', targetType: 'Patient', targetId: 'p', url: null }]);
  const eoc = (ref: string) => extractIndex({ resourceType: 'EpisodeOfCare', careManager: { reference: ref } }).references.filter((r) => r.param === 'care-manager');
  assert.deepEqual(eoc('Practitioner/x'), [{ param: 'care-manager', targetType: 'Practitioner', targetId: 'x', url: null }]);
  assert.deepEqual(eoc('PractitionerRole/y'), [], 'care-manager only for Practitioner targets');
  const enc = extractIndex({ resourceType: 'Encounter', classHistory: [{ class: { code: 'X' } }] });
  assert.equal(enc.tokens.filter((t) => t.param === 'class').length, 0, '`classHistory` is not a choice of `class`');
  const qr = extractIndex({ resourceType: 'QuestionnaireResponse', questionnaire: 'https://x/Questionnaire/q|2.0', status: 'completed' });
  assert.deepEqual(qr.references.filter((r) => r.param === 'questionnaire'), [{ param: 'questionnaire', targetType: null, targetId: null, url: 'https://x/Questionnaire/q' }]);
  const p = extractIndex({ resourceType: 'Patient', name: [{ family: 'Dupré', given: ['Élodie'] }], active: true });
  assert.deepEqual(p.strings.filter((s) => s.param === 'name').map((s) => s.value), ['dupre', 'elodie']);
  assert.deepEqual(p.tokens.filter((t) => t.param === 'active'), [{ param: 'active', system: null, code: 'true' }]);
});
