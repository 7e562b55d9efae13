// What `tddui validate` reads: files and folders (walked recursively, hidden entries skipped,
// sorted for a stable order), filtered by `--include` globs. Each file is then read as FHIR
// JSON or FHIR XML by its content (src/fhir/input.ts), whatever its extension.
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** Files taken from a folder when no `--include` is given. */
export const DEFAULT_INCLUDE = ['**/*.json', '**/*.xml'];

export class InputError extends Error {}

/**
 * A glob as a regular expression over `/`-separated relative paths: `**` any number of folders,
 * `*` and `?` within one name, `{a,b}` alternatives. A pattern without `/` matches the file
 * name at any depth (as `--include '*.json'` is meant).
 */
export function globToRegExp(glob: string): RegExp {
  const g = glob.includes('/') ? glob.replace(/^\.\//, '') : `**/${glob}`;
  let re = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i]!;
    if (c === '*' && g[i + 1] === '*') {
      // `**/` matches zero or more folders; a trailing `**` anything.
      if (g[i + 2] === '/') {
        re += '(?:[^/]*/)*';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '{') {
      const end = g.indexOf('}', i);
      if (end < 0) re += '\\{';
      else {
        re += `(?:${g
          .slice(i + 1, end)
          .split(',')
          .map((s) => s.replace(/[.+^$()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
          .join('|')})`;
        i = end;
      }
    } else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'i');
}

/**
 * The files behind the paths: a file named on the command line is always taken; a folder
 * gives the files under it whose path relative to it matches one of `include`.
 */
export function listInputFiles(paths: readonly string[], include: readonly string[] = DEFAULT_INCLUDE): string[] {
  const patterns = include.map(globToRegExp);
  const out: string[] = [];
  const seen = new Set<string>();
  const push = (f: string) => {
    if (!seen.has(f)) {
      seen.add(f);
      out.push(f);
    }
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      throw new InputError(`cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!st.isDirectory()) {
      push(p);
      continue;
    }
    const walk = (dir: string) => {
      let names: string[];
      try {
        names = readdirSync(dir).sort();
      } catch (e) {
        throw new InputError(`cannot read the folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      for (const name of names) {
        if (name.startsWith('.')) continue;
        const child = join(dir, name);
        if (statSync(child).isDirectory()) walk(child);
        else {
          const rel = relative(p, child).split(sep).join('/');
          if (patterns.some((re) => re.test(rel))) push(child);
        }
      }
    };
    walk(p);
  }
  return out;
}
