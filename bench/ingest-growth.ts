// bench/ingest-growth: the honest ingestion figure (issue 19). A real server (`startServer`, the
// validation workers as `tddui serve` starts them, validation on) receives synthetic PP-PA
// Bundles — each a new usager — by `POST /fhir` over HTTP, on PostgreSQL (a fresh database) and
// on the embedded database ON DISK (a temporary folder), over a growth run of N Bundles; after
// every bucket of B Bundles the floor is measured in the same database on the same rows: one
// multi-row INSERT per Bundle of its resources (one JSONB row each) into a plain table, one
// Bundle after the other. Printed per bucket: resources/s ingested, resources/s of the floor,
// and the ratio; then the first and last bucket's throughput (is it flat as the data grows?).
//
// Knobs: --n=N Bundles per database (default 2,000; --n=10000 for the 10,000 usagers),
// --bucket=B (default 1,000), --concurrency=K Bundles in flight over HTTP (default 4, as `tddui
// send`; the floor goes one Bundle after the other on one connection), --db=pg|lite|both.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startServer, type RunningServer, type StartOptions } from '../src/server/app.js';
import { SHARED_FHIR } from '../src/testing/paths.js';
import pg from 'pg';
import { createTestDatabase, withDatabase } from '../src/storage/testing.js';
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
const PG_ADMIN_URL = process.env.TDDUI_BENCH_PG_URL ?? process.env.TDDUI_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const PER_BUNDLE = (JSON.parse(TEMPLATE) as Json).entry.length as number;

interface Bucket {
  upTo: number;
  ingest: number; // resources/s
  floor: number; // resources/s
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

/** POSTs one Bundle already serialised to JSON text (the client's work, done by the caller). */
async function post(url: string, body: string): Promise<void> {
  // A kept-alive connection the server closed as it was reused (ECONNRESET) is retried, as
  // `tddui send` does: a resend of the same Bundle is harmless (the no-op rule).
  let res: Response;
  for (let attempt = 1; ; attempt++) {
    try {
      res = await fetch(`${url}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body });
      break;
    } catch (e) {
      if (attempt >= 3) throw e;
      retries++;
    }
  }
  const text = await res.text();
  if (res.status !== 200) throw new Error(`rejected ${res.status}: ${text.slice(0, 600)}`);
}

async function growth(label: string, srv: RunningServer): Promise<Bucket[]> {
  await srv.repo.db.query('CREATE TABLE bench_floor (id bigserial PRIMARY KEY, resource_type text NOT NULL, resource_id text NOT NULL, resource jsonb NOT NULL)');
  // Warm-up: the validators (main thread and workers) and the connection, not counted.
  await srv.validationPool?.whenReady();
  for (let i = 0; i < 40; i++) await post(srv.url, JSON.stringify(syntheticBundle()));
  const buckets: Bucket[] = [];
  for (let done = 0; done < N; done += BUCKET) {
    const size = Math.min(BUCKET, N - done);
    // Making and serialising the Bundles is the client's work: done before the clock starts, so
    // the timed loop only sends JSON text. The floor below keeps its own client work in its time
    // (JSON.stringify of each resource into a parameter), as a client of the plain table would.
    const bundles = Array.from({ length: size }, syntheticBundle);
    const bodies = bundles.map((b) => JSON.stringify(b));
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < bodies.length) await post(srv.url, bodies[next++]!);
      }),
    );
    const ingest = (size * PER_BUNDLE) / ((performance.now() - t0) / 1000);
    const t1 = performance.now();
    for (const b of bundles) await floorInsert(srv, b);
    const floor = (size * PER_BUNDLE) / ((performance.now() - t1) / 1000);
    buckets.push({ upTo: done + size, ingest, floor });
    process.stderr.write(`  ${label}: Bundles ${done + 1}–${done + size}: ingest ${ingest.toFixed(0)} resources/s, floor ${floor.toFixed(0)} resources/s, ratio ${(ingest / floor).toFixed(3)}\n`);
  }
  if (retries) process.stderr.write(`  ${label}: ${retries} request(s) retried after a network error\n`);
  await statisticsLine(label, srv);
  const patients = Number((await srv.repo.db.query<{ n: string | number }>("SELECT count(*) AS n FROM resource WHERE resource_type = 'Patient'")).rows[0]!.n);
  if (patients !== N + 40) throw new Error(`${label}: ${patients} Patients stored for ${N + 40} synthetic usagers`);
  return buckets;
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
  const results: { label: string; buckets: Bucket[] }[] = [];
  // As `tddui serve` starts it: validation workers `auto` (one per core, at most 8).
  const common: StartOptions = { port: 0, host: '127.0.0.1', packages: [SHARED_FHIR], logLevel: 'warn', limits: { readRate: 0, writeRate: 0 }, validationWorkers: Math.min(8, availableParallelism()) };
  if (DBS !== 'lite') {
    const db = await createDatabase();
    try {
      const srv = await startServer({ ...common, database: db.url });
      try {
        results.push({ label: 'PostgreSQL', buckets: await growth('PostgreSQL', srv) });
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
        results.push({ label: 'embedded (on disk)', buckets: await growth('embedded (on disk)', srv) });
      } finally {
        await srv.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`\nIngestion over HTTP (POST /fhir, validation on, ${CONCURRENCY} in flight) of ${N} synthetic PP-PA Bundles (${PER_BUNDLE} resources, each a new usager), against a multi-row INSERT per Bundle of the same rows in the same database, per bucket of ${BUCKET}`);
  console.log('database              Bundles      ingest res/s  floor res/s  ratio');
  for (const r of results) for (const b of r.buckets) console.log(`${r.label.padEnd(20)}  ${String(b.upTo).padStart(7)}  ${b.ingest.toFixed(0).padStart(12)}  ${b.floor.toFixed(0).padStart(11)}  ${(b.ingest / b.floor).toFixed(3)}`);
  console.log('');
  for (const r of results) {
    const key = r.label.startsWith('Postgre') ? 'pg' : 'lite';
    const first = r.buckets[0]!;
    const last = r.buckets.at(-1)!;
    console.log(`growth-${key}-first-bucket-resources-per-second: ${first.ingest.toFixed(0)}`);
    console.log(`growth-${key}-last-bucket-resources-per-second: ${last.ingest.toFixed(0)}`);
    console.log(`growth-${key}-last-vs-first: ${(last.ingest / first.ingest).toFixed(2)}`);
    console.log(`growth-${key}-ratio-vs-multirow-insert: ${median(r.buckets.map((b) => b.ingest / b.floor)).toFixed(3)}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
