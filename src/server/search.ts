// Search and history over HTTP: the query string -> SearchQuery, and the searchset / history
// Bundles with their paging links.
import { randomUUID } from 'node:crypto';
import type { FhirResource, HistoryQuery, IncludeSpec, ResourceRecord, SearchParam, SearchQuery, SearchResult } from '../storage/types.js';
import { FhirError, HTTP_ERRORS, operationOutcome } from './outcome.js';

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 1000;

/** Parameters that steer the response rather than select resources. */
const RESULT_PARAMS = new Set(['_count', '_offset', '_sort', '_include', '_revinclude', '_total', '_format', '_pretty', '_summary', '_elements', '_contained', '_containedType', '_since', '_at']);

/** The query pairs of a request URL, in order, repeated keys kept. */
export function queryPairs(url: string): [string, string][] {
  const q = url.indexOf('?');
  if (q < 0) return [];
  return [...new URLSearchParams(url.slice(q + 1))].map(([k, v]) => [k, repairPlus(v)]);
}

/**
 * An unencoded `+` in a URL decodes to a space; in a FHIR search it is almost always the sign
 * of a time-zone offset (`…T10:00:00+02:00`), so put it back there.
 */
function repairPlus(v: string): string {
  return v.replace(/(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:\d{2})$/, '$1+$2');
}

/** Splits a parameter value on commas not escaped with a backslash (FHIR search OR). */
export function splitValues(v: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\' && i + 1 < v.length && (v[i + 1] === ',' || v[i + 1] === '\\' || v[i + 1] === '$' || v[i + 1] === '|')) {
      // Keep `\|` and `\$` escapes for the storage layer; only `\,` and `\\` are resolved here.
      if (v[i + 1] === ',' || v[i + 1] === '\\') {
        cur += v[i + 1];
        i++;
        continue;
      }
    }
    if (c === ',') {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out;
}

/** A 400 OperationOutcome for a result parameter (English message, French text). */
export function badParam(name: string, message: string, text: string): FhirError {
  return new FhirError(HTTP_ERRORS.SEARCH_RESULT_PARAM, { detail: message, detailFr: text }, { expression: name });
}

/** How a search shapes each resource (`_summary`, `_elements`). */
export interface Shaping {
  summary?: 'true' | 'text' | 'data';
  elements?: string[];
}

function intParam(name: string, raw: string, min: number): number {
  if (!/^\d+$/.test(raw.trim())) throw badParam(name, `${name} must be a non-negative integer (got "${raw}")`, `${name} doit être un entier positif ou nul (reçu « ${raw} »)`);
  const n = Number(raw.trim());
  if (n < min) throw badParam(name, `${name} must be at least ${min}`, `${name} doit valoir au moins ${min}`);
  return n;
}

function parseInclude(name: string, raw: string, iterate: boolean, searchType: string | undefined): IncludeSpec {
  if (raw === '*') return { sourceType: searchType ?? '*', param: '*', iterate };
  const parts = raw.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw badParam(name, `${name} must be "SourceType:param[:TargetType]" or "*" (got "${raw}")`, `${name} doit être de la forme « TypeSource:paramètre[:TypeCible] » ou « * » (reçu « ${raw} »)`);
  }
  const spec: IncludeSpec = { sourceType: parts[0]!, param: parts[1]!, iterate };
  if (parts[2]) spec.targetType = parts[2];
  return spec;
}

/**
 * Turns query pairs into a SearchQuery. Result parameters are interpreted here; every other
 * parameter is handed to the storage layer, which rejects what it does not index.
 */
