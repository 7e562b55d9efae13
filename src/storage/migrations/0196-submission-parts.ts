// An accepted submission's large values in pieces (D-343). The record of a 40 MB Bundle carries
// ~122 MB of text (the Bundle as received, its report, its transaction-response, each kept whole:
// D-85, D-315); written in one statement, on the embedded database (which runs in the server's
// thread) it held the event loop 9.2 s (bench/large-accept). A value over 1 MiB now goes into this
// table in pieces of at most 1 MiB, one statement each after the record's row, in the same
// transaction; the row's column is NULL. Readers join the pieces in order (storage/submissions.ts:
// `string_agg(data, '' ORDER BY n)`), which gives the text as written, byte for byte.
// `text`, not `json`: a piece is not JSON of its own. Compressed with lz4 where the server has it
// (as the log's columns, migration 0182), else pglz.

export const version = '0196-submission-parts';

export const statements: string[] = [
  `CREATE TABLE submission_part (
    submission_id text NOT NULL REFERENCES submission (id) ON DELETE CASCADE,
    field text NOT NULL CHECK (field IN ('bundle', 'report', 'response')),
    n integer NOT NULL CHECK (n >= 0),
    data text NOT NULL,
    PRIMARY KEY (submission_id, field, n)
  )`,
  `DO $$
  BEGIN
    ALTER TABLE submission_part ALTER COLUMN data SET COMPRESSION lz4;
  EXCEPTION WHEN feature_not_supported THEN
    NULL;
  END
  $$`,
];
