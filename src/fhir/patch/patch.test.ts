import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EXAMPLES_DIR } from '../../testing/paths.js';
import { PatchError, applyFhirPathPatch, applyJsonPatch } from './index.js';

type Json = Record<string, any>;

function docRef(): Json {
  return JSON.parse(readFileSync(join(EXAMPLES_DIR, 'DocumentReference-tddui-pp-pa-documentreference-entrant-example.json'), 'utf8'));
}

function patchError(fn: () => unknown, status: number, re: RegExp): PatchError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof PatchError, `expected PatchError, got ${String(caught)}`);
  assert.equal(caught.status, status, caught.message);
  assert.match(caught.message, re);
  const oo = caught.toOperationOutcome();
  assert.equal(oo.resourceType, 'OperationOutcome');
  assert.equal(oo.issue[0].severity, 'error');
  return caught;
}

/** A Parameters resource from [type, path, extra parts] tuples. */
function fp(...ops: [string, string, Json[]?][]): Json {
  return {
    resourceType: 'Parameters',
    parameter: ops.map(([type, path, extra = []]) => ({
      name: 'operation',
      part: [{ name: 'type', valueCode: type }, { name: 'path', valueString: path }, ...extra],
    })),
  };
}

describe('applyJsonPatch (RFC 6902)', () => {
  it('patches a DocumentReference without touching the input', () => {
    const input = docRef();
    const before = structuredClone(input);
    const out = applyJsonPatch(input, [
      { op: 'test', path: '/status', value: 'current' },
      { op: 'replace', path: '/status', value: 'superseded' },
      { op: 'replace', path: '/content/0/attachment/data', value: 'SGVsbG8=' },
      { op: 'add', path: '/content/0/attachment/size', value: 5 },
      { op: 'add', path: '/author/-', value: { reference: 'Practitioner/p' } },
      { op: 'add', path: '/author/0', value: { reference: 'Organization/first' } },
      { op: 'copy', from: '/masterIdentifier', path: '/identifier' },
      { op: 'move', from: '/identifier', path: '/extraIdentifier' },
      { op: 'remove', path: '/extraIdentifier' },
      { op: 'remove', path: '/content/0/attachment/language' },
    ]) as Json;
    assert.deepStrictEqual(input, before);
    assert.equal(out.status, 'superseded');
    assert.equal(out.content[0].attachment.data, 'SGVsbG8=');
    assert.equal(out.content[0].attachment.size, 5);
    assert.equal(out.content[0].attachment.language, undefined);
    assert.deepStrictEqual(out.author.map((a: Json) => a.reference), ['Organization/first', 'Organization/tddui-organization-example', 'Practitioner/p']);
    assert.equal(out.extraIdentifier, undefined);
    assert.equal(out.identifier, undefined);
  });

  it('JSON Pointer escaping ~0 ~1', () => {
    const r = { resourceType: 'Basic', 'a/b': 1, 'm~n': 2 };
    const out = applyJsonPatch(r, [
      { op: 'test', path: '/a~1b', value: 1 },
      { op: 'replace', path: '/m~0n', value: 3 },
      { op: 'add', path: '/~01', value: 'x' },
    ]) as Json;
    assert.equal(out['m~n'], 3);
    assert.equal(out['~1'], 'x');
  });

  it('test compares JSON values deeply, key order ignored', () => {
    const r = { resourceType: 'Basic', code: { coding: [{ system: 's', code: 'c' }] } };
    assert.doesNotThrow(() => applyJsonPatch(r, [{ op: 'test', path: '/code', value: { coding: [{ code: 'c', system: 's' }] } }]));
    patchError(() => applyJsonPatch(r, [{ op: 'test', path: '/code/coding/0/code', value: 'd' }]), 422, /test failed/);
    patchError(() => applyJsonPatch(r, [{ op: 'test', path: '/code/coding', value: [] }]), 422, /test failed/);
  });

  it('is atomic: a failing operation leaves the input unchanged', () => {
    const input = docRef();
    const before = structuredClone(input);
    patchError(
      () =>
        applyJsonPatch(input, [
          { op: 'replace', path: '/status', value: 'entered-in-error' },
          { op: 'remove', path: '/content/0/attachment/data' },
          { op: 'test', path: '/status', value: 'current' },
        ]),
      422,
      /operation 2: test failed/,
    );
    assert.deepStrictEqual(input, before);
  });

  it('path not found → 422', () => {
    const r = docRef();
    patchError(() => applyJsonPatch(r, [{ op: 'replace', path: '/nope', value: 1 }]), 422, /path not found/);
    patchError(() => applyJsonPatch(r, [{ op: 'remove', path: '/content/3' }]), 422, /path not found/);
    patchError(() => applyJsonPatch(r, [{ op: 'add', path: '/content/5', value: {} }]), 422, /out of bounds/);
    patchError(() => applyJsonPatch(r, [{ op: 'add', path: '/a/b', value: 1 }]), 422, /path not found/);
    patchError(() => applyJsonPatch(r, [{ op: 'remove', path: '/content/-' }]), 422, /path not found/);
    patchError(() => applyJsonPatch(r, [{ op: 'add', path: '/content/01', value: {} }]), 422, /not an array index/);
    patchError(() => applyJsonPatch(r, [{ op: 'copy', from: '/x', path: '/y' }]), 422, /path not found: "\/x"/);
    // Inherited names are not members.
    patchError(() => applyJsonPatch(r, [{ op: 'remove', path: '/constructor' }]), 422, /path not found/);
  });

  it('malformed patch → 400 (and nothing is applied even when earlier ops are fine)', () => {
    const r = docRef();
    patchError(() => applyJsonPatch(r, { op: 'add' }), 400, /JSON array/);
    patchError(() => applyJsonPatch(r, [{ op: 'replace', path: '/status', value: 'x' }, { op: 'frobnicate', path: '/a' }]), 400, /operation 1: unknown op/);
    patchError(() => applyJsonPatch(r, [{ op: 'add', path: '/a' }]), 400, /"value" is required/);
    patchError(() => applyJsonPatch(r, [{ op: 'move', path: '/a' }]), 400, /"from" is required/);
    patchError(() => applyJsonPatch(r, [{ op: 'remove', path: 'status' }]), 400, /invalid JSON Pointer/);
    patchError(() => applyJsonPatch(r, [{ op: 'remove', path: '/a~2' }]), 400, /invalid escape/);
    patchError(() => applyJsonPatch(r, [{ op: 'move', from: '/content', path: '/content/0' }]), 400, /own child/);
  });

  it('the result must stay a resource of the same type; __proto__ is plain data', () => {
    const r = docRef();
    patchError(() => applyJsonPatch(r, [{ op: 'remove', path: '/resourceType' }]), 422, /no longer a FHIR resource/);
    patchError(() => applyJsonPatch(r, [{ op: 'replace', path: '/resourceType', value: 'Patient' }]), 422, /cannot change the resource type/);
    const out = applyJsonPatch(r, [{ op: 'add', path: '/__proto__', value: { polluted: true } }]) as Json;
    assert.equal(({} as Json).polluted, undefined);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
  });
});

