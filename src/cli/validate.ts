// `tddui validate`: validates FHIR JSON or XML files against the TDDUI IG — or, when the
// package sources hold no TDDUI package, against the FHIR packages given (plain FHIR R4).
import { readFile } from 'node:fs/promises';
import { FhirValidator } from '../fhir/fhir-validator.js';
import { readFhirInput } from '../fhir/input.js';
import { toOperationOutcome, type ValidationIssue } from '../fhir/outcome/issue.js';
import { availableVersions, defaultPackagePaths, PackageLoadError } from '../fhir/packages/loader.js';
import { TDDUI_PACKAGE } from '../tddui/ig.js';
import { TdduiValidator } from '../tddui/validator.js';
import { Command } from './args.js';
import { formatReport } from './report.js';

export const VALIDATE_HELP = `Usage: tddui validate [options] FILE...

Validates FHIR R4 files, JSON or XML (a TDDUI transaction Bundle or a single resource),
against the TDDUI implementation guide: profiles, terminology bindings, invariants, references
and the TDDUI business rules, with the IG's dependencies (FR Core, Annuaire, ANS terminologies).
When the package sources hold no TDDUI package (e.g. --packages names only a volet or a test
package), the files are validated as plain FHIR R4 against the packages given: base
definitions, meta.profile and --profile, no TDDUI rule.

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
  --format text|json  text (default): a readable report per file; json: one
                      OperationOutcome per file (an array when several files).
  --info              Also print information messages (text format).
  --notices           List every "not checked" notice (text format; default: one line per
                      missing package).
  --profile-only      Skip the TDDUI business rules.
  -h, --help          Show this help.

Exit status: 0 when no file has errors, 1 when a file has errors, 2 on a usage error or
an unreadable input (missing file, neither JSON nor FHIR XML, package that cannot be loaded).
`;

const cli = new Command('validate', VALIDATE_HELP);

export async function runValidate(argv: string[]): Promise<number> {
  const args = cli.parse(argv, {
    packages: { type: 'string', multiple: true },
    ig: { type: 'string', multiple: true },
    notices: { type: 'boolean', default: false },
    profile: { type: 'string' },
    format: { type: 'string', default: 'text' },
    info: { type: 'boolean', default: false },
    'profile-only': { type: 'boolean', default: false },
  });
  if (typeof args === 'number') return args;
  const { values, positionals } = args;
  if (values.format !== 'text' && values.format !== 'json') return cli.fail(`--format must be text or json, not "${values.format}"`);
  if (positionals.length === 0) return cli.usage('no FILE given');
  let validator: TdduiValidator | FhirValidator;
  try {
    const packages = values.packages ?? defaultPackagePaths();
    const tddui = (values.ig?.length ?? 0) > 0 || (await availableVersions(TDDUI_PACKAGE, { paths: packages })).length > 0;
    validator = tddui ? await TdduiValidator.create({ packages: values.packages, igs: values.ig }) : await FhirValidator.create({ packages });
  } catch (e) {
    const msg = e instanceof PackageLoadError ? e.message : (e as Error).stack ?? String(e);
    return cli.fail(`cannot load FHIR packages: ${msg}`);
  }
  if (values.profile && !validator.resolveProfile(values.profile)) return cli.fail(`unknown profile "${values.profile}" (not in the loaded packages)`);
  const text = values.format === 'text';
  const color = text && process.stdout.isTTY === true && !process.env.NO_COLOR;
  if (text) {
    const registry = validator.set?.registry ?? validator.engine.registry;
    const pk = registry.store.packages.map((p) => `${p.name}#${p.version}`).join(', ');
    if (validator instanceof TdduiValidator) process.stderr.write(`TDDUI versions accepted: ${validator.igs.map((ig) => ig.version).join(', ')}\n`);
    else process.stderr.write(`No TDDUI package: plain FHIR R4 validation against the packages given\n`);
    process.stderr.write(`Packages: ${pk}\n`);
    for (const note of validator.set?.loadNotes() ?? []) process.stderr.write(`Note: ${note}\n`);
  }
  let status = 0;
  const outcomes: unknown[] = [];
  for (const file of positionals) {
    let content: string;
    try {
      content = await readFile(file, 'utf8');
    } catch (e) {
      status = cli.fail(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      continue;
    }
    const input = readFhirInput(content);
    if (input.issue) {
      const issues: ValidationIssue[] = [input.issue];
      if (text) process.stdout.write(formatReport(file, issues, [], { color, showInfo: values.info }) + '\n');
      else outcomes.push(toOperationOutcome(issues));
      status = 2;
      continue;
    }
    const json = input.resource;
    const report =
      validator instanceof TdduiValidator
        ? validator.validate(json, { profile: values.profile, profileOnly: values['profile-only'] })
        : { ...validator.validate(json, { profile: values.profile }), ig: undefined };
    if (!report.valid && status === 0) status = 1;
    if (text) process.stdout.write(formatReport(file, report.issues, report.profiles, { color, showInfo: values.info, showNotices: values.notices, ig: report.ig }) + '\n');
    else outcomes.push(toOperationOutcome(report.issues));
  }
  if (!text) {
    process.stdout.write(JSON.stringify(outcomes.length === 1 ? outcomes[0] : outcomes, null, 2) + '\n');
  }
  return status;
}