export function parseSearch(resourceType: string | undefined, pairs: [string, string][], shaping: Shaping = {}): SearchQuery {
  const params: SearchParam[] = [];
  const include: IncludeSpec[] = [];
  const revinclude: IncludeSpec[] = [];
  const sort: string[] = [];
  let count = DEFAULT_COUNT;
  let offset = 0;
  let total: 'accurate' | 'none' = 'accurate';
  for (const [key, value] of pairs) {
    const colon = key.indexOf(':');
    const name = colon < 0 ? key : key.slice(0, colon);
    const modifier = colon < 0 ? undefined : key.slice(colon + 1);
    if (name === '') continue;
    if (!RESULT_PARAMS.has(name)) {
      params.push(modifier === undefined ? { name, values: splitValues(value) } : { name, modifier, values: splitValues(value) });
      continue;
    }
    switch (name) {
      case '_count':
        count = Math.min(intParam('_count', value, 0), MAX_COUNT);
        break;
      case '_offset':
        offset = intParam('_offset', value, 0);
        break;
      case '_sort':
        for (const s of value.split(',').map((x) => x.trim()).filter(Boolean)) sort.push(s);
        break;
      case '_include':
      case '_revinclude': {
        if (modifier !== undefined && modifier !== 'iterate' && modifier !== 'recurse') {
          throw badParam(key, `Unknown modifier :${modifier} on ${name} (only :iterate)`, `Modificateur :${modifier} inconnu sur ${name} (seul :iterate est permis)`);
        }
        const iterate = modifier !== undefined;
        for (const v of splitValues(value)) (name === '_include' ? include : revinclude).push(parseInclude(name, v, iterate, resourceType));
        break;
      }
      case '_total':
        if (value === 'none') total = 'none';
        else if (value === 'accurate' || value === 'estimate') total = 'accurate';
        else throw badParam('_total', `_total must be none, estimate or accurate (got "${value}")`, `_total doit valoir none, estimate ou accurate (reçu « ${value} »)`);
        break;
      case '_summary':
        if (value === 'count') {
          count = 0;
          total = 'accurate';
        } else if (value === 'true' || value === 'text' || value === 'data') shaping.summary = value;
        else if (value !== 'false') {
          throw badParam('_summary', `_summary must be true, text, data, count or false (got "${value}")`, `_summary doit valoir true, text, data, count ou false (reçu « ${value} »)`);
        }
        break;
      case '_elements': {
        const names = value.split(',').map((x) => x.trim()).filter(Boolean);
        if (names.some((n) => !/^[A-Za-z][A-Za-z0-9]*$/.test(n))) {
          throw badParam('_elements', `_elements takes top-level element names (got "${value}")`, `_elements prend des noms d\u2019éléments de premier niveau (reçu « ${value} »)`);
        }
        shaping.elements = [...(shaping.elements ?? []), ...names];
        break;
      }
      case '_format':
      case '_pretty':
        break;
      default:
        throw new FhirError(HTTP_ERRORS.SEARCH_NOT_SUPPORTED, { name, where: 'in a search', whereFr: 'dans une recherche' }, { expression: name });
    }
  }
  const query: SearchQuery = { params, count, offset, total };
  if (resourceType) query.resourceType = resourceType;
  if (include.length) query.include = include;
  if (revinclude.length) query.revinclude = revinclude;
  if (sort.length) query.sort = sort;
  return query;
}

export function parseHistory(resourceType: string | undefined, id: string | undefined, pairs: [string, string][]): HistoryQuery {
  let count = DEFAULT_COUNT;
  let offset = 0;
  let since: string | undefined;
  for (const [key, value] of pairs) {
    switch (key) {
      case '_count':
        count = Math.min(intParam('_count', value, 0), MAX_COUNT);
        break;
      case '_offset':
        offset = intParam('_offset', value, 0);
        break;
      case '_since':
        if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(value)) {
          throw badParam('_since', `_since must be a FHIR instant (got "${value}")`, `_since doit être un instant FHIR (reçu « ${value} »)`);
        }
        since = new Date(value.length === 10 ? `${value}T00:00:00Z` : value).toISOString();
        break;
      case '_format':
      case '_pretty':
        break;
      default:
        throw new FhirError(HTTP_ERRORS.SEARCH_NOT_SUPPORTED, { name: key, where: 'by _history (only _count, _offset, _since)', whereFr: 'par _history (seulement _count, _offset, _since)' }, { expression: key });
    }
  }
  const q: HistoryQuery = { count, offset };
  if (resourceType) q.resourceType = resourceType;
  if (id) q.id = id;
  if (since) q.since = since;
  return q;
}

export interface PageContext {
  /** `http://host:port/fhir/Patient` — the URL the query string is appended to. */
  pageUrl: string;
  /** Query pairs of the request (URL and form body), used to rebuild the links. */
  pairs: [string, string][];
  count: number;
  offset: number;
  total?: number;
  /** How many matches this page holds. */
  pageSize: number;
}

