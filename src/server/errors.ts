// One error handler for the whole HTTP surface: whatever goes wrong becomes a FHIR
// OperationOutcome with the right status. Unexpected errors get a generic message and an
// error id that is logged with the stack, so that nothing internal leaks to clients.
import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { FhirResource } from '../storage/types.js';
import { sendResource, type XmlCodec } from './format.js';
import { FhirHttpError, operationOutcome } from './outcome.js';

interface Mapped {
  status: number;
  outcome: FhirResource;
  headers?: Record<string, string>;
}

const FASTIFY_CODES: Record<string, { code: string; en: string; fr: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'not-supported',
    en: 'Unsupported Content-Type',
    fr: 'Type de contenu (Content-Type) non pris en charge',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'too-costly', en: 'The request body is too large', fr: 'Le corps de la requête est trop volumineux' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'structure', en: 'Content-Length does not match the body', fr: 'Content-Length ne correspond pas au corps' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'structure', en: 'The request body is empty', fr: 'Le corps de la requête est vide' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'structure', en: 'The request body is not valid JSON', fr: 'Le corps de la requête n\u2019est pas du JSON valide' },
};

function mapError(err: unknown, req: FastifyRequest): Mapped {
  if (err instanceof FhirHttpError) return { status: err.status, outcome: err.toOutcome(), headers: err.headers };
  const e = err as Partial<FastifyError> & { name?: string; status?: number; issueCode?: string; expression?: string; message?: string };
  // StorageError (src/storage) and PatchError (src/fhir/patch) carry their HTTP status.
  if (e?.name === 'StorageError' && typeof e.status === 'number') {
    return { status: e.status, outcome: operationOutcome({ code: e.issueCode ?? 'processing', diagnostics: e.message ?? '', expression: e.expression }) };
  }
  if (e?.name === 'PatchError' && typeof e.status === 'number') {
    const own = (err as { toOperationOutcome?: () => FhirResource }).toOperationOutcome;
    return {
      status: e.status,
      outcome: typeof own === 'function' ? own.call(err) : operationOutcome({ code: e.issueCode ?? 'processing', diagnostics: `Patch failed: ${e.message}`, text: `Échec du patch : ${e.message}` }),
    };
  }
  if (e?.name === 'FhirXmlError') {
    return { status: 400, outcome: operationOutcome({ code: 'structure', diagnostics: `Unreadable FHIR XML: ${e.message}`, text: `XML FHIR illisible : ${e.message}` }) };
  }
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    const known = e.code ? FASTIFY_CODES[e.code] : undefined;
    if (known) {
      const ct = req.headers['content-type'];
      const detail = e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? `: ${ct ?? '(none)'}; use application/fhir+json or application/fhir+xml` : '';
      const detailFr = e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? ` : ${ct ?? '(aucun)'} ; utiliser application/fhir+json ou application/fhir+xml` : '';
      return { status, outcome: operationOutcome({ code: known.code, diagnostics: known.en + detail, text: known.fr + detailFr }) };
    }
    return { status, outcome: operationOutcome({ code: status === 404 ? 'not-found' : 'invalid', diagnostics: e.message ?? 'Bad request' }) };
  }
  if (status === 503) {
    return { status, outcome: operationOutcome({ code: 'transient', diagnostics: 'The server is shutting down or not ready', text: 'Le serveur s\u2019arrête ou n\u2019est pas prêt' }) };
  }
  const errorId = randomUUID();
  // The log line carries reqId too (pino child of the request): either id finds it.
  req.log.error({ err, errorId }, 'unexpected error');
  return {
    status: 500,
    outcome: operationOutcome({
      severity: 'fatal',
      code: 'exception',
      diagnostics: `Internal server error (error id ${errorId}, request id ${req.id})`,
      text: `Erreur interne du serveur (identifiant d'erreur ${errorId}, identifiant de requête ${req.id})`,
    }),
  };
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
