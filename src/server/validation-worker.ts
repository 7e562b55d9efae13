// A validation worker thread (src/server/validation-pool.ts): loads its own validator (engines
// are plain objects, not shareable between threads), then validates what the main thread
// hands it — transaction Bundles sent as text (parsed here, off the event loop), and large
// `$validate` bodies read here from their text: depth check, parse, value limits, the
// Parameters wrapper, the type and profile checks, validation, unstorable text. It also reads
// any other large body (JSON or XML) for the main thread, which gets the tree back in pieces,
// and answers the web UI's "Valider un fichier" (form decoding, validation, the report page).
// A volet's resource (CDS, CdL, GAP, PDSm, NdE) is validated here too, with the server's
// modules and engines (ig-modules.ts).
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { isObject, type Json } from '../fhir/json.js';
import { findUnstorableTextIn, unstorableError } from '../fhir/text.js';
import type { FhirResource } from '../storage/types.js';
import { xmlToJson } from '../fhir/xml/index.js';
import { checkTransaction, rejectionRecord } from '../ingest/index.js';
import { JsonText } from '../storage/submissions.js';
import { TdduiValidator } from '../tddui/validator.js';
import { operationOutcomeBytes, toOperationOutcome } from '../fhir/outcome/issue.js';
import type { FhirService } from '../rest/service.js';
import { moduleNames, validationService } from './ig-modules.js';
import { TDDUI_PACKAGE } from '../tddui/ig.js';
import { finessMentions, ownerOf } from '../tddui/business-keys.js';
import { validateResultPage } from '../ui/pages/validate.js';
import { FHIR_JSON_RESOURCE, parseJsonBody, parseXmlBody } from './format.js';
import { checkValueLimits } from './limits.js';
import { FhirError, HTTP_ERRORS } from './outcome.js';
import { validateInput } from './validate-input.js';
import { leadingText, movable, PIECE_CHARS, type BodyFormat, type CheckedInWorker, type ReadBundle, type FromValidationWorker, type ParsedPieces, type ToValidationWorker, type ValidationWorkerSetup } from './validation-pool.js';

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

let validator: TdduiValidator;
// The server's modules and served types, for volet resources and Bundles (built on first use).
let service: FhirService | undefined;
const services = (): FhirService => (service ??= validationService(validator));

/** ingest's checkTransaction on a Bundle, a refusal built here whole (its record bounded, its OperationOutcome serialised and moved). */
function checkHere(bundle: unknown, now: number, text?: Uint8Array): { checked: CheckedInWorker; transfer: ArrayBuffer[] } {
  const checked = checkTransaction(bundle, (b) => validator.validate(b, { now: new Date(now) }), text);
  // Accepted: the report as the submission log keeps it, serialised here rather than on the main
  // thread (D-319), as UTF-8 bytes moved to it and handed to the driver as they are (D-336: as a
  // string it was cloned into the main thread's heap — 30 KB of text with accents, a two-byte
  // string — and encoded to UTF-8 there again); and, as objects, only its issues that are not
  // information: the main thread counts and answers the warnings (ingestTransaction), the
  // information issues (26 of 38 for a synthetic PP-PA Bundle) were cloned across for nothing.
  if ('report' in checked) {
    const { report } = checked;
    // (Its issues' texts kept as UTF-8 from one Bundle to the next: D-352.)
    const reportJson = movable(operationOutcomeBytes(report.issues));
    return {
      checked: { report: { ...report, issues: report.issues.filter((i) => i.severity !== 'information') }, ifMatch: [...checked.ifMatch], reportJson },
      transfer: [reportJson.buffer as ArrayBuffer],
    };
  }
  const { bundle: kept, report, ...record } = rejectionRecord(bundle, checked.refused);
  const body = movable(Buffer.from(JSON.stringify(checked.refused.outcome)));
  const keptText = kept instanceof JsonText ? { text: kept.text, ...(kept.resourceType ? { resourceType: kept.resourceType } : {}) } : null;
  return { checked: { refused: { status: checked.refused.status, body, record, bundle: keptText, report: (report as JsonText).text } }, transfer: [body.buffer as ArrayBuffer] };
}

