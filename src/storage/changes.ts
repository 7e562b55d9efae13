// The durable change feed (migration 0082): every version written, in an order a consumer can
// resume from after a restart — its own or the server's — with no loss and no duplicate.
// A write's versions are one row (migration 0202, D-355); the cursor is `tx.seq` after a whole
// row, `tx.seq.n` after the n-th version of a row a page cut. See readEvents (outbox.ts) for why
// the order is (tx, seq) under the horizon of the running transactions (D-102).
import { TextArray, type Queryable } from './types.js';
import type { VersionToWrite } from './writer.js';

export interface Change {
  seq: number;
  /** The writing transaction (xid8 as text). */
  tx: string;
  /** The version's place in its write's row (1-based), and the versions that row holds (D-355). */
  n: number;
  of: number;
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
}

/**
 * Where a reader stands: every version up to the row (tx, seq) — and, with `n`, only the first
 * `n` versions of that row (a page cut inside a write). `tx.seq` is the form of cursors handed
 * out before migration 0202; rows of both tables share one sequence, so it means the same.
 */
export interface ChangeCursor {
  tx: string;
  seq: number;
  n?: number;
}

/** The data-modifying statement recording the versions of a write (one CTE of the writing statement): one row, its arrays in the write's order. */
export function changeFeedInsert(writes: readonly VersionToWrite[], p: (v: unknown) => string): string {
  return `INSERT INTO change_write (resource_types, ids, version_ids, last_updated, deleted)
    VALUES (${p(new TextArray(writes.map((w) => w.resourceType)))}::text[], ${p(new TextArray(writes.map((w) => w.id)))}::text[], ${p(writes.map((w) => w.versionId))}::integer[],
            ${p(writes.map((w) => w.lastUpdated))}::timestamptz[], ${p(writes.map((w) => w.deleted ?? false))}::boolean[])`;
}

/** The cursor after `c`: `tx.seq` when it is its row's last version, else `tx.seq.n`. */
export function changeCursor(c: Change): ChangeCursor {
  return c.n < c.of ? { tx: c.tx, seq: c.seq, n: c.n } : { tx: c.tx, seq: c.seq };
}

export function changeCursorText(c: ChangeCursor): string {
  return c.n === undefined ? `${c.tx}.${c.seq}` : `${c.tx}.${c.seq}.${c.n}`;
}

export function parseChangeCursor(s: string): ChangeCursor | undefined {
  const m = /^(\d{1,20})\.(\d{1,20})(?:\.([1-9]\d{0,8}))?$/.exec(s);
  if (!m) return undefined;
  return m[3] === undefined ? { tx: m[1]!, seq: Number(m[2]) } : { tx: m[1]!, seq: Number(m[2]), n: Number(m[3]) };
}

/** Larger than any row's number of versions: a cursor without `n` has read its whole row. */
const WHOLE_ROW = 2 ** 31 - 1;

/**
 * The changes after `after` (from the start when absent), at most `limit`, in the order
 * (tx, seq, n) under the horizon of the running transactions (D-102). The rows of `change_feed`
 * (one version each, written before migration 0202 or by a server of the previous version) and of
 * `change_write` (one row per write) are merged in that order; a row's versions are unnested
 * lazily (the plan stops at `limit`: an incremental sort over the rows' index order).
 */
export async function readChanges(db: Queryable, after: ChangeCursor | undefined, limit: number): Promise<Change[]> {
  const max = Math.max(1, Math.min(1000, Math.floor(limit)));
  const params: unknown[] = after ? [after.tx, after.seq, after.n ?? WHOLE_ROW] : [];
  const horizon = 'tx < pg_snapshot_xmin(pg_current_snapshot())';
  // Every row holds at least one version, so `max` rows after the cursor's own row are enough.
  const res = await db.query<{ seq: string | number; tx: string; n: string | number; of: number; resource_type: string; id: string; version_id: number; last_updated: Date | string; deleted: boolean }>(
    `SELECT c.seq, c.tx::text AS tx, c.n, c.of, c.resource_type, c.id, c.version_id, c.last_updated, c.deleted FROM (
       (SELECT f.seq, f.tx, 1::bigint AS n, 1 AS of, f.resource_type, f.id, f.version_id, f.last_updated, f.deleted FROM change_feed f
         WHERE f.${horizon}${after ? ' AND (f.tx, f.seq) > ($1::xid8, $2::bigint)' : ''} ORDER BY f.tx, f.seq LIMIT ${max})
       UNION ALL
       (SELECT w.seq, w.tx, u.n, cardinality(w.ids) AS of, u.resource_type, u.id, u.version_id, u.last_updated, u.deleted
          FROM (SELECT * FROM change_write WHERE ${horizon}${after ? ' AND (tx, seq) >= ($1::xid8, $2::bigint)' : ''} ORDER BY tx, seq LIMIT ${max + 1}) w
          CROSS JOIN LATERAL unnest(w.resource_types, w.ids, w.version_ids, w.last_updated, w.deleted) WITH ORDINALITY AS u(resource_type, id, version_id, last_updated, deleted, n)
         ${after ? 'WHERE (w.tx, w.seq, u.n) > ($1::xid8, $2::bigint, $3::bigint)' : ''})
     ) c ORDER BY c.tx, c.seq, c.n LIMIT ${max}`,
    params,
  );
  return res.rows.map((r) => ({
    seq: Number(r.seq),
    tx: String(r.tx),
    n: Number(r.n),
    of: Number(r.of),
    resourceType: r.resource_type,
    id: r.id,
    versionId: Number(r.version_id),
    lastUpdated: (r.last_updated instanceof Date ? r.last_updated : new Date(r.last_updated)).toISOString(),
    deleted: r.deleted,
  }));
}
