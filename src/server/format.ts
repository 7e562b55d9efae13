// Formats of the FHIR API: body parsers (JSON, XML, JSON Patch, forms) and response
// negotiation (`_format`, then `Accept`), JSON by default.
import { errorCodes, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { FhirResource } from '../storage/types.js';
import { describeJsonSyntaxError } from '../fhir/input.js';
import { jsonDepthExceeds } from '../fhir/text.js';
import { FhirXmlError } from '../fhir/xml/index.js';
import { FhirError, HTTP_ERRORS } from './outcome.js';

export type ResponseFormat = 'json' | 'xml';
export type BodyKind = 'json' | 'xml' | 'json-patch' | 'form';

/** JSON <-> XML conversion of FHIR resources (src/fhir/xml), injected so the server works without it. */
export interface XmlCodec {
  toXml(resource: object): string;
  fromXml(xml: string): FhirResource;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** How the body was sent (set by the FHIR body parsers). */
    fhirBodyKind?: BodyKind;
    /** The body's text when it could not be read as FHIR JSON or XML (kept in the submission log). */
    fhirUnreadableBody?: string;
    /**
     * The JSON body's bytes, kept when a validation pool may need them (a transaction Bundle is
     * validated in a worker from its text: src/server/validation-pool.ts).
     */
    fhirBodyBytes?: Buffer;
    /** The body was read by a validation worker, which checked its value limits (entries, arrays, strings). */
    fhirBodyChecked?: boolean;
    /** Negotiated response format (set by the FHIR onRequest hook). */
    fhirFormat?: ResponseFormat;
    /** A read of a Binary whose client asks for no FHIR format: the bytes themselves (ITI-68). */
    fhirRawBinary?: boolean;
  }
}

/**
 * Whether a read of a Binary answers its bytes rather than the Binary resource (FHIR binary.html
 * "Serving Binary Resources using the RESTful API", IHE MHD ITI-68): when neither `_format` nor
 * the Accept header names a FHIR format (JSON or XML); an absent Accept or `*\/*` gets the bytes.
 */
export function wantsRawBinary(method: string, url: string, query: Record<string, unknown>, accept: string | undefined): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  if (!/^\/fhir\/Binary\/[A-Za-z0-9\-.]{1,64}(\/_history\/\d{1,9})?\/?(\?|$)/.test(url)) return false;
  if (query._format !== undefined) return false;
  return !/json|xml/i.test(accept ?? '');
}

export const JSON_TYPES = ['application/fhir+json', 'application/json'];
export const XML_TYPES = ['application/fhir+xml', 'application/xml'];
export const JSON_PATCH_TYPE = 'application/json-patch+json';
export const FORM_TYPE = 'application/x-www-form-urlencoded';

export const CONTENT_TYPE: Record<ResponseFormat, string> = {
  json: 'application/fhir+json; charset=utf-8',
  xml: 'application/fhir+xml; charset=utf-8',
};

const FORMAT_PARAM: Record<string, ResponseFormat> = {
  json: 'json',
  'application/json': 'json',
  'application/fhir+json': 'json',
  xml: 'xml',
  'text/xml': 'xml',
  'application/xml': 'xml',
  'application/fhir+xml': 'xml',
};

const ACCEPT_TYPES: Record<string, ResponseFormat> = {
  'application/fhir+json': 'json',
  'application/json': 'json',
  // The NDJSON files of a bulk export (server/bulk-export.ts); errors there come as JSON.
  'application/fhir+ndjson': 'json',
  'application/ndjson': 'json',
  // The alert stream of a subscription (server/notifications.ts, $events); errors there come as JSON.
  'text/event-stream': 'json',
  'application/fhir+xml': 'xml',
  'application/xml': 'xml',
  'text/xml': 'xml',
};

interface AcceptRange {
  type: string;
  q: number;
  fhirVersion?: string;
  order: number;
}

function parseAccept(header: string): AcceptRange[] {
  const out: AcceptRange[] = [];
  header.split(',').forEach((part, order) => {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    if (!type) return;
    let q = 1;
    let fhirVersion: string | undefined;
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const k = p.slice(0, eq).trim().toLowerCase();
      const v = p.slice(eq + 1).trim().replace(/^"|"$/g, '');
      if (k === 'q') q = Number.isFinite(Number(v)) ? Number(v) : 0;
      else if (k === 'fhirversion') fhirVersion = v;
    }
    out.push({ type: type.toLowerCase(), q, fhirVersion, order });
  });
  return out.sort((a, b) => b.q - a.q || a.order - b.order);
}

/**
 * The response format of a request: `_format` wins over `Accept`; JSON when neither says.
 * Throws a 406 FhirError when nothing offered is acceptable.
 */
