// Resend matching without scanning: 0003's lookup joined business_key with a
// jsonb_to_recordset of the wanted keys, which the planner (100 estimated rows, no statistics on
// the JSON) answered by reading every key of the owner — a cost that grows with the owner's
// data at each Bundle. Here each wanted key is one index probe (a LATERAL subquery with LIMIT
// cannot be flattened into a hash join), and so is the row lock of the object it names. Arrays
// instead of JSON: nothing to parse. 0003's function stays for servers of the previous version.

export const version = '0005-lookup-by-key';

export const statements: string[] = [
  `CREATE OR REPLACE FUNCTION tddui_lock_and_lookup_keys(p_owner text, p_locks bigint[], p_types text[], p_systems text[], p_values text[])
   RETURNS TABLE (k_type text, k_system text, k_value text, k_id text, k_version integer, k_updated timestamptz)
   LANGUAGE plpgsql VOLATILE AS $fn$
   BEGIN
     -- Sorted, so that concurrent transactions take the locks in one order (no deadlock).
     PERFORM count(pg_advisory_xact_lock(l.k)) FROM (SELECT DISTINCT k FROM unnest(p_locks) AS u(k) ORDER BY 1) l;
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
];
