// FHIR R4 primitive types: their JSON representation and lexical rules.
// Regexes follow the R4 specification (datatypes.html#primitive); dates are also checked
// against the calendar (no 2020-02-30), which the regexes alone do not catch.

const PRIMITIVES = new Set([
  'boolean',
  'integer',
  'unsignedInt',
  'positiveInt',
  'decimal',
  'string',
  'markdown',
  'code',
  'id',
  'oid',
  'uuid',
  'uri',
  'url',
  'canonical',
  'base64Binary',
  'date',
  'dateTime',
  'instant',
  'time',
  'xhtml',
]);

export function isPrimitiveType(type: string): boolean {
  // A switch on the first letter first: most calls are with complex types.
  switch (type.charCodeAt(0)) {
    case 98: // b
    case 105: // i
    case 117: // u
    case 112: // p
    case 100: // d
    case 115: // s
    case 109: // m
    case 99: // c
    case 111: // o
    case 116: // t
    case 120: // x
      return PRIMITIVES.has(type);
    default:
      return false;
  }
}

/** The JSON kind a primitive is represented with (R4 JSON format). */
export function jsonKindOf(type: string): 'boolean' | 'number' | 'string' {
  switch (type) {
    case 'boolean':
      return 'boolean';
    case 'integer':
    case 'unsignedInt':
    case 'positiveInt':
    case 'decimal':
      return 'number';
    default:
      return 'string';
  }
}

const RE_CODE = /^[^\s]+( [^\s]+)*$/;
const RE_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const RE_OID = /^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/;
const RE_UUID = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const RE_URI = /^\S*$/;
const RE_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const RE_TZ = '(Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))';
const RE_TIME_PART = '([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)(\\.[0-9]+)?';
const RE_DATE = /^([0-9]{4})(?:-(0[1-9]|1[0-2])(?:-(0[1-9]|[12][0-9]|3[01]))?)?$/;
const RE_DATETIME = new RegExp(
  `^([0-9]{4})(?:-(0[1-9]|1[0-2])(?:-(0[1-9]|[12][0-9]|3[01])(?:T${RE_TIME_PART}${RE_TZ})?)?)?$`,
);
const RE_INSTANT = new RegExp(`^([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T${RE_TIME_PART}${RE_TZ}$`);
const RE_TIME = new RegExp(`^${RE_TIME_PART}$`);
/** Characters allowed in string (R4: `[ \r\n\t\S]+`): no other control characters. */
// eslint-disable-next-line no-control-regex
const RE_BAD_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/;
const MAX_STRING = 1024 * 1024;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function checkCalendar(m: RegExpExecArray, shown: string, type: string): PrimitiveProblem | undefined {
  const year = Number(m[1]);
  if (year === 0) return problem(`"${shown}" is not a valid ${type}: year 0000 does not exist`, `« ${shown} » n’est pas un ${type} valide : l’année 0000 n’existe pas`);
  if (m[2] !== undefined && m[3] !== undefined) {
    const month = Number(m[2]);
    const day = Number(m[3]);
    if (day > daysInMonth(year, month)) return problem(`"${shown}" is not a valid ${type}: ${m[1]}-${m[2]} has no day ${m[3]}`, `« ${shown} » n’est pas un ${type} valide : le mois ${m[1]}-${m[2]} n’a pas de jour ${m[3]}`);
  }
  return undefined;
}

function describe(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}

/** A primitive value's first problem, worded in English and in French (the catalogue's `{detail}` / `{detailFr}`). */
export interface PrimitiveProblem {
  en: string;
  fr: string;
}

function problem(en: string, fr: string): PrimitiveProblem {
  return { en, fr };
}

/**
 * Checks a primitive value already known to have the right JSON kind.
 * Returns the first problem, or undefined when the value is valid.
 */
