// What `tddui send` posts: Bundle files, folders of them (recursively, *.json and *.ndjson), and
// NDJSON files (one Bundle per line). Read lazily, so a folder of 100,000 Bundles is never all in memory.
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface SendItem {
  /** Where it comes from: `file.json` or `file.ndjson:12`. */
  name: string;
  /** The raw JSON text to post. */
  body: string;
}

export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}

/** Lists the files behind the given paths (folders are walked, sorted for a stable order). */
export function listFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string, top: boolean) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new SourceError(`${p}: no such file or folder`);
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        if (name.startsWith('.')) continue;
        const child = join(p, name);
        if (statSync(child).isDirectory()) walk(child, false);
        else if (/\.(json|ndjson)$/i.test(name)) out.push(child);
      }
    } else if (top || /\.(json|ndjson)$/i.test(p)) out.push(p);
  };
  for (const p of paths) walk(p, true);
  return out;
}

/** Yields one item per Bundle: a .json file is one Bundle, each non-empty line of a .ndjson file is one. */
export async function* readItems(paths: string[]): AsyncGenerator<SendItem> {
  for (const file of listFiles(paths)) {
    if (/\.ndjson$/i.test(file)) {
      const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
      let n = 0;
      for await (const line of rl) {
        n++;
        if (line.trim()) yield { name: `${file}:${n}`, body: line };
      }
    } else {
      yield { name: file, body: await readFile(file, 'utf8') };
    }
  }
}
