// `tddui validate`: validates FHIR files (JSON or XML, files and folders) against the TDDUI IG,
// in one process for all of them (worker threads when there are many), with a summary, and
// reports for a vendor's CI: JSON naming each file, JUnit XML, a French HTML page.
import { writeFileSync } from 'node:fs';
import { Command } from './args.js';
import { formatReport } from './report.js';
import { DEFAULT_INCLUDE, InputError, listInputFiles } from './validate-inputs.js';
import type { FileResult } from './validate-job.js';
import { fails, formatSummary, htmlReport, jsonReport, junitReport, outcomesJson, summarize, type FailOn, type Lang } from './validate-output.js';
import { autoWorkers, runFiles, SetupError } from './validate-run.js';

export const VALIDATE_HELP = `Usage: tddui validate [options] PATH...

Validates FHIR R4 files (a TDDUI transaction Bundle or a single resource, in JSON or XML)
against the TDDUI implementation guide: profiles, terminology bindings, invariants, references
and the TDDUI business rules, with the IG's dependencies (FR Core, Annuaire, ANS terminologies).
When the package sources hold no TDDUI package (e.g. --packages names only a volet or a test
package), the files are validated as plain FHIR R4 against the packages given: base
definitions, meta.profile and --profile, no TDDUI rule.
PATH is a file or a folder (walked recursively; hidden entries skipped). All files are checked
in one process, in parallel worker threads when there are many, and a summary ends the run.

Options:
  --packages DIR      Where FHIR packages are found (repeatable): a package cache
                      (<id>#<version>/package/, as ~/.fhir/packages), a folder of packages,
                      a package folder or a .tgz. Default: $TDDUI_PACKAGES, ./fhir-packages or
                      ../shared/fhir-packages; ~/.fhir/packages is always searched too.
  --ig ID             A TDDUI version to validate with (repeatable, tried in order):
                      ans.fhir.fr.tddui#2.3.0 or 2.3.0. Default: every TDDUI version found,
                      newest first; a file valid under one of them is valid. A versioned
                      meta.profile (…/tddui-bundle|2.2.0) chooses the version itself.
  --profile URL       Validate against this profile (canonical URL, id or name) instead of
                      the one chosen from meta.profile / the resource type.
  --include GLOB      Files taken from a folder (repeatable; default ${DEFAULT_INCLUDE.join(' and ')}):
                      ** any folders, * and ? within a name, {a,b} alternatives; a pattern
                      without / matches the name at any depth. Files named on the command line
                      are always taken.
  --format FORMAT     text (default): a report per file, then the summary;
                      json: one FHIR OperationOutcome per file (an array for several files,
                      in input order), each naming its file (extension urn:tddui:validated-file);
                      report: {summary, files: [{file, status, ig, errors, warnings, outcome}]};
                      junit: JUnit XML, one test case per file, one failure per error;
                      html: one self-contained page in French (the UI's report per file).
  --output FILE       Write the report of --format to FILE (not text); the summary then
                      goes to standard output.
  --json FILE, --report FILE, --junit FILE, --html FILE
                      Also write that report to FILE, whatever --format prints (one run
                      gives the console report, a JUnit file for the CI and an HTML page).
  --fail-on LEVEL     error (default): exit 1 when a file has errors; warning: also when a
                      file has warnings about the data (not the "not checked" notices).
  --quiet, -q         Text format: report only the files that fail, then the summary.
  --workers N|auto    Worker threads (default auto: one per core, from ${2 * 40} files; 0: none).
  --lang fr|en        Language of the report (default: from LANG, LC_ALL; French when it
                      starts with fr). json keeps both (diagnostics in English, details.text
                      in French); html is French.
  --info              Also print information messages (text format).
  --notices           List every "not checked" notice (text format; default: one line per
                      missing package).
  --profile-only      Skip the TDDUI business rules.
  -h, --help          Show this help.

Exit status:
  0  no file fails at the --fail-on level;
  1  a file fails: it has errors (a file that is neither JSON nor XML is an error,
     fhir-json-syntax), or data warnings with --fail-on warning;
  2  usage error, a path that cannot be read, or FHIR packages that cannot be loaded.

See also: tddui rules [ID] explains each rule id of the reports.
`;

const cli = new Command('validate', VALIDATE_HELP);

const FORMATS = ['text', 'json', 'report', 'junit', 'html'] as const;
type Format = (typeof FORMATS)[number];

/** The report language when --lang is not given: French when the locale says so. */
export function langFromEnv(env: NodeJS.ProcessEnv = process.env): Lang {
  const locale = env.LC_ALL || env.LC_MESSAGES || env.LANG || '';
  return /^fr/i.test(locale) ? 'fr' : 'en';
}

