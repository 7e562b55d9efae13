// The offending excerpt of a submitted document: resolves the simple FHIRPath locations the
// validator reports (`Bundle.entry[3].resource.identifier[0].value`) into the parsed JSON, and
// pretty-prints the fragment with the offending property highlighted.
import { html, raw, type SafeHtml } from './html.js';
import { isObject as isObj } from '../fhir/json.js';

type Step = { name: string; index?: number };

export interface Resolution {
  /** Steps that could be followed, as written. */
  found: Step[];
  /** The first step that could not be followed, and the ones after it (a missing element). */
  missing: Step[];
  /** The value at the end of `found`. */
  value: unknown;
  /** The container of `value` and the key in it (to show a primitive in its context). */
  parent?: unknown;
  key?: string | number;
  /** `Bundle.entry[N]` index when the location is inside an entry. */
  entryIndex?: number;
}

/** Parses `A.b[2].c`; returns undefined for expressions that are not simple paths. */
export function parsePath(expression: string): Step[] | undefined {
  const out: Step[] = [];
  for (const part of expression.split('.')) {
    const m = /^([A-Za-z_][A-Za-z0-9_\-]*)(?:\[(\d+)\])?$/.exec(part);
    if (!m) return undefined;
    out.push(m[2] === undefined ? { name: m[1] } : { name: m[1], index: Number(m[2]) });
  }
  return out.length ? out : undefined;
}


/** Follows `expression` in `root` as far as it goes. */
export function resolveExpression(root: unknown, expression: string): Resolution | undefined {
  const steps = parsePath(expression.trim());
  if (!steps) return undefined;
  let cur: unknown = root;
  let parent: unknown;
  let key: string | number | undefined;
  const found: Step[] = [];
  let i = 0;
  // The first step names the root type (Bundle, Patient...).
  if (isObj(root) && steps[0].name === root.resourceType && steps[0].index === undefined) {
    found.push(steps[0]);
    i = 1;
  }
  for (; i < steps.length; i++) {
    const s = steps[i];
    if (!isObj(cur) || !(s.name in cur)) break;
    let next: unknown = cur[s.name];
    let nextParent: unknown = cur;
    let nextKey: string | number = s.name;
    if (s.index !== undefined) {
      if (Array.isArray(next)) {
        if (s.index >= next.length) break;
        nextParent = next;
        nextKey = s.index;
        next = next[s.index];
      } else if (s.index !== 0) break; // a single value is item [0]
    }
    parent = nextParent;
    key = nextKey;
    cur = next;
    found.push(s);
  }
  const res: Resolution = { found, missing: steps.slice(i), value: cur, parent, key };
  if (found[0]?.name === 'Bundle' && found[1]?.name === 'entry' && found[1].index !== undefined) res.entryIndex = found[1].index;
  return res;
}

export function stepsToString(steps: Step[]): string {
  return steps.map((s) => (s.index === undefined ? s.name : `${s.name}[${s.index}]`)).join('.');
}

// ---- JSON rendering

interface Line {
  depth: number;
  text: SafeHtml;
  mark: boolean;
}

const MAX_STRING = 160;

function scalar(v: unknown): SafeHtml {
  if (typeof v === 'string') {
    const s = v.length > MAX_STRING ? `${v.slice(0, MAX_STRING)}… (${v.length} caractères)` : v;
    return html`<span class="j-str">${JSON.stringify(s)}</span>`;
  }
  if (typeof v === 'number') return html`<span class="j-num">${String(v)}</span>`;
  if (typeof v === 'boolean') return html`<span class="j-bool">${String(v)}</span>`;
  if (v === null) return html`<span class="j-null">null</span>`;
  return html`${String(v)}`;
}

