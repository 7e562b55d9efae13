// Reads on PostgreSQL streaming replicas (issue 19, D-220..D-222).
//
// Writes always go to the primary (`repo.db`). Read-only work that a request asks for — reads,
// searches, history, the submissions log, the web UI's pages and indicators — asks
// `repo.reader()` for a database, which is a replica when one is healthy and has replayed the
// last write of the client asking (read-your-writes), else the primary.
//
// Who "the client" is, and whether a replica may serve it, comes from the request context
// (`runInReadContext`, an AsyncLocalStorage entered by the HTTP server for each request): the
// token's subject when the server checks tokens, else the client's address (behind a proxy with
// --trust-proxy, the forwarded one). Outside a request context — background workers (the
// notification dispatcher, the export runner, reviews falling due), start-up, the CLI — every
// read goes to the primary: those loops read what they just wrote and must not act on a stale
// copy.
//
// Read-your-writes: after a request that may have written (any method but GET/HEAD), the server
// asks the primary for `pg_current_wal_insert_lsn()` — at or past the commit record of every
// transaction committed before it, even under synchronous_commit = off — and remembers it for
// that client. A replica serves that
// client again only once its `pg_last_wal_replay_lsn()` is at or past it: known from the last
// health check, else asked right then (one round trip), else the read goes to the primary.
//
// Health: every replica is probed every `healthMs` (`pg_is_in_recovery()`, replay position).
// One that fails two probes in a row, or fails a read with a connection error, is out until a
// probe succeeds; its reads are retried on the primary, so a replica going down costs no failed
// request.
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import type { Database, Queryable } from './types.js';

/** What the request being served tells the router. */
export interface ReadContext {
  /** The client's key (token subject, else address); read lazily, after authentication. */
  client(): string | undefined;
  /**
   * Whether a replica may serve it: reading requests only (GET, HEAD, POST _search). A request
   * that writes reads the primary throughout — what it reads decides what it writes.
   */
  readOnly: boolean;
  /** False once the response has left: work a request started and left running reads the primary. */
  open: boolean;
}

const contexts = new AsyncLocalStorage<ReadContext>();

/** Runs `fn` (and what it starts) as serving the request described by `ctx`. */
export function runInReadContext<T>(ctx: ReadContext, fn: () => T): T {
  return contexts.run(ctx, fn);
}

/** The client of the request being served, while it is open. */
function currentClient(): string | undefined {
  const ctx = contexts.getStore();
  return ctx?.open ? ctx.client() : undefined;
}

