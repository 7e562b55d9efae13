// Canonical urls that are not loaded: which complete IG's namespace holds them, and the
// closest name it does define (a typo is the usual cause), for "did you mean" messages.

/** An IG loaded in full whose namespace holds a url (see Validator.completeIgOf), with "did you mean" hints. */
export interface CompleteIg {
  canonical: string;
  pkg: string;
  /** The IG's extension closest to the url (a likely typo), if any is close. */
  nearExtension: string | undefined;
  /** The same among its profiles. */
  nearProfile: string | undefined;
}

/** The "did you mean" part of an undefined-url message, in English and French. */
export function hintArgs(near: string | undefined): { hint: string; hintFr: string } {
  return near ? { hint: ` (did you mean ${near}?)`, hintFr: ` (vouliez-vous dire ${near} ?)` } : { hint: '', hintFr: '' };
}

/** Levenshtein distance of two short strings, or `max + 1` as soon as it exceeds `max`. */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1));
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    prev = cur;
  }
  return prev[b.length];
}
