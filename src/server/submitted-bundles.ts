// The submitted transaction Bundles as a read-only FHIR type: `GET /fhir/Bundle/{id}` and
// `GET /fhir/Bundle?…` read the submission log (accepted and rejected sends), where `id` is the
// submission id. Nothing here writes: Bundles arrive only through `POST /fhir`.
import { randomUUID } from 'node:crypto';
import { dateRange } from '../fhir/search/dates.js';
import type { FhirResource, Repository, SubmissionFilter, SubmissionRecord, ReadScope } from '../storage/types.js';
import { FhirError, HTTP_ERRORS } from './outcome.js';
import { badParam as bad, DEFAULT_COUNT, pageLink, splitValues } from './search.js';
import { isObject as isObj } from '../fhir/json.js';

/** Tag on each served Bundle saying whether the send was accepted or rejected. */
export const SUBMISSION_OUTCOME_SYSTEM = 'urn:tddui:submission-outcome';
/** Each listed Bundle is read in full from the log: pages stay small. */
export const MAX_BUNDLE_COUNT = 100;

type Json = Record<string, unknown>;


/**
 * The submitted Bundle of a logged submission as a FHIR resource: `id` = the submission id,
 * `meta.versionId` 1, `meta.lastUpdated` = when it was received, an outcome tag; everything
 * else as submitted. Undefined when what was submitted is not a Bundle (a v1 DocumentReference
 * create, or a body of another type sent to `POST /fhir`).
 */
export function submittedBundle(sub: SubmissionRecord): FhirResource | undefined {
  const b = sub.bundle;
  if (!isObj(b) || b.resourceType !== 'Bundle') return undefined;
  const { resourceType: _t, id: _id, meta: submittedMeta, ...rest } = b;
  const meta: Json = isObj(submittedMeta) ? { ...submittedMeta } : {};
  meta.versionId = '1';
  meta.lastUpdated = sub.receivedAt;
  const tags = (Array.isArray(meta.tag) ? meta.tag : []).filter((t) => !(isObj(t) && t.system === SUBMISSION_OUTCOME_SYSTEM));
  tags.push({
    system: SUBMISSION_OUTCOME_SYSTEM,
    code: sub.outcome,
    display: sub.outcome === 'accepted' ? `Envoi accepté (HTTP ${sub.httpStatus})` : `Envoi rejeté (HTTP ${sub.httpStatus})`,
  });
  meta.tag = tags;
  return { resourceType: 'Bundle', id: sub.id, meta, ...rest };
}

export interface BundleQuery {
  count: number;
  offset: number;
  /** Inclusive range of reception instants (`_lastUpdated`). */
  from?: string;
  to?: string;
  /** True when the `_lastUpdated` conditions cannot all hold. */
  empty?: boolean;
  /** `_total=none`: no total in the searchset. */
  noTotal?: boolean;
}

function nonNegative(name: string, raw: string): number {
  if (!/^\d{1,9}$/.test(raw.trim())) throw bad(name, `${name} must be a non-negative integer (got "${raw}")`, `${name} doit être un entier positif ou nul (reçu « ${raw} »)`);
  return Number(raw.trim());
}

const ms = (iso: string) => Date.parse(iso);
const iso = (t: number) => new Date(t).toISOString();

