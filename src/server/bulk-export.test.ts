// FHIR Bulk Data $export over real HTTP, both databases: the async protocol's states and errors
// (kick-off, 202 + Content-Location, polling with X-Progress, the manifest, NDJSON files,
// DELETE), `_type`, `_since`, `_typeFilter`, Patient and Group level; every resource exported
// exactly once (against the database); a server stopped mid-export, whose file holds a
// half-written page past the checkpoint, is resumed by the next server with the same result.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer, type StartOptions } from './app.js';
import { createTestDatabase, http, postgresSkipReason, readExample, type DbKind } from './test-support.js';
import { seedGenerated } from '../ui/testing/seed.js';
import { REPO_ROOT, SHARED_FHIR } from '../testing/paths.js';

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 120_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const pgSkip = await postgresSkipReason();
const ASYNC = { prefer: 'respond-async', accept: 'application/fhir+json' };

async function waitDone(url: string, timeoutMs = 120_000): Promise<{ manifest: Json; progress: string[] }> {
  const progress: string[] = [];
  const t0 = Date.now();
  for (;;) {
    const r = await http(url);
    if (r.status === 200) return { manifest: r.json, progress };
    assert.equal(r.status, 202, r.text.slice(0, 300));
    progress.push(r.headers.get('x-progress') ?? '');
    assert.ok(r.headers.get('retry-after'));
    if (Date.now() - t0 > timeoutMs) throw new Error('export did not finish');
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function lines(url: string): Promise<Json[]> {
  const r = await fetch(url);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type')!, /application\/fhir\+ndjson/);
  return (await r.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

async function exported(manifest: Json): Promise<Map<string, Json[]>> {
  const out = new Map<string, Json[]>();
  for (const o of manifest.output as Json[]) {
    const rs = await lines(o.url);
    assert.equal(rs.length, o.count, `${o.type}: the manifest's count`);
    assert.ok(rs.every((r) => r.resourceType === o.type));
    out.set(o.type, rs);
  }
  return out;
}

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  describe(`bulk $export (${kind})`, () => {
    const skip = kind === 'postgres' ? pgSkip : undefined;
    let s: RunningServer;
    let base: string;
    let dir: string;
    let dataDir: string;
    let db: { url: string; drop: () => Promise<void> } | undefined;
    const options = (extra: Partial<StartOptions> = {}): StartOptions => ({
      port: 0,
      packages: [SHARED_FHIR],
      logLevel: process.env.TDDUI_TEST_LOG ?? 'silent',
      ...(db ? { database: db.url } : { dataDir }),
      bulkExport: { dir },
      ...extra,
    });
    before(async () => {
      if (skip) return;
      dir = mkdtempSync(join(tmpdir(), 'tddui-export-'));
      dataDir = mkdtempSync(join(tmpdir(), 'tddui-export-db-'));
      if (kind === 'postgres') db = await createTestDatabase();
      s = await startServer(options());
      base = `${s.url}/fhir`;
      assert.equal((await http(base, { body: readExample('Bundle-tddui-bundle-example.json') })).status, 200);
      assert.equal((await http(base, { body: readExample('Bundle-tddui-pp-pa-bundle-example.json') })).status, 200);
      assert.deepEqual([...new Set(await seedGenerated({ repo: s.repo, validator: s.validator }, 8, 'bulk-export'))], [200]);
    });
    after(async () => {
      await s?.close();
      await db?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    const dbCounts = async (sql = `SELECT resource_type AS t, count(*) AS n FROM resource WHERE NOT deleted GROUP BY 1`, params: unknown[] = []) =>
      new Map((await s.repo.db.query<{ t: string; n: string }>(sql, params)).rows.map((r) => [r.t, Number(r.n)]));

    it('refuses a kick-off without Prefer: respond-async, with an unknown parameter, type or format', { skip }, async () => {
      const cases: [string, Record<string, string>, RegExp][] = [
        [`${base}/$export`, { accept: 'application/fhir+json' }, /Prefer: respond-async/],
        [`${base}/$export?_foo=1`, ASYNC, /_foo/],
        [`${base}/$export?_type=Spaceship`, ASYNC, /Spaceship/],
        [`${base}/$export?_outputFormat=text/csv`, ASYNC, /_outputFormat/],
        [`${base}/$export?_since=hier`, ASYNC, /_since/],
        [`${base}/$export?_typeFilter=Encounter?nonsense=1`, ASYNC, /nonsense/],
      ];
      for (const [url, headers, message] of cases) {
        const r = await http(url, { headers });
        assert.equal(r.status, 400, url);
        assert.equal(r.json.resourceType, 'OperationOutcome');
        assert.match(JSON.stringify(r.json), message, url);
      }
      assert.equal((await http(`${base}/$export-poll-status/unknown-job`)).status, 404);
    });

    it('system level: 202, polling, the manifest; every stored resource exactly once', { skip }, async () => {
      const k = await http(`${base}/$export`, { headers: ASYNC });
      assert.equal(k.status, 202);
      const poll = k.headers.get('content-location')!;
      assert.match(poll, /\/fhir\/\$export-poll-status\/[0-9a-f-]+$/);
      const { manifest } = await waitDone(poll);
      assert.equal(manifest.requiresAccessToken, false);
      assert.ok(Date.parse(manifest.transactionTime));
      assert.match(manifest.request, /\/fhir\/\$export$/);
      const files = await exported(manifest);
      const expected = await dbCounts();
      assert.deepEqual(new Map([...files].map(([t, rs]) => [t, rs.length])), expected);
      for (const [t, rs] of files) assert.equal(new Set(rs.map((r) => r.id)).size, rs.length, `${t}: each once`);
    });

    it('Patient level with _type and _since; _typeFilter by date; Group level; DELETE', { skip }, async () => {
      const k = await http(`${base}/Patient/$export?_type=Patient,Encounter`, { headers: ASYNC });
      assert.equal(k.status, 202);
      const files = await exported((await waitDone(k.headers.get('content-location')!)).manifest);
      assert.deepEqual([...files.keys()].sort(), ['Encounter', 'Patient']);
      assert.equal(files.get('Patient')!.length, (await dbCounts()).get('Patient'));
      const encountersOfPatients = await dbCounts(
        `SELECT 'Encounter' AS t, count(*) AS n FROM resource r WHERE resource_type = 'Encounter' AND NOT deleted AND EXISTS (SELECT 1 FROM search_reference s WHERE s.resource_type = 'Encounter' AND s.id = r.id AND s.target_type = 'Patient')`,
      );
      assert.equal(files.get('Encounter')!.length, encountersOfPatients.get('Encounter'));

      const future = await http(`${base}/$export?_since=2999-01-01T00:00:00Z`, { headers: ASYNC });
      assert.deepEqual((await waitDone(future.headers.get('content-location')!)).manifest.output, []);

      // _typeFilter by date: the same Encounters as the search.
      const starts = (await s.repo.db.query<{ d: string }>(`SELECT substring(content->'period'->>'start' from 1 for 10) AS d FROM resource WHERE resource_type = 'Encounter' AND NOT deleted AND content->'period'->>'start' IS NOT NULL ORDER BY 1`)).rows.map((r) => r.d);
      const day = starts[Math.floor(starts.length / 2)]!;
      const search = await http(`${base}/Encounter?date=ge${day}&_count=0&_total=accurate`);
      const filtered = await http(`${base}/$export?_type=Encounter&_typeFilter=${encodeURIComponent(`Encounter?date=ge${day}`)}`, { headers: ASYNC });
      assert.equal(filtered.status, 202, filtered.text);
      const got = await exported((await waitDone(filtered.headers.get('content-location')!)).manifest);
      assert.equal(got.get('Encounter')?.length ?? 0, search.json.total);
      assert.ok(search.json.total > 0 && search.json.total < (await dbCounts()).get('Encounter')!, 'a filter that keeps some');

      // Group level: only its members' data.
      const patient = files.get('Patient')![0];
      const group = await s.repo.create({ resourceType: 'Group', type: 'person', actual: true, member: [{ entity: { reference: `Patient/${patient.id}` } }] });
      const g = await http(`${base}/Group/${group.id}/$export?_type=Patient,Encounter`, { headers: ASYNC });
      assert.equal(g.status, 202, g.text);
      const mine = await exported((await waitDone(g.headers.get('content-location')!)).manifest);
      assert.deepEqual(mine.get('Patient')!.map((p) => p.id), [patient.id]);
      assert.ok((mine.get('Encounter') ?? []).every((e) => e.subject?.reference === `Patient/${patient.id}`));

      // DELETE: the job and its files are gone.
      const d = await http(`${base}/$export?_type=Patient`, { headers: ASYNC });
      const url = d.headers.get('content-location')!;
      const { manifest } = await waitDone(url);
      assert.equal((await http(url, { method: 'DELETE' })).status, 202);
      assert.equal((await http(url)).status, 404);
      assert.equal((await fetch(manifest.output[0].url)).status, 404);
      assert.equal((await http(url, { method: 'DELETE' })).status, 404);
    });

    it('tddui export (a real process) kicks off, polls, downloads the files and deletes the job', { skip }, async () => {
      const out = mkdtempSync(join(tmpdir(), 'tddui-export-cli-'));
      try {
        const cliPath = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
        const r = await run(process.execPath, [cliPath, 'export', '--url', base, '--type', 'Patient,Encounter', '--out', out, '--interval', '0.2']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /export accepted: .*\$export-poll-status\//);
        assert.match(r.stdout, /resources in 2 files/);
        const patients = readFileSync(join(out, 'Patient.ndjson'), 'utf8').split('\n').filter(Boolean);
        assert.equal(patients.length, (await dbCounts()).get('Patient'));
        const jobs = await s.repo.db.query<{ n: string }>(`SELECT count(*) AS n FROM export_job WHERE status = 'deleted'`);
        assert.ok(Number(jobs.rows[0]!.n) >= 2, 'the CLI deleted its job');
        const bad = await run(process.execPath, [cliPath, 'export', '--url', base, '--type', 'Spaceship', '--out', out]);
        assert.equal(bad.code, 1);
        assert.match(bad.stderr, /HTTP 400.*Spaceship/);
        assert.equal((await run(process.execPath, [cliPath, 'export'])).code, 2);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });

    it('a server stopped mid-export: the next one resumes from the checkpoint, each resource once', { skip }, async () => {
      await s.close();
      s = await startServer(options({ bulkExport: { dir, pageSize: 1 } }));
      base = `${s.url}/fhir`;
      const k = await http(`${base}/$export`, { headers: ASYNC });
      const jobId = k.headers.get('content-location')!.split('/').pop()!;
      // Let it write a few pages, then stop the server in the middle.
      for (let i = 0; i < 200; i++) {
        const r = await http(`${base}/$export-poll-status/${jobId}`);
        if (/^([5-9]|\d{2,}) resources/.test(r.headers.get('x-progress') ?? '')) break;
        await new Promise((res) => setTimeout(res, 20));
      }
      await s.close();
      const job = (await (kind === 'postgres' ? import('../storage/index.js').then((m) => m.openRepository({ url: db!.url })) : import('../storage/index.js').then((m) => m.openRepository({ dataDir })))).db;
      const row = (await job.query<{ status: string; progress: Json; params: Json }>('SELECT status, progress, params FROM export_job WHERE id = $1', [jobId])).rows[0]!;
      await job.close();
      assert.equal(row.status, 'running', 'stopped in the middle');
      const progress = typeof row.progress === 'string' ? JSON.parse(row.progress) : row.progress;
      const params = typeof row.params === 'string' ? JSON.parse(row.params) : row.params;
      // A page written after the last checkpoint, to the file of the type being exported (the process died before saving it).
      appendFileSync(join(dir, jobId, `${params.types[progress.typeIndex]}.ndjson`), '{"resourceType":"Patient","id":"half-written"}\n');
      s = await startServer(options({ bulkExport: { dir, staleSeconds: 0 } }));
      base = `${s.url}/fhir`;
      const { manifest } = await waitDone(`${base}/$export-poll-status/${jobId}`);
      const files = await exported(manifest);
      const expected = await dbCounts();
      expected.delete('Group'); // stored by the Group test, not a type this server serves
      assert.deepEqual(new Map([...files].map(([t, rs]) => [t, rs.length])), expected);
      for (const [t, rs] of files) assert.equal(new Set(rs.map((r) => r.id)).size, rs.length, `${t}: each once`);
      assert.ok(![...files.values()].flat().some((r) => r.id === 'half-written'));
    });
  });
}
