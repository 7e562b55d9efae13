// Text no database can store, and input that broke the server (issue 21): each answered with a
// 4xx OperationOutcome on both databases, the refused submissions kept in the submission log
// (as the database can store them), nothing else written; errors logged without health data.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findUnstorableText, jsonDepthExceeds, storableCopy } from '../fhir/text.js';
import { urlProblem } from './app.js';
import { loggableError } from './errors.js';
import { dumpTables, http, postgresSkipReason, readExample, startTestServer, type DbKind, type TestServer } from './test-support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const SSIAD = 'Bundle-tddui-bundle-example.json';
const DOC = 'DocumentReference-tddui-pp-pa-documentreference-entrant-example.json';
const pgSkip = await postgresSkipReason();

describe('unstorable text, found without recursion', () => {
  it('finds NUL and lone surrogates in values and names, at their place; keeps pairs', () => {
    assert.deepEqual(findUnstorableText({ resourceType: 'Patient', name: [{ given: ['ok', 'a\u0000b'] }] }, 'Patient'), [{ expression: 'Patient.name[0].given[1]', what: 'nul', inName: false }]);
    assert.deepEqual(findUnstorableText({ a: '\ud800x' }, 'R'), [{ expression: 'R.a', what: 'surrogate', inName: false }]);
    assert.deepEqual(findUnstorableText({ a: 'x\udc00' }, 'R'), [{ expression: 'R.a', what: 'surrogate', inName: false }]);
    assert.deepEqual(findUnstorableText({ 'k\u0000': 1 }, 'R'), [{ expression: 'R', what: 'nul', inName: true }]);
    assert.deepEqual(findUnstorableText({ a: 'emoji \ud83d\ude00 fine', b: 'é' }, 'R'), []);
    let deep: unknown = 'x\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(findUnstorableText(deep, 'R').length, 1, 'a 100,000-deep value does not overflow the stack');
  });

  it('copies any value into one the database stores: replaced characters, bounded depth, strings and size', () => {
    const c = storableCopy({ 'n\u0000': 'a\ud800', deep: [[[['x']]]], long: 'y'.repeat(100), __proto__x: 1 }, { maxDepth: 3, maxString: 10 }) as Json;
    assert.equal(c['n\ufffd'], 'a\ufffd');
    assert.deepEqual(c.deep, [['[tddui: deeper levels not kept]']]);
    assert.match(c.long, /^y{10}\[tddui: cut at 10 characters\]$/);
    assert.equal(JSON.stringify(storableCopy(Array.from({ length: 10 }, (_, i) => i), { maxValues: 5 })), '[0,1,2,3,"[tddui: not kept, the document is too large]",null,null,null,null,null]'.replace(/null/g, '"[tddui: not kept, the document is too large]"'));
  });

  it('measures JSON depth without parsing (strings and escapes skipped)', () => {
    assert.equal(jsonDepthExceeds('{"a":[[1]]}', 3), false);
    assert.equal(jsonDepthExceeds('{"a":[[[1]]]}', 3), true);
    assert.equal(jsonDepthExceeds('{"a":"[[[[\\"[[[["}', 1), false);
    // Strings skipped by indexOf (D-316): escaped quotes and backslashes before a quote, against
    // a character-at-a-time reference scan, on random texts of quotes, backslashes and brackets.
    const reference = (text: string, limit: number): boolean => {
      let depth = 0;
      let inString = false;
      for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (inString) {
          if (c === '\\') i++;
          else if (c === '"') inString = false;
          continue;
        }
        if (c === '"') inString = true;
        else if (c === '{' || c === '[') {
          if (++depth > limit) return true;
        } else if (c === '}' || c === ']') depth--;
      }
      return false;
    };
    assert.equal(jsonDepthExceeds('["a\\\\"[[[[', 3), true, 'an escaped backslash ends before the quote');
    assert.equal(jsonDepthExceeds('["a\\"[[[[', 3), false, 'an escaped quote does not end the string');
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
    for (let t = 0; t < 3000; t++) {
      const text = Array.from({ length: rand(40) }, () => '"\\[]{}a'[rand(7)]).join('');
      for (const limit of [0, 1, 2, 4]) assert.equal(jsonDepthExceeds(text, limit), reference(text, limit), `${JSON.stringify(text)} limit ${limit}`);
    }
  });

  it('refuses URLs with NUL, undecodable bytes or lone surrogates', () => {
    assert.equal(urlProblem('/fhir/Patient?name=Dupont%20Jean'), undefined);
    assert.equal(urlProblem('/fhir/Patient?name=%C3%A9'), undefined);
    assert.match(urlProblem('/fhir/Patient?name=%00')!.what, /NUL/);
    assert.match(urlProblem('/usagers/%ED%A0%80')!.what, /not UTF-8/);
    assert.match(urlProblem('/fhir/Patient?name=%FF')!.what, /not UTF-8/);
  });

  it('logs a database error without its message, detail or values', () => {
    const pgError = Object.assign(new Error('invalid input syntax for type json: "Dupont"'), { name: 'error', code: '22P02', severity: 'ERROR', detail: 'Token "Dupont" is invalid.', where: 'JSON data, line 1: {"name":"Dupont', routine: 'json_errsave_error' });
    const logged = JSON.stringify(loggableError(pgError));
    assert.doesNotMatch(logged, /Dupont/);
    assert.match(logged, /22P02/);
    assert.match(JSON.stringify(loggableError(new TypeError('x is undefined'))), /x is undefined/);
  });
});

