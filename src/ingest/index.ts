// The receiving pipeline for a TDDUI transaction Bundle: validate in full, then in ONE
// database transaction match resent business objects, assign ids, fix references, write the
// versions and the index, and answer a transaction-response. Every submission is logged.
import { ppVersionEvents } from './pp-events.js';
import { isObject as isObj, type FhirResource, type Json } from '../fhir/json.js';
import { BundleResolver, absoluteFullUrl, referencedEntries, rewriteReferencesShared, type EntryRef } from '../fhir/bundle/references.js';
import { FhirError, HTTP_ERRORS } from '../fhir/outcome/http-errors.js';
import { countIssues, fromOperationOutcome, toOperationOutcome, type OperationOutcome, type ValidationIssue } from '../fhir/outcome/issue.js';
import { findUnstorableTextIn, storableCopy, unstorableError } from '../fhir/text.js';
import { isUtf8 } from 'node:buffer';
import { insertSubmissionPieces, JsonText, submissionInsert, type SubmissionPiece } from '../storage/submissions.js';
import type { OpResult, Repository, SubmissionRecord, WriteOp } from '../storage/types.js';
import { businessKeys, keyNeedsReferences, ownerOf, type BusinessKey } from '../tddui/business-keys.js';
import { NIR_SYSTEMS, SYSTEMS } from '../tddui/rules/identifiers.js';
import type { TdduiValidator, ValidationReport } from '../tddui/validator.js';

export interface IngestContext {
  repo: Repository;
  validator: TdduiValidator;
  now?: () => Date;
  /** Who sent the Bundle (token subject and client id), recorded in the submission log. */
  client?: string;
  /** Where a submission log that cannot be written is reported (codes only, never data). */
  log?: { error(obj: object, msg: string): void };
  /**
   * The checks before storing (checkTransaction) run elsewhere than on this thread, on the same
   * Bundle (the server's worker pool: src/server/validation-pool.ts), a refusal's record and
   * answer built there too; `undefined` (no worker ready) checks here with `validator`.
   */
  offload?: (now: Date) => Promise<CheckedElsewhere | undefined>;
  /**
   * The request's body as received, UTF-8 JSON (the text the Bundle was parsed from): an accepted
   * Bundle's submission record keeps this text as it is (D-315) rather than the parsed tree
   * serialised again — the log returns the Bundle as the client sent it, and the event loop does
   * not walk a large Bundle once more to serialise it.
   */
  received?: Uint8Array;
}

/**
 * checkTransaction's answer from a validation worker: the report (and the entries' If-Match
 * versions), or a refusal ready to log and send — its record (rejectionRecord) and the
 * OperationOutcome as UTF-8 JSON, serialised there.
 */
export type CheckedElsewhere =
  /**
   * Accepted. With `reportJson` (the whole report's OperationOutcome as the log keeps it, UTF-8
   * JSON), `report.issues` may hold only the issues that are not information (a validation
   * worker's, D-336): what this thread uses of them (counts, the warnings of the transaction-response).
   */
  | { report: ValidationReport; ifMatch: [number, number][]; reportJson?: Uint8Array }
  | { refused: { status: number; body: Uint8Array; record: RejectionRecord } };

export interface IngestResult {
  /** 200 accepted; 400 unreadable/not a transaction; 422 invalid; 409 conflict. */
  status: number;
  /** transaction-response Bundle, or OperationOutcome. */
  body: FhirResource;
  /** Id of the SubmissionRecord logged (accepted AND rejected). */
  submissionId?: string;
  /**
   * The body already serialised (UTF-8 JSON; `body` is then only its resourceType): a large
   * refusal's OperationOutcome built by a validation worker, sent as it is.
   */
  bytes?: Uint8Array;
  /**
   * An accepted Bundle's transaction-response (`body`) as JSON text — with its entries' fullUrls
   * made absolute against `base` when given, as the server answers it: the very text of
   * `JSON.stringify(body)` (of the body with those fullUrls), made from the parts the log's copy
   * was made of, so that the answer is not serialised a second time (D-336).
   */
  json?: (base?: string) => string;
}

