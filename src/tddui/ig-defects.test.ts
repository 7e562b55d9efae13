// IG defects D-14, D-15, D-16 (docs/decisions.md), each tested on a mutation of an official
// example that the validator got wrong before the decision was implemented:
//  D-14 ValueSet/tddui-serafin lists J283 and J284 in ONE compose.include: an (empty)
//       intersection in FHIR, read as their union with a warning.
//  D-15 tddui-comment is declared by tddui-related-person-contact on RelatedPerson, but its
//       context does not list RelatedPerson: a warning where the profile declares it.
//  D-16 the server's rule `tddui-v1-patch-content-only` is in the rule catalogue (docs/rules.md).
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/tddui/ig-defects.test.js
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ValidationIssue } from '../fhir/outcome/issue.js';
import { declaresExtension, extensionContextRule } from '../fhir/validation/extension-context.js';
import type { ElementNode } from '../fhir/profiles/compile.js';
import { PATCH_CONTENT_ONLY_RULE } from '../server/fhir-api.js';
import { EXAMPLES_DIR, REPO_ROOT, SHARED_FHIR, packageDir, tdduiPackageDir } from '../testing/paths.js';
import { ALL_TDDUI_RULES } from './rules/catalogue.js';
import { TdduiValidator, type ValidationReport } from './validator.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

const TDDUI = 'https://interop.esante.gouv.fr/ig/fhir/tddui/';
const SERAFIN_VS = `${TDDUI}ValueSet/tddui-serafin`;
const J283 = 'https://mos.esante.gouv.fr/NOS/JDV_J283-PrestationsIndirects_SERAFIN/FHIR/JDV-J283-PrestationsIndirects-SERAFIN';
const J284 = 'https://mos.esante.gouv.fr/NOS/JDV_J284-PrestationsDirects_SERAFIN/FHIR/JDV-J284-PrestationsDirects-SERAFIN';
const SERAFIN_CS = 'https://smt.esante.gouv.fr/terminologie-SERAFINPH';
const COMMENT_URL = `${TDDUI}StructureDefinition/tddui-comment`;
const INTERSECTION_RULE = 'fhir-valueset-include-intersection';
const IG_DEFECT_RULE = 'fhir-extension-context-ig-defect';
/** The wiring of D-14/D-15 into src/fhir/validation/validator.ts is pending (see docs/decisions.md). */

/** A J284 code (prestation directe) and a J283 code (prestation indirecte), read from the loaded JDVs. */
function firstCode(file: string): string {
  const vs = JSON.parse(readFileSync(join(packageDir('ans.fr.terminologies', '1.4.0'), file), 'utf8')) as Doc;
  const inc = vs.compose.include.find((i: Doc) => i.system === SERAFIN_CS);
  // A leaf code (e.g. 2.1.1.1), not the family heading.
  const leaf = inc.concept.find((c: Doc) => String(c.code).split('.').length === 4);
  assert.ok(leaf, `no leaf code in ${file}`);
  return leaf.code;
}
const DIRECT = firstCode('ValueSet-JDV-J284-PrestationsDirects-SERAFIN.json');
const INDIRECT = firstCode('ValueSet-JDV-J283-PrestationsIndirects-SERAFIN.json');

function example(file: string): Doc {
  return JSON.parse(readFileSync(join(EXAMPLES_DIR, file), 'utf8')) as Doc;
}

function show(issues: ValidationIssue[]): string {
  return issues.map((i) => `  ${i.severity} ${i.rule} @ ${i.expression}: ${i.message}`).join('\n');
}

function errors(r: ValidationReport): ValidationIssue[] {
  return r.issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
}

function withRule(r: ValidationReport, rule: string): ValidationIssue[] {
  return r.issues.filter((i) => i.rule === rule);
}

/** The official évènement with one more type coding (SERAFIN slice). */
function evenementWith(...codes: string[]): Doc {
  const enc = example('Encounter-tddui-encounter-evenement-example.json');
  for (const code of codes) enc.type.push({ coding: [{ system: SERAFIN_CS, code }] });
  return enc;
}

/** A Task prestation (no official example exists) whose typePrestation inputs carry these codes. */
function prestationWith(...codes: string[]): Doc {
  const input = (code: string) => ({ coding: [{ system: `${TDDUI}CodeSystem/tddui-task-input-prestation`, code }] });
  return {
    resourceType: 'Task',
    id: 'tddui-task-prestation-test',
    meta: { profile: [`${TDDUI}StructureDefinition/tddui-task-prestation`] },
    identifier: [{ system: 'https://identifiant-medicosocial-prestation.esante.gouv.fr', value: '3480787529/123456789-PRES-1' }],
    basedOn: [{ reference: 'CarePlan/tddui-pp-pa-careplan-example' }],
    status: 'completed',
    intent: 'plan',
    input: [
      { type: input('titre'), valueString: 'Toilette' },
      ...codes.map((code) => ({ type: input('typePrestation'), valueCodeableConcept: { coding: [{ system: SERAFIN_CS, code }] } })),
    ],
  };
}

