// The submission log's JSON columns compressed with lz4 where the server has it (issue 19,
// D-292). An accepted PP-PA Bundle's log row carries the Bundle (~26 KB) and its validation
// report (~25 KB): over the TOAST threshold, each is compressed as it is written, with `pglz` by
// default — 0.41 ms of PostgreSQL CPU per row measured on this host, 0.15–0.20 ms with lz4
// (bench/README.md, session 28), for about the same size on disk. Only values written from now
// on use it (no rewrite); reads decompress whatever method a value was written with.
// PostgreSQL built without lz4, and the embedded database (PGlite: "compression method lz4 not
// supported"), keep pglz: the statement's error is caught and nothing changes.

export const version = '0182-submission-lz4';

export const statements: string[] = [
  `DO $$
  BEGIN
    ALTER TABLE submission ALTER COLUMN bundle SET COMPRESSION lz4,
                           ALTER COLUMN report SET COMPRESSION lz4,
                           ALTER COLUMN response SET COMPRESSION lz4;
  EXCEPTION WHEN feature_not_supported THEN
    NULL;
  END
  $$`,
];
