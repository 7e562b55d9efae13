// Fuzz test: the TDDUI validator must answer every input with an OperationOutcome and never
// throw, whatever it is fed. Thousands of documents, all derived from one seeded PRNG (so a
// failure is reproducible from its case number): random JSON values, random "resources", and
// mutations of the official examples (wrong JSON types at random paths, deleted / duplicated
// keys and array items, nulls, huge strings, deep nesting, arrays where objects are expected,
// random resourceTypes, prototype-ish keys such as "__proto__").
//
// Besides "no exception", each case checks that the engine did not swallow an internal failure
// (no fhir-internal-error / tddui-rule-error), that the OperationOutcome is well formed, and that
// the input was not modified. A sample is validated twice to check the outcome is stable.
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/tddui/fuzz.test.js
// Reproduce one case: FUZZ_CASE=1234 node --test dist/src/tddui/fuzz.test.js
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { OperationOutcome } from '../fhir/outcome/issue.js';
import { EXAMPLES_DIR, SHARED_FHIR } from '../testing/paths.js';
import { prng } from '../testing/random.js';
import { TdduiValidator } from './validator.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;


class Gen {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const RESOURCE_TYPES = [
  'Patient', 'Bundle', 'Encounter', 'Organization', 'Practitioner', 'PractitionerRole', 'Task', 'Goal',
  'CarePlan', 'Consent', 'QuestionnaireResponse', 'ServiceRequest', 'RelatedPerson', 'DocumentReference',
  'Location', 'Observation', 'OperationOutcome', 'Parameters', 'Binary', 'StructureDefinition',
  // not resource types: abstract, datatypes, wrong case, junk
  'Resource', 'DomainResource', 'HumanName', 'Extension', 'patient', 'PATIENT', '', ' Patient', 'Bundle\u0000', '__proto__',
  'constructor', 'toString', 'Patient/123',
];
const KEYS = [
  'id', 'meta', 'extension', 'modifierExtension', 'identifier', 'value', 'valueString', 'valueBoolean', 'valueCoding',
  'valueCodeableConcept', 'valueReference', 'valueX', 'code', 'system', 'coding', 'reference', 'url', 'entry', 'resource',
  'fullUrl', 'request', 'method', 'period', 'start', 'end', 'status', 'subject', 'partOf', 'contained', 'text',
  'name', 'given', '_given', 'birthDate', '_birthDate', 'item', 'answer', 'linkId', 'profile', 'type', 'total',
  '__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'fhir_comments', '', ' ', 'résumé', '_',
];
const STRINGS = [
  '', ' ', 'x', 'urn:uuid:', 'urn:uuid:0b0c2c4e-1111-4222-8333-444455556666', 'Patient/1', '#', '#p1', 'http://', '2023-02-30',
  '2023-04-14T10:00:00+15:00', '2023', '1947-13-01', '147720425367411', '2A7720425367411', '3480787529/1', '480787529',
  'true', 'null', '0', '-0', '1e400', 'NaN', '\u0000', '\uD800', 'é\u0301', 'a\nb', '\t', '🙂', '<div>x</div>',
  "')).where(", '$this', '%resource', 'POST', 'Patient', 'final',
];

/** A random JSON value, at most `depth` levels deep. */
function randomValue(g: Gen, depth: number): unknown {
  const r = g.int(depth > 0 ? 12 : 8);
  switch (r) {
    case 0: return null;
    case 1: return g.chance(0.5);
    case 2: return g.int(2000) - 1000;
    case 3: return g.pick([0.5, -1e-300, 1e308, Number.MAX_SAFE_INTEGER + 2, -0, 3.14159, 1e21]);
    case 4: case 5: return g.pick(STRINGS);
    case 6: return 'x'.repeat(g.int(300));
    case 7: return String.fromCharCode(...Array.from({ length: g.int(20) }, () => g.int(0xffff)));
    case 8: case 9: {
      const o: Record<string, unknown> = {};
      const n = g.int(5);
      for (let i = 0; i < n; i++) defineKey(o, g.pick(KEYS), randomValue(g, depth - 1));
      if (g.chance(0.2)) o.resourceType = g.pick(RESOURCE_TYPES);
      return o;
    }
    default: return Array.from({ length: g.int(4) }, () => randomValue(g, depth - 1));
  }
}

/** Sets an own property even for "__proto__" (as JSON.parse does), never touching a prototype. */
function defineKey(o: object, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Every (container, key) location of a document, in document order (iterative: documents can be very deep). */
function locations(doc: unknown): { parent: Record<string, unknown> | unknown[]; key: string | number }[] {
  const out: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const stack: unknown[] = [doc];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    const keys: (string | number)[] = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) stack.push((v as Doc)[keys[i]]);
    for (const k of keys) out.push({ parent: v as Record<string, unknown>, key: k });
  }
  return out;
}

