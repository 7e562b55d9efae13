// The hostile probe at full size (issue 21): 10,000 seeded hostile requests (src/testing/
// hostile-requests.ts) against a server on each database (PGlite in memory; PostgreSQL when
// reachable). Prints the answers by status, the 5xx count (must be 0), the time, and the
// process memory before and after (after a GC when run with --expose-gc), so that a leak shows.
// Usage: npm run build && node --expose-gc dist/bench/probe.js [count]
import { startServer } from '../src/server/app.js';
import { createTestDatabase, postgresUnavailable } from '../src/storage/testing.js';
import { hostileRequests, probe, send } from '../src/testing/hostile-requests.js';
import { EXAMPLES_DIR, SHARED_FHIR } from '../src/testing/paths.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const count = Number(process.argv[2] ?? 10_000);
const bundle = readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-bundle-example.json'), 'utf8');
const gc = (globalThis as { gc?: () => void }).gc;
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;

for (const kind of ['embedded', 'postgres'] as const) {
  if (kind === 'postgres' && (await postgresUnavailable())) {
    console.log('postgres: not reachable, skipped');
    continue;
  }
  const db = kind === 'postgres' ? await createTestDatabase() : undefined;
  const s = await startServer({ port: 0, packages: [SHARED_FHIR], logLevel: 'silent', limits: { writeRate: 0, readRate: 0 }, ...(db ? { database: db.url } : { dataDir: 'memory://' }) });
  const port = Number(new URL(s.url).port);
  await send(port, { kind: 'seed', method: 'POST', path: '/fhir', headers: { 'content-type': 'application/fhir+json' }, body: bundle });
  gc?.();
  const before = process.memoryUsage();
  const t0 = performance.now();
  const { byStatus, failures } = await probe(port, hostileRequests(count, bundle));
  const ms = performance.now() - t0;
  gc?.();
  const afterMem = process.memoryUsage();
  console.log(`${kind}: ${count} hostile requests in ${(ms / 1000).toFixed(1)} s; 5xx: ${failures.length}; by status: ${[...byStatus].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k === -1 ? 'socket' : k} ${v}`).join(', ')}`);
  console.log(`${kind}: heap ${mb(before.heapUsed)} -> ${mb(afterMem.heapUsed)}, rss ${mb(before.rss)} -> ${mb(afterMem.rss)}${gc ? '' : ' (run with --expose-gc for comparable figures)'}`);
  for (const f of failures.slice(0, 10)) console.log(`  5xx ${f.status} ${f.kind} ${f.path}`);
  await s.close();
  await db?.drop();
}
