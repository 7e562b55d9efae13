// `tddui read`: TDDUI transaction Bundles → pivot documents.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PivotError } from '../producer/pivot/schema.js';
import { ReadError, readBundle } from '../producer/read/index.js';
import { Command } from './args.js';
import { readCommandInputs } from './producer-io.js';
import { langFromEnv } from './validate.js';

export const READ_HELP = `Usage: tddui read [options] FILE...

Reads TDDUI transaction Bundles (.json, .ndjson, folders) back into pivot documents, one per
usager. A Bundle made by \`tddui build\` reads back to exactly the pivot it was built from.

Options:
  --out DIR     Write DIR/<FINESS>-<idLocal>.json per usager. Default: standard output
                (indented JSON for one usager, NDJSON for several).
  --lang fr|en  Language of the messages (default: from LANG, LC_ALL; French when it
                starts with fr, else English).
  -h, --help    Show this help.

Exit status: 0 all read, 1 a Bundle could not be read, 2 usage error or unreadable input.
`;

const cli = new Command('read', READ_HELP);

export async function runRead(argv: string[]): Promise<number> {
  const args = cli.parse(argv, { out: { type: 'string' }, lang: { type: 'string' } });
  if (typeof args === 'number') return args;
  const { values, positionals } = args;
  const lang = values.lang ?? langFromEnv();
  if (lang !== 'fr' && lang !== 'en') return cli.fail(`--lang must be fr or en, not "${values.lang}"`);
  const docs = await readCommandInputs(cli, positionals);
  if (typeof docs === 'number') return docs;
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
      if (e instanceof ReadError || e instanceof PivotError) process.stderr.write(lang === 'fr' ? `${source} : ${e.messageFr}\n` : `${source}: ${e.message}\n`);
      else throw e;
    }
  }
  if (pivots.length === 1) process.stdout.write(JSON.stringify(pivots[0], null, 2) + '\n');
  else if (pivots.length) process.stdout.write(pivots.map((p) => JSON.stringify(p)).join('\n') + '\n');
  return failed ? 1 : 0;
}
