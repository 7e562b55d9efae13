// OAuth 2.0 bearer tokens for the receiving server (IG page `securite`: OAuth 2.0 / OpenID
// Connect; the IG sets no scopes or token format, so these are project choices, see
// docs/security.md). A token is a JWT signed by the authorisation server, checked against its
// JWKS (a URL, or a file for closed networks), its issuer and audience. What it allows:
//   - SMART-style scopes `system/<Type|*>.<read|write|*>` (v1) or `.<cruds letters>` (v2),
//     `user/` alike: reads need a read scope on every type returned, writes a write scope on
//     every type written;
//   - the FINESS claim (default `finess`: a string, a space- or comma-separated list, or an
//     array): a write is accepted only for an ESSMS named there — the owner FINESS of the data
//     (src/tddui/business-keys.ts ownerOf), the one the business keys are scoped to.
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { isFinessShaped } from '../tddui/rules/identifiers.js';
import { FhirError, HTTP_ERRORS } from './outcome.js';
import { normaliseDepartement, type ReadScope } from '../storage/scope.js';

export interface AuthOptions {
  /** JWKS of the authorisation server: an http(s) URL (fetched and cached by key id) or a file. */
  jwks: string;
  /** Expected `iss`; checked when given. */
  issuer?: string;
  /** Expected `aud` (one of them); checked when given. */
  audience?: string;
  /** Claim that lists the FINESS numbers a client may send data for (default `finess`). */
  finessClaim?: string;
  /**
   * Claims that restrict what a client may read (issue 18, src/storage/scope.ts): the FINESS
   * numbers (default `read_finess`) and the département codes (default `read_departements`) whose
   * ESSMS it may read. A token that carries either is restricted to them everywhere; one that
   * carries neither reads every organisation's data its scopes allow.
   */
  readFinessClaim?: string;
  departementClaim?: string;
  /** Accepted clock skew for exp/nbf/iat, in seconds (default 60). */
  clockToleranceSeconds?: number;
}

export type Access = 'read' | 'write';

/** Who sent a request, as its token says. */
export class Principal {
  constructor(
    /** `sub`, else `client_id` / `azp`. */
    readonly subject: string,
    private readonly grants: ReadonlyMap<string, ReadonlySet<Access>>,
    /** FINESS numbers this client may write for. */
    readonly finess: ReadonlySet<string>,
    /** The OAuth client (`client_id`, else `azp`), when the token names one. */
    readonly clientId?: string,
    /** The person the token stands for (SMART `fhirUser`: `Practitioner/…`, `PractitionerRole/…`, `RelatedPerson/…`, `Patient/…`); absent for a system client. */
    readonly fhirUser?: string,
    /** The token's `jti`, for the audit trail. */
    readonly tokenId?: string,
    /** The organisations and territories it may read (claims readFinessClaim / departementClaim); absent: not restricted. */
    readonly readScope?: ReadScope,
  ) {}

  /** Whether a scope names `type` itself (not through `*`): the audit trail needs one (decisions.md D-90). */
  canExplicitly(type: string, access: Access): boolean {
    return this.grants.get(type)?.has(access) === true;
  }

  /** Who sent it, as the submission log keeps it: the subject, and the client when it differs. */
  get label(): string {
    return this.clientId && this.clientId !== this.subject ? `${this.subject} (client ${this.clientId})` : this.subject;
  }

  /** Whether a scope grants `access` to resources of `type` (`*` grants every type). */
  can(type: string, access: Access): boolean {
    return this.grants.get(type)?.has(access) === true || this.grants.get('*')?.has(access) === true;
  }

  /** Whether the token grants `access` to every type (`system/*.read`…). */
  canAll(access: Access): boolean {
    return this.grants.get('*')?.has(access) === true;
  }
}

