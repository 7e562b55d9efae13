// `tddui publish` end to end: the real binary publishes a PDF to our own server playing the PDSm
// Gestionnaire (ITI-105); ITI-67 finds it and ITI-68 answers the same bytes (SHA-256 compared).
// Through a proxy that first answers 503 and then loses the answer of a delivered request, the
// retries of `send` publish it once (the Gestionnaire recognises the resend).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CACHE, PDSM_DIR } from '../coordination/pdsm-suite.js';
import { http, startTestServer, type TestServer } from '../server/test-support.js';
import { REPO_ROOT, tdduiExamplesDir } from '../testing/paths.js';
import { documentsOf } from '../producer/xdm/index.js';
import { documentUuid, simplifiedPublishDocument } from '../producer/publish/index.js';

const BIN = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

/** A one-page PDF of our own (bytes only matter here). */
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n');

describe('tddui publish (ITI-105) to our own PDSm Gestionnaire', { concurrency: false }, () => {
  let s: TestServer;
  let dir: string;
  const previous = process.env.FHIR_PACKAGE_CACHE;
  before(async () => {
    process.env.FHIR_PACKAGE_CACHE = CACHE;
    s = await startTestServer('embedded', { packages: [PDSM_DIR] });
    dir = mkdtempSync(join(tmpdir(), 'tddui-publish-'));
    writeFileSync(join(dir, 'projet-personnalise.pdf'), PDF);
  });
  after(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (previous === undefined) delete process.env.FHIR_PACKAGE_CACHE;
    else process.env.FHIR_PACKAGE_CACHE = previous;
  });

  it('publishes, ITI-67 finds it, ITI-68 returns the same bytes; the report says where it is', async () => {
    const report = join(dir, 'report.json');
    const r = await run(['publish', '--url', s.base, '--patient', 'Patient/usager-1', '--author', 'Organization/essms-1', '--type', 'http://loinc.org|18776-5|Plan de soins', '--report', report, '--quiet', join(dir, 'projet-personnalise.pdf')]);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /Sent 1 document to .*: 1 accepted, 0 rejected, 0 failed/);
    const rep = JSON.parse(readFileSync(report, 'utf8'));
    assert.equal(rep.items[0].httpStatus, 201);
    assert.match(rep.items[0].locations[0], /\/DocumentReference\/[^/]+\/_history\/1$/);
    const found = await http(`${s.base}/DocumentReference?patient=Patient/usager-1&status=current`);
    assert.equal(found.json.total, 1);
    const doc = found.json.entry[0].resource;
    assert.equal(doc.type.coding[0].code, '18776-5');
    assert.equal(doc.content[0].attachment.title, 'projet-personnalise.pdf');
    assert.equal(doc.masterIdentifier.value, documentUuid('Patient/usager-1', PDF));
    const bytes = await fetch(`${s.base}/${doc.content[0].attachment.url}`);
    assert.equal(bytes.headers.get('content-type'), 'application/pdf');
    assert.equal(sha256(new Uint8Array(await bytes.arrayBuffer())), sha256(PDF));
  });

  it('publishing again is the same document (200, no second one)', async () => {
    const r = await run(['publish', '--url', s.base, '--patient', 'Patient/usager-1', '--author', 'Organization/essms-1', '--quiet', join(dir, 'projet-personnalise.pdf')]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /→ DocumentReference\//);
    assert.equal((await http(`${s.base}/DocumentReference?patient=Patient/usager-1&status=current`)).json.total, 1);
  });

  it('retries through a 503 and a lost answer, and publishes once', async () => {
    let calls = 0;
    const target = new URL(s.base);
    const proxy: Server = createServer((req, res) => {
      calls++;
      if (calls === 1) {
        res.writeHead(503, { 'retry-after': '0' }).end();
        return;
      }
      const fwd = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
        // The second call reaches the server, but its answer is lost.
        if (calls === 2) {
          up.resume();
          up.on('end', () => res.socket?.destroy());
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      req.pipe(fwd);
    });
    await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
    try {
      const port = (proxy.address() as { port: number }).port;
      writeFileSync(join(dir, 'autre.pdf'), Buffer.concat([PDF, Buffer.from('% autre\n')]));
      const r = await run(['publish', '--url', `http://127.0.0.1:${port}${target.pathname}`, '--patient', 'Patient/usager-2', '--author', 'Organization/essms-1', join(dir, 'autre.pdf')]);
      assert.equal(r.code, 0, r.err + r.out);
      assert.equal(calls, 3);
      assert.match(r.err, /retry .*HTTP 503/);
      assert.match(r.out, /2 retries/);
      assert.equal((await http(`${s.base}/DocumentReference?patient=Patient/usager-2&status=current`)).json.total, 1);
    } finally {
      await new Promise((ok) => proxy.close(ok));
    }
  });

  it('a refusal is reported with the server’s error and exit status 1; usage errors exit 2', async () => {
    // A document whose stated hash lies cannot be made by the CLI: an unknown author type is refused by the profile.
    const r = await run(['publish', '--url', s.base, '--patient', 'Patient/usager-3', '--author', 'Basic/x', '--quiet', join(dir, 'projet-personnalise.pdf')]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /1 rejected/);
    assert.match(r.out, /HTTP 422/);
    assert.equal((await run(['publish', '--url', s.base, '--author', 'Organization/o', 'x.pdf'])).code, 2);
    assert.equal((await run(['publish', '--url', s.base, '--patient', 'Patient/p', 'x.pdf'])).code, 2);
    assert.equal((await run(['publish', '--url', s.base, '--patient', 'Patient/p', '--author', 'Organization/o', join(dir, 'missing.pdf')])).code, 2);
  });

  it('xdm read --url publishes the documents of an XDM zip (official PA ones): ITI-67 finds them with the same hashes, ITI-68 the same bytes; again is the same documents', async () => {
    const PA = join(tdduiExamplesDir('2.2.0'), 'Bundle-tddui-pp-pa-bundle-example.json');
    const originals = documentsOf([JSON.parse(readFileSync(PA, 'utf8'))]);
    assert.ok(originals.length >= 2);
    const zip = join(dir, 'pa.zip');
    assert.equal((await run(['xdm', 'pack', '--out', zip, '--time', '2026-01-15T10:00:00Z', PA])).code, 0);
    const report = join(dir, 'xdm-report.json');
    const args = ['xdm', 'read', '--url', s.base, '--patient', 'Patient/usager-5', '--author', 'Organization/essms-1', '--report', report, '--quiet', zip];
    const r = await run(args);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, new RegExp(`Sent ${originals.length} documents to .*: ${originals.length} accepted, 0 rejected, 0 failed`));
    assert.equal(r.out.match(/→ \S*DocumentReference\//g)?.length, originals.length);
    assert.ok(JSON.parse(readFileSync(report, 'utf8')).items.every((i: { httpStatus: number }) => i.httpStatus === 201));
    const found = await http(`${s.base}/DocumentReference?patient=Patient/usager-5&status=current`);
    assert.equal(found.json.total, originals.length);
    const byMaster = new Map(found.json.entry.map((e: { resource: { masterIdentifier: { value: string } } }) => [e.resource.masterIdentifier.value, e.resource]));
    for (const o of originals) {
      const doc = byMaster.get(String((o.reference as unknown as { masterIdentifier: { value: string } }).masterIdentifier.value)) as { content: { attachment: { hash: string; url: string; size: number } }[] } | undefined;
      assert.ok(doc, 'found by its XDS uniqueId');
      assert.equal(doc.content[0]!.attachment.hash, createHash('sha1').update(o.bytes).digest('base64'));
      assert.equal(doc.content[0]!.attachment.size, o.bytes.length);
      const bytes = await fetch(`${s.base}/${doc.content[0]!.attachment.url}`);
      assert.equal(sha256(new Uint8Array(await bytes.arrayBuffer())), sha256(o.bytes));
    }
    // Publishing the same zip again: the Gestionnaire recognises each document (200), no duplicate.
    const again = await run(args);
    assert.equal(again.code, 0, again.err + again.out);
    assert.ok(JSON.parse(readFileSync(report, 'utf8')).items.every((i: { httpStatus: number }) => i.httpStatus === 200));
    assert.equal((await http(`${s.base}/DocumentReference?patient=Patient/usager-5&status=current`)).json.total, originals.length);
    // Usage: --url needs an author; --patient without --url is a usage error.
    assert.equal((await run(['xdm', 'read', '--url', s.base, zip])).code, 2);
    assert.equal((await run(['xdm', 'read', '--patient', 'Patient/p', zip])).code, 2);
  });

  it('the SDK builds a pdsm-simplified-publish DocumentReference the server validates without errors', async () => {
    const doc = simplifiedPublishDocument(PDF, 'pp.pdf', { patient: 'Patient/usager-4', authors: ['Organization/essms-1'] });
    const v = await http(`${s.base}/DocumentReference/$validate`, { body: doc });
    assert.deepEqual(v.json.issue.filter((i: { severity: string }) => i.severity === 'error'), []);
  });
});
