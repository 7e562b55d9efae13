// bench/ingest-http-ab: ingestion over HTTP (POST /fhir, validation on, the validation workers as
// `tddui serve` starts them) by two or more builds, each server in a process of its own
// (bench/server-child) on a fresh PostgreSQL database, the client here; blocks of Bundles
// sent to each build in turn (A B, B A, ...), K in flight. What it reads per Bundle, median over
// the blocks: the CPU of the server's MAIN THREAD (`/proc/<pid>/task/<pid>/schedstat`: HTTP, the
// ingest pipeline, the write plan, the driver — not the client, not the validation workers), of
// the whole server process (every thread: + workers, GC helpers, libuv), and of the database's
// PostgreSQL backends; and the ratio of each to the first build, paired block by block.
// A block's CPU is read once its server has refreshed the derived tables of the block's writes
// (D-356: a background drain 200 ms after the last write; waited for on a connection of the
// bench's own, whose backend is not counted), so that it is not counted in the next block.
//
//   node dist/bench/ingest-http-ab.js <checkout A> <checkout B> [--n=600] [--blocks=6] [--concurrency=4] [--workers=2] [--prof=DIR] [--flags=1:--max-semi-space-size=32]
//
// `--flags=i:f1,f2`: Node.js flags for the i-th build's server (0 the first); the same checkout may
// be given twice to measure a flag alone.
// Each checkout has its own dist/ (a `git worktree` of another commit). `--prof=DIR`: the servers
// run with --cpu-prof into DIR/build<i>/, one profile per thread (the main thread and each
// validation worker: with a fixed file name the workers' profiles overwrote one another).
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createTestDatabase } from '../src/storage/testing.js';
import { syntheticBundle } from './synthetic.js';

const args = process.argv.slice(2);
const dirs = args.filter((a) => !a.startsWith('--'));
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
if (dirs.length < 2) {
  console.error('usage: node dist/bench/ingest-http-ab.js <checkout A> <checkout B> [--n=600] [--blocks=6] [--concurrency=4] [--workers=2] [--prof=DIR]');
  process.exit(2);
}
const N = Number(option('n') ?? 600);
const BLOCKS = Number(option('blocks') ?? 6);
const BLOCK = Math.ceil(N / BLOCKS);
const CONCURRENCY = Number(option('concurrency') ?? 4);
const WORKERS = option('workers') ?? '2';
const PROF = option('prof');
const FLAGS = new Map((option('flags') ?? '').split(';').filter((x) => x.includes(':')).map((x) => [Number(x.slice(0, x.indexOf(':'))), x.slice(x.indexOf(':') + 1).split(',')] as const));
const WARMUP = 60;
const PG_ADMIN_URL = process.env.TDDUI_BENCH_PG_URL ?? process.env.TDDUI_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

interface Server {
  dir: string;
  child: ChildProcess;
  url: string;
  db: string;
  drop: () => Promise<void>;
  /** A connection to the build's database that waits for its derived refresh (not counted in its CPU). */
  probe: pg.Client;
  probePid: number;
  main: number[];
  all: number[];
  pg: number[];
  rate: number[];
}

const schedNs = (path: string): number => {
  try {
    return Number(readFileSync(path, 'utf8').split(' ')[0]);
  } catch {
    return 0;
  }
};
const threadsNs = (pid: number): number => readdirSync(`/proc/${pid}/task`).reduce((s, t) => s + schedNs(`/proc/${pid}/task/${t}/schedstat`), 0);

const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
await admin.connect();
async function pgNs(db: string, probePid: number): Promise<number> {
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> $2', [db, probePid]);
  return rows.reduce((s, r) => s + schedNs(`/proc/${r.pid}/schedstat`), 0);
}