/** Asymmetric algorithms only: a shared secret would let every verifier mint tokens. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

const SCOPE = /^(?:system|user)\/([A-Za-z]+|\*)\.(read|write|\*|c?r?u?d?s?)$/;

/** The grants of a scope string (space-separated) or array: unknown scopes grant nothing. */
export function parseScopes(scope: unknown): Map<string, Set<Access>> {
  const list = typeof scope === 'string' ? scope.split(/\s+/) : Array.isArray(scope) ? scope.filter((s): s is string => typeof s === 'string') : [];
  const grants = new Map<string, Set<Access>>();
  for (const s of list) {
    const m = SCOPE.exec(s);
    if (!m || m[2] === '') continue;
    const [, type, perm] = m as unknown as [string, string, string];
    const set = grants.get(type) ?? new Set<Access>();
    // v1: read, write, *; v2: letters of cruds (read and search read; create, update, delete write).
    const v1 = perm === 'read' || perm === 'write' || perm === '*';
    if (perm === 'read' || perm === '*' || (!v1 && /[rs]/.test(perm))) set.add('read');
    if (perm === 'write' || perm === '*' || (!v1 && /[cud]/.test(perm))) set.add('write');
    if (set.size) grants.set(type, set);
  }
  return grants;
}

/** The FINESS numbers of the claim; values that are not FINESS-shaped are ignored (the key is not checked: see decisions.md D-9). */
export function parseFiness(claim: unknown): Set<string> {
  const list = typeof claim === 'string' ? claim.split(/[\s,]+/) : Array.isArray(claim) ? claim.filter((s): s is string => typeof s === 'string') : [];
  return new Set(list.map((s) => s.trim()).filter(isFinessShaped));
}

/**
 * The read scope of a token's claims: undefined when it carries neither claim (not restricted);
 * else the FINESS and départements listed (values that are neither are ignored — a claim of
 * nothing valid restricts to nothing).
 */
