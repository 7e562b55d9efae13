// The monthly partitions of `resource_history` (migration 0170, D-223): created ahead of time
// so a write never lands in the DEFAULT partition, and detached once archived.
import type { Queryable } from './types.js';

/** Months created ahead of the current one. */
export const HISTORY_MONTHS_AHEAD = 3;

/**
 * Creates the partitions of the month of `at` and of the `ahead` next months that are missing
 * (moving into each any row the default partition took for it); returns how many it created.
 * Cheap when they exist (one catalogue look-up per month). Safe from several servers at once.
 */
export async function ensureHistoryPartitions(db: Queryable, at: Date = new Date(), ahead = HISTORY_MONTHS_AHEAD): Promise<number> {
  const r = await db.query<{ n: number }>('SELECT tddui_history_partitions($1::timestamptz, $2::int) AS n', [at.toISOString(), ahead]);
  return Number(r.rows[0]?.n ?? 0);
}

/**
 * Detaches the monthly partitions that end on or before `before` (their versions are then no
 * longer read by vread and _history); returns their names, each now a plain table to archive
 * (pg_dump -t NAME) and drop.
 */
export async function detachHistoryBefore(db: Queryable, before: Date): Promise<string[]> {
  const r = await db.query<{ name: string }>('SELECT tddui_history_detach($1::timestamptz) AS name', [before.toISOString()]);
  return r.rows.map((x) => x.name);
}

export interface HistoryPartition {
  name: string;
  /** The range of `superseded_at` it holds (ISO; absent for the default partition). */
  from?: string;
  to?: string;
}

/** The partitions attached now, oldest first, the default one last. */
export async function historyPartitions(db: Queryable): Promise<HistoryPartition[]> {
  const r = await db.query<{ name: string; bound: string }>(
    `SELECT c.relname::text AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'resource_history'::regclass
      ORDER BY c.relname = 'resource_history_default', c.relname`,
  );
  return r.rows.map((x) => {
    const m = /FROM \('([^']+)'\) TO \('([^']+)'\)/.exec(x.bound);
    return m ? { name: x.name, from: new Date(m[1]!).toISOString(), to: new Date(m[2]!).toISOString() } : { name: x.name };
  });
}