/** What the transaction route needs of a Bundle it has not read itself (ReadBundle, less the checks and the tree). */
function readBundle(body: Json, m: Extract<ToValidationWorker, { kind: 'bundle' }>): ReadBundle {
  const entries = Array.isArray(body.entry) ? body.entry : [];
  const types = new Set<string>();
  const writeTypes = new Set<string>();
  for (const e of entries) {
    if (!isObject(e)) continue;
    if (isObject(e.resource) && typeof e.resource.resourceType === 'string' && e.resource.resourceType !== '') types.add(e.resource.resourceType);
    // (As the route's per-entry write checks name the type: from request.url.)
    if (isObject(e.request)) {
      const url = typeof e.request.url === 'string' ? e.request.url.replace(/^\//, '') : '';
      const type = url.split('?')[0]!.split('/')[0];
      const method = String(e.request.method ?? '');
      if (type && method !== 'GET' && method !== 'HEAD') writeTypes.add(type);
    }
  }
  const owner = ownerOf(body);
  const claimer = services().modules.find((mod) => mod.bundle?.claims(body, { alone: m.alone[mod.name] === true }));
  return {
    resourceType: String(body.resourceType),
    stub: { resourceType: body.resourceType, ...(body.type !== undefined ? { type: body.type } : {}), ...(body.meta !== undefined ? { meta: body.meta } : {}) },
    types: [...types],
    writeTypes: [...writeTypes],
    ...(owner !== undefined ? { owner } : {}),
    ...(m.mentions ? { mentions: finessMentions(body) } : {}),
    ...(claimer ? { claimer: claimer.name } : {}),
  };
}

async function main(): Promise<void> {
  // This thread only (Linux: a nice value is a thread's): the main thread goes first on busy cores (D-287).
  try {
    if (setup.nice) setPriority(setup.nice);
  } catch {
    // (Not permitted, or not supported here: the default priority.)
  }
  try {
    validator = await TdduiValidator.create({ ...(setup.packages ? { packages: setup.packages } : {}), ...(setup.igs ? { igs: setup.igs } : {}) });
  } catch (e) {
    post({ type: 'failed', message: (e as Error).message });
    return;
  }
  const names = moduleNames(validator);
  post({ type: 'ready', bundleModules: names.bundles, modules: names.all });
  port.on('message', (m: ToValidationWorker) => {
    try {
      if (m.kind === 'transaction') {
        // The checks before storing, and a refusal built here whole (ingest/index.ts).
        const bundle = m.bytes ? JSON.parse(text(m.bytes)) : m.resource;
        // (Parsed from these bytes: their escapes tell whether the tree may hold unstorable text.)
        const { checked, transfer } = checkHere(bundle, m.now, m.bytes);
        port.postMessage({ type: 'result', id: m.id, checked } satisfies FromValidationWorker, transfer);
        return;
      }
      if (m.kind === 'bundle') {
        // A transaction body read here whole (D-286): the main thread gets what its access checks
        // need, the IG that claims it, that IG's checks (TDDUI), and the tree only when it will
        // store it — a refused Bundle is never built on the main thread.
        let body: unknown;
        try {
          body = parse(text(m.bytes), m.format);
          if (isObject(body)) checkValueLimits(body, setup.limits, typeof body.resourceType === 'string' ? body.resourceType : 'body');
        } catch (e) {
          if (e instanceof FhirError) {
            post({ type: 'result', id: m.id, error: { def: e.def, args: e.args, options: e.options }, unreadable: leadingText(m.bytes, m.unreadableChars) });
            return;
          }
          throw e;
        }
        if (!isObject(body) || typeof body.resourceType !== 'string') {
          post({ type: 'result', id: m.id, bundle: { types: [], writeTypes: [] } });
          return;
        }
        const read = readBundle(body, m);
        const transfer: ArrayBuffer[] = [];
        if (read.claimer === TDDUI_PACKAGE) {
          const here = checkHere(body, m.now, m.format === 'json' ? m.bytes : undefined);
          read.checked = here.checked;
          transfer.push(...here.transfer);
        }
        if (!(read.checked && 'refused' in read.checked) || m.treeOnRefusal) read.pieces = toPieces(body);
        // A tree the main thread will store: the JSON bytes go back with it (moved, not copied),
        // the submission log keeps them as the Bundle's text (D-315).
        if (read.pieces && m.format === 'json') {
          read.bytes = m.bytes;
          transfer.push(m.bytes.buffer as ArrayBuffer);
        }
        port.postMessage({ type: 'result', id: m.id, bundle: read } satisfies FromValidationWorker, transfer);
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
      // Text no write would store (NUL, lone surrogates): said first, as errors. The resource is
      // walked for it only when the JSON bytes hold an escape that could make one (D-346).
      const unstorable = findUnstorableTextIn(resource, String(resource.resourceType), m.format === 'json' ? m.bytes : undefined);
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
