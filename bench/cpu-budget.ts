// bench/cpu-budget: where the CPU of one ingested PP-PA Bundle goes, thread by thread (issue 19).
// A real server (`startServer`, validation on, the validation workers as `tddui serve` starts
// them) in THIS process on a fresh PostgreSQL database; the synthetic Bundles sent over HTTP by
// bench/http-sender in a process of its own, K in flight. After a warm-up, N Bundles are sent and
// each thread's CPU (`/proc/self/task/<tid>/stat`, utime + stime) is read before and after, with
// the database's backends (`/proc/<pid>/stat` of every backend of the database, the bench's own
// connection excluded) and the sender's process. Printed per Bundle (ms of CPU):
//   - the server's main thread (HTTP, the ingest pipeline, the write plan, the driver);
//   - the threads the server started (the validation workers);
//   - the threads the process had before the server started (V8's platform pool — its GC helpers
//     and compilers — and libuv's, when started): mostly garbage collection for the other two;
//   - PostgreSQL's backends; the HTTP client; and the sum, with Bundles/s and the cores it keeps busy.
// The machine's other load counts in none of them; a busy host stretches them all (caches).
//
//   node dist/bench/cpu-budget.js [--n=1000] [--concurrency=4] [--workers=<cores, at most 8>] [--runs=3]
//
// Each run is a fresh database and server; the medians over the runs are printed last.
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startServer } from '../src/server/app.js';
import { createTestDatabase } from '../src/storage/testing.js';
import { SHARED_FHIR } from '../src/testing/paths.js';
import { startSender } from './http-sender-client.js';
import { syntheticBundle } from './synthetic.js';

const arg = (name: string, dflt: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const N = arg('n', 1000);
const CONCURRENCY = arg('concurrency', 4);
const WORKERS = arg('workers', Math.min(8, availableParallelism()));
const RUNS = arg('runs', 3);
const WARMUP = 200;
const PG_ADMIN_URL = process.env.TDDUI_BENCH_PG_URL ?? process.env.TDDUI_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** CPU ms of a /proc stat file (utime + stime, in clock ticks of 10 ms). */
function statMs(path: string): number {
  try {
    const s = readFileSync(path, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0; // (a thread or backend that ended: counted up to its last reading)
  }
}
const threads = (): Map<string, number> => new Map(readdirSync('/proc/self/task').map((t) => [t, statMs(`/proc/self/task/${t}/stat`)]));

interface Budget { main: number; workers: number; early: number; pg: number; client: number; rate: number }

async function run(): Promise<Budget> {
  const db = await createTestDatabase({ adminUrl: PG_ADMIN_URL, prefix: 'tddui_bench_budget' });
  const before = new Set(readdirSync('/proc/self/task'));
  const srv = await startServer({ port: 0, host: '127.0.0.1', packages: [SHARED_FHIR], logLevel: 'warn', database: db.url, validationWorkers: WORKERS, limits: { readRate: 0, writeRate: 0 } });
  const probe = new pg.Client({ connectionString: db.url });
  await probe.connect();
  const sender = startSender(srv.url, CONCURRENCY);
  const send = async (n: number): Promise<number> => {
    await sender.load(Array.from({ length: n }, () => JSON.stringify(syntheticBundle())));
    const t0 = performance.now();
    await sender.go(CONCURRENCY);
    // (The derived tables' refresh of the last writes, D-356, is part of their cost.)
    await srv.repo.drainDerived();
    return performance.now() - t0;
  };
  const backends = async (): Promise<number> => {
    const { rows } = await probe.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
    return rows.reduce((s, r) => s + statMs(`/proc/${r.pid}/stat`), 0);
  };
  try {
    await send(WARMUP);
    const t0 = threads();
    const p0 = await backends();
    const c0 = statMs(`/proc/${sender.pid}/stat`);
    const ms = await send(N);
    const t1 = threads();
    const p1 = await backends();
    const c1 = statMs(`/proc/${sender.pid}/stat`);
    const b: Budget = { main: 0, workers: 0, early: 0, pg: (p1 - p0) / N, client: (c1 - c0) / N, rate: N / (ms / 1000) };
    for (const [tid, cpu] of t1) {
      const d = (cpu - (t0.get(tid) ?? 0)) / N;
      if (tid === String(process.pid)) b.main += d;
      else if (before.has(tid)) b.early += d;
      else b.workers += d;
    }
    return b;
  } finally {
    await sender.close();
    await probe.end();
    await srv.close();
    await db.drop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const runs: Budget[] = [];
const row = (label: string, b: Budget) => {
  const total = b.main + b.workers + b.early + b.pg + b.client;
  return `${label.padEnd(8)}${b.main.toFixed(2).padStart(8)}${b.workers.toFixed(2).padStart(10)}${b.early.toFixed(2).padStart(10)}${b.pg.toFixed(2).padStart(10)}${b.client.toFixed(2).padStart(9)}${total.toFixed(2).padStart(9)}${b.rate.toFixed(1).padStart(11)}${((total * b.rate) / 1000).toFixed(2).padStart(8)}`;
};
console.log(`CPU per ingested PP-PA Bundle (ms), ${N} Bundles after ${WARMUP} of warm-up, ${CONCURRENCY} in flight, ${WORKERS} validation workers, PostgreSQL, ${availableParallelism()} cores`);
console.log('run       main   workers  V8/libuv  Postgres   client    total  Bundles/s   cores');
for (let i = 0; i < RUNS; i++) {
  const b = await run();
  runs.push(b);
  console.log(row(String(i + 1), b));
}
const med: Budget = { main: 0, workers: 0, early: 0, pg: 0, client: 0, rate: 0 };
for (const k of Object.keys(med) as (keyof Budget)[]) med[k] = median(runs.map((r) => r[k]));
console.log(row('median', med));
console.log(`cpu-budget-ms-per-bundle: ${(med.main + med.workers + med.early + med.pg + med.client).toFixed(2)}`);
