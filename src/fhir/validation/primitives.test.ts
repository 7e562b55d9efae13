// Unit tests of the R4 primitive rules (datatypes.html#primitive): each type with values the
// specification accepts and values it rejects, calendar validity, integer ranges, time zones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPrimitive, checkPrimitiveByRules, checkStringWhitespace, isPrimitiveType, isValidString, jsonKindOf } from './primitives.js';
import { seededInt } from '../../testing/random.js';

function valid(type: string, values: unknown[]): void {
  for (const v of values) assert.equal(checkPrimitive(type, v), undefined, `${type} ${JSON.stringify(v)} should be valid`);
}

function invalid(type: string, values: unknown[], message?: RegExp): void {
  for (const v of values) {
    const err = checkPrimitive(type, v);
    assert.equal(typeof err, 'object', `${type} ${JSON.stringify(v)} should be invalid`);
    if (message) assert.match(err!.en, message, `${type} ${JSON.stringify(v)}`);
    // Every problem is worded in French too, not the English text again (issue 20).
    assert.ok(err!.fr && err!.fr !== err!.en && !/ is not | is out of |The (string|value) /.test(err!.fr), `French of ${err!.en}: ${err!.fr}`);
  }
}

test('primitive type names and their JSON kind', () => {
  for (const t of ['boolean', 'integer', 'decimal', 'string', 'code', 'id', 'uri', 'date', 'dateTime', 'instant', 'time', 'xhtml', 'positiveInt']) {
    assert.ok(isPrimitiveType(t), t);
  }
  for (const t of ['Coding', 'Period', 'Resource', 'integer64', 'String', '']) assert.ok(!isPrimitiveType(t), t);
  assert.equal(jsonKindOf('boolean'), 'boolean');
  for (const t of ['integer', 'unsignedInt', 'positiveInt', 'decimal']) assert.equal(jsonKindOf(t), 'number', t);
  for (const t of ['string', 'date', 'instant', 'base64Binary', 'code']) assert.equal(jsonKindOf(t), 'string', t);
});

test('integer, unsignedInt, positiveInt: whole numbers in the 32-bit range', () => {
  valid('integer', [0, -1, 2147483647, -2147483648]);
  invalid('integer', [1.5], /no decimals/);
  invalid('integer', [2147483648, -2147483649], /32-bit/);
  valid('unsignedInt', [0, 5, 2147483647]);
  invalid('unsignedInt', [-1, 0.5, 2147483648]);
  valid('positiveInt', [1, 2147483647]);
  invalid('positiveInt', [0, -3, 1.1, 2147483648]);
  invalid('decimal', [Infinity, -Infinity, NaN]);
  valid('decimal', [0, -0.0001, 1e20, 3.14]);
});

test('date: YYYY, YYYY-MM, YYYY-MM-DD and a real calendar day', () => {
  valid('date', ['2023', '2023-04', '2023-04-14', '2024-02-29', '2000-02-29', '0001-01-01']);
  invalid('date', ['2023-02-29', '1900-02-29', '2023-04-31'], /has no day/);
  invalid('date', ['0000', '0000-01-01'], /year 0000/);
  invalid('date', ['23', '2023-4', '2023-04-1', '2023-13', '2023-00', '2023-04-00', '2023-04-32', '2023/04/14', '2023-04-14T10:00:00Z', ' 2023', '2023-04-14 ']);
});

test('dateTime: partial dates, or a full time with a time zone between -14:00 and +14:00', () => {
  valid('dateTime', [
    '2023', '2023-04', '2023-04-14', '2023-04-14T10:00:00Z', '2023-04-14T10:00:00+02:00', '2023-04-14T23:59:60Z',
    '2023-04-14T10:00:00.123456-05:30', '2023-04-14T10:00:00+14:00', '2023-04-14T10:00:00-14:00',
  ]);
  invalid('dateTime', ['2023-04-14T10:00:00', '2023-04-14T10:00'], /time zone/);
  invalid('dateTime', ['2023-04-14T10:00:00+14:30', '2023-04-14T10:00:00+15:00', '2023-04-14T10:00:00+0200', '2023-04-14T24:00:00Z', '2023-04-14T10:60:00Z', '2023-04-14T10Z', '2023-04-14t10:00:00Z']);
  invalid('dateTime', ['2023-02-30T10:00:00Z'], /has no day/);
});