/** The OperationOutcome of a catalogue error. */
function outcome(e: FhirError): OperationOutcome {
  return e.toOutcome() as unknown as OperationOutcome;
}

/** Usagers, organisation and counts of a Bundle, for the submissions log. */
function describe(bundle: unknown): Pick<SubmissionRecord, 'organizationFiness' | 'organizationName' | 'usagers' | 'resourceCount'> {
  const entries = isObj(bundle) && Array.isArray(bundle.entry) ? bundle.entry : [];
  const resources = entries.map((e) => (isObj(e) && isObj(e.resource) ? e.resource : undefined)).filter((r): r is Json => !!r);
  const out: ReturnType<typeof describe> = { usagers: [], resourceCount: entries.length };
  const finess = ownerOf(bundle);
  if (finess) out.organizationFiness = finess;
  const org = resources.find((r) => r.resourceType === 'Organization' && typeof r.name === 'string');
  if (org) out.organizationName = org.name as string;
  for (const p of resources.filter((r) => r.resourceType === 'Patient')) {
    const ids = (Array.isArray(p.identifier) ? p.identifier : []).filter(isObj);
    const local = ids.find((i) => i.system === SYSTEMS.LOCAL_USAGER)?.value;
    const ins = ids.find((i) => typeof i.system === 'string' && NIR_SYSTEMS.has(i.system))?.value;
    const name = (Array.isArray(p.name) ? p.name : []).filter(isObj)[0];
    const display = name
      ? [typeof name.family === 'string' ? name.family : '', ...(Array.isArray(name.given) ? name.given.filter((g) => typeof g === 'string') : [])]
          .join(' ')
          .trim()
      : '';
    const u: SubmissionRecord['usagers'][number] = {};
    if (typeof local === 'string') u.localId = local;
    if (typeof ins === 'string') u.ins = ins;
    const ident = typeof local === 'string' ? local : typeof ins === 'string' ? ins : undefined;
    if (ident) u.identifier = ident;
    if (display) u.name = display;
    out.usagers.push(u);
  }
  return out;
}

/** Errors, data warnings, and the "could not check" / IG-defect warnings apart (issue 22). */
function counts(issues: readonly ValidationIssue[]): { errorCount: number; warningCount: number; noticeCount: number } {
  const c = countIssues(issues.filter((i) => i.severity !== 'information'));
  return { errorCount: c.errors, warningCount: c.warnings, noticeCount: c.notChecked + c.igDefects };
}

/**
 * A refusal decided before or while storing: the status and the whole OperationOutcome the
 * client gets. `warnings`: the validation warnings of a Bundle refused after validation,
 * appended so that the outcome tells all.
 */
function refusal(status: number, body: OperationOutcome, warnings: readonly ValidationIssue[] = [], ig?: string): Refusal {
  const extra = warnings.filter((i) => i.severity === 'warning');
  const full: OperationOutcome = extra.length ? { ...body, issue: [...body.issue, ...toOperationOutcome(extra).issue] } : body;
  return { status, outcome: full, ...(ig ? { ig } : {}) };
}

export interface Refusal {
  status: number;
  outcome: OperationOutcome;
  ig?: string;
}

/** A rejected submission's record, less what only the receiving thread knows (when, who). */
export type RejectionRecord = Omit<SubmissionRecord, 'id' | 'receivedAt' | 'client'>;

/**
 * The submission log's record of a refusal — pure, no I/O: for a large Bundle it is built in a
 * validation worker with the rest of the refusal (src/server/validation-worker.ts), so that the
 * event loop never walks the refused tree. What is logged is what the database can store (NUL,
 * lone surrogates replaced; depth, string length and size bounded: src/fhir/text.ts); the
 * Bundle and the report are kept as their JSON text (JsonText), serialised once, here.
 */
