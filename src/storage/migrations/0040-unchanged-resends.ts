// No-op resends (issue 19). A DUI resends 1 to 5 weeks of history each time, with the same
// Organization, Practitioners and PractitionerRoles: an object whose content equals its current
// version gets no new version. To tell, the write path reads the current content of every
// object a Bundle names by business key; this function does it WITHOUT locking what exists
// (an unchanged object is not written, so it need not be locked, and the Bundles of one facility
// no longer queue behind each other on its shared objects). Only the keys that name nothing yet
// are locked (advisory, sorted), then looked up again in a new snapshot: two Bundles creating
// the same object still make one. Objects found and changed are row-locked afterwards by the
// write path, which checks that their version did not move in between (else it retries).
// The submission log counts the entries that changed nothing.

export const version = '0040-unchanged-resends';

export const statements: string[] = [
  `CREATE OR REPLACE FUNCTION tddui_lookup_keys_lock_new(p_owner text, p_locks bigint[], p_types text[], p_systems text[], p_values text[])
   RETURNS TABLE (k_type text, k_system text, k_value text, k_id text, k_version integer, k_updated timestamptz, k_deleted boolean, k_content jsonb)
   LANGUAGE plpgsql VOLATILE AS $fn$
   DECLARE
     missing bigint[];
   BEGIN
     SELECT array_agg(DISTINCT q.l ORDER BY q.l) INTO missing
       FROM unnest(p_types, p_systems, p_values, p_locks) AS q(t, s, v, l)
      WHERE NOT EXISTS (SELECT 1 FROM business_key bk
                         WHERE bk.owner = p_owner AND bk.resource_type = q.t AND bk.system = q.s AND bk.value = q.v);
     IF missing IS NOT NULL THEN
       PERFORM count(pg_advisory_xact_lock(u.l)) FROM (SELECT l FROM unnest(missing) AS m(l) ORDER BY 1) u;
     END IF;
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
  `ALTER TABLE submission ADD COLUMN unchanged_count integer`,
];
