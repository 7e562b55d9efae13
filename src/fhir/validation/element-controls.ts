// The controls a profile states on an element beyond cardinality, type and value
// (ElementNode.controls, read by profiles/compile.ts): Quantity limits compared after UCUM
// conversion, date limits relative to today (`maxValueDuration`), a value required in a
// primitive (`mustHaveValue`) or one of the extensions that may stand for it
// (`valueAlternatives`), and the narrative controls (`narrative-source-control`,
// `narrative-language-control`). Few profiles use them; elements without controls never come here.
import { CODES } from '../outcome/codes.js';
import type { ElementControls, ElementNode, QuantityLimit } from '../profiles/compile.js';
import type { CompiledProfile } from '../profiles/profiles.js';
import { compareQuantity, describeQuantity } from '../terminology/ucum.js';
import { FhirXmlError } from '../xml/errors.js';
import { parseXml, XML_NS, type XmlElement } from '../xml/parser.js';
import { at, isObject } from './paths.js';
import { checkBinding } from './bindings.js';
import type { Run } from './run.js';

/** Types whose values are Quantities (minValueQuantity applies to them). */
const QUANTITY_TYPES = new Set(['Quantity', 'Age', 'Count', 'Distance', 'Duration', 'SimpleQuantity', 'MoneyQuantity']);
const DATE_TYPES = new Set(['date', 'dateTime', 'instant']);

/** A primitive value (or its absence, `extOnly`, with only `_x` extensions) against the element's controls. */
export function checkPrimitiveControls(
  run: Run,
  c: ElementControls,
  value: unknown,
  ext: unknown,
  extOnly: boolean,
  node: ElementNode,
  typeCode: string,
  base: string,
  seg: string | number,
  profile: CompiledProfile,
): void {
  if (extOnly) {
    const urls = isObject(ext) && Array.isArray(ext.extension) ? ext.extension.map((x) => (isObject(x) ? x.url : undefined)) : [];
    if (c.mustHaveValue) {
      run.out.push(CODES.VALUE_REQUIRED, at(base, seg), { profile: profile.url, element: node.path, detail: 'a value (extensions alone are not enough)', detailFr: 'une valeur (des extensions seules ne suffisent pas)' });
    } else if (c.valueAlternatives && !urls.some((u) => typeof u === 'string' && c.valueAlternatives!.includes(u))) {
      const list = c.valueAlternatives.join(', ');
      run.out.push(CODES.VALUE_REQUIRED, at(base, seg), {
        profile: profile.url,
        element: node.path,
        detail: `a value, or else one of the extensions ${list}`,
        detailFr: `une valeur, ou à défaut l’une des extensions ${list}`,
      });
    }
    return;
  }
  if (c.requiredBindings) checkRequiredBindings(run, c.requiredBindings, value, typeCode, base, seg);
  if (typeof value === 'string' && DATE_TYPES.has(typeCode)) {
    if (c.minDuration) checkDateLimit(run, value, c.minDuration, 'min', at(base, seg));
    if (c.maxDuration) checkDateLimit(run, value, c.maxDuration, 'max', at(base, seg));
  }
}

/** A complex value (Quantity, Narrative) against the element's controls. */
export function checkComplexControls(run: Run, c: ElementControls, value: unknown, typeCode: string, path: string, profile: CompiledProfile): void {
  if (!isObject(value)) return;
  if (c.requiredBindings) checkRequiredBindings(run, c.requiredBindings, value, typeCode, path, undefined);
  if (QUANTITY_TYPES.has(typeCode) && typeof value.value === 'number') {
    if (c.minQuantity) checkQuantityLimit(run, value, c.minQuantity, 'min', path);
    if (c.maxQuantity) checkQuantityLimit(run, value, c.maxQuantity, 'max', path);
  }
  if (typeCode === 'Narrative' && typeof value.div === 'string' && (c.narrativeSource || c.narrativeLanguage)) {
    checkNarrativeControls(run, c, value.div, path, profile);
  }
}

function checkQuantityLimit(run: Run, q: Record<string, unknown>, limit: QuantityLimit, bound: 'min' | 'max', path: string): void {
  const r = compareQuantity(q, limit);
  const what = bound === 'min' ? 'minimum' : 'maximum';
  const whatFr = bound === 'min' ? 'minimum' : 'maximum';
  const l = describeQuantity(limit);
  if (r.kind === 'compared') {
    if (bound === 'min' ? r.diff >= 0 : r.diff <= 0) return;
    const after = r.converted !== undefined ? ` (${r.converted} ${limit.code} after UCUM conversion)` : '';
    const afterFr = r.converted !== undefined ? ` (${r.converted} ${limit.code} après conversion UCUM)` : '';
    run.out.push(CODES.QUANTITY_RANGE, path, {
      value: describeQuantity(q),
      detail: `is ${bound === 'min' ? 'less' : 'greater'} than the allowed ${what} ${l}${after}`,
      detailFr: `est ${bound === 'min' ? 'inférieure' : 'supérieure'} au ${whatFr} autorisé ${l}${afterFr}`,
    });
    return;
  }
  const why = r.kind === 'no-units' ? 'no formal unit (system and code) is given on both' : 'the units are of different kinds';
  const whyFr = r.kind === 'no-units' ? 'les deux n’ont pas d’unité formelle (system et code)' : 'les unités sont de natures différentes';
  run.out.push(CODES.QUANTITY_RANGE, path, {
    value: describeQuantity(q),
    detail: `cannot be compared with the allowed ${what} ${l}: ${why}`,
    detailFr: `ne peut pas être comparée au ${whatFr} autorisé ${l} : ${whyFr}`,
  });
}

