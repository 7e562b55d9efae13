// A large write's last pieces in statements of bounded size (D-351): the derived refresh, the
// business keys, the change feed and the outbox of a write of more than WRITE_CHUNK versions went
// in its last statement, over ALL its versions — one PGlite statement of seconds on the embedded
// server's event loop for the 40 MB Bundle. Counted (array sizes per statement, turns of the loop,
// statements), not timed; the derived tables compared with one refresh over every key and with the
// full recomputation; a failing piece rolls the whole write back. Since D-356 the refresh runs in
// the drain after the write (storage/derived.ts): its statements are the drain's, bounded alike.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countTurns } from '../testing/event-loop.js';
import { BID, QUESTIONNAIRE } from '../producer/pivot/constants.js';
import { derivedTablesDiffer } from '../ui/testing/seed.js';
import type { SqlRepository } from './repository.js';
import { forEachDriver } from './testing.js';
import { TextArray, type FhirResource, type Queryable, type Repository } from './types.js';
import type { WriteOp } from './unit-of-work.js';
import { WRITE_CHUNK } from './writer.js';

const FINESS = '480787529';
// The TDDUI identifier systems and questionnaire, as the producer writes them.
const SYS = {
  local: BID.localUsager,
  sejour: BID.sejour.system,
  evt: BID.evenement.system,
  trU: BID.transportUsager.system,
  plan: 'urn:test:plan',
  accord: 'urn:test:accord',
};
const AGGIR = QUESTIONNAIRE['aggir-pa'];
const START = { start: '2026-11-08T10:00:00Z' };
const TYPES = ['Patient', 'Encounter', 'QuestionnaireResponse', 'Task', 'CarePlan', 'Consent'];

/**
 * `n` usagers (Patient, séjour, event, AGGIR evaluation, transport, projet validated by an accord:
 * 7 versions each, every one refreshed), grouped BY TYPE — all the Patients, then all the séjours…
 * — so that a usager's figures depend on versions refreshed by different statements. `moved`: each
 * séjour and evaluation names the next usager (a resend moving them: the earlier usager's parts are
 * recomputed too).
 */
function usagerOps(tag: string, n: number, moved = false): WriteOp[] {
  const by: WriteOp[][] = [[], [], [], [], [], [], []];
  const op = (k: number, resource: FhirResource, id: string, key: string, system: string) =>
    by[k]!.push({ method: 'update', createOnUpdate: true, resourceType: resource.resourceType, id, resource, keys: [{ system, value: `3${FINESS}/${key}` }], owner: FINESS });
  for (let i = 0; i < n; i++) {
    const p = `${tag}p${i}`;
    const subject = { reference: `Patient/${p}` };
    const of = { reference: `Patient/${tag}p${moved ? (i + 1) % n : i}` };
    op(0, { resourceType: 'Patient', identifier: [{ system: SYS.local, value: `3${FINESS}/${tag}${i}` }], name: [{ family: `N${i}` }] }, p, `${tag}${i}`, SYS.local);
    op(1, { resourceType: 'Encounter', identifier: [{ system: SYS.sejour, value: `3${FINESS}/${tag}s${i}` }], status: 'in-progress', class: { code: 'HH' }, subject: of, period: START }, `${tag}s${i}`, `${tag}s${i}`, SYS.sejour);
    op(2, { resourceType: 'Encounter', identifier: [{ system: SYS.evt, value: `3${FINESS}/${tag}e${i}` }], status: 'finished', class: { code: 'HH' }, subject, period: START }, `${tag}e${i}`, `${tag}e${i}`, SYS.evt);
    op(3, {
      resourceType: 'QuestionnaireResponse', identifier: [{ system: 'urn:example:eval', value: `3${FINESS}/${tag}q${i}` }], questionnaire: AGGIR, status: 'completed', subject: of, authored: START.start,
      item: [{ linkId: 'resultat-eval', answer: [{ valueCoding: { code: 'MED-341' } }] }],
    }, `${tag}q${i}`, `${tag}q${i}`, 'urn:example:eval');
    op(4, { resourceType: 'Task', identifier: [{ system: SYS.trU, value: `3${FINESS}/${tag}t${i}` }], status: 'completed', intent: 'order', executionPeriod: START }, `${tag}t${i}`, `${tag}t${i}`, SYS.trU);
    op(5, { resourceType: 'CarePlan', identifier: [{ system: SYS.plan, value: `3${FINESS}/${tag}c${i}` }], status: 'active', intent: 'plan', subject, supportingInfo: [{ reference: `Consent/${tag}a${i}` }] }, `${tag}c${i}`, `${tag}c${i}`, SYS.plan);
    op(6, {
      resourceType: 'Consent', identifier: [{ system: SYS.accord, value: `3${FINESS}/${tag}a${i}` }], status: 'active', patient: subject, performer: [subject],
      dateTime: `2025-${String(1 + (i % 12)).padStart(2, '0')}-15`, scope: { coding: [{ code: 'treatment' }] }, category: [{ coding: [{ code: 'x' }] }],
    }, `${tag}a${i}`, `${tag}a${i}`, SYS.accord);
  }
  return by.flat();
}

