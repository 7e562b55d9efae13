// bench/ingest-ab: ingestion of the same synthetic Bundles by two or more builds of the server
// in ONE process, block by block (A B C, C B A, ...), on the embedded database (PGlite, in
// memory, one per build), validation on and off. On a shared host two runs of `bench:ingest`
// minutes apart differ by a factor of 2 or more; interleaved blocks in one process see the same
// load. Each build is a checkout with its own `dist/`, e.g. a `git worktree` of an older commit:
//
//   git worktree add ../base <commit> --detach && (cd ../base && ln -s ../main/node_modules && npx tsc -p .)
//   npx tsc -p . && node dist/bench/ingest-ab.js ../base .   [--n=300] [--blocks=10] [--db=pg]
//
// `--concurrency=N`: N Bundles in flight within a block (default 1), where contention between
// concurrent writes shows (the CPU per Bundle then counts every in-flight Bundle's work).
// `--db=pg`: on PostgreSQL instead (TDDUI_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/test),
// a fresh database per build and scenario, dropped at the end: round trips cost there, not in PGlite.
// Prints each build's median bundles/s per scenario and the median per-block ratio to the first.
// With `--db=pg`, also the CPU time per Bundle (median over the blocks): this process's
// (`process.cpuUsage`, the blocks run one after the other) and the PostgreSQL backends' of the
// block's database (`/proc/<pid>/schedstat` of its connections: the server must run on this host)
// — on a host shared by other work, CPU is steadier than wall time; and the mean over the blocks,
// which counts background work such as the statistics passes (a median leaves their blocks out).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { SHARED_FHIR } from '../src/testing/paths.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const args = process.argv.slice(2);
const dirs = args.filter((a) => !a.startsWith('--'));
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
if (dirs.length < 2) {
  console.error('usage: node dist/bench/ingest-ab.js <checkout A> <checkout B> [more checkouts] [--n=300] [--blocks=10] [--concurrency=1] [--db=pg]');
  process.exit(2);
}
const N = Number(option('n') ?? 300);
const DB = option('db') ?? 'lite';
const PG_ADMIN_URL = process.env.TDDUI_BENCH_PG_URL ?? process.env.TDDUI_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Databases to drop at the end (PostgreSQL). */
const drops: (() => Promise<void>)[] = [];
const BLOCKS = Number(option('blocks') ?? 10);
/** Bundles in flight within a block (`--concurrency=4`: as `tddui send` and bench:ingest-growth; default 1, one after the other). */
const CONCURRENCY = Number(option('concurrency') ?? 1);
const BLOCK = Math.ceil(N / BLOCKS);
const WARMUP = 20;

// The first build's examples (an older build may know only the older IG version's).
const { EXAMPLES_DIR } = (await import(pathToFileURL(join(resolve(dirs[0]!), 'dist/src/testing/paths.js')).href)) as { EXAMPLES_DIR: string };
const TEMPLATE = readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-pp-pa-bundle-example.json'), 'utf8');
const LOCAL_ID = '3480787529/123456789';
let serial = 0;
/** The official PP-PA Bundle for a new usager (as bench/ingest makes them). */
function syntheticBundle(): Json {
  const n = ++serial;
  let text = TEMPLATE.replaceAll(LOCAL_ID, `3480787529/${200000000 + n}`);
  const b = JSON.parse(text) as Json;
  const suffix = `-u${n}`;
  for (const e of b.entry as Json[]) {
    const old = `${e.resource.resourceType}/${e.resource.id}`;
    text = text.replaceAll(`"${old}"`, `"${old}${suffix}"`).replaceAll(`/${old}"`, `/${old}${suffix}"`);
  }
  const out = JSON.parse(text) as Json;
  for (const e of out.entry as Json[]) e.resource.id = `${e.resource.id}${suffix}`;
  return out;
}

interface Build {
  dir: string;
  on: (b: Json) => Promise<void>;
  off: (b: Json) => Promise<void>;
  rates: { on: number[]; off: number[] };
  /** PostgreSQL: each scenario's database name (its backends' CPU is read). */
  dbName?: { on: string; off: string };
  /** CPU milliseconds per Bundle, per block: Node.js and PostgreSQL. */
  cpu: { on: { node: number[]; pg: number[] }; off: { node: number[]; pg: number[] } };
  /** Why validation on is not measured for this build (its validator rejects the Bundles). */
  noOn?: string;
}

async function load(dir: string): Promise<Build> {
  const imp = (p: string) => import(pathToFileURL(join(resolve(dir), 'dist/src', p)).href);
  const { ingestTransaction } = await imp('ingest/index.js');
  const { openRepository } = await imp('storage/index.js');
  const { TdduiValidator } = await imp('tddui/validator.js');
  const validator = await TdduiValidator.create({ packages: [SHARED_FHIR] });
  // Validation off: the same validator accepting everything unread (storage alone).
  const off = Object.create(validator);
  off.validate = () => ({ valid: true, issues: [], ig: 'ans.fhir.fr.tddui#2.3.0' });
  const names: string[] = [];
  const open = async () => {
    if (DB !== 'pg') return openRepository({ dataDir: 'memory://' });
    const { createTestDatabase } = await imp('storage/testing.js');
    const db = (await createTestDatabase({ adminUrl: PG_ADMIN_URL, prefix: 'tddui_bench_ab' })) as { url: string; drop: () => Promise<void> };
    const repo = await openRepository({ url: db.url });
    names.push(new URL(db.url).pathname.slice(1));
    // Closed as the build closes its repository: close() (D-337), or before it its background
    // work then the database, or the database alone (builds before D-325).
    drops.push(async () => (await (repo.close ? repo.close() : (await repo.stopBackgroundWork?.(), repo.db.close())), await db.drop()));
    return repo;
  };
  const repoOn = await open();
  const repoOff = await open();
  const run = (repo: unknown, v: unknown) => async (b: Json) => {
    const r = await ingestTransaction({ repo, validator: v }, b);
    if (r.status !== 200) throw new Error(`${dir}: ${r.status} ${JSON.stringify((r.body.issue ?? []).filter((i: Json) => i.severity === "error")).slice(0, 600)}`);
  };
  const cpu = { on: { node: [], pg: [] }, off: { node: [], pg: [] } };
  const dbName = DB === 'pg' ? { on: names[0]!, off: names[1]! } : undefined;
  return { dir, on: run(repoOn, validator), off: run(repoOff, off), rates: { on: [], off: [] }, dbName, cpu };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};

