// The durable change feed (issue 15): one row per version written, with its writing transaction
// (xid8), written by the write path in the same statement as the version. Consumers page it with
// a cursor `tx.seq` that survives restarts on both sides: rows are read ordered by (tx, seq) under
// the horizon of the transactions still running (the outbox's rule, D-102), so a version
// committed late is never skipped and none is read twice (docs/notifications.md, "Change feed").
// Versions written before this migration are not in the feed: `_history` still lists them.

export const version = '0082-change-feed';

export const statements: string[] = [
  `CREATE TABLE change_feed (
    seq bigserial PRIMARY KEY,
    tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
    resource_type text NOT NULL,
    id text NOT NULL,
    version_id integer NOT NULL,
    last_updated timestamptz NOT NULL,
    deleted boolean NOT NULL
  )`,
  `CREATE INDEX change_feed_cursor ON change_feed (tx, seq)`,
];
