// Test support: a throw-away PostgreSQL primary and a streaming replica of it, each a real
// `postgres` process on its own port, in a temporary folder (initdb, then pg_basebackup -R).
//
// A primary of its own rather than the machine's shared cluster: the shared one's pg_hba.conf
// does not allow replication connections, and changing it would touch every other user of that
// cluster. PostgreSQL refuses to run as root: as root the programs run as the `postgres` user
// (runuser), which owns the folder.
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The folder of the PostgreSQL programs: $TDDUI_PG_BIN, else the newest /usr/lib/postgresql/N/bin. */
export function postgresBin(): string | undefined {
  const needed = ['initdb', 'pg_ctl', 'pg_basebackup', 'postgres'];
  const has = (dir: string) => needed.every((p) => existsSync(join(dir, p)));
  if (process.env.TDDUI_PG_BIN) return has(process.env.TDDUI_PG_BIN) ? process.env.TDDUI_PG_BIN : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (has(join(root, v, 'bin'))) return join(root, v, 'bin');
  return undefined;
}

/** Why a cluster cannot be made here (undefined: it can). */
export function clusterUnavailable(): string | undefined {
  if (!postgresBin()) return 'the PostgreSQL server programs (initdb, pg_ctl, pg_basebackup, postgres) are not installed (/usr/lib/postgresql/*/bin or $TDDUI_PG_BIN)';
  if (process.getuid?.() === 0 && !postgresUser()) return 'running as root and there is no "postgres" user to run PostgreSQL as';
  return undefined;
}

