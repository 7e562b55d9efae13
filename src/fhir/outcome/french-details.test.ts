// "French everywhere" (issue 20), from the producers' side: the findings and rejections whose
// text takes a detail (a parser's message, a value set's reason, a narrative's fault…) get it
// in French too. language.test.ts checks the templates; this drives the producers and checks the
// French texts they build: every placeholder filled, no English word outside quoted values.
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/fhir/outcome/french-details.test.js
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { applyFhirPathPatch, applyJsonPatch, PatchError } from '../patch/index.js';
import { readFhirInput } from '../input.js';
import { FhirXmlError, xmlToJson } from '../xml/index.js';
import { SHARED_FHIR } from '../../testing/paths.js';
import { languageProblems } from '../../testing/language.js';
import { TdduiValidator } from '../../tddui/validator.js';
import { FhirError, HTTP_ERRORS } from './http-errors.js';
import type { ValidationIssue } from './issue.js';

/** Problems of a French text built by a producer: a placeholder left, or English prose. */
function frenchProblems(what: string, en: string, fr: string | undefined): string[] {
  const out = languageProblems(what, en, fr);
  if (fr && /\{\w+\}/.test(fr)) out.push(`${what}: placeholder left in the French text: ${fr}`);
  return out;
}

let v: TdduiValidator;
before(async () => {
  v = await TdduiValidator.create({ packages: [SHARED_FHIR] });
});

function issuesOf(resource: unknown): ValidationIssue[] {
  return v.validate(resource).issues;
}

test('validation findings with a detail say it in French (empty elements, narrative, bindings, references)', () => {
  const patient = {
    resourceType: 'Patient',
    id: 'p1',
    text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">x<script>alert(1)</script></p></div>' },
    gender: 'femme',
    name: [{ family: '' }],
    telecom: [{}],
    generalPractitioner: [{ reference: '#absent' }],
  };
  const bundle = {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      { fullUrl: 'urn:uuid:0b2e4a52-5b36-4d3c-9c55-1d0f9b0e3c11', resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:5f1c8d2e-0000-4000-8000-000000000000' } } },
      { fullUrl: 'urn:uuid:0b2e4a52-5b36-4d3c-9c55-1d0f9b0e3c12', resource: { resourceType: 'Patient', text: { status: 'generated', div: '<div><p>pas XHTML</p></div>' } } },
      { fullUrl: 'urn:uuid:0b2e4a52-5b36-4d3c-9c55-1d0f9b0e3c13', resource: { resourceType: 'Patient', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><p>mal fermé</div>' } } },
      { fullUrl: 'urn:uuid:0b2e4a52-5b36-4d3c-9c55-1d0f9b0e3c14', resource: { resourceType: 'Patient', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">a&nbsp;b</div>' } } },
    ],
  };
  const issues = [...issuesOf(patient), ...issuesOf(bundle)];
  const rules = new Set(issues.map((i) => i.rule));
  for (const r of ['fhir-empty-element', 'fhir-narrative-content', 'fhir-narrative-root', 'fhir-narrative-syntax', 'fhir-code-invalid', 'fhir-reference-unresolved']) {
    assert.ok(rules.has(r), `${r} not produced: ${[...rules].join(', ')}`);
  }
  assert.deepEqual(issues.flatMap((i) => frenchProblems(i.rule, i.message, i.messageFr)), []);
  const syntax = issues.find((i) => i.rule === 'fhir-narrative-syntax')!;
  assert.match(syntax.messageFr!, /n’est pas du XHTML bien formé : .*ligne 1, colonne \d+ du div/);
});

test('unreadable XML says where and what in French', () => {
  for (const xml of ['<Patient xmlns="http://hl7.org/fhir"><id value="1"/>', '<Patient xmlns="http://hl7.org/fhir"><foo value="1"/></Patient>', '<Patient xmlns="http://hl7.org/fhir"><active value="oui"/></Patient>', '<Patient>&nbsp;</Patient>']) {
    let err: FhirXmlError | undefined;
    try {
      xmlToJson(xml);
    } catch (e) {
      err = e as FhirXmlError;
    }
    assert.ok(err instanceof FhirXmlError, xml);
    assert.deepEqual(frenchProblems(xml, err.message, err.messageFr), []);
    assert.match(err.messageFr, /ligne 1, colonne \d+/);
    const read = readFhirInput(xml);
    assert.deepEqual(frenchProblems(xml, read.issue!.message, read.issue!.messageFr), []);
  }
});

test('patch failures and HTTP body errors say it in French', () => {
  const patient = { resourceType: 'Patient', id: 'p', active: true };
  const failures: PatchError[] = [];
  for (const run of [
    () => applyJsonPatch(patient, [{ op: 'remove', path: '/name' }]),
    () => applyJsonPatch(patient, { op: 'add' }),
    () => applyJsonPatch(patient, [{ op: 'replace', path: '/resourceType', value: 'Group' }]),
    () => applyFhirPathPatch(patient, { resourceType: 'Parameters', parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'delete' }, { name: 'path', valueString: 'Patient.name.given' }] }] }),
    () => applyFhirPathPatch(patient, { resourceType: 'Parameters', parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'explode' }] }] }),
  ]) {
    try {
      run();
    } catch (e) {
      if (e instanceof PatchError) failures.push(e);
      else throw e;
    }
  }
  assert.ok(failures.length >= 4, failures.map((f) => f.message).join('\n'));
  const errors = failures.map((f) => new FhirError(HTTP_ERRORS.PATCH_FAILED, { detail: f.message, detailFr: f.messageFr }));
  errors.push(new FhirError(HTTP_ERRORS.BODY_EMPTY, { what: 'a FHIR JSON resource', whatFr: 'une ressource FHIR JSON' }));
  assert.deepEqual(errors.flatMap((e) => frenchProblems(e.id, e.message, e.text)), []);
  assert.ok(failures.some((f) => /^opération 0 : /.test(f.messageFr)));
});