export function negotiateFormat(query: Record<string, unknown>, accept: string | undefined, xmlAvailable: boolean): ResponseFormat {
  const raw = query._format;
  const fmt = Array.isArray(raw) ? raw[0] : raw;
  if (typeof fmt === 'string' && fmt !== '') {
    const f = FORMAT_PARAM[fmt.trim().toLowerCase().split(';')[0]!.trim()];
    if (!f || (f === 'xml' && !xmlAvailable)) {
      throw new FhirError(HTTP_ERRORS.FORMAT, { format: fmt });
    }
    return f;
  }
  if (!accept || accept.trim() === '') return 'json';
  for (const r of parseAccept(accept)) {
    if (r.q <= 0) continue;
    if (r.fhirVersion && !r.fhirVersion.startsWith('4.0')) continue;
    const direct = ACCEPT_TYPES[r.type];
    if (direct === 'json') return 'json';
    if (direct === 'xml' && xmlAvailable) return 'xml';
    // Wildcards (browsers send `text/html,…,*/*;q=0.8`): our default.
    if (r.type === '*/*' || r.type === 'application/*') return 'json';
    if (r.type === 'text/*' && xmlAvailable) return 'xml';
  }
  throw new FhirError(HTTP_ERRORS.ACCEPT, { accept });
}

/**
 * A body left unparsed on the main thread: a large `$validate` body (JSON or XML), read and
 * validated by a worker of the validation pool (src/server/validation-pool.ts).
 */
export class DeferredBody {
  /** The body's bytes (UTF-8), handed to the worker without a copy. */
  constructor(
    readonly bytes: Buffer,
    readonly format: 'json' | 'xml',
  ) {}
}

/** Options of the FHIR body parsers. */
export interface BodyParserOptions {
  /** Whether a body of `bytes` bytes is left to a validation worker (`DeferredBody`) rather than parsed here. */
  defer?(req: FastifyRequest, bytes: number): boolean;
  /** Whether the body's JSON bytes are kept beside the parsed body (`req.fhirBodyBytes`); `format`: the body's. */
  keepBytes?(req: FastifyRequest, format: 'json' | 'xml'): boolean;
  /**
   * Reads a (large) body in a worker rather than here: a promise of its value (and of its JSON
   * bytes when it was XML and `keepJson`), resolving to undefined when no worker could take it;
   * `undefined` at once when this body is read here (small, or no pool).
   */
  parseElsewhere?(req: FastifyRequest, bytes: Buffer, format: 'json' | 'xml', keepJson: boolean): Promise<{ value: unknown; json?: Buffer } | undefined> | undefined;
}

/** Deepest nesting of objects and arrays accepted in a JSON body (FHIR resources stay far below). */
export const MAX_JSON_DEPTH = 100;

/** What a body parsed by parseJsonBody should be, for the "empty body" message (English and French). */
export interface BodyWhat {
  what: string;
  whatFr: string;
}
export const FHIR_JSON_RESOURCE: BodyWhat = { what: 'a FHIR JSON resource', whatFr: 'une ressource FHIR JSON' };
const JSON_PATCH_DOCUMENT: BodyWhat = { what: 'a JSON Patch document', whatFr: 'un document JSON Patch' };

export function parseJsonBody(body: string, what: BodyWhat): unknown {
  if (body.trim() === '') throw new FhirError(HTTP_ERRORS.BODY_EMPTY, { ...what });
  // Before parsing: a 10,000-deep document overflows the stack of anything recursive after it.
  if (jsonDepthExceeds(body, MAX_JSON_DEPTH)) throw new FhirError(HTTP_ERRORS.BODY_TOO_DEEP, { limit: MAX_JSON_DEPTH });
  try {
    return JSON.parse(body);
  } catch (e) {
    throw new FhirError(HTTP_ERRORS.BODY_NOT_JSON, describeJsonSyntaxError(body, e as Error));
  }
}

/** A FHIR XML body read (here or in a validation worker): the same 400s. */
export function parseXmlBody(text: string, xml: Pick<XmlCodec, 'fromXml'>): FhirResource {
  if (text.trim() === '') throw new FhirError(HTTP_ERRORS.BODY_EMPTY, { what: 'a FHIR XML resource', whatFr: 'une ressource FHIR XML' });
  try {
    return xml.fromXml(text);
  } catch (e) {
    throw new FhirError(
      HTTP_ERRORS.BODY_NOT_XML,
      e instanceof FhirXmlError ? { detail: e.message, detailFr: e.messageFr } : { detail: (e as Error).message, detailFr: `exception « ${(e as Error).message} »` },
    );
  }
}

/**
 * Registers the FHIR body parsers on an (encapsulated) Fastify instance. Anything else is a
 * 415, which Fastify raises and the error handler turns into an OperationOutcome.
 */
