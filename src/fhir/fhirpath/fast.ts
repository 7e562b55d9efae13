// A small FHIRPath compiler for the subset that invariants use most (navigation, where/all/
// exists/empty/not/count/first, boolean logic with empty propagation, =/!=, string functions,
// environment variables), compiled to closures. fhirpath.js is correct but allocates typed
// nodes for every step (tens of µs per invariant); this runs the common invariants in ~1 µs.
// Anything outside the subset throws `Unsupported` — at compile time, or at run time for
// values whose semantics need type information (e.g. comparing dates) — and the caller falls
// back to fhirpath.js. Agreement with fhirpath.js is tested on every invariant the validator
// evaluates over the official examples (fast.test.ts).
import { isObject as isObj } from '../json.js';

type Json = Record<string, unknown>;
type Coll = unknown[];

export class Unsupported extends Error {}

export interface Env {
  resource: unknown;
  rootResource: unknown;
  context: unknown;
}

/**
 * The RegExp of a FHIRPath `matches()` pattern, compiled once. FHIRPath regexes are
 * PCRE-like: identity escapes such as `\'` are literals there (R4's eld-20 has some), but a
 * syntax error under JavaScript's `u` flag; such a pattern is compiled without it. A pattern
 * that is no regex at all goes to fhirpath.js, whose error makes the invariant "not evaluated".
 */
const REGEXES = new Map<string, RegExp | null>();
function fhirRegex(pattern: string): RegExp {
  let r = REGEXES.get(pattern);
  if (r === undefined) {
    try {
      r = new RegExp(pattern, 'su');
    } catch {
      try {
        r = new RegExp(pattern, 's');
      } catch {
        r = null;
      }
    }
    if (REGEXES.size < 1000) REGEXES.set(pattern, r);
  }
  if (r === null) throw new Unsupported(`matches(): not a regular expression: ${pattern}`);
  return r;
}

type Fn = (focus: Coll, env: Env, self: Coll) => Coll;

// ------------------------------------------------------------------ tokens

type Tok =
  | { t: 'id'; v: string }
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'var'; v: string }
  | { t: 'op'; v: string };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === "'") {
      let j = i + 1;
      let v = '';
      while (j < src.length && src[j] !== "'") {
        if (src[j] === '\\') {
          const n = src[j + 1];
          v += n === 'n' ? '\n' : n === 't' ? '\t' : n === 'r' ? '\r' : n;
          j += 2;
        } else v += src[j++];
      }
      if (j >= src.length) throw new Unsupported('unterminated string');
      out.push({ t: 'str', v });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) throw new Unsupported('unterminated identifier');
      out.push({ t: 'id', v: src.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    if (c === '%') {
      const m = /^%([A-Za-z_][A-Za-z0-9_]*|`[^`]*`|'[^']*')/.exec(src.slice(i));
      if (!m) throw new Unsupported('bad variable');
      out.push({ t: 'var', v: m[1].replace(/^[`']|[`']$/g, '') });
      i += m[0].length;
      continue;
    }
    if (c === '@') throw new Unsupported('date literal');
    const num = /^\d+(\.\d+)?/.exec(src.slice(i));
    if (num) {
      if (num[1]) throw new Unsupported('decimal literal');
      out.push({ t: 'num', v: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_$][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      out.push({ t: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    const op = /^(!=|<=|>=|!~|[.(),=<>|&+\-*/~[\]{}])/.exec(src.slice(i));
    if (!op) throw new Unsupported(`unexpected character ${c}`);
    out.push({ t: 'op', v: op[0] });
    i += op[0].length;
  }
  return out;
}

// ------------------------------------------------------------------ values


/** FHIR type names, capitalised as they suffix choice element names (`valueString`, `effectivePeriod`). */
const CHOICE_SUFFIXES = new Set(
  (
    'Base64Binary Boolean Canonical Code Date DateTime Decimal Id Instant Integer Markdown Oid PositiveInt String Time ' +
    'UnsignedInt Uri Url Uuid Address Age Annotation Attachment CodeableConcept Coding ContactPoint Count Distance ' +
    'Duration HumanName Identifier Money Period Quantity Range Ratio Reference SampledData Signature Timing ' +
    'ContactDetail Contributor DataRequirement Expression ParameterDefinition RelatedArtifact TriggerDefinition ' +
    'UsageContext Dosage Meta'
  ).split(' '),
);

/** Children named `name` of every item (choice elements: `value` finds `valueString`...). */
function member(focus: Coll, name: string): Coll {
  const out: Coll = [];
  for (const item of focus) {
    if (!isObj(item)) continue;
    let v = item[name];
    if (v === undefined) {
      if (name === 'resourceType') continue;
      for (const k in item) {
        if (k.length > name.length && k.startsWith(name) && CHOICE_SUFFIXES.has(k.slice(name.length))) {
          v = item[k];
          break;
        }
      }
    }
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) {
      for (const x of v) if (x !== null && x !== undefined) out.push(x);
    } else out.push(v);
  }
  return out;
}

/** FHIRPath singleton evaluation of a collection as a Boolean: [], [true], [false] or true for one non-Boolean item. */
function toBool(c: Coll): boolean | undefined {
  if (c.length === 0) return undefined;
  if (c.length > 1) throw new Unsupported('boolean of a collection');
  const v = c[0];
  return typeof v === 'boolean' ? v : true;
}

function boolColl(b: boolean | undefined): Coll {
  return b === undefined ? [] : [b];
}

const DATE_LIKE = /^\d{4}(-\d{2}(-\d{2}(T.*)?)?)?$/;

function singleton(c: Coll, what: string): unknown {
  if (c.length > 1) throw new Unsupported(`${what} of a collection`);
  return c[0];
}

function deepEq(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!isObj(a) || !isObj(b)) {
    if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEq(x, b[i]));
    return false;
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => deepEq(a[k], b[k]));
}