/** The official RelatedPerson contact with the tddui-comment extension its profile declares. */
function contactWithComment(): Doc {
  const rp = example('RelatedPerson-tddui-related-person-contact-example.json');
  rp.extension = [...(rp.extension ?? []), { url: COMMENT_URL, valueString: 'Joignable après 18 h' }];
  return rp;
}

// These decisions were taken on TDDUI 2.2.0 (its examples): validated under 2.2.0.
const validator = await TdduiValidator.create({ packages: [SHARED_FHIR], useCache: false, igs: ['2.2.0'] });

// ---------------------------------------------------------------- D-14 tddui-serafin

test('D-14: the J283/J284 codes were read from the loaded JDVs', () => {
  assert.match(DIRECT, /^2\./);
  assert.match(INDIRECT, /^3\./);
});

test('D-14: a SERAFIN code of either JDV on Encounter évènement type is accepted', () => {
  for (const code of [DIRECT, INDIRECT]) {
    const r = validator.validate(evenementWith(code));
    const bad = r.issues.filter((i) => i.rule === 'fhir-code-invalid');
    assert.deepEqual(bad, [], `${code}:\n${show(bad)}`);
    assert.equal(r.valid, true, `${code}:\n${show(errors(r))}`);
  }
});

test('D-14: a SERAFIN code of either JDV on Task prestation typePrestation is accepted', () => {
  for (const code of [DIRECT, INDIRECT]) {
    const r = validator.validate(prestationWith(code));
    assert.deepEqual(errors(r), [], `${code}:\n${show(errors(r))}`);
  }
});

test('D-14: a code in neither JDV stays a required-binding error', () => {
  // 1.1 is a SERAFIN "besoin" (J285), neither a direct nor an indirect prestation.
  const r = validator.validate(evenementWith('1.1'));
  const at = r.issues.filter((i) => i.rule === 'fhir-code-invalid' && i.message.includes(SERAFIN_VS));
  assert.equal(at.length, 1, show(r.issues));
  assert.equal(at[0].severity, 'error');
  assert.equal(r.valid, false);
  assert.deepEqual(withRule(r, INTERSECTION_RULE), [], 'no union was needed to reject it');
  const task = validator.validate(prestationWith('1.1'));
  assert.ok(task.issues.some((i) => i.rule === 'fhir-code-invalid' && i.severity === 'error'), show(task.issues));
});

test('D-14: the defect is reported once per validation, as a warning naming both JDVs', () => {
  const r = validator.validate(evenementWith(DIRECT, INDIRECT));
  const notes = withRule(r, INTERSECTION_RULE);
  assert.equal(notes.length, 1, show(r.issues));
  assert.equal(notes[0].severity, 'warning');
  assert.ok(notes[0].message.includes(SERAFIN_VS) && notes[0].message.includes(J283) && notes[0].message.includes(J284), notes[0].message);
  assert.match(notes[0].message, /intersection is empty/);
  assert.match(notes[0].messageFr ?? '', /union/);
  const task = validator.validate(prestationWith(DIRECT, INDIRECT, DIRECT));
  assert.equal(withRule(task, INTERSECTION_RULE).length, 1, show(task.issues));
});

test('D-14: without the JDVs loaded, the binding is "not checked" as before (no error, no union warning)', async () => {
  // TDDUI 2.2.0 and FR Core 2.1.0 as the only sources: ans.fr.terminologies is missing.
  const bare = await TdduiValidator.create({
    packages: [tdduiPackageDir('2.2.0'), packageDir('hl7.fhir.fr.core', '2.1.0')],
    useCache: false,
  });
  const r = bare.validate(evenementWith(DIRECT));
  assert.deepEqual(r.issues.filter((i) => i.rule === 'fhir-code-invalid'), [], show(r.issues));
  assert.deepEqual(withRule(r, INTERSECTION_RULE), []);
  const notChecked = r.issues.filter((i) => i.rule === 'fhir-binding-not-checked' && i.message.includes(SERAFIN_VS));
  assert.equal(notChecked.length, 1, show(r.issues));
  assert.ok(notChecked[0].message.includes(J284) || notChecked[0].message.includes(J283), notChecked[0].message);
});

