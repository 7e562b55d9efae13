// PostgreSQL driver over a `pg` Pool. Transactions run on one pooled client each.
import { createRequire } from 'node:module';
import pg from 'pg';
import { TextArray, Utf8Text, type Database, type Queryable, type QueryOptions } from '../types.js';
import { mapYielding } from '../yielding.js';

/** pg's own conversion of a parameter to its text (an array to its literal `{...}`). */
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue: (v: unknown) => unknown };

/**
 * The array literal pg's `prepareValue` makes of a flat array of strings, numbers, booleans and
 * nulls — the same text, built without its two regular-expression passes over every element
 * (a string with no quote nor backslash is taken as it is; one pass otherwise): the write
 * statement's arrays (25 contents, ~150 index rows per Bundle) went through pg's `escapeElement`
 * on the main thread for every Bundle (D-317). `undefined`: any other array (nested, bytes,
 * dates, objects), left to pg.
 */
export function arrayLiteral(v: readonly unknown[]): string | undefined {
  let out = '{';
  for (let i = 0; i < v.length; i++) {
    if (i > 0) out += ',';
    const x = v[i];
    if (x === null || x === undefined) out += 'NULL';
    else if (typeof x === 'string') out += `"${x.indexOf('"') < 0 && x.indexOf('\\') < 0 ? x : x.replace(/["\\]/g, '\\$&')}"`;
    else if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint') out += `"${String(x)}"`;
    else return undefined;
  }
  return `${out}}`;
}

/** Each flat array parameter as its literal (arrayLiteral); anything else as it is. */
function literals(params: readonly unknown[]): unknown[] {
  // A Utf8Text's bytes go as they are: pg sends a Buffer as a binary-format parameter (D-328);
  // a TextArray in the binary array format, likewise (D-332).
  return params.map((v) => (Array.isArray(v) ? (arrayLiteral(v) ?? v) : v instanceof Utf8Text ? v.bytes : v instanceof TextArray ? binaryArray(v) : v));
}

/** The element type OIDs of TextArray (pg_type: text, jsonb). */
const ELEMENT_OID = { text: 25, jsonb: 3802 } as const;

/**
 * The elements of a TextArray in PostgreSQL's binary array form (array_send): for each, its
 * length (int32, -1 for NULL) and bytes — jsonb's binary form being a version byte (1) and the
 * JSON text. One Buffer.
 */
function binaryElements(values: readonly unknown[], type: TextArray['type']): { bytes: Buffer; nulls: boolean } {
  const extra = type === 'jsonb' ? 1 : 0;
  const texts = values.map((x) => (x === null || x === undefined ? null : String(x)));
  let size = 0;
  let nulls = false;
  const lengths = texts.map((s) => {
    if (s === null) {
      nulls = true;
      size += 4;
      return -1;
    }
    const n = Buffer.byteLength(s);
    size += 4 + extra + n;
    return n;
  });
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (let k = 0; k < texts.length; k++) {
    const n = lengths[k]!;
    o = out.writeInt32BE(n < 0 ? -1 : n + extra, o);
    if (n < 0) continue;
    if (extra) out[o++] = 1;
    o += out.write(texts[k]!, o);
  }
  return { bytes: out, nulls };
}

/** A one-dimensional array's header (ndim 1, NULL flag, element type, length, lower bound 1) and its elements. */
function binaryArrayOf(count: number, type: TextArray['type'], parts: { bytes: Buffer; nulls: boolean }[]): Buffer {
  const head = Buffer.allocUnsafe(count === 0 ? 12 : 20);
  head.writeInt32BE(count === 0 ? 0 : 1, 0);
  head.writeInt32BE(parts.some((p) => p.nulls) ? 1 : 0, 4);
  head.writeUInt32BE(ELEMENT_OID[type], 8);
  if (count > 0) {
    head.writeInt32BE(count, 12);
    head.writeInt32BE(1, 16);
  }
  return Buffer.concat([head, ...parts.map((p) => p.bytes)]);
}

/** A TextArray in PostgreSQL's binary array format (D-332). */
export function binaryArray(a: TextArray): Buffer {
  return binaryArrayOf(a.values.length, a.type, [binaryElements(a.values, a.type)]);
}

/** Arrays longer than this are turned into their literal before the query, in slices (issue 21). */
export const LARGE_ARRAY = 2000;
const SLICE = 100;

/**
 * A large write's column arrays (a 40 MB Bundle: 14,000 contents, ~100,000 index rows) turned
 * into the text pg would send for them, a slice at a time, letting the event loop turn as it
 * goes (`mapYielding`), instead of in one go inside `client.query` (~1.4 s of main thread for such a Bundle on
 * a loaded host). The bytes sent are the same: pg's own `prepareValue` on each slice, joined as
 * its `arrayString` joins elements (`{a,b}` + `{c}` = `{a,b,c}`); a string parameter is sent
 * as is. Small queries are untouched.
 */
