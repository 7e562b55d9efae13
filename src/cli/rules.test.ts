// `tddui rules` as a process: the listing covers every rule id of the catalogues, one rule is
// explained in both languages with an example of the fix, an unknown id exits 2 with the nearest.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { allRules } from '../tddui/rule-index.js';
import { fixFor } from '../tddui/rule-fixes.js';
import { REPO_ROOT } from '../testing/paths.js';

/** The FHIR engine checks as of this test; a newer one is listed without a fix until given one. */
const KNOWN_FHIR_IDS = new Set(
  'fhir-json-syntax fhir-not-a-resource fhir-unknown-resource-type fhir-unknown-element fhir-empty-element fhir-array-expected fhir-array-unexpected fhir-choice-multiple fhir-json-type fhir-primitive-format fhir-narrative-syntax fhir-narrative-root fhir-narrative-content fhir-narrative-empty fhir-string-whitespace fhir-cardinality-min fhir-cardinality-max fhir-fixed-value fhir-pattern-value fhir-max-length fhir-value-range fhir-slice-cardinality-min fhir-slice-cardinality-max fhir-slice-closed fhir-slice-unmatched fhir-slice-order fhir-slice-not-evaluable fhir-type-not-allowed fhir-code-invalid fhir-system-not-absolute fhir-coding-system-is-valueset fhir-code-unknown-tho fhir-code-display fhir-code-not-in-extensible-ig-defect fhir-code-not-in-extensible fhir-code-missing fhir-code-unknown fhir-binding-not-checked fhir-valueset-include-intersection fhir-invariant fhir-invariant-not-evaluated fhir-extension-unknown fhir-extension-url-relative fhir-extension-undefined fhir-sub-extension-unknown fhir-modifier-extension-unknown fhir-extension-context fhir-extension-context-ig-defect fhir-reference-format fhir-bundle-fullurl-mismatch fhir-bundle-fullurl-no-id fhir-reference-type-mismatch fhir-contained-duplicate-id fhir-attachment-size fhir-attachment-hash fhir-qr-questionnaire-unknown fhir-qr-questionnaire-undefined fhir-qr-item-unknown fhir-qr-item-order fhir-qr-item-repeated fhir-qr-item-nesting fhir-qr-answer-not-allowed fhir-qr-answer-multiple fhir-qr-answer-type fhir-qr-answer-option fhir-qr-answer-valueset fhir-qr-item-text fhir-qr-item-disabled fhir-qr-required fhir-reference-unresolved fhir-reference-outside-bundle fhir-reference-target-type fhir-reference-target-profile fhir-profile-unknown fhir-profile-undefined fhir-profile-partial fhir-profile-chosen fhir-nesting-too-deep fhir-internal-error'.split(' '),
);

const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, 'rules', ...args], { encoding: 'utf8', env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: '', LC_MESSAGES: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

test('tddui rules lists every rule id of the catalogues', () => {
  const r = run();
  assert.equal(r.code, 0, r.err);
  const ids = allRules().map((x) => x.rule.id);
  assert.ok(ids.length > 100);
  for (const id of ids) assert.match(r.out, new RegExp(`^${id} `, 'm'), id);
  assert.ok(ids.indexOf('tddui-nir-key') < ids.indexOf('fhir-cardinality-min'), 'TDDUI rules first');
});

test('tddui rules ID explains a rule: both messages, its source, an example of the fix (French from LANG or --lang)', () => {
  const en = run('tddui-nir-key');
  assert.equal(en.code, 0);
  assert.match(en.out, /^tddui-nir-key — TDDUI rule$/m);
  assert.match(en.out, /Message \(en\): The control key of the NIR\/NIA/);
  assert.match(en.out, /Message \(fr\): La clé du NIR\/NIA/);
  assert.match(en.out, /Source: tddui-business-rules I9/);
  assert.match(en.out, /Example of the fix: Recompute the key/);
  const fr = spawnSync(process.execPath, [CLI, 'rules', 'fhir-slice-cardinality-min'], { encoding: 'utf8', env: { ...process.env, LANG: 'fr_FR.UTF-8', LC_ALL: '' } });
  assert.match(fr.stdout, /Gravité : erreur/);
  assert.match(fr.stdout, /Exemple de correction : Ajouter un élément qui correspond à la tranche/);
  const json = JSON.parse(run('--format', 'json', 'fhir-binding-not-checked').out);
  assert.equal(json.category, 'not-checked');
  assert.match(json.fix.fr, /ajouter le paquet manquant/);
});

test('every rule has an example of the fix in both languages (a FHIR check added on another branch may show "none yet" until given one)', () => {
  const missing = allRules().filter(({ group, rule }) => {
    if (group === 'fhir' && !KNOWN_FHIR_IDS.has(rule.id)) return false;
    const fix = fixFor(rule.id, rule.category);
    return !fix || !fix.en.trim() || !fix.fr.trim();
  });
  assert.deepEqual(missing.map((x) => x.rule.id), []);
});

test('an unknown id: exit 2 with the nearest ids', () => {
  const r = run('nir-kye');
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown rule id "nir-kye" \(nearest: .*tddui-nir-key/);
});
