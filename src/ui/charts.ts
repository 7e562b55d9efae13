// Server-rendered inline SVG charts: grouped bars, a stay timeline and a week calendar.
// Plain SVG attributes only (no inline style), so a strict Content-Security-Policy holds.
import { html, type SafeHtml } from './html.js';
import { dayFromNumber, dayNumber, frNumber } from './fhir-util.js';

const COLORS = ['#3b7dd8', '#e08a1e', '#2f9e6b', '#8e5bd0', '#d0445b', '#6b7a8f', '#1a9bb0'];

export interface Series {
  name: string;
  values: number[];
  color?: string;
}

/** Integer axis for counts: a step of 1, 2, 5 × 10^n giving at most 5 intervals. */
function countAxis(v: number): { max: number; step: number } {
  const max = Math.max(1, Math.ceil(v));
  let step = 1;
  for (let p = 1; ; p *= 10) {
    const s = [1, 2, 5].map((m) => m * p).find((c) => max / c <= 5);
    if (s) {
      step = s;
      break;
    }
  }
  return { max: Math.ceil(max / step) * step, step };
}

const n1 = (x: number) => (Math.round(x * 10) / 10).toString();

/** Vertical grouped bar chart. */
/** Width in px of a label at `size` px (system sans-serif; a generous average, so nothing is clipped). */
export function textWidth(s: string, size: number): number {
  return Math.ceil(s.length * size * 0.62);
}

/** Vertical grouped bar chart; "Aucune donnée" over empty axes when every value is 0. */
export function barChart(o: { title: string; labels: string[]; series: Series[]; height?: number; width?: number }): SafeHtml {
  const W = o.width ?? 720;
  const H = o.height ?? 260;
  const axis = countAxis(Math.max(0, ...o.series.flatMap((s) => s.values)));
  const empty = o.series.every((s) => s.values.every((v) => !v));
  // Room for the widest tick label ("10 000") left of the axis.
  const left = Math.max(36, 12 + textWidth(frNumber(axis.max), 11));
  const right = 12;
  const top = 26;
  const legendAt = o.series.length > 1 ? legendLayout(o.series, left, W - right) : [];
  const legendRows = legendAt.length ? Math.max(...legendAt.map((l) => l.row)) + 1 : 0;
  const bottom = 30 + legendRows * 16;
  const max = axis.max;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const n = Math.max(1, o.labels.length);
  const band = plotW / n;
  const gap = Math.min(12, band * 0.2);
  const barW = Math.max(1, (band - gap) / Math.max(1, o.series.length));
  const ticks = Array.from({ length: max / axis.step + 1 }, (_, i) => i * axis.step);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  // Axis labels never overlap (one every `everyLabel` bands) nor leave the drawing.
  const labelW = Math.max(0, ...o.labels.map((l) => textWidth(l, 11)));
  const everyLabel = Math.max(1, Math.ceil((labelW + 6) / band));
  const labelX = (i: number) => Math.min(W - 2 - labelW / 2, Math.max(2 + labelW / 2, left + i * band + band / 2));
  return html`<div class="chart-box"><svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${o.title}" xmlns="http://www.w3.org/2000/svg">
<title>${o.title}</title>
${ticks.map(
  (t) => html`<line x1="${left}" x2="${W - right}" y1="${n1(y(t))}" y2="${n1(y(t))}" stroke="#e3e7ee"/>
<text x="${left - 6}" y="${n1(y(t) + 4)}" font-size="11" text-anchor="end" fill="#5b6475">${frNumber(t)}</text>`,
)}
${o.labels.map((label, i) => {
  const x0 = left + i * band + gap / 2;
  return html`${o.series.map((s, j) => {
    const v = s.values[i] ?? 0;
    const h = (v / max) * plotH;
    const x = x0 + j * barW;
    return html`<rect x="${n1(x)}" y="${n1(top + plotH - h)}" width="${n1(Math.max(1, barW - 1))}" height="${n1(h)}" fill="${s.color ?? COLORS[j % COLORS.length]}"><title>${label} — ${s.name} : ${v}</title></rect>
${v > 0 && barW >= 14 ? html`<text x="${n1(x + barW / 2)}" y="${n1(top + plotH - h - 3)}" font-size="10" text-anchor="middle" fill="#1e2430">${v}</text>` : ''}`;
  })}
${i % everyLabel === 0 ? html`<text x="${n1(labelX(i))}" y="${H - bottom + 16}" font-size="11" text-anchor="middle" fill="#1e2430">${label}</text>` : ''}`;
})}
<line x1="${left}" x2="${W - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#8b93a1"/>
${legendAt.map((l, j) => {
  const s = o.series[j];
  const y = H - bottom + 26 + l.row * 16;
  return html`<rect x="${l.x}" y="${y}" width="10" height="10" fill="${s.color ?? COLORS[j % COLORS.length]}"/><text x="${l.x + 14}" y="${y + 9}" font-size="11" fill="#1e2430">${s.name}</text>`;
})}
${empty ? html`<text class="no-data" x="${n1(left + plotW / 2)}" y="${n1(top + plotH / 2)}" font-size="14" text-anchor="middle" fill="#5b6475">Aucune donnée</text>` : ''}
</svg></div>`;
}

