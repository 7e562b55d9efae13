// bench/export: the FHIR Bulk Data `$export` (src/server/bulk-export.ts) of many usagers, on
// PostgreSQL (2,000 then 10,000 usagers in one database) and on the embedded PGlite (1,000).
// For each data set:
//   - the data are generated the fastest way there is: the official Bundles and a few generated
//     usagers through the ingest pipeline, then stored SSIAD usagers copied (new ids, local
//     identifiers and names) by the storage's batched write path with their search index
//     (src/ui/testing/seed.ts cloneUsagers) — no HTTP, no validation for the copies;
//   - a real server runs in a child process (`--serve`): idle RSS measured once it answers;
//   - a system-level `$export` is kicked off; when about 40 % is written the server is killed
//     (SIGKILL) and started again on the same database: the job is resumed from its checkpoint
//     (truncating what was written after it) and completes;
//   - every file is read back: each current resource of the exported types exactly once,
//     checked against the database;
//   - memory: the server's live heap (after a full GC, reported every second by the server
//     started with --expose-gc) and its resident size, sampled during the export (both
//     processes), their peaks against the idle server (the anchor, same run): the export holds
//     one page in memory, so the peak live heap must not grow with the data set (2,000 vs
//     10,000). The RSS also counts garbage not yet collected and memory V8 keeps: noisier.
// Also the export rate against the anchor of the same run: the same rows read by keyset pages
// of 1,000 and JSON-serialised in this process, without files, HTTP or checkpoints.
//
//   node dist/bench/export.js [--pg=2000,10000] [--embedded=1000] [--no-kill]
//   (TDDUI_BENCH_PG_URL: the PostgreSQL server; a database h3_bench_export_<pid> is created and dropped)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startServer } from '../src/server/app.js';
import { openRepository } from '../src/storage/index.js';
import { exportPage } from '../src/storage/export-jobs.js';
import type { Repository } from '../src/storage/types.js';
import { TdduiValidator } from '../src/tddui/validator.js';
import { SHARED_FHIR } from '../src/testing/paths.js';
import { cloneUsagers, seedGenerated, seedOfficial } from '../src/ui/testing/seed.js';

const PG_ADMIN_URL = process.env.TDDUI_BENCH_PG_URL ?? process.env.TDDUI_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const flag = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const sizes = (name: string, dflt: number[]): number[] => (flag(name) === undefined ? dflt : flag(name) === '' ? [] : flag(name)!.split(',').map(Number));

interface Server {
  child: ChildProcess;
  url: string;
  /** The server's live heap (MiB, after a full GC), as it last reported it. */
  heapMiB: number;
}

/** VmRSS of a process, in MiB (Linux). */
function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function serve(target: { database?: string; data?: string }, dir: string): Promise<Server> {
  const args = ['--expose-gc', fileURLToPath(import.meta.url), '--serve', `--dir=${dir}`, target.database ? `--database=${target.database}` : `--data=${target.data}`];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout!.resume();
  const server: Server = { child, url: '', heapMiB: 0 };
  let rest = '';
  child.stdout!.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop()!;
    for (const l of lines) if (l.startsWith('BENCH-MEM ')) server.heapMiB = Number(l.slice(10));
  });
  server.url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      // (The server's log lines go to stdout too.)
      const line = buf.split('\n').find((l) => l.startsWith('BENCH-URL '));
      if (line) resolve(line.slice('BENCH-URL '.length).trim());
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}) before listening`)));
  });
  return server;
}

async function stop(s: Server, signal: NodeJS.Signals): Promise<void> {
  if (s.child.exitCode !== null) return;
  const gone = new Promise((r) => s.child.once('exit', r));
  s.child.kill(signal);
  await gone;
}

/** Samples a server's RSS and its reported live heap every 50 ms until stopped; the peaks. */
function sampler(s: Server): { stop(): { rss: number; heap: number } } {
  const pid = s.child.pid!;
  let rss = rssMiB(pid);
  let heap = s.heapMiB;
  const t = setInterval(() => {
    rss = Math.max(rss, rssMiB(pid));
    heap = Math.max(heap, s.heapMiB);
  }, 50);
  return {
    stop() {
      clearInterval(t);
      return { rss, heap };
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Figures {
  label: string;
  usagers: number;
  resources: number;
  seedS: number;
  idleMiB: number;
  peakMiB: number;
  /** Live heap (after GC) of the idle server, and its peak during the export. */
  idleHeapMiB: number;
  peakHeapMiB: number;
  exportS: number;
  /** Of exportS: from the kill to the restarted server listening (not exporting). */
  restartS: number;
  anchorS: number;
  killedAt?: number;
  exported: number;
  duplicates: number;
  missing: number;
  extra: number;
}

/** Seeds (or grows) the data set to `usagers` Patients; the seconds it took. */
async function seed(repo: Repository, validator: TdduiValidator, usagers: number): Promise<number> {
  const t0 = performance.now();
  const have = Number((await repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient'`)).rows[0]!.n);
  if (have === 0) {
    await seedOfficial({ repo, validator });
    await seedGenerated({ repo, validator }, 20, 'bench-export');
  }
  await cloneUsagers(repo, usagers);
  return (performance.now() - t0) / 1000;
}