/** The URL of the page at `offset`: the request's pairs, with `_count` and `_offset` replaced. */
export function pageLink(ctx: Pick<PageContext, 'pageUrl' | 'pairs' | 'count'>, offset: number): string {
  const keep = ctx.pairs.filter(([k]) => k !== '_count' && k !== '_offset');
  const qs = new URLSearchParams([...keep, ['_count', String(ctx.count)], ['_offset', String(offset)]]);
  return `${ctx.pageUrl}?${qs.toString()}`;
}

/** self / first / previous / next / last links of a page. */
export function pagingLinks(ctx: PageContext): { relation: string; url: string }[] {
  const links = [{ relation: 'self', url: pageLink(ctx, ctx.offset) }, { relation: 'first', url: pageLink(ctx, 0) }];
  if (ctx.count > 0 && ctx.offset > 0) links.push({ relation: 'previous', url: pageLink(ctx, Math.max(0, ctx.offset - ctx.count)) });
  const hasNext = ctx.count > 0 && (ctx.total !== undefined ? ctx.offset + ctx.count < ctx.total : ctx.pageSize >= ctx.count);
  if (hasNext) links.push({ relation: 'next', url: pageLink(ctx, ctx.offset + ctx.count) });
  if (ctx.total !== undefined && ctx.count > 0) {
    const last = ctx.total === 0 ? 0 : Math.floor((ctx.total - 1) / ctx.count) * ctx.count;
    links.push({ relation: 'last', url: pageLink(ctx, last) });
  }
  return links;
}

export function fullUrl(base: string, r: { resourceType: string; id: string }): string {
  return `${base}/${r.resourceType}/${r.id}`;
}

export function searchsetBundle(
  base: string,
  result: SearchResult,
  ctx: PageContext,
  now: Date,
  shape: (r: FhirResource) => FhirResource = (r) => r,
): FhirResource {
  const bundle: FhirResource = {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { lastUpdated: now.toISOString() },
    type: 'searchset',
  };
  if (result.total !== undefined) bundle.total = result.total;
  bundle.link = pagingLinks({ ...ctx, total: result.total, pageSize: result.matches.length });
  const entry: Record<string, unknown>[] = [
    ...result.matches.map((r) => ({ fullUrl: fullUrl(base, r), resource: shape(r.resource), search: { mode: 'match' } })),
    ...result.included.map((r) => ({ fullUrl: fullUrl(base, r), resource: shape(r.resource), search: { mode: 'include' } })),
  ];
  // Lenient handling: the parameters ignored, said in an OperationOutcome entry (FHIR search.html#errors).
  if (result.ignored?.length) {
    entry.push({
      resource: operationOutcome(
        ...result.ignored.map((i) => ({ severity: 'warning' as const, code: 'not-supported', diagnostics: `${i.message}: ignored`, text: `${i.text} : ignoré`, expression: i.name, id: HTTP_ERRORS.SEARCH_UNKNOWN_PARAM.id })),
      ),
      search: { mode: 'outcome' },
    });
  }
  if (entry.length) bundle.entry = entry;
  return bundle;
}

export function historyBundle(base: string, history: { total: number; entries: ResourceRecord[] }, ctx: PageContext, now: Date): FhirResource {
  const bundle: FhirResource = {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { lastUpdated: now.toISOString() },
    type: 'history',
    total: history.total,
    link: pagingLinks({ ...ctx, total: history.total, pageSize: history.entries.length }),
  };
  if (history.entries.length) {
    bundle.entry = history.entries.map((r) => {
      const e: Record<string, unknown> = { fullUrl: fullUrl(base, r) };
      if (!r.deleted) e.resource = r.resource;
      e.request = r.deleted
        ? { method: 'DELETE', url: `${r.resourceType}/${r.id}` }
        : r.versionId === 1
          ? { method: 'POST', url: r.resourceType }
          : { method: 'PUT', url: `${r.resourceType}/${r.id}` };
      e.response = {
        status: r.deleted ? '204' : r.versionId === 1 ? '201' : '200',
        etag: `W/"${r.versionId}"`,
        lastModified: r.lastUpdated,
      };
      return e;
    });
  }
  return bundle;
}
