// Validation off the event loop (issue 21): transaction Bundles and large $validate bodies are
// validated by worker threads, with the same answers as the main thread, and /healthz stays
// responsive while a 40 MB Bundle is validated.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { performance } from 'node:perf_hooks';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from '../storage/testing.js';
import { REPO_ROOT, SHARED_FHIR } from '../testing/paths.js';
import { bigBundle } from '../testing/big-bundle.js';
import { percentile, startHealthzProber } from '../testing/healthz-prober.js';
import { http, readExample, startTestServer, type TestServer } from './test-support.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('validation worker pool', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer('embedded', { validationWorkers: 2 });
    await srv.validationPool!.whenReady();
  });
  after(async () => srv?.stop());

  it('the main thread compiles no profile up front nor for the transactions its workers check; a $validate it answers compiles what it needs, with the worker\'s answer (D-349)', async () => {
    // (First in this suite: the other tests validate on this thread to compare.)
    const held = () => srv.validator.igs.map((ig) => ig.engine.profiles.size);
    // Each TDDUI version's Bundle profile alone: its entry slices order the profile choice.
    assert.deepEqual(held(), [1, 1], 'no profile compiled at start-up');
    const pool = srv.validationPool!;
    let before = pool.completed;
    const ok = await http(`${srv.base}`, { body: readExample('Bundle-tddui-pp-pa-bundle-example.json') });
    assert.equal(ok.status, 200, ok.text.slice(0, 300));
    assert.equal(pool.completed, before + 1);
    assert.deepEqual(held(), [1, 1], 'none for a transaction a worker checked');
    // A small $validate is answered here (profiles compiled now), a large one (the same resource
    // and trailing spaces) by a worker, which compiled everything at its start: the same outcome.
    const bundle = readExample('Bundle-tddui-pp-pa-bundle-example.json') as Json;
    const patient = bundle.entry.find((e: Json) => e.resource.resourceType === 'Patient').resource;
    patient.birthDate = '1930-13-45';
    patient.gender = 'unknown-gender';
    bundle.entry.find((e: Json) => e.resource.resourceType === 'CarePlan').resource.status = 'draft';
    for (const [path, body] of [['Bundle/$validate', bundle], ['Patient/$validate', patient], ['Patient/$validate', readExample('Patient-tddui-patient-ins-example.json')]] as const) {
      before = pool.completed;
      const here = await http(`${srv.base}/${path}`, { body: JSON.stringify(body) });
      assert.equal(pool.completed, before, `${path}: answered on this thread`);
      const text = JSON.stringify(body) + ' '.repeat(300 * 1024);
      const there = await http(`${srv.base}/${path}`, { body: text });
      assert.equal(pool.completed, before + 1, `${path}: answered by a worker`);
      assert.equal(here.status, 200, here.text.slice(0, 300));
      assert.deepEqual(here.json, there.json, path);
      assert.equal(here.json.issue.some((i: Json) => i.severity === 'error'), body !== bundle && body !== patient ? false : true, `${path}: ${here.text.slice(0, 300)}`);
    }
    assert.ok(held().every((n) => n > 20), `compiled on first use: ${held().join(', ')}`);
  });

  it('a transaction Bundle is validated in a worker, with the main thread\'s answer', async () => {
    const pool = srv.validationPool!;
    const bundle = readExample('Bundle-tddui-bundle-example.json');
    const before = pool.completed;
    const ok = await http(`${srv.base}`, { body: bundle });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.type, 'transaction-response');
    // An invalid one: the 422's issues are exactly those of the main thread's validator.
    const bad = structuredClone(bundle);
    const patient = bad.entry.find((e: Json) => e.resource.resourceType === 'Patient').resource;
    patient.birthDate = '1930-13-45';
    const refused = await http(`${srv.base}`, { body: bad });
    assert.equal(refused.status, 422, refused.text);
    assert.equal(pool.completed, before + 2, 'both validated by a worker');
    const local = srv.validator.validate(JSON.parse(JSON.stringify(bad)), { now: new Date() });
    const key = (i: Json) => `${i.severity}|${i.expression?.[0] ?? ''}|${i.diagnostics}`;
    const errorsOf = (issues: Json[]) => issues.filter((i) => i.severity === 'error').map(key).sort();
    assert.ok(errorsOf(refused.json.issue).length > 0);
    assert.deepEqual(errorsOf(refused.json.issue), errorsOf((await import('../fhir/outcome/issue.js')).toOperationOutcome(local.issues).issue as Json[]));
  });

  it('a refused transaction is refused by the worker whole: the answer and the logged record are those of this thread', async () => {
    const pool = srv.validationPool!;
    const { checkTransaction, rejectionRecord } = await import('../ingest/index.js');
    // Invalid (a bad date) and large enough to be read by a worker too; then a NUL in a name.
    const invalid = JSON.parse(bigBundle(600 * 1024, true)) as Json;
    invalid.entry.find((e: Json) => e.resource.resourceType === 'Patient').resource.birthDate = '1930-13-45';
    const nul = readExample('Bundle-tddui-bundle-example.json') as Json;
    nul.entry.find((e: Json) => e.resource.resourceType === 'Patient').resource.name[0].family = 'Du\u0000pont';
    // (A lone surrogate too: the worker skips its scan only when the bytes hold no escape that could make one.)
    const surrogate = readExample('Bundle-tddui-bundle-example.json') as Json;
    surrogate.entry.find((e: Json) => e.resource.resourceType === 'Patient').resource.name[0].family = 'Du\uDC00pont';
    const notTransaction = { ...(readExample('Bundle-tddui-bundle-example.json') as Json), type: 'batch' };
    for (const [what, bundle, status] of [['invalid', invalid, 422], ['NUL', nul, 422], ['surrogate', surrogate, 422], ['batch', notTransaction, 400]] as const) {
      const before = pool.completed;
      const r = await http(`${srv.base}`, { body: JSON.stringify(bundle) });
      assert.equal(r.status, status, `${what}: ${r.text.slice(0, 300)}`);
      assert.ok(pool.completed > before, `${what}: checked by a worker`);
      const local = checkTransaction(structuredClone(bundle), (b) => srv.validator.validate(b, { now: new Date() }));
      assert.ok('refused' in local);
      // The same OperationOutcome (French and English, expressions), issue for issue.
      assert.deepEqual(r.json, JSON.parse(JSON.stringify(local.refused.outcome)), what);
      if (what === 'NUL' || what === 'surrogate') assert.equal(r.json.issue[0].expression[0], `Bundle.entry[${bundle.entry.findIndex((e: Json) => e.resource.resourceType === 'Patient')}].resource.name[0].family`);
      // The same record in the submission log.
      const id = r.headers.get('x-tddui-submission');
      assert.ok(id, `${what}: logged`);
      const logged = (await srv.repo.getSubmission(id!))!;
      const expected = rejectionRecord(structuredClone(bundle), local.refused);
      assert.equal(logged.outcome, 'rejected');
      assert.equal(logged.httpStatus, status);
      assert.equal(logged.errorCount, expected.errorCount);
      assert.equal(logged.warningCount, expected.warningCount);
      assert.deepEqual(logged.usagers, expected.usagers);
      assert.equal(logged.organizationFiness, expected.organizationFiness);
      assert.deepEqual(logged.bundle, JSON.parse((expected.bundle as { text: string }).text));
      assert.deepEqual(logged.report, JSON.parse((expected.report as { text: string }).text));
      assert.equal(logged.submittedType, 'Bundle');
    }
    // Nothing stored by any of them.
    const count = await http(`${srv.base}/Patient?_summary=count`);
    assert.equal(count.json.total, 2, 'only the valid examples of the first two tests');
  });

  it('a large body is read by a worker (JSON and XML), the tree rebuilt here: same answers as reading it here', async () => {
    const pool = srv.validationPool!;
    // A transaction of 600 KiB: read by a worker (1 task), validated by a worker (1 task), stored.
    const text = bigBundle(600 * 1024, true);
    let before = pool.completed;
    const ok = await http(`${srv.base}`, { body: text });
    assert.equal(ok.status, 200, ok.text.slice(0, 500));
    assert.equal(ok.json.entry.length, JSON.parse(text).entry.length);
    assert.equal(pool.completed, before + 1, 'read and checked by one worker task (D-286)');
    // Its stored Patients are the sent ones, whole.
    const sent = (JSON.parse(text) as Json).entry as Json[];
    const at = sent.map((e) => e.resource.resourceType).lastIndexOf('Patient');
    const last = sent[at]!.resource;
    const stored = await http(`${srv.url}/fhir/${String(ok.json.entry[at].response.location).replace(/^.*?\/fhir\//, '').replace(/\/_history\/.*$/, '')}`);
    assert.equal(stored.status, 200);
    assert.deepEqual(stored.json.name, last.name);
    // The errors of the body parser, raised in the worker.
    const pad = ' '.repeat(300 * 1024);
    const notJson = await http(`${srv.base}/Patient`, { body: `{"resourceType": "Patient",${pad}` });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.json.issue[0].details.coding[0].code, 'http-body-not-json');
    const deep = await http(`${srv.base}/Patient`, { body: `${'['.repeat(200)}${pad}${']'.repeat(200)}` });
    assert.equal(deep.status, 400);
    assert.equal(deep.json.issue[0].details.coding[0].code, 'http-body-too-deep');
    before = pool.completed;
    const many = await http(`${srv.base}/Patient`, { body: JSON.stringify({ resourceType: 'Patient', name: [{ given: Array.from({ length: 100_001 }, () => 'x') }] }) });
    assert.equal(many.status, 413, many.text.slice(0, 300));
    assert.equal(many.json.issue[0].expression[0], 'Patient.name[0].given');
    assert.equal(pool.completed, before + 1, 'refused by the worker that read it');
    // A prototype key in a large body stays a plain key (no prototype pollution here).
    const proto = await http(`${srv.base}/$validate`, { type: 'application/fhir+json', body: `{"resourceType":"Patient","__proto__":[${Array.from({ length: 40_000 }, () => '"polluted"').join(',')}]}` });
    assert.equal(proto.status, 200, proto.text.slice(0, 300));
    assert.equal(({} as Json).length, undefined);
    // XML: a large $validate read by a worker; a large XML transaction read by one, its JSON kept for validation.
    const xmlBundle = (await http(`${srv.base}/Bundle/$validate`, { body: text })).json;
    assert.equal(xmlBundle.resourceType, 'OperationOutcome');
    const { jsonToXml } = await import('../fhir/xml/index.js');
    const xmlText = jsonToXml(JSON.parse(text));
    before = pool.completed;
    const xv = await http(`${srv.base}/Bundle/$validate`, { type: 'application/fhir+xml', headers: { accept: 'application/fhir+json' }, body: xmlText });
    assert.equal(xv.status, 200, xv.text.slice(0, 300));
    assert.equal(pool.completed, before + 1, 'XML $validate read and validated by a worker');
    assert.deepEqual(xv.json.issue.map((i: Json) => i.diagnostics).sort(), xmlBundle.issue.map((i: Json) => i.diagnostics).sort());
    before = pool.completed;
    const xt = await http(`${srv.base}`, { type: 'application/fhir+xml', headers: { accept: 'application/fhir+json' }, body: xmlText });
    assert.equal(xt.status, 200, xt.text.slice(0, 300));
    assert.equal(pool.completed, before + 1, 'XML transaction read and checked by one worker task');
    const badXml = await http(`${srv.base}/Patient`, { type: 'application/fhir+xml', body: `<Patient xmlns="http://hl7.org/fhir">${pad}<name>` });
    assert.equal(badXml.status, 400);
    assert.equal(badXml.json.issue[0].details.coding[0].code, 'http-body-not-xml');
  });

  it('a large refused transaction is never parsed on this thread: read, checked and refused by one worker task (D-286)', async () => {
    const pool = srv.validationPool!;
    const invalid = JSON.parse(bigBundle(2 * 1024 * 1024, true)) as Json;
    invalid.entry.find((e: Json) => e.resource.resourceType === 'Patient').resource.birthDate = '1930-13-45';
    const body = JSON.stringify(invalid);
    // Every JSON.parse of this thread (the server's main thread: its workers have their own) counted while the request runs.
    const parse = JSON.parse;
    let parsed = 0;
    JSON.parse = ((text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) => {
      parsed += typeof text === 'string' ? text.length : 0;
      return parse(text, reviver);
    }) as typeof JSON.parse;
    const before = pool.completed;
    let res: Response;
    let answer: string;
    try {
      res = await fetch(srv.base, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body });
      answer = await res.text();
    } finally {
      JSON.parse = parse;
    }
    assert.equal(res.status, 422, answer.slice(0, 300));
    assert.ok(parsed < 64 * 1024, `${parsed} characters of JSON parsed on the main thread (the body is ${body.length})`);
    assert.equal(pool.completed, before + 1, 'one worker task');
    assert.ok(res.headers.get('x-tddui-submission'), 'logged');
    // An unreadable large transaction: read by the worker, logged with its first 64 Ki characters.
    const unreadable = await http(`${srv.base}`, { body: '{' + 'x'.repeat(300_000) });
    assert.equal(unreadable.status, 400);
    assert.equal(unreadable.json.issue[0].details.coding[0].code, 'http-body-not-json');
    const last = (await srv.repo.listSubmissions({ count: 1, offset: 0 })).items[0]!;
    const logged = await srv.repo.getSubmission(last.id);
    assert.equal((logged?.bundle as { unreadableBody: string }).unreadableBody, '{' + 'x'.repeat(64 * 1024 - 1));
  });

  it('"Valider un fichier" with a large file: the page is built by a worker', async () => {
    const pool = srv.validationPool!;
    const text = bigBundle(600 * 1024);
    const before = pool.completed;
    const res = await fetch(`${srv.url}/valider`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: new URLSearchParams({ contenu: text, nom: 'gros.json' }).toString() });
    const page = await res.text();
    assert.equal(res.status, 200);
    assert.equal(pool.completed, before + 1, 'answered by a worker');
    assert.match(page, /Rapport de validation/);
    assert.match(page, /gros\.json/);
    assert.match(page, new RegExp(`de ${JSON.parse(text).entry.length} entrée`));
    assert.ok(res.headers.get('content-security-policy'));
  });

  it('a large $validate body is read and validated by a worker: same outcome, same errors', async () => {
    const pool = srv.validationPool!;
    const text = bigBundle(600 * 1024);
    const before = pool.completed;
    const r = await http(`${srv.base}/Bundle/$validate`, { body: text });
    assert.equal(r.status, 200, r.text.slice(0, 500));
    assert.equal(pool.completed, before + 1);
    const local = srv.validator.validateToOutcome(JSON.parse(text)) as unknown as Json;
    assert.equal(r.json.issue.length, local.issue.length);
    assert.deepEqual(r.json.issue.map((i: Json) => i.diagnostics).sort(), local.issue.map((i: Json) => i.diagnostics).sort());
    // The errors a route raises, raised in the worker.
    const pad = ' '.repeat(300 * 1024);
    const notJson = await http(`${srv.base}/$validate`, { body: `{"resourceType": "Bundle",${pad}` });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.json.issue[0].details.coding[0].code, 'http-body-not-json');
    const deep = await http(`${srv.base}/$validate`, { body: `${'['.repeat(200)}${pad}${']'.repeat(200)}` });
    assert.equal(deep.status, 400);
    assert.equal(deep.json.issue[0].details.coding[0].code, 'http-body-too-deep');
    const wrongType = await http(`${srv.base}/Patient/$validate`, { body: text });
    assert.equal(wrongType.status, 400);
    assert.equal(wrongType.json.issue[0].details.coding[0].code, 'http-validate-type');
    const badProfile = await http(`${srv.base}/$validate?profile=http://example.org/nope`, { body: text });
    assert.equal(badProfile.status, 400, badProfile.text.slice(0, 300));
  });

});