function equals(l: Coll, r: Coll): boolean | undefined {
  if (l.length === 0 || r.length === 0) return undefined;
  if (l.length !== r.length) return false;
  for (let i = 0; i < l.length; i++) {
    const a = l[i];
    const b = r[i];
    if (typeof a === 'string' && typeof b === 'string' && a !== b && DATE_LIKE.test(a) && DATE_LIKE.test(b)) {
      // Dates at different precisions compare as empty in FHIRPath: leave it to fhirpath.js.
      throw new Unsupported('date equality');
    }
    if (typeof a === 'number' || typeof b === 'number') {
      if (a !== b) return false;
      continue;
    }
    if (!deepEq(a, b)) return false;
  }
  return true;
}

function compare(l: Coll, r: Coll, op: string): Coll {
  if (l.length === 0 || r.length === 0) return [];
  const a = singleton(l, 'comparison');
  const b = singleton(r, 'comparison');
  if (typeof a === 'number' && typeof b === 'number') {
    return [op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b];
  }
  if (typeof a === 'string' && typeof b === 'string' && !DATE_LIKE.test(a) && !DATE_LIKE.test(b)) {
    return [op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b];
  }
  throw new Unsupported('typed comparison');
}

// ------------------------------------------------------------------ parser

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}

  parse(): Fn {
    const f = this.expr(0);
    if (this.i < this.toks.length) throw new Unsupported('trailing tokens');
    return f;
  }

  private peek(): Tok | undefined {
    return this.toks[this.i];
  }

  private isOp(v: string): boolean {
    const t = this.peek();
    return !!t && t.t === 'op' && t.v === v;
  }

  private isWord(v: string): boolean {
    const t = this.peek();
    return !!t && t.t === 'id' && t.v === v;
  }

  private expect(v: string): void {
    if (!this.isOp(v)) throw new Unsupported(`expected ${v}`);
    this.i++;
  }

  // Precedence climbing; level 0 = implies (lowest).
  private expr(level: number): Fn {
    switch (level) {
      case 0: {
        let l = this.expr(1);
        while (this.isWord('implies')) {
          this.i++;
          const a = l;
          const b = this.expr(1);
          l = (f, e, s) => {
            const x = toBool(a(f, e, s));
            if (x === false) return [true];
            const y = toBool(b(f, e, s));
            if (x === true) return boolColl(y);
            return y === true ? [true] : [];
          };
        }
        return l;
      }
      case 1: {
        let l = this.expr(2);
        while (this.isWord('or') || this.isWord('xor')) {
          const op = (this.toks[this.i++] as { v: string }).v;
          const a = l;
          const b = this.expr(2);
          l =
            op === 'or'
              ? (f, e, s) => {
                  const x = toBool(a(f, e, s));
                  if (x === true) return [true];
                  const y = toBool(b(f, e, s));
                  if (y === true) return [true];
                  return x === false && y === false ? [false] : [];
                }
              : (f, e, s) => {
                  const x = toBool(a(f, e, s));
                  const y = toBool(b(f, e, s));
                  return x === undefined || y === undefined ? [] : [x !== y];
                };
        }
        return l;
      }
      case 2: {
        let l = this.expr(3);
        while (this.isWord('and')) {
          this.i++;
          const a = l;
          const b = this.expr(3);
          l = (f, e, s) => {
            const x = toBool(a(f, e, s));
            if (x === false) return [false];
            const y = toBool(b(f, e, s));
            if (y === false) return [false];
            return x === true && y === true ? [true] : [];
          };
        }
        return l;
      }
      case 3: {
        let l = this.expr(4);
        while (this.isWord('in') || this.isWord('contains')) {
          const op = (this.toks[this.i++] as { v: string }).v;
          const a = l;
          const b = this.expr(4);
          l = (f, e, s) => {
            const [item, coll] = op === 'in' ? [a(f, e, s), b(f, e, s)] : [b(f, e, s), a(f, e, s)];
            if (item.length === 0) return [];
            const v = singleton(item, 'membership');
            if (typeof v === 'string' && DATE_LIKE.test(v)) throw new Unsupported('date membership');
            return [coll.some((x) => deepEq(x, v))];
          };
        }
        return l;
      }
      case 4: {
        let l = this.expr(5);
        while (this.isOp('=') || this.isOp('!=')) {
          const op = (this.toks[this.i++] as { v: string }).v;
          const a = l;
          const b = this.expr(5);
          l = (f, e, s) => {
            const r = equals(a(f, e, s), b(f, e, s));
            return r === undefined ? [] : [op === '=' ? r : !r];
          };
        }
        if (this.isOp('~') || this.isOp('!~')) throw new Unsupported('equivalence');
        return l;
      }
      case 5: {
        let l = this.expr(6);
        while (this.isOp('<') || this.isOp('<=') || this.isOp('>') || this.isOp('>=')) {
          const op = (this.toks[this.i++] as { v: string }).v;
          const a = l;
          const b = this.expr(6);
          l = (f, e, s) => compare(a(f, e, s), b(f, e, s), op);
        }
        return l;
      }
      case 6: {
        let l = this.expr(7);
        while (this.isOp('|')) {
          this.i++;
          const a = l;
          const b = this.expr(7);
          l = (f, e, s) => {
            const out: Coll = [];
            for (const x of [...a(f, e, s), ...b(f, e, s)]) if (!out.some((y) => deepEq(x, y))) out.push(x);
            return out;
          };
        }
        return l;
      }
      case 7: {
        if (this.isWord('is') || this.isWord('as')) throw new Unsupported('type operator');
        const l = this.expr(8);
        if (this.isWord('is') || this.isWord('as')) throw new Unsupported('type operator');
        return l;
      }
      case 8: {
        let l = this.expr(9);
        while (this.isOp('&') || this.isOp('+') || this.isOp('-')) {
          const op = (this.toks[this.i++] as { v: string }).v;
          const a = l;
          const b = this.expr(9);
          l = (f, e, s) => {
            const x = a(f, e, s);
            const y = b(f, e, s);
            if (op === '&') {
              const xs = x.length ? singleton(x, '&') : '';
              const ys = y.length ? singleton(y, '&') : '';
              if (typeof xs !== 'string' || typeof ys !== 'string') throw new Unsupported('& of non-strings');
              return [xs + ys];
            }
            if (x.length === 0 || y.length === 0) return [];
            const xv = singleton(x, op);
            const yv = singleton(y, op);
            if (op === '+' && typeof xv === 'string' && typeof yv === 'string') return [xv + yv];
            if (typeof xv === 'number' && typeof yv === 'number') return [op === '+' ? xv + yv : xv - yv];
            throw new Unsupported('arithmetic');
          };
        }
        return l;
      }
      case 9: {
        if (this.isOp('*') || this.isOp('/') || this.isWord('div') || this.isWord('mod')) throw new Unsupported('multiplicative');
        const l = this.expr(10);
        if (this.isOp('*') || this.isOp('/') || this.isWord('div') || this.isWord('mod')) throw new Unsupported('multiplicative');
        return l;
      }
      default:
        return this.invocation();
    }
  }

  private invocation(): Fn {
    let f = this.term();
    for (;;) {
      if (this.isOp('.')) {
        this.i++;
        const t = this.toks[this.i++];
        if (!t || t.t !== 'id') throw new Unsupported('expected a name after .');
        f = this.call(f, t.v);
      } else if (this.isOp('[')) {
        this.i++;
        const idx = this.expr(0);
        this.expect(']');
        const base = f;
        f = (x, e, s) => {
          const n = singleton(idx(x, e, s), 'index');
          if (typeof n !== 'number') throw new Unsupported('index');
          const c = base(x, e, s);
          return n < c.length ? [c[n]] : [];
        };
      } else return f;
    }
  }

  private term(): Fn {
    const t = this.toks[this.i];
    if (!t) throw new Unsupported('unexpected end');
    if (t.t === 'str') {
      this.i++;
      const v = [t.v];
      return () => v;
    }
    if (t.t === 'num') {
      this.i++;
      const v = [t.v];
      return () => v;
    }
    if (t.t === 'var') {
      this.i++;
      const name = t.v;
      if (name === 'resource') return (_f, e) => (e.resource === undefined ? [] : [e.resource]);
      if (name === 'rootResource') return (_f, e) => (e.rootResource === undefined ? [] : [e.rootResource]);
      if (name === 'context') return (_f, e) => (e.context === undefined ? [] : [e.context]);
      if (name === 'ucum') return () => ['http://unitsofmeasure.org'];
      if (name === 'sct') return () => ['http://snomed.info/sct'];
      if (name === 'loinc') return () => ['http://loinc.org'];
      throw new Unsupported(`variable %${name}`);
    }
    if (t.t === 'op' && t.v === '(') {
      this.i++;
      const inner = this.expr(0);
      this.expect(')');
      return inner;
    }
    if (t.t === 'op' && t.v === '{') {
      this.i++;
      this.expect('}');
      return () => [];
    }
    if (t.t === 'op' && t.v === '-') throw new Unsupported('unary minus');
    if (t.t === 'id') {
      this.i++;
      if (t.v === 'true' || t.v === 'false') {
        const v = [t.v === 'true'];
        return () => v;
      }
      if (t.v === '$this') return (_f, _e, s) => s;
      if (t.v === '$index' || t.v === '$total') throw new Unsupported(t.v);
      if (this.isOp('(')) {
        // A function call on the focus.
        this.i--;
        return this.call((f) => f, undefined);
      }
      const name = t.v;
      // A leading type name (`Encounter.extension`) designates the focus itself when it matches.
      if (/^[A-Z]/.test(name)) {
        return (f) => f.filter((x) => isObj(x) && (x.resourceType === name || x.resourceType === undefined));
      }
      return (f) => member(f, name);
    }
    throw new Unsupported('unexpected token');
  }

  /** `base.name` (navigation) or `base.fn(args)`; with `name` undefined, reads the function from the tokens. */
  private call(base: Fn, name: string | undefined): Fn {
    let fname = name;
    if (fname === undefined) {
      const t = this.toks[this.i++];
      fname = (t as { v: string }).v;
    }
    if (!this.isOp('(')) {
      const n = fname;
      return (f, e, s) => member(base(f, e, s), n);
    }
    this.i++;
    const args: Fn[] = [];
    if (!this.isOp(')')) {
      args.push(this.expr(0));
      while (this.isOp(',')) {
        this.i++;
        args.push(this.expr(0));
      }
    }
    this.expect(')');
    return makeFunction(fname, base, args);
  }
}

