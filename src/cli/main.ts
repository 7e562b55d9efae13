#!/usr/bin/env node
// The `tddui` command line.
import { runValidate, VALIDATE_HELP } from './validate.js';

const HELP = `Usage: tddui <command> [options]

Commands:
  validate   Validate FHIR files and folders (JSON, XML) against the TDDUI IG (see: tddui validate --help)
  rules      List the rule ids of the reports, or explain one with an example of the fix (see: tddui rules --help)
  serve      Run the receiving server (see: tddui serve --help)
  reindex    Rebuild the search index for the packages' SearchParameters (see: tddui reindex --help)
  build      Build TDDUI transaction Bundles from pivot documents (see: tddui build --help)
  read       Read TDDUI Bundles back into pivot documents (see: tddui read --help)
  generate   Generate deterministic synthetic usagers (see: tddui generate --help)
  send       Post Bundles to a FHIR server with retries (see: tddui send --help)
  xdm        Pack / read an IHE XDM zip of documents for MSSanté (CI-SIS EDS; see: tddui xdm --help)
  publish    Publish documents to a PDSm / MHD document sharing server, ITI-105 (see: tddui publish --help)
  export     Bulk-export a server's data as NDJSON files ($export; see: tddui export --help)

Options:
  -h, --help     Show this help
  --version      Show the version
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'validate':
      return runValidate(rest);
    case 'rules':
      return (await import('./rules.js')).runRules(rest);
    case 'serve':
      // Loaded on demand: validate does not need Fastify or the database drivers.
      return (await import('./serve.js')).runServe(rest);
    case 'reindex':
      return (await import('./reindex.js')).runReindex(rest);
    // Producer commands, loaded on demand too.
    case 'build':
      return (await import('./build.js')).runBuild(rest);
    case 'read':
      return (await import('./read.js')).runRead(rest);
    case 'generate':
      return (await import('./generate.js')).runGenerate(rest);
    case 'send':
      return (await import('./send.js')).runSend(rest);
    case 'xdm':
      return (await import('./xdm.js')).runXdm(rest);
    case 'publish':
      return (await import('./publish.js')).runPublish(rest);
    case 'export':
      return (await import('./export.js')).runExport(rest);
    case '--version': {
      const { createRequire } = await import('node:module');
      const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string };
      process.stdout.write(`${pkg.version}\n`);
      return 0;
    }
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(HELP);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`tddui: unknown command "${command}"\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tddui: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 2;
  },
);

export { VALIDATE_HELP };
