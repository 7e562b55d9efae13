// The derived tables (usager_sort, pilotage_part and its counts, ppa_accord_link,
// ppa_validation), refreshed after the writes in batches (D-356, migration 0203).
//
// A write records the keys of the versions that can change a derived table in `derived_pending`
// (writer.ts); a drain takes the rows pending when it begins, refreshes their keys with
// `derived_refresh` and deletes the rows, DRAIN_ROWS rows per transaction. The refresh recomputes what it is handed from the stored
// state (D-351), so keys written by several Bundles are refreshed once, to what the last one
// left; its cost is mostly the setting up of its plans, paid once per drain instead of once per
// write (~2.1 ms of PostgreSQL CPU per PP-PA Bundle, bench/README session 34).
//
// When the derived tables are current: in a snapshot that sees no pending row — a drain deletes
// the rows in the transaction that writes what they stand for. So a reader of the derived tables
// (Repository.derivedReader) looks at `derived_pending` where it reads (a replica too): nothing
// pending, it reads there; something pending, it drains on the primary and reads the primary.
// Drains run one at a time across servers (a transaction advisory lock) and, after a write, in the
// background a little later (`DerivedDrainer`), so that a reader rarely finds anything to drain.
import type { Database, Queryable } from './types.js';
import { TextArray } from './types.js';

/** Keys refreshed per statement (as a large write did before D-356: a PGlite statement runs on the event loop, D-351). */
export const DRAIN_CHUNK = 500;
/**
 * Pending rows taken by one drain transaction (each row one writing statement's keys, at most
 * WRITE_CHUNK): a backlog — a re-index of every stored resource, a server stopped under load — is
 * drained in transactions of bounded size, one after the other, not in one of millions of keys.
 */
export const DRAIN_ROWS = 64;
/** The transaction advisory lock that makes drains take turns (across every server of the database). */
const DRAIN_LOCK = `pg_advisory_xact_lock(hashtextextended('tddui-derived-drain', 0))`;
/** The tables the refresh reads by the written keys (D-329). */
const REFRESH_READS = ['resource', 'search_token', 'search_reference', 'search_date'];

/** Whether this database (or replica) holds keys not yet refreshed: its derived tables are behind. */
export async function hasPendingDerived(q: Queryable): Promise<boolean> {
  const r = await q.query<{ p: boolean }>('SELECT EXISTS (SELECT 1 FROM derived_pending) AS p');
  return r.rows[0]!.p === true;
}

/** The SQL of a write's sub-statement recording its keys (writer.ts; placeholders from `p`). */
export function pendingInsert(keys: { resourceType: string; id: string }[], p: (v: unknown) => string): string {
  return `INSERT INTO derived_pending (types, ids) VALUES (${p(new TextArray(keys.map((k) => k.resourceType)))}::text[], ${p(new TextArray(keys.map((k) => k.id)))}::text[])`;
}

/**
 * Drains in the transaction `tx`: waits for its turn, takes the first DRAIN_ROWS pending rows
 * committed by then (in `seq` order, up to `upTo` when given), refreshes their keys (each once, in
 * the order written, DRAIN_CHUNK keys per statement) and deletes the rows. The rows taken and the
 * distinct keys refreshed.
 */
export async function drainIn(tx: Queryable, upTo?: string): Promise<{ rows: number; keys: number }> {
  await tx.query(`SELECT ${DRAIN_LOCK}`);
  // (This statement's snapshot is taken after the lock: a drain that held it has committed, its
  // rows are gone.) Each key once, in the order written: a Bundle's keys — one usager's — stay
  // together, so a usager is recomputed by one chunk rather than by every chunk that holds one of
  // its sources, as a sort by type would have it (4x the rows read for a large write, large-refresh.test).
  const res = await tx.query<{ rows: number; t: string[] | null; i: string[] | null }>(
    `WITH d AS (DELETE FROM derived_pending
                 WHERE seq IN (SELECT seq FROM derived_pending${upTo === undefined ? '' : ' WHERE seq <= $1::bigint'} ORDER BY seq LIMIT ${DRAIN_ROWS})
                 RETURNING seq, types, ids),
          k AS (SELECT u.t, u.i, min(ARRAY[d.seq, u.n]) AS o
                  FROM d CROSS JOIN LATERAL unnest(d.types, d.ids) WITH ORDINALITY AS u(t, i, n) GROUP BY u.t, u.i)
     SELECT (SELECT count(*)::int FROM d) AS rows, array_agg(k.t ORDER BY k.o) AS t, array_agg(k.i ORDER BY k.o) AS i FROM k`,
    upTo === undefined ? [] : [upTo],
  );
  const rows = Number(res.rows[0]?.rows ?? 0);
  const types = res.rows[0]?.t ?? [];
  const ids = res.rows[0]?.i ?? [];
  if (types.length >= DRAIN_CHUNK) await analyzeGrown(tx);
  for (let k = 0; k < types.length; k += DRAIN_CHUNK) {
    // (p_analyze false: `derived_refresh`'s own statistics step looks at what THIS transaction
    // inserted, nothing here; analyzeGrown above stands for it.)
    await tx.query('SELECT derived_refresh($1::text[], $2::text[], false)', [new TextArray(types.slice(k, k + DRAIN_CHUNK)), new TextArray(ids.slice(k, k + DRAIN_CHUNK))]);
  }
  return { rows, keys: types.length };
}

