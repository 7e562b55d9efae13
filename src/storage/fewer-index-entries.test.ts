// Migration 0201 (D-354): the two lookup indexes of search_reference are partial (no entry for
// a NULL url / target_id) and resource has no index on last_updated alone. What must hold:
// every query that read those indexes still reads an index — shown by EXPLAIN of the very
// statements the code sends (recorded from the repository's connection), on tables large
// enough that a scan would not be chosen for a selective lookup — and the system-wide history
// and the data stamp, rewritten to go type by type, answer what they answered.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { dataStamp } from './indicators.js';
import { forEachDriver } from './testing.js';
import type { Database, Repository } from './types.js';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function nodes(p: PlanNode, out: PlanNode[] = []): PlanNode[] {
  out.push(p);
  for (const c of p.Plans ?? []) nodes(c, out);
  return out;
}

/** The plan's nodes for a statement with its parameters. */
async function plan(db: Database, sql: string, params: unknown[] = []): Promise<PlanNode[]> {
  const res = await db.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) ${sql}`, params);
  const raw = res.rows[0]!['QUERY PLAN'];
  const json = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { Plan: PlanNode }[];
  return nodes(json[0]!.Plan);
}

const indexesOf = (ns: PlanNode[]) => new Set(ns.map((n) => n['Index Name']).filter((x): x is string => !!x));
const seqScans = (ns: PlanNode[]) => ns.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name']);

/** Runs `fn` and returns the statements it sent through the repository's connection. */
async function recorded(repo: Repository, fn: () => Promise<unknown>): Promise<{ sql: string; params: unknown[] }[]> {
  const db = repo.db as Database & { query: Database['query'] };
  const original = db.query;
  const seen: { sql: string; params: unknown[] }[] = [];
  db.query = ((sql: string, params?: unknown[]) => {
    seen.push({ sql, params: params ?? [] });
    return original.call(db, sql, params);
  }) as Database['query'];
  try {
    await fn();
  } finally {
    db.query = original;
  }
  return seen;
}

const GOALS = 20_000;
const PATIENTS = 4_000;

await forEachDriver('fewer index entries (migration 0201)', (getRepo) => {
  it('stores the large tables the plans are read on', async () => {
    const db = getRepo().db;
    // Goals: a subject (a local reference: url NULL) and a profile (a canonical: target NULL)
    // each, as the TDDUI resources have; Patients and Encounters so that several types are stored.
    await db.query(
      `INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, owner, content)
       SELECT 'Goal', 'g' || i, 1, timestamptz '2026-01-01' + i * interval '1 minute', false, '', jsonb_build_object('resourceType', 'Goal', 'id', 'g' || i)
         FROM generate_series(1, ${GOALS}) i
       UNION ALL
       SELECT 'Patient', 'p' || i, 1, timestamptz '2026-01-01' + i * interval '5 minute', false, '', jsonb_build_object('resourceType', 'Patient', 'id', 'p' || i)
         FROM generate_series(1, ${PATIENTS}) i
       UNION ALL
       SELECT 'Encounter', 'e' || i, 1, timestamptz '2026-01-01' + i * interval '7 minute', false, '', jsonb_build_object('resourceType', 'Encounter', 'id', 'e' || i)
         FROM generate_series(1, ${PATIENTS}) i`,
    );
    await db.query(
      `INSERT INTO search_reference (resource_type, id, param, target_type, target_id, url)
       SELECT 'Goal', 'g' || i, 'subject', 'Patient', 'p' || (1 + i % ${PATIENTS}), NULL FROM generate_series(1, ${GOALS}) i
       UNION ALL
       SELECT 'Goal', 'g' || i, '_profile', NULL, NULL, 'http://example.org/StructureDefinition/goal-' || (i % 200) FROM generate_series(1, ${GOALS}) i
       UNION ALL
       SELECT 'Encounter', 'e' || i, 'subject', 'Patient', 'p' || i, NULL FROM generate_series(1, ${PATIENTS}) i`,
    );
    await db.query('ANALYZE resource');
    await db.query('ANALYZE search_reference');
  });

  it('has the partial indexes and no index on last_updated alone', async () => {
    const db = getRepo().db;
    const defs = new Map(
      (await db.query<{ n: string; d: string }>(`SELECT indexname AS n, indexdef AS d FROM pg_indexes WHERE tablename IN ('search_reference', 'resource')`)).rows.map((r) => [r.n, r.d]),
    );
    assert.match(defs.get('search_reference_target_idx') ?? '', /WHERE \(target_id IS NOT NULL\)/);
    assert.match(defs.get('search_reference_url_idx') ?? '', /WHERE \(url IS NOT NULL\)/);
    assert.equal(defs.has('resource_updated_idx'), false);
    assert.ok(defs.has('resource_type_updated_idx'));
    // A row has entries only in the index whose column it sets (and in the (resource_type, id) one).
    const size = async (index: string) =>
      Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM search_reference WHERE ${index === 'url' ? 'url' : 'target_id'} IS NOT NULL`)).rows[0]!.n);
    assert.equal(await size('url'), GOALS);
    assert.equal(await size('target'), GOALS + PATIENTS);
  });

  it('searches by reference and by canonical read the partial indexes', async () => {
    const repo = getRepo();
    const cases: [string, { name: string; modifier?: string; values: string[] }[], string[]][] = [
      ['Goal', [{ name: 'subject', values: ['Patient/p17'] }], ['search_reference_target_idx']],
      ['Goal', [{ name: 'subject', values: ['p17'] }], ['search_reference_target_idx']],
      // Served from subject's rows restricted to Patient targets (D-354).
      ['Goal', [{ name: 'patient', values: ['p17'] }], ['search_reference_target_idx']],
      ['Goal', [{ name: 'subject', values: ['Patient/p17', 'Patient/p18'] }], ['search_reference_target_idx']],
      // An absolute URL: the URL itself, or the resource here its tail names (a BitmapOr of both).
      ['Goal', [{ name: 'subject', values: ['http://elsewhere.example/fhir/Patient/p17'] }], ['search_reference_target_idx', 'search_reference_url_idx']],
      ['Goal', [{ name: '_profile', values: ['http://example.org/StructureDefinition/goal-7'] }], ['search_reference_url_idx']],
      // A chain: the references to the Patients the inner search finds, joined on target_id.
      ['Goal', [{ name: 'subject:Patient._id', values: ['p17'] }], ['search_reference_target_idx']],
    ];
    for (const [resourceType, params, expected] of cases) {
      const statements = await recorded(repo, () => repo.search({ resourceType, params, count: 10, offset: 0 }));
      const page = statements.find((s) => /FROM resource r WHERE/.test(s.sql))!;
      const ns = await plan(repo.db, page.sql, page.params);
      const used = indexesOf(ns);
      for (const e of expected) assert.ok(used.has(e), `${JSON.stringify(params)}: ${e} not in the plan (${[...used].join(', ')})`);
      assert.deepEqual(seqScans(ns), [], `${JSON.stringify(params)}: a sequential scan`);
    }
  });

  it('the reverse include joins on target_id through the partial index', async () => {
    const repo = getRepo();
    const statements = await recorded(repo, () =>
      repo.search({ resourceType: 'Patient', params: [{ name: '_id', values: ['p17', 'p18'] }], revinclude: [{ sourceType: 'Goal', param: 'subject' }], count: 10, offset: 0 }),
    );
    const rev = statements.find((s) => /JOIN unnest\(.*\) AS k\(t, i\) ON s\.target_type = k\.t/.test(s.sql))!;
    assert.ok(rev, 'the reverse include statement');
    const ns = await plan(repo.db, rev.sql, rev.params);
    assert.ok(indexesOf(ns).has('search_reference_target_idx'), [...indexesOf(ns)].join(', '));
    assert.deepEqual(seqScans(ns), []);
  });

  it('the refreshes\u2019 and the export\u2019s form (target_id = ANY of a list) reads the partial index', async () => {
    const repo = getRepo();
    // 0161's stay_p and qr, export-jobs' patient filter: `s.target_id = ANY($1)` with type and param.
    const ns = await plan(repo.db, `SELECT s.id, s.target_id FROM search_reference s WHERE s.target_id = ANY($1::text[]) AND s.resource_type = 'Encounter' AND s.param = 'subject'`, [['p3', 'p4']]);
    assert.ok(indexesOf(ns).has('search_reference_target_idx'), [...indexesOf(ns)].join(', '));
  });

  it('the system-wide history and the data stamp read each type\u2019s range of resource_type_updated_idx', async () => {
    const repo = getRepo();
    for (const q of [{ count: 10, offset: 0 }, { count: 10, offset: 0, since: '2026-01-20T00:00:00Z' }]) {
      const statements = await recorded(repo, () => repo.history(q));
      assert.equal(statements.length, 2);
      for (const s of statements) {
        const ns = await plan(repo.db, s.sql, s.params);
        // Without _since the total counts every version (a scan is right); the page is not a scan.
        if (q.since || !/count\(\*\)/.test(s.sql)) {
          assert.ok(indexesOf(ns).has('resource_type_updated_idx'), `${JSON.stringify(q)}: ${[...indexesOf(ns)].join(', ')}`);
          assert.deepEqual(seqScans(ns).filter((r) => r === 'resource'), [], `${JSON.stringify(q)}: a sequential scan of resource`);
        }
      }
    }
    const stamp = await recorded(repo, () => dataStamp(repo.db));
    const ns = await plan(repo.db, stamp[0]!.sql);
    assert.ok(indexesOf(ns).has('resource_type_updated_idx'), [...indexesOf(ns)].join(', '));
    assert.deepEqual(seqScans(ns).filter((r) => r === 'resource'), []);
  });

  it('the system-wide history pages and total are those of one ordered union of every version', async () => {
    const repo = getRepo();
    const db = repo.db;
    // Ties across types and within one: the order's later keys decide.
    await db.query(`UPDATE resource SET last_updated = timestamptz '2026-03-01' WHERE (resource_type, id) IN (('Goal', 'g5'), ('Patient', 'p5'), ('Encounter', 'e5'), ('Goal', 'g6'))`);
    await db.query(
      `INSERT INTO resource_history (resource_type, id, version_id, last_updated, deleted, content, superseded_at)
       SELECT 'Goal', 'g' || i, 0, timestamptz '2026-03-01', false, '{"resourceType":"Goal"}', timestamptz '2026-03-01' FROM generate_series(1, 3) i`,
    );
    const all = (since?: string) =>
      db.query<{ t: string; i: string; v: number }>(
        `SELECT resource_type AS t, id AS i, version_id AS v FROM (SELECT resource_type, id, version_id, last_updated FROM resource_history UNION ALL SELECT resource_type, id, version_id, last_updated FROM resource) x
          WHERE $1::timestamptz IS NULL OR last_updated >= $1::timestamptz ORDER BY last_updated DESC, version_id DESC, resource_type, id`,
        [since ?? null],
      );
    for (const since of [undefined, '2026-02-25T00:00:00Z']) {
      const expected = (await all(since)).rows.map((r) => `${r.t}/${r.i}/${r.v}`);
      for (const [count, offset] of [[7, 0], [7, 7], [50, 30], [5, expected.length - 3]] as [number, number][]) {
        const h = await repo.history({ count, offset, ...(since ? { since } : {}) });
        assert.equal(h.total, expected.length);
        assert.deepEqual(h.entries.map((e) => `${e.resourceType}/${e.id}/${e.versionId}`), expected.slice(offset, offset + count), `since ${since} count ${count} offset ${offset}`);
      }
    }
    // The stamp: the newest instant of any type.
    const newest = (await db.query<{ m: Date }>('SELECT max(last_updated) AS m FROM resource')).rows[0]!.m;
    assert.equal((await dataStamp(db)).split('|')[0], new Date(newest).toISOString());
    await db.query(`UPDATE resource SET last_updated = timestamptz '2027-01-01' WHERE resource_type = 'Patient' AND id = 'p9'`);
    assert.equal((await dataStamp(db)).split('|')[0], '2027-01-01T00:00:00.000Z');
  });
});
