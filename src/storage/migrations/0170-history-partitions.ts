// The previous versions partitioned by month (issue 19, D-223): `resource_history` becomes a
// table partitioned by RANGE of `superseded_at` — when a version stopped being the current one —
// so a past month's partition never receives another row and can be detached, archived
// (pg_dump of that table) and dropped without touching the others. Partitioning by the version's
// own `last_updated` would not allow that: a version written in January and replaced in June
// would still be written to January's partition, which could then no longer be detached.
//
// `tddui_history_partitions(at, ahead)` creates the month of `at` and `ahead` months after it
// (the server calls it at start and every day, storage/history-partitions.ts); a DEFAULT
// partition catches a row no month holds yet, so a write never fails for want of a partition,
// and the function moves such rows into the month it creates. `tddui_history_detach(before)`
// detaches the months that end on or before `before` and returns their names.
//
// Existing rows are copied with `superseded_at` = the next version's `last_updated` (when the
// current row or the history holds it, else their own). The primary key becomes an index:
// a partitioned table's unique keys must include the partition key, and the write path already
// moves a current row to the history exactly once.

export const version = '0170-history-partitions';

/** When an existing history row stopped being current: the next version's time (o: the row, n: the current row). */
const SUPERSEDED = `coalesce(n.last_updated,
  (SELECT h.last_updated FROM resource_history_unpartitioned h WHERE h.resource_type = o.resource_type AND h.id = o.id AND h.version_id = o.version_id + 1),
  o.last_updated)`;

export const statements: string[] = [
  `ALTER TABLE resource_history RENAME TO resource_history_unpartitioned`,
  `CREATE TABLE resource_history (
    resource_type text NOT NULL,
    id text NOT NULL,
    version_id integer NOT NULL,
    last_updated timestamptz NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    content jsonb NOT NULL,
    superseded_at timestamptz NOT NULL
  ) PARTITION BY RANGE (superseded_at)`,
  `CREATE TABLE resource_history_default PARTITION OF resource_history DEFAULT`,
  // vread and instance history; type and system history (_since).
  `CREATE INDEX resource_history_version_idx ON resource_history (resource_type, id, version_id)`,
  `CREATE INDEX resource_history_type_time_idx ON resource_history (resource_type, last_updated)`,
  `CREATE INDEX resource_history_time_idx ON resource_history (last_updated)`,

  `CREATE FUNCTION tddui_history_partitions(at timestamptz, ahead integer) RETURNS integer
   LANGUAGE plpgsql AS $$
   DECLARE
     made integer := 0;
     month timestamp;
     lo timestamptz;
     hi timestamptz;
     name text;
   BEGIN
     -- Several servers may start together: one at a time.
     PERFORM pg_advisory_xact_lock(7281170);
     FOR k IN 0..greatest(ahead, 0) LOOP
       -- Months in UTC, computed without time zone (a month added in local time would move
       -- the bound by the DST offset).
       month := date_trunc('month', at AT TIME ZONE 'UTC') + make_interval(months => k);
       lo := month AT TIME ZONE 'UTC';
       hi := (month + interval '1 month') AT TIME ZONE 'UTC';
       name := 'resource_history_' || to_char(month, '"y"YYYY"m"MM');
       CONTINUE WHEN to_regclass(name) IS NOT NULL;
       IF EXISTS (SELECT 1 FROM resource_history_default WHERE superseded_at >= lo AND superseded_at < hi) THEN
         -- Rows the default partition took for this month move into it.
         EXECUTE format('CREATE TABLE %I (LIKE resource_history INCLUDING DEFAULTS)', name);
         EXECUTE format('WITH moved AS (DELETE FROM resource_history_default WHERE superseded_at >= %L AND superseded_at < %L RETURNING *) INSERT INTO %I SELECT * FROM moved', lo, hi, name);
         EXECUTE format('ALTER TABLE resource_history ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
       ELSE
         EXECUTE format('CREATE TABLE %I PARTITION OF resource_history FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
       END IF;
       made := made + 1;
     END LOOP;
     RETURN made;
   END $$`,

  `CREATE FUNCTION tddui_history_detach(before timestamptz) RETURNS SETOF text
   LANGUAGE plpgsql AS $$
   DECLARE
     part record;
   BEGIN
     PERFORM pg_advisory_xact_lock(7281170);
     FOR part IN
       SELECT c.relname::text AS name
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'resource_history'::regclass AND c.relname ~ '^resource_history_y[0-9]{4}m[0-9]{2}$'
          AND (make_timestamp(substr(c.relname, 19, 4)::int, substr(c.relname, 24, 2)::int, 1, 0, 0, 0) + interval '1 month') AT TIME ZONE 'UTC' <= before
        ORDER BY c.relname
     LOOP
       EXECUTE format('ALTER TABLE resource_history DETACH PARTITION %I', part.name);
       RETURN NEXT part.name;
     END LOOP;
   END $$`,

  // The months the existing rows fall in, and the next three.
  `SELECT tddui_history_partitions(m, 0)
     FROM (SELECT DISTINCT date_trunc('month', ${SUPERSEDED} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS m
             FROM resource_history_unpartitioned o
             LEFT JOIN resource n ON n.resource_type = o.resource_type AND n.id = o.id AND n.version_id = o.version_id + 1) months`,
  `SELECT tddui_history_partitions(now(), 3)`,
  `INSERT INTO resource_history (resource_type, id, version_id, last_updated, deleted, content, superseded_at)
   SELECT o.resource_type, o.id, o.version_id, o.last_updated, o.deleted, o.content, ${SUPERSEDED}
     FROM resource_history_unpartitioned o
     LEFT JOIN resource n ON n.resource_type = o.resource_type AND n.id = o.id AND n.version_id = o.version_id + 1`,
  `DROP TABLE resource_history_unpartitioned`,
];