export function rejectionRecord(bundle: unknown, r: Refusal): RejectionRecord {
  const copy = bundle === undefined ? null : storableCopy(bundle, REJECTED_COPY_LIMITS);
  const text = copy === null ? null : JSON.stringify(copy);
  // One document larger than the limit is not kept at all (the record and its report are).
  const tooLarge = text !== null && Buffer.byteLength(text) > REJECTED_DOCUMENT_BYTES;
  const resourceType = isObj(copy) && typeof copy.resourceType === 'string' ? copy.resourceType : undefined;
  return {
    ...describe(copy),
    outcome: 'rejected' as const,
    httpStatus: r.status,
    ...counts(fromOperationOutcome(r.outcome)),
    ...(r.ig ? { ig: r.ig } : {}),
    bundle: tooLarge || text === null ? null : new JsonText(text, resourceType),
    ...(tooLarge ? { bundleDropped: 'size' as const } : {}),
    report: new JsonText(JSON.stringify(storableCopy(keptReport(r.outcome)))),
  };
}

/** Writes a rejection's record; logging never turns a rejection into a 500. */
async function logRejection(ctx: IngestContext, rec: RejectionRecord, receivedAt: string): Promise<string | undefined> {
  const record = { receivedAt, ...rec, ...(ctx.client !== undefined ? { client: ctx.client } : {}) };
  try {
    return (await ctx.repo.recordSubmission(record)).id;
  } catch (err) {
    // Last resort: the rejection without the document (the client still gets its answer).
    ctx.log?.error({ err: { code: (err as { code?: unknown }).code, name: (err as Error).name } }, 'the rejected submission could not be logged whole: logged without its document');
    try {
      return (await ctx.repo.recordSubmission({ ...record, usagers: [], organizationName: undefined, bundle: null } as typeof record)).id;
    } catch (err2) {
      ctx.log?.error({ err: { code: (err2 as { code?: unknown }).code, name: (err2 as Error).name } }, 'the rejected submission could not be logged');
      return undefined;
    }
  }
}

/** Logs a rejected submission (on this thread) and answers its OperationOutcome. */
async function reject(ctx: IngestContext, bundle: unknown, r: Refusal, receivedAt: string): Promise<IngestResult> {
  const submissionId = await logRejection(ctx, rejectionRecord(bundle, r), receivedAt);
  return { status: r.status, body: r.outcome as unknown as FhirResource, ...(submissionId ? { submissionId } : {}) };
}

/**
 * What the checks before storing decide: a refusal, or the validation report and the versions
 * the entries' `request.ifMatch` name.
 */
export type Checked = { refused: Refusal } | { report: ValidationReport; ifMatch: Map<number, number> };

/**
 * The checks of a transaction Bundle before anything is stored — pure, synchronous, no I/O, so
 * that a validation worker runs them whole for a large Bundle: a Bundle of type transaction, no
 * text the database cannot store, valid (`validate`), every entry a create, `ifMatch` readable.
 * `text`: the UTF-8 JSON the Bundle was parsed from (JSON.parse), when the caller has it — if it
 * holds no escape that could make a NUL or a lone surrogate (jsonMayHoldUnstorable), the scan of
 * the tree for them is skipped (it would find nothing).
 */
