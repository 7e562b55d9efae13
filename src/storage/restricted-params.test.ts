// A reference parameter that the definitions prove to be another one restricted to one target
// type (`Goal.patient` = `Goal.subject.where(resolve() is Patient)`, `Goal.subject` = `Goal.subject`)
// has no rows of its own and is served from the other's rows whose target type is that type
// (D-354). Every way of using it must answer what its own rows answered: search (by type/id,
// bare id, `:missing`, `:identifier`), `_include` / `_revinclude`, chains, `_has`, `_sort` —
// each case chosen so that forgetting the restriction changes the answer (a Goal whose subject
// is a Group) — and a database indexed before loses the redundant rows by the re-index its
// changed fingerprint asks for.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SearchParameterSet } from '../fhir/search/parameters.js';
import { indexIsCurrent } from './reindex.js';
import { forEachDriver } from './testing.js';
import type { FhirResource, SearchParam } from './types.js';

it('derives the restricted parameters from the definitions loaded', () => {
  const set = new SearchParameterSet([
    { resource: { resourceType: 'SearchParameter', url: 'http://example.org/sp/goal-group', code: 'group', base: ['Goal'], type: 'reference', expression: 'Goal.subject.where(resolve() is Group)' } as never, source: 'test' },
    { resource: { resourceType: 'SearchParameter', url: 'http://example.org/sp/goal-addresses-patient', code: 'addresses-patient', base: ['Goal'], type: 'reference', expression: 'Goal.addresses.where(resolve() is Patient)' } as never, source: 'test' },
  ]);
  const goal = (name: string) => set.get('Goal', name)!;
  assert.equal(goal('patient').key, 'subject');
  assert.equal(goal('patient').restrictTo, 'Patient');
  assert.equal(goal('group').key, 'subject');
  assert.equal(goal('group').restrictTo, 'Group');
  // No parameter of Goal indexes `Goal.addresses` unfiltered: this one keeps its own rows.
  assert.equal(goal('addresses-patient').key, 'addresses-patient');
  assert.equal(goal('addresses-patient').restrictTo, undefined);
  assert.equal(goal('subject').restrictTo, undefined);
  assert.equal(goal('subject').key, 'subject');
  // No parameter of Patient is another one restricted (`general-practitioner` has no filter).
  assert.ok(set.of('Patient').every((d) => !d.restrictTo));
  // Extraction writes the rows of the parameter served from, only.
  const rows = set.extract({ resourceType: 'Goal', id: 'g', subject: { reference: 'Patient/p1' } });
  assert.deepEqual(rows.references.map((r) => `${r.param} ${r.targetType}/${r.targetId}`), ['subject Patient/p1']);
  // Without the parameter served from, the restricted one keeps its rows.
  const alone = new SearchParameterSet([
    { resource: { resourceType: 'SearchParameter', url: 'http://example.org/sp/x', code: 'subject', base: ['Goal'], type: 'reference', expression: 'Goal.subject.where(resolve() is Group)' } as never, source: 'test' },
  ]);
  assert.equal(alone.get('Goal', 'patient')!.restrictTo, undefined, 'subject is itself restricted: patient is not served from it');
  assert.deepEqual(alone.extract({ resourceType: 'Goal', id: 'g', subject: { reference: 'Patient/p1' } }).references.map((r) => r.param), ['patient']);
});

