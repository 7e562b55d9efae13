// checkQuestionnaireResponse on a Questionnaire of our own that uses what the TDDUI ones do
// not (groups, display items, required, repeats, open-choice, integer options). The TDDUI
// questionnaires are covered by the mutation suite (family "questionnaire").
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/fhir/validation/questionnaire.test.js
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkQuestionnaireResponse, type QuestionnaireDef } from './questionnaire.js';

const Q: QuestionnaireDef = {
  url: 'https://example.org/Questionnaire/q',
  item: [
    { linkId: 'intro', type: 'display', text: 'Merci' },
    {
      linkId: 'identite',
      type: 'group',
      required: true,
      item: [
        { linkId: 'nom', type: 'string', required: true },
        { linkId: 'langues', type: 'open-choice', repeats: true, answerOption: [{ valueCoding: { system: 'urn:ietf:bcp:47', code: 'fr' } }] },
      ],
    },
    { linkId: 'score', type: 'choice', answerOption: [{ valueInteger: 1 }, { valueInteger: 2 }] },
    { linkId: 'fumeur', type: 'boolean', item: [{ linkId: 'paquets', type: 'integer' }] },
    { linkId: 'conditionnel', type: 'string', required: true, enableWhen: [{ question: 'fumeur', operator: '=', answerBoolean: true }] },
    { linkId: 'visite', type: 'group', repeats: true, item: [{ linkId: 'date', type: 'date' }] },
    { linkId: 'sexe', type: 'choice', text: 'Sexe', answerValueSet: 'http://hl7.org/fhir/ValueSet/administrative-gender' },
  ],
};

const valid = () => ({
  resourceType: 'QuestionnaireResponse',
  status: 'completed',
  item: [
    { linkId: 'identite', item: [{ linkId: 'nom', answer: [{ valueString: 'Dupont' }] }, { linkId: 'langues', answer: [{ valueCoding: { system: 'urn:ietf:bcp:47', code: 'fr' } }, { valueString: 'breton' }] }] },
    { linkId: 'score', answer: [{ valueInteger: 2 }] },
    { linkId: 'fumeur', answer: [{ valueBoolean: true, item: [{ linkId: 'paquets', answer: [{ valueInteger: 3 }] }] }] },
    { linkId: 'conditionnel', answer: [{ valueString: 'depuis 2010' }] },
    { linkId: 'visite', item: [{ linkId: 'date', answer: [{ valueDate: '2024-01-02' }] }] },
    { linkId: 'visite', item: [{ linkId: 'date', answer: [{ valueDate: '2024-02-03' }] }] },
  ],
});

const findings = (qr: object) => checkQuestionnaireResponse(qr as Record<string, unknown>, 'QuestionnaireResponse', Q).map((f) => [f.rule.id, f.path]);

test('a conformant response gives no finding (open-choice free text, repeating group, an enabled item)', () => {
  assert.deepEqual(findings(valid()), []);
});

test('enableWhen: a required item is required only when enabled; a disabled item takes no answer', () => {
  const off = valid();
  off.item[2]!.answer![0] = { valueBoolean: false } as never;
  assert.deepEqual(findings(off), [['fhir-qr-item-disabled', 'QuestionnaireResponse.item[3].answer']]);
  off.item.splice(3, 1);
  assert.deepEqual(findings(off), []);
  const missing = valid();
  missing.item.splice(3, 1);
  assert.deepEqual(findings(missing), [['fhir-qr-required', 'QuestionnaireResponse']]);
  // Operators and enableBehavior (R4): =, !=, >, exists; all (default) or any.
  const q: QuestionnaireDef = {
    item: [
      { linkId: 'age', type: 'integer' },
      { linkId: 'pays', type: 'choice', answerOption: [{ valueCoding: { system: 'urn:iso:std:iso:3166', code: 'FR' } }, { valueCoding: { system: 'urn:iso:std:iso:3166', code: 'BE' } }] },
      { linkId: 'majeur', type: 'boolean', enableWhen: [{ question: 'age', operator: '>', answerInteger: 17 }] },
      { linkId: 'etranger', type: 'boolean', enableWhen: [{ question: 'pays', operator: '!=', answerCoding: { system: 'urn:iso:std:iso:3166', code: 'FR' } }] },
      { linkId: 'deux', type: 'boolean', enableBehavior: 'any', enableWhen: [{ question: 'age', operator: 'exists', answerBoolean: false }, { question: 'pays', operator: '=', answerCoding: { system: 'urn:iso:std:iso:3166', code: 'BE' } }] },
    ],
  };
  const qr = (age: number | undefined, pays: string) => ({
    resourceType: 'QuestionnaireResponse',
    status: 'completed',
    item: [
      ...(age === undefined ? [] : [{ linkId: 'age', answer: [{ valueInteger: age }] }]),
      { linkId: 'pays', answer: [{ valueCoding: { system: 'urn:iso:std:iso:3166', code: pays } }] },
      { linkId: 'majeur', answer: [{ valueBoolean: true }] },
      { linkId: 'etranger', answer: [{ valueBoolean: true }] },
      { linkId: 'deux', answer: [{ valueBoolean: true }] },
    ],
  });
  const disabled = (r: object) => checkQuestionnaireResponse(r as never, 'QuestionnaireResponse', q).filter((f) => f.rule.id === 'fhir-qr-item-disabled').map((f) => f.args.linkId);
  assert.deepEqual(disabled(qr(30, 'BE')), []);
  assert.deepEqual(disabled(qr(17, 'FR')), ['majeur', 'etranger', 'deux']);
  assert.deepEqual(disabled(qr(undefined, 'FR')), ['majeur', 'etranger']);
});

