// Labels of codes and questionnaire items, read from the loaded FHIR packages (never from a
// list kept here): a Coding sent without its display (SERAFIN-PH codes of an event type, a
// prestation, a besoin…) is shown with the display its code system defines — or, when only a
// value set of the ANS terminologies is loaded, the display the value set's compose lists —
// and a QuestionnaireResponse item is shown with the code and text of its Questionnaire item.
import type { ConformanceRegistry } from '../fhir/packages/registry.js';
import type { Terminology } from '../fhir/terminology/terminology.js';
import { arr, isObj, str, type Json } from './fhir-util.js';

/** What the labels need of the validator (TdduiValidator satisfies it). */
export interface LabelSource {
  engine: { registry: ConformanceRegistry; terminology: Terminology };
}

export interface QuestionnaireItemInfo {
  linkId: string;
  text?: string;
  /** The item's first code (e.g. the SERAFIN-PH code of a besoin). */
  code?: { system?: string; code: string; display?: string };
  /** Display of each answerOption valueCoding, by `system|code` and by `code`. */
  options: Map<string, string>;
  /** Depth in the Questionnaire (0 = top level). */
  depth: number;
}

/** system → code → display, from the compose of every loaded ValueSet (built once per registry). */
const composeIndexes = new WeakMap<ConformanceRegistry, Map<string, Map<string, string>>>();

function composeIndex(registry: ConformanceRegistry): Map<string, Map<string, string>> {
  let index = composeIndexes.get(registry);
  if (index) return index;
  index = new Map();
  for (const vs of registry.all<{ resourceType: string; url: string; compose?: Json }>('ValueSet')) {
    for (const inc of arr(vs.compose?.include)) {
      const system = str(inc.system);
      if (!system) continue;
      let codes = index.get(system);
      for (const c of arr(inc.concept)) {
        const code = str(c.code);
        const display = str(c.display);
        if (!code || !display) continue;
        if (!codes) index.set(system, (codes = new Map()));
        if (!codes.has(code)) codes.set(code, display);
      }
    }
    const expansion = isObj((vs as Json).expansion) ? ((vs as Json).expansion as Json) : undefined;
    const walk = (list: unknown) => {
      for (const c of arr(list)) {
        const system = str(c.system);
        const code = str(c.code);
        const display = str(c.display);
        if (system && code && display) {
          let codes = index!.get(system);
          if (!codes) index!.set(system, (codes = new Map()));
          if (!codes.has(code)) codes.set(code, display);
        }
        walk(c.contains);
      }
    };
    walk(expansion?.contains);
  }
  composeIndexes.set(registry, index);
  return index;
}

/** The display a loaded code system (or value set) gives to `system|code`, if any. */
export function codeDisplay(source: LabelSource | undefined, system: string | undefined, code: string | undefined): string | undefined {
  if (!source || !system || !code) return undefined;
  const found = source.engine.terminology.lookup(system, code);
  if (found.display) return found.display;
  return composeIndex(source.engine.registry).get(system)?.get(code);
}

/** A Coding as people read it: its display, else the display the packages define, else its code. */
export function codingLabel(source: LabelSource | undefined, coding: unknown): string | undefined {
  if (!isObj(coding)) return undefined;
  return str(coding.display) ?? codeDisplay(source, str(coding.system), str(coding.code)) ?? str(coding.code);
}

/** A CodeableConcept as people read it: its text, else its first coding's label. */
export function conceptLabel(source: LabelSource | undefined, cc: unknown): string | undefined {
  if (!isObj(cc)) return undefined;
  if (typeof cc.text === 'string' && cc.text) return cc.text;
  const codings = arr(cc.coding);
  for (const c of codings) {
    const l = str(c.display) ?? codeDisplay(source, str(c.system), str(c.code));
    if (l) return l;
  }
  return str(codings[0]?.code);
}

const itemIndexes = new WeakMap<object, Map<string, QuestionnaireItemInfo>>();

/** linkId → item of the loaded Questionnaire `canonical` (empty when it is not loaded). */
export function questionnaireItems(source: LabelSource | undefined, canonical: string | undefined): Map<string, QuestionnaireItemInfo> {
  if (!source || !canonical) return new Map();
  const q = source.engine.registry.resolve<{ resourceType: string; url: string; item?: Json[] }>(canonical, 'Questionnaire');
  if (!q) return new Map();
  const cached = itemIndexes.get(q);
  if (cached) return cached;
  const out = new Map<string, QuestionnaireItemInfo>();
  const walk = (items: unknown, depth: number) => {
    for (const it of arr(items)) {
      const linkId = str(it.linkId);
      if (linkId) {
        const c = arr(it.code)[0];
        const options = new Map<string, string>();
        for (const o of arr(it.answerOption)) {
          const vc = isObj(o.valueCoding) ? o.valueCoding : undefined;
          const code = str(vc?.code);
          const display = str(vc?.display);
          if (code && display) {
            options.set(`${str(vc?.system) ?? ''}|${code}`, display);
            if (!options.has(code)) options.set(code, display);
          }
        }
        out.set(linkId, {
          linkId,
          text: str(it.text),
          code: c && str(c.code) ? { system: str(c.system), code: str(c.code)!, display: str(c.display) } : undefined,
          options,
          depth,
        });
      }
      walk(it.item, depth + 1);
    }
  };
  walk(q.item, 0);
  itemIndexes.set(q, out);
  return out;
}

/**
 * The label of one answer: a coding's display (its own, the Questionnaire's answerOption, or
 * the code system's), booleans in French, dates in French; other values as written.
 */
export function answerLabel(source: LabelSource | undefined, item: QuestionnaireItemInfo | undefined, a: Json): string | undefined {
  if (isObj(a.valueCoding)) {
    const c = a.valueCoding;
    const code = str(c.code);
    return str(c.display) ?? (code ? (item?.options.get(`${str(c.system) ?? ''}|${code}`) ?? item?.options.get(code)) : undefined) ?? codingLabel(source, c);
  }
  return undefined;
}
