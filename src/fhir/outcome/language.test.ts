// "French everywhere" (issue 20): every text a person reads exists in French and in English, and the
// French is French. Walks every rule catalogue (engine codes, TDDUI rules, TDDUI engine rules), the
// HTTP error catalogue and the pivot schema's messages; fails on a missing text, a French text equal
// to the English one, or a French text carrying English phrases that leaked before.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { safeParsePivot } from '../../producer/pivot/schema.js';
import { PIVOT_MESSAGES } from '../../producer/pivot/messages.js';
import { TDDUI_ENGINE_RULES } from '../../tddui/engine-rules.js';
import { ALL_TDDUI_RULES } from '../../tddui/rules/catalogue.js';
import { languageProblems } from '../../testing/language.js';
import { CODES } from './codes.js';
import { allHttpErrors } from './http-errors.js';

test('the language check itself catches the leaks the issue reproduced', () => {
  for (const leak of [
    '(expected in hl7.fhir.fr.core#2.1.0, which is loaded only partly)',
    'the slicing is defined in a base profile that is not loaded',
    'Invalid input: expected string, received undefined',
    'is not a valid date (YYYY-MM-DD)',
  ]) {
    assert.notDeepEqual(languageProblems('leak', 'x', leak), [], leak);
  }
  assert.deepEqual(languageProblems('ok', 'The body is empty', 'Le corps de la requête est vide ({what} attendu)'), []);
  assert.notDeepEqual(languageProblems('missing', 'The body is empty', undefined), []);
});

test('every validation rule (engine, TDDUI rules, TDDUI engine rules) has French and English texts, and the French is French', () => {
  const rules = [...Object.values(CODES), ...ALL_TDDUI_RULES, ...Object.values(TDDUI_ENGINE_RULES)];
  assert.ok(rules.length > 100, `only ${rules.length} rules walked`);
  const problems = rules.flatMap((r) => languageProblems(r.id, r.en, r.fr));
  assert.deepEqual(problems, []);
});

test('every HTTP error has French and English texts, and the French is French', () => {
  const errors = allHttpErrors();
  assert.ok(errors.length > 50, `only ${errors.length} errors walked`);
  const problems = errors.flatMap((e) => languageProblems(e.id, e.en, e.fr));
  assert.deepEqual(problems, []);
});

test('every message of the pivot schema has French and English texts, and the French is French', () => {
  const entries = Object.entries(PIVOT_MESSAGES);
  assert.ok(entries.length > 10);
  assert.deepEqual(entries.flatMap(([k, m]) => languageProblems(`pivot ${k}`, m.en, m.fr)), []);
});

test('a broken pivot document gets every problem in French too (zod issues included)', () => {
  const r = safeParsePivot({
    usager: { nom: 3, sexe: 'M', prenomm: 'x', dateNaissance: '20/11/1940' },
    structure: { finess: '12' },
    evaluations: [{ type: 'serafin', date: '2026-01-01' }],
  });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.ok(r.problems.length >= 4, JSON.stringify(r.problems));
  const problems = r.problems.flatMap((p) => languageProblems(p.pointer, p.message, p.messageFr));
  assert.deepEqual(problems, [], JSON.stringify(r.problems, null, 1));
});

/** Arguments that carry prose: a French template must take their French variant (`detailFr`, `reasonFr`…). */
const PROSE_ARGS = new Set(['detail', 'reason', 'where', 'hint', 'why', 'what', 'window']);
test('French templates take the French variant of prose arguments (no English detail inside a French text)', () => {
  const texts = [
    ...[...Object.values(CODES), ...ALL_TDDUI_RULES, ...Object.values(TDDUI_ENGINE_RULES)].map((r) => ({ id: r.id, fr: r.fr ?? '' })),
    ...allHttpErrors().map((e) => ({ id: e.id, fr: e.fr })),
  ];
  assert.ok(texts.length > 150, `only ${texts.length} texts walked`);
  const offenders = texts.filter((t) => [...t.fr.matchAll(/\{(\w+)\}/g)].some((m) => PROSE_ARGS.has(m[1]))).map((t) => t.id);
  assert.deepEqual(offenders, [], 'French templates with an English prose argument: give the producers a French variant ({detailFr}…)');
});
