// The read scope of a token restricted to organisations or territories (issue 18): the FINESS
// numbers it may read, and the départements whose ESSMS it may read. Stored data belong to the
// ESSMS in the `owner` column of `resource` (the FINESS the business keys are scoped to,
// src/tddui/business-keys.ts ownerOf), the submission log's `organization_finess`, and the
// `3` + FINESS + `/` prefix of business identifiers the indicators group by. Every reader of
// health data asks the same two questions here — "is this FINESS in scope?" (in memory) and
// "which rows are in scope?" (SQL) — so that the rule is written once (decisions.md D-170).
//
// Who decides the scope is the access seam (src/rest/access.ts); this module only applies it.
import type { HistoryQuery, Repository, SearchQuery, SubmissionFilter } from './types.js';

/** What a restricted token may read; `undefined` where a scope is expected means "not restricted". */
export interface ReadScope {
  /** FINESS numbers (ET or EJ) read in full. */
  readonly finess: readonly string[];
  /** Département codes (`75`, `2A`, `974`): every ESSMS whose FINESS is of that département. */
  readonly departements: readonly string[];
}

/**
 * The département of a FINESS number: its first two characters (`75`, `2A`, `2B`), and for the
 * overseas départements, whose FINESS start with `97` followed by a `0` and the last digit of
 * the département (`9704…` is La Réunion, 974), `97` and that digit. Undefined when not FINESS-shaped.
 */
export function departementOf(finess: string): string | undefined {
  if (!/^[0-9][0-9AB][0-9]{7}$/.test(finess)) return undefined;
  if (finess.startsWith('97') || finess.startsWith('98')) return finess.slice(0, 2) + finess[3];
  return finess.slice(0, 2);
}

/** A département code as a claim may carry it (`75`, `075`, `2a`, `974`), normalised; undefined when not one. */
export function normaliseDepartement(code: string): string | undefined {
  const c = code.trim().toUpperCase();
  const m = /^0?([0-9][0-9AB])$/.exec(c);
  if (m) return m[1] === '20' ? undefined : m[1];
  if (/^9[78][0-9]$/.test(c)) return c;
  return undefined;
}

/** Whether data of this FINESS (an owner, an organisation of the log) are in scope; always with no scope. */
export function inScope(scope: ReadScope | undefined, finess: string | undefined | null): boolean {
  if (!scope) return true;
  if (!finess) return false;
  if (scope.finess.includes(finess)) return true;
  const d = departementOf(finess);
  return d !== undefined && scope.departements.includes(d);
}

/** The SQL expression of the département of a FINESS column (departementOf in SQL). */
export function departementSql(column: string): string {
  return `CASE WHEN left(${column}, 2) IN ('97', '98') THEN left(${column}, 2) || substr(${column}, 4, 1) ELSE left(${column}, 2) END`;
}

/**
 * The SQL condition "the FINESS in `column` is in scope" (`true` with no scope); `p` adds a
 * parameter and returns its placeholder. Data without an organisation (`''`, NULL) are out of
 * every scope: a restricted token reads only what is known to belong to its ESSMS.
 */
export function scopeSql(scope: ReadScope | undefined, column: string, p: (v: unknown) => string): string {
  if (!scope) return 'true';
  const parts: string[] = [];
  if (scope.finess.length) parts.push(`${column} = ANY(${p([...scope.finess])}::text[])`);
  if (scope.departements.length) parts.push(`(length(${column}) = 9 AND ${departementSql(column)} = ANY(${p([...scope.departements])}::text[]))`);
  return parts.length ? `(${parts.join(' OR ')})` : 'false';
}

/** A readable description of a scope, for pages and logs (`FINESS 750000010 ; départements 75, 92`). */
export function describeScope(scope: ReadScope): string {
  const parts: string[] = [];
  if (scope.finess.length) parts.push(`FINESS ${scope.finess.join(', ')}`);
  if (scope.departements.length) parts.push(`département${scope.departements.length > 1 ? 's' : ''} ${scope.departements.join(', ')}`);
  return parts.join(' ; ') || 'aucun établissement';
}

/**
 * The repository as a restricted reader sees it: every read, vread, history, search and
 * submission read carries the scope (for code written against a Repository that knows nothing
 * of scopes — the usager page and its parts). Writes and everything else pass through.
 */
export function scopedRepository(repo: Repository, scope: ReadScope | undefined): Repository {
  if (!scope) return repo;
  return new Proxy(repo, {
    get(target, prop) {
      switch (prop) {
        case 'read':
          return (type: string, id: string, o: { scope?: ReadScope } = {}) => target.read(type, id, { ...o, scope });
        case 'vread':
          return (type: string, id: string, v: number, o: { scope?: ReadScope } = {}) => target.vread(type, id, v, { ...o, scope });
        case 'search':
          return (q: SearchQuery) => target.search({ ...q, scope });
        case 'history':
          return (q: HistoryQuery) => target.history({ ...q, scope });
        case 'listSubmissions':
          return (f: SubmissionFilter) => target.listSubmissions({ ...f, scope });
        case 'getSubmission':
          return (id: string, o: { scope?: ReadScope } = {}) => target.getSubmission(id, { ...o, scope });
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
