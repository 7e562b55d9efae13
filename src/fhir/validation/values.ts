// Value comparisons used for fixed[x] (exact equality) and pattern[x] (the instance contains
// the pattern: every property of the pattern is present with an equal or containing value;
// for arrays, every pattern item is contained in some instance item).
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao);
  if (ak.length !== Object.keys(bo).length) return false;
  return ak.every((k) => deepEqual(ao[k], bo[k]));
}

export function containsPattern(value: unknown, pattern: unknown): boolean {
  if (pattern === null || typeof pattern !== 'object') return value === pattern;
  if (Array.isArray(pattern)) {
    if (!Array.isArray(value)) return false;
    return pattern.every((p) => value.some((v) => containsPattern(v, p)));
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  for (const [k, p] of Object.entries(pattern as Record<string, unknown>)) {
    if (!containsPattern(v[k], p)) return false;
  }
  return true;
}

/**
 * `containsPattern(value, pattern)` as a function of `value`, built once per pattern: the
 * pattern's properties are listed once instead of at every comparison.
 */
export function compilePattern(pattern: unknown): (value: unknown) => boolean {
  if (pattern === null || typeof pattern !== 'object') return (v) => v === pattern;
  if (Array.isArray(pattern)) {
    const items = pattern.map(compilePattern);
    return (v) => {
      if (!Array.isArray(v)) return false;
      for (const test of items) if (!v.some(test)) return false;
      return true;
    };
  }
  const props = Object.entries(pattern as Record<string, unknown>).map(([k, p]) => [k, compilePattern(p)] as const);
  return (v) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
    const o = v as Record<string, unknown>;
    for (const [k, test] of props) if (!test(o[k])) return false;
    return true;
  };
}

/** Short description of a JSON value for messages. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}