await forEachDriver('a parameter served from another restricted to one target type', (getRepo) => {
  const ids: Record<string, string> = {};
  const q = async (resourceType: string, params: SearchParam[], extra: { include?: { sourceType: string; param: string }[]; revinclude?: { sourceType: string; param: string }[]; sort?: string[] } = {}) => {
    const r = await getRepo().search({ resourceType, params, count: 50, offset: 0, ...extra });
    const name = (t: string, id: string) => Object.entries(ids).find(([, v]) => v === id)?.[0] ?? `${t}/${id}`;
    return { matches: r.matches.map((m) => name(m.resourceType, m.id)), included: r.included.map((m) => name(m.resourceType, m.id)).sort() };
  };

  it('stores Goals about Patients, a Group and a logical reference', async () => {
    const repo = getRepo();
    const create = async (name: string, r: FhirResource) => (ids[name] = (await repo.create(r)).id);
    await create('P1', { resourceType: 'Patient', identifier: [{ system: 'urn:example:nir', value: '111' }] });
    await create('P2', { resourceType: 'Patient', identifier: [{ system: 'urn:example:nir', value: '222' }] });
    await create('G1', { resourceType: 'Group', type: 'person', actual: true });
    const goal = (subject: unknown, status: string) => ({ resourceType: 'Goal', lifecycleStatus: status, description: { text: 'x' }, subject }) as FhirResource;
    await create('A', goal({ reference: `Patient/${ids.P1}` }, 'active'));
    await create('B', goal({ reference: `Group/${ids.G1}` }, 'active'));
    await create('C', goal({ reference: `Patient/${ids.P2}` }, 'proposed'));
    await create('D', goal({ identifier: { system: 'urn:example:nir', value: '111' } }, 'proposed'));
  });

  it('writes the rows of subject only', async () => {
    const rows = await getRepo().db.query<{ param: string; n: number }>(`SELECT param, count(*)::int AS n FROM search_reference WHERE resource_type = 'Goal' AND param IN ('subject', 'patient') GROUP BY param ORDER BY param`);
    assert.deepEqual(rows.rows.map((r) => `${r.param} ${r.n}`), ['subject 3']);
  });

  it('search: reference, bare id, :missing, :identifier', async () => {
    assert.deepEqual((await q('Goal', [{ name: 'patient', values: [`Patient/${ids.P1}`] }])).matches, ['A']);
    assert.deepEqual((await q('Goal', [{ name: 'patient', values: [ids.P2!] }])).matches, ['C']);
    assert.deepEqual((await q('Goal', [{ name: 'patient', values: [ids.G1!] }])).matches, []);
    assert.deepEqual((await q('Goal', [{ name: 'subject', values: [ids.G1!] }])).matches, ['B']);
    assert.deepEqual((await q('Goal', [{ name: 'patient', modifier: 'missing', values: ['true'] }])).matches, ['B']);
    assert.deepEqual((await q('Goal', [{ name: 'patient', modifier: 'missing', values: ['false'] }])).matches.sort(), ['A', 'C', 'D']);
    assert.deepEqual((await q('Goal', [{ name: 'patient', modifier: 'identifier', values: ['urn:example:nir|111'] }])).matches, ['D']);
  });

  it('_include and _revinclude', async () => {
    assert.deepEqual((await q('Goal', [], { include: [{ sourceType: 'Goal', param: 'patient' }] })).included, ['P1', 'P2']);
    assert.deepEqual((await q('Goal', [], { include: [{ sourceType: 'Goal', param: 'subject' }] })).included, ['G1', 'P1', 'P2']);
    assert.deepEqual((await q('Goal', [], { include: [{ sourceType: 'Goal', param: '*' }] })).included, ['G1', 'P1', 'P2']);
    assert.deepEqual((await q('Group', [], { revinclude: [{ sourceType: 'Goal', param: 'patient' }] })).included, []);
    assert.deepEqual((await q('Group', [], { revinclude: [{ sourceType: 'Goal', param: 'subject' }] })).included, ['B']);
    assert.deepEqual((await q('Patient', [{ name: '_id', values: [ids.P1!] }], { revinclude: [{ sourceType: 'Goal', param: 'patient' }] })).included, ['A']);
  });

  it('chains, reverse chains and _sort', async () => {
    assert.deepEqual((await q('Goal', [{ name: 'patient.identifier', values: ['urn:example:nir|111'] }])).matches, ['A']);
    assert.deepEqual((await q('Patient', [{ name: '_has', modifier: 'Goal:patient:lifecycle-status', values: ['active'] }])).matches, ['P1']);
    assert.deepEqual((await q('Group', [{ name: '_has', modifier: 'Goal:patient:lifecycle-status', values: ['active'] }])).matches, []);
    assert.deepEqual((await q('Group', [{ name: '_has', modifier: 'Goal:subject:lifecycle-status', values: ['active'] }])).matches, ['G1']);
    // Ascending: the Goals' Patient references in order, then those without one (B's is a Group, D's is logical).
    const sorted = (await q('Goal', [], { sort: ['patient', '_id'] })).matches;
    const byPatient = [['A', ids.P1!], ['C', ids.P2!]].sort((x, y) => (x[1]! < y[1]! ? -1 : 1)).map((x) => x[0]);
    const rest = [['B', ids.B!], ['D', ids.D!]].sort((x, y) => (x[1]! < y[1]! ? -1 : 1)).map((x) => x[0]);
    assert.deepEqual(sorted, [...byPatient, ...rest]);
  });

  it('a database indexed before D-354 loses its redundant rows by the re-index', async () => {
    const repo = getRepo();
    // As an earlier server wrote them: the Patient references again under `patient`, and its fingerprint.
    await repo.db.query(`INSERT INTO search_reference (resource_type, id, param, target_type, target_id, url)
      SELECT resource_type, id, 'patient', target_type, target_id, url FROM search_reference WHERE resource_type = 'Goal' AND param = 'subject' AND target_type = 'Patient'`);
    await repo.db.query(`UPDATE index_state SET fingerprint = 'before-d354' WHERE name = 'search'`);
    assert.equal(await indexIsCurrent(repo.db, repo.searchParams), false);
    await repo.reindex();
    assert.equal(await indexIsCurrent(repo.db, repo.searchParams), true);
    const n = await repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM search_reference WHERE param = 'patient'`);
    assert.equal(n.rows[0]!.n, 0);
    assert.deepEqual((await q('Goal', [{ name: 'patient', modifier: 'missing', values: ['true'] }])).matches, ['B']);
  });
});
