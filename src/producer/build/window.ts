// SSIAD history window on the producer side (tddui-business-rules D1): the events and transports
// sent for one usager cover at least one week and at most five weeks. The rule ids are those of
// the validator's catalogue, so a refused build and a validation report speak the same language.
import { TDDUI_RULES } from '../../tddui/rules/catalogue.js';
import { dateBounds } from '../../tddui/rules/dates.js';
import type { Pivot } from '../pivot/schema.js';
import { plural, pluralEn } from '../../fhir/outcome/plural.js';

const DAY = 86_400_000;
export const WINDOW_MAX_DAYS = 35;
export const WINDOW_MIN_DAYS = 7;

export interface WindowSpan {
  from: number;
  to: number;
  /** Whole days covered, rounded up (the validator's measure). */
  days: number;
}

/** Span of the events and transports of a pivot; undefined when it has none (no SSIAD data). */
export function windowSpan(p: Pick<Pivot, 'evenements' | 'transports'>): WindowSpan | undefined {
  let from = Infinity;
  let to = -Infinity;
  for (const x of [...p.evenements, ...p.transports]) {
    const s = dateBounds(x.debut);
    const e = dateBounds(x.fin) ?? s;
    if (!s || !e) continue;
    from = Math.min(from, s[0]);
    to = Math.max(to, e[1]);
  }
  if (from === Infinity) return undefined;
  return { from, to, days: Math.ceil((to - from) / DAY) };
}

export interface WindowProblem {
  rule: string;
  message: string;
  messageFr: string;
}

const iso = (t: number) => new Date(t).toISOString().slice(0, 10);

export function checkWindow(p: Pick<Pivot, 'evenements' | 'transports'>, who: string): WindowProblem | undefined {
  const span = windowSpan(p);
  if (!span) return undefined;
  if (span.days > WINDOW_MAX_DAYS) {
    return {
      rule: TDDUI_RULES.SSIAD_WINDOW_SPAN.id,
      message: `the events and transports of ${who} span ${span.days} days (${iso(span.from)} to ${iso(span.to)}); a SSIAD export covers at most 5 weeks (35 days). Send a shorter period, or use --clip-window to keep the last 35 days`,
      messageFr: `les évènements et transports de ${who} couvrent ${span.days} jours (du ${iso(span.from)} au ${iso(span.to)}) ; un export SSIAD couvre au plus 5 semaines (35 jours)`,
    };
  }
  if (span.days < WINDOW_MIN_DAYS) {
    return {
      rule: TDDUI_RULES.SSIAD_WINDOW_MIN.id,
      message: `the events and transports of ${who} span ${pluralEn(span.days, 'day', 'days')} (${iso(span.from)} to ${iso(span.to)}); a SSIAD export covers at least one week of history`,
      messageFr: `les évènements et transports de ${who} couvrent ${plural(span.days, 'jour', 'jours')} ; un export SSIAD couvre au moins une semaine d’historique`,
    };
  }
  return undefined;
}

export interface ClipResult {
  pivot: Pivot;
  /** What was dropped, for the build report. */
  dropped: string[];
}

/**
 * Keeps the last 35 days: events and transports starting before (latest end − 35 days) are
 * dropped, with the transports of dropped events; evaluations lose their link to a dropped event.
 */
export function clipWindow(p: Pivot): ClipResult {
  const span = windowSpan(p);
  if (!span || span.days <= WINDOW_MAX_DAYS) return { pivot: p, dropped: [] };
  const cutoff = span.to - WINDOW_MAX_DAYS * DAY;
  const starts = (v: string) => dateBounds(v)?.[0] ?? Infinity;
  const dropped: string[] = [];
  const keptEvents = p.evenements.filter((e) => {
    const keep = starts(e.debut) >= cutoff;
    if (!keep) dropped.push(`evenement ${e.id} (${e.debut})`);
    return keep;
  });
  const keptIds = new Set(keptEvents.map((e) => e.id));
  const keptTransports = p.transports.filter((t) => {
    const keep = keptIds.has(t.evenement) && starts(t.debut) >= cutoff;
    if (!keep) dropped.push(`transport ${t.id} (${t.debut})`);
    return keep;
  });
  const evaluations = p.evaluations.map((e) =>
    e.evenement && !keptIds.has(e.evenement) ? { ...e, evenement: undefined } : e,
  );
  for (const e of evaluations) if (e.evenement === undefined) delete (e as { evenement?: string }).evenement;
  return { pivot: { ...p, evenements: keptEvents, transports: keptTransports, evaluations }, dropped };
}

/**
 * Items older than 5 weeks before `now` (the validator's tddui-ssiad-window-age, a warning):
 * not refused, since rebuilding an old export is legitimate, but reported by `build`.
 */
export function agedItems(p: Pick<Pivot, 'evenements' | 'transports'>, now: Date): string[] {
  const limit = now.getTime() - WINDOW_MAX_DAYS * DAY;
  const out: string[] = [];
  for (const e of p.evenements) if ((dateBounds(e.debut)?.[0] ?? Infinity) < limit) out.push(`evenement ${e.id} (${e.debut})`);
  for (const t of p.transports) if ((dateBounds(t.debut)?.[0] ?? Infinity) < limit) out.push(`transport ${t.id} (${t.debut})`);
  return out;
}
