// bench/ingest-growth: the honest ingestion figure (issue 19). A real server (`startServer`, the
// validation workers as `tddui serve` starts them, validation on) receives synthetic PP-PA
// Bundles — each a new usager — by `POST /fhir` over HTTP, on PostgreSQL (a fresh database) and
// on the embedded database ON DISK (a temporary folder), over a growth run of N Bundles; after
// every bucket of B Bundles the floor is measured in the same database on the same rows: one
// multi-row INSERT per Bundle of its resources (one JSONB row each) into a plain table, one
// Bundle after the other. Printed per bucket: resources/s ingested, resources/s of the floor,
// and the ratio; then the first and last bucket's throughput (is it flat as the data grows?).
//
// A second floor, "the same rows" (D-350), beside the issue's (which stays the headline): how
// much of the gap is the data model's own storage work and how much the server's. After each
// bucket's floor, every row the server wrote during the bucket — in every table of its schema,
// found in the catalogue, with its exact column values — is gathered by the transaction that
// wrote it (`xmin` newer than `txid_current()` noted before the bucket; a partitioned table read
// through its parent), not timed; then written again, timed, into shadow tables made once per
// run (`bench_rows_<t>`: LIKE <t> with its defaults, indexes, storage and compression; no
// triggers, functions, locks or lookups; seeded with the warm-up's rows): per writing
// transaction ONE statement (a CTE of multi-row INSERTs, one per table, values as parameters,
// one round trip), one transaction after the other on one connection. A row whose key the
// shadow already holds (a counter the server updated in place) is upserted (`ON CONFLICT DO
// UPDATE`); a statement past 65,535 parameters is cut into several in one transaction (counted
// in the output). The run throws if the gathering finds no row, if a table cannot be copied, or
// if the replay writes another number of rows than gathered.
//
// Knobs: --n=N Bundles per database (default 2,000; --n=10000 for the issue's 10,000 usagers),
// --bucket=B (default 1,000), --concurrency=K Bundles in flight over HTTP (default 4, as `tddui
// send`; the floors go one Bundle / transaction after the other on one connection),
// --db=pg|lite|both; --rows-breakdown: after the last bucket, that bucket's rows replayed table by
// table ALONE into fresh shadows, each table's share of the same-rows floor's time (and the
// round trip + commit every transaction pays); --same-rows-form=values|unnest|both: the
// same-rows statements with multi-row VALUES (default), or with one array per column through
// unnest, as the server's own write statement passes its rows, or both paired in each bucket
// (transaction by transaction, alternating, into two sets of shadows; the VALUES form's figures
// stay the main ones, the unnest form's are printed beside them).
//
// The HTTP client is a separate process (session 34): bench/http-sender, forked once per database,
// sends the Bundles with node:http and a keep-alive Agent (K sockets), reads every answer to its
// end, fails the run at the first non-200 and retries a request the network failed (a kept-alive
// connection reset by the server, ECONNRESET) up to 3 attempts, as before. Until then the client
// was undici's `fetch` in this very process: it shared the event loop (the main thread) of the
// server it measured — ~0.67 ms of CPU per 26 KB POST with a 16 KB answer (warm), against ~0.26
// ms for node:http with a keep-alive Agent (scratch measurement), taken from the server's main
// thread for every Bundle. The bodies of a bucket (JSON texts, made before the clock as before)
// go to the child by IPC before the clock starts; then 'go', and the clock runs until the child
// says the last answer came back and the derived refresh those writes left is drained (D-356:
// the server refreshes it after the writes), so the parent's timing covers the whole bucket (the
// child's own time is printed beside it at the end of the run).
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startServer, type RunningServer, type StartOptions } from '../src/server/app.js';
import { SHARED_FHIR } from '../src/testing/paths.js';
import pg from 'pg';
import { createTestDatabase, withDatabase } from '../src/storage/testing.js';
import type { Database, Queryable } from '../src/storage/types.js';
import { startSender, type Sender } from './http-sender-client.js';
import { syntheticBundle, TEMPLATE } from './synthetic.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function flag(name: string, dflt: string): string {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? arg.slice(name.length + 3) : dflt;
}
const N = Number(flag('n', '2000'));
const BUCKET = Number(flag('bucket', '1000'));
const CONCURRENCY = Number(flag('concurrency', '4'));
const DBS = flag('db', 'both');
const ROWS_BREAKDOWN = process.argv.includes('--rows-breakdown');
/**
 * How the same-rows floor passes the values: multi-row VALUES (default), one array per column
 * through unnest (as the server's own write statement does), or both, paired in the same bucket.
 */