/**
 * D-329 in the drain: a refresh of many keys planned from statistics of near-empty tables goes
 * quadratic (every written key joined to every stored row of its type). Before refreshing
 * DRAIN_CHUNK keys or more, each table the refresh reads that has at least doubled in pages since
 * its last ANALYZE (or was never analysed and holds two pages) is analysed; SKIP_LOCKED: never waits for
 * another ANALYZE. Pages, not the activity counters: those reach the statistics collector late.
 */
async function analyzeGrown(tx: Queryable): Promise<void> {
  const grown = await tx.query<{ t: string }>(
    `SELECT c.oid::regclass::text AS t FROM pg_class c
      WHERE c.oid = ANY ($1::text[]::regclass[])
        AND pg_relation_size(c.oid) >= 2 * greatest(c.relpages, 1)::bigint * current_setting('block_size')::bigint
      ORDER BY c.relname`,
    [REFRESH_READS],
  );
  for (const { t } of grown.rows) await tx.query(`ANALYZE (SKIP_LOCKED) ${t}`);
}

/**
 * Drains the rows pending when it begins, DRAIN_ROWS per transaction; 0 without looking further
 * when nothing is pending. The number of keys refreshed.
 */
export async function drainDerived(db: Database): Promise<number> {
  // What was committed when the drain began, and only that: under a steady flow of writes a
  // reader waits for the writes before its request, not for the next ones.
  const mark = (await db.query<{ m: string | null }>('SELECT max(seq)::text AS m FROM derived_pending')).rows[0]?.m;
  if (mark === null || mark === undefined) return 0;
  let keys = 0;
  for (;;) {
    const taken = await db.transaction((tx) => drainIn(tx, mark));
    keys += taken.keys;
    // (None left up to the mark — taken by this loop, or by another server's drain meanwhile.)
    if (taken.rows < DRAIN_ROWS) return keys;
  }
}

/** How long after a write the background drain runs: the writes of that time are refreshed together. */
const BACKGROUND_DELAY_MS = 200;

/**
 * A repository's drains: one at a time in this process, a background drain BACKGROUND_DELAY_MS after a
 * write, and `drain()` for a reader that found keys pending. A drain asked for while another runs
 * is queued behind it (it must see what was committed before it was asked for), and every caller
 * that asks meanwhile shares that queued one.
 */
export class DerivedDrainer {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<number> = Promise.resolve(0);
  private queued: Promise<number> | undefined;
  private stopped = false;
  private background = true;
  /** A background drain's error (Repository.onBackgroundError); else ignored: the keys stay pending, the next drain retries. */
  private errorHandler: ((err: unknown) => void) | undefined;

  constructor(private readonly db: Database) {}

  /** A write recorded keys: drain in the background BACKGROUND_DELAY_MS later (once for the writes of that time). */
  noteWrite(): void {
    if (this.stopped || this.timer || !this.background) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain().catch((err) => this.errorHandler?.(err));
    }, BACKGROUND_DELAY_MS);
    this.timer.unref();
  }

  /** Where a background drain's error goes. */
  onError(handler: (err: unknown) => void): void {
    this.errorHandler = handler;
  }

  /** Background drains on or off (tests that count a drain's statements; a reader still drains what it finds pending). */
  setBackground(on: boolean): void {
    this.background = on;
    if (!on && this.timer) clearTimeout(this.timer);
    if (!on) this.timer = undefined;
  }

  /** A drain that starts after the one in flight (if any) ends; resolves with the keys it refreshed. */
  drain(): Promise<number> {
    if (this.stopped) return Promise.resolve(0);
    if (this.queued) return this.queued;
    const next = this.current
      .catch(() => 0)
      .then(() => {
        // Started: later callers queue behind this one.
        if (this.queued === next) this.queued = undefined;
        return this.stopped ? 0 : drainDerived(this.db);
      });
    this.queued = next;
    this.current = next;
    return next;
  }

  /** No drain starts any more; resolves once the one in flight has ended (D-325's order). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.current.catch(() => undefined);
  }
}
