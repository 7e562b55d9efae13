// Date rules: period order (D6) for every Period, and the SSIAD history window (D1).
import type { ValidationIssue } from '../../fhir/outcome/issue.js';
import type { TypeVisitor } from '../../fhir/validation/validator.js';
import { makeIssue } from '../../fhir/outcome/rule.js';
import { TDDUI_RULES as R } from './catalogue.js';
import { isObject, type Item, type RuleContext } from './context.js';
import { usagerOf } from './business-ids.js';
import { plural, pluralEn } from '../../fhir/outcome/plural.js';

const DAY = 86_400_000;
const WINDOW_DAYS = 35;
const EVENT_SYSTEM = 'https://identifiant-medicosocial-evenement.esante.gouv.fr';
const TRANSPORT_SYSTEMS = new Set([
  'https://identifiant-medicosocial-transportusager.esante.gouv.fr',
  'https://identifiant-medicosocial-transportprofessionnel.esante.gouv.fr',
]);

/**
 * Earliest and latest instants a FHIR date/dateTime/instant can denote (partial dates cover a
 * range; no time zone is read as UTC). Undefined when the value is not a date.
 */
export function dateBounds(v: unknown): [number, number] | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/.exec(v);
  if (!m) return undefined;
  const y = Number(m[1]);
  if (m[2] === undefined) return [Date.UTC(y, 0, 1), Date.UTC(y + 1, 0, 1) - 1];
  const mo = Number(m[2]) - 1;
  if (m[3] === undefined) return [Date.UTC(y, mo, 1), Date.UTC(y, mo + 1, 1) - 1];
  const d = Number(m[3]);
  if (m[4] === undefined) return [Date.UTC(y, mo, d), Date.UTC(y, mo, d + 1) - 1];
  const t = Date.parse(v.length === 16 ? `${v}:00Z` : m[8] ? v : `${v}Z`);
  return Number.isNaN(t) ? undefined : [t, t];
}

/** D6 on one Period at `path`: its earliest start after its latest end. */
function checkPeriod(start: unknown, end: unknown, path: () => string, out: ValidationIssue[]): void {
  if (typeof start !== 'string' || typeof end !== 'string') return;
  const s = dateBounds(start);
  const e = dateBounds(end);
  if (s && e && s[0] > e[1]) out.push(makeIssue(R.PERIOD_ORDER, path(), { start, end }));
}

/**
 * D6 on every object that looks like a Period (start/end strings), at any depth, outside
 * contained resources: the rules' own walk, for callers that do not run the profile walk
 * (TdduiValidator uses PeriodVisitor instead).
 */
export function periodRules(ctx: RuleContext, out: ValidationIssue[]): void {
  for (const item of ctx.items) walk(item.resource, [item], out, 0);
}

/**
 * D6 during the engine's walk (a TypeVisitor): every value of type Period it validates,
 * outside contained resources, as periodRules does on its own walk — which then need not run.
 * It saves a second walk of every object of the document. A Period walked twice (its resource
 * checked against two profiles) gives the same finding twice; sortAndDedupe keeps one.
 */
export class PeriodVisitor implements TypeVisitor {
  readonly types: ReadonlySet<string> = PERIOD_TYPE;
  readonly issues: ValidationIssue[] = [];
  visit(_type: string, period: Record<string, unknown>, path: string): void {
    if (!path.includes('.contained[')) checkPeriod(period.start, period.end, () => path, this.issues);
  }
}

const PERIOD_TYPE: ReadonlySet<string> = new Set(['Period']);

/** `[item, 'period']` -> `<item path>.period`; numbers are array indexes. */
function joinPath(segs: (Item | string | number)[]): string {
  let s = (segs[0] as Item).path;
  for (let i = 1; i < segs.length; i++) s += typeof segs[i] === 'number' ? `[${segs[i]}]` : `.${segs[i]}`;
  return s;
}