/** `_count`, `_offset`, `_lastUpdated` (prefixes eq, ge, gt, le, lt; any precision; repeated = AND). */
export function parseBundleSearch(pairs: [string, string][]): BundleQuery {
  const q: BundleQuery = { count: DEFAULT_COUNT, offset: 0 };
  let low = -Infinity;
  let high = Infinity;
  for (const [key, value] of pairs) {
    switch (key) {
      case '_count':
        q.count = Math.min(nonNegative('_count', value), MAX_BUNDLE_COUNT);
        break;
      case '_offset':
        q.offset = nonNegative('_offset', value);
        break;
      case '_lastUpdated': {
        if (splitValues(value).length > 1) {
          throw new FhirError(
            HTTP_ERRORS.SEARCH_RESULT_PARAM,
            {
              detail: '_lastUpdated on Bundle takes one value per parameter (repeat the parameter for a range)',
              detailFr: '_lastUpdated sur Bundle prend une seule valeur par paramètre (répéter le paramètre pour un intervalle)',
            },
            { expression: '_lastUpdated' },
          );
        }
        const m = /^(eq|ge|gt|le|lt)?(.*)$/.exec(value)!;
        const prefix = m[1] ?? 'eq';
        const range = dateRange(m[2]!);
        if (!range) {
          throw bad('_lastUpdated', `_lastUpdated must be [eq|ge|gt|le|lt] followed by a FHIR date or instant (got "${value}")`, `_lastUpdated doit être [eq|ge|gt|le|lt] suivi d'une date ou d'un instant FHIR (reçu « ${value} »)`);
        }
        const lo = ms(range.low);
        const hi = ms(range.high);
        if (prefix === 'eq' || prefix === 'ge') low = Math.max(low, lo);
        if (prefix === 'eq' || prefix === 'le') high = Math.min(high, hi);
        if (prefix === 'gt') low = Math.max(low, hi + 1);
        if (prefix === 'lt') high = Math.min(high, lo - 1);
        break;
      }
      case '_format':
      case '_pretty':
        break;
      case '_total':
        if (value === 'none') q.noTotal = true;
        else if (value !== 'accurate' && value !== 'estimate') {
          throw bad('_total', `_total must be none, estimate or accurate (got "${value}")`, `_total doit valoir none, estimate ou accurate (reçu « ${value} »)`);
        }
        break;
      default:
        throw new FhirError(HTTP_ERRORS.SEARCH_NOT_SUPPORTED, { name: key, where: 'on Bundle (only _lastUpdated, _count, _offset)', whereFr: 'sur Bundle (seulement _lastUpdated, _count, _offset)' }, { expression: key });
    }
  }
  if (low > high) q.empty = true;
  if (low > -Infinity) q.from = iso(low);
  if (high < Infinity) q.to = iso(high);
  return q;
}

export interface BundlePage {
  bundles: FhirResource[];
  /** Submitted Bundles that match, all pages together. */
  total: number;
  /** Offset of the next page, when there is one. */
  next?: number;
}

/**
 * One page of submitted Bundles, newest first. The log also holds what is not a Bundle (v1
 * DocumentReference creates); the `submitted_type` column (migration 0007) keeps them out, so
 * offsets count Bundles only and the total is exact.
 */
export async function bundlePage(repo: Repository, q: BundleQuery, scope?: ReadScope): Promise<BundlePage> {
  if (q.empty) return { bundles: [], total: 0 };
  // A restricted token: the submissions of its organisations only (total included).
  const filter: SubmissionFilter = { submittedType: 'Bundle', count: q.count, offset: q.offset, ...(scope ? { scope } : {}) };
  if (q.from) filter.from = q.from;
  if (q.to) filter.to = q.to;
  const list = await repo.listSubmissions(filter);
  const full = await Promise.all(list.items.map((s) => repo.getSubmission(s.id, scope ? { scope } : {})));
  const bundles = full.map((sub) => (sub ? submittedBundle(sub) : undefined)).filter((b): b is FhirResource => b !== undefined);
  const out: BundlePage = { bundles, total: list.total };
  if (q.count > 0 && q.offset + q.count < list.total) out.next = q.offset + q.count;
  return out;
}

/** The searchset of a page: total (unless `_total=none`), self / first / next links. */
export function bundleSearchset(base: string, pairs: [string, string][], q: BundleQuery, page: BundlePage, now: Date): FhirResource {
  const link = (offset: number) => pageLink({ pageUrl: `${base}/Bundle`, pairs, count: q.count }, offset);
  const links = [
    { relation: 'self', url: link(q.offset) },
    { relation: 'first', url: link(0) },
  ];
  if (page.next !== undefined) links.push({ relation: 'next', url: link(page.next) });
  const bundle: FhirResource = { resourceType: 'Bundle', id: randomUUID(), meta: { lastUpdated: now.toISOString() }, type: 'searchset' };
  if (!q.noTotal) bundle.total = page.total;
  bundle.link = links;
  if (page.bundles.length) bundle.entry = page.bundles.map((b) => ({ fullUrl: `${base}/Bundle/${b.id}`, resource: b, search: { mode: 'match' } }));
  return bundle;
}