function emit(lines: Line[], v: unknown, depth: number, prefix: SafeHtml, suffix: string, mark: boolean, budget: { n: number }): void {
  if (budget.n <= 0) return;
  if (Array.isArray(v) || isObj(v)) {
    const isArr = Array.isArray(v);
    const entries: [string | number, unknown][] = isArr ? v.map((x, i) => [i, x]) : Object.entries(v);
    const [open, close] = isArr ? ['[', ']'] : ['{', '}'];
    if (entries.length === 0) {
      lines.push({ depth, text: html`${prefix}${open}${close}${suffix}`, mark });
      budget.n--;
      return;
    }
    lines.push({ depth, text: html`${prefix}${open}`, mark });
    budget.n--;
    entries.forEach(([k, x], idx) => {
      const comma = idx < entries.length - 1 ? ',' : '';
      const p = isArr ? html`` : html`<span class="j-key">${JSON.stringify(k)}</span>: `;
      emit(lines, x, depth + 1, p, comma, mark, budget);
    });
    if (budget.n <= 0) {
      lines.push({ depth: depth + 1, text: html`<span class="j-more">…</span>`, mark: false });
    }
    lines.push({ depth, text: html`${close}${suffix}`, mark });
    return;
  }
  lines.push({ depth, text: html`${prefix}${scalar(v)}${suffix}`, mark });
  budget.n--;
}

/**
 * Pretty-prints `value` (an object or array) with `markKey` (a property or item of it)
 * highlighted. At most `maxLines` lines, so a huge resource stays readable.
 */
export function renderJson(value: unknown, markKey?: string | number, maxLines = 80): SafeHtml {
  const lines: Line[] = [];
  const budget = { n: maxLines };
  if (markKey !== undefined && (Array.isArray(value) || isObj(value))) {
    const isArr = Array.isArray(value);
    const entries: [string | number, unknown][] = isArr ? (value as unknown[]).map((x, i) => [i, x]) : Object.entries(value);
    lines.push({ depth: 0, text: html`${isArr ? '[' : '{'}`, mark: false });
    entries.forEach(([k, x], idx) => {
      const comma = idx < entries.length - 1 ? ',' : '';
      const p = isArr ? html`` : html`<span class="j-key">${JSON.stringify(k)}</span>: `;
      const marked = k === markKey;
      // Siblings are shown compactly; the marked item in full (within the budget).
      if (!marked && (Array.isArray(x) || isObj(x)) && JSON.stringify(x).length > 60) {
        lines.push({ depth: 1, text: html`${p}<span class="j-more">${Array.isArray(x) ? '[…]' : '{…}'}</span>${comma}`, mark: false });
      } else emit(lines, x, 1, p, comma, marked, budget);
    });
    lines.push({ depth: 0, text: html`${isArr ? ']' : '}'}`, mark: false });
  } else emit(lines, value, 0, html``, '', false, budget);
  const body = lines.map((l) => html`<span class="${l.mark ? 'j-line j-mark' : 'j-line'}">${raw('  '.repeat(l.depth))}${l.text}</span>\n`);
  return html`<pre class="json">${body}</pre>`;
}

export interface Excerpt {
  /** The location that was found (may be shorter than the expression). */
  location: string;
  /** The element that is absent, when the expression goes further than the data. */
  missing?: string;
  fragment: SafeHtml;
}

/** The excerpt to show for an issue at `expression` in `root`, or undefined when it cannot be located. */
export function excerptFor(root: unknown, expression: string | undefined, maxLines = 40): Excerpt | undefined {
  if (!expression || root === undefined) return undefined;
  const r = resolveExpression(root, expression);
  if (!r || r.found.length === 0) return undefined;
  const location = stepsToString(r.found);
  const missing = r.missing.length ? stepsToString(r.missing) : undefined;
  let fragment: SafeHtml;
  if (missing) {
    // The element is absent: show where it should be, with the missing name as a note.
    fragment = renderJson(r.value, undefined, maxLines);
  } else if ((Array.isArray(r.value) || isObj(r.value)) && JSON.stringify(r.value).length > 40) {
    fragment = renderJson(r.value, undefined, maxLines);
  } else if (r.parent !== undefined && r.key !== undefined) {
    // A primitive (or a small value): show it within its parent, highlighted.
    fragment = renderJson(r.parent, r.key, maxLines);
  } else fragment = renderJson(r.value, undefined, maxLines);
  return { location, missing, fragment };
}