export function checkTransaction(bundle: unknown, validate: (bundle: Json) => ValidationReport, text?: Uint8Array): Checked {
  if (!isObj(bundle) || bundle.resourceType !== 'Bundle') return { refused: refusal(400, outcome(new FhirError(HTTP_ERRORS.NOT_A_BUNDLE))) };
  if (bundle.type !== 'transaction') {
    const e = new FhirError(HTTP_ERRORS.BUNDLE_TYPE, { expected: '"transaction"', found: JSON.stringify(bundle.type ?? null) }, { expression: 'Bundle.type' });
    return { refused: refusal(400, outcome(e)) };
  }

  // Text no database can store (NUL, lone surrogates): refused before any work, at its place.
  const unstorable = findUnstorableTextIn(bundle, 'Bundle', text);
  if (unstorable.length) {
    const outcomes = unstorable.map((u) => outcome(unstorableError(u)));
    return { refused: refusal(422, { resourceType: 'OperationOutcome', issue: outcomes.flatMap((o) => o.issue) } as OperationOutcome) };
  }

  const report = validate(bundle);
  if (!report.valid) return { refused: refusal(422, toOperationOutcome(report.issues), [], report.ig) };

  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  // Only creates: the IG's flow 1 is "create only" (request.method POST).
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const method = isObj(e) && isObj(e.request) ? e.request.method : undefined;
    if (!isObj(e) || !isObj(e.resource) || typeof e.resource.resourceType !== 'string' || method !== 'POST') {
      const err = new FhirError(HTTP_ERRORS.ENTRY_POST_ONLY, { index: i }, { expression: `Bundle.entry[${i}].request.method` });
      return { refused: refusal(422, outcome(err), report.issues, report.ig) };
    }
  }

  // `request.ifMatch` (a version ETag): the version of the stored object this entry knowingly
  // replaces — checked like an HTTP If-Match (412 when it moved), and what lets a DUI change a
  // validated projet personnalisé (D-150).
  const ifMatch = new Map<number, number>();
  for (let i = 0; i < entries.length; i++) {
    const header = (entries[i] as Json & { request: Json }).request.ifMatch;
    if (header === undefined) continue;
    const m = typeof header === 'string' ? /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(header) : null;
    if (!m) {
      const err = new FhirError(HTTP_ERRORS.IF_MATCH_SYNTAX, { header: String(header) }, { expression: `Bundle.entry[${i}].request.ifMatch` });
      return { refused: refusal(400, outcome(err), report.issues, report.ig) };
    }
    ifMatch.set(i, Number(m[1]));
  }
  return { report, ifMatch };
}

/**
 * A rejected Bundle is kept for diagnosis, bounded: 64 levels, strings cut at 64 KiB (base64
 * documents), 1,000,000 values (docs/security.md).
 */
const REJECTED_COPY_LIMITS = { maxDepth: 64, maxString: 64 * 1024, maxValues: 1_000_000 };
/**
 * Issues of a rejected submission's report kept in the log: the client gets them all, the log
 * the first ones and how many more there were (a 40 MB Bundle's report was 43 MiB; D-191) —
 * at most this many, and at most REJECTED_REPORT_BYTES of JSON (D-270).
 */
export const REJECTED_REPORT_ISSUES = 2_000;
/**
 * The kept report's JSON, at most (D-270): on the embedded database the record is written on the
 * event loop, and 2,000 issues (1.7 MiB) held it for seconds.
 */
export const REJECTED_REPORT_BYTES = 512 * 1024;

function keptReport(full: OperationOutcome): OperationOutcome {
  const n = full.issue.length;
  let kept = 0;
  let bytes = 0;
  while (kept < n && kept < REJECTED_REPORT_ISSUES) {
    bytes += Buffer.byteLength(JSON.stringify(full.issue[kept]) ?? '') + 1;
    if (bytes > REJECTED_REPORT_BYTES) break;
    kept++;
  }
  if (kept === n) return full;
  const more = n - kept;
  const note = {
    severity: 'information',
    code: 'informational',
    diagnostics: `${more} more issues are not kept in the submission log (the client received all ${n})`,
    details: { text: `${more} autres problèmes ne sont pas conservés dans le journal des envois (le client les a tous reçus, ${n} en tout)` },
  };
  return { ...full, issue: [...full.issue.slice(0, kept), note] } as OperationOutcome;
}

/** A rejected document larger than this once bounded (8 MiB of JSON) is not kept (D-85). */
export const REJECTED_DOCUMENT_BYTES = 8 * 1024 * 1024;

interface Item {
  index: number;
  resourceType: string;
  resource: Json;
  keys: BusinessKey[];
  id?: string;
}

