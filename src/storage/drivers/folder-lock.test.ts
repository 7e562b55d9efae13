// One process per embedded data folder (issue 21): a second opener — in this process, another
// process, or a second `tddui serve` started at the same instant — is refused with a clear
// error and never opens the files; a lock left by a killed process is taken over; the files
// are private to the user.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openRepository } from '../index.js';
import { EXAMPLES_DIR, REPO_ROOT, SHARED_FHIR } from '../../testing/paths.js';
import { FolderLockedError, isLocked, LOCK_FILE } from './folder-lock.js';

const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const bundle = readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-bundle-example.json'), 'utf8');

function modes(dir: string): { path: string; mode: number; dir: boolean }[] {
  const out: { path: string; mode: number; dir: boolean }[] = [];
  const walk = (d: string) => {
    const s = statSync(d);
    out.push({ path: d, mode: s.mode & 0o777, dir: true });
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push({ path: p, mode: statSync(p).mode & 0o777, dir: false });
    }
  };
  walk(dir);
  return out;
}

/** `tddui serve` on a folder: resolves with its URL once listening, or its exit code and standard error. */
function serve(dir: string): { result: Promise<{ url?: string; code?: number | null; err: string }>; kill(): Promise<void> } {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data', dir, '--packages', SHARED_FHIR, '--log-level', 'silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  child.stderr.on('data', (c) => (err += c));
  const result = new Promise<{ url?: string; code?: number | null; err: string }>((resolve) => {
    child.stdout.on('data', (c) => {
      out += c;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve({ url: m[1]!, err });
    });
    void exited.then((code) => resolve({ code, err }));
  });
  return {
    result,
    async kill() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('one process per embedded data folder', { concurrency: false }, () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'tddui-lock-'));
    dirs.push(d);
    return join(d, 'data');
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('refuses a second open of the folder in the same process; the lock goes with close(); files are 0600, folders 0700', async () => {
    const dir = tmp();
    const a = await openRepository({ dataDir: dir });
    try {
      await a.create({ resourceType: 'Patient', name: [{ family: 'Verrou' }] });
      await assert.rejects(openRepository({ dataDir: dir }), (e: unknown) => e instanceof FolderLockedError && /already in use by process \d+/.test((e as Error).message));
      assert.equal(statSync(dir).mode & 0o777, 0o700, 'the folder is private: nothing inside is reachable by another user');
    } finally {
      await a.close();
    }
    assert.deepEqual(modes(dir).filter((f) => f.mode !== (f.dir ? 0o700 : 0o600)), [], 'at rest, every file 0600 and folder 0700');
    assert.equal(isLocked(dir), false, 'the lock file is removed on close');
    const b = await openRepository({ dataDir: dir });
    assert.equal((await b.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient'`)).rows[0]!.n, 1);
    await b.close();
  });

  it('takes over a lock left by a process that is gone (kill -9), or by a pid now reused by another process', async () => {
    const dir = tmp();
    const first = await openRepository({ dataDir: dir });
    await first.close();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid, host: hostname(), since: '2026-01-01T00:00:00Z' }), { mode: 0o600 });
    const a = await openRepository({ dataDir: dir });
    await a.close();
    // The parent process is alive, but it started at another time than the lock says.
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: hostname(), start: '1', since: '2026-01-01T00:00:00Z' }), { mode: 0o600 });
    const b = await openRepository({ dataDir: dir });
    await b.close();
    // A live owner (this test's parent, no start time recorded) is respected.
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: hostname(), since: '2026-01-01T00:00:00Z' }), { mode: 0o600 });
    await assert.rejects(openRepository({ dataDir: dir }), FolderLockedError);
    rmSync(join(dir, LOCK_FILE));
  });

  it('a second `tddui serve --data DIR` exits with a clear error while the first runs; two started at once: exactly one serves, and its acknowledged writes are all there after a restart', async () => {
    const dir = tmp();
    const one = await openRepository({ dataDir: dir });
    try {
      const second = serve(dir);
      const r = await second.result;
      assert.equal(r.url, undefined, 'the second process must not listen');
      assert.equal(r.code, 1);
      assert.match(r.err, new RegExp(`already in use by process ${process.pid}`));
    } finally {
      await one.close();
    }

    const a = serve(dir);
    const b = serve(dir);
    const [ra, rb] = await Promise.all([a.result, b.result]);
    try {
      const up = [ra, rb].filter((r) => r.url);
      assert.equal(up.length, 1, `exactly one serves: ${ra.err} | ${rb.err}`);
      assert.match([ra, rb].find((r) => !r.url)!.err, /already in use by process \d+/);
      const url = up[0]!.url!;
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${url}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: bundle });
        assert.equal(res.status, 200);
      }
    } finally {
      await a.kill();
      await b.kill();
    }
    const after = await openRepository({ dataDir: dir });
    try {
      const n = await after.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM submission WHERE outcome = 'accepted'`);
      assert.equal(n.rows[0]!.n, 4, 'every acknowledged submission is on disk');
      const p = await after.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient'`);
      assert.equal(p.rows[0]!.n, 1, 'the usager is there, once (identical resends write no new version)');
    } finally {
      await after.close();
    }
  });
});
