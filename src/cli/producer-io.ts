// Shared input reading of the producer commands: JSON files (a document or an array), NDJSON
// files (one document per line) and folders of them.
import { readFile } from 'node:fs/promises';
import { listFiles } from '../producer/send/sources.js';
import type { Command } from './args.js';

export interface JsonDocument {
  source: string;
  value: unknown;
}

export async function readJsonDocuments(paths: string[]): Promise<JsonDocument[]> {
  const out: JsonDocument[] = [];
  for (const file of listFiles(paths)) {
    const text = await readFile(file, 'utf8');
    if (/\.ndjson$/i.test(file)) {
      text.split(/\r?\n/).forEach((line, i) => {
        if (!line.trim()) return;
        out.push({ source: `${file}:${i + 1}`, value: parse(line, `${file}:${i + 1}`) });
      });
    } else {
      const v = parse(text, file);
      if (Array.isArray(v)) v.forEach((x, i) => out.push({ source: `${file}[${i}]`, value: x }));
      else out.push({ source: file, value: v });
    }
  }
  return out;
}

/**
 * The documents behind the FILE arguments of a producer command, or its exit status 2 after a
 * usage error (no FILE) or an unreadable input.
 */
export async function readCommandInputs(cli: Command, files: string[]): Promise<JsonDocument[] | number> {
  if (files.length === 0) return cli.usage('no FILE given');
  try {
    return await readJsonDocuments(files);
  } catch (e) {
    return cli.fail((e as Error).message);
  }
}

function parse(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not JSON (${(e as Error).message})`);
  }
}