function str(c: Coll, what: string): string | undefined {
  if (c.length === 0) return undefined;
  const v = singleton(c, what);
  if (typeof v !== 'string') throw new Unsupported(`${what} on a non-string`);
  return v;
}

function makeFunction(name: string, base: Fn, args: Fn[]): Fn {
  const arity = (n: number) => {
    if (args.length !== n) throw new Unsupported(`${name} with ${args.length} arguments`);
  };
  switch (name) {
    case 'exists':
      if (args.length === 0) return (f, e, s) => [base(f, e, s).length > 0];
      arity(1);
      return (f, e, s) => [base(f, e, s).some((x) => toBool(args[0]([x], e, [x])) === true)];
    case 'empty':
      arity(0);
      return (f, e, s) => [base(f, e, s).length === 0];
    case 'not':
      arity(0);
      return (f, e, s) => {
        const b = toBool(base(f, e, s));
        return b === undefined ? [] : [!b];
      };
    case 'hasValue':
      arity(0);
      return (f, e, s) => {
        const c = base(f, e, s);
        return [c.length === 1 && (typeof c[0] !== 'object' || c[0] === null)];
      };
    case 'where':
      arity(1);
      return (f, e, s) => base(f, e, s).filter((x) => toBool(args[0]([x], e, [x])) === true);
    case 'all':
      arity(1);
      return (f, e, s) => [base(f, e, s).every((x) => toBool(args[0]([x], e, [x])) === true)];
    case 'select':
      arity(1);
      return (f, e, s) => base(f, e, s).flatMap((x) => args[0]([x], e, [x]));
    case 'count':
      arity(0);
      return (f, e, s) => [base(f, e, s).length];
    case 'first':
      arity(0);
      return (f, e, s) => base(f, e, s).slice(0, 1);
    case 'last':
      arity(0);
      return (f, e, s) => base(f, e, s).slice(-1);
    case 'distinct':
      arity(0);
      return (f, e, s) => {
        const out: Coll = [];
        for (const x of base(f, e, s)) if (!out.some((y) => deepEq(x, y))) out.push(x);
        return out;
      };
    case 'isDistinct':
      arity(0);
      return (f, e, s) => {
        const c = base(f, e, s);
        return [c.every((x, i) => c.findIndex((y) => deepEq(x, y)) === i)];
      };
    case 'startsWith':
    case 'endsWith':
    case 'contains':
      arity(1);
      return (f, e, s) => {
        const v = str(base(f, e, s), name);
        const a = str(args[0](s, e, s), name);
        if (v === undefined || a === undefined) return [];
        return [name === 'startsWith' ? v.startsWith(a) : name === 'endsWith' ? v.endsWith(a) : v.includes(a)];
      };
    case 'length':
      arity(0);
      return (f, e, s) => {
        const v = str(base(f, e, s), name);
        return v === undefined ? [] : [v.length];
      };
    case 'matches':
      arity(1);
      return (f, e, s) => {
        const v = str(base(f, e, s), name);
        const a = str(args[0](s, e, s), name);
        if (v === undefined || a === undefined) return [];
        return [fhirRegex(a).test(v)];
      };
    case 'substring':
      return (f, e, s) => {
        const v = str(base(f, e, s), name);
        const start = singleton(args[0](s, e, s), name);
        const len = args[1] ? singleton(args[1](s, e, s), name) : undefined;
        if (v === undefined || typeof start !== 'number') return [];
        if (start < 0 || start >= v.length) return [];
        return [len === undefined ? v.slice(start) : v.substr(start, len as number)];
      };
    case 'trace':
      return base;
    case 'iif':
      if (args.length < 2 || args.length > 3) throw new Unsupported('iif arity');
      return (f, e, s) => {
        const focus = base(f, e, s);
        const c = toBool(args[0](focus, e, focus));
        if (c === true) return args[1](focus, e, focus);
        return args[2] ? args[2](focus, e, focus) : [];
      };
    case 'extension':
      arity(1);
      return (f, e, s) => {
        const url = str(args[0](s, e, s), name);
        return member(base(f, e, s), 'extension').filter((x) => isObj(x) && x.url === url);
      };
    case 'children':
      arity(0);
      return (f, e, s) => {
        const out: Coll = [];
        for (const x of base(f, e, s)) {
          if (!isObj(x)) continue;
          for (const k in x) {
            if (k === 'resourceType' || k.startsWith('_')) continue;
            const v = x[k];
            if (Array.isArray(v)) out.push(...v.filter((y) => y !== null));
            else if (v !== null && v !== undefined) out.push(v);
          }
        }
        return out;
      };
    default:
      throw new Unsupported(`function ${name}()`);
  }
}

export type FastFn = (node: unknown, env: Env) => unknown[];

/** Compiles `expression`; throws Unsupported when it is outside the subset. */
export function compileFast(expression: string): FastFn {
  const fn = new Parser(tokenize(expression)).parse();
  return (node, env) => {
    const focus = node === undefined || node === null ? [] : [node];
    return fn(focus, env, focus);
  };
}
