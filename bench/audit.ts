// bench/audit: what the audit trail (src/server/audit.ts) costs ingestion. The same server
// code twice over one database — audit on and audit off (`buildServer({ audit: false })`) —
// receives synthetic usagers' TDDUI transaction Bundles through HTTP (Fastify inject: the
// whole request path, hooks included, without the socket), in interleaved blocks (on, off,
// on, off…) so machine noise hits both alike; the figure is the median block's Bundles/s, and
// the ratio on/off. Sequential Bundles (the worst case for the group commit: one INSERT per
// Bundle) and, with --concurrency=N, N Bundles in flight (the records share INSERTs).
// PostgreSQL (a fresh database) when reachable, and the embedded PGlite in memory.
//
//   node dist/bench/audit.js [--n=200] [--blocks=10] [--concurrency=8]
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/server/app.js';
import { openRepository } from '../src/storage/index.js';
import type { Repository } from '../src/storage/types.js';
import { TdduiValidator } from '../src/tddui/validator.js';
import { EXAMPLES_DIR, SHARED_FHIR } from '../src/testing/paths.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function intFlag(name: string, dflt: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const n = arg ? Number(arg.slice(name.length + 3)) : dflt;
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

const N = intFlag('n', 200);
const BLOCKS = Math.min(N, intFlag('blocks', 10));
const BLOCK = Math.ceil(N / BLOCKS);
const CONCURRENCY = intFlag('concurrency', 8);
const PG_ADMIN_URL = process.env.TDDUI_BENCH_PG_URL ?? process.env.TDDUI_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const TEMPLATE = readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-pp-pa-bundle-example.json'), 'utf8');
const LOCAL_ID = '3480787529/123456789';
let serial = 0;

/** The official PP-PA Bundle for a new usager (unique local id, resource ids and references). */
function syntheticBundle(): Json {
  const n = ++serial;
  let text = TEMPLATE.replaceAll(LOCAL_ID, `3480787529/${300000000 + n}`);
  const b = JSON.parse(text) as Json;
  for (const e of b.entry as Json[]) {
    const ref = `${e.resource.resourceType}/${e.resource.id}`;
    text = text.replaceAll(`"${ref}"`, `"${ref}-a${n}"`).replaceAll(`/${ref}"`, `/${ref}-a${n}"`);
  }
  const out = JSON.parse(text) as Json;
  out.id = `${out.id}-a${n}`;
  for (const e of out.entry as Json[]) e.resource.id = `${e.resource.id}-a${n}`;
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function send(app: FastifyInstance, bundle: Json): Promise<void> {
  const r = await app.inject({ method: 'POST', url: '/fhir', headers: { 'content-type': 'application/fhir+json' }, payload: JSON.stringify(bundle) });
  if (r.statusCode !== 200) throw new Error(`rejected with ${r.statusCode}: ${r.body.slice(0, 400)}`);
}

async function block(app: FastifyInstance, size: number, concurrency: number): Promise<number> {
  const bundles = Array.from({ length: size }, syntheticBundle);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bundles.length) await send(app, bundles[next++]!);
    }),
  );
  return size / ((performance.now() - t0) / 1000);
}

async function measure(label: string, repo: Repository, validator: TdduiValidator): Promise<void> {
  const on = await buildServer({ repo, validator });
  const off = await buildServer({ repo, validator, audit: false });
  for (const concurrency of [1, CONCURRENCY]) {
    for (const app of [on, off]) await block(app, Math.min(10, BLOCK), concurrency); // warm-up
    const rates = { on: [] as number[], off: [] as number[] };
    for (let i = 0; i < BLOCKS; i++) {
      rates.on.push(await block(on, BLOCK, concurrency));
      rates.off.push(await block(off, BLOCK, concurrency));
    }
    const a = median(rates.on);
    const b = median(rates.off);
    console.log(`${label}, ${concurrency === 1 ? 'sequential' : `${concurrency} in flight`}: audit on ${a.toFixed(1)} Bundles/s, off ${b.toFixed(1)} Bundles/s — on/off ${(a / b).toFixed(3)} (${BLOCKS} blocks of ${BLOCK}, median)`);
  }
  const rows = await repo.db.query<{ n: string }>('SELECT count(*) AS n FROM audit_event');
  console.log(`${label}: ${rows.rows[0]!.n} audit rows written`);
  await on.close();
  await off.close();
}

async function main(): Promise<void> {
  const validator = await TdduiValidator.create({ packages: [SHARED_FHIR] });
  const name = `tddui_bench_audit_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  let pgUrl: string | undefined;
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const u = new URL(PG_ADMIN_URL);
    u.pathname = `/${name}`;
    pgUrl = u.toString();
  } catch (e) {
    console.log(`PostgreSQL not reachable (${(e as Error).message}): embedded database only`);
  } finally {
    await admin.end().catch(() => undefined);
  }
  if (pgUrl) {
    const repo = await openRepository({ url: pgUrl });
    try {
      await measure('PostgreSQL', repo, validator);
    } finally {
      await repo.close();
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name}`);
      await c.end();
    }
  }
  const lite = await openRepository({ dataDir: 'memory://' });
  try {
    await measure('PGlite (embedded)', lite, validator);
  } finally {
    await lite.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