/** A value of another JSON kind than `v` (string for a number, object for a string...). */
function otherKind(g: Gen, v: unknown): unknown {
  const kinds: unknown[] = [null, true, 42, 'text', {}, [], [v], { value: v }, { resourceType: g.pick(RESOURCE_TYPES) }];
  const kind = (x: unknown) => (x === null ? 'null' : Array.isArray(x) ? 'array' : typeof x);
  const candidates = kinds.filter((k) => kind(k) !== kind(v));
  return safeClone(g.pick(candidates));
}

/** A deep copy, or the value itself when it is too deep to copy (the deep-nesting mutation). */
function safeClone<T>(v: T): T {
  try {
    return structuredClone(v);
  } catch {
    return v;
  }
}

function nest(depth: number, make: (inner: unknown) => unknown): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = make(v);
  return v;
}

const MUTATORS: { name: string; apply(g: Gen, doc: Doc): Doc }[] = [
  { name: 'wrong JSON type', apply: (g, d) => at(g, d, (p, k) => (p as Doc)[k] = otherKind(g, (p as Doc)[k])) },
  { name: 'delete key', apply: (g, d) => at(g, d, (p, k) => (Array.isArray(p) ? p.splice(k as number, 1) : delete (p as Doc)[k])) },
  { name: 'null', apply: (g, d) => at(g, d, (p, k) => ((p as Doc)[k] = null)) },
  { name: 'random value', apply: (g, d) => at(g, d, (p, k) => ((p as Doc)[k] = randomValue(g, 3))) },
  {
    name: 'duplicate key',
    apply: (g, d) =>
      at(g, d, (p, k) => {
        const v = safeClone((p as Doc)[k]);
        if (Array.isArray(p)) p.splice(k as number, 0, v);
        else defineKey(p, g.pick([`${String(k)}2`, `_${String(k)}`, `${String(k)}String`, `${String(k)}Boolean`, g.pick(KEYS)]), v);
      }),
  },
  {
    name: 'duplicate key in the JSON text (last wins)',
    apply: (g, d) => {
      let text: string;
      try {
        text = JSON.stringify(d);
      } catch {
        return d; // deeper than JSON.stringify goes: such a document cannot come from JSON text anyway
      }
      const m = [...text.matchAll(/"([A-Za-z_]+)":/g)];
      if (m.length === 0) return d;
      const hit = g.pick(m);
      const i = hit.index! + hit[0].length;
      return JSON.parse(`${text.slice(0, i)}${JSON.stringify(randomValue(g, 2))},"${hit[1]}":${text.slice(i)}`);
    },
  },
  {
    name: 'huge string',
    apply: (g, d) => at(g, d, (p, k) => ((p as Doc)[k] = g.pick(['9', 'a', ' ', 'é', '-'] as const).repeat(50_000 + g.int(150_000)))),
  },
  {
    name: 'deep nesting',
    apply: (g, d) =>
      at(g, d, (p, k) => {
        // Up to ~4,500 JSON levels: about what JSON.parse / JSON.stringify accept on Node's default stack.
        const depth = g.pick([50, 500, 1500]);
        (p as Doc)[k] = g.chance(0.5)
          ? nest(depth, (inner) => ({ extension: [{ url: 'http://x/e', valueString: 'v', extension: [inner] }] }))
          : nest(depth, (inner) => (g.chance(0.5) ? [inner] : { item: inner, linkId: 'l' }));
      }),
  },
  { name: 'array instead of object', apply: (g, d) => at(g, d, (p, k) => ((p as Doc)[k] = [(p as Doc)[k]])) },
  {
    name: 'object instead of array',
    apply: (g, d) =>
      at(g, d, (p, k) => {
        const v = (p as Doc)[k];
        (p as Doc)[k] = Array.isArray(v) ? (v[0] ?? {}) : { 0: v };
      }),
  },
  { name: 'random resourceType', apply: (g, d) => setResourceType(g, d) },
  { name: 'empty containers', apply: (g, d) => at(g, d, (p, k) => ((p as Doc)[k] = g.pick([{}, [], '', [null], [{}], { id: 'x' }]))) },
  {
    name: 'swap two values',
    apply: (g, d) => {
      const locs = locations(d);
      if (locs.length < 2) return d;
      const a = g.pick(locs);
      const b = g.pick(locs);
      const va = (a.parent as Doc)[a.key];
      (a.parent as Doc)[a.key] = safeClone((b.parent as Doc)[b.key]);
      if (b.parent !== va && !contains(va, b.parent)) (b.parent as Doc)[b.key] = va;
      return d;
    },
  },
  {
    name: 'alias the same object twice (shared subtree)',
    apply: (g, d) => {
      const objs = locations(d).filter((l) => typeof (l.parent as Doc)[l.key] === 'object' && (l.parent as Doc)[l.key] !== null);
      if (objs.length < 2) return d;
      const a = g.pick(objs);
      const b = g.pick(objs);
      const v = (a.parent as Doc)[a.key];
      if (!contains(v, b.parent)) (b.parent as Doc)[b.key] = v; // the same object reachable twice, no cycle
      return d;
    },
  },
];

