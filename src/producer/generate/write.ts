// `tddui generate --out DIR`: DIR/pivot/<FINESS>-<idLocal>.json (or one NDJSON file) and
// DIR/bundles/<FINESS>-<idLocal>.json, the Bundle built from each pivot.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBundle } from '../build/index.js';
import type { PivotInput } from '../pivot/schema.js';
import { generateUsagers, type GenerateOptions } from './index.js';

export interface WriteOptions extends GenerateOptions {
  out: string;
  /** Write DIR/pivot/usagers.ndjson instead of one file per usager. */
  ndjson?: boolean;
}

export interface WriteResult {
  usagers: number;
  bundles: number;
  entries: number;
  files: string[];
}

export function writeGenerated(options: WriteOptions): WriteResult {
  const docs = generateUsagers(options);
  const pivotDir = join(options.out, 'pivot');
  const bundleDir = join(options.out, 'bundles');
  mkdirSync(pivotDir, { recursive: true });
  mkdirSync(bundleDir, { recursive: true });
  const files: string[] = [];
  let entries = 0;
  const lines: string[] = [];
  for (const doc of docs) {
    const d = doc as PivotInput;
    const name = `${d.structure.finess}-${d.usager.idLocal}.json`;
    if (options.ndjson) lines.push(JSON.stringify(d));
    else {
      const f = join(pivotDir, name);
      writeFileSync(f, JSON.stringify(d, null, 2) + '\n');
      files.push(f);
    }
    const { bundle } = buildBundle(d, { source: name });
    entries += bundle.entry.length;
    const f = join(bundleDir, name);
    writeFileSync(f, JSON.stringify(bundle, null, 2) + '\n');
    files.push(f);
  }
  if (options.ndjson) {
    const f = join(pivotDir, 'usagers.ndjson');
    writeFileSync(f, lines.join('\n') + (lines.length ? '\n' : ''));
    files.push(f);
  }
  return { usagers: docs.length, bundles: docs.length, entries, files };
}
