// Local terminology service: decides whether a code is in a value set using only the
// ValueSets and CodeSystems loaded in the registry (no network, like an offline HL7 validator).
// Three outcomes: valid, invalid, or unknown — unknown when the decision depends on a value
// set or code system that is not loaded or only partially loaded (CodeSystem.content other
// than `complete`), or on a filter we do not implement. Unknown is never turned into a pass:
// the validator reports it once as "not checked".
//
// One IG defect is read generously (decisions.md D-14): an include listing several value sets
// means their intersection in FHIR; when that intersection is empty, or cannot be computed
// because a member is not (fully) loaded, the include is read as their union, and every code
// accepted through that reading carries a notice so the validator can report the defect once.
import type { MessageArgs } from '../outcome/rule.js';
import type { CanonicalResource, ConformanceRegistry } from '../packages/registry.js';

export type CodeStatus = 'valid' | 'invalid' | 'unknown';

export type CodingCheck = { kind: 'ok' } | { kind: 'value-set' } | { kind: 'unknown-code'; stale: boolean } | { kind: 'display'; expected: string[] };
const CODING_VALUE_SET: CodingCheck = Object.freeze({ kind: 'value-set' });
/** codingSystem(): the url is a value set's. */
const VALUE_SET_URL = 'value-set' as const;
const CODING_OK: CodingCheck = Object.freeze({ kind: 'ok' });
const CODING_UNKNOWN: CodingCheck = Object.freeze({ kind: 'unknown-code', stale: false });
const CODING_UNKNOWN_STALE: CodingCheck = Object.freeze({ kind: 'unknown-code', stale: true });

/** Displays compare without case, accents' composition form or runs of whitespace mattering. */
function normaliseDisplay(s: string): string {
  return s.normalize('NFC').replace(/\s+/g, ' ').trim().toLowerCase();
}

export interface CodeResult {
  status: CodeStatus;
  /** Why, in English (with messageFr in French): set together. */
  message?: string;
  messageFr?: string;
  /** Canonicals (value sets, code systems) whose absence made the result unknown. */
  missing?: string[];
  /** IG defects the decision worked around (only on valid results); report each once per validation. */
  notices?: TerminologyNotice[];
}

/** Rule id of the "include of several value sets read as their union" notice (codes.ts). */
export const INCLUDE_INTERSECTION_RULE = 'fhir-valueset-include-intersection';

/**
 * A code was accepted only because one `compose.include` of `valueSet` listing several value
 * sets (`members`) was read as their union: FHIR says intersection, and that intersection is
 * empty (`reason` 'empty') or cannot be computed (`reason` 'not-computable', with `missing`).
 */
export interface TerminologyNotice {
  rule: typeof INCLUDE_INTERSECTION_RULE;
  /** Report-once key (one warning per value set per validation). */
  key: string;
  valueSet: string;
  members: string[];
  reason: 'empty' | 'not-computable';
  missing: string[];
  /** Message arguments of the rule (copy them before use: the notice is shared by cached results). */
  args: MessageArgs;
}

export interface CodingInput {
  system?: string;
  code?: string;
  display?: string;
}

type Tri = 'yes' | 'no' | 'unknown';

interface Concept {
  code: string;
  display?: string;
  designation?: { value?: string; language?: string }[];
  concept?: Concept[];
  property?: { code: string; valueCode?: string; valueString?: string; valueBoolean?: boolean; valueCoding?: { code?: string } }[];
}

interface CodeSystemResource extends CanonicalResource {
  content?: string;
  caseSensitive?: boolean;
  concept?: Concept[];
}

interface ValueSetResource extends CanonicalResource {
  compose?: { include?: ComposeTerm[]; exclude?: ComposeTerm[] };
  expansion?: { total?: number; contains?: ExpansionEntry[] };
}

interface ComposeTerm {
  system?: string;
  version?: string;
  concept?: { code: string }[];
  filter?: { property: string; op: string; value: string }[];
  valueSet?: string[];
}

interface ExpansionEntry {
  system?: string;
  code?: string;
  contains?: ExpansionEntry[];
}

/** A code system indexed for lookups. */
interface IndexedCodeSystem {
  url: string;
  complete: boolean;
  codes: Map<string, Concept>;
  /** child code -> parent codes */
  parents: Map<string, string[]>;
  /** parent code -> child codes (built on first use: search's `:below`) */
  children?: Map<string, string[]>;
  caseInsensitive: boolean;
}