/** The anchor: the same rows read in keyset pages of 1,000 and serialised, in this process. */
async function anchor(repo: Repository, types: string[]): Promise<number> {
  const t0 = performance.now();
  let bytes = 0;
  for (const type of types) {
    for (let after = ''; ; ) {
      const page = await exportPage(repo.db, { type, afterId: after, limit: 1000 });
      if (page.length === 0) break;
      for (const r of page) bytes += JSON.stringify(r.resource).length + 1;
      after = page[page.length - 1]!.id;
    }
  }
  if (bytes === 0) throw new Error('anchor: nothing read');
  return (performance.now() - t0) / 1000;
}

async function runExport(label: string, target: { database?: string; data?: string }, repo: Repository, usagers: number, seedS: number, kill: boolean): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'tddui-bench-export-'));
  const current = await repo.db.query<{ t: string; id: string }>(`SELECT resource_type AS t, id FROM resource WHERE NOT deleted`);
  const expected = new Set(current.rows.map((r) => `${r.t}/${r.id}`));
  const types = [...new Set(current.rows.map((r) => r.t))].sort();
  const anchorS = await anchor(repo, types);
  // The server owns the embedded database folder (one process per folder): let go of it.
  if (target.data) await repo.close();
  let s = await serve(target, dir);
  await sleep(1500);
  const idleMiB = rssMiB(s.child.pid!);
  const idleHeapMiB = s.heapMiB;
  let sample = sampler(s);
  const t0 = performance.now();
  const k = await fetch(`${s.url}/fhir/$export?_type=${types.join(',')}`, { headers: { prefer: 'respond-async' } });
  if (k.status !== 202) throw new Error(`kick-off: ${k.status} ${await k.text()}`);
  const poll = new URL(k.headers.get('content-location')!);
  let peakMiB = 0;
  let peakHeapMiB = 0;
  let killedAt: number | undefined;
  let restartS = 0;
  let manifest: { output: { type: string; url: string }[] } | undefined;
  for (;;) {
    const r = await fetch(`${s.url}${poll.pathname}`);
    if (r.status === 200) {
      manifest = (await r.json()) as typeof manifest;
      break;
    }
    if (r.status !== 202) throw new Error(`poll: ${r.status} ${await r.text()}`);
    const written = Number(/^(\d+)/.exec(r.headers.get('x-progress') ?? '')?.[1] ?? 0);
    if (kill && killedAt === undefined && written >= 0.4 * expected.size) {
      // Killed mid-export: no chance to finish a page or save anything.
      const k0 = performance.now();
      await stop(s, 'SIGKILL');
      killedAt = written;
      const p = sample.stop();
      peakMiB = Math.max(peakMiB, p.rss);
      peakHeapMiB = Math.max(peakHeapMiB, p.heap);
      await sleep(2500); // the checkpoint is then older than the staleness (2 s)
      s = await serve(target, dir);
      restartS = (performance.now() - k0) / 1000;
      sample = sampler(s);
      continue;
    }
    await sleep(200);
  }
  const exportS = (performance.now() - t0) / 1000;
  const p = sample.stop();
  peakMiB = Math.max(peakMiB, p.rss);
  peakHeapMiB = Math.max(peakHeapMiB, p.heap);
  // Every file read back: each resource once, exactly the database's.
  const seen = new Map<string, number>();
  for (const o of manifest!.output) {
    const text = await (await fetch(o.url.replace(/^https?:\/\/[^/]+/, s.url))).text();
    for (const line of text.split('\n')) {
      if (!line) continue;
      const r = JSON.parse(line) as { resourceType: string; id: string };
      const key = `${r.resourceType}/${r.id}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
  }
  let duplicates = 0;
  let extra = 0;
  for (const [key, n] of seen) {
    if (n > 1) duplicates += n - 1;
    if (!expected.has(key)) extra++;
  }
  const missing = [...expected].filter((k) => !seen.has(k)).length;
  await stop(s, 'SIGTERM');
  rmSync(dir, { recursive: true, force: true });
  return { label, usagers, resources: expected.size, seedS, idleMiB, peakMiB, idleHeapMiB, peakHeapMiB, exportS, restartS, anchorS, ...(killedAt !== undefined ? { killedAt } : {}), exported: [...seen.values()].reduce((a, b) => a + b, 0), duplicates, missing, extra };
}

function print(f: Figures): void {
  const rate = f.resources / (f.exportS - f.restartS);
  const anchorRate = f.resources / f.anchorS;
  console.log(
    `${f.label.padEnd(22)} usagers ${String(f.usagers).padStart(6)}  resources ${String(f.resources).padStart(7)}  seed ${f.seedS.toFixed(1).padStart(5)} s  ` +
      `export ${(f.exportS - f.restartS).toFixed(1).padStart(5)} s${f.restartS ? ` + restart ${f.restartS.toFixed(1)} s` : ''} (${Math.round(rate)} res/s; anchor ${Math.round(anchorRate)} res/s, ratio ${(rate / anchorRate).toFixed(2)})  ` +
      `live heap idle ${f.idleHeapMiB.toFixed(0)} MiB, peak ${f.peakHeapMiB.toFixed(0)} MiB (ratio ${(f.peakHeapMiB / f.idleHeapMiB).toFixed(2)}); RSS idle ${f.idleMiB.toFixed(0)}, peak ${f.peakMiB.toFixed(0)} MiB  ` +
      `${f.killedAt !== undefined ? `killed at ${f.killedAt} written, resumed; ` : ''}exported ${f.exported}: duplicates ${f.duplicates}, missing ${f.missing}, extra ${f.extra}`,
  );
}

async function main(): Promise<void> {
  const kill = !process.argv.includes('--no-kill');
  const pgSizes = sizes('pg', [2000, 10000]);
  const embeddedSizes = sizes('embedded', [1000]);
  const t0 = performance.now();
  const validator = await TdduiValidator.create({ packages: [SHARED_FHIR] });
  const all: Figures[] = [];
  if (pgSizes.length) {
    const name = `h3_bench_export_${process.pid}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = PG_ADMIN_URL.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
    try {
      const repo = await openRepository({ url });
      try {
        for (const n of pgSizes) {
          const seedS = await seed(repo, validator, n);
          const f = await runExport('PostgreSQL', { database: url }, repo, n, seedS, kill);
          print(f);
          all.push(f);
        }
      } finally {
        await repo.close();
      }
    } finally {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    }
  }
  for (const n of embeddedSizes) {
    const data = mkdtempSync(join(tmpdir(), 'tddui-bench-export-data-'));
    try {
      const repo = await openRepository({ dataDir: data });
      let seedS: number;
      try {
        seedS = await seed(repo, validator, n);
      } catch (e) {
        await repo.close();
        throw e;
      }
      const f = await runExport('embedded (PGlite)', { data }, repo, n, seedS, kill);
      print(f);
      all.push(f);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  }
  const pgRuns = all.filter((f) => f.label === 'PostgreSQL');
  if (pgRuns.length >= 2) {
    const [small, large] = [pgRuns[0]!, pgRuns[pgRuns.length - 1]!];
    console.log(
      `\nPostgreSQL, ${small.usagers} → ${large.usagers} usagers (${(large.resources / small.resources).toFixed(1)}× the resources): ` +
        `peak live heap during the export ${small.peakHeapMiB.toFixed(0)} → ${large.peakHeapMiB.toFixed(0)} MiB (${(large.peakHeapMiB / small.peakHeapMiB).toFixed(2)}×); ` +
        `peak RSS ${small.peakMiB.toFixed(0)} → ${large.peakMiB.toFixed(0)} MiB (${(large.peakMiB / small.peakMiB).toFixed(2)}×)`,
    );
  }
  const bad = all.filter((f) => f.duplicates || f.missing || f.extra);
  console.log(`\n${bad.length ? `FAILED: ${bad.map((f) => `${f.label} ${f.usagers}`).join(', ')} not exported exactly once` : 'every run: each resource exported exactly once'}; total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  if (bad.length) process.exitCode = 1;
}

// --- child mode: a server with a short staleness, so a restarted one resumes at once ----------
if (process.argv.includes('--serve')) {
  const database = flag('database');
  const dataDir = flag('data');
  const srv = await startServer({
    port: 0,
    ...(database ? { database } : { dataDir: dataDir! }),
    packages: [SHARED_FHIR],
    logLevel: 'warn',
    limits: { readRate: 0, writeRate: 0 },
    // A job whose checkpoint is 2 s old belongs to a stopped server (default 60 s).
    bulkExport: { dir: flag('dir')!, staleSeconds: 2 },
  });
  process.stdout.write(`BENCH-URL ${srv.url}\n`);
  // The live heap (after a full collection) every second: what the process really holds, where
  // the RSS also counts garbage not yet collected and memory V8 keeps for later.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    setInterval(() => {
      gc();
      process.stdout.write(`BENCH-MEM ${(process.memoryUsage().heapUsed / 1048576).toFixed(1)}\n`);
    }, 1000).unref();
  }
  process.on('SIGTERM', () => void srv.close().then(() => process.exit(0)));
} else {
  await main();
}
