// A tiny auto-escaping HTML template tag: every interpolated value is escaped unless it is
// already SafeHtml (the result of another `html` template or of `raw`). Pages are built only
// with it, so data from submitted Bundles can never inject markup or scripts.

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

/** Marks trusted markup (literal strings of this module's callers, never user data). */
export function raw(s: string): SafeHtml {
  return new SafeHtml(s);
}

function render(v: unknown): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new SafeHtml(out);
}

/** Joins fragments with a separator (escaped unless SafeHtml). */
export function join(items: readonly unknown[], sep: unknown = ''): SafeHtml {
  const s = render(sep);
  return new SafeHtml(items.map(render).join(s));
}

/**
 * Builds a same-site URL with a query string; empty values are dropped.
 * The path is a literal of the caller; dynamic path segments go through `seg`.
 */
export function href(path: string, query: Record<string, string | number | undefined | null> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** Encodes one dynamic path segment. */
export function seg(s: string): string {
  return encodeURIComponent(s);
}