export function checkPrimitive(type: string, value: unknown): PrimitiveProblem | undefined {
  // Strings: a hand-written scanner says "valid" for most values without a regex or a match
  // array (most values are valid); anything it does not accept goes to the regex rules, which
  // decide and word the message. The scanner may only accept what the regexes accept
  // (primitives.test.ts compares both on generated values).
  if (typeof value === 'string' && isValidString(type, value)) return undefined;
  return checkPrimitiveByRules(type, value);
}

/** The reference implementation: the R4 regexes, the calendar, and the message of the first problem. */
export function checkPrimitiveByRules(type: string, value: unknown): PrimitiveProblem | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return problem(`${value} is not a valid ${type}`, `${value} n’est pas un ${type} valide`);
    switch (type) {
      case 'integer':
        if (!Number.isInteger(value)) return problem(`${value} is not a valid integer (no decimals allowed)`, `${value} n’est pas un entier valide (pas de décimales)`);
        if (value < -2147483648 || value > 2147483647) return problem(`${value} is out of the 32-bit integer range`, `${value} dépasse les bornes d’un entier sur 32 bits`);
        return undefined;
      case 'unsignedInt':
        if (!Number.isInteger(value) || value < 0) return problem(`${value} is not a valid unsignedInt (integer >= 0)`, `${value} n’est pas un unsignedInt valide (entier ≥ 0)`);
        if (value > 2147483647) return problem(`${value} is out of the unsignedInt range`, `${value} dépasse les bornes d’un unsignedInt`);
        return undefined;
      case 'positiveInt':
        if (!Number.isInteger(value) || value < 1) return problem(`${value} is not a valid positiveInt (integer >= 1)`, `${value} n’est pas un positiveInt valide (entier ≥ 1)`);
        if (value > 2147483647) return problem(`${value} is out of the positiveInt range`, `${value} dépasse les bornes d’un positiveInt`);
        return undefined;
      default:
        return undefined;
    }
  }
  if (typeof value !== 'string') return undefined;
  const v = value;
  switch (type) {
    case 'string':
    case 'markdown':
      if (v.length > MAX_STRING) return problem(`The string is longer than 1 MB (${v.length} characters)`, `La chaîne dépasse 1 Mo (${v.length} caractères)`);
      if (RE_BAD_CHARS.test(v)) return problem(`The string contains a control character that FHIR does not allow`, `La chaîne contient un caractère de contrôle que FHIR n’autorise pas`);
      return undefined;
    case 'code':
      return RE_CODE.test(v) ? undefined : problem(`"${describe(v)}" is not a valid code (no leading, trailing or repeated whitespace)`, `« ${describe(v)} » n’est pas un code valide (pas d’espace en début, en fin ni répété)`);
    case 'id':
      return RE_ID.test(v) ? undefined : problem(`"${describe(v)}" is not a valid id (1 to 64 of A-Z a-z 0-9 - .)`, `« ${describe(v)} » n’est pas un id valide (1 à 64 caractères parmi A-Z a-z 0-9 - .)`);
    case 'oid':
      return RE_OID.test(v) ? undefined : problem(`"${describe(v)}" is not a valid oid (urn:oid:...)`, `« ${describe(v)} » n’est pas un oid valide (urn:oid:...)`);
    case 'uuid':
      return RE_UUID.test(v) ? undefined : problem(`"${describe(v)}" is not a valid uuid (urn:uuid: followed by a lowercase UUID)`, `« ${describe(v)} » n’est pas un uuid valide (urn:uuid: suivi d’un UUID en minuscules)`);
    case 'uri':
    case 'url':
    case 'canonical':
      if (!RE_URI.test(v)) return problem(`"${describe(v)}" is not a valid ${type} (whitespace is not allowed)`, `« ${describe(v)} » n’est pas un ${type} valide (les espaces sont interdits)`);
      if (v.startsWith('urn:oid:') && !RE_OID.test(v)) return problem(`"${describe(v)}" is not a valid OID URI`, `« ${describe(v)} » n’est pas une URI d’OID valide`);
      if (v.startsWith('urn:uuid:') && !RE_UUID.test(v)) return problem(`"${describe(v)}" is not a valid UUID URI (lowercase hex, 8-4-4-4-12)`, `« ${describe(v)} » n’est pas une URI d’UUID valide (hexadécimal en minuscules, 8-4-4-4-12)`);
      return undefined;
    case 'base64Binary': {
      const compact = v.replace(/\s+/g, '');
      return RE_BASE64.test(compact) ? undefined : problem(`The value is not valid base64 content`, `La valeur n’est pas un contenu base64 valide`);
    }
    case 'date': {
      const m = RE_DATE.exec(v);
      if (!m) return problem(`"${describe(v)}" is not a valid date (YYYY, YYYY-MM or YYYY-MM-DD)`, `« ${describe(v)} » n’est pas une date valide (AAAA, AAAA-MM ou AAAA-MM-JJ)`);
      return checkCalendar(m, v, 'date');
    }
    case 'dateTime': {
      const m = RE_DATETIME.exec(v);
      if (!m) {
        if (/^\d{4}-\d{2}-\d{2}T[^Z+-]*$/.test(v)) return problem(`"${describe(v)}" is not a valid dateTime: a time needs a time zone (Z or ±hh:mm)`, `« ${describe(v)} » n’est pas un dateTime valide : une heure exige un fuseau horaire (Z ou ±hh:mm)`);
        return problem(`"${describe(v)}" is not a valid dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz)`, `« ${describe(v)} » n’est pas un dateTime valide (AAAA, AAAA-MM, AAAA-MM-JJ ou AAAA-MM-JJThh:mm:ss+zz:zz)`);
      }
      return checkCalendar(m, v, 'dateTime');
    }
    case 'instant': {
      const m = RE_INSTANT.exec(v);
      if (!m) return problem(`"${describe(v)}" is not a valid instant (YYYY-MM-DDThh:mm:ss[.sss] with a time zone)`, `« ${describe(v)} » n’est pas un instant valide (AAAA-MM-JJThh:mm:ss[.sss] avec un fuseau horaire)`);
      return checkCalendar(m, v, 'instant');
    }
    case 'time':
      return RE_TIME.test(v) ? undefined : problem(`"${describe(v)}" is not a valid time (hh:mm:ss)`, `« ${describe(v)} » n’est pas une heure valide (hh:mm:ss)`);
    default:
      return undefined;
  }
}

