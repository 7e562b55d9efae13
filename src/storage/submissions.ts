// The submissions log: every received transaction Bundle with its outcome, for the web UI.
import { scopeSql, type ReadScope } from './scope.js';
import { randomUUID } from 'node:crypto';
import { pageNumber, toIso } from './rows.js';
import { Utf8Text, type Queryable, type RejectedRetention, type SubmissionFilter, type SubmissionRecord } from './types.js';

interface SubmissionRow {
  id: string;
  received_at: Date | string;
  organization_finess: string | null;
  organization_name: string | null;
  usagers: SubmissionRecord['usagers'] | string;
  resource_count: number;
  outcome: 'accepted' | 'rejected';
  http_status: number;
  error_count: number;
  warning_count: number;
  notice_count: number | null;
  ig: string | null;
  client?: string | null;
  unchanged_count?: number | null;
  bundle_dropped?: string | null;
  submitted_type?: string | null;
  bundle?: unknown;
  report?: unknown;
  response?: unknown;
}

const LIGHT = 'id, received_at, organization_finess, organization_name, usagers, resource_count, outcome, http_status, error_count, warning_count, notice_count, ig, client, unchanged_count, submitted_type, bundle_dropped';

function parse(v: unknown): unknown {
  return typeof v === 'string' ? JSON.parse(v) : v;
}

function toSubmission(row: SubmissionRow): SubmissionRecord {
  const out: SubmissionRecord = {
    id: row.id,
    receivedAt: toIso(row.received_at),
    usagers: parse(row.usagers) as SubmissionRecord['usagers'],
    resourceCount: Number(row.resource_count),
    outcome: row.outcome,
    httpStatus: Number(row.http_status),
    errorCount: Number(row.error_count),
    warningCount: Number(row.warning_count),
  };
  if (row.notice_count != null) out.noticeCount = Number(row.notice_count);
  if (row.ig != null) out.ig = row.ig;
  if (row.client != null) out.client = row.client;
  if (row.unchanged_count != null) out.unchangedCount = Number(row.unchanged_count);
  if (row.submitted_type != null) out.submittedType = row.submitted_type;
  if (row.bundle_dropped != null) out.bundleDropped = row.bundle_dropped as NonNullable<SubmissionRecord['bundleDropped']>;
  if (row.organization_finess !== null) out.organizationFiness = row.organization_finess;
  if (row.organization_name !== null) out.organizationName = row.organization_name;
  // (Read as text, D-343: a JSON `null` stored is no value, as when the driver parsed it.)
  const bundle = parse(row.bundle);
  const report = parse(row.report);
  const response = parse(row.response);
  if (bundle != null) out.bundle = bundle;
  if (report != null) out.report = report;
  if (response != null) out.response = response;
  return out;
}

/**
 * A value of a submission record given as its JSON text, serialised beforehand (a rejected
 * Bundle's bounded copy and report, built by a validation worker: the event loop does not walk
 * them again). `resourceType`: the value's, when it is a resource (the record's submitted type).
 */
