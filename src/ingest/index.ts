// The receiving pipeline for a TDDUI transaction Bundle: validate in full, then in ONE
// database transaction match resent business objects, assign ids, fix references, write the
// versions and the index, and answer a transaction-response. Every submission is logged.
import { ppVersionEvents } from './pp-events.js';
import { isObject as isObj, type FhirResource } from '../fhir/json.js';
import { BundleResolver, referencedEntries, rewriteReferences, type EntryRef } from '../fhir/bundle/references.js';
import { FhirError, HTTP_ERRORS } from '../fhir/outcome/http-errors.js';
import { countIssues, fromOperationOutcome, toOperationOutcome, type OperationOutcome, type ValidationIssue } from '../fhir/outcome/issue.js';
import { findUnstorableText, storableCopy, unstorableError } from '../fhir/text.js';
import { submissionInsert } from '../storage/submissions.js';
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
   * Validation elsewhere than on this thread (the server's worker pool: src/server/validation-pool.ts),
   * of the same Bundle; `undefined` (no worker ready) validates here with `validator`.
   */
  offload?: (now: Date) => Promise<ValidationReport | undefined>;
}

export interface IngestResult {
  /** 200 accepted; 400 unreadable/not a transaction; 422 invalid; 409 conflict. */
  status: number;
  /** transaction-response Bundle, or OperationOutcome. */
  body: FhirResource;
  /** Id of the SubmissionRecord logged (accepted AND rejected). */
  submissionId?: string;
}

type Json = Record<string, unknown>;

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
 * Logs a rejected submission and answers its OperationOutcome. `warnings`: the validation
 * warnings of a Bundle rejected after validation, appended to the outcome so it tells all.
 */
async function reject(
  ctx: IngestContext,
  bundle: unknown,
  status: number,
  body: OperationOutcome,
  receivedAt: string,
  warnings: readonly ValidationIssue[] = [],
  ig?: string,
): Promise<IngestResult> {
  const extra = warnings.filter((i) => i.severity === 'warning');
  const full: OperationOutcome = extra.length ? { ...body, issue: [...body.issue, ...toOperationOutcome(extra).issue] } : body;
  // What is logged is what the database can store (NUL, lone surrogates replaced; depth, string
  // length and size bounded: src/fhir/text.ts), and logging never turns a rejection into a 500.
  const copy = bundle === undefined ? null : storableCopy(bundle, REJECTED_COPY_LIMITS);
  // One document larger than the limit is not kept at all (the record and its report are).
  const tooLarge = copy !== null && Buffer.byteLength(JSON.stringify(copy)) > REJECTED_DOCUMENT_BYTES;
  const kept = tooLarge ? null : copy;
  const record = {
    receivedAt,
    ...describe(copy),
    ...(ctx.client !== undefined ? { client: ctx.client } : {}),
    outcome: 'rejected' as const,
    httpStatus: status,
    ...counts(fromOperationOutcome(full)),
    ...(ig ? { ig } : {}),
    bundle: kept,
    ...(tooLarge ? { bundleDropped: 'size' as const } : {}),
    report: storableCopy(keptReport(full)),
  };
  let submissionId: string | undefined;
  try {
    submissionId = (await ctx.repo.recordSubmission(record)).id;
  } catch (err) {
    // Last resort: the rejection without the document (the client still gets its answer).
    ctx.log?.error({ err: { code: (err as { code?: unknown }).code, name: (err as Error).name } }, 'the rejected submission could not be logged whole: logged without its document');
    try {
      submissionId = (await ctx.repo.recordSubmission({ ...record, usagers: [], organizationName: undefined, bundle: null } as typeof record)).id;
    } catch (err2) {
      ctx.log?.error({ err: { code: (err2 as { code?: unknown }).code, name: (err2 as Error).name } }, 'the rejected submission could not be logged');
    }
  }
  return { status, body: full as unknown as FhirResource, ...(submissionId ? { submissionId } : {}) };
}

/**
 * A rejected Bundle is kept for diagnosis, bounded: 64 levels, strings cut at 64 KiB (base64
 * documents), 1,000,000 values (docs/security.md).
 */
const REJECTED_COPY_LIMITS = { maxDepth: 64, maxString: 64 * 1024, maxValues: 1_000_000 };
/**
 * Issues of a rejected submission's report kept in the log: the client gets them all, the log
 * the first ones and how many more there were (a 40 MB Bundle's report was 43 MiB; D-191).
 */
export const REJECTED_REPORT_ISSUES = 2_000;