test('instant: always a full date, time and zone', () => {
  valid('instant', ['2023-04-14T10:00:00Z', '2023-04-14T10:00:00.5+01:00']);
  invalid('instant', ['2023', '2023-04-14', '2023-04-14T10:00:00', '2023-04-14T10:00Z']);
  invalid('instant', ['2021-02-29T10:00:00Z'], /has no day/);
});

test('time: hh:mm:ss with optional fraction, no zone', () => {
  valid('time', ['00:00:00', '23:59:59', '12:30:00.25']);
  invalid('time', ['24:00:00', '12:30', '12:30:00Z', '1:30:00', '12:61:00']);
});

test('code, id, oid, uuid', () => {
  valid('code', ['final', 'a b', 'x-1', 'ÉTÉ']);
  invalid('code', [' final', 'final ', 'a  b', 'a\tb', 'a\nb'], /whitespace/);
  valid('id', ['a', 'A-1.b', 'x'.repeat(64)]);
  invalid('id', ['x'.repeat(65), 'a_b', 'bad id!', 'é'], /valid id/);
  valid('oid', ['urn:oid:1.2.250.1.213.1.4.8', 'urn:oid:2.16']);
  invalid('oid', ['1.2.250', 'urn:oid:3.1', 'urn:oid:1.02', 'urn:oid:1', 'urn:oid:1.2.']);
  valid('uuid', ['urn:uuid:0b0c2c4e-1111-4222-8333-444455556666']);
  invalid('uuid', ['urn:uuid:0B0C2C4E-1111-4222-8333-444455556666', '0b0c2c4e-1111-4222-8333-444455556666', 'urn:uuid:0b0c2c4e-1111-4222-8333-44445555666']);
});

test('uri, url, canonical: no whitespace; urn:oid / urn:uuid must be well-formed', () => {
  for (const t of ['uri', 'url', 'canonical']) {
    valid(t, ['http://example.org/fhir', 'urn:oid:1.2.3', 'urn:uuid:0b0c2c4e-1111-4222-8333-444455556666', 'relative/path', 'http://x|1.0']);
    invalid(t, ['http://a b', ' http://x', 'http://x\n'], /whitespace/);
    invalid(t, ['urn:oid:1.2.x'], /OID/);
    invalid(t, ['urn:uuid:1234'], /UUID/);
  }
});

test('base64Binary: padding and alphabet (whitespace tolerated)', () => {
  valid('base64Binary', ['', 'QQ==', 'QUI=', 'QUJD', 'QUJD\nREVG', 'a+/9']);
  invalid('base64Binary', ['Q', 'QQ=', 'QQ===', 'QU!D', 'QUJD=A==']);
});

test('string and markdown: control characters and the 1 MB limit', () => {
  valid('string', ['x', 'a\nb\tc\r', 'é🙂', 'x'.repeat(1024 * 1024)]);
  invalid('string', ['a\u0000b', '\u0007', 'a\u001Fb', '\u000B'], /control character/);
  invalid('string', ['x'.repeat(1024 * 1024 + 1)], /longer than 1 MB/);
  invalid('markdown', ['a\u0001'], /control character/);
});

test('non-string values are not checked as strings (their JSON kind is checked elsewhere)', () => {
  assert.equal(checkPrimitive('date', true), undefined);
  assert.equal(checkPrimitive('string', null), undefined);
  assert.equal(checkPrimitive('boolean', false), undefined);
});

test('leading/trailing whitespace of strings is a warning-level finding', () => {
  assert.equal(checkStringWhitespace('abc'), undefined);
  assert.equal(checkStringWhitespace('a b'), undefined);
  for (const s of [' abc', 'abc ', '\tabc', 'abc\n', '\rabc']) assert.match(checkStringWhitespace(s) ?? '', /whitespace/, JSON.stringify(s));
});

