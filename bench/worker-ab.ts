// bench/worker-ab: the validation worker's CPU per transaction Bundle (issue 19), two or more
// builds in ONE process, block by block (A B, B A, ...). Each build starts its own pool of ONE
// validation worker (src/server/validation-pool.ts) and is handed the synthetic PP-PA Bundles'
// bytes as the transaction route hands them, one after the other: by default (`--kind=transaction`,
// a Bundle under 256 KiB as the synthetic ones are) `checkTransaction({ bytes })` — the worker
// parses the bytes, runs ingest's checks (validation, business rules) and sends back the report;
// with `--kind=bundle` (a larger Bundle) `readTransaction` — the worker also checks the limits
// and sends back what the route needs and the tree in pieces, which this thread rebuilds as the
// route does. Measured per Bundle, median over the blocks:
//   - the worker thread's CPU time (`/proc/self/task/<tid>/schedstat` of the threads the pool
//     started: Linux only), the figure that matters on a host whose cores are the limit;
//   - this (main) thread's CPU for the round trip, and the other threads' (V8's garbage collection
//     and compilation helpers, shared by every isolate of the process; libuv's);
//   - Bundles per second (wall time, noisy on a shared host).
// Each build is a checkout with its own `dist/`, e.g. a `git worktree` of main:
//
//   git worktree add ../base main --detach && (cd ../base && cp -a ../wt/node_modules . && npx tsc -p .)
//   npx tsc -p . && node dist/bench/worker-ab.js ../base .   [--n=1000] [--blocks=10] [--warmup=300] [--kind=transaction|bundle]
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { SHARED_FHIR } from '../src/testing/paths.js';
import { syntheticBundle } from './synthetic.js';

const args = process.argv.slice(2);
const dirs = args.filter((a) => !a.startsWith('--'));
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
if (dirs.length < 2) {
  console.error('usage: node dist/bench/worker-ab.js <checkout A> <checkout B> [more checkouts] [--n=1000] [--blocks=10] [--warmup=300]');
  process.exit(2);
}
const N = Number(option('n') ?? 1000);
const BLOCKS = Number(option('blocks') ?? 10);
const BLOCK = Math.ceil(N / BLOCKS);
const WARMUP = Number(option('warmup') ?? 300);
/** `transaction`: what the route does with a Bundle under DEFER_TRANSACTION_BYTES (parsed on the main thread too, its bytes copied to the worker for the checks); `bundle`: a larger one (read by the worker alone, the tree sent back in pieces). */
const KIND = option('kind') ?? 'transaction';

/** This process's threads and their CPU time so far (ns). */
function threads(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      out.set(tid, Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]));
    } catch {
      // gone
    }
  }
  return out;
}

interface Pool {
  readTransaction(bytes: Buffer, format: 'json', options: object): Promise<{ pieces?: unknown; checked?: unknown } | undefined>;
  checkTransaction(input: { bytes: Buffer }, now: Date): Promise<unknown>;
  whenReady(): Promise<void>;
  close(): Promise<void>;
}

interface Build {
  dir: string;
  pool: Pool;
  rebuild: (p: unknown) => Promise<unknown>;
  /** The threads this build's pool started. */
  tids: string[];
  worker: number[];
  main: number[];
  other: number[];
  rates: number[];
}

async function load(dir: string): Promise<Build> {
  const imp = (p: string) => import(pathToFileURL(join(resolve(dir), 'dist/src', p)).href);
  const { ValidationPool, rebuildPieces } = await imp('server/validation-pool.js');
  const { DEFAULT_LIMITS } = await imp('server/limits.js');
  const before = threads();
  const pool = ValidationPool.start({ size: 1, packages: [SHARED_FHIR], limits: DEFAULT_LIMITS }) as Pool;
  await pool.whenReady();
  const tids = [...threads().keys()].filter((t) => !before.has(t));
  return { dir, pool, rebuild: rebuildPieces, tids, worker: [], main: [], other: [], rates: [] };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};

const options = () => ({ now: new Date(), alone: { 'ans.fhir.fr.tddui': true }, mentions: false, treeOnRefusal: false, move: true, unreadableChars: 2000 });
async function send(b: Build, bytes: Buffer): Promise<void> {
  if (KIND === 'transaction') {
    const c = (await b.pool.checkTransaction({ bytes }, new Date())) as { refused?: { status: number } } | undefined;
    if (!c) throw new Error(`${b.dir}: no worker ready`);
    if (c.refused) throw new Error(`${b.dir}: the Bundle was refused (${c.refused.status})`);
    return;
  }
  const read = await b.pool.readTransaction(bytes, 'json', options());
  if (!read) throw new Error(`${b.dir}: no worker ready`);
  const c = read.checked as { refused?: { status: number } } | undefined;
  if (!read.pieces || c?.refused) throw new Error(`${b.dir}: the Bundle was refused (${c?.refused?.status})`);
  await b.rebuild(read.pieces);
}

const bytesOf = () => Buffer.from(JSON.stringify(syntheticBundle()));
const builds: Build[] = [];
for (const d of dirs) builds.push(await load(d));
for (const b of builds) for (let i = 0; i < WARMUP; i++) await send(b, bytesOf());
for (let round = 0; round < BLOCKS; round++) {
  const order = round % 2 === 0 ? builds : [...builds].reverse();
  for (const b of order) {
    const bundles = Array.from({ length: BLOCK }, bytesOf);
    const t0 = threads();
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    for (const x of bundles) await send(b, x);
    b.rates.push(BLOCK / ((performance.now() - w0) / 1000));
    const c = process.cpuUsage(c0);
    const t1 = threads();
    let worker = 0;
    for (const tid of b.tids) worker += (t1.get(tid) ?? 0) - (t0.get(tid) ?? 0);
    let all = 0;
    for (const [tid, ns] of t1) all += ns - (t0.get(tid) ?? 0);
    const main = (t1.get(String(process.pid)) ?? 0) - (t0.get(String(process.pid)) ?? 0);
    b.worker.push(worker / 1e6 / BLOCK);
    b.main.push(main / 1e6 / BLOCK);
    // Every other thread of the process: V8's platform threads (garbage collection helpers, background compilation), libuv's.
    b.other.push((all - worker - main) / 1e6 / BLOCK);
    void c;
    if (process.env.BLOCK_LOG) process.stderr.write(`  ${b.dir} block ${round + 1}: worker ${(worker / 1e6 / BLOCK).toFixed(3)} ms/Bundle\n`);
  }
  process.stderr.write(`  round ${round + 1}/${BLOCKS}\n`);
}
console.log(`Validation worker A/B (${KIND}): one worker per build, ${BLOCKS} interleaved blocks of ${BLOCK} synthetic PP-PA Bundles (25 resources), after ${WARMUP} warm-up Bundles per build`);
console.log('build                                   worker CPU ms/Bundle  (ratio)   main thread   other threads   Bundles/s');
const a = builds[0]!;
for (const b of builds) {
  const ratio = median(b.worker.map((w, i) => w / a.worker[i]!));
  console.log(`${b.dir.padEnd(40)}${median(b.worker).toFixed(3).padStart(20)}  ${ratio.toFixed(3).padStart(7)}${median(b.main).toFixed(3).padStart(14)}${median(b.other).toFixed(3).padStart(16)}${median(b.rates).toFixed(1).padStart(12)}`);
}
for (const b of builds) await b.pool.close();
process.exit(0);
