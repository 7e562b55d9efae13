// The submission log for the v1 single-document flow (POST /fhir/DocumentReference): every
// create, accepted or rejected, is logged like a transaction Bundle (src/ingest does those),
// so that the receiver's web UI lists v1 sends too. `bundle` then holds the DocumentReference.
import type { FhirResource, Repository, ResourceRecord, SubmissionRecord } from '../storage/types.js';
import { ownerOf } from '../tddui/business-keys.js';
import { NIR_SYSTEMS, SYSTEMS } from '../tddui/rules/identifiers.js';
import { isObject as isObj } from '../fhir/json.js';
import { storableCopy } from '../fhir/text.js';

type Json = Record<string, unknown>;


function refsOf(v: unknown): Json[] {
  return (Array.isArray(v) ? v : [v]).filter(isObj);
}

function displayName(p: Json): string | undefined {
  const name = (Array.isArray(p.name) ? p.name : []).filter(isObj)[0];
  if (!name) return undefined;
  const given = Array.isArray(name.given) ? name.given.filter((g): g is string => typeof g === 'string') : [];
  const text = [typeof name.family === 'string' ? name.family : '', ...given].join(' ').trim();
  return text || undefined;
}

/** The usager of a Patient's identifiers (PI and INS), as the ingest pipeline describes it. */
function usagerFromIdentifiers(identifiers: Json[], into: SubmissionRecord['usagers'][number]): void {
  const local = identifiers.find((i) => i.system === SYSTEMS.LOCAL_USAGER)?.value;
  const ins = identifiers.find((i) => typeof i.system === 'string' && NIR_SYSTEMS.has(i.system))?.value;
  if (typeof local === 'string') into.localId ??= local;
  if (typeof ins === 'string') into.ins ??= ins;
  const ident = into.localId ?? into.ins;
  if (ident) into.identifier ??= ident;
}

/**
 * Organisation and usager of a DocumentReference. The organisation comes from the author /
 * custodian Organization (its idNatSt identifier, on the reference or in a contained
 * Organization), else from the FINESS in a local identifier (`3<FINESS>/…`, e.g. the
 * masterIdentifier). The usager comes from `subject`: its identifier and display, and — when
 * it is a reference to a stored Patient — that Patient's id, PI, INS and name.
 */
export async function describeDocumentReference(
  repo: Repository,
  doc: FhirResource,
): Promise<Pick<SubmissionRecord, 'organizationFiness' | 'organizationName' | 'usagers' | 'resourceCount'>> {
  const out: Pick<SubmissionRecord, 'organizationFiness' | 'organizationName' | 'usagers' | 'resourceCount'> = { usagers: [], resourceCount: 1 };
  const contained = (Array.isArray(doc.contained) ? doc.contained : []).filter(isObj);
  const orgRefs = [...refsOf(doc.custodian), ...refsOf(doc.author)];
  // Candidate organisations, as resources, so that ownerOf reads them like Bundle entries.
  const orgs: Json[] = [];
  for (const ref of orgRefs) {
    const r = typeof ref.reference === 'string' ? ref.reference : '';
    if (r.startsWith('#')) {
      const c = contained.find((x) => x.id === r.slice(1) && x.resourceType === 'Organization');
      if (c) orgs.push(c);
    } else if ((ref.type === undefined || ref.type === 'Organization') && (r === '' || r.startsWith('Organization/')) && isObj(ref.identifier)) {
      orgs.push({ resourceType: 'Organization', identifier: [ref.identifier], ...(typeof ref.display === 'string' ? { name: ref.display } : {}) });
    } else if (r.startsWith('Organization/') && typeof ref.display === 'string') {
      orgs.push({ resourceType: 'Organization', name: ref.display });
    }
  }
  const finess = ownerOf({ entry: [...orgs, doc].map((resource) => ({ resource })) });
  if (finess) out.organizationFiness = finess;
  const named = orgs.find((o) => typeof o.name === 'string');
  if (named) out.organizationName = named.name as string;

  const subject = isObj(doc.subject) ? doc.subject : undefined;
  if (subject) {
    const u: SubmissionRecord['usagers'][number] = {};
    const ref = typeof subject.reference === 'string' ? subject.reference : '';
    const m = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(ref);
    if (m) {
      try {
        const p = (await repo.read('Patient', m[1]!)).resource as Json;
        u.id = m[1]!;
        usagerFromIdentifiers((Array.isArray(p.identifier) ? p.identifier : []).filter(isObj), u);
        const name = displayName(p);
        if (name) u.name = name;
      } catch {
        // Not a stored Patient (or deleted): the log keeps what the reference itself says.
      }
    } else if (ref.startsWith('#')) {
      const p = contained.find((x) => x.id === ref.slice(1) && x.resourceType === 'Patient');
      if (p) {
        usagerFromIdentifiers((Array.isArray(p.identifier) ? p.identifier : []).filter(isObj), u);
        const name = displayName(p);
        if (name) u.name = name;
      }
    }
    if (isObj(subject.identifier)) usagerFromIdentifiers([subject.identifier], u);
    if (typeof subject.display === 'string' && !u.name) u.name = subject.display;
    if (Object.keys(u).length) out.usagers.push(u);
  }
  return out;
}

function issueCounts(outcome: unknown): { errorCount: number; warningCount: number } {
  const issues = (isObj(outcome) && Array.isArray(outcome.issue) ? outcome.issue : []).filter(isObj);
  return {
    errorCount: issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').length,
    warningCount: issues.filter((i) => i.severity === 'warning').length,
  };
}

/**
 * Logs a v1 create. Accepted: `response` is the one-entry transaction-response a transaction
 * of this create would have answered (status, location, etag), which is what the UI lists.
 * The log is written after the document: a failure to log is logged and does not turn a
 * stored document into an error (the client would resend it and create a duplicate).
 */
export async function logDocumentSubmission(
  repo: Repository,
  log: { error(obj: object, msg: string): void },
  submitted: FhirResource,
  result: { status: number; outcome: unknown; stored?: ResourceRecord },
  receivedAt: string,
  client?: string,
): Promise<string | undefined> {
  try {
    // Stored as the database can store it (a rejected document may hold NUL or lone surrogates).
    if (!result.stored) submitted = storableCopy(submitted, { maxDepth: 64, maxString: 64 * 1024, maxValues: 1_000_000 }) as FhirResource;
    const described = await describeDocumentReference(repo, submitted);
    const rec: Omit<SubmissionRecord, 'id'> = {
      receivedAt,
      ...described,
      ...(client !== undefined ? { client } : {}),
      outcome: result.stored ? 'accepted' : 'rejected',
      httpStatus: result.status,
      ...issueCounts(result.outcome),
      bundle: submitted,
      report: storableCopy(result.outcome),
    };
    if (result.stored) {
      const s = result.stored;
      rec.response = {
        resourceType: 'Bundle',
        type: 'transaction-response',
        entry: [
          {
            response: {
              status: result.status === 201 ? '201 Created' : '200 OK',
              location: `${s.resourceType}/${s.id}/_history/${s.versionId}`,
              etag: `W/"${s.versionId}"`,
              lastModified: s.lastUpdated,
            },
          },
        ],
      };
    }
    return (await repo.recordSubmission(rec)).id;
  } catch (err) {
    log.error({ err }, 'the submission log could not be written (the request itself was answered)');
    return undefined;
  }
}
