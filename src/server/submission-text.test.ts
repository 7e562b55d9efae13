// The submission log keeps an accepted Bundle as the client sent it (D-315): the request's JSON
// text, byte for byte (indentation, escapes, key order), not the parsed tree serialised again —
// whether the main thread parsed the body (small), a validation worker read it (large, D-286),
// or no worker runs; on both databases. Its report is the main thread's, serialised by the
// worker when one validated it (D-319).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { countIssues, toOperationOutcome } from '../fhir/outcome/issue.js';
import { submissionText } from '../storage/submissions.js';
import { http, readExample, startTestServer, type TestServer } from './test-support.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The official Bundle as a client might write it: indented by tabs, `é` escaped (`pad` spaces more after its resourceType). */
function sentText(pad = 0): string {
  const bundle = readExample('Bundle-tddui-bundle-example.json') as Json;
  let text = JSON.stringify(bundle, null, '\t').replaceAll('é', '\\u00e9');
  text = text.replace('"resourceType": "Bundle"', `"resourceType": "Bundle"${' '.repeat(pad)}`);
  return text;
}

for (const kind of ['embedded', 'postgres'] as const) {
  for (const workers of [2, 0]) {
    describe(`submission log text (${kind}, ${workers} validation workers)`, () => {
      let srv: TestServer;
      before(async () => {
        srv = await startTestServer(kind, { validationWorkers: workers });
        await srv.validationPool?.whenReady();
      });
      after(async () => srv?.stop());

      // (Multi-MB: its record's Bundle over 1 MiB, kept in pieces, D-343.)
      const sizes = workers ? [['small', 0], ['large (read by a worker)', 300 * 1024], ['multi-MB (its record in pieces)', 3 * 1024 * 1024]] as const : [['small', 0]] as const;
      for (const [what, pad] of sizes) {
        it(`an accepted ${what} Bundle is logged as the text sent`, async () => {
          const text = sentText(pad);
          assert.ok(text.includes('\\u00e9') && text.includes('\t'));
          const r = await http(srv.base, { body: text });
          assert.equal(r.status, 200, r.text.slice(0, 500));
          const id = r.headers.get('x-tddui-submission');
          assert.ok(id);
          const row = (await srv.repo.db.query<{ bundle_bytes: number; pieces: number }>(
            'SELECT bundle_bytes, (SELECT count(*)::int FROM submission_part WHERE submission_id = $1) AS pieces FROM submission WHERE id = $1',
            [id],
          )).rows[0]!;
          if (pad > 1024 * 1024) assert.ok(Number(row.pieces) >= Math.ceil(Buffer.byteLength(text) / (1024 * 1024)), `${row.pieces} pieces`);
          else assert.equal(Number(row.pieces), 0);
          const stored = await submissionText(srv.repo.db, id!, 'bundle');
          assert.equal(stored?.length, text.length);
          assert.ok(stored === text, 'the text sent, byte for byte');
          assert.equal(Number(row.bundle_bytes), Buffer.byteLength(text));
          // Read back, the log's Bundle is the tree sent.
          const logged = (await srv.repo.getSubmission(id!))!;
          assert.deepEqual(logged.bundle, JSON.parse(text));
          assert.equal(logged.submittedType, 'Bundle');
          // Its report, serialised by the worker that validated it when one did (D-319): the main thread's.
          const here = srv.validator.validate(JSON.parse(text) as Json, { now: new Date() });
          assert.ok(here.issues.length > 0);
          assert.deepEqual(logged.report, JSON.parse(JSON.stringify(toOperationOutcome(here.issues))));
          // The worker sends the information issues in the report's text only (D-336): the record's
          // counts and the transaction-response's warnings are still those of the whole report.
          assert.ok(here.issues.some((i) => i.severity === 'information') && here.issues.some((i) => i.severity === 'warning'));
          const c = countIssues(here.issues.filter((i) => i.severity !== 'information'));
          assert.deepEqual([logged.errorCount, logged.warningCount, logged.noticeCount], [c.errors, c.warnings, c.notChecked + c.igDefects]);
          const answered = (r.json.entry as Json[]).flatMap((e) => (e.response.outcome?.issue ?? []) as Json[]).map((i) => `${i.expression?.[0]}|${i.diagnostics}`).sort();
          const warnings = here.issues.filter((i) => i.severity === 'warning').map((i) => `${i.expression}|${i.message}`).sort();
          assert.equal(answered.length, warnings.length);
          assert.deepEqual(answered, warnings);
          // The answer (D-336: its text made from the parts of the log's copy): the logged response
          // with absolute fullUrls, serialised as JSON.stringify does.
          const response = logged.response as Json;
          const base = `${srv.url}/fhir`;
          const absolute = { ...response, entry: (response.entry as Json[]).map((e) => ({ ...e, fullUrl: `${base}/${e.fullUrl}` })) };
          assert.ok(r.text === JSON.stringify(absolute), 'the answer is the logged response with absolute fullUrls, as JSON.stringify writes it');
          // And GET /Bundle/{id} serves it.
          const got = await http(`${srv.base}/Bundle/${id}`);
          assert.equal(got.status, 200, got.text.slice(0, 300));
          assert.equal(got.json.entry.length, (JSON.parse(text) as Json).entry.length);
        });
      }

      // D-328: on PostgreSQL the log's text is the request's bytes themselves, given to pg as a
      // Buffer (a binary-format parameter), not decoded into a string and encoded back here.
      if (kind === 'postgres') {
        it('the text goes to PostgreSQL as the bytes received (not decoded, then encoded again, on this thread)', async () => {
          const text = sentText(workers ? 300 * 1024 : 0);
          const sent = Buffer.from(text);
          const seen: Buffer[] = [];
          const reports: Buffer[] = [];
          const original = pg.Client.prototype.query;
          pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
            const [sql, values] = args;
            if (typeof sql === 'string' && sql.includes('INSERT INTO submission') && Array.isArray(values)) {
              for (const v of values) if (Buffer.isBuffer(v) && v.length === sent.length) seen.push(v);
              for (const v of values) if (Buffer.isBuffer(v) && v.subarray(0, 40).toString().startsWith('{"resourceType":"OperationOutcome"')) reports.push(v);
            }
            return (original as (...a: unknown[]) => unknown).apply(this, args);
          } as typeof original;
          try {
            const r = await http(srv.base, { body: text });
            assert.equal(r.status, 200, r.text.slice(0, 500));
          } finally {
            pg.Client.prototype.query = original;
          }
          assert.equal(seen.length, 1, 'the Bundle parameter is the bytes received');
          assert.ok(seen[0]!.equals(sent));
          // The report, serialised by the worker, comes as its UTF-8 bytes too (D-336); with no worker, as a string.
          assert.equal(reports.length, workers ? 1 : 0);
        });
      }
    });
  }
}
