// The on-disk form of loaded conformance resources, so that a start-up reads one file instead
// of parsing every resource: the base R4 definitions (core.ts) and each package read from a
// folder (loader.ts). A cache file holds an index (each resource's header: resourceType, url,
// version, type...) and each resource's body as JSON; reading it parses the index only, and a
// resource's body is parsed the first time something reads a key outside its header. A run that
// validates a few Bundles reads a few hundred of the thousands of resources loaded.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CanonicalResource } from './registry.js';

/**
 * Where caches are written: $TDDUI_CACHE_DIR, else node_modules/.cache/tddui under the current
 * folder (the convention of build tools). A cache that cannot be written is not an error.
 */
export function cacheDir(): string {
  return process.env.TDDUI_CACHE_DIR ?? join(process.cwd(), 'node_modules', '.cache', 'tddui');
}

/** What indexing a resource reads (registry, profile choice): kept parsed; the rest is parsed on first read. */
const HEADER_KEYS = ['resourceType', 'id', 'url', 'version', 'name', 'status', 'kind', 'abstract', 'type', 'baseDefinition', 'derivation'];

/** One resource of the cache file: its header, the keys of its body and where the body's JSON is. */
interface IndexEntry {
  h: Record<string, unknown>;
  /** Every key of the resource, in its order (header keys included). */
  k: string[];
  o: number;
  l: number;
}

/**
 * The cache file: a 4-byte length, the index (JSON), then each resource's body (JSON without
 * the header keys), one after the other.
 */
export function writeCache(file: string, resources: CanonicalResource[]): void {
  const index: IndexEntry[] = [];
  const bodies: Buffer[] = [];
  let offset = 0;
  for (const r of resources) {
    const h: Record<string, unknown> = {};
    const body: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) (HEADER_KEYS.includes(k) ? h : body)[k] = v;
    const buf = Buffer.from(JSON.stringify(body), 'utf8');
    // Every key in its order (JSON written from the cache reads as the package's own).
    index.push({ h, k: Object.keys(r), o: offset, l: buf.length });
    bodies.push(buf);
    offset += buf.length;
  }
  const idx = Buffer.from(JSON.stringify(index), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(idx.length, 0);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.concat([len, idx, ...bodies]));
  renameSync(tmp, file);
}

/**
 * The resources of a cache file, each a plain object whose header is parsed and whose other
 * keys are accessors that parse its body on first use (then become plain values): the same
 * object throughout, so identity-keyed memos of the registry and the profiles hold.
 */
export function readCache(file: string): CanonicalResource[] {
  const buf = readFileSync(file);
  const idxLen = buf.readUInt32LE(0);
  const index = JSON.parse(buf.toString('utf8', 4, 4 + idxLen)) as IndexEntry[];
  const base = 4 + idxLen;
  const last = index[index.length - 1];
  if ((last ? base + last.o + last.l : base) !== buf.length) throw new Error('truncated cache');
  return index.map((e) => {
    const r = {} as CanonicalResource;
    const bodyKeys = e.k.filter((k) => !Object.hasOwn(e.h, k));
    let filled = false;
    const fill = () => {
      if (filled) return;
      filled = true;
      const body = JSON.parse(buf.toString('utf8', base + e.o, base + e.o + e.l)) as Record<string, unknown>;
      for (const k of bodyKeys) Object.defineProperty(r, k, { value: body[k], writable: true, enumerable: true, configurable: true });
    };
    for (const k of e.k) {
      if (Object.hasOwn(e.h, k)) {
        r[k] = e.h[k];
        continue;
      }
      Object.defineProperty(r, k, {
        get() {
          fill();
          return r[k];
        },
        set(v: unknown) {
          fill();
          r[k] = v;
        },
        enumerable: true,
        configurable: true,
      });
    }
    return r;
  });
}