export async function runValidate(argv: string[]): Promise<number> {
  const args = cli.parse(argv, {
    packages: { type: 'string', multiple: true },
    ig: { type: 'string', multiple: true },
    notices: { type: 'boolean', default: false },
    profile: { type: 'string' },
    include: { type: 'string', multiple: true },
    format: { type: 'string', default: 'text' },
    output: { type: 'string' },
    json: { type: 'string' },
    report: { type: 'string' },
    junit: { type: 'string' },
    html: { type: 'string' },
    'fail-on': { type: 'string', default: 'error' },
    quiet: { type: 'boolean', short: 'q', default: false },
    workers: { type: 'string', default: 'auto' },
    lang: { type: 'string' },
    info: { type: 'boolean', default: false },
    'profile-only': { type: 'boolean', default: false },
  });
  if (typeof args === 'number') return args;
  const { values, positionals } = args;
  const format = values.format as Format;
  if (!FORMATS.includes(format)) return cli.fail(`--format must be one of ${FORMATS.join(', ')}, not "${values.format}"`);
  const failOn = values['fail-on'] as FailOn;
  if (failOn !== 'error' && failOn !== 'warning') return cli.fail(`--fail-on must be error or warning, not "${failOn}"`);
  const lang = (values.lang ?? langFromEnv()) as Lang;
  if (lang !== 'fr' && lang !== 'en') return cli.fail(`--lang must be fr or en, not "${values.lang}"`);
  if (values.output && format === 'text') return cli.fail('--output needs --format json, junit or html');
  if (values.workers !== 'auto' && !/^\d+$/.test(values.workers)) return cli.fail(`--workers must be a whole number or auto, not "${values.workers}"`);
  if (positionals.length === 0) return cli.usage('no PATH given');

  let files: string[];
  try {
    files = listInputFiles(positionals, values.include?.length ? values.include : DEFAULT_INCLUDE);
  } catch (e) {
    if (e instanceof InputError) return cli.fail(e.message);
    throw e;
  }
  if (files.length === 0) return cli.fail(`no file to validate in ${positionals.join(', ')} (--include ${(values.include ?? DEFAULT_INCLUDE).join(' ')})`);

  const text = format === 'text';
  const color = text && process.stdout.isTTY === true && !process.env.NO_COLOR;
  const workers = values.workers === 'auto' ? autoWorkers(files.length) : Number(values.workers);
  const allReports = files.length <= 50;
  const wantsHtml = format === 'html' || values.html !== undefined;
  const results: (FileResult | undefined)[] = new Array(files.length).fill(undefined);
  const readErrors = new Map<number, string>();
  // Text reports are printed in input order as soon as each file's turn comes.
  let printed = 0;
  const flush = () => {
    while (printed < files.length && (results[printed] !== undefined || readErrors.has(printed))) {
      const r = results[printed];
      if (r && text && (!values.quiet || fails(r, failOn))) {
        process.stdout.write(formatReport(r.file, r.issues, r.profiles, { color, showInfo: values.info, showNotices: values.notices, ig: r.ig, lang }) + '\n');
      }
      printed++;
    }
  };
  const started = performance.now();
  let startupMs = 0;
  try {
    await runFiles(
      files,
      {
        packages: values.packages,
        igs: values.ig,
        workers,
        job: { profile: values.profile, profileOnly: values['profile-only'], html: !wantsHtml ? 'none' : allReports ? 'all' : 'not-valid' },
      },
      {
        ready(d) {
          startupMs = performance.now() - started;
          if (!d.profileKnown) return `unknown profile "${values.profile}" (not in the loaded packages)`;
          if (text || values.output) {
            const out = text ? process.stderr : process.stdout;
            if (lang === 'fr') {
              out.write(d.versions.length ? `Versions TDDUI acceptées : ${d.versions.join(', ')}\n` : 'Aucun paquet TDDUI : validation FHIR R4 seule, selon les paquets donnés\n');
              out.write(`Paquets : ${d.packages.join(', ')}\n`);
            } else {
              out.write(d.versions.length ? `TDDUI versions accepted: ${d.versions.join(', ')}\n` : 'No TDDUI package: plain FHIR R4 validation against the packages given\n');
              out.write(`Packages: ${d.packages.join(', ')}\n`);
            }
            for (const note of d.notes) out.write(`Note: ${note}\n`);
          }
          return undefined;
        },
        result(i, r) {
          results[i] = r;
          flush();
        },
        readError(i, message) {
          readErrors.set(i, message);
          process.stderr.write(`tddui validate: ${message}\n`);
          flush();
        },
      },
    );
  } catch (e) {
    if (e instanceof SetupError) {
      const msg = e.message;
      return cli.fail(msg.startsWith('unknown profile') ? msg : `cannot load FHIR packages: ${msg}`);
    }
    throw e;
  }
  const summary = summarize(results, readErrors.size, failOn, performance.now() - started, startupMs);
  const summaryText = formatSummary(summary, lang);
  const render = (f: Exclude<Format, 'text'>): string =>
    f === 'json'
      ? outcomesJson(results)
      : f === 'report'
        ? JSON.stringify(jsonReport(results, files, readErrors, summary), null, 2) + '\n'
        : f === 'junit'
        ? junitReport(results, files, readErrors, summary, lang)
        : htmlReport(results, files, readErrors, summary, allReports);
  const written: string[] = [];
  const write = (file: string, body: string) => {
    writeFileSync(file, body);
    written.push(file);
  };
  if (format !== 'text' && values.output) write(values.output, render(format));
  for (const f of ['json', 'report', 'junit', 'html'] as const) if (values[f] !== undefined) write(values[f], render(f));
  const toStdout = format === 'text' || values.output !== undefined;
  if (format !== 'text' && !values.output) process.stdout.write(render(format));
  const tail = `${summaryText}\n${written.map((f) => `${lang === 'fr' ? 'Rapport écrit dans' : 'Report written to'} ${f}\n`).join('')}`;
  if (toStdout) process.stdout.write(`${format === 'text' ? '\n' : ''}${tail}`);
  else process.stderr.write(tail);
  if (readErrors.size > 0) return 2;
  return summary.failed > 0 ? 1 : 0;
}