test('required items: in a completed response only', () => {
  const r = valid();
  r.item[0]!.item!.splice(0, 1); // nom
  assert.deepEqual(findings(r), [['fhir-qr-required', 'QuestionnaireResponse.item[0]']]);
  const top = valid();
  top.item.splice(0, 1); // identite
  assert.deepEqual(findings(top), [['fhir-qr-required', 'QuestionnaireResponse']]);
  assert.deepEqual(findings({ ...top, status: 'in-progress' }), []);
});

test('answers: type, options of the options\u2019 type, one unless repeats, none on groups and display items', () => {
  const r = valid();
  r.item[1]!.answer = [{ valueInteger: 3 }];
  assert.deepEqual(findings(r), [['fhir-qr-answer-option', 'QuestionnaireResponse.item[1].answer[0].valueInteger']]);
  r.item[1]!.answer = [{ valueCoding: { code: '2' } } as never];
  assert.deepEqual(findings(r), [['fhir-qr-answer-type', 'QuestionnaireResponse.item[1].answer[0].valueCoding']]);
  const many = valid();
  many.item[2]!.answer!.push({ valueBoolean: false } as never);
  assert.deepEqual(findings(many), [['fhir-qr-answer-multiple', 'QuestionnaireResponse.item[2].answer[1]']]);
  const group = valid();
  (group.item[0] as Record<string, unknown>).answer = [{ valueString: 'x' }];
  group.item.unshift({ linkId: 'intro', answer: [{ valueString: 'lu' }] } as never);
  assert.deepEqual(findings(group), [
    ['fhir-qr-answer-not-allowed', 'QuestionnaireResponse.item[0].answer'],
    ['fhir-qr-answer-not-allowed', 'QuestionnaireResponse.item[1].answer'],
  ]);
});

test('answerValueSet codes and item texts', () => {
  const checkCode = (vs: string, c: { system?: string; code?: string }) => (vs.endsWith('administrative-gender') ? (c.code === 'male' || c.code === 'female' ? 'valid' : 'invalid') : 'unknown') as 'valid' | 'invalid' | 'unknown';
  const r = valid();
  r.item.push({ linkId: 'sexe', text: 'Sexe', answer: [{ valueCoding: { system: 'http://hl7.org/fhir/administrative-gender', code: 'female' } }] } as never);
  assert.deepEqual(checkQuestionnaireResponse(r as never, 'QuestionnaireResponse', Q, checkCode), []);
  (r.item[6] as Record<string, any>).answer[0].valueCoding.code = 'f';
  (r.item[6] as Record<string, any>).text = 'Genre';
  assert.deepEqual(
    checkQuestionnaireResponse(r as never, 'QuestionnaireResponse', Q, checkCode).map((f) => [f.rule.id, f.path]),
    [
      ['fhir-qr-item-text', 'QuestionnaireResponse.item[6].text'],
      ['fhir-qr-answer-valueset', 'QuestionnaireResponse.item[6].answer[0].valueCoding'],
    ],
  );
});

test('structure: unknown linkIds (with where they belong), order, repetition, children of a question under its answer', () => {
  const r = valid();
  r.item.push({ linkId: 'paquets', answer: [{ valueInteger: 1 }] } as never);
  const [unknown] = checkQuestionnaireResponse(r as never, 'QuestionnaireResponse', Q);
  assert.equal(unknown!.rule.id, 'fhir-qr-item-unknown');
  assert.equal(unknown!.path, 'QuestionnaireResponse.item[6].linkId');
  assert.match(String(unknown!.args.detail), /"fumeur"/);
  const order = valid();
  [order.item[1], order.item[2]] = [order.item[2]!, order.item[1]!];
  assert.deepEqual(findings(order), [['fhir-qr-item-order', 'QuestionnaireResponse.item[2].linkId']]);
  const twice = valid();
  twice.item.splice(2, 0, structuredClone(twice.item[1]!));
  assert.deepEqual(findings(twice), [['fhir-qr-item-repeated', 'QuestionnaireResponse.item[2].linkId']]);
  const nested = valid();
  (nested.item[2] as Record<string, unknown>).item = [{ linkId: 'paquets', answer: [{ valueInteger: 3 }] }];
  assert.deepEqual(findings(nested), [['fhir-qr-item-nesting', 'QuestionnaireResponse.item[2].item']]);
});
