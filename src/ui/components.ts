// Small shared pieces of the pages: pager, badges, query parsing, French local days.
import { frDate, frNumber } from './fhir-util.js';
import { html, href, type SafeHtml } from './html.js';

export const PAGE_SIZE = 25;

/** Page number (1-based) from a query value; bad input gives page 1. */
export function pageNumber(v: unknown): number {
  const n = typeof v === 'string' ? Number.parseInt(v, 10) : NaN;
  return Number.isFinite(n) && n >= 1 && n <= 1_000_000 ? n : 1;
}

export function pager(path: string, query: Record<string, string | undefined>, page: number, total: number, size = PAGE_SIZE): SafeHtml {
  const pages = Math.max(1, Math.ceil(total / size));
  const first = total === 0 ? 0 : (page - 1) * size + 1;
  const last = Math.min(total, page * size);
  const link = (p: number, label: string, rel: string) =>
    p >= 1 && p <= pages && p !== page ? html`<a href="${href(path, { ...query, page: p === 1 ? undefined : p })}" rel="${rel}">${label}</a>` : html`<span class="disabled">${label}</span>`;
  return html`<nav class="pager" aria-label="Pagination">${link(page - 1, '‹ Précédent', 'prev')}
<span>${first}–${last} sur ${frNumber(total)} · page ${page} / ${pages}</span>
${link(page + 1, 'Suivant ›', 'next')}</nav>`;
}

/**
 * A period whose start ("du") is after its end ("au") matches nothing: say so, with a link to
 * the same page with the dates swapped (issue 20). Empty when the period is not inverted.
 */
export function invertedDatesHint(path: string, query: Record<string, string | undefined>, du: string | undefined, au: string | undefined, nothing: string): SafeHtml {
  if (!du || !au || du <= au) return html``;
  return html`<p class="warn-box" id="dates-inversees">La date de début (${frDate(du)}) est postérieure à la date de fin (${frDate(au)}) : ${nothing}. <a href="${href(path, { ...query, du: au, au: du, page: undefined })}">Inverser les dates</a></p>`;
}

/**
 * What a page number past the last page shows instead of an empty list: how many items there
 * are, on how many pages, and a link to the last page (a list is never "empty" when it is not).
 */
export function beyondLastPage(path: string, query: Record<string, string | undefined>, page: number, total: number, noun: [string, string], size = PAGE_SIZE): SafeHtml {
  const pages = Math.max(1, Math.ceil(total / size));
  return html`<p class="warn-box" id="page-hors-limites">La page ${page} n’existe pas : ${frNumber(total)} ${total > 1 ? noun[1] : noun[0]} sur ${pages} page${pages > 1 ? 's' : ''}.
<a href="${href(path, { ...query, page: pages === 1 ? undefined : pages })}">Aller à la dernière page (${pages})</a></p>`;
}

/** A sort order from the query (`tri=nom`, `tri=-nom`); unknown keys give the default. */
export function sortOrder<K extends string>(v: unknown, keys: readonly K[], fallback: K): { key: K; descending: boolean } {
  const s = typeof v === 'string' ? v : '';
  const descending = s.startsWith('-');
  const key = (descending ? s.slice(1) : s) as K;
  return keys.includes(key) ? { key, descending } : { key: fallback, descending: false };
}

/**
 * A column header that sorts the list: a link to the same list sorted on this column (the
 * other direction when it is already the sort), with aria-sort for assistive technologies.
 */
export function sortHeader<K extends string>(path: string, query: Record<string, string | undefined>, label: string, key: K, current: { key: K; descending: boolean }, fallback: K, cls?: string): SafeHtml {
  const active = current.key === key;
  const next = active && !current.descending ? `-${key}` : key;
  const aria = active ? (current.descending ? 'descending' : 'ascending') : 'none';
  const arrow = active ? (current.descending ? ' ▼' : ' ▲') : '';
  const title = active ? (current.descending ? 'Trier par ordre croissant' : 'Trier par ordre décroissant') : `Trier par ${label.toLowerCase()}`;
  return html`<th${cls ? html` class="${cls}"` : ''} aria-sort="${aria}"><a class="sort" href="${href(path, { ...query, tri: next === fallback ? undefined : next, page: undefined })}" title="${title}">${label}${arrow}</a></th>`;
}

/** "1 évènement", "2 évènements", "0 évènement" (French: 0 and 1 take the singular). */
export { plural } from '../fhir/outcome/plural.js';

export function outcomeBadge(outcome: string): SafeHtml {
  return outcome === 'accepted' ? html`<span class="badge ok">accepté</span>` : html`<span class="badge ko">rejeté</span>`;
}

/** `YYYY-MM-DD` when valid, else undefined. */
export function isoDay(v: unknown): string | undefined {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v)) return undefined;
  const d = new Date(`${v}T00:00:00Z`);
  return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== v ? undefined : v;
}

const parisParts = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/Paris',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
});

/** Minutes Paris is ahead of UTC at instant `t`. */
function parisOffset(t: number): number {
  const p = Object.fromEntries(parisParts.formatToParts(new Date(t)).map((x) => [x.type, x.value]));
  const asUtc = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute));
  return Math.round((asUtc - Math.floor(t / 60000) * 60000) / 60000);
}

/** The instant of 00:00 (or 23:59:59.999) in Paris on `day`, as ISO: filters use French days. */
export function parisDayBoundary(day: string, side: 'start' | 'end'): string {
  const base = Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10)));
  const start = base - parisOffset(base) * 60000;
  return new Date(side === 'start' ? start : start + 86400000 - 1).toISOString();
}

/** Today's date in Paris. */
export function parisToday(now = new Date()): string {
  const p = Object.fromEntries(parisParts.formatToParts(now).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}`;
}

export function q(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v.trim().slice(0, 200) : undefined;
}