export async function prepareLarge(params: readonly unknown[] | undefined): Promise<readonly unknown[] | undefined> {
  const large = (v: unknown) => (Array.isArray(v) && v.length > LARGE_ARRAY) || (v instanceof TextArray && v.values.length > LARGE_ARRAY);
  if (!params || !params.some(large)) return params;
  const out: unknown[] = [];
  for (const v of params) {
    if (v instanceof TextArray && large(v)) {
      // Its binary form a slice at a time, likewise (D-332).
      const slices: unknown[][] = [];
      for (let i = 0; i < v.values.length; i += SLICE) slices.push(v.values.slice(i, i + SLICE));
      out.push(binaryArrayOf(v.values.length, v.type, await mapYielding(slices, (part) => binaryElements(part, v.type))));
      continue;
    }
    if (!Array.isArray(v) || v.length <= LARGE_ARRAY) {
      out.push(v);
      continue;
    }
    const slices: unknown[][] = [];
    for (let i = 0; i < v.length; i += SLICE) slices.push(v.slice(i, i + SLICE));
    const parts = await mapYielding(slices, (part) => (arrayLiteral(part) ?? (prepareValue(part) as string)).slice(1, -1));
    out.push(`{${parts.join(',')}}`);
  }
  return out;
}

export interface PostgresOptions {
  url: string;
  /** Pool size (default 10). */
  max?: number;
  /**
   * Statements marked `reuse` sent as named prepared statements (default true, D-331). Off for a
   * connection pooler that does not carry them across server connections (PgBouncer in
   * transaction mode before 1.21, or without `max_prepared_statements`).
   */
  namedStatements?: boolean;
}

/**
 * The names of the reused statement texts (D-331), the same for the whole process: a text is
 * always sent under the same name, so each connection parses it once (pg remembers, per
 * connection, which names it has prepared, and sends Parse only the first time). A text is named
 * from its SECOND use, so that a shape seen once (a rare REST write) takes no place; at most
 * MAX_NAMED texts are named, the texts past that go unnamed, as before. Each is a prepared
 * statement with its plan in the backend of every connection that ran it: ~200 KB for a PP-PA
 * Bundle's write statement (pg_backend_memory_contexts, CachedPlan + CachedPlanSource), so at most
 * ~10 MB per connection. A Bundle's write statement has one text per shape (which tables get
 * rows, which extra statements), so a server sees a few dozen at most. The texts seen once are
 * remembered up to SEEN_MAX (then forgotten all at once).
 */
const statementNames = new Map<string, string>();
const seenOnce = new Set<string>();
export const MAX_NAMED = 50;
const SEEN_MAX = 500;

/** The name of a reused statement text: undefined at its first use, and past MAX_NAMED texts. */
export function statementName(sql: string): string | undefined {
  const name = statementNames.get(sql);
  if (name !== undefined || statementNames.size >= MAX_NAMED) return name;
  if (!seenOnce.has(sql)) {
    if (seenOnce.size >= SEEN_MAX) seenOnce.clear();
    seenOnce.add(sql);
    return undefined;
  }
  seenOnce.delete(sql);
  const named = `tddui_s${statementNames.size + 1}`;
  statementNames.set(sql, named);
  return named;
}

function wrap(client: pg.Pool | pg.PoolClient, named: boolean): Queryable {
  return {
    async query<R>(sql: string, params?: readonly unknown[], options?: QueryOptions) {
      const prepared = await prepareLarge(params);
      const values = prepared ? literals(prepared) : undefined;
      const name = named && options?.reuse ? statementName(sql) : undefined;
      const res = await (name === undefined ? client.query(sql, values) : client.query({ name, text: sql, values }));
      return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
    },
  };
}

export async function openPostgres(opts: PostgresOptions): Promise<Database> {
  const pool = new pg.Pool({ connectionString: opts.url, max: opts.max ?? 10 });
  // An idle client that loses its connection must not crash the process.
  pool.on('error', () => undefined);
  // Fail fast on a wrong URL rather than at the first request.
  const probe = await pool.connect();
  probe.release();
  const named = opts.namedStatements ?? true;
  const base = wrap(pool, named);
  let closing: Promise<void> | undefined;
  return {
    kind: 'postgres',
    query: base.query,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const out = await fn(wrap(client, named));
        await client.query('COMMIT');
        return out;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        // A client whose ROLLBACK failed is in an unknown state: destroy it.
        client.release(broken);
      }
    },
    close() {
      // Idempotent: shutdown paths may close twice.
      closing ??= pool.end();
      return closing;
    },
  };
}