/** UCUM duration codes (and their calendar meaning) a date limit may use. */
const DURATION_UNITS: Record<string, (d: Date, n: number) => void> = {
  a: (d, n) => d.setUTCFullYear(d.getUTCFullYear() + n),
  mo: (d, n) => d.setUTCMonth(d.getUTCMonth() + n),
  wk: (d, n) => d.setUTCDate(d.getUTCDate() + 7 * n),
  d: (d, n) => d.setUTCDate(d.getUTCDate() + n),
  h: (d, n) => d.setTime(d.getTime() + n * 3_600_000),
  min: (d, n) => d.setTime(d.getTime() + n * 60_000),
  s: (d, n) => d.setTime(d.getTime() + n * 1000),
};

/**
 * minValueDuration / maxValueDuration on a date: at least (at most) that long from now — the
 * HL7 validator reads both as "now + duration". Compared at the value's precision.
 */
function checkDateLimit(run: Run, value: string, limit: QuantityLimit, bound: 'min' | 'max', path: string): void {
  const code = limit.code ?? limit.unit ?? '';
  const shift = Object.hasOwn(DURATION_UNITS, code) ? DURATION_UNITS[code] : undefined;
  if (!shift) return;
  const now = new Date();
  const d = new Date(now.getTime());
  shift(d, limit.value);
  const iso = d.toISOString();
  const date = value.length <= 10 ? value : value.slice(0, 19);
  const ref = iso.slice(0, date.length);
  if (bound === 'max' ? date <= ref : date >= ref) return;
  run.out.push(CODES.DATE_RANGE_DURATION, path, {
    value,
    bound: bound === 'max' ? 'at most' : 'at least',
    boundFr: bound === 'max' ? 'au plus' : 'au moins',
    limit: `${limit.value} ${code}`,
    direction: 'after',
    directionFr: 'après',
    now: now.toISOString().slice(0, 10),
  });
}

const SOURCE_CLASSES = new Set(['boilerplate', 'generated', 'original']);

function textOf(el: XmlElement): string {
  let s = '';
  for (const c of el.children) s += c.type === 'text' ? c.value : textOf(c);
  return s;
}

function short(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 60 ? `${t.slice(0, 60)}…` : t;
}

function langOf(el: XmlElement): string | undefined {
  for (const a of el.attributes) if (a.local === 'lang' && (a.ns === '' || a.ns === XML_NS)) return a.value;
  return undefined;
}

function checkNarrativeControls(run: Run, c: ElementControls, div: string, path: string, profile: CompiledProfile): void {
  let root: XmlElement;
  try {
    root = parseXml(div).root;
  } catch (e) {
    if (e instanceof FhirXmlError) return; // reported by the narrative check
    throw e;
  }
  if (c.narrativeSource) {
    // Every top-level part says where it comes from.
    for (const n of root.children) {
      if (n.type === 'text') {
        if (/\S/.test(n.value)) run.out.push(CODES.NARRATIVE_SOURCE, path, { text: short(n.value), profile: profile.url });
      } else {
        const cls = n.attributes.find((a) => a.local === 'class' && a.ns === '')?.value.split(/\s+/) ?? [];
        if (!cls.some((x) => SOURCE_CLASSES.has(x))) run.out.push(CODES.NARRATIVE_SOURCE, path, { text: short(textOf(n)) || `<${n.local}>`, profile: profile.url });
      }
    }
  }
  const control = c.narrativeLanguage;
  if (!control) return;
  const langs = [...new Set(root.children.flatMap((n) => (n.type === 'element' && n.local === 'div' ? (langOf(n) ?? []) : [])))].sort();
  const found = langs.join(', ');
  if (control === '_yes' && langs.length === 0) {
    run.out.push(CODES.NARRATIVE_LANGUAGE, path, { profile: profile.url, detail: 'has no language sections (top-level divs with lang), but they are required', detailFr: 'n’a pas de sections par langue (div de premier niveau avec lang), alors qu’elles sont requises' });
  } else if (control === '_no' && langs.length > 0) {
    run.out.push(CODES.NARRATIVE_LANGUAGE, path, { profile: profile.url, detail: `has language sections (${found}), but they are prohibited`, detailFr: `a des sections par langue (${found}), alors qu’elles sont interdites` });
  } else if (control === '_resource') {
    const frame = run.frames[run.frames.length - 1];
    const lang = frame?.resource.language;
    if (typeof lang === 'string' && !langs.includes(lang)) {
      run.out.push(CODES.NARRATIVE_LANGUAGE, path, {
        profile: profile.url,
        detail: `has no section for the resource language (${lang}) (found ${found || 'none'})`,
        detailFr: `n’a pas de section pour la langue de la ressource (${lang}) (trouvées : ${found || 'aucune'})`,
      });
    }
  }
}

/** Binding nodes standing for an additional required binding (one per value set, built once). */
const bindingNodes = new Map<string, ElementNode>();

/**
 * Additional bindings of purpose `required`: the code must be in that value set too, whatever
 * the main binding's strength (checked as a required binding, same findings).
 */
function checkRequiredBindings(run: Run, valueSets: string[], value: unknown, typeCode: string, base: string, seg: string | number | undefined): void {
  for (const vs of valueSets) {
    let n = bindingNodes.get(vs);
    if (!n) {
      n = { binding: { strength: 'required', valueSet: vs } } as ElementNode;
      if (bindingNodes.size < 1000) bindingNodes.set(vs, n);
    }
    checkBinding(run, value, typeCode, n, base, seg);
  }
}
