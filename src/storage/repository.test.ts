// The Repository on both drivers: CRUD, versions, history, search semantics, includes, paging.
import { baseParameterSet } from '../fhir/search/parameters.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openDatabase, openRepository } from './index.js';
import { migrate } from './migrate.js';
import { MIGRATIONS } from './migrations/index.js';
import { createTestDatabase, forEachDriver, postgresUnavailable } from './testing.js';
import { lockAndLookupKeys } from './keys.js';
import { StorageError, type FhirResource, type Repository, type ResourceRecord, type SearchQuery } from './types.js';
import { lockCurrent, stamp, writeVersions } from './writer.js';

type Json = Record<string, any>;

async function rejects(p: Promise<unknown>, status: number, text?: string | RegExp): Promise<StorageError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof StorageError, String(err));
    assert.equal(err.status, status, err.message);
    if (text) assert.match(err.message, typeof text === 'string' ? new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : text);
    return err;
  }
  assert.fail(`expected StorageError ${status}`);
}

const q = (resourceType: string | undefined, params: Record<string, string | string[]>, extra: Partial<SearchQuery> = {}): SearchQuery => ({
  resourceType,
  params: Object.entries(params).map(([k, v]) => {
    const [name, modifier] = k.split(':');
    return { name, modifier, values: Array.isArray(v) ? v : [v] };
  }),
  count: 50,
  offset: 0,
  ...extra,
});

async function ids(repo: Repository, query: SearchQuery): Promise<string[]> {
  const r = await repo.search(query);
  return r.matches.map((m) => m.id).sort();
}

