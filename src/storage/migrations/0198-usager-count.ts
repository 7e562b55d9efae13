// The "Usagers" list's total without reading every usager (issue 19, D-347).
//
// The list (storage/usager-list.ts) pages through `usager_sort` (0161) by index ranges, but it
// sized its segments — the usagers that have the sort key, then those without it, or one segment
// per organisation — and so its total with a grouped `count(*)` over `usager_sort`: a sequential
// scan of one row per usager on every page (2.7 ms at 20,000 usagers, linear in the usagers).
//
// usager_count — how many rows `usager_sort` holds per owner (the reader's scope is on the owner),
//   FINESS of the local identifier (`finess` '' and `no_finess` when it has none) and absence of
//   each key the list sorts on that may be absent (`no_*`: that column IS NULL): every segment size
//   of an unfiltered list, scoped or not, or filtered by organisation, is a sum over a few rows.
//   Kept by a row trigger on `usager_sort`, in the writing statement's transaction, whatever writes
//   it (the refresh, a backfill, a reindex, a server of an earlier version still running during an
//   upgrade: the refresh function is the database's): -1 on the old row's count, +1 on the new
//   one's; an UPDATE that leaves a row in its group writes nothing. The write adds to the slot it
//   holds, as `pilotage_count` (0183, D-306): the first of 16 whose transaction advisory lock
//   (`pilotage-slot:n`, the same locks: the refresh then finds its own) is free, so concurrent
//   writes of one facility add to different rows and none waits on another's row lock;
//   `pg_backend_pid() % 16` when all are taken; slot 0 and no lock in backfill mode
//   (`tddui.backfill`). Readers sum over the slots. A row trigger, not a statement trigger over
//   transition tables: that one cost ~5.5 ms more per usager rewritten on PGlite (not
//   investigated further), the row trigger ~0.2 ms
//   (bench/usager-total, load ~14); on PostgreSQL 0.05–0.14 ms per call (EXPLAIN ANALYZE, load ~9).
//
// Backfill: CREATE TRIGGER takes a SHARE ROW EXCLUSIVE lock on `usager_sort` (no write of it runs
// or starts until this migration commits; those in flight are waited for), then the counts are
// taken from what it holds; every later write goes through the trigger.

import { claimSlotSql } from './pilotage-slot.js';

export const version = '0198-usager-count';


/** The count key of a `usager_sort` row `r` (OLD or NEW), in KEY's order. */
const GROUP = (r: string) =>
  `${r}.owner, coalesce(${r}.finess, ''), ${r}.finess IS NULL, ${r}.name_key IS NULL, ${r}.local_id IS NULL, ${r}.birth_date IS NULL, ${r}.gender IS NULL`;
const KEY = 'owner, finess, no_finess, no_name, no_local, no_birth, no_gender';

/** Adds `n` to the count row of `r` in the slot `v_slot`. */
const ADD = (r: string, n: number) => `INSERT INTO usager_count AS c (${KEY}, slot, n) VALUES (${GROUP(r)}, v_slot, ${n})
      ON CONFLICT (${KEY}, slot) DO UPDATE SET n = c.n + EXCLUDED.n`;

export const statements: string[] = [
  `CREATE TABLE usager_count (
    owner text NOT NULL,
    finess text COLLATE "C" NOT NULL,
    no_finess boolean NOT NULL,
    no_name boolean NOT NULL,
    no_local boolean NOT NULL,
    no_birth boolean NOT NULL,
    no_gender boolean NOT NULL,
    slot smallint NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (${KEY}, slot)
  )`,
  `CREATE FUNCTION usager_count_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
  DECLARE
    v_slot smallint := 0;
  BEGIN
    IF TG_OP = 'UPDATE' AND ROW(${GROUP('OLD')}) IS NOT DISTINCT FROM ROW(${GROUP('NEW')}) THEN
      RETURN NULL;
    END IF;
    IF coalesce(current_setting('tddui.backfill', true), '') <> 'on' THEN
${claimSlotSql('      ')}
    END IF;
    IF TG_OP <> 'INSERT' THEN
      ${ADD('OLD', -1)};
    END IF;
    IF TG_OP <> 'DELETE' THEN
      ${ADD('NEW', 1)};
    END IF;
    RETURN NULL;
  END
  $fn$`,
  `CREATE TRIGGER usager_count_change AFTER INSERT OR UPDATE OR DELETE ON usager_sort FOR EACH ROW EXECUTE FUNCTION usager_count_change()`,
  `INSERT INTO usager_count (${KEY}, slot, n) SELECT ${GROUP('u')}, 0, count(*) FROM usager_sort u GROUP BY 1, 2, 3, 4, 5, 6, 7`,
];
