// A validation worker thread (src/server/validation-pool.ts): loads its own validator (engines
// are plain objects, not shareable between threads), then validates what the main thread
// hands it — transaction Bundles sent as text (parsed here, off the event loop), and large
// `$validate` bodies read here from their text: depth check, parse, value limits, the
// Parameters wrapper, the type and profile checks, validation, unstorable text. It also reads
// any other large body (JSON or XML) for the main thread, which gets the tree back in pieces,
// and answers the web UI's "Valider un fichier" (form decoding, validation, the report page).
// A volet's resource (CDS, CdL, GAP, PDSm, NdE) is validated here too, with the server's
// modules and engines (ig-modules.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { isObject } from '../fhir/json.js';
import { findUnstorableText, unstorableError } from '../fhir/text.js';
import type { FhirResource } from '../storage/types.js';
import { xmlToJson } from '../fhir/xml/index.js';
import { checkTransaction, rejectionRecord } from '../ingest/index.js';
import { JsonText } from '../storage/submissions.js';
import { TdduiValidator } from '../tddui/validator.js';
import { toOperationOutcome } from '../fhir/outcome/issue.js';
import type { FhirService } from '../rest/service.js';
import { validationService } from './ig-modules.js';
import { validateResultPage } from '../ui/pages/validate.js';
import { FHIR_JSON_RESOURCE, parseJsonBody, parseXmlBody } from './format.js';
import { checkValueLimits } from './limits.js';
import { FhirError, HTTP_ERRORS } from './outcome.js';
import { validateInput } from './validate-input.js';
import { movable, PIECE_CHARS, type BodyFormat, type FromValidationWorker, type ParsedPieces, type ToValidationWorker, type ValidationWorkerSetup } from './validation-pool.js';

const port = parentPort!;
const setup = workerData as ValidationWorkerSetup;

function post(m: FromValidationWorker): void {
  port.postMessage(m);
}

/** A body's text read as the main thread's body parsers would (same errors). */
function parse(text: string, format: BodyFormat = 'json'): unknown {
  return format === 'xml' ? parseXmlBody(text, XML) : parseJsonBody(text, FHIR_JSON_RESOURCE);
}

const XML = { fromXml: (x: string) => xmlToJson(x) as FhirResource };

/** A parsed value cut in pieces for the main thread (ParsedPieces): its large top-level arrays split. */
function toPieces(value: unknown): ParsedPieces {
  if (!isObject(value)) return { head: JSON.stringify(value), arrays: [] };
  const head: Record<string, unknown> = {};
  const arrays: ParsedPieces['arrays'] = [];
  for (const [key, v] of Object.entries(value)) {
    let kept: unknown = v;
    if (Array.isArray(v) && v.length > 1) {
      const chunks: string[] = [];
      let parts: string[] = [];
      let size = 0;
      for (const x of v) {
        const t = JSON.stringify(x) ?? 'null';
        parts.push(t);
        size += t.length;
        if (size >= PIECE_CHARS) {
          chunks.push(`[${parts.join(',')}]`);
          parts = [];
          size = 0;
        }
      }
      if (parts.length) chunks.push(`[${parts.join(',')}]`);
      if (chunks.length > 1) {
        arrays.push([key, chunks]);
        kept = [];
      }
    }
    // (defineProperty: a `__proto__` key stays a plain key.)
    Object.defineProperty(head, key, { value: kept, enumerable: true, writable: true, configurable: true });
  }
  return { head: JSON.stringify(head), arrays };
}

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

