// `tddui serve` started the way people start it: it says what it is doing from its first
// instant, and `kill -TERM` of the npm launcher (npx tddui serve, npm exec) stops the server —
// which kept listening before, re-parented to init (see launcher.ts). Real processes: npm,
// its shell, the server, real HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT, SHARED_FHIR } from '../testing/paths.js';
import { findLauncher, launchedByNpm, type ProcessInfo } from './launcher.js';

const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const SERVE = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} serve --port 0 --data memory:// --packages ${JSON.stringify(SHARED_FHIR)}`;

/** The environment without npm's variables (the tests may themselves run under `npm test`). */
function plainEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
}

interface Started {
  launcher: ChildProcess;
  /** The server's own pid, from its first line. */
  pid: number;
  port: number;
  stderr: () => string;
  stdout: () => string;
  /** Milliseconds from the spawn to the first line on standard error, and to the URL line. */
  firstLineMs: number;
  listeningMs: number;
}

/** Starts `command` through `sh -c` (as npm does), waits for the server's URL. */
async function start(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Started> {
  const t0 = performance.now();
  const launcher = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  let firstLineMs = -1;
  let listeningMs = -1;
  launcher.stderr!.on('data', (c) => {
    if (firstLineMs < 0) firstLineMs = performance.now() - t0;
    err += c;
  });
  launcher.stdout!.on('data', (c) => (out += c));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed; stdout: ${out}; stderr: ${err}`)), 60_000);
    const check = () => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        listeningMs = performance.now() - t0;
        resolve(Number(m[1]));
      }
    };
    launcher.stdout!.on('data', check);
    launcher.on('exit', (code) => reject(new Error(`launcher exited (${code}) before listening: ${err}`)));
  });
  const pid = Number(/starting \(pid (\d+)/.exec(err)?.[1]);
  assert.ok(pid > 0, err);
  return { launcher, pid, port, stderr: () => err, stdout: () => out, firstLineMs, listeningMs };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function waitUntil(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

/** Ends whatever a test left running (by pid: the process group of the launcher, then the server). */
function cleanUp(s: Started | undefined): void {
  if (!s) return;
  for (const kill of [() => process.kill(-s.launcher.pid!, 'SIGKILL'), () => process.kill(s.pid, 'SIGKILL')]) {
    try {
      kill();
    } catch {
      // already gone
    }
  }
}

test('tddui serve says what it does from the start: loading, database and migrations, packages, listening', async () => {
  let s: Started | undefined;
  try {
    s = await start(process.execPath, [CLI, 'serve', '--port', '0', '--data', 'memory://', '--packages', SHARED_FHIR], plainEnv());
    // Standard error is another pipe: its last lines may arrive after the URL on standard output.
    assert.ok(await waitUntil(() => /ready in/.test(s!.stderr()), 10_000));
    const lines = s.stderr().trim().split('\n');
    assert.match(lines[0]!, /^tddui serve: starting \(pid \d+, Node v\d+\.\d+\.\d+\): loading the server…$/);
    for (const re of [/opening the embedded database in memory:\/\/ and applying pending migrations…/, /database ready \(\d+\.\d s\)/, /loading the FHIR packages \(.*\) and compiling the profiles…/, /FHIR packages loaded \(\d+\.\d s\)/, /starting the HTTP server on 127\.0\.0\.1:0…/, /ready in \d+\.\d s/]) {
      assert.ok(lines.some((l) => re.test(l)), `${re} in:\n${s.stderr()}`);
    }
    // The first line comes before the server code is even loaded, long before the server is up.
    assert.ok(s.firstLineMs >= 0 && s.firstLineMs < s.listeningMs, `first line after ${Math.round(s.firstLineMs)} ms, URL after ${Math.round(s.listeningMs)} ms`);
    process.kill(s.pid, 'SIGTERM');
    assert.ok(await waitUntil(() => !alive(s!.pid), 15_000));
  } finally {
    cleanUp(s);
  }
});

for (const how of ['SIGTERM', 'SIGKILL'] as const) {
  test(`kill -${how.slice(3)} of the npm launcher (npm exec, as npx) stops the server, which stops cleanly`, async () => {
    let s: Started | undefined;
    try {
      // `npm exec --call` runs the command as `npx tddui serve` runs the bin: npm → sh -c → node.
      s = await start('npm', ['exec', '--yes', '--call', SERVE], process.env);
      assert.ok(await listening(s.port));
      assert.ok(alive(s.pid));
      assert.ok(await waitUntil(() => /started by npm \(pid \d+\): stopping when it ends/.test(s!.stderr()), 5000), s.stderr());
      // SIGTERM: npm passes it to its shell, which dies without passing it on. SIGKILL: npm
      // itself vanishes, the shell stays. Either way the server must go.
      process.kill(s.launcher.pid!, how);
      assert.ok(await waitUntil(async () => !alive(s!.pid) && !(await listening(s!.port)), 15_000), `server still running:\n${s.stderr()}`);
      const why = /(its parent process \d+ ended|the npm launcher \(pid \d+\) ended|process \d+ between npm and this server ended): shutting down/;
      assert.ok(await waitUntil(() => why.test(s!.stderr()), 5000), s.stderr());
      // A clean shutdown, logged (the JSON log line of pino) with its reason.
      const logged = () =>
        s!
          .stdout()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .some((l) => {
            const j = JSON.parse(l) as { msg?: string; signal?: string; reason?: string };
            return j.msg === 'shutting down' && j.signal === 'launcher-exit' && !!j.reason;
          });
      assert.ok(await waitUntil(logged, 5000), s.stdout());
    } finally {
      cleanUp(s);
    }
  });
}

test('outside npm, a server outlives its parent shell (nohup semantics kept); SIGTERM stops it', async () => {
  let s: Started | undefined;
  try {
    s = await start('sh', ['-c', `${SERVE}; true`], plainEnv());
    process.kill(s.launcher.pid!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(alive(s.pid) && (await listening(s.port)), 'the server stopped with its parent shell');
    process.kill(s.pid, 'SIGTERM');
    assert.ok(await waitUntil(() => !alive(s!.pid), 15_000));
  } finally {
    cleanUp(s);
  }
});

test('the launcher is found among the ancestors only under npm', () => {
  const procs: Record<number, ProcessInfo> = {
    100: { state: 'S', ppid: 90, start: '5', command: 'sh -c tddui serve' },
    90: { state: 'S', ppid: 1, start: '4', command: 'npm exec tddui serve' },
    80: { state: 'S', ppid: 1, start: '3', command: 'node /usr/lib/node_modules/npm/bin/npm-cli.js run serve' },
    70: { state: 'S', ppid: 1, start: '2', command: 'bash' },
  };
  const read = (pid: number) => procs[pid];
  assert.equal(launchedByNpm({}), false);
  assert.equal(launchedByNpm({ npm_command: 'exec' }), true);
  assert.equal(launchedByNpm({ npm_lifecycle_event: 'serve' }), true);
  assert.deepEqual(findLauncher({ npm_command: 'exec' }, 100, read), { pid: 90, command: 'npm exec tddui serve', chain: [{ pid: 100, start: '5' }, { pid: 90, start: '4' }] });
  assert.equal(findLauncher({}, 100, read), undefined);
  assert.equal(findLauncher({ npm_lifecycle_event: 'serve', npm_execpath: '/usr/lib/node_modules/npm/bin/npm-cli.js' }, 80, read)?.pid, 80);
  // No npm among the ancestors (a shell started under npm's environment): nothing to follow.
  assert.equal(findLauncher({ npm_command: 'exec' }, 70, read), undefined);
});
