// PostgreSQL driver over a `pg` Pool. Transactions run on one pooled client each.
import { createRequire } from 'node:module';
import pg from 'pg';
import { Utf8Text, type Database, type Queryable, type QueryOptions } from '../types.js';
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
  // A Utf8Text's bytes go as they are: pg sends a Buffer as a binary-format parameter (D-328).
  return params.map((v) => (Array.isArray(v) ? (arrayLiteral(v) ?? v) : v instanceof Utf8Text ? v.bytes : v));
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
  if (!params || !params.some((v) => Array.isArray(v) && v.length > LARGE_ARRAY)) return params;
  const out: unknown[] = [];
  for (const v of params) {
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
 * connection, which names it has prepared, and sends Parse only the first time). At most
 * MAX_NAMED texts are named — each is a prepared statement, with its plan, in every connection's
 * backend — the texts past that go unnamed, as before. A Bundle's write statement has one text per
 * shape (which tables get rows, whether versions are replaced, which extra statements), so a
 * server sees a few dozen at most.
 */
const statementNames = new Map<string, string>();
export const MAX_NAMED = 100;

/** The name of a reused statement text, or undefined past MAX_NAMED texts. */
export function statementName(sql: string): string | undefined {
  let name = statementNames.get(sql);
  if (name === undefined && statementNames.size < MAX_NAMED) {
    name = `tddui_s${statementNames.size + 1}`;
    statementNames.set(sql, name);
  }
  return name;
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
