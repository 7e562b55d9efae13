// Minimal reader for gzip'd tar archives (FHIR packages are npm-style .tgz files).
// Supports ustar, pax extended headers (path) and GNU long names; regular files only.
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';

const BLOCK = 512;

function readString(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end === -1 || end > start + len ? start + len : end);
}

function readOctal(buf: Buffer, start: number, len: number): number {
  // GNU base-256 encoding for large sizes: high bit set on the first byte.
  if (buf[start] & 0x80) {
    let n = 0;
    for (let i = start + 1; i < start + len; i++) n = n * 256 + buf[i];
    return n;
  }
  const s = readString(buf, start, len).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp === -1) break;
    const len = parseInt(data.toString('utf8', pos, sp), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const record = data.toString('utf8', sp + 1, pos + len - 1); // drop trailing \n
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

/** Extracts the regular files of a tar buffer, keyed by normalised path (no leading `./`). */
export function untar(tar: Buffer, label = 'archive'): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let pos = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  while (pos + BLOCK <= tar.length) {
    const header = tar.subarray(pos, pos + BLOCK);
    if (header.every((b) => b === 0)) break; // end-of-archive marker
    const size = readOctal(header, 124, 12);
    const type = String.fromCharCode(header[156] || 48);
    const magic = readString(header, 257, 6);
    let name = readString(header, 0, 100);
    if (magic.startsWith('ustar')) {
      const prefix = readString(header, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const dataStart = pos + BLOCK;
    const dataEnd = dataStart + size;
    if (!Number.isFinite(size) || size < 0 || dataEnd > tar.length) {
      throw new Error(`${label} is truncated or corrupt (entry "${name}" runs past the end of the archive)`);
    }
    const data = tar.subarray(dataStart, dataEnd);
    if (type === 'L') {
      longName = readString(data, 0, data.length);
    } else if (type === 'x') {
      paxPath = parsePax(data).path;
    } else if (type === 'g') {
      // global pax header: nothing we need
    } else {
      const finalName = (paxPath ?? longName ?? name).replace(/^\.\//, '');
      longName = undefined;
      paxPath = undefined;
      if (type === '0' || type === '7') files.set(finalName, Buffer.from(data));
    }
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;
  }
  return files;
}

/** Reads a .tgz file into a map of path -> content. Throws a clear Error on corrupt input. */
export async function readTgz(path: string): Promise<Map<string, Buffer>> {
  const raw = await readFile(path);
  let tar: Buffer;
  try {
    tar = gunzipSync(raw);
  } catch (e) {
    throw new Error(`${path} is not a readable gzip archive: ${(e as Error).message}`);
  }
  return untar(tar, path);
}