/** PostgreSQL: the backends of a database, and their CPU time (ms) so far, from /proc. */
let admin: { query: (sql: string, v: unknown[]) => Promise<{ rows: { pid: number }[] }> } | undefined;
async function pgCpu(db: string): Promise<number> {
  if (!admin) {
    const pg = (await import('pg')).default;
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    admin = c;
  }
  const { rows } = await admin.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1`, [db]);
  let ns = 0;
  for (const { pid } of rows) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // gone, or PostgreSQL runs elsewhere
    }
  }
  return ns / 1e6;
}

const builds: Build[] = [];
for (const d of dirs) builds.push(await load(d));
for (const b of builds) {
  for (let i = 0; i < WARMUP; i++) {
    await b.off(syntheticBundle());
    if (b.noOn) continue;
    try {
      await b.on(syntheticBundle());
    } catch (e) {
      // An older build may validate another IG version: its storage alone is compared.
      b.noOn = String((e as Error).message).slice(0, 120);
    }
  }
}
for (let round = 0; round < BLOCKS; round++) {
  const order = round % 2 === 0 ? builds : [...builds].reverse();
  for (const kind of ['on', 'off'] as const) {
    // The same Bundles' shapes for every build of the block (fresh usagers each).
    for (const b of order) {
      if (kind === 'on' && b.noOn) continue;
      const bundles = Array.from({ length: BLOCK }, syntheticBundle);
      const pg0 = b.dbName ? await pgCpu(b.dbName[kind]) : 0;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      let next = 0;
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < bundles.length) await b[kind](bundles[next++]!);
      }));
      b.rates[kind].push(BLOCK / ((performance.now() - t0) / 1000));
      const c = process.cpuUsage(c0);
      b.cpu[kind].node.push((c.user + c.system) / 1000 / BLOCK);
      if (b.dbName) b.cpu[kind].pg.push(((await pgCpu(b.dbName[kind])) - pg0) / BLOCK);
    }
  }
  process.stderr.write(`  round ${round + 1}/${BLOCKS}\n`);
}
console.log(`Ingestion A/B on ${DB === 'pg' ? 'PostgreSQL (a fresh database per build and scenario)' : 'PGlite (in memory)'}, ${BLOCKS} interleaved blocks of ${BLOCK} synthetic PP-PA Bundles (25 resources) per build and scenario, ${CONCURRENCY} in flight`);
console.log('build                                   validation on (bundles/s, ratio)   validation off (bundles/s, ratio)');
const a = builds[0]!;
for (const b of builds) {
  const ref = builds.find((x) => !x.noOn);
  const ratio = (k: 'on' | 'off', to: Build | undefined) => (to && b.rates[k].length ? median(b.rates[k].map((r, i) => r / to.rates[k][i]!)).toFixed(3) : '-');
  const on = b.rates.on.length ? median(b.rates.on).toFixed(1) : '-';
  console.log(`${b.dir.padEnd(40)}${on.padStart(8)}  ${ratio('on', ref).padStart(6)}${median(b.rates.off).toFixed(1).padStart(26)}  ${ratio('off', a).padStart(6)}`);
  if (b.noOn) console.log(`  (validation on not measured: ${b.noOn})`);
}
if (DB === 'pg') {
  console.log('CPU per Bundle, ms (median over the blocks)   validation on: Node.js  PostgreSQL   validation off: Node.js  PostgreSQL');
  for (const b of builds) {
    const m = (xs: number[]) => (xs.length ? median(xs).toFixed(2) : '-');
    console.log(`${b.dir.padEnd(47)}${m(b.cpu.on.node).padStart(22)}${m(b.cpu.on.pg).padStart(12)}${m(b.cpu.off.node).padStart(25)}${m(b.cpu.off.pg).padStart(12)}`);
  }
  // The mean counts the background work a median leaves out (a statistics pass lands in one block in several).
  console.log('CPU per Bundle, ms (mean over the blocks)     validation on: Node.js  PostgreSQL   validation off: Node.js  PostgreSQL');
  for (const b of builds) {
    const m = (xs: number[]) => (xs.length ? (xs.reduce((x, y) => x + y, 0) / xs.length).toFixed(2) : '-');
    console.log(`${b.dir.padEnd(47)}${m(b.cpu.on.node).padStart(22)}${m(b.cpu.on.pg).padStart(12)}${m(b.cpu.off.node).padStart(25)}${m(b.cpu.off.pg).padStart(12)}`);
  }
}
for (const drop of drops) await drop().catch(() => undefined);
process.exit(0);
