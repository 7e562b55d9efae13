// bench/ui-ab: the same UI pages served by two builds, paired: `node dist/bench/ui-ab.js <A> <B>`
// (each a build's output folder, e.g. another worktree's `dist`), UI_AB_DATABASE=postgres://… (a
// filled database, e.g. bench/ui's), UI_AB_PAGES=/usagers/<id>,/revues (comma-separated),
// UI_AB_ROUNDS (default 21). Both servers run in this process on the same database; each round
// fetches every page from A and from B, alternating which goes first; printed: the median wall
// time and the median CPU time of this process during the request (server and client), and B/A.
import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

interface Running {
  url: string;
  close(): Promise<void>;
}

const [dirA, dirB] = process.argv.slice(2);
const DATABASE = process.env.UI_AB_DATABASE;
const PAGES = (process.env.UI_AB_PAGES ?? '').split(',').filter(Boolean);
const ROUNDS = Number(process.env.UI_AB_ROUNDS ?? 21);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function start(dir: string): Promise<Running> {
  const root = pathToFileURL(resolve(dir)).href;
  const { startServer } = (await import(`${root}/src/server/app.js`)) as { startServer(o: Record<string, unknown>): Promise<Running> };
  const { SHARED_FHIR } = (await import(`${root}/src/testing/paths.js`)) as { SHARED_FHIR: string };
  return startServer({ port: 0, database: DATABASE, packages: [SHARED_FHIR], logLevel: 'error', limits: { readRate: 0, writeRate: 0 } });
}

async function fetchOne(srv: Running, path: string): Promise<{ ms: number; cpu: number; size: number }> {
  const c0 = process.cpuUsage();
  const t = performance.now();
  const res = await fetch(srv.url + path);
  const body = await res.text();
  const ms = performance.now() - t;
  const c = process.cpuUsage(c0);
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
  return { ms, cpu: (c.user + c.system) / 1000, size: body.length };
}

async function main(): Promise<void> {
  if (!dirA || !dirB || !DATABASE || PAGES.length === 0) throw new Error('usage: UI_AB_DATABASE=postgres://… UI_AB_PAGES=/a,/b node dist/bench/ui-ab.js <build A> <build B>');
  const a = await start(dirA);
  const b = await start(dirB);
  try {
    for (const path of PAGES) {
      for (let i = 0; i < 5; i++) await Promise.all([fetchOne(a, path), fetchOne(b, path)]);
      const ra: Awaited<ReturnType<typeof fetchOne>>[] = [];
      const rb: typeof ra = [];
      for (let i = 0; i < ROUNDS; i++) {
        if (i % 2) {
          rb.push(await fetchOne(b, path));
          ra.push(await fetchOne(a, path));
        } else {
          ra.push(await fetchOne(a, path));
          rb.push(await fetchOne(b, path));
        }
      }
      const line = (rs: typeof ra) => `wall ${median(rs.map((r) => r.ms)).toFixed(1)} ms, CPU ${median(rs.map((r) => r.cpu)).toFixed(1)} ms, ${(rs[0]!.size / 1024).toFixed(0)} KiB`;
      const ratio = (f: (r: (typeof ra)[number]) => number) => (median(rb.map(f)) / median(ra.map(f))).toFixed(2);
      console.log(`${path}\n  A ${line(ra)}\n  B ${line(rb)}\n  B/A wall ${ratio((r) => r.ms)}, CPU ${ratio((r) => r.cpu)}`);
    }
  } finally {
    await a.close();
    await b.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