/** Legend entries laid out left to right by the width of their names, wrapping to new rows. */
function legendLayout(series: Series[], x0: number, xMax: number): { x: number; row: number }[] {
  let x = x0;
  let row = 0;
  return series.map((s) => {
    const w = 14 + textWidth(s.name, 11);
    if (x + w > xMax && x > x0) {
      x = x0;
      row++;
    }
    const at = { x, row };
    x += w + 16;
    return at;
  });
}

export interface Stay {
  label: string;
  /** YYYY-MM-DD */
  start?: string;
  end?: string;
  /** In progress (no end, or a status saying so). */
  open: boolean;
  detail?: string;
}

const MONTHS = ['janv.', 'févr.', 'mars', 'avr.', 'mai', 'juin', 'juil.', 'août', 'sept.', 'oct.', 'nov.', 'déc.'];

/** Horizontal timeline of stays; an open stay runs to `today`. */
export function stayTimeline(stays: Stay[], today: string): SafeHtml {
  const dated = stays.filter((s) => s.start);
  if (dated.length === 0) return html`<p class="muted">Aucun séjour daté.</p>`;
  const W = 720;
  const rowH = 26;
  const top = 20;
  const left = 170;
  const right = 16;
  const axisH = 28;
  const H = top + dated.length * rowH + axisH;
  const starts = dated.map((s) => dayNumber(s.start!));
  const ends = dated.map((s) => (s.end ? dayNumber(s.end) : dayNumber(today)));
  let min = Math.min(...starts);
  let max = Math.max(...ends, ...starts);
  if (max - min < 30) {
    min -= 15;
    max += 15;
  }
  const pad = Math.ceil((max - min) * 0.03);
  min -= pad;
  max += pad;
  const x = (d: number) => left + ((d - min) / (max - min)) * (W - left - right);
  // Month ticks (or year ticks for long spans).
  const ticks: { d: number; label: string }[] = [];
  const first = dayFromNumber(min);
  let yv = Number(first.slice(0, 4));
  let mv = Number(first.slice(5, 7));
  // At most ~8 labels on the axis.
  const spanMonths = (max - min) / 30.4;
  const step = [1, 2, 3, 6, 12, 24, 60].find((m) => spanMonths / m <= 8) ?? 120;
  for (let guard = 0; guard < 400; guard++) {
    mv += 1;
    if (mv > 12) {
      mv = 1;
      yv++;
    }
    const d = dayNumber(`${yv}-${String(mv).padStart(2, '0')}-01`);
    if (d > max) break;
    if (((yv * 12 + mv - 1) % step) === 0) ticks.push({ d, label: step >= 12 ? String(yv) : `${MONTHS[mv - 1]} ${String(yv).slice(2)}` });
  }
  return html`<div class="chart-box"><svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="Frise des séjours" xmlns="http://www.w3.org/2000/svg">
<title>Frise des séjours</title>
${ticks.map((t) => {
  // A label near either end is anchored inside the drawing rather than centred off it.
  const half = textWidth(t.label, 10) / 2;
  const tx = Math.min(W - 2 - half, Math.max(left + half, x(t.d)));
  return html`<line x1="${n1(x(t.d))}" x2="${n1(x(t.d))}" y1="${top}" y2="${H - axisH}" stroke="#eef1f5"/><text x="${n1(tx)}" y="${H - 10}" font-size="10" text-anchor="middle" fill="#5b6475">${t.label}</text>`;
})}
${dated.map((s, i) => {
  const x0 = x(dayNumber(s.start!));
  const x1 = x(s.end ? dayNumber(s.end) : dayNumber(today));
  const yy = top + i * rowH;
  return html`<text x="${left - 8}" y="${yy + 16}" font-size="11" text-anchor="end" fill="#1e2430">${s.label.length > 26 ? s.label.slice(0, 25) + '…' : s.label}</text>
<rect x="${n1(x0)}" y="${yy + 4}" width="${n1(Math.max(3, x1 - x0))}" height="${rowH - 8}" rx="3" fill="${s.open ? '#8fd1b0' : '#2f9e6b'}"${s.open ? html` stroke="#2f9e6b" stroke-dasharray="4 2"` : ''}><title>${s.label} : ${s.detail ?? ''}</title></rect>`;
})}
<line x1="${n1(x(dayNumber(today)))}" x2="${n1(x(dayNumber(today)))}" y1="${top}" y2="${H - axisH}" stroke="#d0445b" stroke-dasharray="3 3"/>
<text x="${n1(Math.max(left + textWidth('aujourd’hui', 10), x(dayNumber(today))))}" y="${top - 6}" font-size="10" fill="#d0445b" text-anchor="end">aujourd’hui</text>
<line x1="${left}" x2="${W - right}" y1="${H - axisH}" y2="${H - axisH}" stroke="#8b93a1"/>
</svg></div>`;
}

