// Counts in messages: "1 évènement", "2 évènements". French takes the singular for 0 and 1,
// English only for 1 ("0 events"). One helper for the UI, the CLI and the message builders, so
// that no text says "1 évènements" or "2 document(s)".

/** `n` and the noun that agrees with it, in French (0 and 1 singular), e.g. `plural(3, 'jour', 'jours')`. */
export function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString('fr-FR')} ${Math.abs(n) < 2 ? one : many}`;
}

/** `n` and the noun that agrees with it, in English (only 1 singular), e.g. `pluralEn(0, 'file', 'files')`. */
export function pluralEn(n: number, one: string, many: string): string {
  return `${n} ${Math.abs(n) === 1 ? one : many}`;
}

/** plural() or pluralEn() by language. */
export function countOf(lang: 'fr' | 'en', n: number, one: string, many: string): string {
  return lang === 'fr' ? plural(n, one, many) : pluralEn(n, one, many);
}
