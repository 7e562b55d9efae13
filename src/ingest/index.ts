// The receiving pipeline for a TDDUI transaction Bundle: validate in full, then in ONE
// database transaction match resent business objects, assign ids, fix references, write the
// versions and the index, and answer a transaction-response. Every submission is logged.
import { toOperationOutcome, type OperationOutcome, type OperationOutcomeIssue, type ValidationIssue } from '../fhir/outcome/issue.js';
import { keyId, lockAndLookupKeys } from '../storage/keys.js';
import { newId } from '../storage/repository.js';
import { submissionInsert } from '../storage/submissions.js';
import { StorageError, type FhirResource, type Queryable, type Repository, type SubmissionRecord } from '../storage/types.js';
import { nextInstant, stamp, writeVersions, type KeysToWrite, type VersionToWrite } from '../storage/writer.js';
import { businessKeys, keyNeedsReferences, ownerOf, type BusinessKey } from '../tddui/business-keys.js';
import { NIR_SYSTEMS, SYSTEMS } from '../tddui/rules/identifiers.js';
import type { TdduiValidator } from '../tddui/validator.js';
import { BundleResolver, referencedEntries, rewriteReferences, type EntryRef } from './references.js';
import { isObject as isObj } from '../fhir/json.js';

export interface IngestContext {
  repo: Repository;
  validator: TdduiValidator;
  now?: () => Date;
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


/** Transient database errors on which the whole transaction is retried. */
const RETRY_CODES = new Set(['40P01', '40001', '23505']);
const MAX_ATTEMPTS = 5;

function outcome(severity: 'error' | 'fatal', code: string, diagnostics: string, expression?: string): OperationOutcome {
  // `code` is a FHIR IssueType; storage errors bring some the validator never emits (conflict, deleted).
  const issue: OperationOutcomeIssue = { severity, code: code as OperationOutcomeIssue['code'], diagnostics, details: { text: diagnostics } };
  if (expression) issue.expression = [expression];
  return { resourceType: 'OperationOutcome', issue: [issue] };
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

function counts(issues: readonly ValidationIssue[]): { errorCount: number; warningCount: number } {
  let errorCount = 0;
  let warningCount = 0;
  for (const i of issues) {
    if (i.severity === 'error' || i.severity === 'fatal') errorCount++;
    else if (i.severity === 'warning') warningCount++;
  }
  return { errorCount, warningCount };
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
): Promise<IngestResult> {
  const extra = warnings.filter((i) => i.severity === 'warning');
  const full: OperationOutcome = extra.length ? { ...body, issue: [...body.issue, ...toOperationOutcome(extra).issue] } : body;
  const rec = await ctx.repo.recordSubmission({
    receivedAt,
    ...describe(bundle),
    outcome: 'rejected',
    httpStatus: status,
    errorCount: full.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal').length,
    warningCount: full.issue.filter((i) => i.severity === 'warning').length,
    bundle: bundle === undefined ? null : bundle,
    report: full,
  });
  return { status, body: full as unknown as FhirResource, submissionId: rec.id };
}

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
    return reject(ctx, bundle, 400, outcome('error', 'invalid', 'The request body is not a FHIR Bundle'), receivedAt);
  }
  if (bundle.type !== 'transaction') {
    return reject(
      ctx,
      bundle,
      400,
      outcome('error', 'invalid', `Bundle.type must be "transaction" (found ${JSON.stringify(bundle.type ?? null)})`, 'Bundle.type'),
      receivedAt,
    );
  }

  const report = ctx.validator.validate(bundle, { now });
  if (!report.valid) {
    return reject(ctx, bundle, 422, toOperationOutcome(report.issues), receivedAt);
  }

  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  // Only creates: the IG's flow 1 is "create only" (request.method POST).
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const method = isObj(e) && isObj(e.request) ? e.request.method : undefined;
    if (!isObj(e) || !isObj(e.resource) || typeof e.resource.resourceType !== 'string' || method !== 'POST') {
      const body = outcome(
        'error',
        'not-supported',
        `Entry ${i}: only POST entries with a resource are supported (TDDUI transactions create only)`,
        `Bundle.entry[${i}].request.method`,
      );
      return reject(ctx, bundle, 422, body, receivedAt, report.issues);
    }
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