type Form = 'values' | 'unnest';
const FORM = flag('same-rows-form', 'values');
if (FORM !== 'values' && FORM !== 'unnest' && FORM !== 'both') throw new Error(`--same-rows-form=${FORM}: values, unnest or both`);
const MAIN_FORM: Form = FORM === 'unnest' ? 'unnest' : 'values';
const PG_ADMIN_URL = process.env.TDDUI_BENCH_PG_URL ?? process.env.TDDUI_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const PER_BUNDLE = (JSON.parse(TEMPLATE) as Json).entry.length as number;

interface Bucket {
  upTo: number;
  ingest: number; // resources/s
  floor: number; // resources/s
  sameRows: number; // resources/s: the same-rows floor (D-350)
  /** With --same-rows-form=both: the unnest form's resources/s, paired with the VALUES form's. */
  sameRowsUnnest?: number;
}

/** One multi-row INSERT of a Bundle's resources (the floor). */
async function floorInsert(srv: RunningServer, bundle: Json): Promise<void> {
  const values: unknown[] = [];
  const rows = (bundle.entry as Json[]).map((e, i) => {
    values.push(e.resource.resourceType, e.resource.id, JSON.stringify(e.resource));
    return `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3}::jsonb)`;
  });
  await srv.repo.db.query(`INSERT INTO bench_floor (resource_type, resource_id, resource) VALUES ${rows.join(', ')}`, values);
}

// ---------------------------------------------------------------------------------------------
// The same-rows floor (D-350): the rows the server wrote, written again with nothing else.

/** A table of the server's schema and its shadow (`bench_rows_<t>`: same columns and indexes). */
interface ShadowTable {
  name: string;
  shadow: string;
  unlogged: boolean;
  columns: { name: string; type: string }[];
  /** The shadow's primary key (else its first plain unique index): the arbiter of an upsert. */
  key: string[] | undefined;
  indexes: number;
  /** The predicates of the table's partial indexes (a row is an entry of such an index only when it holds). */
  partial: string[];
}

/** The rows one writing transaction left in one table: new ones, and ones whose key the shadow already holds. */
interface TableRows {
  insert: (string | null)[][];
  upsert: (string | null)[][];
}

/** What the server wrote during a bucket, one entry per writing transaction (xmin), in xid order. */
interface Gathered {
  transactions: { xid: bigint; tables: Map<string, TableRows> }[];
  rows: number;
  perTable: Map<string, { rows: number; upserts: number; entries: number }>;
}

/** A transaction's replay: one statement, or several in one transaction past the parameter limit. */
interface Replay {
  statements: { sql: string; params: ((string | null) | (string | null)[])[] }[];
  rows: number;
}

const MAX_PARAMS = 65_535;
const ident = (s: string) => `"${s.replaceAll('"', '""')}"`;

/**
 * The tables of the server's schema from the catalogue (plain and partitioned, partitions
 * excluded: their parent reads them, xmin included; the benchmark's own `bench_*` tables
 * excluded), each with a shadow `CREATE TABLE bench_rows_<t> (LIKE <t> INCLUDING DEFAULTS
 * INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMPRESSION)` — the same columns (a generated
 * column becomes a plain one, given the value the server computed), the same indexes (unique ones
 * and the primary key included), the same TOAST compression (lz4 on the submission log where the
 * server has it); no triggers, no foreign keys, no checks. The shadow is seeded (not timed) with
 * what the table holds before the first bucket (the warm-up's rows), so that counters the server
 * updates in place find their row and the indexes grow as the server's do.
 */
