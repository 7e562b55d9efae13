// Table statistics kept current by the server where nothing else does it. PostgreSQL's planner
// chooses its plans from the statistics ANALYZE gathers; autovacuum gathers them as tables grow,
// but the embedded database (PGlite, one connection, no background workers) never runs it, and
// neither does a PostgreSQL whose operator turned autovacuum off. Measured at 20,000 usagers:
// with stale statistics ingestion slowed about 6x by 11,000 usagers; one ANALYZE restored it.
//
// The rule, like autovacuum's analyze threshold: once the versions written since the last
// pass exceed `minRows` + `fraction` x the rows the tables held then, VACUUM (ANALYZE) the tables
// the server writes — in the background, one pass at a time, never inside a write's transaction.
// VACUUM as well as ANALYZE: every update deletes and re-inserts its index rows, every refresh of
// the derived tables its parts, and without autovacuum nothing reclaims the dead rows. Measured
// (session 28, bench/year without the no-op rule, autovacuum off): after 36 weeks search_reference
// held 10.3 million dead rows for 2.5 million live ones, pilotage_part 2.9 million for 0.7, and
// the weekly rate had fallen to a third. The derived tables (migrations 0161, 0180) were not
// analysed at all. On a PostgreSQL with autovacuum on, nothing is done (docs/storage.md says
// what to keep on).
import type { Database } from './types.js';

/** The tables the write path grows or churns (versions, index rows, keys, the log, the feeds, the derived tables). */
export const ANALYZED_TABLES = [
  'resource', 'resource_history', 'search_token', 'search_string', 'search_date', 'search_reference', 'search_number', 'search_composite',
  'business_key', 'submission', 'change_feed', 'event_outbox',
  'usager_sort', 'pilotage_part', 'pilotage_count', 'ppa_validation', 'ppa_accord_link',
];

export interface StatisticsOptions {
  /** Writes before the first ANALYZE, and the floor of the threshold (default 2,000). */
  minRows?: number;
  /** Share of the rows held at the last ANALYZE that must be written again (default 0.2). */
  fraction?: number;
  /** Called with any error of a background ANALYZE (default: ignored; the next threshold retries). */
  onError?: (err: unknown) => void;
}

export class StatisticsKeeper {
  private written = 0;
  private rowsAtLastAnalyze = 0;
  private running: Promise<void> | undefined;
  /** undefined until known: whether this database needs the server to analyse it. */
  private needed: Promise<boolean> | undefined;
  /** VACUUM (ANALYZE) passes so far (tests, logs). */
  analyses = 0;
  private readonly minRows: number;
  private readonly fraction: number;

  constructor(
    private readonly db: Database,
    private readonly options: StatisticsOptions = {},
  ) {
    this.minRows = options.minRows ?? 2000;
    this.fraction = options.fraction ?? 0.2;
  }

  /** Whether the server must analyse: the embedded database always, PostgreSQL when autovacuum is off. */
  private isNeeded(): Promise<boolean> {
    this.needed ??= (async () => {
      if (this.db.kind === 'pglite') return true;
      try {
        const r = await this.db.query<{ autovacuum: string }>('SHOW autovacuum');
        return r.rows[0]?.autovacuum !== 'on';
      } catch {
        return false;
      }
    })();
    return this.needed;
  }

  /** Counts `rows` versions written; starts a background ANALYZE past the threshold. */
  noteWrites(rows: number): void {
    this.written += rows;
    if (this.running || this.written < this.minRows + this.fraction * this.rowsAtLastAnalyze) return;
    this.running = this.analyse().finally(() => {
      this.running = undefined;
    });
  }

  /** The background ANALYZE in progress, if any (tests and shutdown await it). */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async analyse(): Promise<void> {
    try {
      if (!(await this.isNeeded())) {
        this.written = 0;
        this.rowsAtLastAnalyze = Number.MAX_SAFE_INTEGER / 4; // autovacuum's job: never again
        return;
      }
      const written = this.written;
      // Not in a transaction (VACUUM cannot run in one): the pool's autocommit, PGlite's top level.
      await this.db.query(`VACUUM (ANALYZE) ${ANALYZED_TABLES.join(', ')}`);
      this.analyses++;
      // The threshold counts versions written, so it grows with the resources stored (not with
      // every table's rows: summed over the index tables, a pass came only after about 20 weeks
      // of a 1,000-usager SSIAD receiver's resends).
      const r = await this.db.query<{ n: number }>(`SELECT coalesce(sum(greatest(reltuples, 0)), 0)::float8 AS n FROM pg_class WHERE relname = 'resource' AND relkind = 'r'`);
      this.rowsAtLastAnalyze = Number(r.rows[0]?.n ?? 0);
      this.written -= written;
    } catch (err) {
      this.options.onError?.(err);
    }
  }
}
