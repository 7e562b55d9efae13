// Table statistics kept current by the server where nothing else does it. PostgreSQL's planner
// chooses its plans from the statistics ANALYZE gathers; autovacuum gathers them as tables grow,
// but the embedded database (PGlite, one connection, no background workers) never runs it, and
// neither does a PostgreSQL whose operator turned autovacuum off. Measured at 20,000 usagers:
// with stale statistics ingestion slowed about 6x by 11,000 usagers; one ANALYZE restored it.
// VACUUM too: every update deletes and re-inserts its index rows, every refresh of the derived
// tables its parts, and without autovacuum nothing reclaims the dead rows. Measured (session 28,
// bench/year without the no-op rule, autovacuum off): after 36 weeks search_reference held 10.3
// million dead rows for 2.5 million live ones and the weekly rate had fallen to a third (D-298).
//
// The rule (D-310), per table, from the table's own figures (pg_stat_user_tables and pg_class,
// which PGlite keeps too), like autovacuum's: every `lookEvery` versions written, look at the
// tables the write path grows or churns (a partitioned table's partitions one by one) and
//   - VACUUM a table whose dead rows reach `minRows` + 20 % of its rows (autovacuum's scale factor;
//     its floor of 50 dead rows made the small `pilotage_count`, updated by every Bundle, a VACUUM
//     every 40 Bundles: 15-45 ms each on the embedded database), or whose oldest unfrozen
//     transaction ID is older than autovacuum_freeze_max_age (the embedded database has no
//     anti-wraparound autovacuum);
//   - ANALYZE a table whose rows modified since its last ANALYZE reach `minRows` + 20 % of its rows
//     when it churns (its dead rows are at least a tenth of those modifications), and `minRows` +
//     100 % — a doubling — when it only grew: the planner scales a table's row count by its current
//     size in pages, so a table growing with rows of the same kind keeps its estimates; a vacuumed
//     table is analysed with it when it has any modification.
// A table that did not change is left alone. Until D-310 every pass ran VACUUM (ANALYZE) of all 17
// tables at 2,000 + 20 % of the resources: 6 passes in the first 1,000 Bundles of a fresh
// database, 776 ms each (bench/README, session 29). In the background, one pass at a time, never
// inside a write's transaction. On a PostgreSQL with autovacuum on, nothing is done (docs/storage.md
// says what to keep on). Without `track_counts` there are no figures: the former whole pass.
import { performance } from 'node:perf_hooks';
import type { Database } from './types.js';

/** The tables the write path grows or churns (versions, index rows, keys, the log, the feeds, the derived tables). */
export const ANALYZED_TABLES = [
  'resource', 'resource_history', 'search_token', 'search_string', 'search_date', 'search_reference', 'search_number', 'search_composite',
  'business_key', 'submission', 'change_write', 'event_outbox',
  'usager_sort', 'usager_count', 'pilotage_part', 'pilotage_count', 'ppa_validation', 'ppa_accord_link',
  // (Every row deleted by the next drain, D-356: dead rows to reclaim.)
  'derived_pending',
];

/** autovacuum_vacuum_scale_factor (PostgreSQL's default); the floor is `minRows`, not autovacuum's 50. */
const VACUUM_SHARE = 0.2;
/** A table churns when at least this share of its modifications since its last ANALYZE left dead rows. */
const CHURN_SHARE = 0.1;

export interface StatisticsOptions {
  /** Versions written between two looks at the tables' figures (default 1,000). */
  lookEvery?: number;
  /** Floor of a table's thresholds: rows modified since its last ANALYZE, dead rows (default 1,000). */
  minRows?: number;
  /** Share of its rows a churned table must see modified before it is analysed again (default 0.2). */
  churnFraction?: number;
  /** Share of its rows a table that only grew must add before it is analysed again (default 1.0). */
  growthFraction?: number;
}

/** One table's figures at a look (a leaf table: the partitions of `resource_history` one by one). */
export interface TableFigures {
  /** The relation, quoted as `regclass` prints it. */
  table: string;
  /** `pg_class.reltuples`: rows at the last VACUUM or ANALYZE (-1: never). */
  rows: number;
  /** `n_mod_since_analyze`: rows inserted, updated or deleted since the last ANALYZE. */
  modified: number;
  /** `n_dead_tup`: dead rows (estimated). */
  dead: number;
  /** `age(relfrozenxid)`. */
  xidAge: number;
}

