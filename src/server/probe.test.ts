// The hostile probe suite (issue 21), sized for CI: seeded hostile requests (src/testing/
// hostile-requests.ts) against a real server on each database; no answer may be a 5xx and no
// rejected request may store anything (the submission log and the audit trail record refusals
// by design; everything else is compared byte for byte), and the heap after a full GC comes
// back to its baseline (measured after a warm-up: caches fill on first use). bench/probe.ts
// runs 10,000 per database; TDDUI_PROBE_REQUESTS changes the count here.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hostileRequests, probe, send } from '../testing/hostile-requests.js';
import { heapBackToBaseline, memoryAfterGc } from '../testing/memory.js';
import { SHARED_FHIR } from '../testing/paths.js';
import { startServer, type RunningServer } from './app.js';
import { createTestDatabase, dumpTables, postgresSkipReason, readExample, type DbKind } from './test-support.js';

const COUNT = Number(process.env.TDDUI_PROBE_REQUESTS ?? 400);
const KEPT_BY_DESIGN = ['submission', 'audit_event', 'export_job'];

const pgSkip = await postgresSkipReason();

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  describe(`hostile probe (${kind}, ${COUNT} requests)`, { skip: kind === 'postgres' ? pgSkip : undefined }, () => {
    let s: RunningServer;
    let drop: (() => Promise<void>) | undefined;
    before(async () => {
      const db = kind === 'postgres' ? await createTestDatabase() : undefined;
      drop = db?.drop;
      // Rate limits off: the probe is about the handlers, not the limiter (limits.test.ts is).
      s = await startServer({ port: 0, packages: [SHARED_FHIR], logLevel: 'silent', limits: { writeRate: 0, readRate: 0 }, ...(db ? { database: db.url } : { dataDir: 'memory://' }) });
    });
    after(async () => {
      await s?.close();
      await drop?.();
    });

    it('answers every hostile request without a 5xx, and stores nothing for them', async () => {
      const bundle = JSON.stringify(readExample('Bundle-tddui-bundle-example.json'));
      const port = Number(new URL(s.url).port);
      // One accepted Bundle first, so that searches, chains and includes have data to touch.
      assert.equal(await send(port, { kind: 'seed', method: 'POST', path: '/fhir', headers: { 'content-type': 'application/fhir+json' }, body: bundle }), 200);
      await probe(port, hostileRequests(100, bundle, 7));
      const baseline = await memoryAfterGc();
      const before = await dumpTables(s.repo, KEPT_BY_DESIGN);
      const { byStatus, failures } = await probe(port, hostileRequests(COUNT, bundle));
      assert.deepEqual(failures.slice(0, 10), [], `5xx answers: ${failures.length} (${[...byStatus].map(([k, v]) => `${k}: ${v}`).join(', ')})`);
      assert.deepEqual(await dumpTables(s.repo, KEPT_BY_DESIGN), before, 'nothing stored by a hostile request');
      // The requests reached the handlers: 4xx answers of several kinds, few refused at the socket.
      for (const status of [400, 404, 422]) assert.ok((byStatus.get(status) ?? 0) > 0, `some ${status} (${[...byStatus].join(' ')})`);
      assert.ok((byStatus.get(-1) ?? 0) < COUNT * 0.05, `refused at the socket: ${byStatus.get(-1) ?? 0}`);
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
      const after = await memoryAfterGc();
      const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
      assert.ok(heapBackToBaseline(baseline.heapUsed, after.heapUsed), `heap after GC ${mib(baseline.heapUsed)} -> ${mib(after.heapUsed)}`);
    });
  });
}
