// Counts in messages: "1 évènement", "2 évènements". French takes the singular for 0 and 1,
// English only for 1 ("0 events"). One helper for the UI, the CLI and the message builders, so
// that no text says "1 évènements" or "2 document(s)".

/** French number formatting, made once: `n.toLocaleString('fr-FR')` builds a new formatter on
 * every call (about 0.2 ms each, which made building a SSIAD Bundle several times slower). */
const FR_NUMBER = new Intl.NumberFormat('fr-FR');

/** `n` and the noun that agrees with it, in French (0 and 1 singular), e.g. `plural(3, 'jour', 'jours')`. */
export function plural(n: number, one: string, many: string): string {
  // Below 1,000 a whole number is written as in English (no separator): no formatter call.
  const digits = n >= 0 && n < 1000 && Number.isInteger(n) ? String(n) : FR_NUMBER.format(n);
  return `${digits} ${Math.abs(n) < 2 ? one : many}`;
}

/** `n` and the noun that agrees with it, in English (only 1 singular), e.g. `pluralEn(0, 'file', 'files')`. */
export function pluralEn(n: number, one: string, many: string): string {
  return `${n} ${Math.abs(n) === 1 ? one : many}`;
}

/** plural() or pluralEn() by language. */
export function countOf(lang: 'fr' | 'en', n: number, one: string, many: string): string {
  return lang === 'fr' ? plural(n, one, many) : pluralEn(n, one, many);
}