describe('applyFhirPathPatch (FHIR R4 FHIRPath Patch)', () => {
  it('replace status and attachment data, input unchanged', () => {
    const input = docRef();
    const before = structuredClone(input);
    const out = applyFhirPathPatch(
      input,
      fp(
        ['replace', 'DocumentReference.status', [{ name: 'value', valueCode: 'superseded' }]],
        ['replace', 'DocumentReference.content[0].attachment.data', [{ name: 'value', valueBase64Binary: 'SGVsbG8=' }]],
        ['replace', 'DocumentReference.content.attachment.title', [{ name: 'value', valueString: 'nouveau.pdf' }]],
      ),
    ) as Json;
    assert.deepStrictEqual(input, before);
    assert.equal(out.status, 'superseded');
    assert.equal(out.content[0].attachment.data, 'SGVsbG8=');
    assert.equal(out.content[0].attachment.title, 'nouveau.pdf');
  });

  it('add: single element, list element, backbone element given as parts', () => {
    const out = applyFhirPathPatch(
      docRef(),
      fp(
        ['add', 'DocumentReference', [{ name: 'name', valueString: 'description' }, { name: 'value', valueString: 'Bilan' }]],
        ['add', 'DocumentReference', [{ name: 'name', valueString: 'author' }, { name: 'value', valueReference: { reference: 'Practitioner/p' } }]],
        ['add', 'DocumentReference.content[0].attachment', [{ name: 'name', valueString: 'size' }, { name: 'value', valueUnsignedInt: 12 }]],
        [
          'add',
          'DocumentReference',
          [
            { name: 'name', valueString: 'content' },
            {
              name: 'value',
              part: [
                { name: 'attachment', valueAttachment: { contentType: 'text/plain', data: 'QQ==' } },
                { name: 'format', valueCoding: { system: 'urn:f', code: 'txt' } },
              ],
            },
          ],
        ],
      ),
    ) as Json;
    assert.equal(out.description, 'Bilan');
    assert.equal(out.author.length, 2);
    assert.equal(out.author[1].reference, 'Practitioner/p');
    assert.equal(out.content[0].attachment.size, 12);
    assert.deepStrictEqual(out.content[1], { attachment: { contentType: 'text/plain', data: 'QQ==' }, format: { system: 'urn:f', code: 'txt' } });
  });

  it('add an extension to a primitive goes into _x', () => {
    const out = applyFhirPathPatch(
      docRef(),
      fp(['add', 'DocumentReference.status', [{ name: 'name', valueString: 'extension' }, { name: 'value', valueExtension: { url: 'http://e', valueString: 'x' } }]]),
    ) as Json;
    assert.equal(out.status, 'current');
    assert.deepStrictEqual(out._status, { extension: [{ url: 'http://e', valueString: 'x' }] });
  });

  it('insert, move and delete in lists', () => {
    const r = { resourceType: 'Patient', name: [{ family: 'A' }, { family: 'B' }, { family: 'C' }] };
    const out = applyFhirPathPatch(
      r,
      fp(
        ['insert', 'Patient.name', [{ name: 'index', valueInteger: 1 }, { name: 'value', valueHumanName: { family: 'X' } }]],
        ['move', 'Patient.name', [{ name: 'source', valueInteger: 3 }, { name: 'destination', valueInteger: 0 }]],
        ['delete', "Patient.name.where(family = 'B')"],
        ['insert', 'Patient.identifier', [{ name: 'index', valueInteger: 0 }, { name: 'value', valueIdentifier: { value: 'id1' } }]],
        ['delete', "Patient.name.where(family = 'absent')"],
      ),
    ) as Json;
    assert.deepStrictEqual(out.name.map((n: Json) => n.family), ['C', 'A', 'X']);
    assert.deepStrictEqual(out.identifier, [{ value: 'id1' }]);
  });

  it('delete single elements, the last list item removes the list, emptied parents go, choice types renamed on replace', () => {
    const r = { resourceType: 'Observation', status: 'final', code: { text: 'c' }, valueQuantity: { value: 1 }, note: [{ text: 'n' }] };
    const out = applyFhirPathPatch(
      r,
      fp(['delete', 'Observation.note[0]'], ['replace', 'Observation.value', [{ name: 'value', valueString: 'texte' }]], ['delete', 'Observation.code.text']),
    ) as Json;
    assert.deepStrictEqual(out, { resourceType: 'Observation', status: 'final', valueString: 'texte' });
    const p = { resourceType: 'Patient', birthDate: '2000', _birthDate: { extension: [{ url: 'http://e', valueCode: 'x' }] } };
    assert.deepStrictEqual(applyFhirPathPatch(p, fp(['delete', 'Patient.birthDate.extension'])), { resourceType: 'Patient', birthDate: '2000' });
  });

  it('primitives in lists keep their _x alignment; decimals are located too', () => {
    const p = { resourceType: 'Patient', name: [{ given: ['A', 'B', 'C'], _given: [null, { id: 'b' }, null] }] };
    const out = applyFhirPathPatch(p, fp(['replace', 'Patient.name.given[1]', [{ name: 'value', valueString: 'BB' }]], ['delete', 'Patient.name.given[0]'])) as Json;
    assert.deepStrictEqual(out.name, [{ given: ['BB', 'C'], _given: [{ id: 'b' }, null] }]);
    const obs = { resourceType: 'Observation', status: 'final', code: {}, valueQuantity: { value: 1.5 } };
    const o2 = applyFhirPathPatch(obs, fp(['replace', 'Observation.value.value', [{ name: 'value', valueDecimal: 2.25 }]])) as Json;
    assert.equal(o2.valueQuantity.value, 2.25);
  });

  it('is atomic: a failing operation leaves the input unchanged', () => {
    const input = docRef();
    const before = structuredClone(input);
    patchError(() => applyFhirPathPatch(input, fp(['replace', 'DocumentReference.status', [{ name: 'value', valueCode: 'superseded' }]], ['replace', 'DocumentReference.description', [{ name: 'value', valueString: 'x' }]])), 422, /operation 1: .* must select exactly one element, it selects 0/);
    assert.deepStrictEqual(input, before);
  });

  it('errors that do not fit the resource → 422', () => {
    const r = docRef();
    patchError(() => applyFhirPathPatch(r, fp(['add', 'DocumentReference', [{ name: 'name', valueString: 'status' }, { name: 'value', valueCode: 'x' }]])), 422, /already has a value; use replace/);
    patchError(() => applyFhirPathPatch(r, fp(['add', 'DocumentReference', [{ name: 'name', valueString: 'foo' }, { name: 'value', valueString: 'x' }]])), 422, /"foo" is not an element of DocumentReference/);
    patchError(() => applyFhirPathPatch(r, fp(['add', 'DocumentReference', [{ name: 'name', valueString: 'description' }, { name: 'value', valueCoding: { code: 'x' } }]])), 422, /does not fit DocumentReference.description/);
    patchError(() => applyFhirPathPatch(r, fp(['replace', 'DocumentReference.author | DocumentReference.subject', [{ name: 'value', valueReference: { reference: 'X/1' } }]])), 422, /exactly one element, it selects 2/);
    patchError(() => applyFhirPathPatch(r, fp(['insert', 'DocumentReference.author', [{ name: 'index', valueInteger: 4 }, { name: 'value', valueReference: { reference: 'X/1' } }]])), 422, /out of bounds/);
    patchError(() => applyFhirPathPatch(r, fp(['move', 'DocumentReference.author', [{ name: 'source', valueInteger: 0 }, { name: 'destination', valueInteger: 2 }]])), 422, /out of bounds/);
    patchError(() => applyFhirPathPatch(r, fp(['replace', "'abc'", [{ name: 'value', valueString: 'x' }]])), 422, /computed value/);
    patchError(() => applyFhirPathPatch(r, fp(['delete', 'DocumentReference'])), 422, /resource itself/);
  });

  it('malformed patch → 400', () => {
    const r = docRef();
    patchError(() => applyFhirPathPatch(r, { resourceType: 'Bundle' }), 400, /Parameters resource/);
    patchError(() => applyFhirPathPatch(r, { resourceType: 'Parameters', parameter: [{ name: 'op', part: [] }] }), 400, /must be "operation"/);
    patchError(() => applyFhirPathPatch(r, fp(['upsert', 'DocumentReference.status'])), 400, /unknown operation type "upsert"/);
    patchError(() => applyFhirPathPatch(r, fp(['replace', 'DocumentReference.status'])), 400, /"value" is required/);
    patchError(() => applyFhirPathPatch(r, fp(['add', 'DocumentReference', [{ name: 'value', valueString: 'x' }]])), 400, /part "name" is required/);
    patchError(() => applyFhirPathPatch(r, fp(['insert', 'DocumentReference.author', [{ name: 'value', valueReference: {} }]])), 400, /"index" must have a valueInteger/);
    patchError(() => applyFhirPathPatch(r, fp(['delete', 'DocumentReference.status.where('])), 400, /invalid FHIRPath/);
    patchError(() => applyFhirPathPatch(r, fp(['delete', 'DocumentReference.status', [{ name: 'bogus', valueString: 'x' }]])), 400, /unknown part "bogus"/);
  });
});