/** Notices collected while one code is tested (see TerminologyNotice). */
type Notes = TerminologyNotice[] | undefined;

/** A membership test; `notes` collects the notices of the readings that made it 'yes'. */
type MemberTest = (system: string | undefined, code: string, notes: Notes) => Tri;

/**
 * The codes of a value set as `system\u0000code` keys, or null when they cannot be listed
 * (grammar systems, incomplete or missing content, unsupported filters, too many codes).
 */
type Enumeration = Set<string> | null;

/** Beyond this many codes a value set is not enumerated (only needed to test an intersection for emptiness). */
const MAX_ENUMERATION = 50_000;

/** A compiled value set: a membership test plus what could not be resolved. */
interface CompiledValueSet {
  url: string;
  test: MemberTest;
  /** Its codes, computed on first use (memoised). */
  enumerate(): Enumeration;
  /** Canonicals that were missing while compiling (for messages). */
  missing: string[];
  /** Systems the value set draws on (for the "wrong system" message). */
  systems: Set<string>;
}

/** Code systems defined by a grammar rather than an enumeration. */
const GRAMMAR_SYSTEMS: Record<string, RegExp> = {
  'urn:ietf:bcp:13': /^[a-zA-Z0-9!#$&^_.+-]+\/[a-zA-Z0-9!#$&^_.+-]+(\s*;\s*[a-zA-Z0-9!#$&^_.+-]+=("[^"]*"|[^;\s]+))*$/,
  'urn:ietf:bcp:47': /^[a-zA-Z]{2,8}(-[a-zA-Z0-9]{1,8})*$/,
  'urn:iso:std:iso:4217': /^[A-Z]{3}$/,
};

/** hasOwn: a system named "constructor" or "__proto__" must not reach Object.prototype. */
function grammarOf(system: string): RegExp | undefined {
  return Object.hasOwn(GRAMMAR_SYSTEMS, system) ? GRAMMAR_SYSTEMS[system] : undefined;
}

const MAX_CACHE = 200_000;

export class Terminology {
  private readonly codeSystems = new Map<string, IndexedCodeSystem | null>();
  private readonly valueSets = new Map<string, CompiledValueSet | null>();
  /** value set -> system ('' when absent) -> code -> result (nested maps: no key strings built per lookup). */
  private readonly results = new Map<string, Map<string, Map<string, CodeResult>>>();
  private resultCount = 0;
  private readonly compiling = new Set<string>();

  constructor(private readonly registry: ConformanceRegistry) {}

  /** Is (system, code) in the value set? `system` absent means a bare `code` element. */
  validateCode(valueSet: string, coding: CodingInput): CodeResult {
    const code = coding.code;
    if (typeof code !== 'string' || code === '') return { status: 'invalid', message: 'no code', messageFr: 'pas de code' };
    const system = typeof coding.system === 'string' ? coding.system : undefined;
    let bySystem = this.results.get(valueSet);
    if (!bySystem) this.results.set(valueSet, (bySystem = new Map()));
    let byCode = bySystem.get(system ?? '');
    if (!byCode) bySystem.set(system ?? '', (byCode = new Map()));
    const cached = byCode.get(code);
    if (cached) return cached;
    const result = this.computeCode(valueSet, system, code);
    if (++this.resultCount > MAX_CACHE) {
      // Bounded memory on hostile input (endless distinct codes): start afresh.
      this.results.clear();
      this.resultCount = 1;
      this.results.set(valueSet, (bySystem = new Map([[system ?? '', (byCode = new Map())]])));
    }
    byCode.set(code, result);
    return result;
  }

  /** A CodeableConcept is in the value set when one of its codings is. */
  validateCodeableConcept(valueSet: string, cc: { coding?: CodingInput[] }): CodeResult {
    const codings = Array.isArray(cc.coding) ? cc.coding : [];
    let unknown: CodeResult | undefined;
    let firstInvalid: CodeResult | undefined;
    for (const c of codings) {
      if (!c || typeof c !== 'object') continue;
      const r = this.validateCode(valueSet, c);
      if (r.status === 'valid') return r;
      if (r.status === 'unknown') unknown ??= r;
      else firstInvalid ??= r;
    }
    return unknown ?? firstInvalid ?? { status: 'invalid', message: 'no coding', messageFr: 'aucun codage (coding)' };
  }

  /**
   * A Coding against its code system, whatever the binding (as the HL7 validator checks it):
   * a code the loaded, complete code system does not define, or a display that is neither the
   * concept's display nor one of its designations. `stale`: the code system is the R4 copy of
   * an HL7 terminology (THO) code system while hl7.terminology is not loaded, so a newer code
   * may be valid. Nothing is said of a code system that is not loaded or not complete.
   */
  checkCoding(system: string, code: string, display: string | undefined): CodingCheck {
    const cs = this.codingSystem(system);
    if (cs === null) return CODING_OK;
    if (cs === VALUE_SET_URL) return CODING_VALUE_SET;
    const concept = this.findConcept(cs, code);
    if (!concept) {
      if (!cs.complete) return CODING_OK;
      const stale = system.startsWith('http://terminology.hl7.org/') && !this.registry.packages.some((p) => p.name.startsWith('hl7.terminology'));
      return stale ? CODING_UNKNOWN_STALE : CODING_UNKNOWN;
    }
    if (display === undefined || concept.display === undefined || display === concept.display) return CODING_OK;
    const given = normaliseDisplay(display);
    const valid = [concept.display, ...(concept.designation ?? []).map((d) => d.value).filter((v): v is string => typeof v === 'string')];
    if (valid.some((v) => normaliseDisplay(v) === given)) return CODING_OK;
    return { kind: 'display', expected: [...new Set(valid)] };
  }

  /**
   * What a Coding.system names, in one lookup per Coding: its loaded code system, the url of a
   * loaded value set (and of no code system), or nothing loaded (null, the common case).
   */
  private codingSystem(url: string): IndexedCodeSystem | typeof VALUE_SET_URL | null {
    let r = this.codingSystems.get(url);
    if (r === undefined) {
      r = this.codeSystem(url) ?? (this.registry.resolve(url, 'ValueSet') !== undefined ? VALUE_SET_URL : null);
      if (this.codingSystems.size < 10_000) this.codingSystems.set(url, r);
    }
    return r;
  }
  private readonly codingSystems = new Map<string, IndexedCodeSystem | typeof VALUE_SET_URL | null>();

  /** Looks a code up in a code system (for display checks and tests). */
  lookup(system: string, code: string): { status: CodeStatus; display?: string } {
    const cs = this.codeSystem(system);
    if (!cs) {
      const grammar = grammarOf(system);
      return { status: grammar ? (grammar.test(code) ? 'valid' : 'invalid') : 'unknown' };
    }
    const c = this.findConcept(cs, code);
    if (c) return { status: 'valid', display: c.display };
    return { status: cs.complete ? 'invalid' : 'unknown' };
  }

  private computeCode(valueSet: string, system: string | undefined, code: string): CodeResult {
    const vs = this.valueSet(valueSet);
    if (!vs) return { status: 'unknown', missing: [valueSet], ...this.missingMessage([valueSet]) };
    const notes: TerminologyNotice[] = [];
    const r = vs.test(system, code, notes);
    if (r === 'yes') return notes.length ? { status: 'valid', notices: [...new Set(notes)] } : { status: 'valid' };
    if (r === 'unknown') {
      const missing = vs.missing.length ? vs.missing : [valueSet];
      return { status: 'unknown', missing, ...this.missingMessage(missing) };
    }
    if (system !== undefined && vs.systems.size > 0 && !vs.systems.has(system)) {
      return { status: 'invalid', message: `the value set does not include codes from ${system}`, messageFr: `le jeu de valeurs ne comprend aucun code de ${system}` };
    }
    return { status: 'invalid' };
  }

  private missingMessage(missing: string[]): { message: string; messageFr: string } {
    const pkgs = missing.map((m) => this.registry.packageFor(m));
    return {
      message: missing.map((m, i) => (pkgs[i] ? `${m} (package ${pkgs[i]}) is not loaded or incomplete` : `${m} is not loaded or incomplete`)).join('; '),
      messageFr: missing.map((m, i) => (pkgs[i] ? `${m} (paquet ${pkgs[i]}) n’est pas chargé ou est incomplet` : `${m} n’est pas chargé ou est incomplet`)).join(' ; '),
    };
  }

  // ------------------------------------------------------------------ code systems

  private codeSystem(url: string): IndexedCodeSystem | null {
    let cs = this.codeSystems.get(url);
    if (cs !== undefined) return cs;
    const res = this.registry.resolve<CodeSystemResource>(url, 'CodeSystem');
    cs = res ? indexCodeSystem(res) : null;
    this.codeSystems.set(url, cs);
    return cs;
  }

  /**
   * Search's token `:below` / `:above`: the codes `code` subsumes (itself and its descendants) or
   * that subsume it (itself and its ancestors) in a loaded code system, by its concept nesting and
   * its `parent` / `subsumedBy` properties. A code the system does not list subsumes only itself.
   * Undefined when the system is not loaded (or lists no concept): the hierarchy is unknown.
   */
  subsumption(system: string, code: string, direction: 'below' | 'above'): string[] | undefined {
    const cs = this.codeSystem(system);
    if (!cs || cs.codes.size === 0) return undefined;
    const start = cs.caseInsensitive ? code.toLowerCase() : code;
    if (!cs.codes.has(start)) return [code];
    let next: Map<string, string[]> = cs.parents;
    if (direction === 'below') {
      if (!cs.children) {
        cs.children = new Map();
        for (const [child, parents] of cs.parents) for (const p of parents) cs.children.set(p, [...(cs.children.get(p) ?? []), child]);
      }
      next = cs.children;
    }
    const out = new Set<string>([start]);
    const todo = [start];
    while (todo.length) {
      for (const n of next.get(todo.pop()!) ?? []) {
        if (!out.has(n)) (out.add(n), todo.push(n));
      }
    }
    return [...out].map((k) => cs.codes.get(k)?.code ?? k);
  }

  private findConcept(cs: IndexedCodeSystem, code: string): Concept | undefined {
    return cs.codes.get(cs.caseInsensitive ? code.toLowerCase() : code);
  }

  // ------------------------------------------------------------------ value sets

  /**
   * The codes of a loaded value set (its expansion from the packages' code systems and value
   * sets), or undefined when it is not loaded or cannot be listed (a grammar system, incomplete
   * content, an unsupported filter, more than 50,000 codes). Search's `:in` / `:not-in`.
   */
  expand(canonical: string): { system: string; code: string }[] | undefined {
    const e = this.valueSet(canonical)?.enumerate();
    if (!e) return undefined;
    return [...e].map((k) => {
      const sep = k.indexOf('\u0000');
      return { system: k.slice(0, sep), code: k.slice(sep + 1) };
    });
  }

  private valueSet(canonical: string): CompiledValueSet | null {
    let vs = this.valueSets.get(canonical);
    if (vs !== undefined) return vs;
    if (this.compiling.has(canonical)) return null; // cyclic include: treat as missing
    this.compiling.add(canonical);
    try {
      let res = this.registry.resolve<ValueSetResource>(canonical, 'ValueSet');
      // A versioned canonical (`...|4.0.1`) falls back to the loaded version of the same URL.
      if (!res && canonical.includes('|')) res = this.registry.resolve<ValueSetResource>(canonical.split('|')[0], 'ValueSet');
      vs = res ? this.compileValueSet(res) : null;
    } finally {
      this.compiling.delete(canonical);
    }
    this.valueSets.set(canonical, vs);
    return vs;
  }

  private compileValueSet(res: ValueSetResource): CompiledValueSet {
    const url = res.url ?? res.id ?? '(anonymous ValueSet)';
    const missing: string[] = [];
    const systems = new Set<string>();
    const includes = (res.compose?.include ?? []).map((t) => this.compileTerm(url, t, missing, systems));
    const excludes = (res.compose?.exclude ?? []).map((t) => this.compileTerm(url, t, missing, new Set()));
    if (includes.length === 0 && res.expansion?.contains) {
      const set = new Set<string>();
      const walk = (list: ExpansionEntry[]) => {
        for (const e of list) {
          if (e.code) {
            set.add(`${e.system ?? ''}\u0000${e.code}`);
            if (e.system) systems.add(e.system);
          }
          if (e.contains) walk(e.contains);
        }
      };
      walk(res.expansion.contains);
      const codesOnly = new Set([...set].map((k) => k.split('\u0000')[1]));
      return {
        url,
        missing,
        systems,
        test: (system, code) =>
          (system === undefined ? codesOnly.has(code) : set.has(`${system}\u0000${code}`)) ? 'yes' : 'no',
        enumerate: () => (set.size <= MAX_ENUMERATION ? set : null),
      };
    }
    const uniqueMissing = [...new Set(missing)];
    let enumeration: Enumeration | undefined;
    const test: MemberTest = (system, code, notes) => {
      const mark = notes?.length ?? 0;
      let result: Tri = 'no';
      for (const inc of includes) {
        const r = inc.test(system, code, notes);
        if (r === 'yes') {
          result = 'yes';
          break;
        }
        if (r === 'unknown') result = 'unknown';
      }
      if (result !== 'no') {
        for (const exc of excludes) {
          const r = exc.test(system, code, undefined);
          if (r === 'yes') result = 'no';
          else if (r === 'unknown') result = 'unknown';
          if (r !== 'no') break;
        }
      }
      // Notices belong to a 'yes' only: drop those of readings that did not decide.
      if (result !== 'yes' && notes && notes.length > mark) notes.length = mark;
      return result;
    };
    return {
      url,
      missing: uniqueMissing,
      systems,
      test,
      enumerate() {
        if (enumeration !== undefined) return enumeration;
        const out = new Set<string>();
        for (const inc of includes) {
          const e = inc.enumerate();
          if (!e) return (enumeration = null);
          for (const k of e) out.add(k);
          if (out.size > MAX_ENUMERATION) return (enumeration = null);
        }
        if (excludes.length) {
          for (const k of out) {
            const sep = k.indexOf('\u0000');
            let r: Tri = 'no';
            for (const exc of excludes) {
              r = exc.test(k.slice(0, sep), k.slice(sep + 1), undefined);
              if (r !== 'no') break;
            }
            if (r === 'unknown') return (enumeration = null);
            if (r === 'yes') out.delete(k);
          }
        }
        return (enumeration = out);
      },
    };
  }

  /**
   * How the value sets of one include combine: their intersection (FHIR), or — when that
   * intersection is empty, or cannot be computed because a member is missing or incomplete —
   * their union, with the notice that says so (decisions.md D-14).
   */
  private combineMembers(owner: string, urls: string[], members: (CompiledValueSet | null)[]): MemberTest {
    const intersection: MemberTest = (system, code, notes) => {
      const mark = notes?.length ?? 0;
      let out: Tri = 'yes';
      for (const vs of members) {
        const r = vs ? vs.test(system, code, notes) : 'unknown';
        if (r === 'no') {
          out = 'no';
          break;
        }
        if (r === 'unknown') out = 'unknown';
      }
      if (out !== 'yes' && notes && notes.length > mark) notes.length = mark;
      return out;
    };
    if (members.length < 2) return intersection;
    // Decided on first use: the members may still be compiling when this include is.
    let chosen: MemberTest | undefined;
    return (system, code, notes) => (chosen ??= this.chooseCombination(owner, urls, members, intersection))(system, code, notes);
  }

  private chooseCombination(owner: string, urls: string[], members: (CompiledValueSet | null)[], intersection: MemberTest): MemberTest {
    const missing = [...new Set(members.flatMap((vs, i) => (vs ? vs.missing : [urls[i]])))];
    const emptiness = missing.length ? 'unknown' : intersectionEmptiness(members as CompiledValueSet[]);
    // A non-empty intersection is what the IG says; one we cannot decide with everything loaded stays FHIR's reading.
    if (emptiness === 'non-empty' || (emptiness === 'unknown' && missing.length === 0)) return intersection;
    const empty = emptiness === 'empty';
    const notice: TerminologyNotice = {
      rule: INCLUDE_INTERSECTION_RULE,
      key: `${INCLUDE_INTERSECTION_RULE}:${owner}`,
      valueSet: owner,
      members: urls,
      reason: empty ? 'empty' : 'not-computable',
      missing,
      args: {
        valueSet: owner,
        valueSets: urls.join(', '),
        reason: empty ? 'that intersection is empty' : `that intersection cannot be computed (${missing.join(', ')} not loaded or incomplete)`,
        reasonFr: empty ? 'cette intersection est vide' : `cette intersection ne peut pas être calculée (${missing.join(', ')} non chargé ou incomplet)`,
      },
    };
    return (system, code, notes) => {
      let out: Tri = 'no';
      for (const vs of members) {
        const r = vs ? vs.test(system, code, notes) : 'unknown';
        if (r === 'yes') {
          notes?.push(notice);
          return 'yes';
        }
        if (r === 'unknown') out = 'unknown';
      }
      return out;
    };
  }

  /** Compiles one include/exclude term into a membership test. */
  private compileTerm(
    owner: string,
    term: ComposeTerm,
    missing: string[],
    systems: Set<string>,
  ): { test: MemberTest; enumerate(): Enumeration } {
    const urls = term.valueSet ?? [];
    const nested = urls.map((u) => {
      const vs = this.valueSet(u);
      if (!vs) missing.push(u);
      else {
        missing.push(...vs.missing);
        for (const s of vs.systems) if (!term.system) systems.add(s);
      }
      return vs;
    });
    const inNested = this.combineMembers(owner, urls, nested);
    const sys = term.system;
    if (!sys) {
      if (!nested.length) return { test: () => 'no', enumerate: () => new Set() };
      return { test: inNested, enumerate: () => enumerateMatching(nested, inNested) };
    }
    systems.add(sys);

    const grammar = grammarOf(sys);
    const cs = this.codeSystem(sys);
    let inSystem: (code: string) => Tri;
    /** The candidate codes of the system part (null: not listable). */
    let candidates: () => string[] | null;
    if (term.concept?.length) {
      const listed = new Set(term.concept.map((c) => c.code));
      inSystem = (code) => (listed.has(code) ? 'yes' : 'no');
      candidates = () => [...listed];
    } else if (term.filter?.length) {
      if (!cs || !cs.complete) {
        missing.push(sys);
        inSystem = (code) => (cs && this.findConcept(cs, code) && evalFilters(cs, term.filter!, code) === 'yes' ? 'yes' : 'unknown');
        candidates = () => null;
      } else {
        const filters = term.filter;
        inSystem = (code) => (this.findConcept(cs, code) ? evalFilters(cs, filters, code) : 'no');
        candidates = () => allCodes(cs);
      }
    } else if (cs) {
      if (!cs.complete) missing.push(sys);
      inSystem = (code) => (this.findConcept(cs, code) ? 'yes' : cs.complete ? 'no' : 'unknown');
      candidates = () => (cs.complete ? allCodes(cs) : null);
    } else if (grammar) {
      inSystem = (code) => (grammar.test(code) ? 'yes' : 'no');
      candidates = () => null;
    } else {
      missing.push(sys);
      inSystem = () => 'unknown';
      candidates = () => null;
    }
    const test: MemberTest = (system, code, notes) => {
      if (system !== undefined && system !== sys) return 'no';
      const r = inSystem(code);
      if (r !== 'yes' || nested.length === 0) return r;
      return inNested(sys, code, notes);
    };
    return {
      test,
      enumerate() {
        const list = candidates();
        if (!list || list.length > MAX_ENUMERATION) return null;
        const out = new Set<string>();
        for (const code of list) {
          const r = test(sys, code, undefined);
          if (r === 'unknown') return null;
          if (r === 'yes') out.add(`${sys}\u0000${code}`);
        }
        return out;
      },
    };
  }
}

/** The codes of a code system as written (its index may be lower-cased). */
function allCodes(cs: IndexedCodeSystem): string[] {
  const out: string[] = [];
  for (const c of cs.codes.values()) out.push(c.code);
  return out;
}

/**
 * The codes of an include made only of value sets: the listed codes of its members that the
 * combined test (intersection or union) accepts. Every member must be listable (a union needs
 * them all; for an intersection this is merely conservative).
 */
function enumerateMatching(members: (CompiledValueSet | null)[], combined: MemberTest): Enumeration {
  const candidates = new Set<string>();
  for (const vs of members) {
    const e = vs?.enumerate();
    if (!e) return null;
    for (const k of e) candidates.add(k);
  }
  const out = new Set<string>();
  for (const k of candidates) {
    const sep = k.indexOf('\u0000');
    const r = combined(k.slice(0, sep), k.slice(sep + 1), undefined);
    if (r === 'unknown') return null;
    if (r === 'yes') out.add(k);
  }
  return out;
}

/**
 * Is the intersection of these (loaded) value sets empty? Decided on the smallest member whose
 * codes can be listed, each code tested against the others; 'unknown' when no member can be
 * listed or a test is undecided.
 */
function intersectionEmptiness(members: CompiledValueSet[]): 'empty' | 'non-empty' | 'unknown' {
  let smallest: { vs: CompiledValueSet; codes: Set<string> } | undefined;
  for (const vs of members) {
    const codes = vs.enumerate();
    if (codes && (!smallest || codes.size < smallest.codes.size)) smallest = { vs, codes };
  }
  if (!smallest) return 'unknown';
  let undecided = false;
  for (const k of smallest.codes) {
    const sep = k.indexOf('\u0000');
    const system = k.slice(0, sep);
    const code = k.slice(sep + 1);
    let all: Tri = 'yes';
    for (const vs of members) {
      if (vs === smallest.vs) continue;
      const r = vs.test(system, code, undefined);
      if (r === 'no') {
        all = 'no';
        break;
      }
      if (r === 'unknown') all = 'unknown';
    }
    if (all === 'yes') return 'non-empty';
    if (all === 'unknown') undecided = true;
  }
  return undecided ? 'unknown' : 'empty';
}

function indexCodeSystem(res: CodeSystemResource): IndexedCodeSystem {
  const caseInsensitive = res.caseSensitive === false;
  const codes = new Map<string, Concept>();
  const parents = new Map<string, string[]>();
  const walk = (list: Concept[] | undefined, parent: string | undefined) => {
    for (const c of list ?? []) {
      if (!c || typeof c.code !== 'string') continue;
      const k = caseInsensitive ? c.code.toLowerCase() : c.code;
      codes.set(k, c);
      if (parent !== undefined) parents.set(k, [...(parents.get(k) ?? []), parent]);
      // `subsumedBy` / `parent` properties also express hierarchy (flat code systems).
      for (const p of c.property ?? []) {
        if ((p.code === 'subsumedBy' || p.code === 'parent') && p.valueCode) {
          parents.set(k, [...(parents.get(k) ?? []), caseInsensitive ? p.valueCode.toLowerCase() : p.valueCode]);
        }
      }
      walk(c.concept, k);
    }
  };
  walk(res.concept, undefined);
  return { url: res.url ?? '', complete: res.content === 'complete' || res.content === undefined, codes, parents, caseInsensitive };
}

function isDescendant(cs: IndexedCodeSystem, code: string, ancestor: string, depth = 0): boolean {
  if (depth > 50) return false;
  for (const p of cs.parents.get(code) ?? []) {
    if (p === ancestor || isDescendant(cs, p, ancestor, depth + 1)) return true;
  }
  return false;
}

/** Evaluates ValueSet.compose filters against a loaded code system. */
function evalFilters(cs: IndexedCodeSystem, filters: { property: string; op: string; value: string }[], rawCode: string): Tri {
  const code = cs.caseInsensitive ? rawCode.toLowerCase() : rawCode;
  const concept = cs.codes.get(code);
  for (const f of filters) {
    const value = cs.caseInsensitive ? f.value.toLowerCase() : f.value;
    let ok: boolean;
    if (f.property === 'concept' || f.property === 'code') {
      switch (f.op) {
        case 'is-a':
          ok = code === value || isDescendant(cs, code, value);
          break;
        case 'descendent-of':
          ok = isDescendant(cs, code, value);
          break;
        case 'is-not-a':
          ok = !(code === value || isDescendant(cs, code, value));
          break;
        case 'in':
          ok = value.split(',').map((s) => s.trim()).includes(code);
          break;
        case 'not-in':
          ok = !value.split(',').map((s) => s.trim()).includes(code);
          break;
        case '=':
          ok = code === value;
          break;
        case 'regex':
          try {
            ok = new RegExp(`^(?:${f.value})$`).test(rawCode);
          } catch {
            return 'unknown';
          }
          break;
        default:
          return 'unknown';
      }
    } else if (f.op === '=' || f.op === 'exists') {
      const props = (concept?.property ?? []).filter((p) => p.code === f.property);
      if (f.op === 'exists') ok = (props.length > 0) === (f.value !== 'false');
      else
        ok = props.some(
          (p) =>
            p.valueCode === f.value ||
            p.valueString === f.value ||
            (p.valueBoolean !== undefined && String(p.valueBoolean) === f.value) ||
            p.valueCoding?.code === f.value,
        );
    } else {
      return 'unknown';
    }
    if (!ok) return 'no';
  }
  return 'yes';
}
