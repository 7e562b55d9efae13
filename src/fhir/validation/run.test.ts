// The run core's cached note texts (Validator.noteMessages): a STATIC_NOTES note's messages are
// built once per note key and reused for every run, whatever its count — so their templates must
// not show the count (else a later run would print an earlier run's count).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { STATIC_NOTES } from './run.js';

it('the notes whose texts are cached per key do not show their count', () => {
  assert.ok(STATIC_NOTES.size > 0);
  for (const rule of STATIC_NOTES) {
    for (const template of [rule.en, rule.fr ?? '']) {
      assert.doesNotMatch(template, /\{(count|occurrences|occurrencesFr)\}/, `${rule.id}: ${template}`);
    }
  }
});