function hostileSuite(kind: DbKind, skip?: string) {
  describe(`hostile input, answered 4xx and logged (${kind})`, { skip }, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(kind);
    });
    after(async () => s?.stop());

    it('a lone surrogate or a NUL in a Bundle: 422 at the element, the refusal in the submission log, nothing stored', async () => {
      const before = await dumpTables(s.repo);
      for (const [bad, what] of [['Jean\ud800', /surrogate/], ['Je\u0000an', /NUL/]] as const) {
        const b = readExample(SSIAD);
        b.entry[0].resource.name[0].given = [bad];
        const r = await http(s.base, { body: b });
        assert.equal(r.status, 422, r.text.slice(0, 300));
        assert.equal(r.json.issue[0].code, 'invalid');
        assert.deepEqual(r.json.issue[0].expression, ['Bundle.entry[0].resource.name[0].given[0]']);
        assert.match(r.json.issue[0].diagnostics, what);
        const id = r.headers.get('x-tddui-submission');
        assert.ok(id, 'the refusal is in the submission log');
        const logged = await s.repo.getSubmission(id!);
        assert.equal(logged?.outcome, 'rejected');
        assert.equal(logged?.httpStatus, 422);
        assert.equal((logged?.bundle as Json).entry[0].resource.name[0].given[0], bad.replace(/[\u0000\ud800]/, '\ufffd'));
      }
      assert.deepEqual(await dumpTables(s.repo), before, 'no resource written');
    });

    it('10,000-deep nesting is a 400 before parsing; NUL and bad UTF-8 in URLs are 400s (search, read, UI pages)', async () => {
      const deep = '{"resourceType":"Bundle","type":"transaction","entry":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}';
      const r = await http(s.base, { body: deep });
      assert.equal(r.status, 400);
      assert.equal(r.json.issue[0].code, 'too-costly');
      for (const path of ['/fhir/Patient?name=%00', '/fhir/Patient/%00', '/fhir/Patient?name=%ED%A0%80', '/usagers/%00', '/envois/%00', '/fhir/Patient?family:exact=a%00b']) {
        const u = await http(`${s.url}${path}`);
        assert.equal(u.status, 400, `${path}: ${u.text.slice(0, 200)}`);
      }
      const json = await http(`${s.url}/fhir/Patient?name=%00`);
      assert.equal(json.json.issue[0].code, 'invalid');
    });

    it('a PATCH or a create carrying a lone surrogate is a 422, nothing stored; $validate reports it as an error', async () => {
      const doc = readExample(DOC);
      delete doc.id;
      doc.masterIdentifier = { ...doc.masterIdentifier, value: `3480787529/hostile-${kind}-${process.pid}` };
      const created = await http(`${s.base}/DocumentReference`, { body: doc });
      assert.equal(created.status, 201, created.text.slice(0, 300));
      const url = created.headers.get('location')!.replace(/\/_history\/\d+$/, '');
      const before = await dumpTables(s.repo);
      const patch = await http(url, { method: 'PATCH', body: '[{"op":"replace","path":"/content/0/attachment/title","value":"x\\ud800"}]', type: 'application/json-patch+json' });
      assert.equal(patch.status, 422, patch.text.slice(0, 300));
      assert.deepEqual(patch.json.issue[0].expression, ['patch[0].value']);
      const bad = { ...doc, description: 'a\u0000b' };
      const create = await http(`${s.base}/DocumentReference`, { body: bad });
      assert.equal(create.status, 422);
      assert.deepEqual(create.json.issue[0].expression, ['DocumentReference.description']);
      assert.deepEqual(await dumpTables(s.repo), before, 'nothing stored');
      const v = await http(`${s.base}/$validate`, { body: bad });
      assert.equal(v.status, 200);
      assert.equal(v.json.issue[0].severity, 'error');
      assert.deepEqual(v.json.issue[0].expression, ['DocumentReference.description']);
    });
  });
}

hostileSuite('embedded');
hostileSuite('postgres', pgSkip);