export function registerBodyParsers(app: FastifyInstance, xml: XmlCodec | undefined, options: BodyParserOptions = {}): void {
  app.removeAllContentTypeParsers();
  // Read as bytes: a large body may go to a validation worker as it is (no copy, no decoding here).
  const readBody = (req: FastifyRequest, body: string | Buffer, format: 'json' | 'xml', done: (err: Error | null, value?: unknown) => void): void => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const fail = (e: unknown) => {
      req.fhirUnreadableBody = bytes.toString('utf8');
      done(e as Error, undefined);
    };
    const readHere = () => {
      try {
        if (format === 'json') {
          if (options.keepBytes?.(req, 'json')) req.fhirBodyBytes = bytes;
          done(null, parseJsonBody(bytes.toString('utf8'), FHIR_JSON_RESOURCE));
          return;
        }
        done(null, parseXmlBody(bytes.toString('utf8'), xml!));
      } catch (e) {
        fail(e);
      }
    };
    req.fhirBodyKind = format;
    if (options.defer?.(req, bytes.length)) {
      done(null, new DeferredBody(bytes, format));
      return;
    }
    const keep = options.keepBytes?.(req, format) === true;
    const elsewhere = options.parseElsewhere?.(req, bytes, format, keep);
    if (!elsewhere) return readHere();
    elsewhere.then(
      (read) => {
        if (!read) return readHere();
        req.fhirBodyChecked = true;
        if (keep) req.fhirBodyBytes = format === 'json' ? bytes : read.json;
        done(null, read.value);
      },
      fail,
    );
  };
  const limit = app.initialConfig.bodyLimit ?? 1024 * 1024;
  app.addContentTypeParser(JSON_TYPES, (req: FastifyRequest, payload: BodyStream, done) =>
    collectBody(req, payload, limit, (err, bytes) => (err ? done(err, undefined) : readBody(req, bytes!, 'json', done))),
  );
  app.addContentTypeParser(JSON_PATCH_TYPE, { parseAs: 'string' }, (req: FastifyRequest, body: string | Buffer, done) => {
    try {
      req.fhirBodyKind = 'json-patch';
      done(null, parseJsonBody(String(body), JSON_PATCH_DOCUMENT));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  app.addContentTypeParser(FORM_TYPE, { parseAs: 'string' }, (req: FastifyRequest, body: string | Buffer, done) => {
    req.fhirBodyKind = 'form';
    done(null, new URLSearchParams(String(body)));
  });
  if (xml) {
    app.addContentTypeParser(XML_TYPES, (req: FastifyRequest, payload: BodyStream, done) =>
      collectBody(req, payload, limit, (err, bytes) => (err ? done(err, undefined) : readBody(req, bytes!, 'xml', done))),
    );
  }
}

type BodyStream = NodeJS.ReadableStream & { receivedEncodedLength?: number };

/**
 * A body's bytes as Fastify's `parseAs: 'buffer'` reads them (the same limit and errors), but
 * copied chunk by chunk, as they arrive, into one buffer of the declared length: Fastify
 * concatenates the chunks once at the end, and that one copy of 40 MB into fresh memory held
 * the event loop 0.2 s (D-286). Without a Content-Length, the chunks are concatenated at the end.
 */
function collectBody(req: FastifyRequest, payload: BodyStream, limit: number, done: (err: Error | null, bytes?: Buffer) => void): void {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    return;
  }
  let whole = Number.isInteger(declared) && declared > 0 ? Buffer.allocUnsafeSlow(declared) : undefined;
  let chunks: Buffer[] = [];
  let received = 0;
  const stop = () => {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onEnd);
  };
  function onData(c: Buffer | string): void {
    const chunk = typeof c === 'string' ? Buffer.from(c) : c;
    const at = received;
    received += chunk.length;
    if (received > limit || (payload.receivedEncodedLength ?? 0) > limit) {
      stop();
      done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      return;
    }
    if (whole && received <= whole.length) {
      chunk.copy(whole, at);
      return;
    }
    // More than declared (a decoding pre-parsing stream): chunks after all.
    if (whole) {
      chunks = [whole.subarray(0, at)];
      whole = undefined;
    }
    chunks.push(chunk);
  }
  function onEnd(err?: Error & { statusCode?: number }): void {
    stop();
    if (err != null) {
      if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
      done(err);
      return;
    }
    if (!Number.isNaN(declared) && (payload.receivedEncodedLength || received) !== declared) {
      done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      return;
    }
    done(null, whole ?? Buffer.concat(chunks, received));
  }
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onEnd);
  payload.resume();
}

/** Serialises a resource in the negotiated format. */
export function serialize(resource: object, format: ResponseFormat, xml: XmlCodec | undefined, pretty: boolean): string {
  if (format === 'xml' && xml) return xml.toXml(resource);
  return pretty ? JSON.stringify(resource, null, 2) : JSON.stringify(resource);
}

export function isPretty(req: FastifyRequest): boolean {
  const p = (req.query as Record<string, unknown> | undefined)?._pretty;
  return p === 'true' || (Array.isArray(p) && p[0] === 'true');
}

/** Sends a FHIR resource with its status, in the request's negotiated format. */
export function sendResource(
  reply: FastifyReply,
  status: number,
  resource: object,
  xml: XmlCodec | undefined,
  headers: Record<string, string> = {},
): FastifyReply {
  const format = reply.request.fhirFormat ?? 'json';
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  return reply
    .code(status)
    .type(CONTENT_TYPE[format === 'xml' && xml ? 'xml' : 'json'])
    .send(serialize(resource, format, xml, isPretty(reply.request)));
}
