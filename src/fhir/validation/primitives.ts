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

function checkCalendar(m: RegExpExecArray, shown: string, type: string): string | undefined {
  const year = Number(m[1]);
  if (year === 0) return `"${shown}" is not a valid ${type}: year 0000 does not exist`;
  if (m[2] !== undefined && m[3] !== undefined) {
    const month = Number(m[2]);
    const day = Number(m[3]);
    if (day > daysInMonth(year, month)) return `"${shown}" is not a valid ${type}: ${m[1]}-${m[2]} has no day ${m[3]}`;
  }
  return undefined;
}

function describe(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}

/**
 * Checks a primitive value already known to have the right JSON kind.
 * Returns a message for the first problem, or undefined when the value is valid.
 */
export function checkPrimitive(type: string, value: unknown): string | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return `${value} is not a valid ${type}`;
    switch (type) {
      case 'integer':
        if (!Number.isInteger(value)) return `${value} is not a valid integer (no decimals allowed)`;
        if (value < -2147483648 || value > 2147483647) return `${value} is out of the 32-bit integer range`;
        return undefined;
      case 'unsignedInt':
        if (!Number.isInteger(value) || value < 0) return `${value} is not a valid unsignedInt (integer >= 0)`;
        if (value > 2147483647) return `${value} is out of the unsignedInt range`;
        return undefined;
      case 'positiveInt':
        if (!Number.isInteger(value) || value < 1) return `${value} is not a valid positiveInt (integer >= 1)`;
        if (value > 2147483647) return `${value} is out of the positiveInt range`;
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
      if (v.length > MAX_STRING) return `The string is longer than 1 MB (${v.length} characters)`;
      if (RE_BAD_CHARS.test(v)) return `The string contains a control character that FHIR does not allow`;
      return undefined;
    case 'code':
      return RE_CODE.test(v) ? undefined : `"${describe(v)}" is not a valid code (no leading, trailing or repeated whitespace)`;
    case 'id':
      return RE_ID.test(v) ? undefined : `"${describe(v)}" is not a valid id (1 to 64 of A-Z a-z 0-9 - .)`;
    case 'oid':
      return RE_OID.test(v) ? undefined : `"${describe(v)}" is not a valid oid (urn:oid:...)`;
    case 'uuid':
      return RE_UUID.test(v) ? undefined : `"${describe(v)}" is not a valid uuid (urn:uuid: followed by a lowercase UUID)`;
    case 'uri':
    case 'url':
    case 'canonical':
      if (!RE_URI.test(v)) return `"${describe(v)}" is not a valid ${type} (whitespace is not allowed)`;
      if (v.startsWith('urn:oid:') && !RE_OID.test(v)) return `"${describe(v)}" is not a valid OID URI`;
      if (v.startsWith('urn:uuid:') && !RE_UUID.test(v)) return `"${describe(v)}" is not a valid UUID URI (lowercase hex, 8-4-4-4-12)`;
      return undefined;
    case 'base64Binary': {
      const compact = v.replace(/\s+/g, '');
      return RE_BASE64.test(compact) ? undefined : `The value is not valid base64 content`;
    }
    case 'date': {
      const m = RE_DATE.exec(v);
      if (!m) return `"${describe(v)}" is not a valid date (YYYY, YYYY-MM or YYYY-MM-DD)`;
      return checkCalendar(m, v, 'date');
    }
    case 'dateTime': {
      const m = RE_DATETIME.exec(v);
      if (!m) {
        if (/^\d{4}-\d{2}-\d{2}T[^Z+-]*$/.test(v)) return `"${describe(v)}" is not a valid dateTime: a time needs a time zone (Z or ±hh:mm)`;
        return `"${describe(v)}" is not a valid dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz)`;
      }
      return checkCalendar(m, v, 'dateTime');
    }
    case 'instant': {
      const m = RE_INSTANT.exec(v);
      if (!m) return `"${describe(v)}" is not a valid instant (YYYY-MM-DDThh:mm:ss[.sss] with a time zone)`;
      return checkCalendar(m, v, 'instant');
    }
    case 'time':
      return RE_TIME.test(v) ? undefined : `"${describe(v)}" is not a valid time (hh:mm:ss)`;
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
