// When `tddui serve` is started through npm (`npx tddui serve`, `npm exec`, `npm run …`), the
// process an operator or a supervisor sees and signals is npm's, not ours:
//
//   npm exec tddui serve        ← the "launcher": `kill -TERM` goes here
//    └─ sh -c 'tddui' serve      (npm runs every bin through a shell)
//        └─ node …/tddui serve   ← this process, listening on the port
//
// npm passes SIGTERM on to the shell only, and the shell dies without passing it to its child,
// so the server was left running, re-parented to init, still holding the port (reproduced with
// npm 11.19 and dash). A signal cannot be made to reach us, but the launcher's end can be seen:
// this module finds the npm process among our ancestors and watches it and the processes in
// between; when one of them is gone, the caller shuts down as on SIGTERM.
//
// Only under npm (its `npm_*` environment): a server started by a shell, a service manager or
// `nohup … &` keeps running when its parent goes, as before. Linux reads /proc; elsewhere only
// a change of our parent (the shell's end) is seen.
import { readFileSync } from 'node:fs';

export interface ProcessInfo {
  ppid: number;
  /** R, S, D… ; Z: ended, not yet reaped by its parent (a zombie counts as gone). */
  state: string;
  /** Start time (clock ticks since boot): tells a pid's process from a later one reusing the pid. */
  start: string;
  /** Command line, NUL-separated arguments joined by spaces. */
  command: string;
}

/** /proc/<pid>/stat and cmdline (Linux); undefined when the process is gone or /proc is absent. */
export function readProc(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid … starttime": comm may hold spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return { state: fields[0] ?? '', ppid: Number(fields[1]), start: fields[19] ?? '', command };
  } catch {
    return undefined;
  }
}

/** Started by npm: npx and `npm exec` set npm_command=exec, `npm run` sets npm_lifecycle_event. */
export function launchedByNpm(env: NodeJS.ProcessEnv): boolean {
  return env.npm_command === 'exec' || env.npm_command === 'run-script' || env.npm_command === 'run' || env.npm_lifecycle_event !== undefined;
}

/** npm's process title ("npm exec tddui serve", "npm run serve") or its CLI script on the command line. */
function isNpm(command: string, env: NodeJS.ProcessEnv): boolean {
  if (/^npm( |$)/.test(command) || /(^|\/)npx( |$)/.test(command)) return true;
  return !!env.npm_execpath && command.includes(env.npm_execpath);
}

export interface Launcher {
  /** The npm process. */
  pid: number;
  command: string;
  /** Our ancestors up to and including npm, nearest first, each with its start time. */
  chain: { pid: number; start: string }[];
}

/** The npm process among our first `maxDepth` ancestors, with the processes in between. */
export function findLauncher(env: NodeJS.ProcessEnv = process.env, ppid = process.ppid, read = readProc, maxDepth = 4): Launcher | undefined {
  if (!launchedByNpm(env)) return undefined;
  const chain: { pid: number; start: string }[] = [];
  let pid = ppid;
  for (let depth = 0; depth < maxDepth && pid > 1; depth++) {
    const info = read(pid);
    if (!info) return undefined;
    chain.push({ pid, start: info.start });
    if (isNpm(info.command, env)) return { pid, command: info.command, chain };
    pid = info.ppid;
  }
  return undefined;
}

/**
 * Calls `onGone` once when the launcher or a process between it and us ends (or, without
 * /proc, when our parent changes). Returns a function that stops watching. The timer does not
 * keep the process alive.
 */
export function watchLauncher(
  onGone: (why: string) => void,
  options: { env?: NodeJS.ProcessEnv; intervalMs?: number; read?: typeof readProc; onFound?: (l: Launcher | undefined) => void } = {},
): () => void {
  const env = options.env ?? process.env;
  if (!launchedByNpm(env)) return () => undefined;
  const read = options.read ?? readProc;
  const parent = process.ppid;
  const launcher = findLauncher(env, parent, read);
  options.onFound?.(launcher);
  const timer = setInterval(() => {
    let why: string | undefined;
    if (process.ppid !== parent) why = `its parent process ${parent} ended`;
    else if (launcher) {
      const gone = launcher.chain.find((p) => {
        const now = read(p.pid);
        return !now || now.start !== p.start || now.state === 'Z' || now.state === 'X';
      });
      if (gone) why = gone.pid === launcher.pid ? `the npm launcher (pid ${launcher.pid}) ended` : `process ${gone.pid} between npm and this server ended`;
    }
    if (why) {
      clearInterval(timer);
      onGone(why);
    }
  }, options.intervalMs ?? 500);
  timer.unref();
  return () => clearInterval(timer);
}