  let lastError: unknown;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    try {
      const response = await ctx.repo.db.transaction(async (tx) => {
        const submissionId = newId();
        const result = await store(tx, entries as Json[], resolver, owner, now, issues, (patientIds, responseBundle) => ({
          id: submissionId,
          record: {
            receivedAt,
            ...describe(bundle),
            outcome: 'accepted',
            httpStatus: 200,
            ...counts(issues),
            usagers: describe(bundle).usagers.map((u, i) => ({ ...u, id: patientIds[i] })),
            bundle,
            report: toOperationOutcome(issues),
            response: responseBundle,
          },
        }));
        return { response: result.response, submissionId };
      });
      return { status: 200, body: response.response, submissionId: response.submissionId };
    } catch (err) {
      lastError = err;
      const code = (err as { code?: string }).code;
      if (!code || !RETRY_CODES.has(code)) break;
    }
  }
  if (lastError instanceof StorageError) {
    return reject(ctx, bundle, lastError.status, outcome('error', lastError.issueCode, lastError.message), receivedAt, report.issues);
  }
  const code = (lastError as { code?: string }).code;
  if (code && RETRY_CODES.has(code)) {
    return reject(
      ctx,
      bundle,
      409,
      outcome('error', 'conflict', 'Concurrent submissions of the same business objects kept conflicting; send the Bundle again'),
      receivedAt,
      report.issues,
    );
  }
  throw lastError;
}

type SubmissionOf = (patientIds: string[], response: FhirResource) => { id: string; record: Omit<SubmissionRecord, 'id'> };