export class JsonText {
  /** The text's UTF-8 bytes, when it was given as bytes (`fromBytes`). */
  readonly bytes?: Buffer;
  #text?: string;
  /**
   * `text` may be given as its UTF-8 bytes (valid UTF-8: the caller checks): stored without being
   * decoded here on PostgreSQL (D-328: a 40 MB Bundle's text decoded, then encoded again by pg, held
   * the event loop ~1.2 s); decoded when `text` is read.
   */
  constructor(
    text: string | Buffer,
    readonly resourceType?: string,
  ) {
    if (typeof text === 'string') this.#text = text;
    else this.bytes = text;
  }
  get text(): string {
    return (this.#text ??= this.bytes!.toString('utf8'));
  }
}

/** JSON text of a value, or null (the bundle may be anything the client sent). */
function jsonOrNull(v: unknown): string | Utf8Text | null {
  return v === undefined ? null : v instanceof JsonText ? (v.bytes ? new Utf8Text(v.bytes) : v.text) : JSON.stringify(v);
}

const INSERT_COLUMNS =
  'id, received_at, organization_finess, organization_name, usagers, resource_count, outcome, http_status, error_count, warning_count, bundle, report, response, submitted_type, notice_count, ig, client, unchanged_count, bundle_bytes, bundle_dropped';

/** The resourceType of a submitted body (migration 0007), when it is a resource. */
function submittedType(body: unknown): string | null {
  if (body instanceof JsonText) return body.resourceType ?? null;
  return typeof body === 'object' && body !== null && !Array.isArray(body) && typeof (body as { resourceType?: unknown }).resourceType === 'string'
    ? (body as { resourceType: string }).resourceType
    : null;
}

/** The three large values of a record, which may go in pieces (D-343). */
export type SubmissionField = 'bundle' | 'report' | 'response';

/** One piece of a record's value: its text, in order (`n` from 0), as the driver takes it. */
export interface SubmissionPiece {
  field: SubmissionField;
  n: number;
  text: string | Utf8Text;
}

/**
 * A value of an accepted record longer than this (bytes of a Utf8Text, UTF-16 units of a string)
 * is written in pieces of at most this size, one statement each, after the record's row (D-343):
 * on the embedded database a statement runs on the event loop, and the 40 MB Bundle's record
 * (122 MB of text) in one statement held it 9.2 s. A PP-PA Bundle's record (~50 KB) never is.
 */
export const SUBMISSION_PIECE = 1024 * 1024;

/** The text's length in the unit pieces are cut in (see SUBMISSION_PIECE). */
function textSize(v: string | Utf8Text): number {
  return typeof v === 'string' ? v.length : v.bytes.length;
}

/**
 * The text cut into pieces of at most `size`, never inside a character: a string not between the
 * halves of a surrogate pair, bytes not before a UTF-8 continuation byte (so each piece is valid
 * text of its own, and the pieces joined are the text, byte for byte). `size`: 4 or more (a
 * UTF-8 character is at most 4 bytes).
 */
export function cutText(v: string | Utf8Text, size: number): (string | Utf8Text)[] {
  if (!(size >= 4)) throw new RangeError(`pieces of ${size}: 4 or more`);
  const out: (string | Utf8Text)[] = [];
  if (typeof v === 'string') {
    for (let a = 0; a < v.length; ) {
      let b = Math.min(a + size, v.length);
      if (b < v.length && b > a + 1) {
        const c = v.charCodeAt(b - 1);
        if (c >= 0xd800 && c <= 0xdbff) b--;
      }
      out.push(v.slice(a, b));
      a = b;
    }
  } else {
    const bytes = v.bytes;
    for (let a = 0; a < bytes.length; ) {
      let b = Math.min(a + size, bytes.length);
      // (At most 3 steps back: a UTF-8 character is at most 4 bytes.)
      while (b < bytes.length && b > a + 1 && (bytes[b]! & 0xc0) === 0x80) b--;
      out.push(new Utf8Text(bytes.subarray(a, b)));
      a = b;
    }
  }
  return out;
}

/**
 * The INSERT of a submission with its placeholders allocated by `p` (also used inside a CTE).
 * With `pieces`, a bundle, report or response longer than `pieceSize` is not in the statement: its
 * column is NULL and its pieces are pushed onto `pieces`, for `insertSubmissionPieces` to write
 * after the row, in the same transaction (D-343).
 */
export function submissionInsert(s: Omit<SubmissionRecord, 'id'>, id: string, p: (v: unknown) => string, pieces?: SubmissionPiece[], pieceSize = SUBMISSION_PIECE): string {
  const bundleText = jsonOrNull(s.bundle);
  const inline = (field: SubmissionField, text: string | Utf8Text | null): string | Utf8Text | null => {
    if (text === null || !pieces || textSize(text) <= pieceSize) return text;
    for (const [n, piece] of cutText(text, pieceSize).entries()) pieces.push({ field, n, text: piece });
    return null;
  };
  const values = [
    p(id),
    `${p(s.receivedAt)}::timestamptz`,
    `${p(s.organizationFiness ?? null)}::text`,
    `${p(s.organizationName ?? null)}::text`,
    `${p(JSON.stringify(s.usagers ?? []))}::jsonb`,
    `${p(s.resourceCount)}::integer`,
    `${p(s.outcome)}::text`,
    `${p(s.httpStatus)}::integer`,
    `${p(s.errorCount)}::integer`,
    `${p(s.warningCount)}::integer`,
    // json columns (migration 0006): the text is checked, not converted.
    `${p(inline('bundle', bundleText))}::json`,
    `${p(inline('report', jsonOrNull(s.report)))}::json`,
    `${p(inline('response', jsonOrNull(s.response)))}::json`,
    `${p(submittedType(s.bundle))}::text`,
    `${p(s.noticeCount ?? null)}::integer`,
    `${p(s.ig ?? null)}::text`,
    `${p(s.client ?? null)}::text`,
    `${p(s.unchangedCount ?? null)}::integer`,
    `${p(bundleText === null ? null : bundleText instanceof Utf8Text ? bundleText.bytes.length : Buffer.byteLength(bundleText))}::integer`,
    `${p(s.bundleDropped ?? null)}::text`,
  ];
  return `INSERT INTO submission (${INSERT_COLUMNS}) VALUES (${values.join(', ')})`;
}

/**
 * The pieces of a record's values (submissionInsert's `pieces`), one statement each, after the
 * record's row and in its transaction (D-343, migration 0196): on the embedded database the event
 * loop turns between them (D-330: a statement of ~1 MiB of text runs tens of ms). Stored as
 * `text`, not `json`: each piece is not JSON of its own — the value was checked whole (the
 * Bundle parsed by the server, the report and the response serialised by it).
 */
export async function insertSubmissionPieces(tx: Queryable, id: string, pieces: readonly SubmissionPiece[]): Promise<void> {
  for (const piece of pieces) {
    await tx.query(`INSERT INTO submission_part (submission_id, field, n, data) VALUES ($1, $2, $3::integer, $4::text)`, [id, piece.field, piece.n, piece.text]);
  }
}

/** A record's value (the column, or its pieces joined: D-343) as SQL over the submission `s`. */
function fieldText(field: SubmissionField): string {
  return `coalesce(s.${field}::text, (SELECT string_agg(q.data, '' ORDER BY q.n) FROM submission_part q WHERE q.submission_id = s.id AND q.field = '${field}'))`;
}

/** A record's value as stored, its JSON text as written (the column or its pieces joined, D-343); undefined when it has none. */
export async function submissionText(db: Queryable, id: string, field: SubmissionField): Promise<string | undefined> {
  const res = await db.query<{ t: string | null }>(`SELECT ${fieldText(field)} AS t FROM submission s WHERE s.id = $1`, [id]);
  return res.rows[0]?.t ?? undefined;
}

export async function insertSubmission(db: Queryable, s: Omit<SubmissionRecord, 'id'>): Promise<SubmissionRecord> {
  const id = randomUUID();
  const params: unknown[] = [];
  await db.query(submissionInsert(s, id, (v) => (params.push(v), `$${params.length}`)), params);
  return { ...s, id, receivedAt: new Date(s.receivedAt).toISOString() };
}

export async function listSubmissions(db: Queryable, f: SubmissionFilter): Promise<{ total: number; items: SubmissionRecord[] }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => (params.push(v), `$${params.length}`);
  if (f.organizationFiness) where.push(`organization_finess = ${p(f.organizationFiness)}`);
  if (f.scope) where.push(scopeSql(f.scope, 'organization_finess', p));
  if (f.outcome) where.push(`outcome = ${p(f.outcome)}`);
  if (f.submittedType) where.push(`submitted_type = ${p(f.submittedType)}`);
  // Inclusive range; a bare date `to` covers its whole day.
  if (f.from) where.push(`received_at >= ${p(boundary(f.from, 'low'))}::timestamptz`);
  if (f.to) where.push(`received_at <= ${p(boundary(f.to, 'high'))}::timestamptz`);
  const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM submission ${w}`, params);
  const count = pageNumber(f.count, 'count');
  const offset = pageNumber(f.offset, 'offset');
  const rows = await db.query<SubmissionRow>(
    `SELECT ${LIGHT} FROM submission ${w} ORDER BY received_at DESC, seq DESC LIMIT ${count} OFFSET ${offset}`,
    params,
  );
  return { total: Number(total.rows[0].n), items: rows.rows.map(toSubmission) };
}

export async function getSubmission(db: Queryable, id: string, scope?: ReadScope): Promise<SubmissionRecord | undefined> {
  const params: unknown[] = [id];
  const inScope = scope ? ` AND ${scopeSql(scope, 'organization_finess', (v) => (params.push(v), `$${params.length}`))}` : '';
  // (The values as text, a value in pieces joined, D-343; parsed here as before.)
  const res = await db.query<SubmissionRow>(
    `SELECT ${LIGHT}, ${fieldText('bundle')} AS bundle, ${fieldText('report')} AS report, ${fieldText('response')} AS response FROM submission s WHERE id = $1${inScope}`,
    params,
  );
  return res.rows[0] ? toSubmission(res.rows[0]) : undefined;
}

function boundary(v: string, side: 'low' | 'high'): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return side === 'low' ? `${v}T00:00:00.000Z` : `${v}T23:59:59.999Z`;
  return v;
}

/**
 * The retention of rejected submissions' documents (D-85): first those older than the period,
 * then, newest first, those beyond the total quota. Only the document goes (`bundle` set to
 * null, `bundle_dropped` says why); the record, its report and its counts stay.
 */
export async function pruneRejectedSubmissions(db: Queryable, policy: RejectedRetention): Promise<{ retention: number; quota: number }> {
  const now = policy.now ?? new Date();
  const before = new Date(now.getTime() - policy.retentionDays * 86_400_000).toISOString();
  const old = await db.query<{ n: number }>(
    `WITH dropped AS (
       UPDATE submission SET bundle = NULL, bundle_dropped = 'retention'
        WHERE outcome = 'rejected' AND bundle IS NOT NULL AND received_at < $1::timestamptz
       RETURNING 1)
     SELECT count(*)::int AS n FROM dropped`,
    [before],
  );
  const over = await db.query<{ n: number }>(
    `WITH kept AS (
       SELECT id, sum(coalesce(bundle_bytes, octet_length(bundle::text))) OVER (ORDER BY received_at DESC, id DESC) AS running
         FROM submission WHERE outcome = 'rejected' AND bundle IS NOT NULL),
     dropped AS (
       UPDATE submission s SET bundle = NULL, bundle_dropped = 'quota'
         FROM kept WHERE s.id = kept.id AND kept.running > $1::bigint
       RETURNING 1)
     SELECT count(*)::int AS n FROM dropped`,
    [policy.maxTotalBytes],
  );
  return { retention: Number(old.rows[0]?.n ?? 0), quota: Number(over.rows[0]?.n ?? 0) };
}
