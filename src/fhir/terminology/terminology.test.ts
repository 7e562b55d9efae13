// Unit tests of the offline terminology service on a small hand-made registry: compose
// include/exclude/valueSet, concept lists, hierarchies and filters, complete vs fragment code
// systems, expansions, versions, grammar systems, and "unknown" (never a pass) when what the
// decision needs is not loaded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConformanceRegistry, type CanonicalResource } from '../packages/registry.js';
import { Terminology } from './terminology.js';

const CS = 'http://example.org/cs/colours';
const CS_FRAGMENT = 'http://example.org/cs/partial';
const CS_CI = 'http://example.org/cs/case-insensitive';
const VS = (name: string) => `http://example.org/vs/${name}`;

function registry(): ConformanceRegistry {
  const reg = new ConformanceRegistry();
  reg.addPackage({ name: 'example.pkg', version: '1.0.0', canonical: 'http://example.org', location: 'test', dependencies: {}, resourceCount: 0, examples: [] });
  const add = (r: CanonicalResource) => reg.add(r);
  add({
    resourceType: 'CodeSystem',
    url: CS,
    version: '2.0.0',
    content: 'complete',
    concept: [
      {
        code: 'warm',
        display: 'Warm colours',
        concept: [
          { code: 'red', display: 'Red', property: [{ code: 'hex', valueString: 'ff0000' }, { code: 'primary', valueBoolean: true }] },
          { code: 'orange', display: 'Orange', concept: [{ code: 'amber', display: 'Amber' }] },
        ],
      },
      { code: 'cool', concept: [{ code: 'blue', property: [{ code: 'primary', valueBoolean: true }] }, { code: 'green' }] },
      // A flat hierarchy expressed by a property.
      { code: 'teal', property: [{ code: 'parent', valueCode: 'cool' }] },
    ],
  });
  add({ resourceType: 'CodeSystem', url: CS_FRAGMENT, content: 'fragment', concept: [{ code: 'known' }] });
  add({ resourceType: 'CodeSystem', url: CS_CI, content: 'complete', caseSensitive: false, concept: [{ code: 'Abc' }] });
  const vs = (name: string, compose: unknown, extra: Record<string, unknown> = {}) =>
    add({ resourceType: 'ValueSet', url: VS(name), compose, ...extra });
  vs('all', { include: [{ system: CS }] });
  vs('listed', { include: [{ system: CS, concept: [{ code: 'red' }, { code: 'blue' }] }] });
  vs('warm', { include: [{ system: CS, filter: [{ property: 'concept', op: 'is-a', value: 'warm' }] }] });
  vs('below-warm', { include: [{ system: CS, filter: [{ property: 'concept', op: 'descendent-of', value: 'warm' }] }] });
  vs('not-warm', { include: [{ system: CS, filter: [{ property: 'concept', op: 'is-not-a', value: 'warm' }] }] });
  vs('in', { include: [{ system: CS, filter: [{ property: 'concept', op: 'in', value: 'red, green' }] }] });
  vs('regex', { include: [{ system: CS, filter: [{ property: 'code', op: 'regex', value: 'b.*' }] }] });
  vs('primary', { include: [{ system: CS, filter: [{ property: 'primary', op: '=', value: 'true' }] }] });
  vs('has-hex', { include: [{ system: CS, filter: [{ property: 'hex', op: 'exists', value: 'true' }] }] });
  vs('unsupported-filter', { include: [{ system: CS, filter: [{ property: 'concept', op: 'generalizes', value: 'red' }] }] });
  vs('all-but-cool', { include: [{ system: CS }], exclude: [{ system: CS, filter: [{ property: 'concept', op: 'is-a', value: 'cool' }] }] });
  vs('nested', { include: [{ valueSet: [VS('listed')] }, { system: CS, concept: [{ code: 'green' }] }] });
  vs('intersection', { include: [{ system: CS, valueSet: [VS('warm')], concept: [{ code: 'red' }, { code: 'blue' }] }] });
  vs('fragment', { include: [{ system: CS_FRAGMENT }] });
  vs('missing-system', { include: [{ system: 'http://example.org/cs/not-loaded' }] });
  vs('missing-nested', { include: [{ valueSet: [VS('not-loaded')] }] });
  vs('ci', { include: [{ system: CS_CI }] });
  vs('mime', { include: [{ system: 'urn:ietf:bcp:13' }] });
  vs('lang', { include: [{ system: 'urn:ietf:bcp:47' }] });
  vs('currency', { include: [{ system: 'urn:iso:std:iso:4217' }] });
  // D-14: one include listing several value sets (an intersection in FHIR).
  vs('warm-listed', { include: [{ system: CS, concept: [{ code: 'red' }, { code: 'orange' }] }] });
  vs('cool-listed', { include: [{ system: CS, concept: [{ code: 'blue' }, { code: 'green' }] }] });
  vs('disjoint', { include: [{ valueSet: [VS('warm-listed'), VS('cool-listed')] }] });
  vs('overlapping', { include: [{ valueSet: [VS('listed'), VS('warm')] }] });
  vs('one-missing', { include: [{ valueSet: [VS('warm-listed'), VS('not-loaded')] }] });
  vs('all-missing', { include: [{ valueSet: [VS('not-loaded'), VS('not-loaded-either')] }] });
  vs('outer', { include: [{ valueSet: [VS('disjoint')] }] });
  vs('disjoint-but-excluded', { include: [{ valueSet: [VS('warm-listed'), VS('cool-listed')] }], exclude: [{ system: CS, concept: [{ code: 'green' }] }] });
  vs('cycle-a', { include: [{ valueSet: [VS('cycle-b')] }] });
  vs('cycle-b', { include: [{ valueSet: [VS('cycle-a')] }] });
  add({
    resourceType: 'ValueSet',
    url: VS('expansion-only'),
    version: '1.0.0',
    expansion: { contains: [{ system: CS, code: 'red' }, { system: CS, code: 'x', contains: [{ system: 'http://other', code: 'y' }] }] },
  });
  return reg;
}

