// A validated projet personnalisé is frozen (D-150; issue 17, Cadre d'urbanisation 2024 reco
// 1.1.6: every enrichment makes a new version, and the version the usager agreed to stays what
// it was). Stored versions never change anyway (a write makes a new one); this rule is about the
// CURRENT version of a validated CarePlan (D-123: active, with the usager's accord): a write that
// would replace it — a TDDUI resend matched by its business identifier, or an update, patch or
// delete through the REST core — must say which version it knowingly builds on (If-Match, or
// `Bundle.entry.request.ifMatch`), or is refused with a 412 and nothing is stored. Not refused:
//   - a write that changes nothing (the no-op rule: it never reaches a guard);
//   - closing the plan (only its status changes, to completed, revoked or entered-in-error: the
//     DUI closes last year's plan when the new one `replaces` it);
//   - a change that brings a new accord of the usager (a supportingInfo `accordUsager` the
//     current version does not name): the revision is validated again in the same send.
// The guard reads what the plan did not (the plan's content of a delete, the accords) inside the
// write's transaction, and only when a CarePlan is about to change.
import { isObject, sameJson, type FhirResource } from '../fhir/json.js';
import { FhirError, HTTP_ERRORS } from '../fhir/outcome/http-errors.js';
import type { GuardedWrite, Queryable } from '../storage/types.js';
import { TDDUI_CANONICAL } from '../tddui/ig.js';
import { referenceKey, referenceKeys, validatingAccords } from '../tddui/ppa-accord.js';

/** Statuses that close a plan: setting one (and nothing else) is not a change of what was agreed. */
const CLOSING = new Set(['completed', 'revoked', 'entered-in-error']);
const DISCRIMINATOR = `${TDDUI_CANONICAL}/StructureDefinition/tddui-discriminator`;

/** The ChangeGuard of TDDUI's projet personnalisé (registered by the TDDUI module). */
export async function ppaFrozenGuard(writes: readonly GuardedWrite[], tx: Queryable): Promise<void> {
  const plans = writes.filter((w) => w.resourceType === 'CarePlan' && w.ifMatch === undefined);
  if (plans.length === 0) return;
  const missing = plans.filter((w) => !w.current.content).map((w) => w.id);
  const stored = missing.length ? await currentContents(tx, 'CarePlan', missing) : new Map<string, FhirResource>();
  const candidates = plans
    .map((w) => ({ w, current: w.current.content ?? stored.get(w.id) }))
    .filter((x): x is { w: GuardedWrite; current: FhirResource } => !!x.current && x.current.status === 'active' && !(x.w.next && (closes(x.current, x.w.next) || bringsNewAccord(x.current, x.w.next))));
  if (candidates.length === 0) return;
  const consentIds = [...new Set(candidates.flatMap((c) => referenceKeys(c.current.supportingInfo).filter((k) => k.startsWith('Consent/')).map((k) => k.slice(8))))];
  const consents = consentIds.length ? await currentContents(tx, 'Consent', consentIds) : new Map<string, FhirResource>();
  for (const { w, current } of candidates) {
    const accords = validatingAccords(current, (k) => (k.startsWith('Consent/') ? consents.get(k.slice(8)) : undefined));
    if (accords.length === 0) continue;
    const accord = accords.map((c) => (typeof c.dateTime === 'string' ? c.dateTime : '')).sort().pop() || '?';
    const ident = Array.isArray(current.identifier) && isObject(current.identifier[0]) && typeof current.identifier[0].value === 'string' ? current.identifier[0].value : `CarePlan/${w.id}`;
    throw new FhirError(HTTP_ERRORS.PPA_VALIDATED_FROZEN, { identifier: ident, id: w.id, version: w.current.versionId, accord: accord.slice(0, 10) }, { expression: 'CarePlan' });
  }
}

/** Only the status changes, to a closing one. */
function closes(current: FhirResource, next: FhirResource): boolean {
  if (typeof next.status !== 'string' || !CLOSING.has(next.status)) return false;
  const strip = (r: FhirResource) => {
    const { status: _s, _status: _x, meta: _m, id: _i, ...rest } = r;
    return rest;
  };
  return sameJson(strip(current), strip(next));
}

/** The next version names an accord of the usager (supportingInfo `accordUsager`) that the current one does not. */
function bringsNewAccord(current: FhirResource, next: FhirResource): boolean {
  const before = new Set(referenceKeys(current.supportingInfo));
  const infos = Array.isArray(next.supportingInfo) ? next.supportingInfo : [];
  return infos.some((si) => {
    if (!isObject(si)) return false;
    const key = referenceKey(si.reference);
    return !!key && !before.has(key) && discriminatorOf(si) === 'accordUsager';
  });
}

function discriminatorOf(si: Record<string, unknown>): string | undefined {
  for (const e of Array.isArray(si.extension) ? si.extension : []) {
    if (!isObject(e) || e.url !== DISCRIMINATOR || !isObject(e.valueCodeableConcept)) continue;
    for (const c of Array.isArray(e.valueCodeableConcept.coding) ? e.valueCodeableConcept.coding : []) if (isObject(c) && typeof c.code === 'string') return c.code;
  }
  return undefined;
}

/** Current, non-deleted contents of `ids` (no lock: the accords are read as the plan sees them). */
async function currentContents(tx: Queryable, type: string, ids: string[]): Promise<Map<string, FhirResource>> {
  const res = await tx.query<{ id: string; content: FhirResource | string }>(`SELECT id, content FROM resource WHERE resource_type = $1 AND id = ANY($2::text[]) AND NOT deleted`, [type, ids]);
  return new Map(res.rows.map((r) => [r.id, typeof r.content === 'string' ? (JSON.parse(r.content) as FhirResource) : r.content]));
}
