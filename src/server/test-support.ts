// Test helpers for the HTTP tests: a real server on a random port, on the embedded database
// or on a fresh PostgreSQL database; HTTP calls; a dump of the tables; signed bearer tokens.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { EXAMPLES_DIR, SHARED_FHIR } from '../testing/paths.js';
import { createTestDatabase, postgresUnavailable, TEST_PG_ADMIN_URL } from '../storage/testing.js';
import type { Repository } from '../storage/types.js';
import type { AuthOptions } from './auth.js';
import { startServer, type RunningServer, type StartOptions } from './app.js';

export type DbKind = 'embedded' | 'postgres';

// The throw-away PostgreSQL databases are the storage tests' own helpers.
export { createTestDatabase, postgresUnavailable };

/**
 * The reason to skip the PostgreSQL tests, or undefined to run them. Under CI=true an absent
 * PostgreSQL is a failure, never a skip: the error is thrown.
 */
export async function postgresSkipReason(): Promise<string | undefined> {
  const down = await postgresUnavailable();
  const reason = down && `PostgreSQL is not reachable at ${TEST_PG_ADMIN_URL}: ${down}`;
  if (reason && process.env.CI === 'true') throw new Error(`${reason} (CI=true: PostgreSQL is required)`);
  return reason;
}

export interface TestServer extends RunningServer {
  base: string;
  stop(): Promise<void>;
}

/** A real server on 127.0.0.1, random port, with the shared IG packages. */
export async function startTestServer(kind: DbKind, extra: Pick<StartOptions, 'auth' | 'modules' | 'packages' | 'igs' | 'notifications' | 'validationWorkers' | 'limits'> = {}): Promise<TestServer> {
  const db = kind === 'postgres' ? await createTestDatabase() : undefined;
  const opts = { port: 0, host: '127.0.0.1', packages: [SHARED_FHIR], logLevel: process.env.TDDUI_TEST_LOG ?? 'silent', ...extra };
  let server: RunningServer;
  try {
    server = await startServer(db ? { ...opts, database: db.url } : { ...opts, dataDir: 'memory://' });
  } catch (e) {
    await db?.drop();
    throw e;
  }
  return {
    ...server,
    base: `${server.url}/fhir`,
    async stop() {
      try {
        await server.close();
      } finally {
        await db?.drop();
      }
    },
  };
}

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body when the response is JSON. */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function http(
  url: string,
  init: { method?: string; body?: unknown; type?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['content-type'] ??= init.type ?? 'application/fhir+json';
  }
  const res = await fetch(url, { method: init.method ?? (body !== undefined ? 'POST' : 'GET'), headers, body });
  const text = await res.text();
  let json: unknown;
  if (/json/.test(res.headers.get('content-type') ?? '') && text !== '') json = JSON.parse(text);
  return { status: res.status, headers: res.headers, text, json };
}

export function readExample(file: string): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  return JSON.parse(readFileSync(join(EXAMPLES_DIR, file), 'utf8'));
}

/**
 * Every row of every table, as sorted JSON text per table: two dumps are equal when the
 * data are the same. `submission` is left out by default (it logs rejected Bundles by design),
 * `audit_event` always (it records every access, refusals included).
 */
export async function dumpTables(repo: Repository, exclude: string[] = ['submission']): Promise<Record<string, string[]>> {
  // The derived refresh of what was written, done first (D-356): a drain in the background
  // between two dumps would otherwise show as a change made by what they bracket.
  await repo.drainDerived();
  const { rows } = await repo.db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`,
  );
  const out: Record<string, string[]> = {};
  for (const { table_name } of rows) {
    // The audit trail records every request, refused ones included, by design (D-90).
    if (exclude.includes(table_name) || table_name === 'audit_event') continue;
    const r = await repo.db.query<{ j: string }>(`SELECT row_to_json(t)::text AS j FROM "${table_name}" t`);
    out[table_name] = r.rows.map((x) => x.j).sort();
  }
  return out;
}

/** `Patient/abc/_history/2` (or a full URL ending so) -> parts. */
export function parseLocation(location: string): { type: string; id: string; version: number } {
  const m = /([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]+)\/_history\/(\d+)$/.exec(location);
  if (!m) throw new Error(`not a versioned location: ${location}`);
  return { type: m[1]!, id: m[2]!, version: Number(m[3]) };
}

export const TEST_ISSUER = 'https://auth.example.test/realms/tddui';
export const TEST_AUDIENCE = 'tddui-receiver';

export interface SignedTokens {
  issuer: string;
  audience: string;
  kid: string;
  /** The public key (ES256), as a JWKS served over HTTP would list it. */
  jwk: JWK;
  /** A JWKS file holding that key alone. */
  jwksPath: string;
  /** The server's auth options: that file, the issuer and the audience. */
  auth: AuthOptions;
  /**
   * A JWT signed with the private key: `iss`, `aud`, `iat`, `exp` (10 minutes unless `expiresIn`)
   * and `sub` (`claims.sub`, else `client-test`) set; `issuer`/`audience` override the defaults
   * (for tokens the server must refuse).
   */
  sign(claims: Record<string, unknown>, opts?: { expiresIn?: string | number; issuer?: string; audience?: string }): Promise<string>;
}

/**
 * An ES256 key pair of an authorisation server made for a test: its JWKS file, the matching
 * server options and a signer. Another call gives another key (`kid` tells them apart), e.g. one
 * the server does not know.
 */
export async function signedTokens(opts: { issuer?: string; audience?: string; kid?: string } = {}): Promise<SignedTokens> {
  const issuer = opts.issuer ?? TEST_ISSUER;
  const audience = opts.audience ?? TEST_AUDIENCE;
  const kid = opts.kid ?? 'k1';
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const jwksPath = join(mkdtempSync(join(tmpdir(), 'tddui-jwks-')), 'jwks.json');
  writeFileSync(jwksPath, JSON.stringify({ keys: [jwk] }));
  return {
    issuer,
    audience,
    kid,
    jwk,
    jwksPath,
    auth: { jwks: jwksPath, issuer, audience },
    sign: (claims, o = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid })
        .setIssuedAt()
        .setIssuer(o.issuer ?? issuer)
        .setAudience(o.audience ?? audience)
        .setSubject(String(claims.sub ?? 'client-test'))
        .setExpirationTime(o.expiresIn ?? '10m')
        .sign(privateKey),
  };
}
