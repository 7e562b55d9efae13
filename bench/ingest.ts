// bench/ingest: ingestion of N synthetic usagers' transaction Bundles through ingestTransaction,
// on PostgreSQL (a fresh database) and on the embedded PGlite (in memory), validation on and
// off, next to the floor: raw `pg` INSERTs of the same resources (one JSONB row per resource,
// one transaction per Bundle) into a plain table of the same PostgreSQL database, same run.
//
// Synthetic usagers: the official PP-PA Bundle with the local usager id 3480787529/123456789
// replaced by a unique one (every business identifier is derived from it), and unique
// resource ids / fullUrls / references. Scenarios run in small interleaved blocks (on, off,
// raw, on, off, raw...) so that machine noise hits all alike; throughput is the median block.
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { ingestTransaction, type IngestContext } from '../src/ingest/index.js';
import { openRepository } from '../src/storage/index.js';
import type { Repository } from '../src/storage/types.js';
import { TdduiValidator } from '../src/tddui/validator.js';
import { ValidationPool } from '../src/server/validation-pool.js';
import { DEFAULT_LIMITS } from '../src/server/limits.js';
import { SHARED_FHIR } from '../src/testing/paths.js';
import { createTestDatabase } from '../src/storage/testing.js';
import { syntheticBundle, TEMPLATE } from './synthetic.js';

type Json = Record<string, any>;