await forEachDriver('Repository', (getRepo, driver) => {
  const P: Record<string, string> = {};
  const E: Record<string, string> = {};
  let task = '';
  let qr = '';
  let plan = '';

  test('migrations are recorded and idempotent', async () => {
    const repo = getRepo();
    await repo.migrate();
    await migrate(repo.db);
    const r = await repo.db.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(r.rows.map((x) => x.version), MIGRATIONS.map((m) => m.version));
  });

  test('create, read, vread, update with ifMatch, 404/410/412', async () => {
    const repo = getRepo();
    const c = await repo.create({ resourceType: 'Patient', name: [{ family: 'Durand' }] }, { owner: '480787529' });
    assert.equal(c.versionId, 1);
    assert.match(c.lastUpdated, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.equal(c.resource.meta?.versionId, '1');
    assert.equal(c.resource.meta?.lastUpdated, c.lastUpdated);
    const r = await repo.read('Patient', c.id);
    assert.deepEqual(r, c);
    assert.deepEqual(Object.keys(r.resource).slice(0, 3), ['resourceType', 'id', 'meta']);
    const u = await repo.update({ ...(r.resource as Json), id: c.id, gender: 'male' } as unknown as FhirResource & { id: string }, { ifMatch: 1 });
    assert.equal(u.versionId, 2);
    assert.ok(u.lastUpdated > c.lastUpdated);
    assert.equal((await repo.read('Patient', c.id)).resource.gender, 'male');
    assert.equal((await repo.vread('Patient', c.id, 1)).resource.gender, undefined);
    assert.equal((await repo.vread('Patient', c.id, 2)).resource.gender, 'male');
    await rejects(repo.update({ resourceType: 'Patient', id: c.id }, { ifMatch: 1 }), 412, 'current version is 2');
    await rejects(repo.update({ resourceType: 'Patient', id: 'unknown-id' }), 404);
    await rejects(repo.read('Patient', 'unknown-id'), 404);
    await rejects(repo.vread('Patient', c.id, 3), 404);
    await rejects(repo.create({ resourceType: 'not a type' } as FhirResource), 400);
    // Deleted (no delete API yet: mark it in SQL): read answers 410 Gone.
    const d = await repo.create({ resourceType: 'Basic' });
    await repo.db.query(`UPDATE resource SET deleted = true WHERE resource_type = 'Basic' AND id = $1`, [d.id]);
    await rejects(repo.read('Basic', d.id), 410);
    const own = await repo.db.query<{ owner: string }>(`SELECT owner FROM resource WHERE id = $1`, [c.id]);
    assert.equal(own.rows[0].owner, '480787529', 'update keeps the owner');
  });

  test('create/update maintain business keys: a create with a known masterIdentifier is a new version of that object', async () => {
    const repo = getRepo();
    const doc = (mi: string, extra: Json = {}): FhirResource => ({ resourceType: 'DocumentReference', status: 'current', masterIdentifier: { value: mi }, content: [{ attachment: { url: 'x' } }], ...extra });
    const a = await repo.create(doc('3480787529/123-PPER-doc-1'));
    assert.equal(a.versionId, 1);
    const owner = await repo.db.query<{ owner: string }>('SELECT owner FROM resource WHERE id = $1', [a.id]);
    assert.equal(owner.rows[0].owner, '480787529', 'owner from the FINESS of the local identifier');
    const keys = await repo.db.query<Json>('SELECT owner, resource_type, system, value, id FROM business_key WHERE id = $1', [a.id]);
    assert.deepEqual(keys.rows, [{ owner: '480787529', resource_type: 'DocumentReference', system: 'urn:tddui:key:masterIdentifier', value: '3480787529/123-PPER-doc-1', id: a.id }]);
    // Resend: same object, next version; the previous one is kept.
    const b = await repo.create(doc('3480787529/123-PPER-doc-1', { description: 'v2' }));
    assert.equal(b.id, a.id);
    assert.equal(b.versionId, 2);
    assert.ok(b.lastUpdated > a.lastUpdated);
    assert.equal((await repo.read('DocumentReference', a.id)).resource.description, 'v2');
    assert.equal((await repo.vread('DocumentReference', a.id, 1)).resource.description, undefined);
    // Another owner (explicit, or named by the custodian) has its own object.
    const other = await repo.create(doc('3480787529/123-PPER-doc-1'), { owner: '750000001' });
    assert.notEqual(other.id, a.id);
    const custodian = await repo.create(doc('3480787529/123-PPER-doc-1', { custodian: { identifier: { system: 'urn:oid:1.2.250.1.71.4.2.2', value: '1750000001' } } }));
    assert.equal(custodian.id, other.id, 'custodian idNatSt 1750000001: FINESS 750000001');
    assert.equal(custodian.versionId, 2);
    // An update registers the new key; a later create with it finds the updated object.
    const u = await repo.update({ ...(b.resource as Json), id: a.id, masterIdentifier: { value: '3480787529/123-PPER-doc-2' } } as unknown as FhirResource & { id: string });
    assert.equal(u.versionId, 3);
    const c = await repo.create(doc('3480787529/123-PPER-doc-2'));
    assert.equal(c.id, a.id);
    assert.equal(c.versionId, 4);
    // Concurrent first creates of one document: one object (the pool's connections are opened
    // first, so that the creates really overlap on PostgreSQL); identical, they make one version
    // (the no-op rule); different, one version each.
    await Promise.all(Array.from({ length: 6 }, () => repo.db.query('SELECT pg_sleep(0.02)')));
    const all = await Promise.all(Array.from({ length: 6 }, () => repo.create(doc('3480787529/123-PPER-doc-3'))));
    assert.equal(new Set(all.map((r) => r.id)).size, 1);
    assert.deepEqual(all.map((r) => r.versionId), [1, 1, 1, 1, 1, 1]);
    const varied = await Promise.all(Array.from({ length: 6 }, (_, n) => repo.create(doc('3480787529/123-PPER-doc-4', { description: `v${n}` }))));
    assert.equal(new Set(varied.map((r) => r.id)).size, 1);
    assert.deepEqual(varied.map((r) => r.versionId).sort(), [1, 2, 3, 4, 5, 6]);
    // An identical update is no new version either; with the rule off (versionUnchanged) it is.
    const current = await repo.read('DocumentReference', varied[0]!.id);
    const same = await repo.update({ ...(current.resource as Json), id: current.id } as FhirResource & { id: string });
    assert.equal(same.versionId, 6);
    const [forced] = await repo.execute({ versionUnchanged: true, ops: [{ method: 'update', resourceType: 'DocumentReference', id: varied[0]!.id, resource: same.resource }] });
    assert.equal(forced!.record!.versionId, 7);
    // Resources without identifier keep being created anew.
    const n1 = await repo.create({ resourceType: 'Basic', code: { text: 'same' } });
    const n2 = await repo.create({ resourceType: 'Basic', code: { text: 'same' } });
    assert.notEqual(n1.id, n2.id);
  });

  test('a write and a key lookup probe indexes: no table scan, whatever the size of the data', async () => {
    const repo = getRepo();
    const docs: ResourceRecord[] = [];
    for (let n = 0; n < 100; n++) {
      docs.push(await repo.create({ resourceType: 'DocumentReference', status: 'current', masterIdentifier: { value: `3480787529/9-PPER-scan-${n}` }, subject: { reference: `Patient/p${n}` }, content: [{ attachment: { url: `u${n}` } }] }));
    }
    // Tables of a moderate size (filler rows of another type): with JSON record sets (estimated
    // at 100 rows) the planner hash-joined them with full scans, at every write; tiny tables
    // (a few pages) would rightly be scanned.
    await repo.db.query(`INSERT INTO resource (resource_type, id, version_id, last_updated, owner, content)
      SELECT 'Basic', 'f' || g, 1, now(), '480787529', '{"resourceType":"Basic"}' FROM generate_series(1, 5000) g`);
    await repo.db.query(`INSERT INTO business_key (owner, resource_type, system, value, id)
      SELECT '480787529', 'Basic', 'urn:filler', 'v' || g, 'f' || g FROM generate_series(1, 5000) g`);
    for (const [table, cols, vals] of [
      ['search_token', 'param, system, code', `'code', 's', 'c' || g`],
      ['search_string', 'param, value, exact', `'name', 'v' || g, 'v' || g`],
      ['search_date', 'param, low, high', `'date', now(), now()`],
      ['search_reference', 'param, target_type, target_id', `'subject', 'Patient', 'p' || g`],
    ]) {
      await repo.db.query(`INSERT INTO ${table} (resource_type, id, ${cols}) SELECT 'Basic', 'f' || (g % 5000), ${vals} FROM generate_series(1, 5000) g`);
    }
    const scans = await repo.db.transaction(async (tx) => {
      // The view may also hold counts of earlier transactions of this connection not flushed
      // yet (PostgreSQL 15+): the difference over this transaction is what its statements did.
      const counts = async () =>
        new Map(
          (
            await tx.query<{ relname: string; seq_scan: number }>(
              `SELECT relname, seq_scan FROM pg_stat_xact_user_tables
                WHERE relname IN ('resource', 'resource_history', 'business_key', 'search_token', 'search_string', 'search_date', 'search_reference')`,
            )
          ).rows.map((x) => [x.relname, Number(x.seq_scan)]),
        );
      const start = await counts();
      const keys = [5, 77].map((n) => ({ system: 'urn:tddui:key:masterIdentifier', value: `3480787529/9-PPER-scan-${n}` }));
      const found = await lockAndLookupKeys(tx, '480787529', [{ resourceType: 'DocumentReference', keys }]);
      assert.equal(found.size, 2);
      const current = await lockCurrent(tx, [docs[5], docs[77]].map((d) => ({ resourceType: d.resourceType, id: d.id })));
      assert.equal(current.size, 2);
      const now = new Date().toISOString();
      await writeVersions(
        tx,
        baseParameterSet(),
        [docs[5], docs[77]].map((d) => ({ resourceType: d.resourceType, id: d.id, versionId: 2, lastUpdated: now, owner: '480787529', existed: true, resource: stamp(d.resource, d.id, 2, now) })),
        { owner: '480787529', rows: [{ resourceType: 'DocumentReference', system: 'urn:tddui:key:masterIdentifier', value: '3480787529/9-PPER-scan-5', id: docs[5].id }] },
      );
      return Object.fromEntries([...(await counts())].map(([k, n]) => [k, n - (start.get(k) ?? 0)]));
    });
    assert.ok(Object.keys(scans).length >= 5, JSON.stringify(scans));
    assert.deepEqual(Object.entries(scans).filter(([, n]) => n > 0), [], `sequential scans ${JSON.stringify(scans)}`);
    assert.equal((await repo.read('DocumentReference', docs[77].id)).versionId, 2);
  });

  test('history: instance, type and system; newest first; _since; paging', async () => {
    const repo = getRepo();
    const a = await repo.create({ resourceType: 'Organization', name: 'A' });
    for (let v = 2; v <= 5; v++) await repo.update({ resourceType: 'Organization', id: a.id, name: `A${v}` });
    const h = await repo.history({ resourceType: 'Organization', id: a.id, count: 2, offset: 0 });
    assert.equal(h.total, 5);
    assert.deepEqual(h.entries.map((e) => e.versionId), [5, 4]);
    const p2 = await repo.history({ resourceType: 'Organization', id: a.id, count: 2, offset: 2 });
    assert.deepEqual(p2.entries.map((e) => e.versionId), [3, 2]);
    const v3 = (await repo.vread('Organization', a.id, 3)).lastUpdated;
    const since = await repo.history({ resourceType: 'Organization', id: a.id, since: v3, count: 10, offset: 0 });
    assert.deepEqual(since.entries.map((e) => e.versionId), [5, 4, 3]);
    const type = await repo.history({ resourceType: 'Organization', count: 100, offset: 0 });
    assert.equal(type.total, 5);
    const sys = await repo.history({ count: 100, offset: 0 });
    assert.ok(sys.total >= 5 + 3);
    for (let i = 1; i < sys.entries.length; i++) assert.ok(sys.entries[i - 1].lastUpdated >= sys.entries[i].lastUpdated);
    await rejects(repo.history({ resourceType: 'Organization', id: 'nope', count: 10, offset: 0 }), 404);
    await rejects(repo.history({ resourceType: 'Organization', since: 'yesterday', count: 10, offset: 0 }), 400, '_since');
  });

  test('search fixtures', async () => {
    const repo = getRepo();
    const mk = async (r: Json) => (await repo.create(r as FhirResource)).id;
    P.dupre = await mk({
      resourceType: 'Patient',
      identifier: [
        { system: 'https://identifiant-medicosocial-localusager.esante.gouv.fr', value: '3480787529/1' },
        { system: 'urn:oid:1.2.250.1.213.1.4.8', value: '147720425367411' },
      ],
      name: [{ family: 'Dupré', given: ['Élodie', 'Marie'] }],
      birthDate: '1947-04-03',
      gender: 'female',
    });
    P.martin = await mk({ resourceType: 'Patient', identifier: [{ value: 'no-system' }], name: [{ family: 'Martin', given: ['Paul'] }], birthDate: '1950-12', gender: 'male' });
    P.dupont = await mk({ resourceType: 'Patient', name: [{ family: 'Dupont-Aignan', given: ['Jean'] }], birthDate: '1960' });
    const ref = (id: string) => ({ reference: `Patient/${id}` });
    E.jan = await mk({ resourceType: 'Encounter', status: 'finished', class: { code: 'HH' }, type: [{ coding: [{ system: 'urn:t', code: 'SEJ' }] }], subject: ref(P.dupre), period: { start: '2024-01-10T10:00:00+01:00', end: '2024-01-12T18:00:00+01:00' } });
    E.feb = await mk({ resourceType: 'Encounter', status: 'in-progress', class: { code: 'HH' }, type: [{ coding: [{ system: 'urn:t', code: 'EVN' }] }], subject: ref(P.dupre), period: { start: '2024-02-01' } });
    E.mar = await mk({ resourceType: 'Encounter', status: 'finished', class: { code: 'HH' }, subject: ref(P.martin), period: { start: '2024-03-05', end: '2024-03-05' }, partOf: { reference: `Encounter/${E.jan}` } });
    task = await mk({ resourceType: 'Task', status: 'completed', intent: 'order', for: ref(P.dupre), encounter: { reference: `Encounter/${E.jan}` }, executionPeriod: { start: '2024-01-11T08:00:00Z', end: '2024-01-11T09:00:00Z' } });
    qr = await mk({ resourceType: 'QuestionnaireResponse', status: 'completed', questionnaire: 'https://interop.esante.gouv.fr/ig/fhir/tddui/Questionnaire/tddui-questionnaire-aggir-pa|2.2.0', subject: ref(P.dupre), authored: '2024-01-15T09:00:00+01:00' });
    plan = await mk({ resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: ref(P.martin), period: { start: '2024-01-01' } });
    await mk({ resourceType: 'Goal', lifecycleStatus: 'active', description: { text: 'x' }, subject: ref(P.martin) });
    await mk({ resourceType: 'Consent', status: 'active', scope: { text: 's' }, category: [{ text: 'c' }], patient: ref(P.dupre) });
  });

  test('search: _id, identifier tokens (system|code, |code, code, system|), :not, OR values', async () => {
    const repo = getRepo();
    assert.deepEqual(await ids(repo, q('Patient', { _id: P.dupre })), [P.dupre]);
    assert.deepEqual(await ids(repo, q('Patient', { _id: [P.dupre, P.martin] })), [P.dupre, P.martin].sort());
    assert.deepEqual(await ids(repo, q('Patient', { identifier: 'urn:oid:1.2.250.1.213.1.4.8|147720425367411' })), [P.dupre]);
    assert.deepEqual(await ids(repo, q('Patient', { identifier: '147720425367411' })), [P.dupre]);
    assert.deepEqual(await ids(repo, q('Patient', { identifier: 'urn:oid:1.2.250.1.213.1.4.8|' })), [P.dupre]);
    assert.deepEqual(await ids(repo, q('Patient', { identifier: '|no-system' })), [P.martin]);
    assert.deepEqual(await ids(repo, q('Patient', { identifier: '|147720425367411' })), []);
    assert.deepEqual(await ids(repo, q('Patient', { identifier: 'urn:other|147720425367411' })), []);
    assert.deepEqual(await ids(repo, q('Patient', { gender: ['female', 'male'], _id: [P.dupre, P.martin, P.dupont] })), [P.dupre, P.martin].sort());
    assert.deepEqual(await ids(repo, q('Patient', { 'gender:not': 'female' }, {})).then((x) => x.includes(P.dupre)), false);
    assert.deepEqual(await ids(repo, q('Patient', { 'gender:missing': 'true', _id: [P.dupre, P.martin, P.dupont] })), [P.dupont]);
    assert.deepEqual(await ids(repo, q('Encounter', { status: 'finished' })), [E.jan, E.mar].sort());
    assert.deepEqual(await ids(repo, q('Encounter', { type: 'urn:t|EVN' })), [E.feb]);
    assert.deepEqual(await ids(repo, q('Encounter', { type: 'SEJ', status: 'finished' })), [E.jan], 'AND across parameters');
    assert.deepEqual(await ids(repo, q('CarePlan', { status: 'active' })), [plan]);
    assert.deepEqual(await ids(repo, q('Task', { status: 'completed' })), [task]);
  });

  test('search: Patient name starts-with, case and accent insensitive; :exact; :contains', async () => {
    const repo = getRepo();
    assert.deepEqual(await ids(repo, q('Patient', { name: 'dupre' })), [P.dupre]);
    assert.deepEqual(await ids(repo, q('Patient', { name: 'DUP' })), [P.dupre, P.dupont].sort());
    assert.deepEqual(await ids(repo, q('Patient', { name: 'elo' })), [P.dupre], 'given names count');
    assert.deepEqual(await ids(repo, q('Patient', { name: 'upr' })), []);
    assert.deepEqual(await ids(repo, q('Patient', { 'name:contains': 'aign' })), [P.dupont]);
    assert.deepEqual(await ids(repo, q('Patient', { 'name:exact': 'Dupré' })), [P.dupre]);
    assert.deepEqual(await ids(repo, q('Patient', { 'name:exact': 'dupré' })), []);
    assert.deepEqual(await ids(repo, q('Patient', { family: 'martin' })), [P.martin]);
    assert.deepEqual(await ids(repo, q('Patient', { name: '50%' })), [], 'LIKE wildcards are literal');
  });

  test('search: dates with prefixes and precision (birthdate, Encounter period, Task period, authored)', async () => {
    const repo = getRepo();
    const bd = (v: string) => ids(repo, q('Patient', { birthdate: v }));
    assert.deepEqual(await bd('1947-04-03'), [P.dupre]);
    assert.deepEqual(await bd('1947-04'), [P.dupre]);
    assert.deepEqual(await bd('1947'), [P.dupre]);
    assert.deepEqual(await bd('1950-12-15'), [], 'a month is not contained in a day');
    assert.deepEqual(await bd('1950'), [P.martin]);
    assert.deepEqual(await bd('lt1950-01-01'), [P.dupre]);
    assert.deepEqual(await bd('gt1950-12-15'), [P.martin, P.dupont].sort(), 'December 1950 extends after the 15th');
    assert.deepEqual(await bd('ge1960'), [P.dupont]);
    assert.deepEqual(await bd('le1947-04-03'), [P.dupre]);
    assert.deepEqual(await bd('sa1950-12-31'), [P.dupont]);
    assert.deepEqual(await bd('eb1950-01-01'), [P.dupre]);
    assert.deepEqual(await bd('ne1947-04-03'), [P.martin, P.dupont].sort());
    const enc = (...v: string[]) => ids(repo, { ...q('Encounter', {}), params: v.map((x) => ({ name: 'date', values: [x] })) });
    assert.deepEqual(await enc('2024-01-11'), [], 'the day does not contain the 3-day stay');
    assert.deepEqual(await enc('2024-01'), [E.jan]);
    assert.deepEqual(await enc('ge2024-01-11', 'le2024-01-11'), [E.jan], 'stay overlapping the day');
    assert.deepEqual(await enc('ge2024-03-01'), [E.feb, E.mar].sort(), 'an open period goes on');
    assert.deepEqual(await enc('lt2024-01-10T09:30:00Z'), [E.jan], '10:00+01:00 = 09:00Z');
    assert.deepEqual(await enc('lt2024-01-10T08:30:00Z'), []);
    assert.deepEqual(await enc('sa2024-01-31'), [E.feb, E.mar].sort());
    assert.deepEqual(await enc('eb2024-02-01'), [E.jan]);
    assert.deepEqual(await enc('2024-03-05'), [E.mar]);
    assert.deepEqual(await ids(repo, q('Task', { period: 'ge2024-01-11T08:30:00Z' })), [task]);
    assert.deepEqual(await ids(repo, q('Task', { period: 'gt2024-01-11T09:00:00Z' })), []);
    assert.deepEqual(await ids(repo, q('QuestionnaireResponse', { authored: '2024-01-15' })), [qr]);
    assert.deepEqual(await ids(repo, q('QuestionnaireResponse', { authored: 'gt2024-01-15T08:00:00Z' })), []);
    assert.deepEqual(await ids(repo, q('QuestionnaireResponse', { authored: 'ge2024-01-15T08:00:00Z' })), [qr]);
    const lu = (await repo.read('Task', task)).lastUpdated;
    assert.deepEqual(await ids(repo, q('Task', { _lastUpdated: lu })), [task]);
    assert.deepEqual(await ids(repo, q('Task', { _lastUpdated: `gt${lu}` })), []);
    await rejects(repo.search(q('Patient', { birthdate: 'hier' })), 400, 'birthdate');
  });

  test('search: references (patient/subject, Type/id, bare id, :Type), questionnaire canonical', async () => {
    const repo = getRepo();
    assert.deepEqual(await ids(repo, q('Encounter', { patient: `Patient/${P.dupre}` })), [E.jan, E.feb].sort());
    assert.deepEqual(await ids(repo, q('Encounter', { subject: P.dupre })), [E.jan, E.feb].sort());
    assert.deepEqual(await ids(repo, q('Encounter', { 'subject:Patient': P.martin })), [E.mar]);
    assert.deepEqual(await ids(repo, q('Encounter', { 'subject:Group': P.martin })), []);
    assert.deepEqual(await ids(repo, q('Encounter', { subject: `https://elsewhere.example/fhir/Patient/${P.martin}` })), [E.mar]);
    assert.deepEqual(await ids(repo, q('Task', { patient: P.dupre })), [task]);
    assert.deepEqual(await ids(repo, q('Task', { for: `Patient/${P.dupre}` })), [task]);
    assert.deepEqual(await ids(repo, q('Task', { subject: `Patient/${P.dupre}` })), [task]);
    assert.deepEqual(await ids(repo, q('CarePlan', { subject: `Patient/${P.martin}` })), [plan]);
    assert.deepEqual(await ids(repo, q('Consent', { patient: P.dupre })).then((x) => x.length), 1);
    const url = 'https://interop.esante.gouv.fr/ig/fhir/tddui/Questionnaire/tddui-questionnaire-aggir-pa';
    assert.deepEqual(await ids(repo, q('QuestionnaireResponse', { questionnaire: url })), [qr]);
    assert.deepEqual(await ids(repo, q('QuestionnaireResponse', { questionnaire: `${url}|2.2.0` })), [qr]);
    assert.deepEqual(await ids(repo, q('QuestionnaireResponse', { questionnaire: url + 'x' })), []);
  });

  test('search: chained parameters (patient.identifier, subject:Patient.name), escapes', async () => {
    const repo = getRepo();
    const nir = 'urn:oid:1.2.250.1.213.1.4.8|147720425367411';
    assert.deepEqual(await ids(repo, q('Encounter', { 'patient.identifier': nir })), [E.jan, E.feb].sort());
    assert.deepEqual(await ids(repo, q('Encounter', { 'subject:Patient.name': 'dup' })), [E.jan, E.feb].sort());
    assert.deepEqual(await ids(repo, q('Encounter', { 'subject:Patient.name:exact': 'Dupré' })), [E.jan, E.feb].sort());
    assert.deepEqual(await ids(repo, q('Task', { 'patient.birthdate': 'lt1948' })), [task]);
    assert.deepEqual(await ids(repo, q('Encounter', { 'patient.identifier': 'urn:oid:1.2.250.1.213.1.4.8|000' })), []);
    // Issue 12: a link that may target several types searches each type that has the next parameter.
    assert.deepEqual(await ids(repo, q('Encounter', { 'subject.name': 'dup' })), [E.jan, E.feb].sort());
    assert.deepEqual(await ids(repo, q('Encounter', { 'subject.name': 'x' })), []);
    await rejects(repo.search(q('Observation', { 'subject.nope': 'x' })), 400, 'nope');
    await rejects(repo.search(q('Encounter', { 'status.name': 'x' })), 400, 'status');
    await rejects(repo.search(q('Encounter', { 'patient.nope': 'x' })), 400, 'nope');
    // Issue 12: chains of any depth.
    assert.deepEqual(await ids(repo, q('Encounter', { 'patient.organization.name': 'x' })), []);
    // Escaped separators are literal characters; one entry of `values` is one value.
    const weird = (await repo.create({ resourceType: 'Patient', identifier: [{ system: 'urn:w', value: 'a|b,c' }], name: [{ family: 'Vir,gule' }] })).id;
    assert.deepEqual(await ids(repo, q('Patient', { identifier: 'urn:w|a\\|b\\,c' })), [weird]);
    assert.deepEqual(await ids(repo, q('Patient', { identifier: 'urn:w|a\\|b,c' })), [weird]);
    assert.deepEqual(await ids(repo, q('Patient', { name: 'vir,g' })), [weird]);
  });

  test('search: _include, _revinclude (patient-centred view), :iterate, `*`', async () => {
    const repo = getRepo();
    const inc = await repo.search(q('Encounter', { patient: P.dupre }, { include: [{ sourceType: 'Encounter', param: 'subject' }] }));
    assert.equal(inc.matches.length, 2);
    assert.deepEqual(inc.included.map((r) => `${r.resourceType}/${r.id}`), [`Patient/${P.dupre}`]);
    const view = await repo.search(
      q('Patient', { _id: P.dupre }, {
        revinclude: [
          { sourceType: 'Encounter', param: 'subject' },
          { sourceType: 'Task', param: 'patient' },
          { sourceType: 'QuestionnaireResponse', param: 'subject' },
          { sourceType: 'Consent', param: 'patient' },
          { sourceType: 'CarePlan', param: 'subject' },
        ],
      }),
    );
    assert.equal(view.total, 1);
    const types = view.included.map((r) => r.resourceType).sort();
    assert.deepEqual(types, ['Consent', 'Encounter', 'Encounter', 'QuestionnaireResponse', 'Task']);
    // Iterate: Patient <- Encounter <- Encounter.partOf
    const it = await repo.search(
      q('Patient', { _id: P.dupre }, {
        revinclude: [
          { sourceType: 'Encounter', param: 'subject' },
          { sourceType: 'Encounter', param: 'part-of', iterate: true },
        ],
      }),
    );
    assert.ok(it.included.some((r) => r.id === E.mar), 'E.mar is part of E.jan');
    const star = await repo.search(q('Task', { _id: task }, { include: [{ sourceType: 'Task', param: '*' }] }));
    assert.deepEqual(star.included.map((r) => r.id).sort(), [P.dupre, E.jan].sort());
    const typed = await repo.search(q('Task', { _id: task }, { include: [{ sourceType: 'Task', param: '*', targetType: 'Encounter' }] }));
    assert.deepEqual(typed.included.map((r) => r.id), [E.jan]);
    await rejects(repo.search(q('Encounter', {}, { include: [{ sourceType: 'Encounter', param: 'status' }] })), 400, 'Encounter:status');
  });

  test('search: _sort on dates and _lastUpdated, _count/offset paging with total, total none', async () => {
    const repo = getRepo();
    const sorted = async (sort: string[]) => (await repo.search(q('Patient', { _id: [P.dupre, P.martin, P.dupont] }, { sort }))).matches.map((m) => m.id);
    assert.deepEqual(await sorted(['birthdate']), [P.dupre, P.martin, P.dupont]);
    assert.deepEqual(await sorted(['-birthdate']), [P.dupont, P.martin, P.dupre]);
    assert.deepEqual(await sorted(['_lastUpdated']), [P.dupre, P.martin, P.dupont]);
    assert.deepEqual(await sorted(['-_lastUpdated']), [P.dupont, P.martin, P.dupre]);
    const enc = (await repo.search(q('Encounter', {}, { sort: ['-date'] }))).matches.map((m) => m.id);
    assert.deepEqual(enc, [E.feb, E.mar, E.jan], 'open-ended period is the latest');
    const pages: string[] = [];
    for (let offset = 0; offset < 12; offset += 2) {
      const r = await repo.search(q('Encounter', {}, { count: 2, offset, sort: ['date'] }));
      assert.equal(r.total, 3);
      pages.push(...r.matches.map((m) => m.id));
    }
    assert.deepEqual(pages, [E.jan, E.feb, E.mar]);
    const none = await repo.search(q('Encounter', {}, { count: 1, offset: 1, total: 'none' }));
    assert.equal(none.total, undefined);
    assert.equal(none.matches.length, 1);
    const countOnly = await repo.search(q('Encounter', {}, { count: 0 }));
    assert.equal(countOnly.total, 3);
    assert.equal(countOnly.matches.length, 0);
    await rejects(repo.search(q('Patient', {}, { sort: ['nope'] })), 400, 'nope');
    await rejects(repo.search(q('Patient', {}, { count: Number.NaN })), 400, 'count');
    await rejects(repo.search(q('Patient', {}, { offset: -1 })), 400, 'offset');
    await rejects(repo.listSubmissions({ count: Infinity, offset: 0 }), 400, 'count');
  });

  test('search: unknown parameters and modifiers are 400 naming them; system-level search', async () => {
    const repo = getRepo();
    const e = await rejects(repo.search(q('Patient', { foo: 'x' })), 400, '"foo"');
    assert.equal(e.expression, 'foo');
    await rejects(repo.search(q('Patient', { 'name:below': 'x' })), 400, ':below');
    await rejects(repo.search(q('Patient', { phonetic: 'dupre' })), 400, 'phonetic');
    await rejects(repo.search(q(undefined, { name: 'x' })), 400, 'system-level');
    // Lenient handling (the HTTP default): ignored and reported.
    const lenient = await repo.search({ ...q('Patient', { foo: 'x', _id: P.dupre }), handling: 'lenient' });
    assert.deepEqual(lenient.matches.map((m) => m.id), [P.dupre]);
    assert.deepEqual(lenient.ignored?.map((i) => i.name), ['foo']);
    const sys = await repo.search(q(undefined, { _id: [P.dupre, E.jan] }));
    assert.deepEqual(sys.matches.map((m) => m.resourceType).sort(), ['Encounter', 'Patient']);
    // Result parameters the HTTP layer handles are tolerated.
    assert.deepEqual(await ids(repo, q('Patient', { _id: P.dupre, _format: 'json', _count: '5' })), [P.dupre]);
  });

  test('search: common parameters _profile and _tag', async () => {
    const repo = getRepo();
    const prof = 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-patient';
    const id = (await repo.create({ resourceType: 'Patient', meta: { profile: [prof], tag: [{ system: 'urn:t', code: 'demo' }] } })).id;
    assert.deepEqual(await ids(repo, q('Patient', { _profile: prof })), [id]);
    assert.deepEqual(await ids(repo, q('Patient', { _tag: 'urn:t|demo' })), [id]);
    assert.deepEqual(await ids(repo, q(undefined, { _tag: 'demo' })), [id]);
    assert.equal((await ids(repo, q('Patient', { '_tag:missing': 'false' }))).length, 1);
  });

  test('search index follows updates (old values no longer match)', async () => {
    const repo = getRepo();
    const cur = await repo.read('Patient', P.martin);
    await repo.update({ ...(cur.resource as Json), id: P.martin, name: [{ family: 'Bernard' }] } as unknown as FhirResource & { id: string });
    assert.deepEqual(await ids(repo, q('Patient', { name: 'martin' })), []);
    assert.deepEqual(await ids(repo, q('Patient', { name: 'bernard' })), [P.martin]);
    void driver;
  });
});

test('PGlite: concurrent callers never interleave inside a transaction', async () => {
  const repo = await openRepository({ dataDir: 'memory://' });
  try {
    await repo.db.query('CREATE TABLE counter (n integer NOT NULL)');
    await repo.db.query('INSERT INTO counter VALUES (0)');
    // Read-modify-write with a pause in the middle: interleaving would lose increments.
    await Promise.all(
      Array.from({ length: 10 }, () =>
        repo.db.transaction(async (tx) => {
          const n = (await tx.query<{ n: number }>('SELECT n FROM counter')).rows[0].n;
          await new Promise((r) => setTimeout(r, 5));
          await tx.query('UPDATE counter SET n = $1', [n + 1]);
        }),
      ),
    );
    assert.equal((await repo.db.query<{ n: number }>('SELECT n FROM counter')).rows[0].n, 10);
    // A statement issued while a transaction is open does not run inside it (nor see it).
    let seen = -1;
    const failing = repo.db.transaction(async (tx) => {
      await tx.query('UPDATE counter SET n = 99');
      await new Promise((r) => setTimeout(r, 20));
      throw new Error('rollback');
    });
    const outside = repo.db.query<{ n: number }>('SELECT n FROM counter').then((r) => (seen = r.rows[0].n));
    await assert.rejects(failing, /rollback/);
    await outside;
    assert.equal(seen, 10);
    assert.equal((await repo.db.query<{ n: number }>('SELECT n FROM counter')).rows[0].n, 10);
  } finally {
    await repo.close();
  }
});

test('PostgreSQL: several servers migrating one database together apply each migration once', async (t) => {
  const down = await postgresUnavailable();
  if (down) {
    if (process.env.CI === 'true') assert.fail(`PostgreSQL unreachable under CI=true: ${down}`);
    t.skip(`PostgreSQL unreachable: ${down}`);
    return;
  }
  const db = await createTestDatabase();
  try {
    const repos = await Promise.all([1, 2, 3, 4].map(() => openRepository({ url: db.url })));
    const r = await repos[0].db.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(r.rows.map((x) => x.version), MIGRATIONS.map((m) => m.version));
    await Promise.all(repos.map((x) => x.close()));
    await repos[0].close(); // closing twice is harmless
  } finally {
    await db.drop();
  }
});

test('PGlite on disk: data and migrations survive a reopen', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'tddui-pglite-'));
  try {
    const a = await openRepository({ dataDir: join(dir, 'data') });
    const p = await a.create({ resourceType: 'Patient', name: [{ family: 'Persistant' }] });
    await a.close();
    const b = await openRepository({ dataDir: join(dir, 'data') });
    try {
      assert.deepEqual((await b.read('Patient', p.id)).resource, p.resource);
      assert.equal((await b.search(q('Patient', { name: 'persist' }))).total, 1);
      const m = await b.db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      assert.equal(Number(m.rows[0].n), MIGRATIONS.length);
    } finally {
      await b.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migration 0004 removes the history copies of current versions, keeps the previous ones', async () => {
  const { openDatabase } = await import('./index.js');
  const { SqlRepository } = await import('./repository.js');
  const db = await openDatabase({ dataDir: 'memory://' });
  // Opened as a bare database to migrate it part way; the repository over it is what closes it (D-337).
  const repo = new SqlRepository(db);
  try {
    await migrate(db, MIGRATIONS.slice(0, 3));
    // Layout before 0004: every version, the current one included, in resource_history.
    const row = (v: number) => [`{"resourceType":"Basic","id":"b","meta":{"versionId":"${v}"}}`, v, `2024-01-0${v}T00:00:00Z`];
    for (const v of [1, 2]) {
      const [c, n, t] = row(v);
      await db.query(`INSERT INTO resource_history (resource_type, id, version_id, last_updated, content) VALUES ('Basic', 'b', $1, $2, $3::jsonb)`, [n, t, c]);
    }
    const [c, n, t] = row(2);
    await db.query(`INSERT INTO resource (resource_type, id, version_id, last_updated, content) VALUES ('Basic', 'b', $1, $2, $3::jsonb)`, [n, t, c]);
    await migrate(db);
    const h = await db.query<{ version_id: number }>(`SELECT version_id FROM resource_history ORDER BY 1`);
    assert.deepEqual(h.rows.map((r) => Number(r.version_id)), [1]);
    const all = await repo.history({ resourceType: 'Basic', id: 'b', count: 10, offset: 0 });
    assert.deepEqual(all.entries.map((e) => e.versionId), [2, 1]);
    assert.equal(all.total, 2);
  } finally {
    await repo.close();
  }
});

test('migration 0007 fills submitted_type for submissions logged before it', async () => {
  const db = await openDatabase({ dataDir: 'memory://' });
  try {
    const before = MIGRATIONS.filter((m) => m.version < '0007');
    assert.ok(before.length >= 6 && before.length < MIGRATIONS.length);
    await migrate(db, before);
    for (const [id, body] of [['a', '{"resourceType":"Bundle","type":"transaction"}'], ['b', '{"resourceType":"DocumentReference"}'], ['c', '[1,2]'], ['d', null]] as const) {
      await db.query(
        `INSERT INTO submission (id, received_at, resource_count, outcome, http_status, error_count, warning_count, bundle) VALUES ($1, now(), 1, 'accepted', 201, 0, 0, $2::json)`,
        [id, body],
      );
    }
    await migrate(db);
    const r = await db.query<{ id: string; submitted_type: string | null }>('SELECT id, submitted_type FROM submission ORDER BY id');
    assert.deepEqual(r.rows.map((x) => [x.id, x.submitted_type]), [['a', 'Bundle'], ['b', 'DocumentReference'], ['c', null], ['d', null]]);
  } finally {
    await db.close();
  }
});