async function createShadows(db: Queryable, prefix: string, seed: boolean): Promise<Map<string, ShadowTable>> {
  const tables = await db.query<{ name: string; persistence: string }>(
    `SELECT c.relname AS name, c.relpersistence AS persistence FROM pg_class c
      WHERE c.relnamespace = current_schema()::text::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND c.relname NOT LIKE 'bench\\_%' ORDER BY c.relname`,
  );
  if (tables.rows.length === 0) throw new Error('same-rows floor: no table found in the server schema');
  const out = new Map<string, ShadowTable>();
  for (const t of tables.rows) {
    const shadow = `${prefix}${t.name}`;
    if (shadow.length > 63) throw new Error(`same-rows floor: shadow name ${shadow} too long for table ${t.name}`);
    const unlogged = t.persistence === 'u';
    try {
      await db.query(`CREATE ${unlogged ? 'UNLOGGED ' : ''}TABLE ${ident(shadow)} (LIKE ${ident(t.name)} INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMPRESSION)`);
      if (seed) await db.query(`INSERT INTO ${ident(shadow)} SELECT * FROM ${ident(t.name)}`);
    } catch (e) {
      throw new Error(`same-rows floor: table ${t.name} cannot be copied to ${shadow}: ${(e as Error).message}`);
    }
    const columns = await db.query<{ name: string; type: string }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [shadow],
    );
    const shadowColumns = columns.rows.map((c) => c.name).join(',');
    const sourceColumns = (await db.query<{ name: string }>(`SELECT attname AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, [t.name])).rows.map((c) => c.name).join(',');
    if (shadowColumns !== sourceColumns) throw new Error(`same-rows floor: ${shadow} does not have the columns of ${t.name}`);
    const key = await db.query<{ cols: string[] }>(
      `SELECT array_agg(a.attname::text ORDER BY k.ord) AS cols
         FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL AND k.ord <= i.indnkeyatts
        GROUP BY i.indexrelid, i.indisprimary ORDER BY i.indisprimary DESC, i.indexrelid LIMIT 1`,
      [shadow],
    );
    const indexes = Number((await db.query<{ n: string | number }>('SELECT count(*) AS n FROM pg_index WHERE indrelid = $1::regclass', [shadow])).rows[0]!.n);
    // Read from the server's table (the shadow's copies say the same): a partial index holds
    // only the rows its predicate accepts, so the index entries are counted per predicate.
    const partial = (await db.query<{ p: string }>('SELECT pg_get_expr(indpred, indrelid) AS p FROM pg_index WHERE indrelid = $1::regclass AND indpred IS NOT NULL ORDER BY indexrelid', [t.name])).rows.map((r) => r.p);
    out.set(t.name, { name: t.name, shadow, unlogged, columns: columns.rows, key: key.rows[0]?.cols, indexes, partial });
  }
  return out;
}

/** The database's current transaction id (assigns one): every row written after it has a newer xmin. */
async function currentXid(db: Queryable): Promise<bigint> {
  return BigInt((await db.query<{ x: string | number }>('SELECT txid_current()::text AS x')).rows[0]!.x);
}

/**
 * Every row of the server's tables whose xmin (the transaction that wrote this version) is newer
 * than `since`, with its exact column values as text, grouped by that transaction. Not timed. A
 * row the server inserted and another transaction updated later shows once, under the later one;
 * a row inserted and deleted within the bucket does not show. A row whose key the shadow already
 * holds (a counter updated in place, a derived row replaced) is an upsert in the replay.
 */
async function gather(db: Queryable, shadows: Map<string, ShadowTable>, since: bigint): Promise<Gathered> {
  // xmin is the 32-bit xid; txid_current() carries the epoch above it (no wraparound in a run).
  const since32 = since & 0xffffffffn;
  const byXid = new Map<bigint, Map<string, TableRows>>();
  const perTable = new Map<string, { rows: number; upserts: number; entries: number }>();
  let rows = 0;
  for (const t of shadows.values()) {
    const present = t.key ? `EXISTS (SELECT 1 FROM ${ident(t.shadow)} s WHERE ${t.key.map((k) => `s.${ident(k)} = t.${ident(k)}`).join(' AND ')})` : 'false';
    const res = await db.query<{ x: string; present: boolean; v: (string | null)[] }>(
      `SELECT t.xmin::text AS x, ${present} AS present, ARRAY[${t.columns.map((c) => `t.${ident(c.name)}::text`).join(', ')}] AS v
         FROM ${ident(t.name)} t WHERE t.xmin::text::bigint > $1::bigint`,
      [since32.toString()],
    );
    if (res.rows.length === 0) continue;
    let upserts = 0;
    for (const r of res.rows) {
      if (r.v.length !== t.columns.length) throw new Error(`same-rows floor: ${t.name}: ${r.v.length} values for ${t.columns.length} columns`);
      const xid = BigInt(r.x);
      let tables = byXid.get(xid);
      if (!tables) byXid.set(xid, (tables = new Map()));
      let tr = tables.get(t.name);
      if (!tr) tables.set(t.name, (tr = { insert: [], upsert: [] }));
      (r.present ? tr.upsert : tr.insert).push(r.v);
      if (r.present) upserts++;
    }
    // Index entries: every row in each full index, the rows its predicate accepts in each partial one.
    let entries = res.rows.length * (t.indexes - t.partial.length);
    if (t.partial.length) {
      const counts = await db.query<Record<string, string | number>>(
        `SELECT ${t.partial.map((p, n) => `count(*) FILTER (WHERE ${p}) AS p${n}`).join(', ')} FROM ${ident(t.name)} WHERE xmin::text::bigint > $1::bigint`,
        [since32.toString()],
      );
      for (let n = 0; n < t.partial.length; n++) entries += Number(counts.rows[0]![`p${n}`]);
    }
    perTable.set(t.name, { rows: res.rows.length, upserts, entries });
    rows += res.rows.length;
  }
  if (rows === 0) throw new Error('same-rows floor: the gathering found no row written by the server in this bucket');
  const transactions = [...byXid.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([xid, tables]) => ({ xid, tables }));
  return { transactions, rows, perTable };
}

/**
 * One writing transaction's rows as ONE statement — a CTE of multi-row INSERTs per table (an
 * `ON CONFLICT (key) DO UPDATE` for the rows whose key the shadow holds), the values as
 * parameters (text, cast to the column's type), one round trip — counting the rows it wrote.
 * Past 65,535 parameters the rows are cut into several such statements, sent in one transaction.
 */
function replayOf(shadows: Map<string, ShadowTable>, tables: Map<string, TableRows>, form: Form, only?: string): Replay {
  interface Part {
    t: ShadowTable;
    upsert: boolean;
    rows: (string | null)[][];
  }
  const parts: Part[] = [];
  for (const [name, tr] of tables) {
    if (only !== undefined && name !== only) continue;
    const t = shadows.get(name);
    if (!t) throw new Error(`same-rows floor: no shadow for table ${name}`);
    const per = Math.floor(MAX_PARAMS / t.columns.length);
    for (const [upsert, all] of [[false, tr.insert], [true, tr.upsert]] as const) {
      for (let i = 0; i < all.length; i += per) parts.push({ t, upsert, rows: all.slice(i, i + per) });
    }
  }
  const statements: Replay['statements'] = [];
  let rows = 0;
  let batch: Part[] = [];
  let used = 0;
  const flush = () => {
    if (batch.length === 0) return;
    const params: ((string | null) | (string | null)[])[] = [];
    const ctes = batch.map((p, n) => {
      let sql = `w${n} AS (INSERT INTO ${ident(p.t.shadow)} (${p.t.columns.map((c) => ident(c.name)).join(', ')}) `;
      if (form === 'unnest') {
        // One text[] parameter per column, its elements cast to the column's type.
        const arrays = p.t.columns.map((_, i) => (params.push(p.rows.map((r) => r[i]!)), `$${params.length}::text[]`));
        sql += `SELECT ${p.t.columns.map((c, i) => `u.c${i}::${c.type}`).join(', ')} FROM unnest(${arrays.join(', ')}) AS u(${p.t.columns.map((_, i) => `c${i}`).join(', ')})`;
      } else {
        sql += `VALUES ${p.rows.map((r) => `(${r.map((v, i) => (params.push(v), `$${params.length}::text::${p.t.columns[i]!.type}`)).join(', ')})`).join(', ')}`;
      }
      if (p.upsert) {
        const key = p.t.key!;
        const rest = p.t.columns.map((c) => c.name).filter((c) => !key.includes(c));
        sql += ` ON CONFLICT (${key.map(ident).join(', ')}) DO UPDATE SET ${(rest.length ? rest : key).map((c) => `${ident(c)} = EXCLUDED.${ident(c)}`).join(', ')}`;
      }
      return `${sql} RETURNING 1)`;
    });
    statements.push({ sql: `WITH ${ctes.join(',\n')} SELECT (${batch.map((_, n) => `(SELECT count(*) FROM w${n})`).join(' + ')})::int AS n`, params });
    batch = [];
    used = 0;
  };
  for (const p of parts) {
    const n = form === 'unnest' ? p.t.columns.length : p.rows.length * p.t.columns.length;
    if (used + n > MAX_PARAMS) flush();
    batch.push(p);
    used += n;
    rows += p.rows.length;
  }
  flush();
  return { statements, rows };
}

/** Runs one transaction's replay: its one statement, or its statements in one transaction; returns the rows written. */
async function runReplay(db: Database, r: Replay): Promise<number> {
  if (r.statements.length === 1) {
    const s = r.statements[0]!;
    return Number((await db.query<{ n: number }>(s.sql, s.params)).rows[0]!.n);
  }
  return db.transaction(async (tx) => {
    let rows = 0;
    for (const s of r.statements) rows += Number((await tx.query<{ n: number }>(s.sql, s.params)).rows[0]!.n);
    return rows;
  });
}

/** Runs the replays one transaction after the other on one connection; returns ms and the rows written. */
async function runReplays(db: Database, replays: Replay[]): Promise<{ ms: number; rows: number; split: number }> {
  let rows = 0;
  const t0 = performance.now();
  for (const r of replays) rows += await runReplay(db, r);
  return { ms: performance.now() - t0, rows, split: replays.filter((r) => r.statements.length > 1).length };
}

interface Breakdown {
  transactions: number;
  bundles: number;
  /** The bucket's same-rows floor, timed with the bucket. */
  sameRowsMs: number;
  /** The same statements again, interleaved with the tables alone (fresh shadows): the shares' reference. */
  jointMs: number;
  commitMs: number;
  tables: { name: string; rows: number; indexes: number; transactions: number; ms: number }[];
}

async function growth(label: string, srv: RunningServer): Promise<{ buckets: Bucket[]; breakdown?: Breakdown }> {
  const db = srv.repo.db;
  await db.query('CREATE TABLE bench_floor (id bigserial PRIMARY KEY, resource_type text NOT NULL, resource_id text NOT NULL, resource jsonb NOT NULL)');
  await srv.validationPool?.whenReady();
  // The client process, for the warm-up and every bucket of this database.
  const sender = startSender(srv.url, CONCURRENCY);
  try {
    return await growthWith(label, srv, sender);
  } finally {
    await sender.close();
  }
}

async function growthWith(label: string, srv: RunningServer, sender: Sender): Promise<{ buckets: Bucket[]; breakdown?: Breakdown }> {
  const db = srv.repo.db;
  // Warm-up: the validators (main thread and workers) and the connection, not counted; through
  // the same client, one Bundle after the other.
  await sender.load(Array.from({ length: 40 }, () => JSON.stringify(syntheticBundle())));
  retries += (await sender.go(1)).retries;
  // The shadows of the same-rows floor, seeded with the warm-up's rows (not timed).
  const shadows = await createShadows(db, 'bench_rows_', true);
  // With both forms, the second form writes into shadows of its own, seeded alike.
  const shadowsUnnest = FORM === 'both' ? await createShadows(db, 'bench_rowsu_', true) : undefined;
  const buckets: Bucket[] = [];
  let last: { gathered: Gathered; sameRowsMs: number; bundles: number } | undefined;
  let clientMs = 0;
  let timedMs = 0;
  for (let done = 0; done < N; done += BUCKET) {
    const size = Math.min(BUCKET, N - done);
    // Making and serialising the Bundles is the client's work: done before the clock starts, so
    // the timed loop only sends JSON text. The floor below keeps its own client work in its time
    // (JSON.stringify of each resource into a parameter), as a client of the plain table would.
    const bundles = Array.from({ length: size }, syntheticBundle);
    // The bodies go to the client process before the clock (IPC not timed); the clock runs from
    // 'go' to the client's answer that the last Bundle's answer was read.
    await sender.load(bundles.map((b) => JSON.stringify(b)));
    const since = await currentXid(db);
    const t0 = performance.now();
    const sent = await sender.go(CONCURRENCY);
    retries += sent.retries;
    // The derived refresh the bucket's writes left for the drain (D-356) is ingestion's work too:
    // in the time, and its rows in the same-rows floor below.
    await srv.repo.drainDerived();
    const elapsed = performance.now() - t0;
    clientMs += sent.ms;
    timedMs += elapsed;
    const ingest = (size * PER_BUNDLE) / (elapsed / 1000);
    const t1 = performance.now();
    for (const b of bundles) await floorInsert(srv, b);
    const floor = (size * PER_BUNDLE) / ((performance.now() - t1) / 1000);
    // The same-rows floor: gathered and made into statements untimed, then replayed timed.
    const gathered = await gather(db, shadows, since);
    if (done === 0) rowsPerBundle(label, shadows, gathered, size);
    const replays = gathered.transactions.map((t) => replayOf(shadows, t.tables, MAIN_FORM));
    let replayed: { ms: number; rows: number; split: number };
    let sameRowsUnnest: number | undefined;
    if (shadowsUnnest) {
      // Paired: transaction by transaction, both forms, in alternating order.
      const other = gathered.transactions.map((t) => replayOf(shadowsUnnest, t.tables, 'unnest'));
      let ms = 0;
      let msUnnest = 0;
      let rows = 0;
      let rowsUnnest = 0;
      for (const [i, r] of replays.entries()) {
        for (const form of i % 2 === 0 ? (['values', 'unnest'] as const) : (['unnest', 'values'] as const)) {
          const t0 = performance.now();
          if (form === 'values') {
            rows += await runReplay(db, r);
            ms += performance.now() - t0;
          } else {
            rowsUnnest += await runReplay(db, other[i]!);
            msUnnest += performance.now() - t0;
          }
        }
      }
      if (rowsUnnest !== gathered.rows) throw new Error(`${label}: the same-rows floor (unnest) wrote ${rowsUnnest} rows for ${gathered.rows} gathered`);
      replayed = { ms, rows, split: replays.filter((r) => r.statements.length > 1).length };
      sameRowsUnnest = (size * PER_BUNDLE) / (msUnnest / 1000);
    } else {
      replayed = await runReplays(db, replays);
    }
    if (replayed.rows !== gathered.rows) throw new Error(`${label}: the same-rows floor wrote ${replayed.rows} rows for ${gathered.rows} gathered`);
    const sameRows = (size * PER_BUNDLE) / (replayed.ms / 1000);
    last = { gathered, sameRowsMs: replayed.ms, bundles: size };
    buckets.push({ upTo: done + size, ingest, floor, sameRows, sameRowsUnnest });
    const upserts = [...gathered.perTable.values()].reduce((a, t) => a + t.upserts, 0);
    process.stderr.write(
      `  ${label}: Bundles ${done + 1}–${done + size}: ingest ${ingest.toFixed(0)} resources/s, floor ${floor.toFixed(0)} resources/s, ratio ${(ingest / floor).toFixed(3)}; ` +
        `same-rows floor ${sameRows.toFixed(0)} resources/s (${gathered.rows} rows = ${replayed.rows} written, ${upserts} of them upserts, ${gathered.transactions.length} transactions, ${replayed.split} split past ${MAX_PARAMS} parameters), ingest/same-rows ${(ingest / sameRows).toFixed(3)}` +
        (sameRowsUnnest ? `; paired, the unnest form ${sameRowsUnnest.toFixed(0)} resources/s (VALUES time ÷ unnest time ${(sameRowsUnnest / sameRows).toFixed(3)})` : '') +
        '\n',
    );
  }
  if (retries) process.stderr.write(`  ${label}: ${retries} request(s) retried after a network error\n`);
  process.stderr.write(`  ${label}: the HTTP client (bench/http-sender, a child process, node:http): ${clientMs.toFixed(0)} ms of its own over the buckets, ${timedMs.toFixed(0)} ms timed here (with the drain of the derived refresh after the last answer, D-356)\n`);
  await statisticsLine(label, srv);
  const patients = Number((await db.query<{ n: string | number }>("SELECT count(*) AS n FROM resource WHERE resource_type = 'Patient'")).rows[0]!.n);
  if (patients !== N + 40) throw new Error(`${label}: ${patients} Patients stored for ${N + 40} synthetic usagers`);
  return { buckets, breakdown: ROWS_BREAKDOWN && last ? await breakdown(label, db, last) : undefined };
}

/** The gathered rows per Bundle, table by table (once per run: the sanity check of the gathering). */
function rowsPerBundle(label: string, shadows: Map<string, ShadowTable>, g: Gathered, bundles: number): void {
  const lines = [...g.perTable.entries()]
    .sort((a, b) => b[1].rows - a[1].rows)
    .map(([name, t]) => `    ${name.padEnd(24)} ${(t.rows / bundles).toFixed(2).padStart(7)} rows/Bundle  ${String(shadows.get(name)!.indexes).padStart(2)} indexes${shadows.get(name)!.partial.length ? ` (${shadows.get(name)!.partial.length} partial)` : ''} ${(t.entries / bundles).toFixed(2).padStart(7)} index entries/Bundle${t.upserts ? `  (${(t.upserts / bundles).toFixed(2)} upserted: key already there)` : ''}`);
  const idx = [...g.perTable.values()].reduce((a, t) => a + t.entries, 0);
  // Which tables the writing transactions touch, by kind: the Bundle's write, and any other.
  const kinds = new Map<string, number>();
  for (const t of g.transactions) {
    const kind = [...t.tables.keys()].sort().join(' ');
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  const kindLines = [...kinds.entries()].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `    ${String(n).padStart(5)} × ${kind}`);
  process.stderr.write(
    `  ${label}: rows the server wrote in the first bucket, per Bundle (${(g.transactions.length / bundles).toFixed(2)} writing transactions/Bundle; ${(g.rows / bundles).toFixed(1)} rows and ${(idx / bundles).toFixed(1)} index entries/Bundle):\n${lines.join('\n')}\n` +
      `  ${label}: the writing transactions of the first bucket, by the tables they wrote:\n${kindLines.join('\n')}\n`,
  );
}

/**
 * `--rows-breakdown`: the last bucket's rows replayed table by table ALONE, each into a fresh
 * shadow (`bench_alone_<t>`, empty), one statement per writing transaction that has rows in it;
 * and a one-row INSERT per transaction into an index-less table (the round trip and commit every
 * statement pays). Each table's time against the same-rows statements of all tables run again in
 * the same loop into fresh shadows (`bench_joint_<t>`): the bucket's own same-rows time was taken
 * earlier, under another load, and a 2-core host shared with others drifts by more than the
 * shares between the two.
 */
async function breakdown(label: string, db: Database, last: { gathered: Gathered; sameRowsMs: number; bundles: number }): Promise<Breakdown> {
  const alone = await createShadows(db, 'bench_alone_', false);
  const joint = await createShadows(db, 'bench_joint_', false);
  await db.query('CREATE TABLE bench_alone__commit (x integer)');
  // Interleaved: transaction by transaction, the same-rows statement of all tables again (into
  // fresh shadows too: the reference the shares are of), each table's statement alone, then the
  // one-row INSERT — so that a host whose load changes during the breakdown weighs on all alike.
  const byTable = new Map<string, { ms: number; rows: number; transactions: number }>();
  let commitMs = 0;
  let jointMs = 0;
  let jointRows = 0;
  for (const [i, x] of last.gathered.transactions.entries()) {
    const t1 = performance.now();
    jointRows += await runReplay(db, replayOf(joint, x.tables, MAIN_FORM));
    jointMs += performance.now() - t1;
    for (const name of x.tables.keys()) {
      const replay = replayOf(alone, x.tables, MAIN_FORM, name);
      const t0 = performance.now();
      const rows = await runReplay(db, replay);
      const ms = performance.now() - t0;
      const t = byTable.get(name) ?? { ms: 0, rows: 0, transactions: 0 };
      byTable.set(name, { ms: t.ms + ms, rows: t.rows + rows, transactions: t.transactions + 1 });
    }
    const t0 = performance.now();
    await db.query('INSERT INTO bench_alone__commit (x) VALUES ($1)', [i]);
    commitMs += performance.now() - t0;
  }
  if (jointRows !== last.gathered.rows) throw new Error(`${label}: the breakdown's same-rows statements wrote ${jointRows} rows for ${last.gathered.rows} gathered`);
  const tables: Breakdown['tables'] = [];
  for (const [name, t] of last.gathered.perTable) {
    const r = byTable.get(name);
    if (r?.rows !== t.rows) throw new Error(`${label}: ${name} alone wrote ${r?.rows ?? 0} rows for ${t.rows} gathered`);
    tables.push({ name, rows: t.rows, indexes: alone.get(name)!.indexes, transactions: r.transactions, ms: r.ms });
  }
  return { transactions: last.gathered.transactions.length, bundles: last.bundles, sameRowsMs: last.sameRowsMs, jointMs, commitMs, tables: tables.sort((a, b) => b.ms - a.ms) };
}

/**
 * What the server's statistics passes cost over the run (storage/statistics.ts, D-310): its own
 * count and wall time, and on PostgreSQL the VACUUM / ANALYZE statements of this database in
 * pg_stat_statements when the cluster loads it (warm-up and floor buckets included).
 */
async function statisticsLine(label: string, srv: RunningServer): Promise<void> {
  const k = (srv.repo as { statistics?: { idle(): Promise<void>; analyses: number; looks?: number; tablesVacuumed?: number; tablesAnalysed?: number; passMs?: number } }).statistics;
  if (!k) return;
  await k.idle();
  let statements = '';
  if (srv.repo.db.kind === 'postgres') {
    // The view is in the `postgres` database (where the extension is created); filtered by this database.
    const name = (await srv.repo.db.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d;
    const c = new pg.Client({ connectionString: withDatabase(PG_ADMIN_URL, 'postgres') });
    try {
      await c.connect();
      const r = await c.query<{ calls: string; ms: number }>(
        `SELECT coalesce(sum(calls), 0) AS calls, coalesce(sum(total_exec_time), 0)::float8 AS ms FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) AND query ~* '^\\s*(VACUUM|ANALYZE)'`,
        [name],
      );
      statements = `; pg_stat_statements: ${r.rows[0]!.calls} VACUUM/ANALYZE statements, ${Number(r.rows[0]!.ms).toFixed(0)} ms`;
    } catch {
      // pg_stat_statements not loaded
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  process.stderr.write(
    `  ${label}: statistics passes ${k.analyses} (looks ${k.looks ?? '-'}, tables vacuumed ${k.tablesVacuumed ?? '-'}, analysed ${k.tablesAnalysed ?? '-'}), ${k.passMs?.toFixed(0) ?? '-'} ms of VACUUM/ANALYZE (wall)${statements}\n`,
  );
}

/** A fresh database on the benchmark's PostgreSQL, dropped at the end. */
function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  return createTestDatabase({ adminUrl: PG_ADMIN_URL, prefix: 'tddui_bench_growth' });
}

let retries = 0;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const results: { label: string; buckets: Bucket[]; breakdown?: Breakdown }[] = [];
  // As `tddui serve` starts it: validation workers `auto` (one per core, at most 8).
  const common: StartOptions = { port: 0, host: '127.0.0.1', packages: [SHARED_FHIR], logLevel: 'warn', limits: { readRate: 0, writeRate: 0 }, validationWorkers: Math.min(8, availableParallelism()) };
  if (DBS !== 'lite') {
    const db = await createDatabase();
    try {
      const srv = await startServer({ ...common, database: db.url });
      try {
        results.push({ label: 'PostgreSQL', ...(await growth('PostgreSQL', srv)) });
      } finally {
        await srv.close();
      }
    } finally {
      await db.drop();
    }
  }
  if (DBS !== 'pg') {
    const dir = mkdtempSync(join(tmpdir(), 'h1-bench-growth-'));
    try {
      const srv = await startServer({ ...common, dataDir: dir });
      try {
        results.push({ label: 'embedded (on disk)', ...(await growth('embedded (on disk)', srv)) });
      } finally {
        await srv.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`\nIngestion over HTTP (POST /fhir, validation on, ${CONCURRENCY} in flight) of ${N} synthetic PP-PA Bundles (${PER_BUNDLE} resources, each a new usager), against a multi-row INSERT per Bundle of the same rows in the same database (floor), per bucket of ${BUCKET}`);
  console.log('and against the same-rows floor (D-350): every row the server wrote in the bucket, written again into shadow tables with the same columns and indexes, one statement per writing transaction');
  console.log('database              Bundles      ingest res/s  floor res/s  same-rows res/s  ingest/floor  ingest/same-rows  same-rows/floor');
  for (const r of results) {
    for (const b of r.buckets) {
      console.log(
        `${r.label.padEnd(20)}  ${String(b.upTo).padStart(7)}  ${b.ingest.toFixed(0).padStart(12)}  ${b.floor.toFixed(0).padStart(11)}  ${b.sameRows.toFixed(0).padStart(15)}  ${(b.ingest / b.floor).toFixed(3).padStart(12)}  ${(b.ingest / b.sameRows).toFixed(3).padStart(16)}  ${(b.sameRows / b.floor).toFixed(3).padStart(15)}`,
      );
    }
  }
  for (const r of results) {
    const k = r.breakdown;
    if (!k) continue;
    console.log(`\n${r.label}: the same-rows floor table by table (--rows-breakdown), the last bucket's ${k.bundles} Bundles, ${k.transactions} writing transactions: each table's rows ALONE into a fresh shadow, one statement per transaction that has rows in it`);
    console.log(
      `same-rows floor, all tables together, interleaved with the tables alone: ${k.jointMs.toFixed(0)} ms (${(k.jointMs / k.bundles).toFixed(2)} ms/Bundle; in the bucket's own timing ${k.sameRowsMs.toFixed(0)} ms)`,
    );
    console.log('table                        rows/Bundle  indexes  transactions  ms alone  share of the same-rows floor  beyond its round trips + commits');
    const perTransaction = k.commitMs / k.transactions;
    let beyond = 0;
    for (const t of k.tables) {
      const own = t.ms - perTransaction * t.transactions;
      beyond += own;
      console.log(
        `${t.name.padEnd(27)}  ${(t.rows / k.bundles).toFixed(2).padStart(11)}  ${String(t.indexes).padStart(7)}  ${String(t.transactions).padStart(12)}  ${t.ms.toFixed(0).padStart(8)}  ${((100 * t.ms) / k.jointMs).toFixed(1).padStart(26)} %  ${((100 * own) / k.jointMs).toFixed(1).padStart(30)} %`,
      );
    }
    console.log(`${'round trip + commit (a one-row INSERT per transaction)'.padEnd(63)}  ${String(k.transactions).padStart(12)}  ${k.commitMs.toFixed(0).padStart(8)}  ${((100 * k.commitMs) / k.jointMs).toFixed(1).padStart(26)} %`);
    console.log(`sum: the tables beyond their round trips + commits, plus one round trip + commit per transaction: ${(((beyond + k.commitMs) / k.jointMs) * 100).toFixed(0)} % of the same-rows floor`);
    console.log('(each table alone pays its own round trips and commits, so the shares add up to more than 100 %; the last column takes off what the one-row INSERT costs per transaction)');
  }
  console.log('');
  for (const r of results) {
    const key = r.label.startsWith('Postgre') ? 'pg' : 'lite';
    const first = r.buckets[0]!;
    const last = r.buckets.at(-1)!;
    console.log(`growth-${key}-first-bucket-resources-per-second: ${first.ingest.toFixed(0)}`);
    console.log(`growth-${key}-last-bucket-resources-per-second: ${last.ingest.toFixed(0)}`);
    console.log(`growth-${key}-last-vs-first: ${(last.ingest / first.ingest).toFixed(2)}`);
    console.log(`growth-${key}-ratio-vs-multirow-insert: ${median(r.buckets.map((b) => b.ingest / b.floor)).toFixed(3)}`);
    console.log(`growth-${key}-ratio-vs-same-rows: ${median(r.buckets.map((b) => b.ingest / b.sameRows)).toFixed(3)}`);
    console.log(`growth-${key}-same-rows-vs-multirow-insert: ${median(r.buckets.map((b) => b.sameRows / b.floor)).toFixed(3)}`);
    if (FORM === 'both') {
      console.log(`growth-${key}-ratio-vs-same-rows-unnest: ${median(r.buckets.map((b) => b.ingest / b.sameRowsUnnest!)).toFixed(3)}`);
      console.log(`growth-${key}-same-rows-values-time-vs-unnest: ${median(r.buckets.map((b) => b.sameRowsUnnest! / b.sameRows)).toFixed(3)}`);
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