interface Seen {
  sql: string;
  params: readonly unknown[];
  /** Turns of the event loop counted before the statement was sent and once it had answered. */
  before: number;
  after: number;
}

/**
 * Every statement of the repository's next transactions, with the turns of the loop around it;
 * `fail(seen)`: throw after the statement (a piece that fails, the transaction then rolls back).
 */
function spy(repo: Repository, fail?: (s: Seen, all: Seen[]) => boolean): { seen: Seen[]; stop: () => void } {
  const seen: Seen[] = [];
  const counter = countTurns();
  const db = repo.db;
  const transaction = db.transaction;
  (db as { transaction: typeof db.transaction }).transaction = ((fn: (tx: Queryable) => Promise<unknown>) =>
    transaction.call(db, (tx) =>
      fn({
        async query(sql, params, options) {
          const s: Seen = { sql, params: params ?? [], before: counter.turns, after: counter.turns };
          const r = await tx.query(sql, params, options);
          s.after = counter.turns;
          seen.push(s);
          if (fail?.(s, seen)) throw new Error('a piece failed');
          return r as never;
        },
      } as Queryable),
    )) as typeof db.transaction;
  return {
    seen,
    stop: () => {
      counter.stop();
      (db as { transaction: typeof db.transaction }).transaction = transaction;
    },
  };
}

/**
 * The longest array a statement sends (rows of one column: versions, keys, refreshed keys, feed
 * or outbox rows), but the index rows' (several per version, bounded by the versions).
 */
function longest(sql: string, params: readonly unknown[]): number {
  const index = new Set<number>();
  for (const m of sql.matchAll(/INSERT INTO search_\w+ \([^)]*\) SELECT \* FROM unnest\(([^)]*)\)/g)) for (const d of m[1]!.matchAll(/\$(\d+)/g)) index.add(Number(d[1]) - 1);
  let n = 0;
  for (const [k, v] of params.entries()) {
    if (index.has(k)) continue;
    if (v instanceof TextArray) n = Math.max(n, v.values.length);
    else if (Array.isArray(v)) n = Math.max(n, v.length);
  }
  return n;
}

/** The derived tables as rows (the counts summed over their slots). */
async function derived(q: Queryable): Promise<Record<string, string[]>> {
  const rows = async (sql: string) => (await q.query<{ j: string }>(sql)).rows.map((r) => r.j);
  return {
    usager_sort: await rows(`SELECT row_to_json(u)::text AS j FROM usager_sort u ORDER BY id`),
    pilotage_part: await rows(`SELECT concat_ws(' ', src, kind, finess, key, day, n, patient) AS j FROM pilotage_part ORDER BY 1`),
    pilotage_count: await rows(`SELECT concat_ws(' ', kind, finess, key, day, sum(n)) AS j FROM pilotage_count GROUP BY kind, finess, key, day HAVING sum(n) <> 0 ORDER BY 1`),
    ppa_validation: await rows(`SELECT row_to_json(v)::text AS j FROM ppa_validation v ORDER BY careplan`),
    ppa_accord_link: await rows(`SELECT concat_ws(' ', consent, careplan, patient_id) AS j FROM ppa_accord_link ORDER BY 1`),
  };
}

const USAGERS = 180; // 1,260 versions, keys and refreshed keys: three statements of each
const EVENTS = 1_100;