/** FHIR strings should not start or end with whitespace (the reference validator warns). */
export function checkStringWhitespace(v: string): string | undefined {
  const first = v.charCodeAt(0);
  const last = v.charCodeAt(v.length - 1);
  if (isWs(first) || isWs(last)) return 'The value should not start or finish with whitespace';
  return undefined;
}

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

// ---------------------------------------------------------------- fast acceptance of strings

/**
 * True only when `v` is a valid `type` (false: "let the regex rules decide", not "invalid").
 * Types without a scanner here are always handed to the rules.
 */
export function isValidString(type: string, v: string): boolean {
  // Long free-text values (string, markdown, uri...) are scanned faster by the regexes'
  // native code than by a charCodeAt loop: those types are left to the rules.
  switch (type) {
    case 'code':
      return isCode(v);
    case 'id':
      return isId(v);
    case 'date':
      return scanDate(v, 0, true) === v.length;
    case 'dateTime':
      return isDateTime(v);
    case 'instant':
      return isInstant(v);
    case 'base64Binary':
      return isBase64(v);
    default:
      return false;
  }
}

/** RE_BASE64 on the value without its whitespace, in one pass and without the copy. */
function isBase64(v: string): boolean {
  let chars = 0;
  let pads = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 47 && c <= 57) || c === 43 /* + */) {
      if (pads > 0) return false; // data after the padding
      chars++;
    } else if (c === 61 /* = */) {
      pads++;
    } else if (!isJsSpace(c)) return false;
  }
  return pads <= 2 && (chars + pads) % 4 === 0;
}

/** A character of JavaScript's `\s`. */
function isJsSpace(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 160) return false;
  return (
    c === 160 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 ||
    c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
  );
}

