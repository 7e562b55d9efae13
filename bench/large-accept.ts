// bench/large-accept (issue 21's leftover): a VALID 40 MB TDDUI transaction Bundle (~14,000
// entries, src/testing/big-bundle.ts) accepted and stored by a real server (one validation worker,
// a process of its own: bench/server-child with its event-loop block logger; the official example accepted first, as a
// warm-up), on PostgreSQL and on the embedded database on
// disk, while /healthz is probed every 10 ms from a thread of its own (src/testing/healthz-prober,
// validation-pool.test's prober: the idle anchor first, the same server, same run). Printed per run: the answer's time, /healthz p50/p95/p99/max against the
// anchor, the server's longest event-loop block during the request (monitorEventLoopDelay in the
// server) and its blocks of 50 ms or more, the load average before and after.
//
//   node dist/bench/large-accept.js [checkout ...] [--db=pg,embedded] [--runs=1] [--mb=40] [--prof=DIR] [--statements]
//
// Checkouts: builds to run (each with its own dist/; default this one), in turn per run.
// `--prof=DIR`: the servers run with --cpu-prof into DIR (their main thread's profile, for
// attributing the blocks: see bench/README). `--statements`: on PostgreSQL, the run's 8 costliest
// statements (pg_stat_statements of its own database, nested ones too: track=all).
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createTestDatabase, postgresUnavailable } from '../src/storage/testing.js';
import { bigBundle } from '../src/testing/big-bundle.js';
import { percentile, startHealthzProber, type HealthzProber } from '../src/testing/healthz-prober.js';
import { REPO_ROOT } from '../src/testing/paths.js';
import { readExample } from '../src/server/test-support.js';

const args = process.argv.slice(2);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const dirs = args.filter((a) => !a.startsWith('--')).map((d) => resolve(d));
if (!dirs.length) dirs.push(REPO_ROOT);
const DBS = (option('db') ?? 'pg,embedded').split(',');
const RUNS = Number(option('runs') ?? 1);
const MB = Number(option('mb') ?? 40);
const PROF = option('prof');
const STATEMENTS = args.includes('--statements');
const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'server-child.js');

const post = (url: string, body: Buffer) =>
  new Promise<{ status: number; bytes: Buffer }>((ok, fail) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/fhir+json', 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode!, bytes: Buffer.concat(chunks) }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(body);
  });

const text = bigBundle(MB * 1024 * 1024, true);
const body = Buffer.from(text);
const entries = (JSON.parse(text) as { entry: unknown[] }).entry.length;
console.log(`valid Bundle: ${(body.length / 1048576).toFixed(1)} MiB, ${entries} entries; ${availableParallelism()} cores; builds: ${dirs.join(', ')}`);

