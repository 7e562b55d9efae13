// Text a database can store. JSON text may carry a NUL (`\u0000`) or a lone UTF-16 surrogate
// (`\ud800`): JavaScript keeps them, FHIR forbids them (a string is Unicode characters, and
// XML 1.0 has no NUL), PostgreSQL's jsonb and text refuse them. Found before anything is stored,
// they are a clear client error at the element's location instead of a database error (a 500).
// `storableCopy` is the same JSON with such characters replaced, size- and depth-bounded, for
// the submission log of a rejected request, which must never fail to be written.
import { FhirError, HTTP_ERRORS } from './outcome/http-errors.js';

/** NUL, or a surrogate code unit not part of a pair. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_G = new RegExp(UNSTORABLE.source, 'g');

export function hasUnstorableText(s: string): boolean {
  return UNSTORABLE.test(s);
}

export interface UnstorableText {
  /** FHIRPath-like location of the string (or of the object whose property name holds it). */
  expression: string;
  what: 'nul' | 'surrogate';
  /** The character sits in a property name, not in a value. */
  inName: boolean;
}

function kindOf(s: string): 'nul' | 'surrogate' {
  return s.includes('\u0000') ? 'nul' : 'surrogate';
}

/** A property name as FHIRPath writes it (`_given` and other odd names backquoted). */
function step(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `\`${name.replace(/[`\\\u0000-\u001f\ud800-\udfff]/g, '?')}\``;
}

/**
 * Every string (value or property name) holding a NUL or a lone surrogate, at most `max`.
 * Iterative (a deep document cannot overflow the stack).
 */
export function findUnstorableText(value: unknown, root: string, max = 20): UnstorableText[] {
  const out: UnstorableText[] = [];
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length && out.length < max) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (hasUnstorableText(v)) out.push({ expression: path, what: kindOf(v), inName: false });
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`]);
    } else if (typeof v === 'object' && v !== null) {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!;
        if (hasUnstorableText(k)) {
          out.push({ expression: path, what: kindOf(k), inName: true });
          continue;
        }
        stack.push([(v as Record<string, unknown>)[k], `${path}.${step(k)}`]);
      }
    }
  }
  // Document order (the stack visits children last-first, then pops them first-first).
  return out;
}

export interface StorableCopyLimits {
  /** Deeper levels are replaced by a marker string (default 64). */
  maxDepth?: number;
  /** Strings longer than this are cut (default 64 KiB). */
  maxString?: number;
  /** Budget of values copied in total; past it, the rest is replaced by a marker (default 2,000,000). */
  maxValues?: number;
}

const MARK_DEPTH = '[tddui: deeper levels not kept]';
const MARK_BUDGET = '[tddui: not kept, the document is too large]';

/** `s` with each NUL and lone surrogate replaced by U+FFFD. */
export function storableString(s: string): string {
  return hasUnstorableText(s) ? s.replace(UNSTORABLE_G, '\ufffd') : s;
}

/**
 * A copy of any JSON value the database can store: NUL and lone surrogates replaced by U+FFFD
 * (in names too), depth, string length and the number of values bounded by markers, prototype
 * keys kept as plain data. Recursive to `maxDepth` only, so it never overflows the stack.
 */
export function storableCopy(value: unknown, limits: StorableCopyLimits = {}): unknown {
  const maxDepth = limits.maxDepth ?? 64;
  const maxString = limits.maxString ?? 64 * 1024;
  let budget = limits.maxValues ?? 2_000_000;
  const copy = (v: unknown, depth: number): unknown => {
    if (budget-- <= 0) return MARK_BUDGET;
    if (typeof v === 'string') {
      const s = storableString(v);
      return s.length > maxString ? `${storableString(s.slice(0, maxString))}[tddui: cut at ${maxString} characters]` : s;
    }
    if (typeof v === 'number') return Number.isFinite(v) ? v : null;
    if (typeof v !== 'object' || v === null) return typeof v === 'boolean' ? v : v === null ? null : undefined;
    if (depth >= maxDepth) return MARK_DEPTH;
    if (Array.isArray(v)) return v.map((x) => copy(x, depth + 1) ?? null);
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(v)) {
      const c = copy((v as Record<string, unknown>)[k], depth + 1);
      if (c !== undefined) out[storableString(k)] = c;
    }
    return out;
  };
  return copy(value, 0);
}

/** The nesting depth of JSON text (objects and arrays), scanned without parsing; stops past `limit`. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > limit) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

/** The 422 of a NUL or lone surrogate found in the data, at its location. */
export function unstorableError(u: UnstorableText): FhirError {
  const what = u.what === 'nul' ? 'a NUL character (U+0000)' : 'a lone UTF-16 surrogate (half of a character)';
  const whatFr = u.what === 'nul' ? 'un caractère NUL (U+0000)' : 'un demi-caractère UTF-16 isolé (surrogate)';
  return new FhirError(
    HTTP_ERRORS.TEXT_UNSTORABLE,
    { expression: u.expression, what: u.inName ? `${what} in a property name` : what, whatFr: u.inName ? `${whatFr} dans un nom de propriété` : whatFr },
    { expression: u.expression },
  );
}