// A volet's resource (here a CDS circle of care) in a large `$validate`: validated in the worker
// with its IG's engine and the module's rules, as the server's service validates it.
describe('validation worker pool: a volet resource in a large $validate', () => {
  let srv: TestServer;
  const previous = process.env.FHIR_PACKAGE_CACHE;
  before(async () => {
    process.env.FHIR_PACKAGE_CACHE = SHARED_FHIR;
    srv = await startTestServer('embedded', { validationWorkers: 1, packages: [join(SHARED_FHIR, 'ans.fhir.fr.cdl#3.0.1'), join(SHARED_FHIR, 'ans.fhir.fr.cds#2.0.1')] });
    await srv.validationPool!.whenReady();
  });
  after(async () => {
    await srv?.stop();
    if (previous === undefined) delete process.env.FHIR_PACKAGE_CACHE;
    else process.env.FHIR_PACKAGE_CACHE = previous;
  });

  it('validated in the worker (one task), with the answer of this thread', async () => {
    const pool = srv.validationPool!;
    const { toOperationOutcome } = await import('../fhir/outcome/issue.js');
    const careTeam = {
      resourceType: 'CareTeam',
      meta: { profile: ['https://interop.esante.gouv.fr/ig/fhir/cds/StructureDefinition/cds-ihe-careteam'] },
      identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.99', value: 'cercle-2' }],
      status: 'active',
      name: 'Cercle',
      subject: { reference: 'Patient/x' },
      period: { start: '2026-01-05' },
      // Large enough for a worker (over 256 KiB).
      note: Array.from({ length: 40 }, (_, i) => ({ text: `Note ${i} `.repeat(1_000) })),
    };
    // Valid; then invalid for the profile (a status) and for the CDS module's rule (the subject is not a Patient).
    for (const resource of [careTeam, { ...careTeam, status: 'not-a-status', subject: { reference: 'Group/g' } }]) {
      const before = pool.completed;
      const r = await http(`${srv.base}/CareTeam/$validate`, { body: resource });
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assert.equal(pool.completed, before + 1, 'read and validated by the worker alone');
      const local = srv.service.validateAsCreate(structuredClone(resource) as never);
      assert.ok(local, "this thread's service validates it as a volet's resource");
      assert.deepEqual(r.json, JSON.parse(JSON.stringify(toOperationOutcome(local))));
    }
    const bad = await http(`${srv.base}/CareTeam/$validate`, { body: { ...careTeam, subject: { reference: 'Group/g' } } });
    assert.ok(bad.json.issue.some((i: Json) => i.severity === 'error' && i.expression?.[0] === 'CareTeam.subject' && /Patient/.test(i.details?.text ?? '')), JSON.stringify(bad.json.issue.slice(0, 5)));
  });
});

