// `tddui build`: pivot documents → TDDUI transaction Bundles.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildError, buildBundle } from '../producer/build/index.js';
import { PivotError } from '../producer/pivot/schema.js';
import { Command } from './args.js';
import { countOf } from '../fhir/outcome/plural.js';
import { readCommandInputs } from './producer-io.js';
import { langFromEnv } from './validate.js';

export const BUILD_HELP = `Usage: tddui build [options] FILE...

Builds one TDDUI transaction Bundle per usager from pivot documents (see docs/pivot.md and
schemas/pivot.schema.json). FILE is a pivot .json file (one document, or an array of them),
an .ndjson file (one document per line) or a folder of such files.

Options:
  --out DIR        Write DIR/<FINESS>-<idLocal>.json per usager. Default: standard output
                   (the Bundle JSON for one usager, NDJSON — one Bundle per line — for several).
  --clip-window    SSIAD history longer than 5 weeks: keep the last 35 days instead of refusing.
  --ig-version V   TDDUI version to produce (2.2.0 or 2.3.0) for documents that do not say
                   ("igVersion" in the pivot); the Bundle pins it in meta.profile.
  --pretty         Indent the JSON written to standard output.
  --lang fr|en     Language of the messages (default: from LANG, LC_ALL; French when it
                   starts with fr, else English).
  -h, --help       Show this help.

A pivot with more than 5 weeks (35 days) or less than one week of events/transports is refused
with the rule id tddui-ssiad-window-span or tddui-ssiad-window-min.

Exit status: 0 all built, 1 a document is invalid or refused (the others are still built),
2 usage error or unreadable input.
`;

const cli = new Command('build', BUILD_HELP);

export async function runBuild(argv: string[]): Promise<number> {
  const args = cli.parse(argv, {
    out: { type: 'string' },
    'clip-window': { type: 'boolean', default: false },
    'ig-version': { type: 'string' },
    pretty: { type: 'boolean', default: false },
    lang: { type: 'string' },
  });
  if (typeof args === 'number') return args;
  const { values, positionals } = args;
  const lang = values.lang ?? langFromEnv();
  if (lang !== 'fr' && lang !== 'en') return cli.fail(`--lang must be fr or en, not "${values.lang}"`);
  const fr = lang === 'fr';
  const igVersion = values['ig-version'];
  if (igVersion !== undefined && igVersion !== '2.2.0' && igVersion !== '2.3.0') return cli.fail(`--ig-version must be 2.2.0 or 2.3.0 (got "${igVersion}")`);
  const docs = await readCommandInputs(cli, positionals);
  if (typeof docs === 'number') return docs;
  if (igVersion) {
    for (const d of docs) if (d.value && typeof d.value === 'object' && !Array.isArray(d.value) && (d.value as Record<string, unknown>).igVersion === undefined) (d.value as Record<string, unknown>).igVersion = igVersion;
  }
  if (values.out) mkdirSync(values.out, { recursive: true });
  let failed = 0;
  const built: string[] = [];
  for (const { source, value } of docs) {
    try {
      const r = buildBundle(value, { clipWindow: values['clip-window'], source });
      for (const d of r.dropped) process.stderr.write(fr ? `${source} : retiré (antérieur aux 35 derniers jours) : ${d}\n` : `${source}: clipped (older than the last 35 days): ${d}\n`);
      for (const w of r.warnings) process.stderr.write(fr ? `${source} : avertissement [${w.rule}] ${w.messageFr}\n` : `${source}: warning [${w.rule}] ${w.message}\n`);
      if (values.out) {
        const file = join(values.out, `${r.pivot.structure.finess}-${r.pivot.usager.idLocal}.json`);
        writeFileSync(file, JSON.stringify(r.bundle, null, 2) + '\n');
        process.stderr.write(`${source} → ${file} (${countOf(lang, r.bundle.entry.length, fr ? 'entrée' : 'entry', fr ? 'entrées' : 'entries')})\n`);
      } else {
        built.push(JSON.stringify(r.bundle, null, values.pretty ? 2 : undefined));
      }
    } catch (e) {
      failed++;
      if (e instanceof PivotError || e instanceof BuildError) process.stderr.write(`${fr ? e.messageFr : e.message}\n`);
      else throw e;
    }
  }
  if (!values.out && built.length) {
    // One Bundle: plain JSON; several: NDJSON, so the output stays one Bundle per line.
    process.stdout.write(built.length === 1 ? `${built[0]}\n` : built.map((b) => (values.pretty ? JSON.stringify(JSON.parse(b)) : b)).join('\n') + '\n');
  }
  if (failed) {
    process.stderr.write(
      fr
        ? `tddui build : ${failed} ${failed < 2 ? 'document non construit' : 'documents non construits'} sur ${docs.length}\n`
        : `tddui build: ${failed} of ${countOf('en', docs.length, 'document', 'documents')} not built\n`,
    );
  }
  return failed ? 1 : 0;
}
