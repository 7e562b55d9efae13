// A submission record's large values in pieces (D-343, migration 0196): cut between characters,
// written after the record's row in its transaction, read back whole — the same text, byte for
// byte, on both databases; nothing stored when the write fails.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cutText, insertSubmissionPieces, JsonText, submissionInsert, submissionText, type SubmissionPiece } from './submissions.js';
import { forEachDriver } from './testing.js';
import { Utf8Text, type SubmissionRecord } from './types.js';

test('cutText cuts between characters: strings not inside a surrogate pair, bytes not before a continuation byte', () => {
  // 'é' is 2 bytes, '€' 3, '𝄞' 4 (a surrogate pair in a string).
  const text = 'aé€𝄞'.repeat(50) + '{"x":"𝄞"}';
  for (const size of [4, 5, 6, 7, 64]) {
    const strings = cutText(text, size) as string[];
    assert.equal(strings.join(''), text);
    for (const s of strings) {
      assert.ok(s.length > 0 && s.length <= size);
      assert.ok(!/[\uD800-\uDBFF]$/.test(s) && !/^[\uDC00-\uDFFF]/.test(s), `a piece of ${size} units ends inside a pair: ${JSON.stringify(s)}`);
    }
    const bytes = Buffer.from(text);
    const pieces = cutText(new Utf8Text(bytes), size) as Utf8Text[];
    assert.ok(Buffer.concat(pieces.map((p) => p.bytes)).equals(bytes));
    for (const p of pieces) {
      assert.ok(p.bytes.length > 0 && p.bytes.length <= size);
      // Each piece is valid UTF-8 of its own (decoded and encoded again, the same bytes).
      assert.ok(Buffer.from(p.bytes.toString('utf8')).equals(p.bytes), `a piece of ${size} bytes cuts a character`);
    }
  }
});

function record(bundle: unknown, report: unknown, response: unknown): Omit<SubmissionRecord, 'id'> {
  return {
    receivedAt: '2026-12-07T06:00:00.000Z',
    usagers: [],
    resourceCount: 1,
    outcome: 'accepted',
    httpStatus: 200,
    errorCount: 0,
    warningCount: 0,
    bundle,
    report,
    response,
  } as Omit<SubmissionRecord, 'id'>;
}

await forEachDriver('Submission record in pieces', (getRepo) => {
  test('values over the piece size go in pieces and read back whole, the same text byte for byte', async () => {
    const repo = getRepo();
    // A Bundle as a client wrote it (indented, escapes, two-, three- and four-byte characters), given as its bytes;
    // a report given as a string; a small response, kept in its column.
    const bundleText = JSON.stringify({ resourceType: 'Bundle', type: 'transaction', note: 'é€𝄞 \\u00e9', entry: Array.from({ length: 200 }, (_, i) => ({ fullUrl: `Patient/p${i}`, x: 'ça 𝄞'.repeat(i % 7) })) }, null, '\t');
    const reportText = JSON.stringify({ resourceType: 'OperationOutcome', issue: Array.from({ length: 150 }, (_, i) => ({ severity: 'information', diagnostics: `règle ${i} 𝄞` })) });
    const response = { resourceType: 'Bundle', type: 'transaction-response', entry: [] };
    const id = crypto.randomUUID();
    const pieces: SubmissionPiece[] = [];
    await repo.execute({
      ops: [],
      extra: (p) => [submissionInsert(record(new JsonText(Buffer.from(bundleText), 'Bundle'), new JsonText(reportText), response), id, p, pieces, 1000)],
      after: (tx) => insertSubmissionPieces(tx, id, pieces),
    });
    const stored = (await repo.db.query<{ field: string; n: number; bytes: number }>(
      `SELECT field, count(*)::int AS n, max(octet_length(data))::int AS bytes FROM submission_part WHERE submission_id = $1 GROUP BY field ORDER BY field`,
      [id],
    )).rows;
    assert.deepEqual(stored.map((r) => r.field), ['bundle', 'report']);
    // (A piece may be a few bytes short of 1,000: never cut inside a character.)
    assert.ok(Number(stored[0]!.n) >= Math.ceil(Buffer.byteLength(bundleText) / 1000));
    assert.ok(Number(stored[0]!.bytes) <= 1000);
    const row = (await repo.db.query<{ bundle: unknown; report: unknown; response: unknown; bundle_bytes: number }>(`SELECT bundle, report, response IS NOT NULL AS response, bundle_bytes FROM submission WHERE id = $1`, [id])).rows[0]!;
    assert.equal(row.bundle, null);
    assert.equal(row.report, null);
    assert.equal(row.response, true);
    assert.equal(Number(row.bundle_bytes), Buffer.byteLength(bundleText));
    // The texts as written, byte for byte.
    assert.ok((await submissionText(repo.db, id, 'bundle')) === bundleText);
    assert.ok((await submissionText(repo.db, id, 'report')) === reportText);
    assert.equal(await submissionText(repo.db, id, 'response'), JSON.stringify(response));
    // And the record as the log gives it.
    const got = (await repo.getSubmission(id))!;
    assert.deepEqual(got.bundle, JSON.parse(bundleText));
    assert.deepEqual(got.report, JSON.parse(reportText));
    assert.deepEqual(got.response, response);
    assert.equal(got.submittedType, 'Bundle');
  });

  test('a record under the piece size keeps its values in its columns (no piece)', async () => {
    const repo = getRepo();
    const id = crypto.randomUUID();
    const pieces: SubmissionPiece[] = [];
    await repo.execute({ ops: [], extra: (p) => [submissionInsert(record({ resourceType: 'Bundle' }, { resourceType: 'OperationOutcome', issue: [] }, { a: 'é' }), id, p, pieces)] });
    assert.equal(pieces.length, 0);
    assert.equal((await repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM submission_part WHERE submission_id = $1`, [id])).rows[0]!.n, 0);
    assert.deepEqual((await repo.getSubmission(id))!.response, { a: 'é' });
  });

  test('a write whose piece fails stores nothing: no record, no piece, no version', async () => {
    const repo = getRepo();
    const count = async (table: string) => Number((await repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n);
    const before = [await count('submission'), await count('submission_part'), await count('resource')];
    const id = crypto.randomUUID();
    const pieces: SubmissionPiece[] = [];
    // The response's third piece holds a NUL, which a text column refuses: the statement fails after the row, the version and two pieces were written.
    const response = `{"a":"${'x'.repeat(2500)}\u0000${'y'.repeat(500)}"}`;
    await assert.rejects(
      repo.execute({
        ops: [{ method: 'create', resourceType: 'Patient', resource: { resourceType: 'Patient', gender: 'male' } }],
        extra: (p) => [submissionInsert(record({ resourceType: 'Bundle' }, undefined, new JsonText(response)), id, p, pieces, 1000)],
        after: (tx) => insertSubmissionPieces(tx, id, pieces),
      }),
    );
    assert.ok(pieces.length >= 3);
    assert.deepEqual([await count('submission'), await count('submission_part'), await count('resource')], before);
  });
});