export interface PassPlan {
  /** Tables to VACUUM (ANALYZE). */
  vacuumAnalyze: string[];
  /** Tables to VACUUM only (dead rows or freezing, nothing modified to analyse). */
  vacuum: string[];
  /** Tables to ANALYZE only. */
  analyze: string[];
}

/** What each table needs, from its own figures (the rule above). Pure: tested on its own. */
export function planPass(
  figures: TableFigures[],
  rule: { minRows: number; churnFraction: number; growthFraction: number; freezeMaxAge: number },
): PassPlan {
  const plan: PassPlan = { vacuumAnalyze: [], vacuum: [], analyze: [] };
  for (const f of figures) {
    const rows = Math.max(f.rows, 0);
    const vacuum = f.dead >= rule.minRows + VACUUM_SHARE * rows || f.xidAge > rule.freezeMaxAge;
    const churns = f.dead > 0 && f.dead >= CHURN_SHARE * f.modified;
    const analyse = f.modified >= rule.minRows + (churns ? rule.churnFraction : rule.growthFraction) * rows || (vacuum && f.modified > 0);
    if (vacuum && analyse) plan.vacuumAnalyze.push(f.table);
    else if (vacuum) plan.vacuum.push(f.table);
    else if (analyse) plan.analyze.push(f.table);
  }
  return plan;
}

type Mode = 'none' | 'tables' | 'whole';

export class StatisticsKeeper {
  private written = 0;
  private rowsAtLastAnalyze = 0;
  private running: Promise<void> | undefined;
  /** Set by stop(): no pass starts any more. */
  private stopped = false;
  /** undefined until known: whether this database needs the server's passes, and how. */
  private mode: Promise<Mode> | undefined;
  /** Passes that vacuumed or analysed at least one table (tests, logs, benchmarks). */
  analyses = 0;
  /** Looks at the tables' figures. */
  looks = 0;
  /** Tables vacuumed and tables analysed, summed over the passes. */
  tablesVacuumed = 0;
  tablesAnalysed = 0;
  /** Wall time of the VACUUM and ANALYZE statements, summed (ms). */
  passMs = 0;
  /** The last pass's plan (tests). */
  lastPlan: PassPlan | undefined;
  private readonly lookEvery: number;
  /** The mode once known (the threshold of noteWrites depends on it). */
  private known: Mode | undefined;
  private readonly minRows: number;
  private readonly churnFraction: number;
  private readonly growthFraction: number;

  /** A background pass's error (Repository.onBackgroundError); else ignored: the next look retries. */
  private errorHandler: ((err: unknown) => void) | undefined;

  /** Where a background pass's error goes. */
  onError(handler: (err: unknown) => void): void {
    this.errorHandler = handler;
  }

  constructor(
    private readonly db: Database,
    options: StatisticsOptions = {},
  ) {
    this.lookEvery = options.lookEvery ?? 1000;
    this.minRows = options.minRows ?? 1000;
    this.churnFraction = options.churnFraction ?? 0.2;
    this.growthFraction = options.growthFraction ?? 1.0;
  }

  /**
   * Whether the server must keep the statistics: the embedded database always, PostgreSQL when
   * autovacuum is off; per table when the server counts rows (`track_counts`), else whole passes.
   */
  private getMode(): Promise<Mode> {
    this.mode ??= (async () => {
      try {
        const r = await this.db.query<{ autovacuum: string; track_counts: string }>(
          `SELECT current_setting('autovacuum') AS autovacuum, current_setting('track_counts') AS track_counts`,
        );
        const needed = this.db.kind === 'pglite' || r.rows[0]?.autovacuum !== 'on' || r.rows[0]?.track_counts !== 'on';
        if (!needed) return 'none';
        return r.rows[0]?.track_counts === 'on' ? 'tables' : 'whole';
      } catch {
        return this.db.kind === 'pglite' ? 'tables' : 'none';
      }
    })().then((m) => (this.known = m));
    return this.mode;
  }

  /** Counts `rows` versions written; starts a background look (and pass) past the threshold. */
  noteWrites(rows: number): void {
    this.written += rows;
    if (this.stopped || this.running || this.known === 'none' || this.written < (this.known === 'whole' ? this.wholeThreshold() : this.lookEvery)) return;
    void this.start();
  }