const here = dirname(fileURLToPath(import.meta.url));
async function start(dir: string, i: number): Promise<Server> {
  const db = await createTestDatabase({ adminUrl: PG_ADMIN_URL, prefix: 'tddui_bench_httpab' });
  const execArgv = [...(FLAGS.get(i) ?? []), ...(PROF ? ['--cpu-prof', `--cpu-prof-dir=${resolve(PROF, `build${i}`)}`] : [])];
  const child = fork(join(here, 'server-child.js'), [dir, db.url, `--workers=${WORKERS}`], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((ok, ko) => {
    child.once('message', (m) => ok((m as { url: string }).url));
    child.once('exit', (code) => ko(new Error(`${dir}: server exited (${code})`)));
  });
  const probe = new pg.Client({ connectionString: db.url });
  await probe.connect();
  const probePid = (await probe.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  return { dir: FLAGS.has(i) ? `${dir} ${FLAGS.get(i)!.join(' ')}` : dir, child, url, db: new URL(db.url).pathname.slice(1), drop: db.drop, probe, probePid, main: [], all: [], pg: [], rate: [] };
}

/**
 * Until the build's server has refreshed the derived tables of the block's writes (D-356: in the
 * background, 200 ms after a write), so that the block's CPU includes that refresh rather than
 * the next block's; a build without `derived_pending` (before D-356) refreshed in its writes. At most 5 s.
 */
async function settled(s: Server): Promise<void> {
  const { rows } = await s.probe.query<{ t: string | null }>("SELECT to_regclass('derived_pending')::text AS t");
  if (!rows[0]!.t) return;
  const end = performance.now() + 5000;
  while (performance.now() < end) {
    const left = await s.probe.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM derived_pending) AS any');
    if (!left.rows[0]!.any) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${s.dir}: the derived refresh of a block still pending after 5 s`);
}

async function post(url: string, text: string): Promise<void> {
  const res = await fetch(`${url}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: text });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`rejected ${res.status}: ${body.slice(0, 600)}`);
}

async function send(s: Server, texts: string[]): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < texts.length) await post(s.url, texts[next++]!);
  }));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

const servers: Server[] = [];
try {
  for (const [i, d] of dirs.entries()) servers.push(await start(d, i));
  for (const s of servers) await send(s, Array.from({ length: WARMUP }, () => JSON.stringify(syntheticBundle())));
  for (const s of servers) await settled(s);
  for (let round = 0; round < BLOCKS; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const s of order) {
      const texts = Array.from({ length: BLOCK }, () => JSON.stringify(syntheticBundle()));
      const pid = s.child.pid!;
      const m0 = schedNs(`/proc/${pid}/task/${pid}/schedstat`);
      const a0 = threadsNs(pid);
      const p0 = await pgNs(s.db, s.probePid);
      const t0 = performance.now();
      await send(s, texts);
      s.rate.push(BLOCK / ((performance.now() - t0) / 1000));
      await settled(s);
      s.main.push((schedNs(`/proc/${pid}/task/${pid}/schedstat`) - m0) / 1e6 / BLOCK);
      s.all.push((threadsNs(pid) - a0) / 1e6 / BLOCK);
      s.pg.push(((await pgNs(s.db, s.probePid)) - p0) / 1e6 / BLOCK);
    }
    process.stderr.write(`  round ${round + 1}/${BLOCKS}\n`);
  }
  const a = servers[0]!;
  console.log(`Ingestion over HTTP, A/B: ${BLOCKS} interleaved blocks of ${BLOCK} synthetic PP-PA Bundles per build, ${CONCURRENCY} in flight, ${WORKERS} validation workers, PostgreSQL`);
  console.log('CPU ms per Bundle (median over blocks; ratio: median of the paired per-block ratios to the first build)');
  console.log('build                                     main thread        server, all threads     PostgreSQL          Bundles/s');
  const col = (s: Server, k: 'main' | 'all' | 'pg' | 'rate') => `${median(s[k]).toFixed(2).padStart(8)} (${median(s[k].map((x, i) => x / a[k][i]!)).toFixed(3)})`;
  for (const s of servers) console.log(`${s.dir.padEnd(40)}${col(s, 'main')}${col(s, 'all').padStart(22)}${col(s, 'pg').padStart(20)}${col(s, 'rate').padStart(20)}`);
  for (const s of servers) console.log(`  ${s.dir}: main ${s.main.map((x) => x.toFixed(2)).join(' ')} | pg ${s.pg.map((x) => x.toFixed(2)).join(' ')}`);
} finally {
  for (const s of servers) {
    await s.probe.end().catch(() => undefined);
    s.child.send('close');
    await new Promise((r) => s.child.once('exit', r));
    await s.drop().catch(() => undefined);
  }
  await admin.end();
}
