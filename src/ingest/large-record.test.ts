// The submission record of a multi-MB accepted Bundle is written in pieces (D-343): on the
// embedded database a statement runs on the event loop (D-330), and the record's text in one
// statement (the 40 MB Bundle's: 122 MB, its Bundle, report and response) held it for seconds.
// Counted in turns of the loop and in bytes per statement, not timed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openRepository } from '../storage/index.js';
import { TextArray, Utf8Text, type Queryable, type Repository } from '../storage/types.js';
import { countTurns } from '../testing/event-loop.js';
import { EXAMPLES_DIR, SHARED_FHIR } from '../testing/paths.js';
import { TdduiValidator } from '../tddui/validator.js';
import { ingestTransaction } from './index.js';

/** The official SSIAD Bundle as a client may indent it, `pad` bytes of blanks after its resourceType (so the text is large, the tree not). */
function sentText(pad: number): string {
  const text = JSON.stringify(JSON.parse(readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-bundle-example.json'), 'utf8')), null, 2);
  return text.replace('"resourceType": "Bundle"', `"resourceType": "Bundle"${' '.repeat(pad)}`);
}

/** Bytes of text a statement sends outside the versions' arrays (a TextArray): its plain text parameters. */
function textBytes(params: readonly unknown[] | undefined): number {
  let n = 0;
  for (const v of params ?? []) {
    if (typeof v === 'string') n += Buffer.byteLength(v);
    else if (v instanceof Utf8Text) n += v.bytes.length;
    else if (Buffer.isBuffer(v)) n += v.length;
    else if (!(v instanceof TextArray) && !Array.isArray(v) && v !== null && typeof v === 'object') n += Buffer.byteLength(JSON.stringify(v));
  }
  return n;
}

const MIB = 1024 * 1024;
let validator: TdduiValidator;
let repo: Repository;
before(async () => {
  validator = await TdduiValidator.create({ packages: [SHARED_FHIR] });
  repo = await openRepository({ dataDir: 'memory://' });
});
after(async () => repo?.close());

test('embedded: the event loop turns while a multi-MB accepted Bundle\'s record is written', async () => {
  const text = sentText(6 * MIB);
  // Every statement of the write's transaction: the turns of the loop counted before and after it, the bytes of text it sends.
  const seen: { before: number; after: number; bytes: number; sql: string }[] = [];
  const loop = countTurns();
  const db = repo.db;
  const transaction = db.transaction.bind(db);
  (db as { transaction: typeof db.transaction }).transaction = (fn) =>
    transaction((tx) =>
      fn({
        async query(sql, params, options) {
          const before = loop.turns;
          const res = await tx.query(sql, params, options);
          seen.push({ before, after: loop.turns, bytes: textBytes(params), sql });
          return res;
        },
      } as Queryable),
    );
  let r;
  try {
    r = await ingestTransaction({ repo, validator, now: () => new Date('2023-04-20T10:00:00Z'), received: Buffer.from(text) }, JSON.parse(text));
  } finally {
    loop.stop();
    (db as { transaction: typeof db.transaction }).transaction = transaction;
  }
  assert.equal(r.status, 200);
  // The statements that write the record (its row, with the write's last statement, and its pieces).
  const carrying = seen.filter((s) => /INSERT INTO submission/.test(s.sql));
  const sent = carrying.reduce((n, s) => n + s.bytes, 0);
  assert.ok(sent >= text.length, `the record's text is sent (${sent} bytes of ${text.length})`);
  // No statement carries more than a piece of it (1 MiB, storage/submissions.ts SUBMISSION_PIECE):
  // a statement of the embedded database runs without a turn of the loop. Before: one statement, the whole 6 MiB.
  const largest = Math.max(...carrying.map((s) => s.bytes));
  assert.ok(largest <= MIB + 64 * 1024, `the largest statement of the record carries ${(largest / MIB).toFixed(2)} MiB`);
  // And the loop turns while the record is written: between the start of the first statement that carries it and the start of the last.
  const during = carrying.at(-1)!.before - carrying[0]!.before;
  assert.ok(during >= 2, `${during} turns of the event loop while the record's ${(sent / MIB).toFixed(1)} MiB were written`);
  // Read back whole, byte for byte.
  const id = r.submissionId!;
  const row = (await repo.db.query<{ t: string }>(
    `SELECT coalesce(bundle::text, (SELECT string_agg(data, '' ORDER BY n) FROM submission_part WHERE submission_id = $1 AND field = 'bundle')) AS t FROM submission WHERE id = $1`,
    [id],
  )).rows[0]!;
  assert.ok(row.t === text, 'the Bundle as sent, byte for byte');
  assert.deepEqual((await repo.getSubmission(id))!.bundle, JSON.parse(text));
});
