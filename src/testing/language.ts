// The language check of the tests (issue 20, "French everywhere"): whether a French text is
// French — present, not the English one, and without English words outside what is not prose
// (placeholders, quoted values, code, URLs, FHIR paths).

/** English words that do not exist in French (checked as whole words, outside placeholders and quotes). */
const ENGLISH_WORDS = [
  'the', 'is', 'are', 'not', 'expected', 'which', 'must', 'should', 'found', 'and', 'of', 'with', 'only',
  'loaded', 'defined', 'invalid', 'input', 'received', 'required', 'allowed', 'missing', 'unknown', 'when',
  'given', 'needs', 'least', 'no', 'at', 'in', 'or', 'for', 'to', 'be', 'this', 'that', 'from', 'empty',
  'field', 'fields', 'twice', 'duplicate', 'partly', 'valid', 'does', 'has', 'have', 'an',
];
const ENGLISH = new RegExp(`(^|[\\s(,;:])(${ENGLISH_WORDS.join('|')})(?=$|[\\s),;:.])`, 'i');

/** The French text with what is not prose removed: placeholders, quoted values, code, URLs, FHIR paths. */
function prose(fr: string): string {
  return fr
    .replace(/\{\w+\}/g, ' ')
    .replace(/«[^»]*»|"[^"]*"|`[^`]*`|\([^()]*[=|][^()]*\)/g, ' ')
    .split(/\s+/)
    .filter((w) => !/[./+_$#\[\]]|^[A-Z][A-Za-z]*[A-Z]|^\d/.test(w))
    .join(' ');
}

/** Problems of one bilingual text (empty when fine). */
export function languageProblems(what: string, en: string | undefined, fr: string | undefined): string[] {
  const out: string[] = [];
  if (!en?.trim()) out.push(`${what}: no English text`);
  if (!fr?.trim()) return [...out, `${what}: no French text`];
  if (fr === en && /[a-z]{3,}/i.test(prose(fr))) out.push(`${what}: the French text is the English one: ${fr}`);
  const m = ENGLISH.exec(prose(fr));
  if (m) out.push(`${what}: English word "${m[2]}" in the French text: ${fr}`);
  return out;
}

