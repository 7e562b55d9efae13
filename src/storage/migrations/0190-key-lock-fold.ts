// Business-key locks that fit in the lock table. Resend matching takes one advisory lock per
// business key a write creates (sorted), and PostgreSQL keeps every lock of a transaction in a
// shared table of max_locks_per_transaction × max_connections slots (6,400 by default, PGlite
// alike): a valid 40 MB TDDUI Bundle naming 14,000 objects failed with "out of shared memory"
// (a 500). Two levels now (D-295): every key lock is taken under a per-owner "key space" lock,
// SHARED by ordinary writes; a write with more than 1,000 keys to lock takes that key space
// EXCLUSIVE instead of its keys (one lock), which excludes every other write creating keys of that
// owner until it commits, and nothing else. The conditional criteria's locks (owner-less hashes,
// appended after the keys' in `p_locks`) are always taken one by one. Order: the key space, then
// the sorted locks, always; a plan with several owners takes them owner by owner, sorted.

export const version = '0190-key-lock-fold';

/** The key-space lock of an owner, then its keys' locks or nothing (more than 1,000: folded). */
const LOCK_KEYS = (locks: string) => `
     IF cardinality(${locks}) > 1000 THEN
       PERFORM pg_advisory_xact_lock(hashtextextended('tddui-key-space:' || p_owner, 0));
     ELSIF cardinality(${locks}) > 0 THEN
       PERFORM pg_advisory_xact_lock_shared(hashtextextended('tddui-key-space:' || p_owner, 0));
       PERFORM count(pg_advisory_xact_lock(u.l)) FROM (SELECT l FROM unnest(${locks}) AS m(l) ORDER BY 1) u;
     END IF;`;

export const statements: string[] = [
  `CREATE OR REPLACE FUNCTION tddui_lock_and_lookup_keys(p_owner text, p_locks bigint[], p_types text[], p_systems text[], p_values text[])
   RETURNS TABLE (k_type text, k_system text, k_value text, k_id text, k_version integer, k_updated timestamptz)
   LANGUAGE plpgsql VOLATILE AS $fn$
   DECLARE
     n integer := coalesce(cardinality(p_types), 0);
     keys bigint[];
     extra bigint[];
   BEGIN
     -- The first n locks are the keys' (one per key), the rest the conditional criteria's.
     keys := ARRAY(SELECT DISTINCT l FROM unnest(p_locks[1:n]) AS u(l) ORDER BY 1);
     extra := ARRAY(SELECT DISTINCT l FROM unnest(p_locks[n + 1:]) AS u(l) WHERE l <> ALL (keys) ORDER BY 1);
     ${LOCK_KEYS('keys')}
     PERFORM count(pg_advisory_xact_lock(u.l)) FROM (SELECT l FROM unnest(extra) AS m(l) ORDER BY 1) u;
     -- A new statement: a new snapshot, which sees what committed while this one waited.
     RETURN QUERY
       SELECT q.t, q.s, q.v, b.id, r.version_id, r.last_updated
         FROM unnest(p_types, p_systems, p_values) AS q(t, s, v)
         CROSS JOIN LATERAL (
           SELECT bk.id FROM business_key bk
            WHERE bk.owner = p_owner AND bk.resource_type = q.t AND bk.system = q.s AND bk.value = q.v
            LIMIT 1) b
         CROSS JOIN LATERAL (
           SELECT rs.version_id, rs.last_updated FROM resource rs
            WHERE rs.resource_type = q.t AND rs.id = b.id
            LIMIT 1 FOR UPDATE) r;
   END
   $fn$`,
  `CREATE OR REPLACE FUNCTION tddui_lookup_keys_lock_new(p_owner text, p_locks bigint[], p_types text[], p_systems text[], p_values text[])
   RETURNS TABLE (k_type text, k_system text, k_value text, k_id text, k_version integer, k_updated timestamptz, k_deleted boolean, k_content jsonb)
   LANGUAGE plpgsql VOLATILE AS $fn$
   DECLARE
     missing bigint[];
   BEGIN
     missing := ARRAY(SELECT DISTINCT q.l
       FROM unnest(p_types, p_systems, p_values, p_locks) AS q(t, s, v, l)
      WHERE NOT EXISTS (SELECT 1 FROM business_key bk
                         WHERE bk.owner = p_owner AND bk.resource_type = q.t AND bk.system = q.s AND bk.value = q.v)
      ORDER BY 1);
     ${LOCK_KEYS('missing')}
     -- A new statement: a new snapshot, which sees what committed while this one waited.
     RETURN QUERY
       SELECT q.t, q.s, q.v, b.id, r.version_id, r.last_updated, r.deleted, r.content
         FROM unnest(p_types, p_systems, p_values) AS q(t, s, v)
         CROSS JOIN LATERAL (
           SELECT bk.id FROM business_key bk
            WHERE bk.owner = p_owner AND bk.resource_type = q.t AND bk.system = q.s AND bk.value = q.v
            LIMIT 1) b
         CROSS JOIN LATERAL (
           SELECT rs.version_id, rs.last_updated, rs.deleted, rs.content FROM resource rs
            WHERE rs.resource_type = q.t AND rs.id = b.id
            LIMIT 1) r;
   END
   $fn$`,
];
