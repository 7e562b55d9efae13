// The submitted transaction Bundles as a read-only FHIR type: `GET /fhir/Bundle/{id}` and
// `GET /fhir/Bundle?…` read the submission log (accepted and rejected sends), where `id` is the
// submission id. Nothing here writes: Bundles arrive only through `POST /fhir`.
import { randomUUID } from 'node:crypto';
import { dateRange } from '../storage/dates.js';
import type { FhirResource, Repository, SubmissionFilter, SubmissionRecord } from '../storage/types.js';
import { FhirHttpError } from './outcome.js';
import { badParam as bad, DEFAULT_COUNT, pageLink, splitValues } from './search.js';

/** Tag on each served Bundle saying whether the send was accepted or rejected. */
export const SUBMISSION_OUTCOME_SYSTEM = 'urn:tddui:submission-outcome';
/** Each listed Bundle is read in full from the log: pages stay small. */
export const MAX_BUNDLE_COUNT = 100;

type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

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
          throw new FhirHttpError(400, 'not-supported', '_lastUpdated on Bundle takes one value per parameter (repeat the parameter for a range)', {
            text: '_lastUpdated sur Bundle prend une seule valeur par paramètre (répéter le paramètre pour un intervalle)',
            expression: '_lastUpdated',
          });
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
        if (value === 'none') break;
        throw new FhirHttpError(400, 'not-supported', 'Bundle searches carry no total (_total=none only)', { text: 'Les recherches de Bundle n\u2019ont pas de total (_total=none seulement)', expression: '_total' });
      default:
        throw new FhirHttpError(400, 'not-supported', `The parameter ${key} is not supported on Bundle (only _lastUpdated, _count, _offset)`, {
          text: `Le paramètre ${key} n'est pas pris en charge sur Bundle (seulement _lastUpdated, _count, _offset)`,
          expression: key,
        });
    }
  }
  if (low > high) q.empty = true;
  if (low > -Infinity) q.from = iso(low);
  if (high < Infinity) q.to = iso(high);
  return q;
}

export interface BundlePage {
  bundles: FhirResource[];
  /** Log offset of the next page, when there is one. */
  next?: number;
}

/**
 * One page of submitted Bundles, newest first. The log also holds what is not a Bundle (v1
 * DocumentReference creates), so offsets are positions in the log and a page is filled by
 * reading on until `count` Bundles are found (the next one found gives the next offset). At
 * most `scanLimit` submissions are read per request: past it, the page is shorter and `next`
 * continues where the scan stopped.
 */
export async function bundlePage(repo: Repository, q: BundleQuery, scanLimit = 500): Promise<BundlePage> {
  const out: BundlePage = { bundles: [] };
  if (q.empty) return out;
  const filter: Omit<SubmissionFilter, 'count' | 'offset'> = {};
  if (q.from) filter.from = q.from;
  if (q.to) filter.to = q.to;
  const chunk = Math.min(q.count + 1, MAX_BUNDLE_COUNT);
  let pos = q.offset;
  let scanned = 0;
  for (;;) {
    const list = await repo.listSubmissions({ ...filter, count: chunk, offset: pos });
    if (list.items.length === 0) return out;
    const full = await Promise.all(list.items.map((s) => repo.getSubmission(s.id)));
    for (const sub of full) {
      if (scanned >= scanLimit) {
        out.next = pos;
        return out;
      }
      scanned++;
      const b = sub ? submittedBundle(sub) : undefined;
      if (b) {
        if (out.bundles.length === q.count) {
          out.next = pos;
          return out;
        }
        out.bundles.push(b);
      }
      pos++;
    }
    if (list.items.length < chunk || pos >= list.total) return out;
  }
}

/** The searchset of a page: self / first / next links (offsets in the log; no total, see bundlePage). */
export function bundleSearchset(base: string, pairs: [string, string][], q: BundleQuery, page: BundlePage, now: Date): FhirResource {
  const link = (offset: number) => pageLink({ pageUrl: `${base}/Bundle`, pairs, count: q.count }, offset);
  const links = [
    { relation: 'self', url: link(q.offset) },
    { relation: 'first', url: link(0) },
  ];
  if (page.next !== undefined) links.push({ relation: 'next', url: link(page.next) });
  const bundle: FhirResource = { resourceType: 'Bundle', id: randomUUID(), meta: { lastUpdated: now.toISOString() }, type: 'searchset', link: links };
  if (page.bundles.length) bundle.entry = page.bundles.map((b) => ({ fullUrl: `${base}/Bundle/${b.id}`, resource: b, search: { mode: 'match' } }));
  return bundle;
}
