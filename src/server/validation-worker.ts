// A validation worker thread (src/server/validation-pool.ts): loads its own validator (engines
// are plain objects, not shareable between threads), then validates what the main thread
// hands it — transaction Bundles sent as text (parsed here, off the event loop), and large
// `$validate` bodies read here from their text: depth check, parse, value limits, the
// Parameters wrapper, the type and profile checks, validation, unstorable text.
import { parentPort, workerData } from 'node:worker_threads';
import { describeJsonSyntaxError } from '../fhir/input.js';
import { isObject } from '../fhir/json.js';
import { findUnstorableText, jsonDepthExceeds, unstorableError } from '../fhir/text.js';
import { TdduiValidator } from '../tddui/validator.js';
import { MAX_JSON_DEPTH } from './format.js';
import { checkValueLimits } from './limits.js';
import { FhirError, HTTP_ERRORS } from './outcome.js';
import { validateInput } from './validate-input.js';
import { movable, type FromValidationWorker, type ToValidationWorker, type ValidationWorkerSetup } from './validation-pool.js';

const port = parentPort!;
const setup = workerData as ValidationWorkerSetup;

function post(m: FromValidationWorker): void {
  port.postMessage(m);
}

function parse(text: string): unknown {
  if (text.trim() === '') throw new FhirError(HTTP_ERRORS.BODY_EMPTY, { what: 'a FHIR JSON resource', whatFr: 'une ressource FHIR JSON' });
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) throw new FhirError(HTTP_ERRORS.BODY_TOO_DEEP, { limit: MAX_JSON_DEPTH });
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FhirError(HTTP_ERRORS.BODY_NOT_JSON, describeJsonSyntaxError(text, e as Error));
  }
}

async function main(): Promise<void> {
  let validator: TdduiValidator;
  try {
    validator = await TdduiValidator.create({ ...(setup.packages ? { packages: setup.packages } : {}), ...(setup.igs ? { igs: setup.igs } : {}) });
  } catch (e) {
    post({ type: 'failed', message: (e as Error).message });
    return;
  }
  post({ type: 'ready' });
  port.on('message', (m: ToValidationWorker) => {
    try {
      if (m.kind === 'bundle') {
        const bundle = m.bytes ? JSON.parse(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength).toString('utf8')) : m.resource;
        post({ type: 'result', id: m.id, report: validator.validate(bundle, { now: new Date(m.now) }) });
        return;
      }
      const body = parse(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength).toString('utf8'));
      if (isObject(body)) checkValueLimits(body, setup.limits, typeof body.resourceType === 'string' ? body.resourceType : 'body');
      if (!isObject(body) || typeof body.resourceType !== 'string') throw new FhirError(HTTP_ERRORS.BODY_NOT_RESOURCE);
      const { resource, profile } = validateInput(body, m.profile);
      if (m.type !== undefined && resource.resourceType !== m.type) throw new FhirError(HTTP_ERRORS.VALIDATE_TYPE, { found: String(resource.resourceType), type: m.type });
      if (profile !== undefined && !validator.resolveProfile(profile)) throw new FhirError(HTTP_ERRORS.VALIDATE_PROFILE, { profile }, { expression: 'profile' });
      const outcome = validator.validateToOutcome(resource, profile ? { profile } : {}) as unknown as { issue: unknown[] };
      const unstorable = findUnstorableText(resource, String(resource.resourceType));
      // Text no write would store (NUL, lone surrogates): said first, as errors.
      if (unstorable.length) outcome.issue = [...unstorable.flatMap((u) => (unstorableError(u).toOutcome() as unknown as { issue: unknown[] }).issue), ...(outcome.issue ?? [])];
      const claims = isObject(resource.meta) && Array.isArray(resource.meta.profile) ? resource.meta.profile.filter((p): p is string => typeof p === 'string') : [];
      const bytes = movable(Buffer.from(JSON.stringify(outcome)));
      port.postMessage(
        { type: 'result', id: m.id, validated: { outcome: bytes, resourceType: String(resource.resourceType), claims, ...(profile ? { profile } : {}) } } satisfies FromValidationWorker,
        [bytes.buffer as ArrayBuffer],
      );
    } catch (e) {
      if (e instanceof FhirError) post({ type: 'result', id: m.id, error: { def: e.def, args: e.args, options: e.options } });
      else post({ type: 'result', id: m.id, failure: (e as Error).message });
    }
  });
}

void main();