/** `16/B374D848` → a comparable number. */
export function parseLsn(text: string | null | undefined): bigint | undefined {
  const m = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text ?? '');
  return m ? (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`) : undefined;
}

export interface ReadReplicaOptions {
  /** Health probe period (default 1000 ms). */
  healthMs?: number;
  /** Connection time-out of a replica (default 2000 ms): an unreachable one costs at most this once. */
  connectTimeoutMs?: number;
  /** Pool size per replica (default 10). */
  max?: number;
  /** Clients whose last write is remembered (default 100,000; the oldest are forgotten first). */
  maxClients?: number;
  /** Told when a replica goes out of service or comes back. */
  onChange?: (replica: ReplicaStatus) => void;
}

export interface ReplicaStatus {
  /** The URL without its password. */
  url: string;
  up: boolean;
  /** Replay position at the last probe (`pg_last_wal_replay_lsn()`). */
  replayLsn?: string;
  /** Why it is out, when it is. */
  error?: string;
  /** Reads it served since start. */
  reads: number;
}

interface Replica {
  url: string;
  pool: pg.Pool;
  up: boolean;
  replay: bigint;
  replayText?: string;
  error?: string;
  reads: number;
  /** Probes failed in a row. */
  strikes: number;
  /** Out of service until it has replayed this far (set when it is found up again). */
  catchUpTo?: bigint;
}

/**
 * What a failed read on a replica means: `down` (take it out, retry on the primary), `retry`
 * (retry on the primary only), undefined (the read's own error: no retry).
 */
export function replicaFailure(err: unknown): 'down' | 'retry' | undefined {
  const code = String((err as { code?: unknown })?.code ?? '');
  // A query cancelled by a recovery conflict (a standby replaying a change under it).
  if (code === '40001' || code === '40P01') return 'retry';
  // Connection refused / reset / time-outs (Node), connection exceptions (08), operator
  // intervention (57: shutdown, cannot connect now), and the pool's own errors (no code).
  if (/^(ECONN|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)/.test(code)) return 'down';
  if (/^(08|57)/.test(code)) return 'down';
  if (code === '') {
    const msg = String((err as Error)?.message ?? '');
    return /terminat|timeout|connect|closed|ended/i.test(msg) ? 'down' : undefined;
  }
  return undefined;
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<R>(sql: string, params?: readonly unknown[]) {
      const res = await client.query(sql, params as unknown[] | undefined);
      return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
    },
  };
}

/** The primary plus its read replicas: `reader()` picks where a read goes. */
export class ReadReplicas {
  private readonly replicas: Replica[];
  private readonly lastWrite = new Map<string, bigint>();
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;
  private closed = false;
  /** Reads the primary served because no replica could (down, or behind the client's write). */
  primaryReads = 0;

  constructor(
    private readonly primary: Database,
    urls: readonly string[],
    private readonly opts: ReadReplicaOptions = {},
  ) {
    if (primary.kind !== 'postgres') throw new Error('read replicas need PostgreSQL (--database postgres://…): the embedded database has no replicas');
    this.replicas = urls.map((url) => {
      if (!/^postgres(ql)?:\/\//.test(url)) throw new Error(`Unsupported read database URL "${redact(url)}" (expected postgres://…)`);
      const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, connectionTimeoutMillis: opts.connectTimeoutMs ?? 2000 });
      // An idle client of a replica that goes away must not crash the process.
      pool.on('error', () => undefined);
      return { url, pool, up: false, replay: -1n, reads: 0, strikes: 0 };
    });
  }

  /** First probe of every replica (one that is down is not fatal: it is probed again), then the timer. */
  async start(): Promise<void> {
    await this.probe();
    this.timer = setInterval(() => void this.probe(), this.opts.healthMs ?? 1000);
    this.timer.unref();
  }

  status(): ReplicaStatus[] {
    return this.replicas.map((r) => ({ url: redact(r.url), up: r.up, reads: r.reads, ...(r.replayText ? { replayLsn: r.replayText } : {}), ...(r.error ? { error: r.error } : {}) }));
  }

  /** Probes every replica once (concurrent calls share one round). */
  probe(): Promise<void> {
    this.probing ??= Promise.all(this.replicas.map((r) => this.probeOne(r))).then(() => {
      this.probing = undefined;
      this.forgetReplayed();
    });
    return this.probing;
  }

  private async probeOne(r: Replica): Promise<void> {
    if (this.closed) return;
    try {
      const res = await r.pool.query<{ lsn: string | null }>(
        // A standby's replay position; a server that is not (or no longer) a standby has every
        // write it knows of.
        `SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text AS lsn`,
      );
      this.setReplay(r, res.rows[0]?.lsn ?? null);
      r.strikes = 0;
      if (!r.up) {
        // Back, or first seen: in service once it has replayed what the primary had written
        // then — clients whose writes the other replicas had replayed were forgotten meanwhile,
        // and must not read an older copy here. (The write position: every forgotten write was
        // written and sent already.)
        if (r.catchUpTo === undefined) {
          const p = await this.primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
          r.catchUpTo = parseLsn(p.rows[0]?.lsn) ?? 0n;
        }
        if (r.replay < r.catchUpTo) {
          r.error = 'catching up with the primary';
          return;
        }
        r.catchUpTo = undefined;
      }
      this.setUp(r, true);
    } catch (err) {
      // One slow probe on a loaded machine does not take a replica out; two in a row do (a
      // read that fails to connect takes it out at once).
      if (++r.strikes >= 2 || !r.up) this.setUp(r, false, (err as Error).message);
    }
  }

  private setReplay(r: Replica, text: string | null): void {
    const lsn = parseLsn(text);
    if (lsn !== undefined && lsn > r.replay) {
      r.replay = lsn;
      r.replayText = text!;
    }
  }

  private setUp(r: Replica, up: boolean, error?: string): void {
    const changed = r.up !== up;
    r.up = up;
    if (up) delete r.error;
    else {
      r.error = error ?? 'unreachable';
      delete r.catchUpTo;
    }
    if (changed && !this.closed) this.opts.onChange?.(this.status()[this.replicas.indexOf(r)]!);
  }

  /** Drops the clients every healthy replica has caught up with. */
  private forgetReplayed(): void {
    const up = this.replicas.filter((r) => r.up);
    if (!up.length) return;
    const min = up.reduce((m, r) => (r.replay < m ? r.replay : m), up[0]!.replay);
    for (const [client, lsn] of this.lastWrite) if (lsn <= min) this.lastWrite.delete(client);
  }

  /**
   * Remembers the primary's WAL position for the current request's client, after it wrote.
   * Called before the response leaves, so its next request sees it.
   */
  async noteWrite(client = currentClient()): Promise<void> {
    if (client === undefined || this.closed) return;
    // The insert position, not the write position: under synchronous_commit = off a commit
    // record may not be written yet when the answer leaves.
    const res = await this.primary.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    const lsn = parseLsn(res.rows[0]?.lsn);
    if (lsn === undefined) return;
    this.lastWrite.delete(client);
    this.lastWrite.set(client, lsn);
    const max = this.opts.maxClients ?? 100_000;
    // Forgotten clients may read a copy a few milliseconds old; the map stays bounded.
    while (this.lastWrite.size > max) this.lastWrite.delete(this.lastWrite.keys().next().value!);
  }

  /**
   * Waits up to `ms` for a replica in service to replay `client`'s last write (background work
   * that may as well wait a moment rather than load the primary); true when one has.
   */
  async waitForReplay(client: string, ms: number): Promise<boolean> {
    const needed = this.lastWrite.get(client);
    if (needed === undefined) return true;
    const deadline = Date.now() + ms;
    for (;;) {
      for (const r of this.replicas) {
        if (!r.up) continue;
        try {
          const res = await r.pool.query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn');
          this.setReplay(r, res.rows[0]?.lsn ?? null);
        } catch {
          continue;
        }
        if (r.replay >= needed) return true;
      }
      if (Date.now() >= deadline || this.closed) return false;
      await new Promise((res) => setTimeout(res, 25));
    }
  }

  /** The position a replica must have replayed to serve `client` (undefined: any). */
  writeOf(client: string): bigint | undefined {
    return this.lastWrite.get(client);
  }

  /**
   * Where the current read goes: a healthy replica that has replayed the client's last write
   * (round robin), else the primary. Outside a request, the primary.
   */
  async reader(): Promise<Database> {
    const ctx = contexts.getStore();
    if (!ctx?.open || !ctx.readOnly || this.closed) return this.primary;
    const client = ctx.client();
    const needed = client === undefined ? undefined : this.lastWrite.get(client);
    const n = this.replicas.length;
    const start = this.next++ % n;
    const candidates: Replica[] = [];
    for (let i = 0; i < n; i++) {
      const r = this.replicas[(start + i) % n]!;
      if (!r.up) continue;
      if (needed === undefined || r.replay >= needed) return this.bound(r);
      candidates.push(r);
    }
    // Behind the client's last write at the last probe: ask the first healthy one now.
    for (const r of candidates.slice(0, 1)) {
      try {
        const res = await r.pool.query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn');
        this.setReplay(r, res.rows[0]?.lsn ?? null);
        if (r.replay >= needed!) return this.bound(r);
      } catch (err) {
        if (replicaFailure(err) === 'down') this.setUp(r, false, (err as Error).message);
      }
    }
    this.primaryReads++;
    return this.primary;
  }

  /** A read-only Database on replica `r`, falling back to the primary if `r` fails. */
  private bound(r: Replica): Database {
    const fallback = <T>(err: unknown, again: () => Promise<T>): Promise<T> => {
      const kind = replicaFailure(err);
      if (!kind) throw err;
      if (kind === 'down') this.setUp(r, false, (err as Error).message);
      this.primaryReads++;
      return again();
    };
    const primary = this.primary;
    return {
      kind: 'postgres',
      async query<R>(sql: string, params?: readonly unknown[]) {
        r.reads++;
        try {
          return await wrap(r.pool).query<R>(sql, params);
        } catch (err) {
          return fallback(err, () => primary.query<R>(sql, params));
        }
      },
      async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
        r.reads++;
        let client: pg.PoolClient;
        try {
          client = await r.pool.connect();
        } catch (err) {
          return fallback(err, () => primary.transaction(fn));
        }
        let broken = false;
        try {
          // Read-only: a write that slipped in here fails the same way on every deployment.
          await client.query('BEGIN READ ONLY');
          const out = await fn(wrap(client));
          await client.query('COMMIT');
          return out;
        } catch (err) {
          try {
            await client.query('ROLLBACK');
          } catch {
            broken = true;
          }
          // fn only read: it can run again, whole, on the primary.
          return fallback(err, () => primary.transaction(fn));
        } finally {
          client.release(broken);
        }
      },
      close: async () => undefined,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.probing?.catch(() => undefined);
    await Promise.all(this.replicas.map((r) => r.pool.end().catch(() => undefined)));
  }
}
