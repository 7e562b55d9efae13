// Server life cycle: graceful shutdown with a request in flight, unexpected errors (500 with a
// logged error id), /healthz when the database is gone, data kept across restarts (--data),
// and the `tddui serve` command itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { openRepository } from '../storage/index.js';
import { createTestDatabase, postgresUnavailable } from '../storage/testing.js';
import { TdduiValidator } from '../tddui/validator.js';
import { REPO_ROOT, SHARED_FHIR } from '../testing/paths.js';
import { availableParallelism } from 'node:os';
import { parseServeArgs } from '../cli/serve.js';
import { buildServer, startServer } from './app.js';
import { http, readExample } from './test-support.js';

const SSIAD = 'Bundle-tddui-bundle-example.json';

describe('server life cycle', { concurrency: false }, () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('close() lets a request in flight finish, then refuses connections and closes the database; --data keeps the data across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tddui-data-'));
    dirs.push(dir);
    const s = await startServer({ port: 0, dataDir: dir, packages: [SHARED_FHIR], logLevel: 'silent' });
    const body = Buffer.from(JSON.stringify(readExample(SSIAD)));
    const { port } = new URL(s.url);
    let closing: Promise<void> | undefined;
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/fhir', headers: { 'content-type': 'application/fhir+json', 'content-length': body.length } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      // Half the body now, the rest after shutdown has begun.
      req.write(body.subarray(0, body.length >> 1));
      setTimeout(() => {
        closing = s.close();
        setTimeout(() => req.end(body.subarray(body.length >> 1)), 150);
      }, 150);
    });
    const r = await response;
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.equal(JSON.parse(r.text).type, 'transaction-response');
    const location = JSON.parse(r.text).entry[0].response.location as string;
    await closing;
    await assert.rejects(fetch(`${s.url}/healthz`));
    await assert.rejects(s.repo.db.query('SELECT 1'));
    await s.close(); // idempotent

    // What the request in flight wrote is on disk: a new server on the same folder reads it.
    const again = await startServer({ port: 0, dataDir: dir, packages: [SHARED_FHIR], logLevel: 'silent' });
    try {
      const read = await http(`${again.url}/fhir/${location}`);
      assert.equal(read.status, 200);
      assert.equal(read.json.resourceType, 'Patient');
    } finally {
      await again.close();
    }
  });

  it('an unexpected error is a 500 OperationOutcome with an error id that is in the log; /healthz says 503 without a database', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    const repo = await openRepository({ dataDir: 'memory://' });
    const validator = await TdduiValidator.create({ packages: [SHARED_FHIR] });
    const app = await buildServer({ repo, validator, logger: pino({ level: 'info' }, sink), trustProxy: true });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      assert.equal((await http(`${base}/healthz`)).status, 200);
      // trustProxy: links are those of the public URL the proxy serves.
      const behindProxy = await http(`${base}/fhir/Patient`, { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'fhir.example.org' } });
      assert.equal(behindProxy.json.link[0].url, 'https://fhir.example.org/fhir/Patient?_count=20&_offset=0');
      // Deliberately the database alone, not repo.close() (D-337): this is a database lost under a
      // running server, whose repository (and its background work) is still up; finally closes it.
      await repo.db.close();
      const r = await http(`${base}/fhir/Patient/abc`, { headers: { 'x-request-id': 'lb-7f3a.42:1' } });
      assert.equal(r.status, 500);
      assert.equal(r.json.resourceType, 'OperationOutcome');
      const diag = r.json.issue[0].diagnostics as string;
      const id = /error id ([0-9a-f-]{36})/.exec(diag)?.[1];
      assert.ok(id, diag);
      assert.doesNotMatch(diag, /closed|pglite|Error:/i, 'no internal detail leaks');
      // The client's correlation id is kept: echoed, in the 500 outcome, on the error's log line.
      assert.equal(r.headers.get('x-request-id'), 'lb-7f3a.42:1');
      assert.match(diag, /request id lb-7f3a\.42:1\)/);
      assert.match(r.json.issue[0].details.text, /identifiant de requête lb-7f3a\.42:1/);
      const logged = lines.map((l) => JSON.parse(l)).find((l) => l.errorId === id);
      assert.ok(logged, 'the error id is logged');
      assert.equal(logged.level, 50);
      assert.ok(logged.err?.stack);
      assert.equal(logged.reqId, 'lb-7f3a.42:1');
      // Without one (or with one that is not a short token), a fresh UUID per request.
      const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
      const generated = await Promise.all(([{}, {}, { 'x-request-id': 'x'.repeat(129) }, { 'x-request-id': 'a b' }] as Record<string, string>[]).map((headers) => http(`${base}/fhir/Patient/abc`, { headers })));
      const ids = generated.map((g) => g.headers.get('x-request-id') ?? '');
      for (const g of ids) assert.match(g, uuid);
      assert.equal(new Set(ids).size, 4);
      assert.ok(generated[0]!.json.issue[0].diagnostics.includes(`request id ${ids[0]})`));
      const h = await http(`${base}/healthz`);
      assert.equal(h.status, 503);
      assert.equal(h.json.status, 'unavailable');
      // Search values are health data: their values stay out of the log, names and paging stay.
      await http(`${base}/fhir/Patient?name=DUPONT&identifier=urn:oid:1.2.250.1.213.1.4.8%7C147720425367411&_count=5`);
      const searchLog = lines.find((l) => l.includes('/fhir/Patient?'));
      assert.ok(searchLog);
      assert.equal(JSON.parse(searchLog).req.url, '/fhir/Patient?name=*&identifier=*&_count=5');
      assert.ok(!lines.some((l) => l.includes('DUPONT') || l.includes('147720425367411')));
      // Requests are logged as JSON lines with their id, echoed in x-request-id.
      assert.ok(lines.some((l) => JSON.parse(l).msg === 'request completed' && JSON.parse(l).reqId === r.headers.get('x-request-id')));
    } finally {
      await app.close();
      await repo.close(); // the server built on a repository does not close it; closing the database twice is harmless
    }
  });

  // D-325: seen at the end of a benchmark on PostgreSQL, 'rejected submissions: the sweep failed'
  // (level 50): shutdown cleared the sweep's timer but closed the database under the sweep in
  // flight. Now close() waits for it: no error line, and the sweep's queries all ran.
  for (const driver of ['pglite', 'postgres'] as const) {
    it(`close() waits for the periodic sweep in flight before closing the database, and logs no error (${driver})`, async (t) => {
      let database: { url: string; drop: () => Promise<void> } | undefined;
      if (driver === 'postgres') {
        const why = await postgresUnavailable();
        if (why) return t.skip(`PostgreSQL unavailable: ${why}`);
        database = await createTestDatabase({ prefix: 'tddui_t_sweep' });
      }
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk, _enc, cb) {
          lines.push(...String(chunk).split('\n').filter(Boolean));
          cb();
        },
      });
      try {
        const s = await startServer({ port: 0, ...(database ? { database: database.url } : { dataDir: 'memory://' }), packages: [SHARED_FHIR], logLevel: 'info', logDestination: sink, rejectedSweepMs: 20 });
        // A slow sweep (a loaded database): the timer's next run is in flight when close() begins.
        const prune = s.repo.pruneRejectedSubmissions.bind(s.repo);
        let began!: () => void;
        const inFlight = new Promise<void>((resolve) => (began = resolve));
        let sweeps = 0;
        let ended = 0;
        s.repo.pruneRejectedSubmissions = async (policy) => {
          sweeps++;
          began();
          await new Promise((resolve) => setTimeout(resolve, 300));
          const r = await prune(policy);
          ended++;
          return r;
        };
        await inFlight;
        const mark = lines.length;
        await s.close();
        // (Time for a sweep left running to fail and log, as it did before D-325.)
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal(sweeps, 1, 'no sweep starts once close() has begun');
        assert.equal(ended, 1, 'the sweep in flight ran to its end before the database closed');
        await assert.rejects(s.repo.db.query('SELECT 1'), 'the database is closed');
        const logs = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
        assert.ok(logs.some((l) => l.level === 30), 'the log was captured');
        // (Start-up warns of packages missing from the cache: only what shutdown logs counts.)
        assert.deepEqual(logs.slice(mark).filter((l) => l.level >= 40 || /sweep/.test(l.msg)), [], 'no warning or error at shutdown');
      } finally {
        await database?.drop();
      }
    });
  }

  it('tddui serve options', () => {
    const W = Math.min(8, availableParallelism());
    assert.deepEqual(parseServeArgs([], {}), { options: { port: 8080, host: '127.0.0.1', logLevel: 'info', dataDir: './.tddui-data', validationWorkers: W } });
    assert.deepEqual(parseServeArgs(['--validation-workers', '0'], {}), { options: { port: 8080, host: '127.0.0.1', logLevel: 'info', dataDir: './.tddui-data', validationWorkers: 0 } });
    assert.deepEqual(parseServeArgs(['--port', '9000', '--data', '/tmp/x', '--packages', 'a', '--packages', 'b', '--log-level', 'warn', '--host', '0.0.0.0', '--trust-proxy'], { DATABASE_URL: 'postgres://h/db' }), {
      options: { port: 9000, host: '0.0.0.0', logLevel: 'warn', dataDir: '/tmp/x', packages: ['a', 'b'], trustProxy: true, validationWorkers: W },
    });
    assert.deepEqual(parseServeArgs([], { PORT: '7000', DATABASE_URL: 'postgres://h/db', LOG_LEVEL: 'debug' }), {
      options: { port: 7000, host: '127.0.0.1', logLevel: 'debug', database: 'postgres://h/db', validationWorkers: W },
    });
    // D-331: named prepared statements off for a pooler that does not carry them.
    assert.deepEqual(parseServeArgs(['--no-named-statements'], { DATABASE_URL: 'postgres://h/db' }), {
      options: { port: 8080, host: '127.0.0.1', logLevel: 'info', database: 'postgres://h/db', namedStatements: false, validationWorkers: W },
    });
    assert.equal((parseServeArgs([], { DATABASE_URL: 'postgres://h/db', TDDUI_NO_NAMED_STATEMENTS: '1' }) as { options: { namedStatements?: boolean } }).options.namedStatements, false);
    assert.deepEqual(parseServeArgs(['--help'], {}), { help: true });
    for (const bad of [['--port', 'x'], ['--port', '70000'], ['--log-level', 'loud'], ['--data', 'a', '--database', 'postgres://h/db'], ['--database', 'mysql://h/db'], ['--nope'], ['extra'], ['--validation-workers', 'many']]) {
      assert.ok('error' in parseServeArgs(bad, {}), bad.join(' '));
    }
  });

  it('tddui serve prints its URL, logs JSON lines, and stops cleanly on SIGTERM', async () => {
    const cli = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
    const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--data', 'memory://', '--packages', SHARED_FHIR], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed; stdout: ${out}; stderr: ${err}`)), 30_000);
      child.stdout.on('data', (c) => {
        out += c;
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    try {
      const h = await http(`${url}/healthz`);
      assert.equal(h.status, 200);
      const meta = await http(`${url}/fhir/metadata`);
      assert.equal(meta.json.resourceType, 'CapabilityStatement');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, err);
    const logs = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    assert.ok(logs.some((l) => l.msg === 'request completed' && l.res?.statusCode === 200));
    assert.ok(logs.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'));

    const help = spawn(process.execPath, [cli, 'serve', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let helpText = '';
    help.stdout.on('data', (c) => (helpText += c));
    assert.equal(await new Promise((r) => help.on('exit', r)), 0);
    assert.match(helpText, /--database URL/);
    const bad = spawn(process.execPath, [cli, 'serve', '--port', 'abc'], { stdio: 'ignore' });
    assert.equal(await new Promise((r) => bad.on('exit', r)), 2);
  });
});