function keptReport(full: OperationOutcome): OperationOutcome {
  const n = full.issue.length;
  if (n <= REJECTED_REPORT_ISSUES) return full;
  const more = n - REJECTED_REPORT_ISSUES;
  const note = {
    severity: 'information',
    code: 'informational',
    diagnostics: `${more} more issues are not kept in the submission log (the client received all ${n})`,
    details: { text: `${more} autres problèmes ne sont pas conservés dans le journal des envois (le client les a tous reçus, ${n} en tout)` },
  };
  return { ...full, issue: [...full.issue.slice(0, REJECTED_REPORT_ISSUES), note] } as OperationOutcome;
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
export async function ingestTransaction(ctx: IngestContext, bundle: unknown): Promise<IngestResult> {
  const now = ctx.now?.() ?? new Date();
  const receivedAt = now.toISOString();
  if (!isObj(bundle) || bundle.resourceType !== 'Bundle') {
    return reject(ctx, bundle, 400, outcome(new FhirError(HTTP_ERRORS.NOT_A_BUNDLE)), receivedAt);
  }
  if (bundle.type !== 'transaction') {
    const e = new FhirError(HTTP_ERRORS.BUNDLE_TYPE, { expected: '"transaction"', found: JSON.stringify(bundle.type ?? null) }, { expression: 'Bundle.type' });
    return reject(ctx, bundle, 400, outcome(e), receivedAt);
  }

  // Text no database can store (NUL, lone surrogates): refused before any work, at its place.
  const unstorable = findUnstorableText(bundle, 'Bundle');
  if (unstorable.length) {
    const outcomes = unstorable.map((u) => outcome(unstorableError(u)));
    return reject(ctx, bundle, 422, { resourceType: 'OperationOutcome', issue: outcomes.flatMap((o) => o.issue) } as OperationOutcome, receivedAt);
  }

  const report = (await ctx.offload?.(now)) ?? ctx.validator.validate(bundle, { now });
  if (!report.valid) {
    return reject(ctx, bundle, 422, toOperationOutcome(report.issues), receivedAt, [], report.ig);
  }

  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  // Only creates: the IG's flow 1 is "create only" (request.method POST).
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const method = isObj(e) && isObj(e.request) ? e.request.method : undefined;
    if (!isObj(e) || !isObj(e.resource) || typeof e.resource.resourceType !== 'string' || method !== 'POST') {
      const err = new FhirError(HTTP_ERRORS.ENTRY_POST_ONLY, { index: i }, { expression: `Bundle.entry[${i}].request.method` });
      return reject(ctx, bundle, 422, outcome(err), receivedAt, report.issues, report.ig);
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
      return reject(ctx, bundle, 400, outcome(err), receivedAt, report.issues, report.ig);
    }
    ifMatch.set(i, Number(m[1]));
  }

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
  let submissionId = '';
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
        for (const it of items) rc.setResource(it.index, rewriteReferences(it.resource, it.index, resolver, serverRef) as FhirResource);
      },
      // A new version of a usager's projet personnalisé: one event per usager (D-127).
      events: (_results, changes) => ppVersionEvents(changes),
      extra: (p, results) => {
        response = transactionResponse(results, issues);
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
          bundle,
          report: toOperationOutcome(issues),
          response,
        };
        return [submissionInsert(record, submissionId, p)];
      },
    });
  } catch (err) {
    if (err instanceof FhirError) return reject(ctx, bundle, err.status, outcome(err), receivedAt, report.issues, report.ig);
    throw err;
  }
  return { status: 200, body: response!, submissionId };
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
      it.keys = businessKeys(rewriteReferences(it.resource, it.index, resolver, keyRef), { usager, carePlans });
    }
    pending = pending.filter((it) => it.keys.length === 0);
  }
  return items;
}

/** The transaction-response: per entry status, location with version, etag, lastModified and its warnings. */
function transactionResponse(results: OpResult[], issues: readonly ValidationIssue[]): FhirResource {
  const responseEntries = results.map((r) => {
    const rec = r.record!;
    const response: Json = {
      status: r.status === 201 ? '201 Created' : '200 OK',
      location: `${r.resourceType}/${r.id}/_history/${rec.versionId}`,
      etag: `W/"${rec.versionId}"`,
      lastModified: rec.lastUpdated,
    };
    const warnings = issuesOfEntry(issues, r.index, r.index === 0);
    if (warnings.length) response.outcome = toOperationOutcome(warnings);
    return { fullUrl: `${r.resourceType}/${r.id}`, response };
  });
  return { resourceType: 'Bundle', type: 'transaction-response', entry: responseEntries };
}

/** Warnings and information of entry `i` (and, on the first entry, the Bundle-level ones). */
function issuesOfEntry(issues: readonly ValidationIssue[], i: number, withBundleLevel: boolean): ValidationIssue[] {
  const prefix = `Bundle.entry[${i}]`;
  return issues.filter((x) => {
    if (x.severity !== 'warning') return false;
    if (x.expression === prefix || x.expression.startsWith(prefix + '.')) return true;
    return withBundleLevel && !/^Bundle\.entry\[\d+\]/.test(x.expression);
  });
}
