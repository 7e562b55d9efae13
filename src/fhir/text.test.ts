import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { findUnstorableText, jsonMayHoldUnstorable, type UnstorableText } from './text.js';
import { EXAMPLES_DIR } from '../testing/paths.js';

// An independent reference for findUnstorableText: recursive (the documents here are shallow),
// every hit in document order then the first `max`, the characters tested code unit by code unit
// (no regular expression). The expression's spelling of a property name is FHIRPath's.
function unstorableKind(s: string): 'nul' | 'surrogate' | undefined {
  let surrogate = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return 'nul';
    const high = c >= 0xd800 && c <= 0xdbff;
    const low = c >= 0xdc00 && c <= 0xdfff;
    const next = s.charCodeAt(i + 1);
    if (high && next >= 0xdc00 && next <= 0xdfff) i++; // a pair: one character
    else if (high || low) surrogate = true;
  }
  return surrogate ? 'surrogate' : undefined;
}
const step = (name: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `\`${name.replace(/[`\\\u0000-\u001f\ud800-\udfff]/g, '?')}\``);
function reference(value: unknown, root: string, max = 20): UnstorableText[] {
  const out: UnstorableText[] = [];
  const visit = (v: unknown, path: string): void => {
    if (typeof v === 'string') {
      const what = unstorableKind(v);
      if (what) out.push({ expression: path, what, inName: false });
    } else if (Array.isArray(v)) v.forEach((x, i) => visit(x, `${path}[${i}]`));
    else if (typeof v === 'object' && v !== null)
      for (const [k, x] of Object.entries(v)) {
        const what = unstorableKind(k);
        if (what) out.push({ expression: path, what, inName: true });
        else visit(x, `${path}.${step(k)}`);
      }
  };
  visit(value, root);
  return out.slice(0, max);
}

/** A small deterministic generator (tests must not depend on Math.random's sequence). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const TEXTS = ['plain', 'a\u0000b', '\ud800', 'ok \ud83d\ude00 pair', 'x\udc00', '', '0', 'given', '_given', 'a b', '`tick`', '\u0000'];
function randomValue(r: () => number, depth: number): unknown {
  const pick = r();
  if (depth > 5 || pick < 0.35) return r() < 0.7 ? TEXTS[Math.floor(r() * TEXTS.length)] : r() < 0.5 ? Math.floor(r() * 100) : r() < 0.5;
  if (pick < 0.6) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  const o: Record<string, unknown> = {};
  const n = Math.floor(r() * 5);
  for (let i = 0; i < n; i++) Object.defineProperty(o, TEXTS[Math.floor(r() * TEXTS.length)]!, { value: randomValue(r, depth + 1), enumerable: true, writable: true, configurable: true });
  return o;
}

test('findUnstorableText: the same hits, expressions and order (document order) as an independent recursive reference, on 3,000 random documents (values, names, arrays, nesting; max 20 and 3)', () => {
  const r = rng(19);
  let hits = 0;
  for (let i = 0; i < 3000; i++) {
    const doc = randomValue(r, 0);
    const expected = reference(doc, 'Bundle');
    hits += expected.length;
    assert.deepEqual(findUnstorableText(doc, 'Bundle'), expected, JSON.stringify(doc));
    assert.deepEqual(findUnstorableText(doc, 'Bundle', 3), reference(doc, 'Bundle', 3));
  }
  // (The documents do hold such text: the comparison is not between two empty lists.)
  assert.ok(hits > 1000, `${hits} hits`);
});

test('findUnstorableText: an official Bundle with a NUL, a lone surrogate and a bad property name placed deep in it', () => {
  const b = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-pp-pa-bundle-example.json'), 'utf8')) as { entry: { resource: Record<string, unknown> }[] };
  assert.deepEqual(findUnstorableText(b, 'Bundle'), []);
  const patient = b.entry.find((e) => e.resource.resourceType === 'Patient')!.resource as { name: { given: string[] }[] };
  patient.name[0]!.given.push('Jean\u0000');
  (b.entry.at(-1)!.resource as Record<string, unknown>)['note\ud800'] = 'x';
  (b.entry[3]!.resource as Record<string, unknown>).extra = [{ deep: [[{ v: 'a\udfff' }]] }];
  const found = findUnstorableText(b, 'Bundle');
  assert.equal(found.length, 3);
  assert.deepEqual(found, reference(b, 'Bundle'));
  assert.ok(found.some((f) => f.inName && f.expression === `Bundle.entry[${b.entry.length - 1}].resource`));
  assert.ok(found.some((f) => f.expression === 'Bundle.entry[3].resource.extra[0].deep[0][0].v' && f.what === 'surrogate'));
  // A string alone, and a document deeper than any stack.
  assert.deepEqual(findUnstorableText('\u0000', 'Patient.id'), [{ expression: 'Patient.id', what: 'nul', inName: false }]);
  let deep: unknown = '\ud800';
  for (let i = 0; i < 100_000; i++) deep = [deep];
  const [hit] = findUnstorableText(deep, 'x');
  assert.equal(hit!.expression, 'x' + '[0]'.repeat(100_000));
});

test('jsonMayHoldUnstorable: false only when no escape can make a NUL or a lone surrogate — and then findUnstorableText finds nothing', () => {
  const may = (s: string) => jsonMayHoldUnstorable(Buffer.from(s));
  assert.equal(may('{"a":"plain é ü 😀"}'), false);
  assert.equal(may('{"a":"\\u00e9 \\n \\"q\\" \\\\"}'), false);
  assert.equal(may('{"a":"x\\u0000"}'), true);
  assert.equal(may('{"a\\u0000":1}'), true);
  assert.equal(may('{"a":"\\ud800"}'), true);
  assert.equal(may('{"a":"\\uDFFF"}'), true);
  assert.equal(may('{"a":"\\uDbFf"}'), true);
  assert.equal(may('{"a":"\\ud83d\\ude00"}'), true);
  assert.equal(may('{"a":"\\uc000 \\ue000 \\u0001"}'), false);
  // An escaped backslash then "u0000": not a NUL, but the tree is scanned (which decides).
  assert.equal(may('{"a":"\\\\u0000"}'), true);
  assert.equal(may('"\\u12'), true);
  // Against the scan itself: every string of a set of texts, parsed.
  const r = rng(7);
  const units = ['a', 'é', '\\u0000', '\\ud800', '\\udc00', '\\ud83d\\ude00', '\\u00e9', '\\\\', '\\"', '\\uD9AB', '\\u0041', '\\n', '😀'];
  let skipped = 0;
  for (let i = 0; i < 5000; i++) {
    const s = Array.from({ length: 1 + Math.floor(r() * 4) }, () => units[Math.floor(r() * units.length)]).join('');
    const text = r() < 0.5 ? `{"k":["${s}"]}` : `{"${s}":true}`;
    const value: unknown = JSON.parse(text);
    if (!jsonMayHoldUnstorable(Buffer.from(text))) {
      skipped++;
      assert.deepEqual(findUnstorableText(value, 'x'), [], text);
    }
  }
  assert.ok(skipped > 500 && skipped < 4500, `${skipped} texts without such escapes`);
});
