// Local terminology service: decides whether a code is in a value set using only the
// ValueSets and CodeSystems loaded in the registry (no network, like an offline HL7 validator).
// Three outcomes: valid, invalid, or unknown — unknown when the decision depends on a value
// set or code system that is not loaded or only partially loaded (CodeSystem.content other
// than `complete`), or on a filter we do not implement. Unknown is never turned into a pass:
// the validator reports it once as "not checked".
import type { CanonicalResource, ConformanceRegistry } from '../packages/registry.js';

export type CodeStatus = 'valid' | 'invalid' | 'unknown';

export interface CodeResult {
  status: CodeStatus;
  message?: string;
  /** Canonicals (value sets, code systems) whose absence made the result unknown. */
  missing?: string[];
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
  caseInsensitive: boolean;
}

/** A compiled value set: a membership test plus what could not be resolved. */
interface CompiledValueSet {
  url: string;
  test(system: string | undefined, code: string): Tri;
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
    if (typeof code !== 'string' || code === '') return { status: 'invalid', message: 'no code' };
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
    return unknown ?? firstInvalid ?? { status: 'invalid', message: 'no coding' };
  }

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
    if (!vs) return { status: 'unknown', missing: [valueSet], message: this.missingMessage([valueSet]) };
    const r = vs.test(system, code);
    if (r === 'yes') return { status: 'valid' };
    if (r === 'unknown') {
      const missing = vs.missing.length ? vs.missing : [valueSet];
      return { status: 'unknown', missing, message: this.missingMessage(missing) };
    }
    if (system !== undefined && vs.systems.size > 0 && !vs.systems.has(system)) {
      return { status: 'invalid', message: `the value set does not include codes from ${system}` };
    }
    return { status: 'invalid' };
  }

  private missingMessage(missing: string[]): string {
    return missing
      .map((m) => {
        const pkg = this.registry.packageFor(m);
        return pkg ? `${m} (package ${pkg}) is not loaded or incomplete` : `${m} is not loaded or incomplete`;
      })
      .join('; ');
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

  private findConcept(cs: IndexedCodeSystem, code: string): Concept | undefined {
    return cs.codes.get(cs.caseInsensitive ? code.toLowerCase() : code);
  }

  // ------------------------------------------------------------------ value sets

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
    const includes = (res.compose?.include ?? []).map((t) => this.compileTerm(t, missing, systems));
    const excludes = (res.compose?.exclude ?? []).map((t) => this.compileTerm(t, missing, new Set()));
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
      };
    }
    const uniqueMissing = [...new Set(missing)];
    return {
      url,
      missing: uniqueMissing,
      systems,
      test(system, code) {
        let result: Tri = 'no';
        for (const inc of includes) {
          const r = inc(system, code);
          if (r === 'yes') {
            result = 'yes';
            break;
          }
          if (r === 'unknown') result = 'unknown';
        }
        if (result === 'no') return 'no';
        for (const exc of excludes) {
          const r = exc(system, code);
          if (r === 'yes') return 'no';
          if (r === 'unknown') return 'unknown';
        }
        return result;
      },
    };
  }

  /** Compiles one include/exclude term into a membership test. */
  private compileTerm(
    term: ComposeTerm,
    missing: string[],
    systems: Set<string>,
  ): (system: string | undefined, code: string) => Tri {
    const nested = (term.valueSet ?? []).map((u) => {
      const vs = this.valueSet(u);
      if (!vs) missing.push(u);
      else {
        missing.push(...vs.missing);
        for (const s of vs.systems) if (!term.system) systems.add(s);
      }
      return vs;
    });
    const inNested = (system: string | undefined, code: string): Tri => {
      let out: Tri = 'yes';
      for (const vs of nested) {
        const r = vs ? vs.test(system, code) : 'unknown';
        if (r === 'no') return 'no';
        if (r === 'unknown') out = 'unknown';
      }
      return out;
    };
    const sys = term.system;
    if (!sys) return nested.length ? inNested : () => 'no';
    systems.add(sys);

    const grammar = grammarOf(sys);
    const cs = this.codeSystem(sys);
    let inSystem: (code: string) => Tri;
    if (term.concept?.length) {
      const listed = new Set(term.concept.map((c) => c.code));
      inSystem = (code) => (listed.has(code) ? 'yes' : 'no');
    } else if (term.filter?.length) {
      if (!cs || !cs.complete) {
        missing.push(sys);
        inSystem = (code) => (cs && this.findConcept(cs, code) && evalFilters(cs, term.filter!, code) === 'yes' ? 'yes' : 'unknown');
      } else {
        const filters = term.filter;
        inSystem = (code) => (this.findConcept(cs, code) ? evalFilters(cs, filters, code) : 'no');
      }
    } else if (cs) {
      if (!cs.complete) missing.push(sys);
      inSystem = (code) => (this.findConcept(cs, code) ? 'yes' : cs.complete ? 'no' : 'unknown');
    } else if (grammar) {
      inSystem = (code) => (grammar.test(code) ? 'yes' : 'no');
    } else {
      missing.push(sys);
      inSystem = () => 'unknown';
    }
    return (system, code) => {
      if (system !== undefined && system !== sys) return 'no';
      const r = inSystem(code);
      if (r !== 'yes' || nested.length === 0) return r;
      return inNested(sys, code);
    };
  }
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
