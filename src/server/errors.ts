// One error handler for the whole HTTP surface: whatever goes wrong becomes a FHIR
// OperationOutcome with the right status. Errors are matched by class (FhirError of the
// catalogue, PatchError, FhirXmlError, Fastify's own); unexpected errors get a generic message
// and an error id that is logged with the stack, so that nothing internal leaks to clients.
import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { FhirResource } from '../fhir/json.js';
import { PatchError } from '../fhir/patch/index.js';
import { FhirXmlError } from '../fhir/xml/index.js';
import { sendResource, type XmlCodec } from './format.js';
import { FhirError, HTTP_ERRORS } from './outcome.js';

interface Mapped {
  status: number;
  outcome: FhirResource;
  headers?: Record<string, string>;
}

/** Fastify's own client errors, by their code, as catalogue entries. */
const FASTIFY_CODES: Record<string, (req: FastifyRequest) => FhirError> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: (req) => new FhirError(HTTP_ERRORS.CONTENT_TYPE, { type: req.headers['content-type'] ?? '(none)' }),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new FhirError(HTTP_ERRORS.BODY_TOO_LARGE),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new FhirError(HTTP_ERRORS.BODY_LENGTH),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new FhirError(HTTP_ERRORS.BODY_EMPTY, { what: 'a FHIR JSON resource', whatFr: 'une ressource FHIR JSON' }),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new FhirError(HTTP_ERRORS.BODY_NOT_JSON, { detail: 'syntax error', detailFr: 'erreur de syntaxe' }),
};

/** The catalogue error an error stands for, or undefined for an unexpected one. */
export function toFhirError(err: unknown, req: FastifyRequest): FhirError | undefined {
  if (err instanceof FhirError) return err;
  if (err instanceof PatchError) {
    const args = { detail: err.message, detailFr: err.messageFr };
    const e = new FhirError(HTTP_ERRORS.PATCH_FAILED, args, { outcome: err.toOperationOutcome() as unknown as FhirResource });
    return err.status === 400 ? new FhirError({ ...HTTP_ERRORS.PATCH_FAILED, status: 400, code: err.issueCode }, args, { outcome: err.toOperationOutcome() as unknown as FhirResource }) : e;
  }
  if (err instanceof FhirXmlError) return new FhirError(HTTP_ERRORS.XML_UNREADABLE, { detail: err.message, detailFr: err.messageFr });
  const e = err as Partial<FastifyError>;
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    const known = e.code ? FASTIFY_CODES[e.code] : undefined;
    if (known) return known(req);
    const def = status === 404 ? HTTP_ERRORS.NOT_FOUND_PATH : { ...HTTP_ERRORS.SEARCH_BAD_VALUE, status, id: 'http-client-error', summary: 'Another client error.' };
    return new FhirError(def, { method: req.method, path: req.url.split('?')[0]!, detail: e.message ?? 'Bad request', detailFr: `requête invalide (${e.code ?? status})` });
  }
  if (status === 503) return new FhirError(HTTP_ERRORS.UNAVAILABLE);
  return undefined;
}

/**
 * An unexpected error as logged: without health data. A database error's message, detail and
 * position may quote the row or the request (names, INS, birth dates): only its SQLSTATE code,
 * severity, routine and the names of what it concerns are kept. Other errors keep their message
 * and stack (they come from the code).
 */
export function loggableError(err: unknown): Record<string, unknown> {
  if (typeof err !== 'object' || err === null) return { type: typeof err };
  const e = err as Record<string, unknown> & { name?: string; message?: string; stack?: string };
  const fromDatabase = typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && ('severity' in e || 'routine' in e);
  if (fromDatabase) {
    const out: Record<string, unknown> = { type: e.name ?? 'DatabaseError', code: e.code };
    for (const k of ['severity', 'routine', 'table', 'column', 'constraint', 'dataType', 'schema']) if (typeof e[k] === 'string') out[k] = e[k];
    // The stack without its first line (the message).
    if (typeof e.stack === 'string') out.stack = e.stack.split('\n').slice(1).join('\n');
    return out;
  }
  return { type: e.name ?? e.constructor?.name, message: e.message, stack: e.stack, ...(typeof e.code === 'string' ? { code: e.code } : {}) };
}

function mapError(err: unknown, req: FastifyRequest): Mapped {
  const known = toFhirError(err, req);
  if (known) return { status: known.status, outcome: known.toOutcome(), headers: known.headers };
  const errorId = randomUUID();
  // The log line carries reqId too (pino child of the request): either id finds it.
  req.log.error({ err: loggableError(err), errorId }, 'unexpected error');
  const internal = new FhirError(HTTP_ERRORS.INTERNAL, { errorId, requestId: req.id });
  const outcome = internal.toOutcome();
  (outcome.issue as Record<string, unknown>[])[0]!.severity = 'fatal';
  return { status: 500, outcome };
}

/** Fastify error handler: logs client errors at info level, sends the OperationOutcome. */
export function errorReply(err: unknown, req: FastifyRequest, reply: FastifyReply, xml: XmlCodec | undefined): FastifyReply {
  const { status, outcome, headers } = mapError(err, req);
  if (status < 500) {
    // Issue type and location only: messages may quote submitted values (health data).
    const first = (outcome.issue as { code?: string; expression?: string[] }[])[0];
    req.log.info({ status, issue: first?.code, expression: first?.expression?.[0] }, 'request rejected');
  }
  // A failed negotiation leaves the format unset: JSON then.
  if (status === 406) req.fhirFormat = 'json';
  return sendResource(reply, status, outcome, xml, headers ?? {});
}