const term = new Terminology(registry());
const status = (vs: string, code: string, system: string = CS) => term.validateCode(VS(vs), { system, code }).status;
/** A bare `code` element: no system. */
const bare = (vs: string, code: string) => term.validateCode(VS(vs), { code }).status;

test('complete code system: every code in, others out', () => {
  for (const c of ['warm', 'red', 'amber', 'cool', 'teal']) assert.equal(status('all', c), 'valid', c);
  assert.equal(status('all', 'purple'), 'invalid');
  // Codes are case-sensitive unless the code system says otherwise.
  assert.equal(status('all', 'Red'), 'invalid');
  assert.equal(status('ci', 'abc', CS_CI), 'valid');
  assert.equal(status('ci', 'ABC', CS_CI), 'valid');
});

test('the system must match; a bare code (no system) is looked up in the value set systems', () => {
  assert.equal(status('all', 'red', 'http://other.org'), 'invalid');
  assert.match(term.validateCode(VS('all'), { system: 'http://other.org', code: 'red' }).message ?? '', /does not include codes from http:\/\/other\.org/);
  assert.equal(bare('all', 'red'), 'valid');
  assert.equal(bare('all', 'purple'), 'invalid');
  assert.equal(bare('listed', 'green'), 'invalid');
  assert.equal(term.validateCode(VS('all'), { code: '' }).status, 'invalid');
  assert.equal(term.validateCode(VS('all'), {}).status, 'invalid');
});

test('concept lists, nested value sets, intersections', () => {
  assert.equal(status('listed', 'red'), 'valid');
  assert.equal(status('listed', 'blue'), 'valid');
  assert.equal(status('listed', 'green'), 'invalid');
  assert.equal(status('nested', 'blue'), 'valid', 'from the nested value set');
  assert.equal(status('nested', 'green'), 'valid', 'from the second include');
  assert.equal(status('nested', 'amber'), 'invalid');
  // system + valueSet in one include = both must hold.
  assert.equal(status('intersection', 'red'), 'valid');
  assert.equal(status('intersection', 'blue'), 'invalid', 'listed, but not warm');
});

test('hierarchy filters: is-a, descendent-of, is-not-a (child concepts and parent properties)', () => {
  assert.equal(status('warm', 'warm'), 'valid');
  assert.equal(status('warm', 'amber'), 'valid', 'grandchild');
  assert.equal(status('warm', 'blue'), 'invalid');
  assert.equal(status('below-warm', 'warm'), 'invalid', 'descendent-of excludes the code itself');
  assert.equal(status('below-warm', 'orange'), 'valid');
  assert.equal(status('not-warm', 'green'), 'valid');
  assert.equal(status('not-warm', 'red'), 'invalid');
  assert.equal(status('all-but-cool', 'red'), 'valid');
  assert.equal(status('all-but-cool', 'teal'), 'invalid', 'teal is below cool through its parent property');
  assert.equal(status('all-but-cool', 'cool'), 'invalid');
});