export function parseReadScope(finessClaim: unknown, departementClaim: unknown): ReadScope | undefined {
  if (finessClaim === undefined && departementClaim === undefined) return undefined;
  const list = (v: unknown) => (typeof v === 'string' ? v.split(/[\s,]+/) : Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
  const departements = new Set<string>();
  for (const d of list(departementClaim)) {
    const n = normaliseDepartement(d);
    if (n) departements.add(n);
  }
  return { finess: [...parseFiness(finessClaim)], departements: [...departements] };
}

/** SMART's `fhirUser` claim as `Type/id` (a relative or absolute URL of a person resource); other values are ignored. */
export function parseFhirUser(claim: unknown): string | undefined {
  if (typeof claim !== 'string') return undefined;
  const m = /(?:^|\/)(Practitioner|PractitionerRole|RelatedPerson|Patient)\/([A-Za-z0-9\-.]{1,64})$/.exec(claim.trim());
  return m ? `${m[1]}/${m[2]}` : undefined;
}

const CHALLENGE = 'Bearer realm="tddui"';

/** 401, with the RFC 6750 challenge. */
export function unauthorized(en: string, fr: string, error?: 'invalid_request' | 'invalid_token'): FhirError {
  // A header value is ASCII: quotes, backslashes and anything outside printable ASCII are dropped.
  const header = error ? `${CHALLENGE}, error="${error}", error_description="${en.replace(/["\\]|[^\x20-\x7e]/g, '')}"` : CHALLENGE;
  return new FhirError(HTTP_ERRORS.UNAUTHORIZED, { detail: en, detailFr: fr }, { headers: { 'www-authenticate': header } });
}

export function forbidden(en: string, fr: string, expression?: string): FhirError {
  return new FhirError(HTTP_ERRORS.FORBIDDEN, { detail: en, detailFr: fr }, expression ? { expression } : {});
}

export class Authenticator {
  private constructor(
    private readonly keys: JWTVerifyGetKey,
    private readonly options: AuthOptions,
  ) {}

  /** Loads the JWKS (a file is read now, so a wrong path fails at start-up, not at the first request). */
  static async create(options: AuthOptions): Promise<Authenticator> {
    let keys: JWTVerifyGetKey;
    if (/^https?:\/\//.test(options.jwks)) {
      keys = createRemoteJWKSet(new URL(options.jwks), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
    } else {
      let set: JSONWebKeySet;
      try {
        set = JSON.parse(await readFile(options.jwks, 'utf8')) as JSONWebKeySet;
      } catch (e) {
        throw new Error(`cannot read the JWKS file ${options.jwks}: ${(e as Error).message}`);
      }
      if (!set || !Array.isArray(set.keys) || set.keys.length === 0) throw new Error(`the JWKS file ${options.jwks} holds no key ("keys": [...])`);
      keys = createLocalJWKSet(set);
    }
    return new Authenticator(keys, options);
  }

  /** The principal of an `Authorization` header; a 401 FhirError when it carries no valid token. */
  async authenticate(header: string | string[] | undefined): Promise<Principal> {
    if (header === undefined || header === '') throw unauthorized('Authentication required: send an OAuth 2.0 bearer token (Authorization: Bearer …)', 'Authentification requise : envoyez un jeton OAuth 2.0 (Authorization: Bearer …)');
    const value = Array.isArray(header) ? header[0] ?? '' : header;
    const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(value.trim());
    if (!m) throw unauthorized('The Authorization header is not "Bearer <token>"', 'L’en-tête Authorization n’est pas de la forme « Bearer <jeton> »', 'invalid_request');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(m[1]!, this.keys, {
        algorithms: ALGORITHMS,
        clockTolerance: this.options.clockToleranceSeconds ?? 60,
        ...(this.options.issuer ? { issuer: this.options.issuer } : {}),
        ...(this.options.audience ? { audience: this.options.audience } : {}),
      }));
    } catch (e) {
      // The authorisation server's keys could not be fetched: the server's problem, not the client's.
      if (keysUnavailable(e)) {
        throw new FhirError(HTTP_ERRORS.AUTH_KEYS_UNAVAILABLE, { detail: (e as Error).message }, { headers: { 'retry-after': '30' } });
      }
      const [en, fr] = tokenError(e);
      throw unauthorized(en, fr, 'invalid_token');
    }
    if (payload.exp === undefined) throw unauthorized('The token has no expiry (exp)', 'Le jeton n’a pas de date d’expiration (exp)', 'invalid_token');
    const subject = [payload.sub, payload.client_id, payload.azp].find((s): s is string => typeof s === 'string') ?? '(unnamed client)';
    const scopes = parseScopes(payload.scope ?? payload.scp);
    const clientId = [payload.client_id, payload.azp].find((s): s is string => typeof s === 'string');
    const readScope = parseReadScope(payload[this.options.readFinessClaim ?? 'read_finess'], payload[this.options.departementClaim ?? 'read_departements']);
    return new Principal(subject, scopes, parseFiness(payload[this.options.finessClaim ?? 'finess']), clientId, parseFhirUser(payload.fhirUser), typeof payload.jti === 'string' ? payload.jti : undefined, readScope);
  }
}

/** A fetch of the remote JWKS failed (network, timeout, not 200 — jose's generic error — or not a JWKS). */
function keysUnavailable(e: unknown): boolean {
  if (!(e instanceof joseErrors.JOSEError)) return true;
  return e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JWKSInvalid || e.code === 'ERR_JOSE_GENERIC';
}

/** A sentence for each way a token can fail (jose's own messages are kept in English). */
function tokenError(e: unknown): [string, string] {
  if (e instanceof joseErrors.JWTExpired) return ['The token has expired', 'Le jeton a expiré'];
  if (e instanceof joseErrors.JWTClaimValidationFailed) return [`The token was refused: ${e.message}`, `Le jeton a été refusé (revendication ${e.claim}) : ${e.message}`];
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return ['The token signature is not valid', 'La signature du jeton n’est pas valide'];
  if (e instanceof joseErrors.JWKSNoMatchingKey) return ['The token was signed with a key the server does not know', 'Le jeton est signé par une clé inconnue du serveur'];
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return ['The token uses a signature algorithm that is not accepted', 'Le jeton utilise un algorithme de signature refusé'];
  if (e instanceof joseErrors.JWTInvalid || e instanceof joseErrors.JWSInvalid) return [`The token is not a valid JWT: ${e.message}`, `Le jeton n’est pas un JWT valide : ${e.message}`];
  return [`The token is not valid: ${(e as Error).message}`, `Le jeton n’est pas valide : ${(e as Error).message}`];
}
