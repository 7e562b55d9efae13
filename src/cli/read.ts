// `tddui read`: TDDUI transaction Bundles → pivot documents.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PivotError } from '../producer/pivot/schema.js';
import { ReadError, readBundle } from '../producer/read/index.js';
import { readJsonDocuments } from './producer-io.js';

export const READ_HELP = `Usage: tddui read [options] FILE...

Reads TDDUI transaction Bundles (.json, .ndjson, folders) back into pivot documents, one per
usager. A Bundle made by \`tddui build\` reads back to exactly the pivot it was built from.

Options:
  --out DIR     Write DIR/<FINESS>-<idLocal>.json per usager. Default: standard output
                (indented JSON for one usager, NDJSON for several).
  -h, --help    Show this help.

Exit status: 0 all read, 1 a Bundle could not be read, 2 usage error or unreadable input.
`;

export async function runRead(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } } });
  } catch (e) {
    process.stderr.write(`tddui read: ${(e as Error).message}\n\n${READ_HELP}`);
    return 2;
  }
  const { values, positionals } = args;
  if (values.help) {
    process.stdout.write(READ_HELP);
    return 0;
  }
  if (positionals.length === 0) {
    process.stderr.write(`tddui read: no FILE given\n\n${READ_HELP}`);
    return 2;
  }
  let docs;
  try {
    docs = await readJsonDocuments(positionals);
  } catch (e) {
    process.stderr.write(`tddui read: ${(e as Error).message}\n`);
    return 2;
  }
  if (values.out) mkdirSync(values.out, { recursive: true });
  const pivots: unknown[] = [];
  let failed = 0;
  for (const { source, value } of docs) {
    try {
      for (const p of readBundle(value)) {
        if (values.out) {
          const file = join(values.out, `${p.structure.finess}-${p.usager.idLocal}.json`);
          writeFileSync(file, JSON.stringify(p, null, 2) + '\n');
          process.stderr.write(`${source} → ${file}\n`);
        } else pivots.push(p);
      }
    } catch (e) {
      failed++;
      if (e instanceof ReadError || e instanceof PivotError) process.stderr.write(`${source}: ${e.message}\n`);
      else throw e;
    }
  }
  if (pivots.length === 1) process.stdout.write(JSON.stringify(pivots[0], null, 2) + '\n');
  else if (pivots.length) process.stdout.write(pivots.map((p) => JSON.stringify(p)).join('\n') + '\n');
  return failed ? 1 : 0;
}
