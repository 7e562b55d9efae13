// Reads on a real streaming replica (issue 19): a throw-away primary and a `pg_basebackup -R`
// standby of it, each a real `postgres` process (storage/pg-cluster.ts), and a real server with
// --read-database over real HTTP. Shown: searches served from the replica (with its replay
// paused, a client that has not written sees the replica's older copy), read-your-writes (the
// client that has just written sees its write at once), and the server still answering when the
// replica stops.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { parseServeArgs } from '../cli/serve.js';
import { openRepository, runInReadContext, type Database } from '../storage/index.js';
import type { SqlRepository } from '../storage/repository.js';
import { parseLsn, replicaFailure } from '../storage/read-replicas.js';
import { clusterUnavailable, startReplicatedCluster, type ReplicatedCluster } from '../storage/pg-cluster.js';
import { SHARED_FHIR } from '../testing/paths.js';
import { startServer, type RunningServer } from './app.js';
import { CORE_TEST_MODULE } from './core-suite.js';
import { http, parseLocation } from './test-support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const skip = clusterUnavailable();
if (skip) console.log(`# read replica test skipped: ${skip}`);

describe('reads on a streaming replica (--read-database)', { skip, concurrency: false, timeout: 180_000 }, () => {
  let cluster: ReplicatedCluster;
  let server: RunningServer;
  let base: string;
  let exportDir: string;
  before(async () => {
    exportDir = mkdtempSync(join(tmpdir(), 'tddui-replica-export-'));
    cluster = await startReplicatedCluster();
    try {
      server = await startServer({
        port: 0,
        host: '127.0.0.1',
        packages: [SHARED_FHIR],
        logLevel: process.env.TDDUI_TEST_LOG ?? 'silent',
        validationWorkers: 0,
        modules: [CORE_TEST_MODULE],
        // Two clients told apart by their (forwarded) address.
        trustProxy: true,
        database: cluster.primary.url,
        bulkExport: { dir: exportDir },
        readDatabases: [cluster.replica.url],
      });
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    base = `${server.url}/fhir`;
  });
  after(async () => {
    await server?.close();
    await cluster?.destroy();
    if (exportDir) rmSync(exportDir, { recursive: true, force: true });
  });

  const as = (client: string) => ({ 'x-forwarded-for': client });
  const A = as('10.0.0.1');
  const B = as('10.0.0.2');
  const patient = (family: string) => ({ resourceType: 'Patient', identifier: [{ system: 'urn:replica-test', value: family }], name: [{ family }] });
  const families = async (family: string, headers: Record<string, string>) => {
    const r = await http(`${base}/Patient?family=${family}`, { headers });
    assert.equal(r.status, 200, r.text);
    return (r.json.entry ?? []).map((e: Json) => e.resource.name[0].family as string);
  };
  /** Rows the replica has, asked of it directly. */
  const onReplica = async (family: string) => {
    const c = new pg.Client({ connectionString: cluster.replica.url });
    await c.connect();
    try {
      const r = await c.query(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient' AND content->'name'->0->>'family' = $1`, [family]);
      return r.rows[0].n as number;
    } finally {
      await c.end();
    }
  };
  const replicaReads = () => server.repo.readReplicas!.status()[0]!.reads;
  /** The router sees the replica in service (probed now; bounded). */
  const inService = async () => {
    for (let i = 0; i < 100 && !server.repo.readReplicas!.status()[0]!.up; i++) {
      await server.repo.readReplicas!.probe();
      if (!server.repo.readReplicas!.status()[0]!.up) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(server.repo.readReplicas!.status()[0]!.up, true, JSON.stringify(server.repo.readReplicas!.status()));
  };

  it('serves searches from the replica, and a client its own writes at once (read-your-writes)', async () => {
    await inService();
    const first = await http(`${base}/Patient`, { body: patient('Replique-Un'), headers: A });
    assert.equal(first.status, 201, first.text);
    await cluster.caughtUp();
    await inService();
    // Replica in step: B's search is served by it.
    let reads = replicaReads();
    assert.deepEqual(await families('Replique-Un', B), ['Replique-Un']);
    assert.ok(replicaReads() > reads, 'the search was served by the replica');

    // The replica stops replaying: it keeps serving what it has.
    await cluster.pauseReplay();
    const second = await http(`${base}/Patient`, { body: patient('Replique-Deux'), headers: A });
    assert.equal(second.status, 201, second.text);
    assert.equal(await onReplica('Replique-Deux'), 0, 'the paused replica does not have the new Patient');
    // A, who has just written, reads its write (from the primary)…
    reads = replicaReads();
    assert.deepEqual(await families('Replique-Deux', A), ['Replique-Deux']);
    const id = parseLocation(second.headers.get('location')!).id;
    assert.equal((await http(`${base}/Patient/${id}`, { headers: A })).status, 200);
    assert.equal(replicaReads(), reads, "A's reads did not go to the replica, which is behind its write");
    // …while B, who has not written, is served by the replica's older copy.
    assert.deepEqual(await families('Replique-Deux', B), []);
    assert.ok(replicaReads() > reads);
    assert.equal((await http(`${base}/Patient/${id}`, { headers: B })).status, 404);

    // Replay resumes: once the replica has A's write, A reads from the replica again.
    await cluster.resumeReplay();
    await cluster.caughtUp();
    await inService();
    reads = replicaReads();
    assert.deepEqual(await families('Replique-Deux', B), ['Replique-Deux']);
    assert.deepEqual(await families('Replique-Deux', A), ['Replique-Deux']);
    assert.equal(replicaReads(), reads + 2, 'both searches served by the replica');
  });

  it('$export reads a replica that has every write made before the job started, else the primary', async () => {
    const exportFamilies = async (headers: Record<string, string>) => {
      const k = await http(`${base}/$export?_type=Patient`, { headers: { ...headers, prefer: 'respond-async', accept: 'application/fhir+json' } });
      assert.equal(k.status, 202, k.text);
      const poll = k.headers.get('content-location')!;
      for (let i = 0; i < 600; i++) {
        const r = await http(poll, { headers });
        if (r.status === 200) {
          const out: string[] = [];
          for (const o of r.json.output) {
            const text = await (await fetch(o.url, { headers })).text();
            for (const line of text.split('\n').filter(Boolean)) out.push(JSON.parse(line).name[0].family);
          }
          return out.sort();
        }
        assert.equal(r.status, 202, r.text);
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error('the export did not finish');
    };
    await cluster.pauseReplay();
    const w = await http(`${base}/Patient`, { body: patient('Replique-Export'), headers: B });
    assert.equal(w.status, 201, w.text);
    let reads = replicaReads();
    // The paused replica is behind the job's start: the pages come from the primary.
    assert.ok((await exportFamilies(B)).includes('Replique-Export'));
    assert.equal(replicaReads(), reads, 'no page read from the replica that is behind');
    await cluster.resumeReplay();
    await cluster.caughtUp();
    await inService();
    reads = replicaReads();
    assert.ok((await exportFamilies(A)).includes('Replique-Export'));
    assert.ok(replicaReads() > reads, 'the pages were read from the replica');
  });

  it('reads the derived tables where no write is left to refresh: a replica that has a write but not its drain sends the read to the primary (D-356)', async () => {
    const repo = server.repo as SqlRepository;
    repo.derived.setBackground(false);
    try {
      await repo.drainDerived();
      const w = await http(`${base}/Patient`, { body: patient('Replique-Derivee'), headers: A });
      assert.equal(w.status, 201, w.text);
      const id = parseLocation(w.headers.get('location')!).id;
      // The replica has the write, and with it its keys left for the refresh: not yet drained.
      await cluster.caughtUp();
      await inService();
      const pendingOnReplica = async () => {
        const c = new pg.Client({ connectionString: cluster.replica.url });
        await c.connect();
        try {
          return (await c.query(`SELECT count(*)::int AS n FROM derived_pending`)).rows[0].n as number;
        } finally {
          await c.end();
        }
      };
      assert.ok((await pendingOnReplica()) > 0);
      const listed = async (db: Database) => (await db.query(`SELECT 1 FROM usager_sort WHERE id = $1`, [id])).rows.length;
      // B has not written: its reads may go to the replica, but that copy is behind the drain.
      const ctx = { client: () => '10.0.0.2', readOnly: true, open: true };
      assert.notEqual(await runInReadContext(ctx, () => repo.reader()), repo.db, "B's plain reads go to the replica");
      const first = await runInReadContext(ctx, () => repo.derivedReader());
      assert.equal(first, repo.db, 'keys pending on the replica: drained on the primary, read there');
      assert.equal(await listed(first), 1);
      // Once the replica has replayed the drain, nothing is pending there: it serves the derived tables.
      await cluster.caughtUp();
      await inService();
      assert.equal(await pendingOnReplica(), 0);
      const second = await runInReadContext(ctx, () => repo.derivedReader());
      assert.notEqual(second, repo.db, 'nothing pending on the replica: read there');
      assert.equal(await listed(second), 1);
    } finally {
      repo.derived.setBackground(true);
    }
  });

  it('keeps answering when the replica stops: its reads go to the primary', async () => {
    await cluster.stopReplica();
    // Right after the stop, before any health probe has noticed.
    assert.deepEqual(await families('Replique-Un', B), ['Replique-Un']);
    assert.deepEqual(await families('Replique-Deux', A), ['Replique-Deux']);
    const w = await http(`${base}/Patient`, { body: patient('Replique-Trois'), headers: B });
    assert.equal(w.status, 201, w.text);
    assert.deepEqual(await families('Replique-Trois', B), ['Replique-Trois']);
    // (Two failed probes take a replica out; here the failed reads already did.)
    await server.repo.readReplicas!.probe();
    await server.repo.readReplicas!.probe();
    const health = await http(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'ok');
    assert.equal(health.json.replicas[0].up, false);
  });
});

describe('--read-database options', () => {
  it('is repeatable, PostgreSQL only, and read from $TDDUI_READ_DATABASES', async () => {
    const p = parseServeArgs(['--database', 'postgres://p/db', '--read-database', 'postgres://r1/db', '--read-database', 'postgresql://r2/db', '--validation-workers', '0'], {});
    assert.ok('options' in p);
    assert.deepEqual(p.options.readDatabases, ['postgres://r1/db', 'postgresql://r2/db']);
    const env = parseServeArgs(['--validation-workers', '0'], { DATABASE_URL: 'postgres://p/db', TDDUI_READ_DATABASES: 'postgres://r1/db, postgres://r2/db' });
    assert.ok('options' in env);
    assert.deepEqual(env.options.readDatabases, ['postgres://r1/db', 'postgres://r2/db']);
    assert.match((parseServeArgs(['--read-database', 'postgres://r1/db'], {}) as { error: string }).error, /needs --database postgres:\/\/….*embedded database has no replicas/);
    assert.match((parseServeArgs(['--data', '/tmp/x', '--read-database', 'postgres://r1/db'], {}) as { error: string }).error, /needs --database/);
    assert.match((parseServeArgs(['--database', 'postgres://p/db', '--read-database', 'mysql://u:secret@r/db'], {}) as { error: string }).error, /must be a postgres:\/\/ URL \(got "mysql:\/\/u:\*\*\*@r\/db"\)/);
    await assert.rejects(openRepository({ dataDir: 'memory://', readUrls: ['postgres://r/db'] }), /embedded database has no replicas/);
  });

  it('compares WAL positions as numbers and tells a lost replica from a failed query', () => {
    assert.equal(parseLsn('0/16B3748'), 0x16b3748n);
    assert.ok(parseLsn('1/0')! > parseLsn('0/FFFFFFFF')!);
    assert.equal(parseLsn(null), undefined);
    assert.equal(replicaFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), 'down');
    assert.equal(replicaFailure(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })), 'down');
    assert.equal(replicaFailure(Object.assign(new Error('canceling statement due to conflict with recovery'), { code: '40001' })), 'retry');
    assert.equal(replicaFailure(Object.assign(new Error('syntax error'), { code: '42601' })), undefined);
  });
});