for (let run = 0; run < RUNS; run++)
  for (const kind of DBS)
    for (const dir of dirs) {
      if (kind === 'pg' && (await postgresUnavailable())) {
        console.log('PostgreSQL not reachable: skipped');
        continue;
      }
      const pgdb = kind === 'pg' ? await createTestDatabase() : undefined;
      const folder = kind === 'pg' ? undefined : mkdtempSync(join(tmpdir(), 'large-accept-'));
      const child = fork(CHILD, [dir, pgdb?.url ?? folder!, '--workers=1', '--block-logger', '--log-level=error'], { execArgv: PROF ? ['--cpu-prof', `--cpu-prof-dir=${PROF}`] : [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const messages: Record<string, unknown>[] = [];
      let wake = () => {};
      child.on('message', (m) => (messages.push(m as Record<string, unknown>), wake()));
      const next = async () => {
        while (!messages.length) await new Promise<void>((r) => (wake = r));
        return messages.shift()!;
      };
      let prober: HealthzProber | undefined;
      try {
        const url = (await next()).url as string;
        // Warm-up: the official example Bundle accepted first (its objects are not the copies'), so
        // what is measured is not the first write's one-time costs (compilation, first plans).
        const warm = await post(`${url}/fhir`, Buffer.from(JSON.stringify(readExample('Bundle-tddui-bundle-example.json'))));
        if (warm.status !== 200) throw new Error(`warm-up: ${warm.status} ${warm.bytes.subarray(0, 400).toString()}`);
        prober = await startHealthzProber(url);
        const idle = prober.idle;
        child.send('mark');
        const load = loadavg()[0]!;
        const t0 = performance.now();
        const r = await post(`${url}/fhir`, body);
        const seconds = (performance.now() - t0) / 1000;
        const loadAfter = loadavg()[0]!;
        child.send('report');
        const { busy, slow } = await prober.stop();
        const { longest, blocks } = (await next()) as { longest: number; blocks: { at: number; ms: number; end: number }[] };
        const answer = r.status === 200 ? (JSON.parse(r.bytes.toString('utf8')) as { resourceType: string; entry?: unknown[] }) : undefined;
        if (!answer || answer.resourceType !== 'Bundle' || answer.entry?.length !== entries) throw new Error(`not accepted whole: ${r.status} ${r.bytes.subarray(0, 400).toString()}`);
        console.log(
          `${kind} ${dir}: accepted (${entries} entries) in ${seconds.toFixed(1)} s; server's longest event-loop block ${longest.toFixed(0)} ms; ` +
            `/healthz ${busy.length} probes p50 ${percentile(busy, 50).toFixed(1)} p95 ${percentile(busy, 95).toFixed(1)} p99 ${percentile(busy, 99).toFixed(1)} max ${Math.max(...busy).toFixed(0)} ms ` +
            `(idle anchor p50 ${percentile(idle, 50).toFixed(1)} p99 ${percentile(idle, 99).toFixed(1)} ms); load average ${load.toFixed(1)} then ${loadAfter.toFixed(1)}`,
        );
        console.log(`  /healthz probes over 100 ms (at s: ms): ${slow.join(' ') || 'none'}`);
        console.log(`  blocks >= 50 ms (at s: ms): ${blocks.map((b) => `${(b.at / 1000).toFixed(1)}:${b.ms.toFixed(0)}`).join(' ') || 'none'}`);
        if (PROF) console.log(`  blocks (profile clock, µs end:ms): ${JSON.stringify(blocks.map((b) => [b.end, Math.round(b.ms)]))}`);
        if (STATEMENTS && pgdb) {
          const db = new pg.Client({ connectionString: pgdb.url });
          await db.connect();
          // (A value over 1 MiB is in submission_part's pieces, D-343; the table is absent before it.)
          const parted = (await db.query(`SELECT to_regclass('submission_part') IS NOT NULL AS t`)).rows[0].t as boolean;
          const size = (f: string) =>
            parted ? `coalesce(octet_length(s.${f}::text), (SELECT sum(octet_length(q.data)) FROM submission_part q WHERE q.submission_id = s.id AND q.field = '${f}'))` : `octet_length(s.${f}::text)`;
          const sizes = await db.query<{ b: number; r: number; s: number }>(`SELECT ${size('bundle')} AS b, ${size('report')} AS r, ${size('response')} AS s FROM submission s ORDER BY received_at DESC LIMIT 1`);
          await db.end();
          const mib = (n: number) => `${(Number(n) / 1048576).toFixed(1)} MiB`;
          console.log(`  submission record: bundle ${mib(sizes.rows[0]!.b)}, report ${mib(sizes.rows[0]!.r)}, response ${mib(sizes.rows[0]!.s)}`);
          // pg_stat_statements lives in the postgres database (the extension's view), filtered by this run's database.
          const admin = new pg.Client({ connectionString: Object.assign(new URL(pgdb.url), { pathname: '/postgres' }).toString() });
          await admin.connect();
          const top = await admin.query<{ calls: string; ms: number; query: string }>(
            `SELECT calls, round(total_exec_time)::int AS ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query FROM pg_stat_statements
              WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) ORDER BY total_exec_time DESC LIMIT 8`,
            [new URL(pgdb.url).pathname.slice(1)],
          ).finally(() => admin.end());
          for (const s of top.rows) console.log(`  statement ${String(s.ms).padStart(7)} ms ${String(s.calls).padStart(6)} calls  ${s.query}`);
        }
      } finally {
        await prober?.terminate();
        child.send('close');
        await new Promise((r) => child.once('exit', r));
        await pgdb?.drop();
        if (folder) rmSync(folder, { recursive: true, force: true });
      }
    }