function intFlag(name: string, env: string, dflt: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const raw = arg ? arg.slice(name.length + 3) : process.env[env];
  const n = raw === undefined ? dflt : Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} / ${env} must be a positive integer (got ${raw})`);
  return n;
}

/** Bundles (= usagers) per scenario, measured in ROUNDS interleaved blocks. */
const N = intFlag('n', 'BENCH_INGEST_N', 200);
const ROUNDS = Math.min(N, intFlag('blocks', 'BENCH_INGEST_BLOCKS', 10));
const BLOCK = Math.ceil(N / ROUNDS);
const WARMUP = Math.min(20, N);
/** Bundles in flight at once in the extra "concurrent" PostgreSQL scenarios (1 = none of them). */
const CONCURRENCY = intFlag('concurrency', 'BENCH_INGEST_CONCURRENCY', 1);
/**
 * `--pool[=N]`: also ingest with validation in a pool of N worker threads (default: the cores;
 * src/server/validation-pool.ts), against the main-thread validation at the same concurrency.
 */
const POOL_ARG = process.argv.find((a) => a === '--pool' || a.startsWith('--pool='));
const POOL_SIZE = POOL_ARG === undefined ? 0 : POOL_ARG.includes('=') ? Number(POOL_ARG.split('=')[1]) : availableParallelism();
/** `--no-noop`: every write makes a version, even an unchanged resend (the no-op rule off, D-60). */
const NO_NOOP = process.argv.includes('--no-noop');
const PG_ADMIN_URL = process.env.TDDUI_BENCH_PG_URL ?? process.env.TDDUI_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

const median = (xs: number[]) => percentile(xs, 50);

interface Scenario {
  label: string;
  /** Ingests one bundle; throws if it is not accepted. */
  run(bundle: Json): Promise<void>;
  rates: number[]; // bundles/s per round
  latencies: number[]; // ms per bundle, all rounds
  /** Bundles in flight at once (default 1: one after the other). */
  concurrency?: number;
}

/**
 * "Validation off": the same validator (the pipeline may use its registry) whose `validate`
 * accepts everything unread.
 */
function withoutValidation(v: TdduiValidator): TdduiValidator {
  return Object.create(v, { validate: { value: () => ({ valid: true, issues: [], profiles: [] }) } }) as TdduiValidator;
}

function ingestScenario(label: string, repo: Repository, validator: TdduiValidator, pool?: ValidationPool): Scenario {
  const ctx: IngestContext = { repo, validator };
  return {
    label,
    rates: [],
    latencies: [],
    async run(bundle) {
      // With a pool: as the server does it, the request's bytes go to a worker (serialising them here is counted).
      const bytes = pool ? Buffer.from(JSON.stringify(bundle)) : undefined;
      const res = await ingestTransaction(pool ? { ...ctx, offload: (now) => pool.checkTransaction({ bytes: bytes! }, now) } : ctx, bundle);
      if (res.status !== 200) throw new Error(`${label}: bundle rejected with ${res.status}: ${JSON.stringify(res.body).slice(0, 600)}`);
    },
  };
}

async function rawScenario(label: string, url: string): Promise<{ scenario: Scenario; close: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('CREATE TABLE bench_raw (id bigserial PRIMARY KEY, resource_type text NOT NULL, resource_id text NOT NULL, resource jsonb NOT NULL)');
  const scenario: Scenario = {
    label,
    rates: [],
    latencies: [],
    async run(bundle) {
      await client.query('BEGIN');
      try {
        for (const e of bundle.entry as Json[]) {
          await client.query('INSERT INTO bench_raw (resource_type, resource_id, resource) VALUES ($1, $2, $3)', [e.resource.resourceType, e.resource.id, JSON.stringify(e.resource)]);
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
    },
  };
  return { scenario, close: () => client.end() };
}

/** A fresh database on the benchmark's PostgreSQL, dropped at the end. */
function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  return createTestDatabase({ adminUrl: PG_ADMIN_URL, prefix: 'tddui_bench' });
}

/** Every synthetic bundle must have created a new usager (not a new version of an earlier one). */
async function checkDistinctUsagers(repo: Repository, expected: number, label: string): Promise<void> {
  const r = await repo.db.query<{ n: number }>("SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient'");
  const n = Number(r.rows[0].n);
  if (n !== expected) throw new Error(`${label}: ${n} Patient resources stored for ${expected} synthetic usagers`);
}

/** Runs the scenarios' rounds interleaved; every bundle is a new usager. */
async function measure(scenarios: Scenario[]): Promise<void> {
  for (const s of scenarios) for (let i = 0; i < WARMUP; i++) await s.run(syntheticBundle());
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of scenarios) {
      // Small blocks, alternated between scenarios: load from other processes hits all alike.
      const bundles = Array.from({ length: BLOCK }, syntheticBundle);
      const t0 = performance.now();
      let next = 0;
      // `concurrency` workers take the block's bundles in turn (one worker: one after the other).
      await Promise.all(
        Array.from({ length: s.concurrency ?? 1 }, async () => {
          while (next < bundles.length) {
            const b = bundles[next++];
            const t = performance.now();
            await s.run(b);
            s.latencies.push(performance.now() - t);
          }
        }),
      );
      s.rates.push(BLOCK / ((performance.now() - t0) / 1000));
      process.stderr.write(`  round ${round + 1}/${ROUNDS} ${s.label}: ${s.rates.at(-1)!.toFixed(1)} bundles/s\n`);
    }
  }
}

async function main(): Promise<void> {
  const resourcesPerBundle = (JSON.parse(TEMPLATE) as Json).entry.length as number;
  const tv = performance.now();
  const validator = await TdduiValidator.create({ packages: [SHARED_FHIR] });
  process.stderr.write(`validator ready in ${(performance.now() - tv).toFixed(0)} ms; ${ROUNDS * BLOCK} bundles × ${resourcesPerBundle} resources per scenario, in ${ROUNDS} interleaved blocks of ${BLOCK}\n`);
  const probe = validator.validate(syntheticBundle());
  if (!probe.valid) throw new Error(`the synthetic bundle does not validate: ${JSON.stringify(probe.issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').slice(0, 3))}`);

  const results: Scenario[] = [];
  const pool = POOL_SIZE > 0 ? ValidationPool.start({ size: POOL_SIZE, packages: [SHARED_FHIR], limits: DEFAULT_LIMITS }) : undefined;
  if (pool) {
    await pool.whenReady();
    // The workers' validators warmed as much as the main thread's (JIT: bench/README "Warm-up").
    const t = performance.now();
    const WARM = 100 * pool.size;
    await Promise.all(Array.from({ length: WARM }, () => pool.checkTransaction({ bytes: Buffer.from(JSON.stringify(syntheticBundle())) }, new Date())));
    for (let i = 0; i < 100; i++) validator.validate(syntheticBundle());
    process.stderr.write(`validation pool: ${pool.size} worker(s) ready, warmed with ${WARM} Bundles (the main thread with 100) in ${(performance.now() - t).toFixed(0)} ms\n`);
  }
  /** In flight at once in the pool scenarios: enough to keep every worker and the database busy. */
  const poolConcurrency = Math.max(CONCURRENCY, 2 * POOL_SIZE);

  // ---- PostgreSQL: fresh database, repository + raw table side by side.
  const db = await createDatabase();
  try {
    const repo = await openRepository({ url: db.url, versionUnchanged: NO_NOOP });
    const raw = await rawScenario('PostgreSQL raw INSERT (floor)', db.url);
    try {
      const on = ingestScenario('PostgreSQL ingest, validation on', repo, validator);
      const off = ingestScenario('PostgreSQL ingest, validation off', repo, withoutValidation(validator));
      const concurrent: Scenario[] = [];
      if (pool) {
        concurrent.push(
          { ...ingestScenario(`PostgreSQL ingest, validation on, main thread, ${poolConcurrency} concurrent`, repo, validator), concurrency: poolConcurrency },
          { ...ingestScenario(`PostgreSQL ingest, validation on, ${pool.size} workers, ${poolConcurrency} concurrent`, repo, validator, pool), concurrency: poolConcurrency },
        );
      }
      if (CONCURRENCY > 1) {
        concurrent.push(
          { ...ingestScenario(`PostgreSQL ingest, validation on, ${CONCURRENCY} concurrent`, repo, validator), concurrency: CONCURRENCY },
          { ...ingestScenario(`PostgreSQL ingest, validation off, ${CONCURRENCY} concurrent`, repo, withoutValidation(validator)), concurrency: CONCURRENCY },
        );
      }
      process.stderr.write('PostgreSQL…\n');
      await measure([on, off, raw.scenario, ...concurrent]);
      await checkDistinctUsagers(repo, (2 + concurrent.length) * (WARMUP + ROUNDS * BLOCK), 'PostgreSQL');
      results.push(on, off, raw.scenario, ...concurrent);
    } finally {
      await raw.close();
      await repo.close();
    }
  } finally {
    await db.drop();
  }
  await pool?.close();

  // ---- PGlite in memory.
  const tp = performance.now();
  const lite = await openRepository({ dataDir: 'memory://', versionUnchanged: NO_NOOP });
  process.stderr.write(`PGlite (opened in ${(performance.now() - tp).toFixed(0)} ms)…\n`);
  try {
    const on = ingestScenario('PGlite ingest, validation on', lite, validator);
    const off = ingestScenario('PGlite ingest, validation off', lite, withoutValidation(validator));
    await measure([on, off]);
    await checkDistinctUsagers(lite, 2 * (WARMUP + ROUNDS * BLOCK), 'PGlite');
    results.push(on, off);
  } finally {
    await lite.close();
  }

  // ---- Report.
  const rows = results.map((s) => {
    const bps = median(s.rates);
    return { label: s.label, bps, rps: bps * resourcesPerBundle, p50: percentile(s.latencies, 50), p95: percentile(s.latencies, 95) };
  });
  const w = Math.max(...rows.map((r) => r.label.length));
  console.log(`\nIngestion of synthetic TDDUI PP-PA bundles (${resourcesPerBundle} resources each): ${ROUNDS * BLOCK} usagers per scenario, throughput = median of ${ROUNDS} interleaved blocks of ${BLOCK}, latency over all bundles`);
  console.log(`${'scenario'.padEnd(w)}  bundles/s  resources/s  p50 ms  p95 ms`);
  for (const r of rows) {
    console.log(`${r.label.padEnd(w)}  ${r.bps.toFixed(1).padStart(9)}  ${r.rps.toFixed(0).padStart(11)}  ${r.p50.toFixed(2).padStart(6)}  ${r.p95.toFixed(2).padStart(6)}`);
  }
  const [pgOn, pgOff, pgRaw] = rows;
  console.log(`\npg-resources-per-second: ${pgOn.rps.toFixed(0)}`);
  console.log(`pg-ratio-vs-raw-insert: ${(pgOff.rps / pgRaw.rps).toFixed(2)}`);
  if (pool) {
    const main = rows.find((r) => r.label.includes('main thread'))!;
    const pooled = rows.find((r) => r.label.includes(' workers, '))!;
    console.log(`pg-pool-resources-per-second: ${pooled.rps.toFixed(0)}`);
    console.log(`pg-pool-speedup-vs-main-thread: ${(pooled.rps / main.rps).toFixed(2)}`);
    console.log(`pg-pool-ratio-vs-raw-insert: ${(pooled.rps / pgRaw.rps).toFixed(2)}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