export interface CalendarItem {
  /** YYYY-MM-DD */
  day: string;
  /** Minutes from midnight (local time as written). */
  start: number;
  end: number;
  label: string;
  kind: 'evt' | 'tr';
  /** How the item is drawn: done (solid), planned (outlined), cancelled (hatched, struck through). */
  state?: CalendarState;
  /** The status as people read it ("terminé", "annulé"…). */
  statusLabel?: string;
  detail?: string;
  href?: string;
}

export type CalendarState = 'done' | 'planned' | 'cancelled';

/** The drawing state of a FHIR Encounter or Task status. */
export function calendarState(status: unknown): CalendarState {
  switch (status) {
    case 'cancelled':
    case 'entered-in-error':
    case 'rejected':
    case 'failed':
      return 'cancelled';
    case 'planned':
    case 'draft':
    case 'requested':
    case 'received':
    case 'accepted':
    case 'ready':
    case 'arrived':
    case 'triaged':
      return 'planned';
    default:
      return 'done';
  }
}

const DAYS = ['lun.', 'mar.', 'mer.', 'jeu.', 'ven.', 'sam.', 'dim.'];
const KIND_COLOR = { evt: '#3b7dd8', tr: '#e08a1e' } as const;

export const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

/**
 * A Monday-to-Sunday calendar with events and transports positioned by time. Each item's text
 * is drawn inside a nested <svg> the size of its box, so a long label is cut at the box edge
 * instead of running over the next day; the full text is the item's <title>.
 */