test('other filters: in, regex, property =, property exists; an unsupported one is unknown', () => {
  assert.equal(status('in', 'green'), 'valid');
  assert.equal(status('in', 'blue'), 'invalid');
  assert.equal(status('regex', 'blue'), 'valid');
  assert.equal(status('regex', 'red'), 'invalid');
  assert.equal(status('primary', 'red'), 'valid');
  assert.equal(status('primary', 'green'), 'invalid');
  assert.equal(status('has-hex', 'red'), 'valid');
  assert.equal(status('has-hex', 'blue'), 'invalid');
  assert.equal(status('unsupported-filter', 'red'), 'unknown');
});

test('fragment code systems: listed codes are valid, others unknown (never invalid, never a pass)', () => {
  assert.equal(status('fragment', 'known', CS_FRAGMENT), 'valid');
  const r = term.validateCode(VS('fragment'), { system: CS_FRAGMENT, code: 'other' });
  assert.equal(r.status, 'unknown');
  assert.deepEqual(r.missing, [CS_FRAGMENT]);
});

test('missing value sets and code systems: unknown, naming what is missing and its package', () => {
  const a = term.validateCode(VS('missing-system'), { system: 'http://example.org/cs/not-loaded', code: 'x' });
  assert.equal(a.status, 'unknown');
  assert.deepEqual(a.missing, ['http://example.org/cs/not-loaded']);
  assert.match(a.message ?? '', /example\.pkg#1\.0\.0/, 'the canonical base names the package');
  const b = term.validateCode(VS('missing-nested'), { system: CS, code: 'red' });
  assert.equal(b.status, 'unknown');
  assert.deepEqual(b.missing, [VS('not-loaded')]);
  const c = term.validateCode('http://nowhere.example/vs', { code: 'x' });
  assert.equal(c.status, 'unknown');
  assert.deepEqual(c.missing, ['http://nowhere.example/vs']);
  // Cyclic includes do not loop: the cycle counts as missing.
  assert.equal(status('cycle-a', 'red'), 'unknown');
});

test('expansion-only value sets and versioned canonicals', () => {
  assert.equal(status('expansion-only', 'red'), 'valid');
  assert.equal(status('expansion-only', 'y', 'http://other'), 'valid', 'nested contains');
  assert.equal(status('expansion-only', 'blue'), 'invalid');
  assert.equal(bare('expansion-only', 'y'), 'valid');
  assert.equal(bare('expansion-only', 'blue'), 'invalid');
  assert.equal(term.validateCode(`${VS('expansion-only')}|1.0.0`, { system: CS, code: 'red' }).status, 'valid');
  // An unknown version falls back to the loaded one (as the HL7 validator does without a server).
  assert.equal(term.validateCode(`${VS('all')}|4.0.1`, { system: CS, code: 'red' }).status, 'valid');
});

test('grammar systems: MIME types, BCP-47 languages, ISO 4217 currencies', () => {
  assert.equal(status('mime', 'application/fhir+json', 'urn:ietf:bcp:13'), 'valid');
  assert.equal(status('mime', 'text/plain; charset=UTF-8', 'urn:ietf:bcp:13'), 'valid');
  assert.equal(status('mime', 'fhir+json', 'urn:ietf:bcp:13'), 'invalid');
  assert.equal(status('lang', 'fr-FR', 'urn:ietf:bcp:47'), 'valid');
  assert.equal(status('lang', 'fr_FR', 'urn:ietf:bcp:47'), 'invalid');
  assert.equal(status('currency', 'EUR', 'urn:iso:std:iso:4217'), 'valid');
  assert.equal(status('currency', 'eur', 'urn:iso:std:iso:4217'), 'invalid');
  assert.equal(term.lookup('urn:ietf:bcp:47', 'en').status, 'valid');
  assert.equal(term.lookup('constructor', 'x').status, 'unknown', 'no prototype lookups');
});

test('CodeableConcept: valid when one coding is; unknown beats invalid; junk codings are skipped', () => {
  const cc = (...coding: unknown[]) => term.validateCodeableConcept(VS('listed'), { coding: coding as never });
  assert.equal(cc({ system: 'http://other', code: 'x' }, { system: CS, code: 'red' }).status, 'valid');
  assert.equal(cc({ system: CS, code: 'green' }).status, 'invalid');
  assert.equal(cc(null, 'red', { system: CS, code: 'blue' }).status, 'valid');
  assert.equal(cc().status, 'invalid');
  const mixed = term.validateCodeableConcept(VS('fragment'), { coding: [{ system: CS, code: 'red' }, { system: CS_FRAGMENT, code: 'other' }] });
  assert.equal(mixed.status, 'unknown');
});

test('lookup returns displays', () => {
  assert.deepEqual(term.lookup(CS, 'red'), { status: 'valid', display: 'Red' });
  assert.equal(term.lookup(CS, 'purple').status, 'invalid');
  assert.equal(term.lookup(CS_FRAGMENT, 'other').status, 'unknown');
  assert.equal(term.lookup('http://not-loaded', 'x').status, 'unknown');
});

test('results are cached but stay correct for each (value set, system, code)', () => {
  for (let i = 0; i < 3; i++) {
    assert.equal(status('listed', 'red'), 'valid');
    assert.equal(status('listed', 'red', 'http://other'), 'invalid');
    assert.equal(status('warm', 'red'), 'valid');
  }
});

test('D-14: an include of several value sets whose intersection is empty is read as their union, with a notice', () => {
  for (const code of ['red', 'orange', 'blue', 'green']) {
    const r = term.validateCode(VS('disjoint'), { system: CS, code });
    assert.equal(r.status, 'valid', code);
    assert.equal(r.notices?.length, 1, code);
    const n = r.notices![0];
    assert.equal(n.rule, 'fhir-valueset-include-intersection');
    assert.equal(n.valueSet, VS('disjoint'), 'the value set whose include is defective');
    assert.deepEqual(n.members, [VS('warm-listed'), VS('cool-listed')]);
    assert.equal(n.reason, 'empty');
    assert.equal(n.key, `fhir-valueset-include-intersection:${VS('disjoint')}`, 'one key per value set');
    assert.match(String(n.args.reason), /intersection is empty/);
  }
  // A code in none of them stays invalid, without a notice.
  const out = term.validateCode(VS('disjoint'), { system: CS, code: 'amber' });
  assert.equal(out.status, 'invalid');
  assert.equal(out.notices, undefined);
  // Bare codes too.
  assert.equal(bare('disjoint', 'green'), 'valid');
  // Through an enclosing value set, the notice names the defective one.
  const outer = term.validateCode(VS('outer'), { system: CS, code: 'blue' });
  assert.equal(outer.status, 'valid');
  assert.equal(outer.notices?.[0].valueSet, VS('disjoint'));
  // An exclude still applies to the union.
  assert.equal(status('disjoint-but-excluded', 'green'), 'invalid');
  assert.equal(term.validateCode(VS('disjoint-but-excluded'), { system: CS, code: 'green' }).notices, undefined);
  assert.equal(status('disjoint-but-excluded', 'blue'), 'valid');
});

test('D-14: a non-empty intersection keeps its FHIR meaning, without a notice', () => {
  // listed = {red, blue}; warm = warm and below: intersection {red}.
  const red = term.validateCode(VS('overlapping'), { system: CS, code: 'red' });
  assert.equal(red.status, 'valid');
  assert.equal(red.notices, undefined);
  assert.equal(status('overlapping', 'blue'), 'invalid', 'listed but not warm');
  assert.equal(status('overlapping', 'amber'), 'invalid', 'warm but not listed');
});

test('D-14: an intersection that cannot be computed (a member missing) is read as a union; all missing stays unknown', () => {
  const red = term.validateCode(VS('one-missing'), { system: CS, code: 'red' });
  assert.equal(red.status, 'valid', 'in the loaded member');
  assert.equal(red.notices?.[0].reason, 'not-computable');
  assert.deepEqual(red.notices?.[0].missing, [VS('not-loaded')]);
  const blue = term.validateCode(VS('one-missing'), { system: CS, code: 'blue' });
  assert.equal(blue.status, 'unknown', 'maybe in the missing member: not checked, never invalid');
  assert.deepEqual(blue.missing, [VS('not-loaded')]);
  assert.equal(blue.notices, undefined);
  const none = term.validateCode(VS('all-missing'), { system: CS, code: 'red' });
  assert.equal(none.status, 'unknown');
  assert.deepEqual(none.missing, [VS('not-loaded'), VS('not-loaded-either')]);
  assert.equal(none.notices, undefined);
});
