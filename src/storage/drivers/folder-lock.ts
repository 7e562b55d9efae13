// One process per embedded data folder. PGlite has no postmaster: two processes opening one
// folder each run their own WASM PostgreSQL on the same files, each sees only its own writes,
// and acknowledged submissions are lost when they stop (issue 21). A lock file inside the
// folder names its owner (pid, host, the process's start time); a second opener is refused
// unless that owner is gone (a kill -9 leaves a stale lock, taken over here).
import { closeSync, existsSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

export const LOCK_FILE = 'tddui.lock';

interface Owner {
  pid: number;
  host: string;
  /** Process start time (Linux /proc/<pid>/stat field 22), to tell a reused pid from the owner. */
  start?: string;
  since: string;
}

/** Refused: another live process holds the folder. */
export class FolderLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly owner: Partial<Owner>,
  ) {
    super(
      `the embedded database folder ${dataDir} is already in use by process ${owner.pid ?? '?'}${owner.host && owner.host !== hostname() ? ` on ${owner.host}` : ''}` +
        ` (since ${owner.since ?? '?'}); only one process may open it at a time. Stop that process first` +
        ` (if it is certainly gone, delete ${join(dataDir, LOCK_FILE)}).`,
    );
    this.name = 'FolderLockedError';
  }
}

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count after its end.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(owner: Partial<Owner>): boolean {
  if (typeof owner.pid !== 'number' || !Number.isInteger(owner.pid) || owner.pid <= 0) return false;
  // Another machine (a shared folder): its processes cannot be checked here, so it is never stale.
  if (owner.host !== undefined && owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: no such process
  }
  // The pid exists: the owner, unless the pid was reused by a process started at another time.
  const now = startTimeOf(owner.pid);
  return owner.start === undefined || now === undefined || now === owner.start;
}

function readOwner(file: string): { text: string; owner: Partial<Owner> } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const owner = JSON.parse(text) as Partial<Owner>;
    return { text, owner: typeof owner === 'object' && owner !== null ? owner : {} };
  } catch {
    // Half-written by an owner killed between open and write: no live owner can be named.
    return { text, owner: {} };
  }
}

/** Folders locked by this process (a second open in the same process is refused too). */
const held = new Set<string>();

export interface FolderLock {
  release(): void;
}

/**
 * Takes the folder's lock or throws FolderLockedError. The lock file is created exclusively
 * (O_EXCL) with mode 0600; a stale one (owner gone, or a half-written file) is moved aside
 * atomically before retrying, so two openers racing over a stale lock cannot both win.
 */
export function lockFolder(dataDir: string): FolderLock {
  const dir = resolve(dataDir);
  const file = join(dir, LOCK_FILE);
  if (held.has(dir)) throw new FolderLockedError(dir, { pid: process.pid, host: hostname(), since: 'this process' });
  const me: Owner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const start = startTimeOf(process.pid);
  if (start !== undefined) me.start = start;
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const current = readOwner(file);
      if (!current) continue; // released meanwhile
      if (current.text !== '' && alive(current.owner)) throw new FolderLockedError(dir, current.owner);
      // An empty file may be an owner between open and write: give it a moment.
      if (current.text === '' && attempt < 2) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
        continue;
      }
      // Stale: move it aside under a name of ours (rename is atomic: one racer gets it), check
      // it is still the stale one we judged, and retry the exclusive create.
      const aside = `${file}.stale-${process.pid}-${attempt}`;
      try {
        renameSync(file, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const moved = readOwner(aside);
      if (moved && moved.text !== current.text && moved.text !== '' && alive(moved.owner)) {
        // We moved a fresh, live lock taken meanwhile: put it back and give up.
        try {
          renameSync(aside, file);
        } catch {
          /* best effort */
        }
        throw new FolderLockedError(dir, moved.owner);
      }
      try {
        unlinkSync(aside);
      } catch {
        /* already gone */
      }
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me));
    } finally {
      closeSync(fd);
    }
    held.add(dir);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      held.delete(dir);
      process.off('exit', release);
      // Only our own lock is removed (never one taken over after we were judged stale).
      const current = readOwner(file);
      if (current && current.owner.pid === me.pid && current.owner.since === me.since) {
        try {
          unlinkSync(file);
        } catch {
          /* gone */
        }
      }
    };
    process.on('exit', release);
    return { release };
  }
  throw new FolderLockedError(dir, readOwner(file)?.owner ?? {});
}

/** Whether a folder holds a lock file (for tests and diagnostics). */
export function isLocked(dataDir: string): boolean {
  return existsSync(join(resolve(dataDir), LOCK_FILE));
}