test('messages quote long values shortened', () => {
  const err = checkPrimitive('date', 'x'.repeat(500))!;
  assert.ok(err.en.length < 200, err.en);
  assert.match(err.en, /\.\.\./);
  assert.ok(err.fr.length < 200, err.fr);
  assert.match(err.fr, /\.\.\./);
});

// The fast scanners (isValidString) may only accept what the regex rules accept, and must
// accept every valid value of the types they cover (or they are no longer the fast path).
test('fast string scanners agree with the regex rules on generated values', () => {
  const rnd = seededInt(12345);
  const chars = ['0', '1', '2', '3', '4', '5', '6', '9', '-', ':', '.', '+', 'T', 'Z', 't', ' ', '\t', '\n', '\u00a0', '\u2028', '\u0001', '\u001f', 'a', 'Z', '/', 'é', '\ufeff', 'u', 'r', 'n', '_', '=', 'Q', '\r'];
  const templates = [
    '2023-04-14T10:00:00.123+02:00', '2024-02-29', '2023-12-31T23:59:60Z', '0001-01-01T00:00:00-14:00', '2023-04',
    '1999', 'a-b.C9', 'final', 'in progress', 'https://hl7.fr/ig/fhir/core', 'urn:uuid:0a0b0c0d-0e0f-1011-1213-141516171819',
    'urn:oid:1.2.250.1', 'Hello world', 'QUJD', 'QUJDREU=', 'QUJDRA==', 'QUJD\nREVG', 'a+/9 QQ==',
  ];
  // Types with a scanner (the others are always left to the regex rules).
  const types = ['code', 'id', 'date', 'dateTime', 'instant', 'base64Binary'];
  const generate = (): string => {
    if (rnd(3) === 0) {
      let s = '';
      const n = rnd(12);
      for (let i = 0; i < n; i++) s += chars[rnd(chars.length)];
      return s;
    }
    // A template with a few edits: replace, insert or delete characters.
    let s = templates[rnd(templates.length)];
    const edits = rnd(3);
    for (let e = 0; e < edits; e++) {
      const at = rnd(s.length + 1);
      const c = chars[rnd(chars.length)];
      const op = rnd(3);
      s = op === 0 ? s.slice(0, at) + c + s.slice(at + 1) : op === 1 ? s.slice(0, at) + c + s.slice(at) : s.slice(0, at) + s.slice(at + 1);
    }
    return s;
  };
  let accepted = 0;
  // base64: short strings of its alphabet, padding and whitespace (padding in the middle, too
  // much of it, lengths off by one), which edits of the templates rarely produce.
  const b64 = ['Q', 'a', '+', '/', '9', '=', '=', ' ', '\n', '!'];
  const generateBase64 = (): string => {
    let s = '';
    const n = rnd(10);
    for (let i = 0; i < n; i++) s += b64[rnd(b64.length)];
    return s;
  };
  const perType = new Map<string, number>();
  for (let k = 0; k < 60_000; k++) {
    const type = types[rnd(types.length)];
    const v = type === 'base64Binary' && rnd(2) === 0 ? generateBase64() : generate();
    if (v === '') continue;
    perType.set(type, (perType.get(type) ?? 0) + 1);
    const byRules = checkPrimitiveByRules(type, v);
    const fast = isValidString(type, v);
    if (fast) {
      accepted++;
      assert.equal(byRules, undefined, `scanner accepted ${type} ${JSON.stringify(v)}: ${byRules?.en}`);
    } else if (byRules === undefined) {
      assert.fail(`scanner refused a valid ${type} ${JSON.stringify(v)}`);
    }
    assert.deepEqual(checkPrimitive(type, v), byRules);
  }
  assert.ok(accepted > 5_000, `only ${accepted} values accepted: the generator or the scanner is off`);
  // Every type drew its share of the values, valid and invalid.
  for (const t of types) assert.ok(perType.get(t)! > 5_000, `${t}: only ${perType.get(t)} values`);
});