async function main(): Promise<void> {
  let validator: TdduiValidator;
  try {
    validator = await TdduiValidator.create({ ...(setup.packages ? { packages: setup.packages } : {}), ...(setup.igs ? { igs: setup.igs } : {}) });
  } catch (e) {
    post({ type: 'failed', message: (e as Error).message });
    return;
  }
  // The server's modules and served types, for volet resources (built on first use).
  let service: FhirService | undefined;
  const services = (): FhirService => (service ??= validationService(validator));
  post({ type: 'ready' });
  port.on('message', (m: ToValidationWorker) => {
    try {
      if (m.kind === 'transaction') {
        // The checks before storing, and a refusal built here whole (ingest/index.ts).
        const bundle = m.bytes ? JSON.parse(text(m.bytes)) : m.resource;
        const checked = checkTransaction(bundle, (b) => validator.validate(b, { now: new Date(m.now) }));
        if ('report' in checked) {
          post({ type: 'result', id: m.id, checked: { report: checked.report, ifMatch: [...checked.ifMatch] } });
          return;
        }
        const { bundle: kept, report, ...record } = rejectionRecord(bundle, checked.refused);
        const body = movable(Buffer.from(JSON.stringify(checked.refused.outcome)));
        const keptText = kept instanceof JsonText ? { text: kept.text, ...(kept.resourceType ? { resourceType: kept.resourceType } : {}) } : null;
        port.postMessage(
          { type: 'result', id: m.id, checked: { refused: { status: checked.refused.status, body, record, bundle: keptText, report: (report as JsonText).text } } } satisfies FromValidationWorker,
          [body.buffer as ArrayBuffer],
        );
        return;
      }
      if (m.kind === 'parse') {
        const body = parse(text(m.bytes), m.format);
        if (isObject(body)) checkValueLimits(body, setup.limits, typeof body.resourceType === 'string' ? body.resourceType : 'body');
        const parsed = toPieces(body);
        const json = m.keepJson && m.format === 'xml' ? movable(Buffer.from(JSON.stringify(body))) : undefined;
        if (json) parsed.json = json;
        port.postMessage({ type: 'result', id: m.id, parsed } satisfies FromValidationWorker, json ? [json.buffer as ArrayBuffer] : []);
        return;
      }
      if (m.kind === 'page') {
        // The form of "Valider un fichier" (application/x-www-form-urlencoded): the file's text and name.
        const form = new URLSearchParams(text(m.bytes));
        const name = form.get('nom');
        post({ type: 'result', id: m.id, page: validateResultPage(validator, form.get('contenu') ?? '', name ? name.slice(0, 200) : undefined) });
        return;
      }
      const body = parse(text(m.bytes), m.format);
      if (isObject(body)) checkValueLimits(body, setup.limits, typeof body.resourceType === 'string' ? body.resourceType : 'body');
      if (!isObject(body) || typeof body.resourceType !== 'string') throw new FhirError(HTTP_ERRORS.BODY_NOT_RESOURCE);
      const { resource, profile } = validateInput(body, m.profile);
      if (m.type !== undefined && resource.resourceType !== m.type) throw new FhirError(HTTP_ERRORS.VALIDATE_TYPE, { found: String(resource.resourceType), type: m.type });
      if (profile !== undefined && !validator.resolveProfile(profile)) throw new FhirError(HTTP_ERRORS.VALIDATE_PROFILE, { profile }, { expression: 'profile' });
      // A volet's resource (its meta.profile claims an IG in use other than TDDUI): that IG's
      // engine and module rules, as the server's service would (FhirService.validateAsCreate).
      const volet = profile === undefined ? services().validateAsCreate(resource) : undefined;
      const outcome = (volet ? toOperationOutcome(volet) : validator.validateToOutcome(resource, profile ? { profile } : {})) as unknown as { issue: unknown[] };
      const unstorable = findUnstorableText(resource, String(resource.resourceType));
      // Text no write would store (NUL, lone surrogates): said first, as errors.
      if (unstorable.length) outcome.issue = [...unstorable.flatMap((u) => (unstorableError(u).toOutcome() as unknown as { issue: unknown[] }).issue), ...(outcome.issue ?? [])];
      const claims = isObject(resource.meta) && Array.isArray(resource.meta.profile) ? resource.meta.profile.filter((p): p is string => typeof p === 'string') : [];
      const bytes = movable(Buffer.from(JSON.stringify(outcome)));
      port.postMessage(
        { type: 'result', id: m.id, validated: { outcome: bytes, resourceType: String(resource.resourceType), claims, volet: volet !== undefined, ...(profile ? { profile } : {}) } } satisfies FromValidationWorker,
        [bytes.buffer as ArrayBuffer],
      );
    } catch (e) {
      if (e instanceof FhirError) post({ type: 'result', id: m.id, error: { def: e.def, args: e.args, options: e.options } });
      else post({ type: 'result', id: m.id, failure: (e as Error).message });
    }
  });
}

void main();
