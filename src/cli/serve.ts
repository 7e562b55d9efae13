// `tddui serve`: runs the receiving server until SIGINT/SIGTERM (or the end of the npm process
// that launched it, see launcher.ts), then shuts down gracefully. It says what it is doing from
// its first instant: the server code (Fastify, the database drivers, the FHIR machinery) is
// loaded only after that first line, and each start-up step is reported as it starts and ends.
import type { StartOptions, StartupProgress } from '../server/app.js';
import { Command, parseOptions } from './args.js';
import { watchLauncher } from './launcher.js';
import { availableParallelism } from 'node:os';
import { DEFAULT_LIMITS } from '../server/limits.js';
import { pluralEn } from '../fhir/outcome/plural.js';

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
  --read-database URL
                    A read replica of --database (a PostgreSQL streaming standby),
                    repeatable (default: $TDDUI_READ_DATABASES, comma-separated). Searches,
                    reads, history, the web UI's pages and indicators are served from the
                    replicas (round robin); a client that has just written reads the primary
                    until a replica has replayed its write; a replica that is down is skipped
                    (probed every second). PostgreSQL only (docs/deployment.md).
  --no-named-statements
                    Send no named prepared statement to PostgreSQL (default: the write
                    statements are prepared once per connection; or $TDDUI_NO_NAMED_STATEMENTS=1).
                    For a connection pooler in transaction mode that does not carry them
                    (PgBouncer before 1.21, or without max_prepared_statements).
  --packages DIR    Where FHIR packages are found (repeatable; as in tddui validate): a
                    package cache, a folder of packages, a package folder or a .tgz.
                    Default: $TDDUI_PACKAGES, ./fhir-packages or ../shared/fhir-packages;
                    ~/.fhir/packages is always searched too.
  --ig ID           A TDDUI version accepted (repeatable, tried in order):
                    ans.fhir.fr.tddui#2.3.0 or 2.3.0. Default: every TDDUI version found,
                    newest first. A Bundle valid under one accepted version is accepted; a
                    versioned meta.profile (…|2.2.0) chooses its version. Another IG is
                    served beside TDDUI: --ig ans.fhir.fr.cds --ig ans.fhir.fr.cdl makes the
                    server the Gestionnaire of the circle of care and the liaison notebook
                    (with only volets given, every TDDUI version is still accepted).
  --log-level L     fatal, error, warn, info (default; or $LOG_LEVEL), debug, trace, silent.
                    Logs are JSON lines (pino) on standard output.
  --trust-proxy     Behind a reverse proxy: build links from X-Forwarded-Proto/-Host.
  --public-url URL  The server's public base URL (https://tddui.example.fr): links are built
                    from it, never from the Host a client sends (default: $TDDUI_PUBLIC_URL;
                    without it, from this machine's address).
  --limit NAME=N    Change a limit (repeatable): transactionBody, validateBody, writeBody
                    (bytes), bundleEntries, arrayLength, stringLength, requestTimeoutMs,
                    headersTimeoutMs, keepAliveTimeoutMs, requestsPerConnection,
                    connectionsPerAddress, writeRate, readRate (per client and window; 0 = off),
                    rateWindowMs, rejectedRetentionDays, rejectedTotalBytes. Defaults and
                    answers: docs/security.md.
  --validation-workers N
                    Threads that validate transaction Bundles and large $validate bodies off
                    the event loop (default: one per core; 0 = on the main thread). Each loads
                    the packages (a few seconds, ~300 MB); until one is ready the main thread
                    validates.
  --auth-jwks SRC   Require OAuth 2.0 bearer tokens (JWT) on /fhir and the UI, verified with
                    this JWKS: an https:// URL of the authorisation server, or a file
                    (default: $TDDUI_AUTH_JWKS). Without it the server is open: keep it on
                    127.0.0.1 or behind a gateway that authenticates.
  --auth-issuer I   Expected token issuer, iss (default: $TDDUI_AUTH_ISSUER).
  --auth-audience A Expected token audience, aud (default: $TDDUI_AUTH_AUDIENCE).
  --auth-finess-claim C
                    Token claim listing the FINESS numbers a client may send data for
                    (default: finess). Scopes: system/<Type|*>.read, .write (docs/security.md).
  --auth-read-finess-claim C, --auth-departement-claim C
                    Token claims restricting reads to the ESSMS of these FINESS numbers and
                    départements (default: read_finess, read_departements); a token with
                    either sees only those organisations' data, everywhere (docs/security.md).

Event notifications (NdE, with --ig ans.fhir.fr.nde; docs/notifications.md):
  --smtp URL        SMTP server of the e-mail notifications: smtp://[user:pass@]host:port
                    (STARTTLS when offered) or smtps://… (TLS); default $TDDUI_SMTP_URL.
  --smtp-from ADDR  Sender address of the e-mails (default $TDDUI_SMTP_FROM, else
                    notifications@<host>).
  --sms-gateway URL SMS gateway: each SMS is POSTed as JSON { to, text } (default
                    $TDDUI_SMS_GATEWAY); its bearer token in $TDDUI_SMS_TOKEN.
  --notify-secret S Signing secret of rest-hooks whose subscription names none (default
                    $TDDUI_NOTIFY_SECRET).
  --notify-retry B,M,N
                    Retries: first delay B ms (doubled each time up to M ms), parked after
                    N attempts (default 5000,600000,12).
  --notify-poll MS  How often the notification worker looks for work besides after each
                    write (default 1000).

  -h, --help        Show this help.

Start-up steps are reported on standard error as they happen (loading, opening the database
and applying its migrations, loading the FHIR packages, listening).

Stops on SIGINT (Ctrl-C) or SIGTERM: new requests are refused, requests in progress finish,
then the database is closed. Started through npm (npx tddui serve, npm exec, npm run), it also
stops when the npm process ends: kill -TERM of the npx process stops the server.
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
      'read-database': { type: 'string', multiple: true },
      'no-named-statements': { type: 'boolean', default: false },
      packages: { type: 'string', multiple: true },
      ig: { type: 'string', multiple: true },
      'log-level': { type: 'string' },
      'trust-proxy': { type: 'boolean', default: false },
      'public-url': { type: 'string' },
      'validation-workers': { type: 'string' },
      limit: { type: 'string', multiple: true },
      'auth-jwks': { type: 'string' },
      'auth-issuer': { type: 'string' },
      'auth-audience': { type: 'string' },
      'auth-finess-claim': { type: 'string' },
      'auth-read-finess-claim': { type: 'string' },
      'auth-departement-claim': { type: 'string' },
      smtp: { type: 'string' },
      'smtp-from': { type: 'string' },
      'sms-gateway': { type: 'string' },
      'notify-secret': { type: 'string' },
      'notify-retry': { type: 'string' },
      'notify-poll': { type: 'string' },
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
  const reads = values['read-database']?.length ? values['read-database'] : (env.TDDUI_READ_DATABASES ?? '').split(',').map((u) => u.trim()).filter(Boolean);
  if (reads.length && !database) return { error: '--read-database needs --database postgres://…: the embedded database has no replicas' };
  for (const u of reads) if (!/^postgres(ql)?:\/\//.test(u)) return { error: `--read-database must be a postgres:// URL (got "${u.replace(/:[^:@/]*@/, ':***@')}")` };
  if (database) options.database = database;
  else options.dataDir = values.data ?? './.tddui-data';
  if (reads.length) options.readDatabases = reads;
  if (values['no-named-statements'] || /^(1|true|yes|on)$/i.test(env.TDDUI_NO_NAMED_STATEMENTS ?? '')) options.namedStatements = false;
  if (values.packages?.length) options.packages = values.packages;
  if (values.ig?.length) options.igs = values.ig;
  if (values['trust-proxy']) options.trustProxy = true;
  const publicUrl = values['public-url'] ?? (env.TDDUI_PUBLIC_URL || undefined);
  if (publicUrl !== undefined) {
    if (!/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(publicUrl)) return { error: `--public-url must be an http(s) URL without query (got "${publicUrl}")` };
    options.publicUrl = publicUrl.replace(/\/+$/, '');
  }
  const workers = values['validation-workers'] ?? 'auto';
  if (workers === 'auto') options.validationWorkers = Math.min(8, availableParallelism());
  else if (/^\d{1,2}$/.test(workers)) options.validationWorkers = Number(workers);
  else return { error: `--validation-workers must be a number of threads or auto (got "${workers}")` };
  if (values.limit?.length) {
    const limits: Record<string, number> = {};
    for (const item of values.limit) {
      const m = /^([A-Za-z]+)=(\d+)$/.exec(item);
      if (!m || !(m[1]! in DEFAULT_LIMITS)) return { error: `invalid --limit "${item}" (NAME=N, NAME one of ${Object.keys(DEFAULT_LIMITS).join(', ')})` };
      limits[m[1]!] = Number(m[2]);
    }
    options.limits = limits;
  }
  const jwks = values['auth-jwks'] ?? (env.TDDUI_AUTH_JWKS || undefined);
  const issuer = values['auth-issuer'] ?? (env.TDDUI_AUTH_ISSUER || undefined);
  const audience = values['auth-audience'] ?? (env.TDDUI_AUTH_AUDIENCE || undefined);
  const finessClaim = values['auth-finess-claim'];
  const readFinessClaim = values['auth-read-finess-claim'];
  const departementClaim = values['auth-departement-claim'];
  if (jwks === undefined) {
    if (issuer !== undefined || audience !== undefined || finessClaim !== undefined || readFinessClaim !== undefined || departementClaim !== undefined) return { error: '--auth-issuer, --auth-audience and the --auth-…-claim options need --auth-jwks' };
  } else {
    if (jwks === '') return { error: '--auth-jwks needs a URL or a file' };
    if (/^http:\/\//.test(jwks) && !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(jwks)) return { error: `--auth-jwks must be an https:// URL (got "${jwks}")` };
    for (const [name, claim] of [['finess', finessClaim], ['read-finess', readFinessClaim], ['departement', departementClaim]] as const) {
      if (claim !== undefined && !/^[A-Za-z0-9_.:\-\/]{1,100}$/.test(claim)) return { error: `invalid --auth-${name}-claim "${claim}"` };
    }
    options.auth = { jwks, ...(issuer ? { issuer } : {}), ...(audience ? { audience } : {}), ...(finessClaim ? { finessClaim } : {}), ...(readFinessClaim ? { readFinessClaim } : {}), ...(departementClaim ? { departementClaim } : {}) };
  }
  const notify = notificationOptions(values, env);
  if ('error' in notify) return notify;
  if (notify.options) options.notifications = notify.options;
  return { options };
}

/** The notification settings of the command line (undefined: the defaults). */
function notificationOptions(values: Record<string, unknown>, env: NodeJS.ProcessEnv): { options?: NonNullable<StartOptions['notifications']> } | { error: string } {
  const o: Exclude<StartOptions['notifications'], false | undefined> = {};
  const smtp = (values.smtp as string | undefined) ?? (env.TDDUI_SMTP_URL || undefined);
  if (smtp !== undefined) {
    let u: URL;
    try {
      u = new URL(smtp);
    } catch {
      return { error: `--smtp must be smtp://host:port or smtps://host:port (got "${smtp}")` };
    }
    if ((u.protocol !== 'smtp:' && u.protocol !== 'smtps:') || !u.hostname) return { error: `--smtp must be smtp://host:port or smtps://host:port (got "${smtp}")` };
    const from = (values['smtp-from'] as string | undefined) ?? (env.TDDUI_SMTP_FROM || `notifications@${u.hostname}`);
    o.smtp = {
      host: u.hostname,
      port: Number(u.port || (u.protocol === 'smtps:' ? 465 : 25)),
      secure: u.protocol === 'smtps:',
      from,
      ...(u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : {}),
    };
  } else if (values['smtp-from'] !== undefined) return { error: '--smtp-from needs --smtp' };
  const sms = (values['sms-gateway'] as string | undefined) ?? (env.TDDUI_SMS_GATEWAY || undefined);
  if (sms !== undefined) {
    if (!/^https?:\/\/\S+$/.test(sms)) return { error: `--sms-gateway must be an http(s) URL (got "${sms}")` };
    o.smsGateway = { url: sms, ...(env.TDDUI_SMS_TOKEN ? { token: env.TDDUI_SMS_TOKEN } : {}) };
  }
  const secret = (values['notify-secret'] as string | undefined) ?? (env.TDDUI_NOTIFY_SECRET || undefined);
  if (secret !== undefined) o.defaultSecret = secret;
  const retry = values['notify-retry'] as string | undefined;
  if (retry !== undefined) {
    const m = /^(\d+),(\d+),(\d+)$/.exec(retry);
    if (!m || Number(m[3]) < 1) return { error: `--notify-retry must be BASE_MS,MAX_MS,ATTEMPTS (got "${retry}")` };
    o.retry = { baseMs: Number(m[1]), maxMs: Number(m[2]), maxAttempts: Number(m[3]) };
  }
  const poll = values['notify-poll'] as string | undefined;
  if (poll !== undefined) {
    if (!/^\d+$/.test(poll) || Number(poll) < 10) return { error: `--notify-poll must be a number of milliseconds ≥ 10 (got "${poll}")` };
    o.pollMs = Number(poll);
  }
  return Object.keys(o).length ? { options: o } : {};
}

const seconds = (ms: number | undefined) => `${((ms ?? 0) / 1000).toFixed(1)} s`;

/** The start-up line of each step, for a person watching the terminal. */
function progressLine(p: StartupProgress, options: StartOptions): string {
  const where = options.database ? `PostgreSQL${options.readDatabases?.length ? ` and ${pluralEn(options.readDatabases.length, 'read replica', 'read replicas')}` : ''}` : `the embedded database in ${options.dataDir}`;
  switch (`${p.step} ${p.state}`) {
    case 'database start':
      return `opening ${where} and applying pending migrations…`;
    case 'database done':
      return `database ready (${seconds(p.ms)})`;
    case 'packages start':
      return `loading the FHIR packages (${options.packages?.length ? options.packages.join(', ') : 'default locations'}) and compiling the profiles…`;
    case 'packages done':
      return `FHIR packages loaded (${seconds(p.ms)})`;
    case 'listen start':
      return `starting the HTTP server on ${options.host ?? '127.0.0.1'}:${options.port ?? 8080}…`;
    default:
      return '';
  }
}

export async function runServe(argv: string[]): Promise<number> {
  const parsed = parseServeArgs(argv);
  if ('help' in parsed) return cli.printHelp();
  if ('error' in parsed) return cli.usage(parsed.error);
  const t0 = performance.now();
  const say = (line: string) => {
    if (line) process.stderr.write(`tddui serve: ${line}\n`);
  };
  say(`starting (pid ${process.pid}, Node ${process.version}): loading the server…`);
  const { startServer } = await import('../server/app.js');
  // A stop asked for during start-up (migrations may be running) is honoured once the server is
  // up, then it shuts down cleanly; a second signal exits at once.
  let early: { signal: string; why?: string } | undefined;
  const earlyStop = (signal: string, why?: string) => {
    if (early && !why) {
      process.stderr.write(`tddui serve: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    early ??= { signal, why };
    say(`${why ?? `${signal} received`} during start-up: stopping once started`);
  };
  const onInt = () => earlyStop('SIGINT');
  const onTerm = () => earlyStop('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  let stopWatch = watchLauncher((why) => earlyStop('launcher-exit', why));
  let server;
  try {
    server = await startServer({ ...parsed.options, onProgress: (p) => say(progressLine(p, parsed.options)) });
  } catch (e) {
    stopWatch();
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.stderr.write(`tddui serve: cannot start: ${(e as Error).message}\n`);
    return 1;
  } finally {
    stopWatch();
  }
  process.off('SIGINT', onInt);
  process.off('SIGTERM', onTerm);
  const where = parsed.options.database ? `PostgreSQL${parsed.options.readDatabases?.length ? ` + ${pluralEn(parsed.options.readDatabases.length, 'read replica', 'read replicas')}` : ''}` : `embedded database in ${parsed.options.dataDir}`;
  const security = parsed.options.auth ? 'OAuth 2.0 bearer tokens required' : 'no authentication';
  say(`ready in ${seconds(performance.now() - t0)}`);
  process.stdout.write(`tddui server listening on ${server.url} (FHIR API: ${server.url}/fhir, ${where}, ${security})\n`);
  if (!parsed.options.auth && !isLoopback(parsed.options.host ?? '127.0.0.1')) {
    process.stderr.write('tddui serve: warning: listening beyond this machine without --auth-jwks: anyone who reaches the port can read and send data\n');
  }
  const running = server;
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string, why?: string) => {
      if (stopping) {
        // A second signal: the operator does not want to wait.
        process.stderr.write(`tddui serve: ${signal} again, exiting now\n`);
        process.exit(1);
      }
      stopping = true;
      stopWatch();
      running.app.log.info({ signal, ...(why ? { reason: why } : {}) }, 'shutting down');
      if (why) say(`${why}: shutting down`);
      running.close().then(
        () => resolve(0),
        (e: unknown) => {
          process.stderr.write(`tddui serve: error during shutdown: ${(e as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    // `kill -TERM` of `npx tddui serve` reaches npm, not this process: follow the launcher.
    stopWatch = watchLauncher((why) => stop('launcher-exit', why), {
      onFound: (l) => say(l ? `started by npm (pid ${l.pid}): stopping when it ends` : `started by npm: stopping when the parent process ${process.ppid} ends`),
    });
    if (early) stop(early.signal, early.why);
  });
}