// ---------------------------------------------------------------- D-15 tddui-comment

/** The element definitions of the compiled contact profile: RelatedPerson.extension and its slice `comment`. */
function contactExtensionNodes(): { generic: ElementNode; comment: ElementNode } {
  const profile = validator.engine.profiles.get(`${TDDUI}StructureDefinition/tddui-related-person-contact`);
  assert.ok(profile, 'tddui-related-person-contact compiled');
  const ext = profile.root.children?.find((c) => c.name === 'extension');
  assert.ok(ext, 'RelatedPerson.extension');
  const comment = ext.slices.find((s) => s.sliceName === 'comment');
  assert.ok(comment, 'slice extension:comment');
  return { generic: ext, comment };
}

test('D-15: the decision: only an extension slice with that url makes the context violation an IG defect', () => {
  const { generic, comment } = contactExtensionNodes();
  assert.equal(declaresExtension(comment, COMMENT_URL), true);
  assert.equal(declaresExtension(comment, `${COMMENT_URL}|2.2.0`), true, 'a versioned url is the same extension');
  assert.equal(extensionContextRule(comment, COMMENT_URL).id, IG_DEFECT_RULE);
  assert.equal(extensionContextRule(comment, COMMENT_URL).severity, 'warning');
  // The same element for another extension, and the unsliced element: the error stays.
  assert.equal(extensionContextRule(comment, `${TDDUI}StructureDefinition/tddui-event-label`).id, 'fhir-extension-context');
  assert.equal(extensionContextRule(generic, COMMENT_URL).id, 'fhir-extension-context');
  assert.equal(extensionContextRule(generic, COMMENT_URL).severity, 'error');
  assert.equal(extensionContextRule({ types: [{ code: 'string' }] } as never, COMMENT_URL).id, 'fhir-extension-context');
});

test('D-15: tddui-comment where tddui-related-person-contact declares it is a warning, not an error', () => {
  const rp = contactWithComment();
  const at = `RelatedPerson.extension[${rp.extension.length - 1}]`;
  const r = validator.validate(rp);
  assert.deepEqual(withRule(r, 'fhir-extension-context'), [], show(r.issues));
  const w = withRule(r, IG_DEFECT_RULE);
  assert.equal(w.length, 1, show(r.issues));
  assert.equal(w[0].severity, 'warning');
  assert.equal(w[0].expression, at);
  assert.equal(r.valid, true, show(errors(r)));
});

test('D-15: tddui-comment where no profile declares it stays an extension-context error', () => {
  // On the contact's name: the profile declares the extension on RelatedPerson only.
  const rp = example('RelatedPerson-tddui-related-person-contact-example.json');
  rp.name = [{ family: 'Martin', extension: [{ url: COMMENT_URL, valueString: 'x' }] }];
  const r = validator.validate(rp);
  const ctx = withRule(r, 'fhir-extension-context');
  assert.equal(ctx.length, 1, show(r.issues));
  assert.equal(ctx[0].expression, 'RelatedPerson.name[0].extension[0]');
  assert.equal(ctx[0].severity, 'error');
  assert.deepEqual(withRule(r, IG_DEFECT_RULE), []);
  // On a Patient: tddui-patient does not declare it.
  const p = example('Patient-tddui-patient-example.json');
  p.extension = [...(p.extension ?? []), { url: COMMENT_URL, valueString: 'x' }];
  const rp2 = validator.validate(p);
  assert.ok(withRule(rp2, 'fhir-extension-context').some((i) => i.severity === 'error'), show(rp2.issues));
  assert.deepEqual(withRule(rp2, IG_DEFECT_RULE), []);
});

// ---------------------------------------------------------------- D-16 catalogue

test('D-16: the server rule tddui-v1-patch-content-only is in the catalogue and in docs/rules.md', () => {
  assert.equal(PATCH_CONTENT_ONLY_RULE, 'tddui-v1-patch-content-only');
  const rule = ALL_TDDUI_RULES.find((r) => r.id === PATCH_CONTENT_ONLY_RULE);
  assert.ok(rule, 'in src/tddui/rules/catalogue.ts');
  assert.equal(rule.severity, 'error');
  assert.ok(rule.fr && rule.en, 'a French and an English message');
  assert.match(rule.reference ?? '', /description_flux_3/);
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'rules.md'), 'utf8');
  assert.ok(doc.includes(`| \`${PATCH_CONTENT_ONLY_RULE}\` | error |`), 'docs/rules.md lists it');
});
