// The change feed, one row per writing statement instead of one per version (D-355). A PP-PA
// Bundle wrote 24 rows and 48 index entries into `change_feed` (migration 0082: `seq` primary
// key, `(tx, seq)` cursor index) — a tenth of the time of the rows the server writes (D-350). A
// write now records its versions as one row of arrays, in the order written; a write of more
// than 500 versions, one row per statement of 500 (D-351). The only index is the cursor's order,
// `(tx, seq)`, as the primary key: a version's place in the feed is (tx, seq, its position in
// the row's arrays), and a cursor may point inside a row (`tx.seq.n`, storage/changes.ts).
//
// `change_feed` is kept as it is, readable, and readers merge both tables in that order:
// - `seq` comes from the same sequence (`change_feed_seq_seq`), so (tx, seq) stays unique across
//   both tables and a cursor `tx.seq` handed out before this migration — by `$changes` to a
//   client, or kept in `agenda_sync` — means exactly what it meant: every version up to that row;
//   rows moved into groups would have lost the `seq` of the versions inside a group, so a cursor
//   pointing at one of them could only be mapped to the group's start (repeats) or end (losses);
// - a server of the previous version still running during a rolling upgrade keeps inserting into
//   `change_feed` (its write statement names that table: moving the rows and dropping or
//   reshaping it would make every write of that server fail), and its rows are read in order;
// - nothing is rewritten in the one migration transaction at start-up, whatever the feed's size.

export const version = '0202-change-writes';

export const statements: string[] = [
  `CREATE TABLE change_write (
    tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq bigint NOT NULL DEFAULT nextval('change_feed_seq_seq'::regclass),
    resource_types text[] NOT NULL,
    ids text[] NOT NULL,
    version_ids integer[] NOT NULL,
    last_updated timestamptz[] NOT NULL,
    deleted boolean[] NOT NULL,
    PRIMARY KEY (tx, seq),
    CHECK (cardinality(ids) >= 1 AND cardinality(resource_types) = cardinality(ids) AND cardinality(version_ids) = cardinality(ids)
           AND cardinality(last_updated) = cardinality(ids) AND cardinality(deleted) = cardinality(ids))
  )`,
];