/** A real `tddui serve` in its own process (this process's work — building the body, reading the answer — is not counted against its event loop). */
async function serve(data: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const cli = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0', ...data, '--packages', SHARED_FHIR, '--validation-workers', '1', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`workers not ready; stdout: ${out.slice(-2000)}`)), 240_000);
      child.stdout.on('data', (c) => {
        out += c;
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m && out.includes('validation workers ready')) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.on('exit', (code) => reject(new Error(`tddui serve exited (${code}): ${out.slice(-2000)}`)));
    });
    return { url, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * `/healthz` probed every 10 ms (by the prober thread of testing/healthz-prober.ts, the one
 * bench/large-accept uses) while `request` runs, against an anchor (the same server idle, same
 * run). Prints the figures (docs/security.md quotes them) and checks the issue's bound: p99 under
 * 100 ms — unless the host itself is too loaded to tell (the idle anchor's own p99 50 ms or more,
 * or a load average above the cores + 2, this test's own threads), in which case the test says so
 * and is marked skipped.
 */
async function probeWhile(t: TestContext, url: string, what: string, request: () => Promise<{ status: number; bytes: Buffer }>): Promise<{ status: number; bytes: Buffer }> {
  const prober = await startHealthzProber(url);
  try {
    const idle = prober.idle;
    const t0 = performance.now();
    const load = loadavg()[0]!;
    const r = await request();
    const seconds = (performance.now() - t0) / 1000;
    const loadAfter = loadavg()[0]!;
    const { busy: latencies, slow } = await prober.stop();
    const p99 = percentile(latencies, 99);
    const idleP99 = percentile(idle, 99);
    console.log(
      `${what}: answered ${r.status} in ${seconds.toFixed(1)} s (${(r.bytes.length / 1048576).toFixed(1)} MiB); ` +
        `/healthz ${latencies.length} probes, p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms; ` +
        `idle anchor p50 ${percentile(idle, 50).toFixed(1)} ms, p99 ${idleP99.toFixed(1)} ms; load average ${load.toFixed(1)} then ${loadAfter.toFixed(1)} on ${availableParallelism()} cores; slow: ${slow.join(' ') || 'none'}`,
    );
    assert.ok(latencies.length >= 20, `only ${latencies.length} probes: the request was too quick to show anything`);
    // On the event loop, one probe would wait for the whole validation (or for the refusal after it).
    assert.ok(Math.max(...latencies) < (seconds * 1000) / 4, 'a probe waited for a large part of the request');
    // The issue's bound, on a host that can tell: its own noise well under it (the idle anchor's
    // p99 under 50 ms) and no more runnable work than cores (the 1-minute load average, before and
    // after). On an oversubscribed shared host the main thread waits for a core whatever it does
    // (load 11-13 on 2 cores: waits of 20-250 ms with ~0.3 s of its own work in 5 s): the figures
    // are printed, and the test is marked skipped rather than passed.
    // The load average counts this test's own runnable threads too (the server's main thread,
    // the validation worker, the prober, the client writing and reading 40 MB: 2-3 on an
    // otherwise idle 2-core host, measured), so "no more than cores" could never hold: the
    // guard allows them (cores + 2) and no more.
    const cores = availableParallelism();
    if (idleP99 < 50 && Math.max(load, loadAfter) <= cores + 2) assert.ok(p99 < 100, `/healthz p99 ${p99.toFixed(1)} ms during ${what}`);
    else t.skip(`host too loaded to tell (idle /healthz p99 ${idleP99.toFixed(1)} ms, load average ${load.toFixed(1)} then ${loadAfter.toFixed(1)} on ${cores} cores): the 100 ms bound is not checked`);
    return r;
  } finally {
    await prober.terminate();
  }
}

/** POSTs a body and reads the whole answer (node:http: no client-side time limit on a loaded machine). */
const post = (url: string, body: Buffer) => () =>
  new Promise<{ status: number; submission: string | null; bytes: Buffer }>((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/fhir+json', 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, submission: (res.headers['x-tddui-submission'] as string | undefined) ?? null, bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });

// A 40 MB transaction is read, checked and refused in the worker (ingest's checkTransaction and
// rejectionRecord): this thread rebuilds the tree in slices, writes the log's record and sends
// the refusal's bytes. `$validate`: read and validated in the worker, its outcome's bytes sent.
describe('validation off the event loop: /healthz while a 40 MB Bundle is read and validated (tddui serve, one worker)', () => {
  const text = bigBundle(40 * 1024 * 1024);
  const body = Buffer.from(text);

  const transaction = async (t: TestContext, url: string, db: string) => {
    let submission: string | null = null;
    const r = await probeWhile(t, url, `40 MB transaction on ${db} (${(text.length / 1048576).toFixed(1)} MiB)`, async () => {
      const x = await post(`${url}/fhir`, body)();
      submission = x.submission;
      return x;
    });
    assert.equal(r.status, 422, r.bytes.subarray(0, 300).toString());
    const outcome = JSON.parse(r.bytes.toString('utf8')) as Json;
    assert.equal(outcome.resourceType, 'OperationOutcome');
    assert.ok(outcome.issue.length > 14_000, 'the Bundle was validated in full');
    // Every error in both languages, at its place.
    for (const i of outcome.issue.filter((x: Json) => x.severity === 'error').slice(0, 200)) {
      assert.ok(i.diagnostics && i.details?.text && i.expression?.[0], JSON.stringify(i));
    }
    // Logged (without its Bundle: over 8 MiB once bounded), nothing stored.
    assert.ok(submission, 'the refusal is in the submission log');
    const page = await fetch(`${url}/envois/${submission}`);
    assert.equal(page.status, 200);
    const count = (await (await fetch(`${url}/fhir/Patient?_summary=count`)).json()) as Json;
    assert.equal(count.total, 0, 'nothing stored');
  };

  it('on the embedded database (on disk): a 40 MB transaction refused, then a 40 MB $validate', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tddui-healthz-'));
    const srv = await serve(['--data', dir]);
    try {
      await transaction(t, srv.url, 'the embedded database');
      const r = await probeWhile(t, srv.url, `40 MB Bundle/$validate`, post(`${srv.url}/fhir/Bundle/$validate`, body));
      assert.equal(r.status, 200);
      assert.ok((JSON.parse(r.bytes.toString('utf8')) as Json).issue.length > 14_000);
    } finally {
      await srv.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('on PostgreSQL: a 40 MB transaction refused', async (t) => {
    const db = await createTestDatabase();
    try {
      const srv = await serve(['--database', db.url]);
      try {
        await transaction(t, srv.url, 'PostgreSQL');
      } finally {
        await srv.stop();
      }
    } finally {
      await db.drop();
    }
  });
});