/** RE_CODE: non-space runs separated by single spaces (`^[^\s]+( [^\s]+)*$`). */
function isCode(v: string): boolean {
  const n = v.length;
  if (n === 0) return false;
  let prevSpace = true; // at the start, a space would be a leading one
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c > 32 && c < 127) {
      prevSpace = false;
      continue;
    }
    if (c === 32) {
      if (prevSpace) return false;
      prevSpace = true;
      continue;
    }
    if (isJsSpace(c)) return false;
    prevSpace = false;
  }
  return !prevSpace;
}

/** RE_ID: 1 to 64 of `A-Z a-z 0-9 - .`. */
function isId(v: string): boolean {
  const n = v.length;
  if (n === 0 || n > 64) return false;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    const l = c | 32;
    if ((l >= 97 && l <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46) continue;
    return false;
  }
  return true;
}

function digit(v: string, i: number): number {
  const c = v.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1;
}

/** Two digits at i as a number, or -1. */
function twoDigits(v: string, i: number): number {
  const a = digit(v, i);
  const b = digit(v, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

/**
 * `YYYY[-MM[-DD]]` from `i` (the date prefix of RE_DATE / RE_DATETIME / RE_INSTANT), a real
 * calendar date with year > 0; `partial`: YYYY and YYYY-MM allowed. Returns the end index or -1.
 */
function scanDate(v: string, i: number, partial: boolean): number {
  const y1 = twoDigits(v, i);
  const y2 = twoDigits(v, i + 2);
  if (y1 < 0 || y2 < 0) return -1;
  const year = y1 * 100 + y2;
  if (year === 0) return -1;
  if (v.length === i + 4 || v.charCodeAt(i + 4) !== 45) return partial ? i + 4 : -1;
  const month = twoDigits(v, i + 5);
  if (month < 1 || month > 12) return -1;
  if (v.length === i + 7 || v.charCodeAt(i + 7) !== 45) return partial ? i + 7 : -1;
  const day = twoDigits(v, i + 8);
  if (day < 1 || day > daysInMonth(year, month)) return -1;
  return i + 10;
}

/** `hh:mm:ss[.f+]` from `i` (RE_TIME_PART). Returns the end index or -1. */
function scanTime(v: string, i: number): number {
  const h = twoDigits(v, i);
  if (h < 0 || h > 23 || v.charCodeAt(i + 2) !== 58) return -1;
  const m = twoDigits(v, i + 3);
  if (m < 0 || m > 59 || v.charCodeAt(i + 5) !== 58) return -1;
  const s = twoDigits(v, i + 6);
  if (s < 0 || s > 60) return -1;
  let j = i + 8;
  if (v.charCodeAt(j) === 46) {
    j++;
    const start = j;
    while (digit(v, j) >= 0) j++;
    if (j === start) return -1;
  }
  return j;
}

/** `Z` or `±hh:mm` between -14:00 and +14:00 from `i` to the end (RE_TZ). */
function isZoneAtEnd(v: string, i: number): boolean {
  const c = v.charCodeAt(i);
  if (c === 90) return v.length === i + 1;
  if ((c !== 43 && c !== 45) || v.length !== i + 6 || v.charCodeAt(i + 3) !== 58) return false;
  const h = twoDigits(v, i + 1);
  const m = twoDigits(v, i + 4);
  if (h < 0 || m < 0) return false;
  return h <= 13 ? m <= 59 : h === 14 && m === 0;
}

function isDateTime(v: string): boolean {
  const end = scanDate(v, 0, true);
  if (end < 0) return false;
  if (end === v.length) return true;
  if (end !== 10 || v.charCodeAt(10) !== 84) return false;
  const t = scanTime(v, 11);
  return t > 0 && isZoneAtEnd(v, t);
}

function isInstant(v: string): boolean {
  if (scanDate(v, 0, false) !== 10 || v.charCodeAt(10) !== 84) return false;
  const t = scanTime(v, 11);
  return t > 0 && isZoneAtEnd(v, t);
}