/** Walks every object; `path` holds the location's segments, joined only when a Period is wrong. */
function walk(node: unknown, path: (Item | string | number)[], out: ValidationIssue[], depth: number): void {
  if (depth > 40) return;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const v = node[i];
      if (typeof v !== 'object' || v === null) continue;
      path.push(i);
      walk(v, path, out, depth + 1);
      path.pop();
    }
    return;
  }
  if (!isObject(node)) return;
  // start/end are picked up in the key loop (reads by name on objects of every shape cost more).
  let start: unknown;
  let end: unknown;
  for (const k in node) {
    const v = node[k];
    if (k === 'start') start = v;
    else if (k === 'end') end = v;
    if (typeof v === 'object' && v !== null && k !== 'contained' && !(k === 'resource' && depth === 0)) {
      path.push(k);
      walk(v, path, out, depth + 1);
      path.pop();
    }
  }
  checkPeriod(start, end, () => joinPath(path), out);
}

interface Dated {
  item: Item;
  start: number;
  end: number;
  startText: string;
  what: 'event' | 'transport';
}

/** D1: per usager, events and transports span at most 35 days and lie within the last 35 days. */
export function ssiadWindowRules(ctx: RuleContext, out: ValidationIssue[]): void {
  if (!ctx.isBundle) return;
  const byUsager = new Map<Item | undefined, Dated[]>();
  for (const item of ctx.items) {
    const type = item.resource.resourceType;
    if (type !== 'Encounter' && type !== 'Task') continue;
    const ids = Array.isArray(item.resource.identifier) ? item.resource.identifier : [];
    let period: unknown;
    let what: Dated['what'];
    if (type === 'Encounter' && ids.some((i) => isObject(i) && i.system === EVENT_SYSTEM)) {
      period = item.resource.period;
      what = 'event';
    } else if (type === 'Task' && ids.some((i) => isObject(i) && typeof i.system === 'string' && TRANSPORT_SYSTEMS.has(i.system))) {
      period = item.resource.executionPeriod;
      what = 'transport';
    } else continue;
    if (!isObject(period)) continue;
    const s = dateBounds(period.start);
    const e = dateBounds(period.end) ?? s;
    if (!s || !e) continue;
    const usager = usagerOf(ctx, item);
    const list = byUsager.get(usager) ?? [];
    list.push({ item, start: s[0], end: e[1], startText: String(period.start), what });
    byUsager.set(usager, list);
  }
  const now = ctx.now.getTime();
  const nowText = ctx.now.toISOString().slice(0, 10);
  for (const [usager, list] of byUsager) {
    list.sort((a, b) => a.start - b.start);
    const first = list[0];
    const last = Math.max(...list.map((d) => d.end));
    const days = Math.ceil((last - first.start) / DAY);
    const name = usager ? `usager ${usagerRef(usager)}` : 'the usager';
    const nameFr = usager ? `l’usager ${usagerRef(usager)}` : 'l’usager';
    if (days > WINDOW_DAYS) {
      out.push(
        makeIssue(R.SSIAD_WINDOW_SPAN, first.item.path, {
          usager: name,
          usagerFr: nameFr,
          days,
          from: new Date(first.start).toISOString().slice(0, 10),
          to: new Date(last).toISOString().slice(0, 10),
        }),
      );
    } else if (days < 7) {
      out.push(makeIssue(R.SSIAD_WINDOW_MIN, first.item.path, { usager: name, usagerFr: nameFr, span: pluralEn(days, 'day', 'days'), spanFr: plural(days, 'jour', 'jours') }));
    }
    for (const d of list) {
      if (d.start < now - WINDOW_DAYS * DAY) {
        out.push(
          makeIssue(R.SSIAD_WINDOW_AGE, `${d.item.path}.${d.what === 'event' ? 'period' : 'executionPeriod'}.start`, {
            what: d.what,
            whatFr: d.what === 'event' ? 'évènement' : 'transport',
            date: d.startText,
            now: nowText,
          }),
        );
      }
    }
  }
}

/** How a usager is named in a message: its fullUrl, else Type/id. */
function usagerRef(item: Item): string {
  return item.fullUrl ?? `${String(item.resource.resourceType)}/${String(item.resource.id ?? '?')}`;
}