/** Validate in full, then store every entry atomically (resend = new version of the same business object). */
export async function ingestTransaction(ctx: IngestContext, sent: unknown): Promise<IngestResult> {
  const now = ctx.now?.() ?? new Date();
  const receivedAt = now.toISOString();
  // The checks before storing: in a validation worker when one is ready (a large Bundle's refusal
  // — the scan, the bounded copy for the log, the OperationOutcome — is built there whole: this
  // thread only writes the record and sends the answer's bytes), else here.
  const elsewhere = await ctx.offload?.(now);
  let checked: Checked;
  if (elsewhere && 'refused' in elsewhere) {
    const { status, body, record } = elsewhere.refused;
    const submissionId = await logRejection(ctx, record, receivedAt);
    return { status, body: { resourceType: 'OperationOutcome' } as FhirResource, bytes: body, ...(submissionId ? { submissionId } : {}) };
  } else if (elsewhere) checked = { report: elsewhere.report, ifMatch: new Map(elsewhere.ifMatch) };
  else checked = checkTransaction(sent, (b) => ctx.validator.validate(b, { now }));
  // The report's OperationOutcome as the log keeps it, serialised by the worker (D-319).
  const reportJson = elsewhere && 'report' in elsewhere ? elsewhere.reportJson : undefined;
  if ('refused' in checked) return reject(ctx, sent, checked.refused, receivedAt);
  const { report, ifMatch } = checked;
  const bundle = sent as Json;
  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];

  // request.url holding a TDDUI profile name (official examples) is accepted: the type comes
  // from resource.resourceType; the validator warns when the URL names another type (B3).
  const issues = report.issues;
  const owner = ownerOf(bundle) ?? '';
  const refs: EntryRef[] = entries.map((e: Json, index: number) => {
    const r = e.resource as Json;
    return {
      index,
      fullUrl: typeof e.fullUrl === 'string' ? e.fullUrl : undefined,
      resourceType: r.resourceType as string,
      localId: typeof r.id === 'string' ? r.id : undefined,
    };
  });
  const resolver = new BundleResolver(refs);
  const items = keyedItems(entries as Json[], resolver);
  const described = describe(bundle);

  let response: FhirResource | undefined;
  let responseJson: ((base?: string) => string) | undefined;
  let submissionId = '';
  // The record's values over 1 MiB (a multi-MB Bundle, its report, its response), written in
  // pieces after the write, in its transaction (D-343).
  let pieces: SubmissionPiece[] = [];
  try {
    // One plan on the write path: every entry a create with its business keys (a known key makes
    // it a new version of that object), references to entries rewritten to server ids once the
    // ids are chosen, and the submission logged in the same statement.
    await ctx.repo.execute({
      owner,
      now,
      ops: items.map((it): WriteOp => ({ method: 'create', resourceType: it.resourceType, resource: it.resource as FhirResource, keys: it.keys, ...(ifMatch.has(it.index) ? { ifMatch: ifMatch.get(it.index)! } : {}) })),
      resolve: (rc) => {
        const serverRef = (i: number) => `${items[i]!.resourceType}/${rc.targets[i]!.id}`;
        for (const it of items) rc.setResource(it.index, rewriteReferencesShared(it.resource, it.index, resolver, serverRef) as FhirResource);
      },
      // A new version of a usager's projet personnalisé: one event per usager (D-127).
      events: (_results, changes) => ppVersionEvents(changes),
      extra: (p, results) => {
        response = transactionResponse(results, issues);
        responseJson = responseText(response);
        submissionId = crypto.randomUUID();
        const patientIds = results.filter((r) => r.resourceType === 'Patient').map((r) => r.id!);
        const record: Omit<SubmissionRecord, 'id'> = {
          receivedAt,
          ...described,
          ...(ctx.client !== undefined ? { client: ctx.client } : {}),
          outcome: 'accepted',
          httpStatus: 200,
          ...counts(issues),
          ig: report.ig,
          unchangedCount: results.filter((r) => r.outcome === 'unchanged').length,
          usagers: described.usagers.map((u, i) => ({ ...u, id: patientIds[i] })),
          bundle: ctx.received ? receivedText(ctx.received) : bundle,
          // (Its UTF-8 bytes as they are: valid UTF-8, JSON.stringify's own.)
          report: reportJson !== undefined ? new JsonText(Buffer.from(reportJson.buffer, reportJson.byteOffset, reportJson.byteLength)) : toOperationOutcome(issues),
          response: new JsonText(responseJson()),
        };
        pieces = [];
        return [submissionInsert(record, submissionId, p, pieces)];
      },
      after: (tx) => insertSubmissionPieces(tx, submissionId, pieces),
    });
  } catch (err) {
    if (err instanceof FhirError) return reject(ctx, bundle, refusal(err.status, outcome(err), report.issues, report.ig), receivedAt);
    throw err;
  }
  return { status: 200, body: response!, submissionId, json: responseJson! };
}

