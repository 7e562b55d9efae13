// bench/history-ab: the cost of writing previous versions, build against build (issue 19: the
// history partitioned by month, migration 0170). Ingestion of new usagers barely writes the
// history (new objects; unchanged shared objects are no-ops), so this measures what does:
// plans of 25 updates (a resent Bundle whose every entry changed), each moving the current row
// to `resource_history`, on PGlite (in memory) and PostgreSQL, builds interleaved block by
// block in ONE process (A B, B A, ...), as bench/ingest-ab does.
//
//   npx tsc -p . && node dist/bench/history-ab.js <checkout A> <checkout B> [--n=4000] [--blocks=8]
//
// Prints each build's median updates/s per database and the median per-block ratio to the first.
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const args = process.argv.slice(2);
const dirs = args.filter((a) => !a.startsWith('--'));
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
if (dirs.length < 2) {
  console.error('usage: node dist/bench/history-ab.js <checkout A> <checkout B> [--n=4000] [--blocks=8]');
  process.exit(2);
}
const N = Number(option('n') ?? 4000);
const BLOCKS = Number(option('blocks') ?? 8);
const PLAN = 25;
const PLANS_PER_BLOCK = Math.max(1, Math.round(N / BLOCKS / PLAN));
const POOL = 500;

interface Target {
  label: string;
  repo: Json;
  ids: string[];
  version: number;
  rates: number[];
  close: () => Promise<void>;
}

async function open(dir: string, kind: 'pglite' | 'postgres'): Promise<Target | undefined> {
  const imp = (p: string) => import(pathToFileURL(join(resolve(dir), 'dist/src', p)).href);
  const { openRepository } = await imp('storage/index.js');
  const testing = await imp('storage/testing.js');
  let drop = async () => undefined;
  let repo: Json;
  if (kind === 'postgres') {
    if (await testing.postgresUnavailable()) return undefined;
    const db = await testing.createTestDatabase();
    drop = db.drop;
    repo = await openRepository({ url: db.url });
  } else repo = await openRepository({ dataDir: 'memory://' });
  const ids: string[] = [];
  for (let i = 0; i < POOL; i += PLAN) {
    const res = await repo.execute({ ops: Array.from({ length: PLAN }, (_, k) => ({ method: 'create', resourceType: 'Basic', resource: { resourceType: 'Basic', code: { text: `r${i + k}` } } })) });
    for (const r of res) ids.push(r.record.id);
  }
  // Closed as the build closes its repository: close() (D-337), or before it its background work
  // then the database, or the database alone (builds before D-325).
  return { label: `${dir} [${kind}]`, repo, ids, version: 1, rates: [], close: async () => (await (repo.close ? repo.close() : (await repo.stopBackgroundWork?.(), repo.db.close())), await drop()) };
}

async function block(t: Target): Promise<number> {
  const t0 = performance.now();
  for (let p = 0; p < PLANS_PER_BLOCK; p++) {
    const start = (p * PLAN) % t.ids.length;
    const ids = t.ids.slice(start, start + PLAN);
    const v = ++t.version;
    await t.repo.execute({ ops: ids.map((id) => ({ method: 'update', resourceType: 'Basic', id, resource: { resourceType: 'Basic', id, code: { text: `${id} v${v}` } } })) });
  }
  return (PLANS_PER_BLOCK * PLAN) / ((performance.now() - t0) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

for (const kind of ['pglite', 'postgres'] as const) {
  const targets: Target[] = [];
  for (const d of dirs) {
    const t = await open(d, kind);
    if (t) targets.push(t);
  }
  if (!targets.length) {
    console.log(`${kind}: not reachable, skipped`);
    continue;
  }
  for (const t of targets) await block(t); // warm-up
  for (let round = 0; round < BLOCKS; round++) {
    for (const t of round % 2 === 0 ? targets : [...targets].reverse()) t.rates.push(await block(t));
  }
  console.log(`History writes A/B on ${kind}: ${BLOCKS} interleaved blocks of ${PLANS_PER_BLOCK} plans of ${PLAN} updates per build`);
  for (const t of targets) {
    const ratio = median(t.rates.map((r, i) => r / targets[0]!.rates[i]!));
    console.log(`${t.label.padEnd(50)}${median(t.rates).toFixed(0).padStart(8)} updates/s  ratio ${ratio.toFixed(3)}${process.env.BENCH_VERBOSE ? `  blocks: ${t.rates.map((r) => r.toFixed(0)).join(" ")}` : ""}`);
  }
  for (const t of targets) await t.close();
}
process.exit(0);
