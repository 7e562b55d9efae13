// `tddui reindex`: rebuilds the search index of every current resource with the search
// parameters of the given packages (base R4 + their SearchParameters), and records which set
// indexed the data. `tddui serve` does the same at start-up when the set changed; this command
// does it offline, e.g. before starting several servers on one PostgreSQL database.
import { TdduiValidator } from '../tddui/validator.js';
import { searchParametersOf } from '../server/app.js';
import { openRepository } from '../storage/index.js';
import { Command } from './args.js';

export const REINDEX_HELP = `Usage: tddui reindex [options]

Rebuilds the search index of every stored resource with the SearchParameters of the FHIR
packages (as tddui serve loads them), then records the parameter set, so that a server started
with the same packages finds its index current.

Options:
  --data DIR        Folder of the embedded database (default ./.tddui-data).
  --database URL    PostgreSQL database postgres://… (default: $DATABASE_URL).
  --packages DIR    FHIR package folder, folder of packages, or .tgz (repeatable; as in tddui serve).
  --check           Only say whether the index is current (exit 0) or not (exit 1).
  -h, --help        Show this help.
`;

export async function runReindex(argv: string[]): Promise<number> {
  const cli = new Command('reindex', REINDEX_HELP);
  const parsed = cli.parse(argv, { data: { type: 'string' }, database: { type: 'string' }, packages: { type: 'string', multiple: true }, check: { type: 'boolean', default: false } }, { positionals: false });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  if (values.data !== undefined && values.database !== undefined) return cli.usage('--data and --database exclude each other');
  const url = values.database ?? (values.data === undefined ? process.env.DATABASE_URL || undefined : undefined);
  if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) return cli.usage(`--database must be a postgres:// URL (got "${url}")`);
  const validator = await TdduiValidator.create(values.packages?.length ? { packages: values.packages } : {});
  const params = searchParametersOf(validator.core.registry);
  const repo = await openRepository(url ? { url, searchParams: params } : { dataDir: values.data ?? './.tddui-data', searchParams: params });
  try {
    const state = await repo.indexState();
    const current = state?.fingerprint === params.fingerprint;
    if (values.check) {
      process.stdout.write(current ? `index current (${params.fingerprint})\n` : `index not current: stored ${state?.fingerprint ?? 'none'}, packages ${params.fingerprint}\n`);
      return current ? 0 : 1;
    }
    let last = 0;
    const r = await repo.reindex({
      onProgress: (done, total) => {
        if (done - last >= 5000 || done === total) {
          last = done;
          process.stderr.write(`${done}/${total}\n`);
        }
      },
    });
    process.stdout.write(`re-indexed ${r.resources} resources in ${r.ms} ms (parameter set ${r.fingerprint})\n`);
    return 0;
  } finally {
    await repo.close();
  }
}
