// Resend matching in one round trip: lock the business keys, then read them. In READ
// COMMITTED each statement of a VOLATILE PL/pgSQL function takes a new snapshot, so the
// lookup sees every transaction that committed while this one waited on the locks — which a
// single plain SQL statement (one snapshot, taken before the wait) would not.

export const version = '0003-lookup-function';

export const statements: string[] = [
  `CREATE OR REPLACE FUNCTION tddui_lock_and_lookup_keys(p_owner text, p_locks jsonb, p_keys jsonb)
   RETURNS TABLE (k_type text, k_system text, k_value text, k_id text, k_version integer, k_updated timestamptz)
   LANGUAGE plpgsql VOLATILE AS $fn$
   BEGIN
     -- Sorted, so that concurrent transactions take the locks in one order (no deadlock).
     PERFORM count(pg_advisory_xact_lock(l.k))
        FROM (SELECT (x #>> '{}')::bigint AS k FROM jsonb_array_elements(p_locks) x ORDER BY 1) l;
     RETURN QUERY
       SELECT b.resource_type, b.system, b.value, b.id, r.version_id, r.last_updated
         FROM business_key b
         JOIN jsonb_to_recordset(p_keys) AS q(t text, s text, v text)
           ON b.resource_type = q.t AND b.system = q.s AND b.value = q.v
         JOIN resource r ON r.resource_type = b.resource_type AND r.id = b.id
        WHERE b.owner = p_owner
          FOR UPDATE OF r;
   END
   $fn$`,
];