export function weekCalendar(monday: string, items: CalendarItem[]): SafeHtml {
  const W = 860;
  const left = 44;
  const top = 34;
  const colW = (W - left - 8) / 7;
  const m0 = dayNumber(monday);
  const inWeek = items.filter((i) => {
    const d = dayNumber(i.day) - m0;
    return d >= 0 && d < 7;
  });
  let h0 = 7;
  let h1 = 20;
  for (const i of inWeek) {
    h0 = Math.min(h0, Math.floor(i.start / 60));
    h1 = Math.max(h1, Math.ceil(Math.max(i.end, i.start + 30) / 60));
  }
  h1 = Math.min(24, h1);
  const hourH = 34;
  const H = top + (h1 - h0) * hourH + 12;
  const y = (min: number) => top + ((min - h0 * 60) / 60) * hourH;
  // Items of the same day that overlap share the column.
  const lanes = new Map<string, { item: CalendarItem; lane: number; lanes: number }[]>();
  for (let d = 0; d < 7; d++) {
    const day = dayFromNumber(m0 + d);
    const list = inWeek.filter((i) => i.day === day).sort((a, b) => a.start - b.start);
    const placed: { item: CalendarItem; lane: number; lanes: number }[] = [];
    const laneEnd: number[] = [];
    for (const item of list) {
      let lane = laneEnd.findIndex((e) => e <= item.start);
      if (lane < 0) lane = laneEnd.length;
      laneEnd[lane] = Math.max(item.end, item.start + 20);
      placed.push({ item, lane, lanes: 0 });
    }
    for (const p of placed) p.lanes = Math.max(1, laneEnd.length);
    lanes.set(day, placed);
  }
  const hasCancelled = inWeek.some((i) => i.state === 'cancelled');
  return html`<svg class="chart cal-week" viewBox="0 0 ${W} ${H}" role="img" aria-label="Semaine du ${monday}" xmlns="http://www.w3.org/2000/svg">
<title>Agenda de la semaine</title>
${hasCancelled ? html`<defs><pattern id="cal-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f1f3f6"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c3cad4" stroke-width="2"/></pattern></defs>` : ''}
${DAYS.map((d, i) => {
  const day = dayFromNumber(m0 + i);
  return html`<text x="${n1(left + i * colW + colW / 2)}" y="18" font-size="12" text-anchor="middle" fill="#1e2430" font-weight="600">${d} ${day.slice(8, 10)}/${day.slice(5, 7)}</text>
<rect x="${n1(left + i * colW)}" y="${top}" width="${n1(colW)}" height="${H - top - 12}" fill="${i >= 5 ? '#f7f8fa' : '#ffffff'}" stroke="#e3e7ee"/>`;
})}
${Array.from({ length: h1 - h0 + 1 }, (_, k) => h0 + k).map(
  (h) => html`<line x1="${left}" x2="${W - 8}" y1="${n1(y(h * 60))}" y2="${n1(y(h * 60))}" stroke="#eef1f5"/><text x="${left - 6}" y="${n1(Math.min(H - 2, y(h * 60) + 4))}" font-size="10" text-anchor="end" fill="#5b6475">${h}h</text>`,
)}
${[...lanes.entries()].map(([day, placed]) => {
  const col = dayNumber(day) - m0;
  return placed.map(({ item, lane, lanes: nl }) => {
    const w = (colW - 6) / nl;
    const x = left + col * colW + 3 + lane * w;
    const yy = y(Math.max(item.start, h0 * 60));
    const hh = Math.max(16, y(Math.max(item.end, item.start + 20)) - yy);
    const color = KIND_COLOR[item.kind];
    const state = item.state ?? 'done';
    const fill = state === 'done' ? color : state === 'planned' ? '#ffffff' : 'url(#cal-hatch)';
    const ink = state === 'done' ? '#ffffff' : state === 'planned' ? color : '#5b6475';
    const prefix = state === 'cancelled' ? 'Annulé · ' : state === 'planned' ? 'Prévu · ' : '';
    // As many lines as the box holds (time, then the label), each cut with "…" to its width.
    const chars = Math.max(3, Math.floor((w - 8) / (10 * 0.6)));
    const fit = (t: string) => (t.length > chars ? `${t.slice(0, chars - 1)}…` : t);
    const rows = Math.max(1, Math.floor((hh - 2) / 12));
    const lines = rows >= 2 ? [fit(`${hhmm(item.start)} ${prefix}`.trim()), fit(item.label)] : [fit(`${hhmm(item.start)} ${prefix}${item.label}`)];
    const title = `${hhmm(item.start)}–${hhmm(item.end)} ${item.label}${item.statusLabel ? ` (${item.statusLabel})` : ''}${item.detail ? ` — ${item.detail}` : ''}`;
    const body = html`<g class="${`cal-item cal-${item.kind} cal-${state}`}"><rect x="${n1(x)}" y="${n1(yy)}" width="${n1(w - 2)}" height="${n1(hh)}" rx="3" fill="${fill}" stroke="${color}" stroke-width="${state === 'done' ? 0 : 1.5}"${state === 'cancelled' ? html` stroke-dasharray="4 2"` : ''} class="${`cal-${item.kind}`}"><title>${title}</title></rect>
<svg x="${n1(x + 3)}" y="${n1(yy)}" width="${n1(Math.max(1, w - 8))}" height="${n1(hh)}">${lines.map((l, k) => html`<text x="0" y="${11 + k * 12}" font-size="10" fill="${ink}"${state === 'cancelled' ? html` text-decoration="line-through"` : ''}>${l}</text>`)}</svg></g>`;
    return item.href ? html`<a href="${item.href}">${body}</a>` : body;
  });
})}
</svg>`;
}