function contains(root: unknown, needle: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === needle) return true;
    if (v !== null && typeof v === 'object') for (const x of Object.values(v)) stack.push(x);
  }
  return false;
}

/** Applies `f` at a random location of the document (the root itself when it has none). */
function at(g: Gen, doc: Doc, f: (parent: Record<string, unknown> | unknown[], key: string | number) => void): Doc {
  const locs = locations(doc);
  if (locs.length === 0) return doc;
  const l = g.pick(locs);
  f(l.parent, l.key);
  return doc;
}

function setResourceType(g: Gen, doc: Doc): Doc {
  const objs = locations(doc)
    .filter((l) => l.key === 'resourceType')
    .map((l) => l.parent as Record<string, unknown>);
  const target = objs.length > 0 ? g.pick(objs) : doc;
  if (target && typeof target === 'object') target.resourceType = g.chance(0.8) ? g.pick(RESOURCE_TYPES) : randomValue(g, 1);
  return doc;
}

const files = readdirSync(EXAMPLES_DIR)
  .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
  .sort();
const examples = files.map((f) => JSON.parse(readFileSync(join(EXAMPLES_DIR, f), 'utf8')) as Doc);
// Bundles are where most of the machinery runs (slices, references, rules): weigh them more.
const bundles = examples.filter((e) => e.resourceType === 'Bundle');

const SEED = 0x7dd01;
const CASES = 3200;

/** Case number -> document; each case has its own PRNG so a case can be replayed alone. */
function makeCase(n: number): { doc: unknown; what: string } {
  const g = new Gen(SEED * 1_000_003 + n);
  const r = g.int(20);
  if (r === 0) return { doc: randomValue(g, 4), what: 'random JSON value' };
  if (r === 1) {
    const o = randomValue(g, 4);
    const doc = o !== null && typeof o === 'object' && !Array.isArray(o) ? o : {};
    (doc as Doc).resourceType = g.pick(RESOURCE_TYPES);
    return { doc, what: 'random resource' };
  }
  const base = safeClone(r < 8 ? g.pick(bundles) : g.pick(examples)) as Doc;
  let doc = base;
  const names: string[] = [];
  // Mostly one mutation (the document stays close to valid, so deep code paths run), sometimes several.
  const count = g.chance(0.7) ? 1 : 2 + g.int(5);
  for (let i = 0; i < count; i++) {
    const m = g.pick(MUTATORS);
    names.push(m.name);
    doc = m.apply(g, doc);
  }
  return { doc, what: `${String(base.resourceType)}/${String(base.id)}: ${names.join(' + ')}` };
}

const SEVERITIES = new Set(['fatal', 'error', 'warning', 'information']);
const CRASH_RULES = new Set(['fhir-internal-error', 'tddui-rule-error']);
const NOW = new Date('2023-05-01T00:00:00Z');

function checkOutcome(oo: OperationOutcome, label: string): void {
  assert.equal(oo.resourceType, 'OperationOutcome', label);
  assert.ok(Array.isArray(oo.issue) && oo.issue.length > 0, `${label}: an OperationOutcome needs at least one issue`);
  for (const i of oo.issue) {
    assert.ok(SEVERITIES.has(i.severity), `${label}: severity ${i.severity}`);
    assert.equal(typeof i.code, 'string', label);
    assert.ok(typeof i.diagnostics === 'string' && i.diagnostics.length > 0, `${label}: diagnostics`);
    const rule = i.details?.coding?.[0]?.code;
    if (rule) assert.ok(!CRASH_RULES.has(rule), `${label}: the validator failed internally: ${i.diagnostics}`);
    for (const e of i.expression ?? []) assert.ok(typeof e === 'string' && e.length > 0, `${label}: empty expression`);
  }
}

const validator = await TdduiValidator.create({ packages: [SHARED_FHIR], useCache: false });

test('fuzz: the generator is deterministic (same seed, same documents)', () => {
  for (const n of [0, 1, 17, 999, CASES - 1]) {
    assert.equal(JSON.stringify(makeCase(n).doc), JSON.stringify(makeCase(n).doc));
  }
  assert.notEqual(JSON.stringify(makeCase(3).doc), JSON.stringify(makeCase(4).doc));
});