function postgresUser(): { uid: number; gid: number } | undefined {
  const r = spawnSync('id', ['postgres'], { encoding: 'utf8' });
  const m = /uid=(\d+).*gid=(\d+)/.exec(r.stdout ?? '');
  return m ? { uid: Number(m[1]), gid: Number(m[2]) } : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface PgNode {
  port: number;
  dir: string;
  /** postgres://postgres@127.0.0.1:<port>/<db> */
  url: string;
  running: boolean;
}

export interface ReplicatedCluster {
  primary: PgNode;
  replica: PgNode;
  /** Stops the replica (fast shutdown). */
  stopReplica(): Promise<void>;
  /** Pauses / resumes WAL replay on the replica (it keeps serving reads of what it has). */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Waits until the replica has replayed everything the primary has written so far. */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** Stops both and removes the folder. */
  destroy(): Promise<void>;
}

async function sql<R>(url: string, text: string): Promise<R[]> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return (await c.query(text)).rows as R[];
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Starts a primary (database `db`) and one streaming replica of it. Bounded: each step has a
 * time-out (pg_ctl -t), the whole usually takes 3–6 s.
 */
export async function startReplicatedCluster(db = 'tddui'): Promise<ReplicatedCluster> {
  const why = clusterUnavailable();
  if (why) throw new Error(why);
  const bin = postgresBin()!;
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  const root = mkdtempSync(join(tmpdir(), 'tddui-pgrepl-'));
  // The postgres user writes its logs and sockets here.
  chmodSync(root, 0o755);
  if (owner) chownSync(root, owner.uid, owner.gid);
  const run = (prog: string, args: string[], timeoutMs = 60_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const [cmd, argv] = owner ? ['runuser', ['-u', 'postgres', '--', join(bin, prog), ...args]] : [join(bin, prog), args];
      execFile(cmd, argv, { timeout: timeoutMs, encoding: 'utf8', cwd: root }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${prog} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
  const mkdir = (dir: string) => {
    mkdirSync(dir, { mode: 0o700 });
    if (owner) chownSync(dir, owner.uid, owner.gid);
  };
  const [pPort, rPort] = [await freePort(), await freePort()];
  const node = (name: string, port: number): PgNode => ({ port, dir: join(root, name), url: `postgres://postgres@127.0.0.1:${port}/${db}`, running: false });
  const primary = node('primary', pPort);
  const replica = node('replica', rPort);
  const started: PgNode[] = [];
  const stop = async (n: PgNode) => {
    if (!n.running) return;
    n.running = false;
    await run('pg_ctl', ['-D', n.dir, '-m', 'fast', '-w', '-t', '30', 'stop']).catch(() => run('pg_ctl', ['-D', n.dir, '-m', 'immediate', '-w', '-t', '30', 'stop']).catch(() => undefined));
  };
  // A test process that ends without destroy() (an uncaught error) leaves no server behind.
  const onExit = () => {
    for (const n of started) {
      if (!n.running) continue;
      const argv = ['-D', n.dir, '-m', 'immediate', '-w', '-t', '10', 'stop'];
      if (owner) spawnSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), ...argv], { timeout: 15_000 });
      else spawnSync(join(bin, 'pg_ctl'), argv, { timeout: 15_000 });
    }
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const destroy = async () => {
    process.removeListener('exit', onExit);
    for (const n of [...started].reverse()) await stop(n);
    rmSync(root, { recursive: true, force: true });
  };
  const start = async (n: PgNode) => {
    await run('pg_ctl', ['-D', n.dir, '-l', join(root, `${n === primary ? 'primary' : 'replica'}.log`), '-w', '-t', '60', 'start']);
    n.running = true;
    started.push(n);
  };
  try {
    mkdir(primary.dir);
    // trust on local and 127.0.0.1, replication connections included (initdb's own pg_hba.conf).
    await run('initdb', ['-D', primary.dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    const settings = [
      `port = ${pPort}`,
      `listen_addresses = '127.0.0.1'`,
      `unix_socket_directories = '${root}'`,
      'wal_level = replica',
      'max_wal_senders = 4',
      'max_connections = 40',
      'shared_buffers = 16MB',
      // A throw-away cluster: no durability work.
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      'autovacuum = off',
    ];
    appendFileSync(join(primary.dir, 'postgresql.conf'), `\n${settings.join('\n')}\n`);
    await start(primary);
    await sql(`postgres://postgres@127.0.0.1:${pPort}/postgres`, `CREATE DATABASE ${db}`);
    mkdir(replica.dir);
    // -R: standby.signal and primary_conninfo; fast checkpoint: no wait for the next one.
    await run('pg_basebackup', ['-h', '127.0.0.1', '-p', String(pPort), '-U', 'postgres', '-D', replica.dir, '-R', '-X', 'stream', '--checkpoint=fast', '--no-sync']);
    appendFileSync(join(replica.dir, 'postgresql.auto.conf'), `\nport = ${rPort}\nhot_standby = on\n`);
    await start(replica);
    const cluster: ReplicatedCluster = {
      primary,
      replica,
      stopReplica: () => stop(replica),
      async pauseReplay() {
        await sql(replica.url, 'SELECT pg_wal_replay_pause()');
        for (let i = 0; i < 100; i++) {
          const [s] = await sql<{ state: string }>(replica.url, 'SELECT pg_get_wal_replay_pause_state() AS state');
          if (s?.state === 'paused') return;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error('the replica did not pause its replay');
      },
      async resumeReplay() {
        await sql(replica.url, 'SELECT pg_wal_replay_resume()');
      },
      async caughtUp(timeoutMs = 15_000) {
        // The insert position: under synchronous_commit = off (below) the write position may be
        // before the last commit record.
        const [p] = await sql<{ lsn: string }>(primary.url, 'SELECT pg_current_wal_insert_lsn()::text AS lsn');
        const start = Date.now();
        const deadline = start + timeoutMs;
        let nudged = false;
        while (Date.now() < deadline) {
          const [r] = await sql<{ ok: boolean }>(replica.url, `SELECT pg_last_wal_replay_lsn() >= '${p!.lsn}'::pg_lsn AS ok`);
          if (r?.ok) return;
          // An insert position just past a page header is reached only by a next record.
          if (!nudged && Date.now() - start > 1000) {
            nudged = true;
            await sql(primary.url, 'SELECT txid_current()');
          }
          await new Promise((res) => setTimeout(res, 50));
        }
        throw new Error(`the replica did not replay up to ${p!.lsn} within ${timeoutMs} ms`);
      },
      destroy,
    };
    // The replica is a hot standby that has the database.
    await cluster.caughtUp(30_000);
    return cluster;
  } catch (err) {
    await destroy();
    throw err;
  }
}