async function store(
  tx: Queryable,
  entries: Json[],
  resolver: BundleResolver,
  owner: string,
  now: Date,
  issues: readonly ValidationIssue[],
  submission: SubmissionOf,
): Promise<{ response: FhirResource }> {
  const items: Item[] = entries.map((e, index) => {
    const resource = e.resource as Json;
    return { index, resourceType: resource.resourceType as string, resource, keys: [] };
  });

  // Keys, all computed before touching the database (one lookup for the whole bundle).
  // Objects with business identifiers first; then composite keys, computed on the resource with
  // each reference to an entry replaced by that entry's first business key (stable across
  // resends, unlike bundle-local ids), in rounds since such objects may reference each other
  // (a cycle is keyed as it stands).
  const keyRef = (i: number) => {
    const k = items[i].keys[0];
    return k ? `${items[i].resourceType}?key=${k.system}|${k.value}` : undefined;
  };
  for (const it of items) if (!keyNeedsReferences(it.resource)) it.keys = businessKeys(it.resource);
  const patients = items.filter((it) => it.resourceType === 'Patient' && it.keys.length);
  const usager = patients.length === 1 ? keyRef(patients[0].index) : undefined;
  // R5: a Consent's key names the CarePlans whose supportingInfo references it.
  const carePlansOf = new Map<number, number[]>();
  for (const it of items) {
    if (it.resourceType !== 'CarePlan' || !Array.isArray(it.resource.supportingInfo)) continue;
    for (const ref of it.resource.supportingInfo) {
      if (!isObj(ref) || typeof ref.reference !== 'string') continue;
      const t = resolver.resolve(ref.reference, it.index);
      if (t !== undefined && items[t].resourceType === 'Consent') carePlansOf.set(t, [...(carePlansOf.get(t) ?? []), it.index]);
    }
  }
  let pending = items.filter((it) => it.keys.length === 0);
  while (pending.length) {
    const ready = pending.filter((it) =>
      [...referencedEntries(it.resource, it.index, resolver), ...(carePlansOf.get(it.index) ?? [])].every(
        (t) => t === it.index || items[t].keys.length,
      ),
    );
    for (const it of ready.length ? ready : pending) {
      const carePlans = (carePlansOf.get(it.index) ?? []).map(keyRef).filter((k): k is string => k !== undefined);
      it.keys = businessKeys(rewriteReferences(it.resource, it.index, resolver, keyRef), { usager, carePlans });
    }
    pending = pending.filter((it) => it.keys.length === 0);
  }

  // Ids: a known key -> that object (new version); else a fresh id. Two entries with one key
  // in the bundle are one object; the first key in priority order that is known wins.
  const found = await lockAndLookupKeys(tx, owner, items);
  const chosen = new Map<string, string>();
  const current = new Map<string, { versionId: number; lastUpdated: string }>();
  for (const it of items) {
    let id: string | undefined;
    for (const k of it.keys) {
      const kk = keyId(it.resourceType, k);
      id = chosen.get(kk);
      if (id) break;
      const stored = found.get(kk);
      if (stored) {
        id = stored.id;
        current.set(`${it.resourceType}/${stored.id}`, { versionId: stored.versionId, lastUpdated: stored.lastUpdated });
        break;
      }
    }
    it.id = id ?? newId();
    for (const k of it.keys) chosen.set(keyId(it.resourceType, k), it.id);
  }
  const serverRef = (i: number) => `${items[i].resourceType}/${items[i].id}`;

  const writes: VersionToWrite[] = [];
  const versions = new Map<string, { versionId: number; lastUpdated: string }>();
  const responseEntries: Json[] = [];
  for (const it of items) {
    const k = `${it.resourceType}/${it.id}`;
    const prev = versions.get(k) ?? current.get(k);
    const versionId = (prev?.versionId ?? 0) + 1;
    const lastUpdated = nextInstant(now, prev?.lastUpdated);
    versions.set(k, { versionId, lastUpdated });
    const fixed = rewriteReferences(it.resource, it.index, resolver, serverRef) as FhirResource;
    const stored = stamp(fixed, it.id!, versionId, lastUpdated);
    writes.push({ resourceType: it.resourceType, id: it.id!, versionId, lastUpdated, owner, existed: prev !== undefined, resource: stored });
    const response: Json = {
      status: prev ? '200 OK' : '201 Created',
      location: `${it.resourceType}/${it.id}/_history/${versionId}`,
      etag: `W/"${versionId}"`,
      lastModified: lastUpdated,
    };
    const warnings = issuesOfEntry(issues, it.index, it.index === 0);
    if (warnings.length) response.outcome = toOperationOutcome(warnings);
    responseEntries.push({ fullUrl: `${it.resourceType}/${it.id}`, response });
  }

  // Keys -> ids (re-pointed when a key of an object was known under another id).
  const keyRows: KeysToWrite['rows'] = [];
  const seen = new Set<string>();
  for (const it of items) {
    for (const k of it.keys) {
      const kk = keyId(it.resourceType, k);
      if (seen.has(kk)) continue;
      seen.add(kk);
      keyRows.push({ resourceType: it.resourceType, system: k.system, value: k.value, id: it.id! });
    }
  }
  const response: FhirResource = { resourceType: 'Bundle', type: 'transaction-response', entry: responseEntries };
  const patientIds = items.filter((it) => it.resourceType === 'Patient').map((it) => it.id!);
  const sub = submission(patientIds, response);
  // Versions, index, keys and the submission log in one statement. An object sent twice in
  // one bundle (two entries with one composite key) gets two versions, written in successive
  // batches since one upsert cannot touch a row twice.
  const batches = occurrences(writes);
  if (batches.length === 0) batches.push([]);
  for (const [n, batch] of batches.entries()) {
    await writeVersions(tx, batch, n === 0 ? { owner, rows: keyRows } : undefined, n === 0 ? (p) => [submissionInsert(sub.record, sub.id, p)] : undefined);
  }
  return { response };
}

/** Splits writes so that each batch holds at most one version of each resource, in order. */
function occurrences(writes: VersionToWrite[]): VersionToWrite[][] {
  const batches: VersionToWrite[][] = [];
  const seen = new Map<string, number>();
  for (const w of writes) {
    const k = `${w.resourceType}/${w.id}`;
    const n = seen.get(k) ?? 0;
    seen.set(k, n + 1);
    (batches[n] ??= []).push(w);
  }
  return batches;
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
