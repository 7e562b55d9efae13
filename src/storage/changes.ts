// The durable change feed (migration 0082): every version written, in an order a consumer can
// resume from after a restart — its own or the server's — with no loss and no duplicate.
// The cursor is `tx.seq` of the last change read; see readEvents (outbox.ts) for why the order
// is (tx, seq) under the horizon of the running transactions (D-102).
import { TextArray, type Queryable } from './types.js';
import type { VersionToWrite } from './writer.js';

export interface Change {
  seq: number;
  /** The writing transaction (xid8 as text). */
  tx: string;
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
}

/** The data-modifying statement recording the versions of a write (one CTE of the writing statement). */
export function changeFeedInsert(writes: readonly VersionToWrite[], p: (v: unknown) => string): string {
  return `INSERT INTO change_feed (resource_type, id, version_id, last_updated, deleted)
    SELECT * FROM unnest(${p(new TextArray(writes.map((w) => w.resourceType)))}::text[], ${p(new TextArray(writes.map((w) => w.id)))}::text[], ${p(writes.map((w) => w.versionId))}::integer[],
                         ${p(writes.map((w) => w.lastUpdated))}::timestamptz[], ${p(writes.map((w) => w.deleted ?? false))}::boolean[])`;
}

export function changeCursorText(c: Pick<Change, 'tx' | 'seq'>): string {
  return `${c.tx}.${c.seq}`;
}

export function parseChangeCursor(s: string): { tx: string; seq: number } | undefined {
  const m = /^(\d{1,20})\.(\d{1,20})$/.exec(s);
  return m ? { tx: m[1]!, seq: Number(m[2]) } : undefined;
}

/** The changes after `after` (from the start when absent), at most `limit`. */
export async function readChanges(db: Queryable, after: { tx: string; seq: number } | undefined, limit: number): Promise<Change[]> {
  const params: unknown[] = [];
  const where = ['tx < pg_snapshot_xmin(pg_current_snapshot())'];
  if (after) {
    params.push(after.tx, after.seq);
    where.push(`(tx, seq) > ($1::xid8, $2::bigint)`);
  }
  const res = await db.query<{ seq: string | number; tx: string; resource_type: string; id: string; version_id: number; last_updated: Date | string; deleted: boolean }>(
    `SELECT seq, tx::text AS tx, resource_type, id, version_id, last_updated, deleted FROM change_feed WHERE ${where.join(' AND ')} ORDER BY tx, seq LIMIT ${Math.max(1, Math.min(1000, Math.floor(limit)))}`,
    params,
  );
  return res.rows.map((r) => ({
    seq: Number(r.seq),
    tx: String(r.tx),
    resourceType: r.resource_type,
    id: r.id,
    versionId: Number(r.version_id),
    lastUpdated: (r.last_updated instanceof Date ? r.last_updated : new Date(r.last_updated)).toISOString(),
    deleted: r.deleted,
  }));
}