/**
 * The transaction-response's JSON text, each entry's `response` serialised once: without `base`
 * for the submission log, with it (fullUrls `${base}/Type/id`) for the answer — each the text
 * `JSON.stringify` gives of that Bundle (same keys in the same order, no spaces: the response
 * Bundle is built by transactionResponse, `{resourceType, type, entry: [{fullUrl, response}]}`).
 * The answer was a second serialisation of the whole response (~17 KB, two-byte for its French
 * warnings: ~60 KB of garbage on the main thread per Bundle, D-336).
 */
function responseText(response: FhirResource): (base?: string) => string {
  const entries = response.entry as { fullUrl: string; response: Json }[];
  const parts = entries.map((e) => JSON.stringify(e.response));
  const head = `{"resourceType":${JSON.stringify(response.resourceType)},"type":${JSON.stringify(response.type)},"entry":[`;
  return (base) => {
    let out = head;
    for (let i = 0; i < entries.length; i++) {
      const url = entries[i]!.fullUrl;
      const fullUrl = base !== undefined ? absoluteFullUrl(url, base) : url;
      out += `${i ? ',' : ''}{"fullUrl":${JSON.stringify(fullUrl)},"response":${parts[i]}}`;
    }
    return `${out}]}`;
  };
}

/**
 * The body's bytes as the text the submission log keeps (D-315): decoded as the body parser
 * decoded them (invalid UTF-8 sequences as U+FFFD), so it is the very text the Bundle was parsed
 * from. An accepted Bundle has no text the database cannot store (checkTransaction refused NUL
 * and lone surrogates, escaped or not, in the tree parsed from this text).
 */
function receivedText(bytes: Uint8Array): JsonText {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Valid UTF-8 without a byte-order mark (as good as every body): its bytes are that very text,
  // given to the driver as they are (D-328: no 40 MB decoding and pg re-encoding on this thread).
  if (isUtf8(buf) && !(buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf)) return new JsonText(buf, 'Bundle');
  return new JsonText(buf.toString('utf8'), 'Bundle');
}

/**
 * Business keys of every entry, all computed before touching the database (one lookup for the
 * whole bundle). Objects with business identifiers first; then composite keys, computed on the
 * resource with each reference to an entry replaced by that entry's first business key (stable
 * across resends, unlike bundle-local ids), in rounds since such objects may reference each
 * other (a cycle is keyed as it stands).
 */