await forEachDriver('a large write in statements of bounded size (D-351)', (getRepo) => {
  test('no statement carries more than WRITE_CHUNK rows of anything; the loop turns between the refresh statements; the derived tables are those of one refresh over all keys', async () => {
    const repo = getRepo();
    await repo.execute({ ops: usagerOps('w', 2), owner: FINESS }); // a first small write, as a server's first Bundle
    await repo.drainDerived();
    const ops = usagerOps('b', USAGERS);
    const events = Array.from({ length: EVENTS }, (_, i) => ({ type: { system: 'urn:test:event', code: 'x' }, patient: `Patient/bp${i % USAGERS}` }));
    const { seen, stop } = spy(repo);
    try {
      await repo.execute({ ops, owner: FINESS, events: () => events });
      // The refresh, in the drain after the write (D-356): this one, or the repository's own in
      // the background if it came first (its statements are seen here too).
      await repo.drainDerived();
    } finally {
      stop();
    }
    // From the first statement writing versions (the reads before — the keys' lookup, 0.1–0.3 s for
    // the 40 MB Bundle's 13,070 keys — are not this test's).
    const write = seen.slice(seen.findIndex((s) => s.sql.includes('INSERT INTO resource ')));
    assert.ok(write.length >= 3, 'the versions in statements of WRITE_CHUNK');
    for (const s of write) assert.ok(longest(s.sql, s.params) <= WRITE_CHUNK, `a statement of ${longest(s.sql, s.params)} rows: ${s.sql.slice(0, 120)}`);
    const refreshes = seen.filter((s) => s.sql.includes('derived_refresh('));
    assert.equal(refreshes.length, Math.ceil(ops.length / WRITE_CHUNK), 'one refresh statement per WRITE_CHUNK keys');
    assert.ok(refreshes.every((s) => s.sql.includes('$2::text[], false)')), "the function's own statistics step never (the drain's stands for it)");
    assert.deepEqual(refreshes.map((s) => (s.params[0] as TextArray).values.length), [WRITE_CHUNK, WRITE_CHUNK, ops.length - 2 * WRITE_CHUNK], 'every key refreshed once');
    const analysed = seen.filter((s) => s.sql.startsWith('ANALYZE'));
    assert.ok(analysed.some((s) => s.sql === 'ANALYZE (SKIP_LOCKED) resource'), `the drain analyses the tables the write doubled before refreshing (D-329): ${analysed.map((s) => s.sql).join(', ')}`);
    assert.ok(seen.indexOf(analysed[0]!) < seen.indexOf(refreshes[0]!), 'the ANALYZE before the first refresh');
    assert.ok(refreshes.at(-1)!.before > refreshes[0]!.after, 'the event loop turned between the first and the last refresh statement');
    const count = async (table: string) => Number((await repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n);
    // The change feed: a row per statement of WRITE_CHUNK versions (D-355), the small write's one row first.
    const feedRows = await repo.db.query<{ n: number }>(`SELECT cardinality(ids) AS n FROM change_write ORDER BY tx, seq`);
    assert.deepEqual(feedRows.rows.map((r) => Number(r.n)), [14, WRITE_CHUNK, WRITE_CHUNK, ops.length - 2 * WRITE_CHUNK]);
    assert.equal(await count('event_outbox'), EVENTS);
    assert.equal(await count('business_key'), ops.length + 14);
    const feed = await repo.db.query<{ id: string }>(`SELECT u.id FROM change_write w, unnest(w.ids) WITH ORDINALITY AS u(id, n) ORDER BY w.tx, w.seq, u.n OFFSET 14`);
    assert.deepEqual(feed.rows.map((r) => r.id), ops.map((o) => o.id), 'the change feed in the order of the writes');

    // The same figures as one refresh over every key (in a transaction rolled back) and as the full recomputation.
    const check = async () => {
      const ROLLBACK = new Error('rollback');
      await repo.db
        .transaction(async (tx) => {
          const kept = await derived(tx);
          const all = (await tx.query<{ t: string[]; i: string[] }>(`SELECT array_agg(resource_type) AS t, array_agg(id) AS i FROM resource WHERE resource_type = ANY($1::text[])`, [TYPES])).rows[0]!;
          await tx.query(`SELECT derived_refresh($1::text[], $2::text[], false)`, [all.t, all.i]);
          assert.deepEqual(await derived(tx), kept);
          throw ROLLBACK;
        })
        .catch((e: unknown) => {
          if (e !== ROLLBACK) throw e;
        });
      assert.deepEqual(await derivedTablesDiffer(repo, ['2026-11-20', '2026-12-01']), []);
    };
    await check();
    const figures = await derived(repo.db);
    assert.equal(figures.ppa_validation!.length, USAGERS + 2);
    assert.ok(figures.pilotage_count!.some((r) => r.startsWith('stays ')));
    // A resend moving every séjour and evaluation to the next usager, in the same order by type.
    await repo.execute({ ops: usagerOps('b', USAGERS, true), owner: FINESS });
    await repo.drainDerived();
    await check();
  });

  test('a piece that fails rolls the whole write back: versions, keys, change feed, outbox, pending keys; a drain that fails leaves its keys pending', async (t) => {
    const repo = getRepo();
    // (No background drain: this test drains when it means to.)
    (repo as SqlRepository).derived.setBackground(false);
    t.after(() => (repo as SqlRepository).derived.setBackground(true));
    const count = async (sql: string) => Number((await repo.db.query<{ n: number }>(sql)).rows[0]!.n);
    const state = async () => [
      await count(`SELECT count(*)::int AS n FROM resource WHERE id LIKE 'f%'`),
      await count(`SELECT count(*)::int AS n FROM business_key WHERE id LIKE 'f%'`),
      await count(`SELECT count(*)::int AS n FROM change_write w, unnest(w.ids) AS u(id) WHERE u.id LIKE 'f%'`),
      await count(`SELECT count(*)::int AS n FROM event_outbox WHERE code = 'fail'`),
      await count(`SELECT count(*)::int AS n FROM pilotage_part WHERE src LIKE 'R:%/f%'`),
      await count(`SELECT count(*)::int AS n FROM usager_sort WHERE id LIKE 'f%'`),
      await count(`SELECT count(*)::int AS n FROM derived_pending p, unnest(p.ids) AS u(id) WHERE u.id LIKE 'f%'`),
    ];
    await repo.drainDerived();
    const empty = await state();
    // The second statement recording keys to refresh fails, after the first chunk of versions, keys and pending keys are written.
    const pendingInsert = (x: Seen) => x.sql.includes('INSERT INTO derived_pending');
    const first = spy(repo, (s, all) => pendingInsert(s) && all.filter(pendingInsert).length === 2);
    const events = Array.from({ length: 600 }, () => ({ type: { system: 'urn:test:event', code: 'fail' } }));
    try {
      await assert.rejects(repo.execute({ ops: usagerOps('f', 100), owner: FINESS, events: () => events }), /a piece failed/);
    } finally {
      first.stop();
    }
    assert.deepEqual(await state(), empty);
    assert.deepEqual(empty, [0, 0, 0, 0, 0, 0, 0]);

    // Written, then a drain whose second refresh statement fails: nothing of it stays, its keys stay pending.
    await repo.execute({ ops: usagerOps('f', 100), owner: FINESS });
    const written = await state();
    assert.deepEqual(written.slice(4), [0, 0, 700], 'written, not refreshed yet');
    const second = spy(repo, (s, all) => s.sql.includes('derived_refresh(') && all.filter((x) => x.sql.includes('derived_refresh(')).length === 2);
    try {
      await assert.rejects(repo.drainDerived(), /a piece failed/);
    } finally {
      second.stop();
    }
    assert.deepEqual(await state(), written);
    // The next drain refreshes them.
    assert.equal(await repo.drainDerived(), 700);
    const drained = await state();
    assert.deepEqual(drained.slice(5), [100, 0]);
    assert.ok(drained[4]! > 0);
    assert.deepEqual(await derivedTablesDiffer(repo, ['2026-11-20']), []);
  });

  test('an ordinary write keeps its one statement: versions, keys, change feed, outbox and the keys to refresh together', async () => {
    const repo = getRepo();
    const { seen, stop } = spy(repo);
    try {
      await repo.execute({ ops: usagerOps('o', 3), owner: FINESS, events: () => [{ type: { system: 'urn:test:event', code: 'o' } }] });
    } finally {
      stop();
    }
    const writes = seen.filter((s) => /INSERT INTO (resource|change_write|event_outbox|business_key|derived_pending)\b|derived_refresh\(/.test(s.sql));
    assert.equal(writes.length, 1, writes.map((s) => s.sql.slice(0, 80)).join('\n'));
    for (const part of ['INSERT INTO resource', 'INSERT INTO change_write', 'INSERT INTO event_outbox', 'INSERT INTO business_key', 'INSERT INTO derived_pending']) assert.ok(writes[0]!.sql.includes(part), part);
    assert.ok(!writes[0]!.sql.includes('derived_refresh('), 'the refresh is not in the write (D-356)');
  });
});
