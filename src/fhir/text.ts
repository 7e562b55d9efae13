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

/** Any NUL or surrogate at all: nearly every string has none, and this test, without look-arounds, is cheaper. */
const SUSPECT = /[\u0000\ud800-\udfff]/;

export function hasUnstorableText(s: string): boolean {
  return SUSPECT.test(s) && UNSTORABLE.test(s);
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
 * Every string (value or property name) holding a NUL or a lone surrogate, the first `max` in
 * document order (a property name's hit, at its object, in its property's place). Iterative: a
 * deep document cannot overflow the stack. A plain walk that makes each value's path as it goes:
 * a transaction Bundle is scanned only when its bytes hold a `\u0000` or surrogate escape
 * (jsonMayHoldUnstorable), so the walk's cost no longer matters there (D-338).
 */
export function findUnstorableText(value: unknown, root: string, max = 20): UnstorableText[] {
  const out: UnstorableText[] = [];
  // What is left to visit: a value and its path, or (third item) a property name's hit, stacked
  // in its place so that the hits come out in document order.
  const stack: [unknown, string, UnstorableText['what']?][] = [[value, root]];
  while (stack.length && out.length < max) {
    const [v, path, badName] = stack.pop()!;
    if (badName) out.push({ expression: path, what: badName, inName: true });
    else if (typeof v === 'string') {
      if (hasUnstorableText(v)) out.push({ expression: path, what: kindOf(v), inName: false });
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`]);
    } else if (typeof v === 'object' && v !== null) {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!;
        stack.push(hasUnstorableText(k) ? [undefined, path, kindOf(k)] : [(v as Record<string, unknown>)[k], `${path}.${step(k)}`]);
      }
    }
  }
  // (The stack is filled last-first, so it pops first-first: document order.)
  return out;
}

/**
 * Whether a value parsed from this UTF-8 JSON text (JSON.parse) may hold a NUL or a lone
 * surrogate: only a `\u` escape can put one there (JSON allows no raw control character, and
 * UTF-8 decoding turns any byte sequence that is not a character into U+FFFD). `false`: the text
 * has no `\u0000` and no `\uD800`–`\uDFFF` escape, and findUnstorableText on the value would
 * find nothing. (An escaped backslash before `u0000`, or a surrogate pair, answers `true`: then
 * the value is scanned, which decides.)
 */
export function jsonMayHoldUnstorable(bytes: Uint8Array): boolean {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = b.indexOf('\\u'); i >= 0; i = b.indexOf('\\u', i + 2)) {
    if (i + 5 >= b.length) return true;
    const c0 = b[i + 2];
    // \u0000
    if (c0 === 0x30 && b[i + 3] === 0x30 && b[i + 4] === 0x30 && b[i + 5] === 0x30) return true;
    // \uD800–\uDFFF: d or D, then 8, 9, a–f or A–F
    if (c0 === 0x64 || c0 === 0x44) {
      const c1 = b[i + 3];
      if (c1 === 0x38 || c1 === 0x39 || (c1 !== undefined && ((c1 >= 0x61 && c1 <= 0x66) || (c1 >= 0x41 && c1 <= 0x46)))) return true;
    }
  }
  return false;
}

/**
 * findUnstorableText on a value parsed (JSON.parse) from `json`, its UTF-8 JSON text — or from a
 * part of it — when the caller has that text: not walked when the text holds no escape that could
 * make a NUL or a lone surrogate (jsonMayHoldUnstorable), the same findings. Without `json` (XML,
 * a tree built otherwise): walked. The transaction checks and `$validate` (D-320, D-346).
 */
export function findUnstorableTextIn(value: unknown, root: string, json: Uint8Array | undefined, max?: number): UnstorableText[] {
  return json && !jsonMayHoldUnstorable(json) ? [] : findUnstorableText(value, root, max);
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

/**
 * The nesting depth of JSON text (objects and arrays), scanned without parsing; stops past `limit`.
 * A string is skipped to its closing quote by `indexOf` (native) rather than a character at a
 * time: strings are most of a FHIR document's text (3× less main-thread time per Bundle).
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // The next quote not escaped: preceded by an even number of backslashes.
      let j = i;
      for (;;) {
        j = text.indexOf('"', j + 1);
        if (j < 0) return false;
        let k = j - 1;
        while (k > i && text.charCodeAt(k) === 92 /* \ */) k--;
        if ((j - 1 - k) % 2 === 0) break;
      }
      i = j;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
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
