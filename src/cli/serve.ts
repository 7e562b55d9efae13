// `tddui serve`: runs the receiving server until SIGINT/SIGTERM, then shuts down gracefully.
import { startServer, type StartOptions } from '../server/app.js';
import { Command, parseOptions } from './args.js';

export const SERVE_HELP = `Usage: tddui serve [options]

Runs the TDDUI receiving server (FHIR API under /fhir, web UI at /, /healthz).
Without --database it keeps its data in an embedded PostgreSQL (PGlite) folder: no database
server is needed.

Options:
  --port N          Port to listen on (default: $PORT, else 8080; 0 = any free port).
  --host H          Interface to listen on (default 127.0.0.1; 0.0.0.0 for every interface).
  --data DIR        Folder of the embedded database (default ./.tddui-data).
  --database URL    PostgreSQL database postgres://user@host:5432/db (default: $DATABASE_URL);
                    replaces the embedded database.
  --packages DIR    Where FHIR packages are found (repeatable; as in tddui validate): a
                    package cache, a folder of packages, a package folder or a .tgz.
                    Default: $TDDUI_PACKAGES, ./fhir-packages or ../shared/fhir-packages;
                    ~/.fhir/packages is always searched too.
  --ig ID           A TDDUI version accepted (repeatable, tried in order):
                    ans.fhir.fr.tddui#2.3.0 or 2.3.0. Default: every TDDUI version found,
                    newest first. A Bundle valid under one accepted version is accepted; a
                    versioned meta.profile (…|2.2.0) chooses its version.
  --log-level L     fatal, error, warn, info (default; or $LOG_LEVEL), debug, trace, silent.
                    Logs are JSON lines (pino) on standard output.
  --trust-proxy     Behind a reverse proxy: build links from X-Forwarded-Proto/-Host.
  --auth-jwks SRC   Require OAuth 2.0 bearer tokens (JWT) on /fhir and the UI, verified with
                    this JWKS: an https:// URL of the authorisation server, or a file
                    (default: $TDDUI_AUTH_JWKS). Without it the server is open: keep it on
                    127.0.0.1 or behind a gateway that authenticates.
  --auth-issuer I   Expected token issuer, iss (default: $TDDUI_AUTH_ISSUER).
  --auth-audience A Expected token audience, aud (default: $TDDUI_AUTH_AUDIENCE).
  --auth-finess-claim C
                    Token claim listing the FINESS numbers a client may send data for
                    (default: finess). Scopes: system/<Type|*>.read, .write (docs/security.md).
  -h, --help        Show this help.

Stops on SIGINT (Ctrl-C) or SIGTERM: new requests are refused, requests in progress finish,
then the database is closed.
`;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

const cli = new Command('serve', SERVE_HELP);

/** Parses the options into StartOptions, or returns a usage error message. */
export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): { options: StartOptions } | { help: true } | { error: string } {
  const parsed = parseOptions(
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      database: { type: 'string' },
      packages: { type: 'string', multiple: true },
      ig: { type: 'string', multiple: true },
      'log-level': { type: 'string' },
      'trust-proxy': { type: 'boolean', default: false },
      'auth-jwks': { type: 'string' },
      'auth-issuer': { type: 'string' },
      'auth-audience': { type: 'string' },
      'auth-finess-claim': { type: 'string' },
    },
    { positionals: false },
  );
  if ('error' in parsed) return parsed;
  const { values } = parsed;
  if (values.help) return { help: true };
  const portText = values.port ?? env.PORT ?? '8080';
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return { error: `invalid port "${portText}"` };
  const level = values['log-level'] ?? env.LOG_LEVEL ?? 'info';
  if (!LEVELS.has(level)) return { error: `invalid log level "${level}" (${[...LEVELS].join(', ')})` };
  if (values.data !== undefined && values.database !== undefined) return { error: '--data and --database exclude each other' };
  const database = values.database ?? (values.data === undefined ? env.DATABASE_URL || undefined : undefined);
  if (database !== undefined && !/^postgres(ql)?:\/\//.test(database)) return { error: `--database must be a postgres:// URL (got "${database}")` };
  const options: StartOptions = { port: Number(portText), host: values.host ?? '127.0.0.1', logLevel: level };
  if (database) options.database = database;
  else options.dataDir = values.data ?? './.tddui-data';
  if (values.packages?.length) options.packages = values.packages;
  if (values.ig?.length) options.igs = values.ig;
  if (values['trust-proxy']) options.trustProxy = true;
  const jwks = values['auth-jwks'] ?? (env.TDDUI_AUTH_JWKS || undefined);
  const issuer = values['auth-issuer'] ?? (env.TDDUI_AUTH_ISSUER || undefined);
  const audience = values['auth-audience'] ?? (env.TDDUI_AUTH_AUDIENCE || undefined);
  const finessClaim = values['auth-finess-claim'];
  if (jwks === undefined) {
    if (issuer !== undefined || audience !== undefined || finessClaim !== undefined) return { error: '--auth-issuer, --auth-audience and --auth-finess-claim need --auth-jwks' };
  } else {
    if (jwks === '') return { error: '--auth-jwks needs a URL or a file' };
    if (/^http:\/\//.test(jwks) && !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(jwks)) return { error: `--auth-jwks must be an https:// URL (got "${jwks}")` };
    if (finessClaim !== undefined && !/^[A-Za-z0-9_.:\-\/]{1,100}$/.test(finessClaim)) return { error: `invalid --auth-finess-claim "${finessClaim}"` };
    options.auth = { jwks, ...(issuer ? { issuer } : {}), ...(audience ? { audience } : {}), ...(finessClaim ? { finessClaim } : {}) };
  }
  return { options };
}

export async function runServe(argv: string[]): Promise<number> {
  const parsed = parseServeArgs(argv);
  if ('help' in parsed) return cli.printHelp();
  if ('error' in parsed) return cli.usage(parsed.error);
  let server;
  try {
    server = await startServer(parsed.options);
  } catch (e) {
    process.stderr.write(`tddui serve: cannot start: ${(e as Error).message}\n`);
    return 1;
  }
  const where = parsed.options.database ? 'PostgreSQL' : `embedded database in ${parsed.options.dataDir}`;
  const security = parsed.options.auth ? 'OAuth 2.0 bearer tokens required' : 'no authentication';
  process.stdout.write(`tddui server listening on ${server.url} (FHIR API: ${server.url}/fhir, ${where}, ${security})\n`);
  if (!parsed.options.auth && !isLoopback(parsed.options.host ?? '127.0.0.1')) {
    process.stderr.write('tddui serve: warning: listening beyond this machine without --auth-jwks: anyone who reaches the port can read and send data\n');
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        // A second signal: the operator does not want to wait.
        process.stderr.write(`tddui serve: ${signal} again, exiting now\n`);
        process.exit(1);
      }
      stopping = true;
      server.app.log.info({ signal }, 'shutting down');
      server.close().then(
        () => resolve(0),
        (e: unknown) => {
          process.stderr.write(`tddui serve: error during shutdown: ${(e as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}