test(`fuzz: ${CASES} random and malformed documents each get an OperationOutcome, never an exception`, () => {
  const only = process.env.FUZZ_CASE !== undefined ? Number(process.env.FUZZ_CASE) : undefined;
  let invalid = 0;
  let mutated = 0;
  const failures: string[] = [];
  for (let n = 0; n < CASES; n++) {
    if (only !== undefined && n !== only) continue;
    const { doc, what } = makeCase(n);
    const label = `case ${n} (${what})`;
    if (what.includes(':')) mutated++;
    let before: string | undefined;
    try {
      before = JSON.stringify(doc);
    } catch {
      before = undefined; // too deep to serialise: skip the "unmodified" check
    }
    try {
      const oo = validator.validateToOutcome(doc, { now: NOW });
      checkOutcome(oo, label);
      if (oo.issue.some((i) => i.severity === 'error' || i.severity === 'fatal')) invalid++;
      if (before !== undefined) assert.equal(JSON.stringify(doc), before, `${label}: the validator modified its input`);
      // A sample is validated again: the outcome must be identical (no state leaks between runs).
      if (n % 40 === 0) assert.deepEqual(validator.validateToOutcome(doc, { now: NOW }), oo, `${label}: unstable outcome`);
    } catch (e) {
      failures.push(`${label}: ${(e as Error).message.split('\n').slice(0, 4).join(' | ')}`);
      if (failures.length >= 20) break;
    }
  }
  assert.deepEqual(failures, []);
  if (only === undefined) {
    // The corpus really is malformed: almost every document must be rejected, and most of them
    // must come from the official examples (not just junk that fails at the first property).
    assert.ok(mutated >= CASES * 0.85, `${mutated} mutated examples`);
    assert.ok(invalid >= CASES * 0.7, `only ${invalid} of ${CASES} documents were found invalid`);
  }
});

test('fuzz: non-JSON-object inputs and exotic values', () => {
  const odd: unknown[] = [
    undefined, null, 0, NaN, Infinity, '', 'Patient', [], [{ resourceType: 'Patient' }], true,
    { resourceType: 'Patient', id: Symbol('x') as unknown }, { resourceType: 'Patient', birthDate: 10n as unknown },
    { resourceType: 'Patient', name: [{ given: [undefined] }] }, { resourceType: 'Patient', active: () => true },
    Object.create(null), Object.assign(Object.create(null), { resourceType: 'Patient', gender: 'male' }),
    { resourceType: 'Bundle', type: 'transaction', entry: new Array(3) },
    { resourceType: 'Bundle', type: 'transaction', entry: [{ fullUrl: 'urn:uuid:0b0c2c4e-1111-4222-8333-444455556666', resource: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient' } }] }, request: { method: 'POST', url: 'Bundle' } }] },
  ];
  for (const [i, doc] of odd.entries()) checkOutcome(validator.validateToOutcome(doc, { now: NOW }), `odd input ${i}`);
});

test('fuzz: a reference cycle between Bundle entries terminates', () => {
  const doc = safeClone(bundles.find((b) => b.id === 'tddui-bundle-example') ?? bundles[0]);
  // Every reference points at the first entry, whose own references point back at the others.
  const first = doc.entry[0].fullUrl;
  for (const l of locations(doc)) if (l.key === 'reference') (l.parent as Doc).reference = first;
  checkOutcome(validator.validateToOutcome(doc, { now: NOW }), 'reference cycle');
});

test('fuzz: nesting beyond the limit is one fhir-nesting-too-deep error at the cut, not a crash or a pass', () => {
  const qr = structuredClone(examples.find((e) => e.resourceType === 'QuestionnaireResponse'));
  // item.item.item... 200 levels: legal FHIR shape, far deeper than the validator walks.
  let deep: Doc = { linkId: 'leaf', text: 'x' };
  for (let i = 0; i < 200; i++) deep = { linkId: `l${i}`, item: [deep] };
  qr.item = [deep];
  const report = validator.validate(qr, { now: NOW });
  const cut = report.issues.filter((i) => i.rule === 'fhir-nesting-too-deep');
  assert.equal(cut.length, 1, JSON.stringify(cut));
  assert.equal(cut[0].severity, 'error');
  assert.match(cut[0].expression, /^QuestionnaireResponse\.item\[0\](\.item\[0\]){100,}$/);
  assert.equal(report.valid, false);
  // 100 levels is still walked in full.
  let ok: Doc = { linkId: 'leaf', text: 'x' };
  for (let i = 0; i < 50; i++) ok = { linkId: `l${i}`, item: [ok] };
  qr.item = [ok];
  assert.ok(!validator.validate(qr, { now: NOW }).issues.some((i) => i.rule === 'fhir-nesting-too-deep'));
});
