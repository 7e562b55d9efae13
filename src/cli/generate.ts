// `tddui generate`: deterministic synthetic TDDUI data (pivot documents and their Bundles).
import { writeGenerated } from '../producer/generate/write.js';
import { Command } from './args.js';
import { pluralEn } from '../fhir/outcome/plural.js';

export const GENERATE_HELP = `Usage: tddui generate --count N --out DIR [options]

Generates N realistic synthetic usagers of French ESSMS (SSIAD, EHPAD, IME): names, NIR/INS
with a valid key consistent with sex, birth date and birth place, FINESS and RPPS with their
Luhn keys, SSIAD séjours with 1 to 5 weeks of agenda events and transports, AGGIR grids whose
GIR is computed by the official AGGIR algorithm, situation SSIAD and SERAFIN evaluations, and
projets personnalisés (PA and IME). The same --seed (and --end-date) gives the same files.

Writes DIR/pivot/<FINESS>-<idLocal>.json (or DIR/pivot/usagers.ndjson with --ndjson) and
DIR/bundles/<FINESS>-<idLocal>.json.

Options:
  --count N            Number of usagers (required).
  --seed S             Seed (default 1).
  --out DIR            Output folder (required).
  --end-date DATE      Last day of the exported history, YYYY-MM-DD (default: today, UTC).
  --ndjson             One NDJSON pivot file instead of one file per usager.
  --ig-version V       TDDUI version to produce: 2.2.0 (default) or 2.3.0 (adds its new
                       fields: observations, household situation, nationality, driving
                       licence, patient validation of events...). The Bundles then pin it
                       in meta.profile (…/tddui-bundle|2.3.0).
  -h, --help           Show this help.
`;

const cli = new Command('generate', GENERATE_HELP);

export async function runGenerate(argv: string[]): Promise<number> {
  const args = cli.parse(
    argv,
    {
      count: { type: 'string' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
      'end-date': { type: 'string' },
      ndjson: { type: 'boolean', default: false },
      'ig-version': { type: 'string' },
    },
    { positionals: false },
  );
  if (typeof args === 'number') return args;
  const { values } = args;
  const count = Number(values.count);
  if (!values.count || !Number.isInteger(count) || count < 0) return cli.usage(`--count must be a whole number (got "${values.count ?? ''}")`);
  if (!values.out) return cli.usage('--out DIR is required');
  const endDate = values['end-date'];
  if (endDate !== undefined && (!/^\d{4}-\d{2}-\d{2}$/.test(endDate) || Number.isNaN(Date.parse(endDate)))) return cli.fail(`--end-date must be YYYY-MM-DD (got "${endDate}")`);
  const igVersion = values['ig-version'];
  if (igVersion !== undefined && igVersion !== '2.2.0' && igVersion !== '2.3.0') return cli.fail(`--ig-version must be 2.2.0 or 2.3.0 (got "${igVersion}")`);
  const started = Date.now();
  const r = writeGenerated({ count, seed: values.seed, out: values.out, endDate, ndjson: values.ndjson, ...(igVersion ? { igVersion } : {}) });
  process.stdout.write(`${pluralEn(r.usagers, 'usager', 'usagers')}, ${pluralEn(r.bundles, 'Bundle', 'Bundles')}, ${pluralEn(r.entries, 'entry', 'entries')} written to ${values.out} in ${Date.now() - started} ms (seed ${values.seed})\n`);
  return 0;
}