  /** Starts a pass in the background; `running` until it ends. */
  private start(): Promise<void> {
    this.running = this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Versions before a whole pass (no `track_counts`): 2,000 + 20 % of the resources, as before D-310. */
  private wholeThreshold(): number {
    return 2000 + 0.2 * this.rowsAtLastAnalyze;
  }

  /** Looks at the tables now, whatever was written (tests; after a bulk load). */
  async look(): Promise<void> {
    await this.idle();
    if (!this.stopped) await this.start();
  }

  /** The background pass in progress, if any (tests and shutdown await it). */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** Shutdown (D-325): no background pass from now on; resolves once the one in flight has ended, before the database closes. */
  async stop(): Promise<void> {
    this.stopped = true;
    while (this.running) await this.running;
  }

  private async pass(): Promise<void> {
    try {
      const mode = await this.getMode();
      if (mode === 'none') {
        this.written = 0; // autovacuum's job: never again
        return;
      }
      const written = this.written;
      if (mode === 'whole') {
        await this.run(`VACUUM (ANALYZE) ${ANALYZED_TABLES.join(', ')}`);
        this.analyses++;
        this.tablesVacuumed += ANALYZED_TABLES.length;
        this.tablesAnalysed += ANALYZED_TABLES.length;
        const r = await this.db.query<{ n: number }>(`SELECT greatest(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = to_regclass('resource')`);
        this.rowsAtLastAnalyze = Number(r.rows[0]?.n ?? 0);
        this.written -= written;
        return;
      }
      this.looks++;
      this.written -= written;
      const { tables, freezeMaxAge } = await this.figures();
      const plan = planPass(tables, { minRows: this.minRows, churnFraction: this.churnFraction, growthFraction: this.growthFraction, freezeMaxAge });
      this.lastPlan = plan;
      // Not in a transaction (VACUUM cannot run in one): the pool's autocommit, PGlite's top level.
      if (plan.vacuumAnalyze.length) await this.run(`VACUUM (ANALYZE) ${plan.vacuumAnalyze.join(', ')}`);
      if (plan.vacuum.length) await this.run(`VACUUM ${plan.vacuum.join(', ')}`);
      if (plan.analyze.length) await this.run(`ANALYZE ${plan.analyze.join(', ')}`);
      const vacuumed = plan.vacuumAnalyze.length + plan.vacuum.length;
      const analysed = plan.vacuumAnalyze.length + plan.analyze.length;
      this.tablesVacuumed += vacuumed;
      this.tablesAnalysed += analysed;
      if (vacuumed + analysed) this.analyses++;
    } catch (err) {
      this.errorHandler?.(err);
    }
  }

  private async run(sql: string): Promise<void> {
    const t0 = performance.now();
    try {
      await this.db.query(sql);
    } finally {
      this.passMs += performance.now() - t0;
    }
  }

  /**
   * Each leaf table's figures (the listed tables and the partitions of the partitioned ones), and
   * the server's autovacuum_freeze_max_age (PostgreSQL's default where it cannot be read).
   */
  private async figures(): Promise<{ tables: TableFigures[]; freezeMaxAge: number }> {
    const r = await this.db.query<{ name: string; rows: number; modified: number; dead: number; xid_age: number; freeze_max_age: string }>(
      `WITH listed AS (SELECT to_regclass(t) AS oid FROM unnest($1::text[]) AS t)
       SELECT c.oid::regclass::text AS name, c.reltuples::float8 AS rows,
              coalesce(s.n_mod_since_analyze, 0)::float8 AS modified, coalesce(s.n_dead_tup, 0)::float8 AS dead,
              age(c.relfrozenxid)::float8 AS xid_age, current_setting('autovacuum_freeze_max_age') AS freeze_max_age
         FROM pg_class c
         LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
        WHERE c.relkind = 'r'
          AND (c.oid IN (SELECT oid FROM listed) OR c.oid IN (SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent IN (SELECT oid FROM listed)))
        ORDER BY c.oid::regclass::text`,
      [ANALYZED_TABLES],
    );
    const age = Number(r.rows[0]?.freeze_max_age);
    return {
      tables: r.rows.map((x) => ({ table: x.name, rows: Number(x.rows), modified: Number(x.modified), dead: Number(x.dead), xidAge: Number(x.xid_age) })),
      freezeMaxAge: Number.isFinite(age) && age > 0 ? age : 200_000_000,
    };
  }
}