function keyedItems(entries: Json[], resolver: BundleResolver): Item[] {
  const items: Item[] = entries.map((e, index) => {
    const resource = e.resource as Json;
    return { index, resourceType: resource.resourceType as string, resource, keys: [] };
  });
  const keyRef = (i: number) => {
    const k = items[i]!.keys[0];
    return k ? `${items[i]!.resourceType}?key=${k.system}|${k.value}` : undefined;
  };
  for (const it of items) if (!keyNeedsReferences(it.resource)) it.keys = businessKeys(it.resource);
  const patients = items.filter((it) => it.resourceType === 'Patient' && it.keys.length);
  const usager = patients.length === 1 ? keyRef(patients[0]!.index) : undefined;
  // R5: a Consent's key names the CarePlans whose supportingInfo references it.
  const carePlansOf = new Map<number, number[]>();
  for (const it of items) {
    if (it.resourceType !== 'CarePlan' || !Array.isArray(it.resource.supportingInfo)) continue;
    for (const ref of it.resource.supportingInfo) {
      if (!isObj(ref) || typeof ref.reference !== 'string') continue;
      const t = resolver.resolve(ref.reference, it.index);
      if (t !== undefined && items[t]!.resourceType === 'Consent') carePlansOf.set(t, [...(carePlansOf.get(t) ?? []), it.index]);
    }
  }
  let pending = items.filter((it) => it.keys.length === 0);
  while (pending.length) {
    const ready = pending.filter((it) =>
      [...referencedEntries(it.resource, it.index, resolver), ...(carePlansOf.get(it.index) ?? [])].every(
        (t) => t === it.index || items[t]!.keys.length,
      ),
    );
    for (const it of ready.length ? ready : pending) {
      const carePlans = (carePlansOf.get(it.index) ?? []).map(keyRef).filter((k): k is string => k !== undefined);
      it.keys = businessKeys(rewriteReferencesShared(it.resource, it.index, resolver, keyRef), { usager, carePlans });
    }
    pending = pending.filter((it) => it.keys.length === 0);
  }
  return items;
}

/** The transaction-response: per entry status, location with version, etag, lastModified and its warnings. */
function transactionResponse(results: OpResult[], issues: readonly ValidationIssue[]): FhirResource {
  const warnings = warningsByEntry(issues);
  const responseEntries = results.map((r) => {
    const rec = r.record!;
    const response: Json = {
      status: r.status === 201 ? '201 Created' : '200 OK',
      location: `${r.resourceType}/${r.id}/_history/${rec.versionId}`,
      etag: `W/"${rec.versionId}"`,
      lastModified: rec.lastUpdated,
    };
    const own = [...(r.index === 0 ? warnings.bundle : []), ...(warnings.entries.get(r.index) ?? [])];
    // (In the report's order, as one filter over it would give them.)
    const mine = r.index === 0 && warnings.bundle.length && warnings.entries.get(0)?.length ? inOrder(issues, own) : own;
    if (mine.length) response.outcome = toOperationOutcome(mine);
    return { fullUrl: `${r.resourceType}/${r.id}`, response };
  });
  return { resourceType: 'Bundle', type: 'transaction-response', entry: responseEntries };
}

function inOrder(issues: readonly ValidationIssue[], some: ValidationIssue[]): ValidationIssue[] {
  const kept = new Set(some);
  return issues.filter((x) => kept.has(x));
}

/**
 * The warnings of each entry (`Bundle.entry[i]` and below) and the Bundle-level ones (no entry
 * in their expression, reported on the first entry), in one pass over the report: a 40 MB
 * Bundle has 14,000 entries and as many warnings, and a filter of the report per entry held the
 * event loop for a minute.
 */
function warningsByEntry(issues: readonly ValidationIssue[]): { bundle: ValidationIssue[]; entries: Map<number, ValidationIssue[]> } {
  const bundle: ValidationIssue[] = [];
  const entries = new Map<number, ValidationIssue[]>();
  for (const x of issues) {
    if (x.severity !== 'warning') continue;
    const m = /^Bundle\.entry\[(\d+)\](?=$|\.)/.exec(x.expression);
    if (m) {
      const i = Number(m[1]);
      const list = entries.get(i);
      if (list) list.push(x);
      else entries.set(i, [x]);
    } else if (!/^Bundle\.entry\[\d+\]/.test(x.expression)) bundle.push(x);
  }
  return { bundle, entries };
}
